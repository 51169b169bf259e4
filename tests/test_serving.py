"""The hybrid model (pyfunc, mlflow models serve) and `interestkit serve`, on fake champions."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest
from click.testing import CliRunner

from interestkit.cli import cli
from support import ADS, free_port, http, register_fakes, register_fakes_and_hybrid, serving, small_workspace


@pytest.fixture
def store(tmp_path):
    """Fake text and image champions, and a hybrid built from them with ads, in the test's store."""
    paths = small_workspace(tmp_path / "ws", users=3)
    (tmp_path / "ads.yaml").write_text(ADS)
    built = register_fakes_and_hybrid("--last", "3", ads=tmp_path / "ads.yaml")
    assert "interestkit-hybrid version 1 (alias champion)" in built, built
    return {"root": tmp_path, **paths}


def post_records(workspace, user=None):
    rows = [json.loads(line) for line in workspace["posts"].read_text().splitlines()]
    return [r for r in rows if r["user_id"] == user] if user else rows


def as_data_uri(path):
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def inline(workspace, rows):
    """Rows with their photos inlined as data URIs (paths are not accepted without a media root)."""
    out = []
    for r in rows:
        r = dict(r)
        if r["image"]:
            r["image"] = as_data_uri(workspace["posts"].parent / r["image"])
        out.append(r)
    return out


# --- the pyfunc model ---------------------------------------------------------------------


def test_hybrid_loads_with_pyfunc_and_ranks_users(store):
    import mlflow

    from interestkit import tracking

    tracking.configure()
    model = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    out = model.predict(pd.DataFrame(inline(store, post_records(store))))
    assert list(out.columns) == ["user_id", "interests", "ads", "skipped", "window"]
    assert sorted(out["user_id"]) == ["user0000", "user0001", "user0002"]
    first = json.loads(out["interests"].iloc[0])
    assert [i["rank"] for i in first] == [1, 2, 3, 4, 5]
    assert all(first[i]["score"] >= first[i + 1]["score"] for i in range(4))
    assert len(json.loads(out["window"].iloc[0])) == 3  # the hybrid's own window (--last 3)
    ads = [a["ad_id"] for row in out["ads"] for a in json.loads(row)]
    assert "gone" not in ads  # inactive ads are never shown
    # pandas' own reader gives created_at as timestamps: accepted like ISO text
    frame = pd.read_json(store["posts"], lines=True)
    frame["image"] = [as_data_uri(store["posts"].parent / i) if isinstance(i, str) else None for i in frame["image"]]
    again = model.predict(frame)
    assert list(again["interests"]) == list(out["interests"])


def test_hybrid_refuses_paths_and_reports_unreadable_photos(store, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    from interestkit import tracking

    tracking.configure()
    model = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    for image in ("/etc/passwd", "../../etc/passwd", "media/user0000-p00.png"):
        with pytest.raises(MlflowException, match="file paths are not accepted here|must be a path inside"):
            model.predict(pd.DataFrame([{"user_id": "u", "post_id": "p", "text": "x", "image": image}]))
    bad = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    out = model.predict(pd.DataFrame([{"user_id": "u", "post_id": "p", "text": "a birdie", "image": bad}]))
    (skipped,) = json.loads(out["skipped"].iloc[0])
    assert skipped["post_id"] == "p" and "not a readable image" in skipped["reason"]
    assert json.loads(out["interests"].iloc[0])  # the caption still ranks the user
    # the person starting the process may give it a media root; a request still cannot leave it
    monkeypatch.setenv("INTERESTKIT_MEDIA_ROOT", str(store["posts"].parent))
    model = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    out = model.predict(pd.DataFrame([{"user_id": "u", "post_id": "p", "image": "media/user0000-p01.png"}]))
    assert json.loads(out["skipped"].iloc[0]) == [] and json.loads(out["interests"].iloc[0])
    with pytest.raises(MlflowException, match="must be a path inside"):
        model.predict(pd.DataFrame([{"user_id": "u", "post_id": "p", "image": "/etc/passwd"}]))


@pytest.mark.slow
@pytest.mark.integration
def test_mlflow_models_serve_answers_over_a_socket_and_refuses_paths(store):
    from interestkit import tracking

    port = free_port()
    # mlflow starts `uvicorn` by name: the virtualenv's bin folder must be on PATH
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking.tracking_uri(), PATH=path)
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/interestkit-hybrid@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(1)
        else:
            pytest.fail("mlflow models serve did not start: " + server.stderr.read1().decode()[-2000:])
        records = inline(store, post_records(store, "user0001"))
        status, body = http("POST", f"http://127.0.0.1:{port}/invocations", {"dataframe_records": records})
        assert status == 200, body
        (row,) = body["predictions"]
        assert row["user_id"] == "user0001" and len(json.loads(row["interests"])) == 5
        status, body = http("POST", f"http://127.0.0.1:{port}/invocations", {"dataframe_records": [
            {"user_id": "u", "post_id": "p", "text": "x", "image": "/etc/passwd"}]})
        assert status == 400 and "file paths are not accepted here" in json.dumps(body)
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- interestkit serve ----------------------------------------------------------------------


@pytest.fixture
def service(store, tmp_path):
    """A factory of running services over the store's hybrid: ``(service, url)``."""
    from interestkit.serve.service import InterestService

    running = []

    def start(db=tmp_path / "serving.db", model="models:/interestkit-hybrid@champion"):
        from interestkit.cli.serve import _loader, _watcher

        svc = InterestService(_loader(model, None, None), db, watch=_watcher(model))
        context = serving(svc)
        url = context.__enter__()
        running.append(context)
        return svc, url, context

    yield start
    for context in running:
        context.__exit__(None, None, None)


def single_posts(workspace, user):
    """The user's posts as request bodies: photos inlined, no user_id (the URL says it)."""
    rows = inline(workspace, post_records(workspace, user))
    for r in rows:
        del r["user_id"]
    return rows


def test_incremental_updates_window_and_restart(store, service):
    svc, url, context = service()
    posts = single_posts(store, "user0000")
    for i, post in enumerate(posts[:5]):
        status, body = http("POST", f"{url}/users/user0000/posts", [post])
        assert status == 200, body
        assert body["scored"] == 1 and body["posts_used"] == min(i + 1, 3)
        assert body["window"][0] == post["post_id"]  # the update was kept: most recent first
    assert body["window"] == [p["post_id"] for p in reversed(posts[2:5])]
    assert [i["rank"] for i in body["interests"]] == list(range(1, len(body["interests"]) + 1))
    status, interests = http("GET", f"{url}/users/user0000/interests")
    assert status == 200 and interests["interests"] == body["interests"] and interests["posts_used"] == 3
    assert set(interests) >= {"user_id", "interests", "ads", "window", "skipped"}
    status, recs = http("GET", f"{url}/users/user0000/recommendations")
    assert status == 200 and all(ad["ad_id"] != "gone" for ad in recs["ads"])
    status, health = http("GET", f"{url}/health")
    assert health["model"]["name"] == "interestkit-hybrid" and health["model"]["version"] == 1
    assert health["pipeline"]["options"]["last"] == 3 and health["pipeline"]["fusion"]["name"] == "score_sum"
    # the stateless answer over the same last 3 posts equals the stateful one
    last3 = [dict(p, user_id="user0000") for p in posts[2:5]]
    status, stateless = http("POST", f"{url}/rank", last3)
    assert status == 200
    assert stateless["users"][0]["interests"] == body["interests"]
    # a restart loses nothing
    context.__exit__(None, None, None)
    _, url2, _ = service()
    status, again = http("GET", f"{url2}/users/user0000/interests")
    assert status == 200 and again["interests"] == interests["interests"]


def test_concurrent_updates_to_one_user_lose_nothing(store, service, tmp_path):
    from interestkit import tracking
    from interestkit.serve.service import InterestService

    svc = InterestService(lambda: _with_window(tracking.load_hybrid(), 100), tmp_path / "c.db")
    posts = single_posts(store, "user0001")[:12]
    for i, post in enumerate(posts):
        post["post_id"] = f"c{i:02d}"
    errors = []
    with serving(svc) as url:
        def send(chunk):
            for post in chunk:
                status, body = http("POST", f"{url}/users/user0001/posts", [post])
                if status != 200:
                    errors.append(body)

        threads = [threading.Thread(target=send, args=(posts[i::4],)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert not errors
        status, body = http("GET", f"{url}/users/user0001/interests")
        assert body["posts_used"] == 12 and sorted(body["window"]) == sorted(p["post_id"] for p in posts)
        assert len(svc.store.rows("user0001")) == 12


def _with_window(loaded, last):
    pipeline, info = loaded
    return pipeline.replace(options={"last": last}), info


BAD_REQUESTS = [
    ("/users/u1/posts", None, b"{not json", 400, "invalid JSON", "body"),
    ("/users/u1/posts", {"post_id": "p"}, None, 422, "array", "body"),
    ("/users/u1/posts", [{"text": "hi"}], None, 422, "post_id", "body[0].post_id"),
    ("/users/u1/posts", [{"post_id": "p", "created_at": 5}], None, 422, "string", "body[0].created_at"),
    ("/users/u1/posts", [{"post_id": "p"}], None, 422, "neither text nor image", "body[0]"),
    ("/users/u1/posts", [{"post_id": "p", "text": "hi", "user_id": "u2"}], None, 409, "does not match",
     "body[0].user_id"),
    ("/users/u1/posts", [{"post_id": "p", "image": "/etc/passwd"}], None, 422, "file paths are not accepted here",
     "body[0].image"),
    ("/users/u1/posts", [{"post_id": "p", "image": "data:image/png;base64,@@@"}], None, 422, "not valid base64",
     "body[0].image"),
    ("/users/u1/posts", [{"post_id": "p", "image_b64": "@@@"}], None, 422, "not valid base64", "body[0].image_b64"),
    ("/users/u1/posts", [{"post_id": "p", "text": "x", "created_at": "yesterday"}], None, 422, "ISO-8601",
     "body[0].created_at"),
    ("/users/u1/posts", [{"post_id": f"p{i}", "text": "x"} for i in range(101)], None, 422, "at most 100", "body"),
    ("/users/u1/posts", [{"post_id": "p", "text": "x" * 10_001}], None, 422, "longer than the limit", "body[0].text"),
    ("/users/u1/posts", [], None, 422, "at least one post", "body"),
    ("/users/bad%20id/posts", [{"post_id": "p", "text": "x"}], None, 422, "user_id", "user_id"),
    ("/users/nobody/interests", None, None, 404, "no posts", "user_id"),
    ("/nowhere", None, None, 404, "no route", None),
    ("/health", {"x": 1}, None, 405, "not allowed", None),
]


def test_bad_requests_get_one_json_error_shape(service):
    _, url, _ = service()
    for path, payload, raw, status, fragment, field in BAD_REQUESTS:
        method = "POST" if (payload is not None or raw is not None) else "GET"
        code, body = http(method, url + path, payload, raw)
        assert code == status and fragment in body["error"]["message"], (path, payload, body)
        assert body["error"]["code"] == status and body["error"]["field"] == field, (path, body)
    code, body = http("PUT", f"{url}/users/u1/posts", [{"post_id": "p", "text": "x"}])
    assert code == 405 and body["error"]["code"] == 405
    code, body = http("POST", f"{url}/rank", raw=b"[]", headers={"Content-Type": "text/plain"})
    assert code == 415 and "application/json" in body["error"]["message"]


def test_unreadable_photo_is_reported_not_a_500(service):
    _, url, _ = service()
    bad = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    code, body = http("POST", f"{url}/users/u9/posts", [{"post_id": "p1", "image": bad, "text": "golf swing"}])
    assert code == 200 and body["skipped"][0]["post_id"] == "p1" and body["interests"]
    code, again = http("GET", f"{url}/users/u9/interests")
    assert again["skipped"] == body["skipped"]  # kept with the post, not only in the first answer


def test_body_size_limit(store, tmp_path):
    from interestkit import tracking
    from interestkit.serve.security import Limits
    from interestkit.serve.service import InterestService

    limits = Limits(max_body_bytes=100)
    svc = InterestService(lambda: tracking.load_hybrid(), tmp_path / "limit.db", limits=limits)
    with serving(svc, limits=limits) as url:
        code, body = http("POST", f"{url}/users/u1/posts", [{"post_id": "p", "text": "x" * 500}])
        assert code == 413 and "larger than" in body["error"]["message"]


@pytest.mark.parametrize("alias", ["champion", "challenger"])
def test_a_newly_pointed_alias_is_picked_up_without_restart(store, service, alias):
    from interestkit.app.hybrid import build_hybrid

    if alias != "champion":
        from mlflow import MlflowClient

        MlflowClient().set_registered_model_alias("interestkit-hybrid", alias, "1")
    svc, url, _ = service(model=f"models:/interestkit-hybrid@{alias}")
    assert svc.maybe_reload() is False  # nothing moved: nothing reloaded
    http("POST", f"{url}/users/u5/posts", [{"post_id": "p1", "text": "golf swing on the green"}])
    v2 = build_hybrid(fusion="rank_vote")["version"]
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias("interestkit-hybrid", alias, str(v2))
    assert svc.maybe_reload() is True
    assert svc.maybe_reload() is False  # once: not on every tick
    status, health = http("GET", f"{url}/health")
    assert health["model"]["version"] == v2 and health["pipeline"]["fusion"]["name"] == "rank_vote"
    status, body = http("GET", f"{url}/users/u5/interests")  # re-scored by the new model
    assert status == 200 and svc.store.rows("u5")[0].model_key == f"interestkit-hybrid:{v2}"
    pinned, _, _ = service(db=store["root"] / "pinned.db", model="models:/interestkit-hybrid/1")
    assert pinned.watch is None and pinned.maybe_reload() is False  # a pinned version never moves


def test_alias_moved_like_in_the_ui_is_honoured_by_every_command(store):
    """Move 'champion' with the MLflow client (what the UI does); rank, recommend and build-hybrid follow."""
    from mlflow import MlflowClient

    from interestkit import tracking
    from interestkit.testing import FakeInterestModel

    run = lambda *a: CliRunner().invoke(cli, list(a))  # noqa: E731
    second = tracking.register_interest_model(FakeInterestModel("text", ["Golf", "Pets"]))
    assert second["version"] == 2 and not second["champion"]
    client = MlflowClient()
    client.set_registered_model_alias("interestkit-text", "champion", "2")
    ranked = run("rank", "--posts", str(store["posts"]), "--format", "json")
    assert ranked.exit_code == 0, ranked.output
    assert "(version 2," in ranked.output  # the progress line names the version used
    recommended = run("recommend", "--posts", str(store["posts"]), "--ads", str(store["root"] / "ads.yaml"))
    assert "models:/interestkit-text@champion (version 2" in recommended.output
    built = run("models", "build-hybrid")
    assert "text interestkit-text v2" in built.output
