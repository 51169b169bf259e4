"""`interestkit serve`'s HTTP API on fake models: auth, limits, deletion, retention, metrics, slow clients."""

import base64
import io
import json
import logging
import socket
import threading
import time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image

from interestkit.cli import cli
from interestkit.errors import ConfigError
from interestkit.ranking.pipeline import RankingOptions, RankingPipeline
from interestkit.serve.app import create_app
from interestkit.serve.security import Limits, check_bind, load_token
from interestkit.serve.service import InterestService, ServeOptions
from interestkit.testing import FakeInterestModel
from support import LABELS, serving

TOKEN = "s3cret-token"


def fake_pipeline(last=20):
    models = {"text": FakeInterestModel("text", LABELS, keywords={"Golf": ["birdie"]}),
              "image": FakeInterestModel("image", LABELS[:-1])}
    return RankingPipeline(models, options=RankingOptions(last=last))


def make_service(tmp_path, name="serve.db", last=20, **config):
    pipeline = fake_pipeline(last)
    limits = config.pop("limits", None)
    return InterestService(lambda: (pipeline, {"name": "fake-hybrid", "version": 1}), tmp_path / name,
                           ServeOptions(**config), limits=limits)


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(make_service(tmp_path), TOKEN)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def png(size=(24, 24), colour=(200, 30, 30), mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else 0).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_openapi_and_docs_describe_every_route(client):
    spec = client.get("/openapi.json").json()
    assert {"/users/{user_id}/posts", "/users/{user_id}/interests", "/users/{user_id}", "/rank", "/health",
            "/metrics"} <= set(spec["paths"])
    assert "PostIn" in spec["components"]["schemas"] and "UserAnswer" in spec["components"]["schemas"]
    assert "window" in spec["components"]["schemas"]["UserAnswer"]["properties"]
    assert client.get("/docs").status_code == 200


def test_every_route_but_health_needs_the_token(tmp_path):
    with TestClient(create_app(make_service(tmp_path), TOKEN)) as c:
        health = c.get("/health").json()
        assert health["limits"]["max_posts"] == 100 and health["batching"]["max_photos"] == 16
        assert health["state"].startswith("sqlite:///")
        for method, path in [("GET", "/users/u1/interests"), ("POST", "/users/u1/posts"), ("DELETE", "/users/u1"),
                             ("POST", "/rank"), ("GET", "/metrics"), ("GET", "/openapi.json")]:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                answer = c.request(method, path, headers=headers, json=[{"post_id": "p", "text": "x"}])
                assert answer.status_code == 401, (method, path, headers)
                assert answer.json()["error"]["field"] == "Authorization"
                assert answer.headers["www-authenticate"] == "Bearer"
        ok = c.post("/users/u1/posts", json=[{"post_id": "p", "text": "x"}], headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_token_sources_and_the_bind_rule(tmp_path):
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    assert load_token(tmp_path / "token", {}) == TOKEN
    assert load_token(None, {"INTERESTKIT_SERVE_TOKEN": "t2"}) == "t2" and load_token(None, {}) is None
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_token(tmp_path / "empty", {})
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", TOKEN)
    check_bind("0.0.0.0", None, insecure=True)
    with pytest.raises(ConfigError, match="needs a token"):
        check_bind("0.0.0.0", None)
    refused = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env={"INTERESTKIT_SERVE_TOKEN": ""})
    assert refused.exit_code == 2 and "needs a token" in refused.output


def test_answers_carry_the_window_and_skipped_photos(client):
    first = client.post("/users/u1/posts", json=[{"post_id": "a", "text": "birdie", "created_at": "2026-01-01"}])
    assert first.status_code == 200 and first.json()["window"] == ["a"] and first.json()["scored"] == 1
    bad = base64.b64encode(b"not a png").decode()
    second = client.post("/users/u1/posts", json=[{"post_id": "b", "text": "golf", "image_b64": bad,
                                                    "created_at": "2026-01-02"}]).json()
    assert second["window"] == ["b", "a"]
    assert second["skipped"][0]["post_id"] == "b" and "not a readable image" in second["skipped"][0]["reason"]
    photo = client.post("/users/u1/posts", json=[{"post_id": "c", "image_b64": png()}]).json()
    assert photo["skipped"] == [{"post_id": "b", "reason": second["skipped"][0]["reason"]}]
    assert client.get("/users/u1/interests").json()["window"] == photo["window"]


def test_limits_on_photos_bytes_and_pixels(tmp_path):
    limits = Limits(max_image_bytes=2000, max_image_pixels=100_000)
    with TestClient(create_app(make_service(tmp_path, limits=limits))) as c:
        big = base64.b64encode(b"\0" * 4000).decode()
        answer = c.post("/users/u1/posts", json=[{"post_id": "p", "image_b64": big}])
        assert answer.status_code == 422 and "larger than the limit of 2000 bytes" in answer.json()["error"]["message"]
        assert answer.json()["error"]["field"] == "body[0].image_b64"
        bomb = png((1000, 1000), mode="L")  # a few hundred bytes, a million pixels
        assert len(base64.b64decode(bomb)) < 2000
        answer = c.post("/users/u1/posts", json=[{"post_id": "p", "text": "golf", "image_b64": bomb}]).json()
        (skipped,) = answer["skipped"]
        assert "more than the limit of 100000" in skipped["reason"] and "decompression bomb" in skipped["reason"]
        assert answer["interests"]  # the caption still counts
        uri = c.post("/users/u2/posts", json=[{"post_id": "p", "image": "data:image/png;base64," + bomb}]).json()
        assert "decompression bomb" in uri["skipped"][0]["reason"]


def test_deleting_a_user_removes_everything(client):
    client.post("/users/u1/posts", json=[{"post_id": f"p{i}", "text": "golf"} for i in range(3)])
    client.post("/users/u2/posts", json=[{"post_id": "p0", "text": "golf"}])
    deleted = client.delete("/users/u1")
    assert deleted.status_code == 200 and deleted.json() == {"user_id": "u1", "deleted_posts": 3}
    assert client.get("/users/u1/interests").status_code == 404
    assert client.delete("/users/u1").status_code == 404
    assert client.get("/users/u2/interests").status_code == 200  # nobody else's posts


def test_retention_purges_old_posts_at_start_and_on_schedule(tmp_path):
    svc = make_service(tmp_path)
    with TestClient(create_app(svc)) as c:
        c.post("/users/u1/posts", json=[{"post_id": "old", "text": "golf", "created_at": "2020-01-01T00:00:00Z"},
                                        {"post_id": "new", "text": "golf", "created_at": "2099-01-01T00:00:00Z"}])
        c.post("/users/u2/posts", json=[{"post_id": "old", "text": "golf", "created_at": "2020-01-01T00:00:00Z"}])
    again = make_service(tmp_path, retention_days=30)
    assert again.purged == 2
    with TestClient(create_app(again)) as c:
        assert c.get("/users/u1/interests").json()["window"] == ["new"]
        assert c.get("/users/u2/interests").status_code == 404
        c.post("/users/u3/posts", json=[{"post_id": "old", "text": "golf", "created_at": "2020-01-01T00:00:00Z"}])
    scheduled = make_service(tmp_path, retention_days=30, retention_every=0.2)
    deadline = time.time() + 10
    while scheduled.store.rows("u3") and time.time() < deadline:
        time.sleep(0.1)
    assert not scheduled.store.rows("u3")
    scheduled.close()


def test_metrics_and_one_access_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="interestkit.serve.access"):
        client.post("/users/u1/posts", json=[{"post_id": "p", "text": "golf"}])
        client.get("/users/nobody/interests")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "interestkit.serve.access"]
    assert [(line["route"], line["status"]) for line in lines] == [("/users/{user_id}/posts", 200),
                                                                   ("/users/{user_id}/interests", 404)]
    assert all(line["ms"] >= 0 and line["method"] for line in lines)
    text = client.get("/metrics").text
    assert 'interestkit_requests_total{method="POST",route="/users/{user_id}/posts",status="200"} 1.0' in text
    assert 'interestkit_requests_total{method="GET",route="/users/{user_id}/interests",status="404"} 1.0' in text
    assert "interestkit_request_seconds_bucket" in text and "interestkit_batch_posts_count 1.0" in text
    assert "interestkit_queue_posts 0.0" in text
    assert 'interestkit_model_info{name="fake-hybrid",uri="",version="1"} 1.0' in text


def test_concurrent_requests_share_model_calls(tmp_path):
    svc = make_service(tmp_path, batch_wait_ms=200, batch_max_posts=8)
    text_model = svc.pipeline.models["text"]
    answers = {}
    with serving(svc) as url:
        from support import http

        def send(i):
            answers[i] = http("POST", f"{url}/users/u{i}/posts", [{"post_id": "same-id", "text": f"golf {i}"}])

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert all(status == 200 for status, _ in answers.values())
    assert max(text_model.calls) > 1  # one model call for several requests
    alone = make_service(tmp_path, "alone.db")
    for i, (_, body) in answers.items():  # the same answer as scoring the post alone
        scored = alone.pipeline.score(alone.pipeline.parse_records([{"user_id": f"u{i}", "post_id": "same-id",
                                                                     "text": f"golf {i}"}]))
        top = max(scored.scores["text"]["same-id"].items(), key=lambda kv: kv[1])
        assert body["window"] == ["same-id"] and body["interests"][0]["interest"] == top[0]
    alone.close()


def read_all(sock, limit=10.0):
    """Everything the server sends until it closes the connection (or ``limit`` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def test_a_stalled_client_is_dropped_within_seconds(tmp_path):
    limits = Limits(read_timeout=1.0, keep_alive=1.0)
    with serving(make_service(tmp_path, limits=limits), limits=limits) as url:
        host, port = url.removeprefix("http://").split(":")
        stalls = {  # all three at once: each must be dropped by its own timer
            # a body announced as 1,000 bytes of which 10 arrive
            "body": b"POST /rank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n[{\"post_id\"",
            "headers": b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers that never end
            "nothing": b"",  # a connection that sends nothing at all
        }
        started = time.monotonic()
        sockets = {name: socket.create_connection((host, int(port))) for name in stalls}
        try:
            for name, data in stalls.items():
                sockets[name].sendall(data)
            answers = {name: read_all(sock) for name, sock in sockets.items()}
        finally:
            for sock in sockets.values():
                sock.close()
        assert time.monotonic() - started < 5
        assert answers["body"].startswith(b"HTTP/1.1 408") and b'"code": 408' in answers["body"]
        assert answers["headers"] == b"" and answers["nothing"] == b""


def test_every_serve_flag_the_docs_name_exists():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text()
    section = text[text.index("## Real-time serving"):]
    named = set(re.findall(r"`(--[a-z-]+)", section)) | set(re.findall(r"serve .*?((?:--[a-z-]+ ?)+)", section))
    flags = {flag for group in named for flag in group.split() if flag.startswith("--")}
    helped = CliRunner().invoke(cli, ["serve", "--help"]).output
    assert flags and not [flag for flag in flags if flag not in helped]


def test_chunked_bodies_are_read_and_bounded(tmp_path):
    limits = Limits(max_body_bytes=2000)
    with serving(make_service(tmp_path, limits=limits), limits=limits) as url:
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps([{"user_id": "u1", "post_id": "p", "text": "golf birdie"}]).encode()
        for payload, status in [(body, b"200"), (b"[" + b" " * 3000 + b"]", b"413")]:
            with socket.create_connection((host, int(port))) as sock:
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 500]), payload[i:i + 500])
                                  for i in range(0, len(payload), 500))
                sock.sendall(b"POST /rank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
                answer = read_all(sock)
                assert answer.split(b" ")[1] == status, answer[:300]
                assert (b'"user_id":"u1"' if status == b"200" else b'"code": 413') in answer


def test_state_urls_and_their_passwords():
    from interestkit.serve.store import redact, state_url

    assert state_url("postgresql://ik:pw@db/x") == "postgresql+psycopg://ik:pw@db/x"
    assert "pw" not in redact(state_url("postgresql://ik:pw@db/x"))
    with pytest.raises(ConfigError, match="expected a sqlite file"):
        state_url("mysql://db/x")
