"""`serve`'s ad-tech routes on fake models: OpenRTB answers, paginated audiences, deletion and opt-outs."""

import json
import os

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from interestkit.adtech.openrtb import SegmentRules, user_object
from interestkit.serve.app import create_app
from interestkit.taxonomy import load_taxonomy
from test_serve_app import TOKEN, make_service

SEGMENTS = load_taxonomy().segments
GOLF = ["Birdie after birdie on the back nine, golf golf golf.", "Golf with friends, one more birdie."]


@pytest.fixture
def service(tmp_path):
    return make_service(tmp_path)


@pytest.fixture
def client(service):
    with TestClient(create_app(service, TOKEN)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def post(client, user, texts):
    answer = client.post(f"/users/{user}/posts", json=[{"post_id": f"{user}-{i}", "text": t}
                                                          for i, t in enumerate(texts)])
    assert answer.status_code == 200, answer.text
    return answer.json()


def golfers(client, n=7):
    """n users whose first interest is Golf, with different scores (more golf posts: a higher mean)."""
    answers = {}
    for k in range(n):
        answers[f"g{k}"] = post(client, f"g{k}", GOLF[:1] * (k + 1) + ["A quiet day at home."] * (n - k))
    return answers


def test_openrtb_is_the_answer_rank_gives_as_segments(client):
    answer = post(client, "u1", GOLF)
    got = client.get("/users/u1/openrtb", params={"max_segments": 2, "provider": "acme"})
    assert got.status_code == 200, got.text
    assert got.json() == user_object(answer, SEGMENTS, SegmentRules("acme", 0.0, 2))
    assert got.json()["data"][0]["segment"][0]["id"] == "644"
    assert client.get("/users/nobody/openrtb").status_code == 404
    assert client.get("/users/u1/openrtb", params={"max_segments": 0}).status_code == 422
    assert client.get("/users/u1/openrtb", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_audiences_page_through_every_user_best_first(client):
    answers = golfers(client)
    expected = sorted(((next(i["score"] for i in a["interests"] if i["interest"] == "Golf"), user)
                       for user, a in answers.items()), key=lambda x: (-x[0], x[1]))
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/audiences/Golf", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["users"]) <= 3
        seen += [(u["score"], u["user_id"]) for u in body["users"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and len(seen) == 7
    threshold = expected[2][0]
    best = client.get("/audiences/Golf", params={"min_score": threshold}).json()
    assert [u["user_id"] for u in best["users"]] == [u for _, u in expected[:3]] and best["next_cursor"] is None
    assert client.get("/audiences/Golf", params={"cursor": "bogus!"}).json()["error"]["field"] == "cursor"
    assert client.get("/audiences/Golf", params={"limit": 5000}).status_code == 422
    assert client.get("/audiences/Jewelry").json()["users"] == []


def test_deleted_and_opted_out_users_never_appear(client):
    golfers(client, n=3)
    assert client.delete("/users/g0").status_code == 200
    assert {u["user_id"] for u in client.get("/audiences/Golf").json()["users"]} == {"g1", "g2"}
    assert client.get("/users/g0/openrtb").status_code == 404
    out = client.post("/users/g1/opt-out", json={})
    assert out.status_code == 200 and out.json() == {"user_id": "g1", "opted_out": True, "deleted_posts": 4}
    assert {u["user_id"] for u in client.get("/audiences/Golf").json()["users"]} == {"g2"}
    assert client.get("/users/g1/openrtb").status_code == 404
    assert client.get("/users/g1/interests").status_code == 404
    again = client.post("/users/g1/posts", json=[{"post_id": "x", "text": "golf"}])
    assert again.status_code == 403 and "opted out" in again.json()["error"]["message"]
    assert {u["user_id"] for u in client.get("/audiences/Golf").json()["users"]} == {"g2"}


def test_an_update_racing_an_opt_out_leaves_nothing(service, client):
    """An update that passed the opt-out check before the opt-out committed: its save deletes what it stored."""
    post(client, "r1", GOLF)
    opted = service.audiences.opted_out
    service.audiences.opted_out = lambda user_id: False  # the check ran before the opt-out
    try:
        service.audiences.opt_out("r1")
        late = client.post("/users/r1/posts", json=[{"post_id": "late", "text": "golf"}])
    finally:
        service.audiences.opted_out = opted
    assert late.status_code == 403
    assert service.store.rows("r1") == []
    assert client.get("/audiences/Golf").json()["users"] == []


def test_the_audience_query_uses_its_index_on_sqlite(service):
    with service.store.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT user_id, score, rank FROM serve_interests "
                                    "WHERE interest = 'Golf' AND score >= 0.1 ORDER BY score DESC, user_id "
                                    "LIMIT 101").all()
    assert any("serve_interests_audience" in str(row) for row in plan), plan
    assert not any("TEMP B-TREE" in str(row) for row in plan), plan  # no sort: the index gives the order


@pytest.mark.skipif(not os.environ.get("INTERESTKIT_TEST_POSTGRES"), reason="INTERESTKIT_TEST_POSTGRES is not set")
def test_audiences_on_postgresql(tmp_path):
    from interestkit.serve.service import InterestService
    from test_serve_app import fake_pipeline

    pipeline = fake_pipeline()
    url = os.environ["INTERESTKIT_TEST_POSTGRES"]
    service = InterestService(lambda: (pipeline, {"name": "fake", "version": 1}), url)
    engine = service.store.engine
    with engine.begin() as conn:
        for table in ("serve_interests", "serve_opt_outs", "serve_posts", "serve_users"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    with TestClient(create_app(service, TOKEN)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        golfers(client, n=4)
        pages, cursor = [], None
        while True:
            body = client.get("/audiences/Golf", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            pages.append([u["user_id"] for u in body["users"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert [len(p) for p in pages] == [3, 1]
        assert client.post("/users/g0/opt-out", json={}).status_code == 200
        assert "g0" not in {u["user_id"] for u in client.get("/audiences/Golf").json()["users"]}
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("serve_interests")}
    assert "serve_interests_audience" in indexes


def test_serve_gives_the_segments_rank_gives(tmp_path):
    """The same posts and models: `rank --format openrtb` and GET /users/{id}/openrtb agree."""
    from click.testing import CliRunner

    from interestkit.cli import cli
    from interestkit.ranking.pipeline import RankingPipeline
    from interestkit.serve.service import InterestService
    from interestkit.testing import FakeInterestModel
    from support import LABELS, register_fakes

    register_fakes()  # the champions rank uses; the service gets the same models
    models = {"text": FakeInterestModel("text", LABELS, keywords={"Golf": ["birdie", "fairway"], "Pets": ["puppy", "dog"]},
                                        temperature=1.3),
              "image": FakeInterestModel("image", LABELS[:-1], temperature=1.3)}
    texts = {"ana": GOLF + ["Travel to the coast."], "ben": ["My puppy and my dog.", "Cooking and golf."],
             "cho": ["Music all night, music all day."]}
    records = [{"user_id": u, "post_id": f"{u}-{i}", "text": t} for u, ts in texts.items() for i, t in enumerate(ts)]
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps(r) + "\n" for r in records))
    ranked = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--format", "openrtb", "--max-segments", "3"])
    assert ranked.exit_code == 0, ranked.output
    expected = {u["id"]: u for u in map(json.loads, ranked.stdout.splitlines())}
    service = InterestService(lambda: (RankingPipeline(models), {"name": "fake", "version": 1}), tmp_path / "s.db")
    with TestClient(create_app(service, TOKEN)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        for user, user_texts in texts.items():
            post(client, user, user_texts)
            got = client.get(f"/users/{user}/openrtb", params={"max_segments": 3}).json()
            assert got == expected[user], user


def test_users_purged_by_retention_leave_the_audiences(tmp_path):
    first = make_service(tmp_path)
    with TestClient(create_app(first)) as c:
        for user, when in (("old", "2020-01-01T00:00:00Z"), ("new", "2099-01-01T00:00:00Z")):
            c.post(f"/users/{user}/posts", json=[{"post_id": "p", "text": GOLF[0], "created_at": when}])
        assert {u["user_id"] for u in c.get("/audiences/Golf").json()["users"]} == {"old", "new"}
    again = make_service(tmp_path, retention_days=30)
    with TestClient(create_app(again)) as c:
        assert [u["user_id"] for u in c.get("/audiences/Golf").json()["users"]] == ["new"]
