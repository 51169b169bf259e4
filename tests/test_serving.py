"""The hybrid model (pyfunc, mlflow models serve) and `interestkit serve` over real sockets."""

import base64
import json
import socket
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
from interestkit.synthetic import make_workspace

ADS = """ads:
  - {ad_id: clubs, title: Golf clubs, interests: [Golf], weight: 2}
  - {ad_id: kibble, title: Dog food, interests: [Pets]}
  - {ad_id: gone, title: Expired, interests: [Golf], weight: 9, ends: 2020-01-01}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Tiny text and image champions and a hybrid built from them, in one store."""
    root = tmp_path_factory.mktemp("serving")
    paths = make_workspace(root / "ws", users=3, images_per_interest=8, captions_per_interest=30, image_size=48)
    (root / "ads.yaml").write_text(ADS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERESTKIT_REGISTRY", str(root / "registry"))
        mp.setenv("INTERESTKIT_CACHE_DIR", str(root / "cache"))
        run = lambda *a: CliRunner().invoke(cli, list(a), catch_exceptions=False)  # noqa: E731
        assert run("train", "--plugin", "gru", "--data", str(paths["text"]), "--epochs", "4").exit_code == 0
        assert run("train", "--plugin", "efficientnet_lite0", "--data", str(paths["images"]), "--image-size", "48",
                   "--epochs", "10").exit_code == 0
        built = run("models", "build-hybrid", "--ads", str(root / "ads.yaml"))
        assert built.exit_code == 0 and "interestkit-hybrid version 1 (alias champion)" in built.output
    return {"root": root, **paths}


@pytest.fixture
def store(workspace, monkeypatch):
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(workspace["root"] / "registry"))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(workspace["root"] / "cache"))
    return workspace


def post_records(workspace, user=None, with_paths=True):
    rows = [json.loads(line) for line in workspace["posts"].read_text().splitlines()]
    if user:
        rows = [r for r in rows if r["user_id"] == user]
    if with_paths:
        for r in rows:
            if r["image"]:
                r["image"] = str(workspace["posts"].parent / r["image"])
    return rows


def as_data_uri(path):
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, payload=None, raw=None):
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the pyfunc model ---------------------------------------------------------------------


def test_hybrid_loads_with_pyfunc_and_ranks_users(store):
    import mlflow

    from interestkit import tracking

    tracking.configure()
    model = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    out = model.predict(pd.DataFrame(post_records(store)))
    assert list(out.columns) == ["user_id", "interests", "ads"]
    assert sorted(out["user_id"]) == ["user0000", "user0001", "user0002"]
    first = json.loads(out["interests"].iloc[0])
    assert [i["rank"] for i in first] == [1, 2, 3, 4, 5]
    assert all(first[i]["score"] >= first[i + 1]["score"] for i in range(4))
    ads = [a["ad_id"] for row in out["ads"] for a in json.loads(row)]
    assert "gone" not in ads  # inactive ads are never shown


def test_mlflow_models_serve_answers_over_a_socket(store):
    from interestkit import tracking

    port = free_port()
    import os

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
        records = post_records(store, "user0001")
        status, body = http("POST", f"http://127.0.0.1:{port}/invocations", {"dataframe_records": records})
        assert status == 200, body
        (row,) = body["predictions"]
        assert row["user_id"] == "user0001" and len(json.loads(row["interests"])) == 5
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- interestkit serve ----------------------------------------------------------------------


@pytest.fixture
def service(store, tmp_path):
    from interestkit import tracking
    from interestkit.serve import InterestService, make_server

    def start(db=tmp_path / "serving.db", window=3):
        svc = InterestService(lambda: tracking.load_hybrid(), db, window=window)
        server = make_server(svc, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        return svc, server, f"http://127.0.0.1:{server.server_port}"

    started = []

    def factory(**kwargs):
        started.append(start(**kwargs))
        return started[-1]

    yield factory
    for svc, server, _ in started:
        server.shutdown()
        server.server_close()
        svc.close()


@pytest.fixture(scope="module")
def shared_url(workspace, tmp_path_factory):
    """One running service for the tests that only send requests."""
    from interestkit import tracking
    from interestkit.serve import InterestService, make_server

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERESTKIT_REGISTRY", str(workspace["root"] / "registry"))
        svc = InterestService(lambda: tracking.load_hybrid(), tmp_path_factory.mktemp("db") / "s.db", window=3)
    server = make_server(svc, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    svc.close()


def single_posts(workspace, user):
    """The user's posts as request bodies: photos inlined as data URIs."""
    rows = post_records(workspace, user, with_paths=False)
    for r in rows:
        if r["image"]:
            r["image"] = as_data_uri(workspace["posts"].parent / r["image"])
        del r["user_id"]
    return rows


def test_incremental_updates_window_and_restart(store, service, tmp_path):
    svc, server, url = service()
    posts = single_posts(store, "user0000")
    for i, post in enumerate(posts[:5]):
        status, body = http("POST", f"{url}/users/user0000/posts", [post])
        assert status == 200, body
        assert body["scored"] == 1 and body["posts_in_window"] == min(i + 1, 3)
    assert [i["rank"] for i in body["interests"]] == list(range(1, len(body["interests"]) + 1))
    status, interests = http("GET", f"{url}/users/user0000/interests")
    assert status == 200 and interests["interests"] == body["interests"] and interests["posts_in_window"] == 3
    assert set(interests) >= {"user_id", "interests", "ads"}
    status, recs = http("GET", f"{url}/users/user0000/recommendations")
    assert status == 200 and all(ad["ad_id"] != "gone" for ad in recs["ads"])
    status, health = http("GET", f"{url}/health")
    assert health["model"]["name"] == "interestkit-hybrid" and health["model"]["version"] == 1
    # the stateless answer over the same last 3 posts equals the stateful one
    last3 = [dict(p, user_id="user0000") for p in posts[2:5]]
    status, stateless = http("POST", f"{url}/rank", last3)
    assert status == 200
    assert [i["interest"] for i in stateless["users"][0]["interests"]] == [i["interest"] for i in body["interests"]]
    # a restart loses nothing
    server.shutdown()
    svc2, _, url2 = service()
    status, again = http("GET", f"{url2}/users/user0000/interests")
    assert status == 200 and again["interests"] == interests["interests"]


def test_concurrent_updates_to_one_user_lose_nothing(store, service):
    svc, _, url = service(window=100)
    posts = single_posts(store, "user0001")[:12]
    for i, post in enumerate(posts):
        post["post_id"] = f"c{i:02d}"
    errors = []

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
    assert body["posts_in_window"] == 12
    assert len(svc.store.rows("user0001")) == 12


@pytest.mark.parametrize("path, payload, raw, status, fragment", [
    ("/users/u1/posts", None, b"{not json", 400, "invalid JSON"),
    ("/users/u1/posts", {"post_id": "p"}, None, 400, "expected a JSON array"),
    ("/users/u1/posts", [{"text": "hi"}], None, 400, "post_id"),
    ("/users/u1/posts", [{"post_id": "p"}], None, 400, "neither text nor image"),
    ("/users/u1/posts", [{"post_id": "p", "text": "hi", "user_id": "u2"}], None, 400, "does not match"),
    ("/users/u1/posts", [{"post_id": "p", "image": "/etc/passwd"}], None, 400, "data:image"),
    ("/users/u1/posts", [{"post_id": "p", "image": "data:image/png;base64,@@@"}], None, 400, "not valid base64"),
    ("/users/u1/posts", [{"post_id": "p", "text": "x", "created_at": "yesterday"}], None, 400, "ISO-8601"),
    ("/users/u1/posts", [{"post_id": f"p{i}", "text": "x"} for i in range(101)], None, 400, "at most 100"),
    ("/users/bad%20id/posts", [{"post_id": "p", "text": "x"}], None, 400, "user_id"),
    ("/users/nobody/interests", None, None, 404, "no posts yet"),
    ("/nowhere", None, None, 404, "no route"),
    ("/health", {"x": 1}, None, 405, "not allowed"),
])
def test_bad_requests_get_clear_4xx(shared_url, path, payload, raw, status, fragment):
    url = shared_url
    method = "POST" if (payload is not None or raw is not None) else "GET"
    code, body = http(method, url + path, payload, raw)
    assert code == status and fragment in body["error"]


def test_unreadable_photo_is_reported_not_a_500(shared_url):
    url = shared_url
    bad = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    code, body = http("POST", f"{url}/users/u9/posts", [{"post_id": "p1", "image": bad, "text": "golf swing"}])
    assert code == 200 and "p1" in body["failures"]


def test_body_size_limit(shared_url, monkeypatch):
    import interestkit.serve as serve_mod

    monkeypatch.setattr(serve_mod, "MAX_BODY_BYTES", 100)
    url = shared_url
    code, body = http("POST", f"{url}/users/u1/posts", [{"post_id": "p", "text": "x" * 500}])
    assert code == 413 and "larger than" in body["error"]


def test_new_champion_is_picked_up_without_restart(store, service):
    from interestkit import tracking
    from interestkit.pipeline import build_hybrid

    svc, _, url = service()
    http("POST", f"{url}/users/u5/posts", [{"post_id": "p1", "text": "golf swing on the green"}])
    v2 = build_hybrid(fusion="rank_vote", log=lambda m: None)["version"]
    tracking.promote("interestkit-hybrid", version=v2)
    try:
        assert svc.maybe_reload() is True
        status, health = http("GET", f"{url}/health")
        assert health["model"]["version"] == v2 and health["fusion"] == "rank_vote"
        status, body = http("GET", f"{url}/users/u5/interests")  # re-scored by the new model
        assert status == 200 and svc.store.rows("u5")[0]["model_key"] == f"interestkit-hybrid:{v2}"
    finally:
        tracking.promote("interestkit-hybrid", version=1)


def test_alias_moved_like_in_the_ui_is_honoured_by_every_command(store):
    """Move 'champion' with the MLflow client (what the UI does); rank, recommend and serve follow."""
    from mlflow import MlflowClient

    from interestkit import tracking

    run = lambda *a: CliRunner().invoke(cli, list(a))  # noqa: E731
    trained = run("train", "--plugin", "rnn", "--data", str(store["text"]), "--epochs", "1")
    assert "interestkit-text version 2" in trained.output and "alias champion" not in trained.output
    tracking.configure()
    client = MlflowClient()
    client.set_registered_model_alias("interestkit-text", "champion", "2")
    try:
        ranked = run("rank", "--posts", str(store["posts"]), "--format", "json")
        assert ranked.exit_code == 0, ranked.output
        assert "(version 2," in ranked.output  # the progress line names the version used
        recommended = run("recommend", "--posts", str(store["posts"]), "--ads", str(store["root"] / "ads.yaml"))
        assert "interestkit-text version 2" in recommended.output
        built = run("models", "build-hybrid")
        assert "text interestkit-text v2" in built.output
    finally:
        client.set_registered_model_alias("interestkit-text", "champion", "1")
