"""The HTTP contract: no input gives a 500, the OpenAPI document declares what the server enforces
(checked by schemathesis against a real ``interestkit serve``), undeclared methods answer 405,
and ``/metrics`` passes ``promtool check metrics``."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from interestkit.data.paths import MediaPolicy
from interestkit.errors import DataError
from interestkit.serve.app import create_app
from interestkit.serve.security import Limits
from serve_process import TOKEN, Server, build_fake_hybrid
from test_serve_app import make_service

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(make_service(tmp_path), TOKEN)) as c:
        c.headers.update(AUTH)
        yield c


# --- no input gives a 500 ---------------------------------------------------------------------


@pytest.mark.parametrize("value, says", [
    ("a\x00b", "contains a NUL byte"), ("a\x1fb", "control character"), ("x\ud800", "not encodable"),
    ("", "expected a file path"), ("a" * 5000, "longer than 4096")])
def test_illegal_paths_are_refused_naming_the_field(tmp_path, value, says):
    for policy in (MediaPolicy(), MediaPolicy(tmp_path), MediaPolicy(tmp_path, allow_outside=True)):
        with pytest.raises(DataError, match=f"^body\\[0\\]: column 'image': .*{says}"):
            policy.resolve(value, "body[0]: column 'image'")


def test_a_refused_path_names_the_setting_that_allows_paths():
    with pytest.raises(DataError, match="--media-root DIR, or INTERESTKIT_MEDIA_ROOT=DIR"):
        MediaPolicy().resolve("media/p.png", "body[0]: column 'image'")


@pytest.mark.parametrize("image", ["a\u0000b", "a\x1fb", "/etc/passwd", "../x.png", "", "x\udc80"])
def test_bad_photo_paths_are_a_422_naming_the_field(client, image):
    for path, body in [("/rank", [{"user_id": "u", "post_id": "p", "image": image}]),
                       ("/users/u/posts", [{"post_id": "p", "image": image}])]:
        answer = client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "body[0].image", answer.text
    if image == "/etc/passwd":
        assert "--media-root" in answer.json()["error"]["message"]


def test_paths_under_a_media_root_are_checked_by_the_server_too(tmp_path):
    (tmp_path / "media").mkdir()
    service = make_service(tmp_path)
    service.pipeline = service.pipeline.replace(media=MediaPolicy(tmp_path / "media"))
    with TestClient(create_app(service)) as c:
        for image, status in [("p.png", 200), ("../p.png", 422), ("/etc/passwd", 422), ("a\u0000b", 422)]:
            answer = c.post("/users/u/posts", json=[{"post_id": "p", "image": image}])
            assert answer.status_code == status, (image, answer.text)
        assert answer.json()["error"]["field"] == "body[0].image"
        assert c.get("/users/u/interests").json()["skipped"][0]["post_id"] == "p"  # a missing file: skipped


def test_conflicting_bodies_are_a_409(client):
    twice = client.post("/users/u/posts", json=[{"post_id": "p", "text": "a"}, {"post_id": "p", "text": "b"}])
    assert twice.status_code == 409 and twice.json()["error"]["field"] == "body[1].post_id"
    other = client.post("/users/u/posts", json=[{"post_id": "p", "text": "a", "user_id": "v"}])
    assert other.status_code == 409 and other.json()["error"]["field"] == "body[0].user_id"


def test_the_error_example_in_the_guide_is_what_the_server_answers(client):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r'`(\{"error": \{"code": 422.*?\}\})`', guide).group(1))
    answer = client.post("/users/u1/posts", json=[{"post_id": "p", "text": "x", "created_at": "yesterday"}])
    assert answer.json() == example


# --- the document declares what the server enforces ---------------------------------------------


def test_the_document_declares_patterns_limits_errors_and_the_bearer_scheme(tmp_path):
    limits = Limits(max_posts=7, max_text_chars=99, max_body_bytes=5000)
    with TestClient(create_app(make_service(tmp_path, limits=limits), TOKEN, limits)) as c:
        spec = c.get("/openapi.json", headers=AUTH).json()
        assert spec["components"]["securitySchemes"]["bearer"] == {
            "type": "http", "scheme": "bearer", "description": "INTERESTKIT_SERVE_TOKEN or --token-file"}
        post = spec["paths"]["/users/{user_id}/posts"]["post"]
        (param,) = post["parameters"]
        assert param["schema"]["pattern"] == "^[A-Za-z0-9_.:@-]{1,128}$" and param["schema"]["maxLength"] == 128
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert (body["minItems"], body["maxItems"]) == (1, 7) and post["requestBody"]["x-max-body-bytes"] == 5000
        schemas = spec["components"]["schemas"]
        assert schemas["PostIn"]["required"] == ["post_id"] and schemas["RankPostIn"]["required"] == ["user_id", "post_id"]
        text = schemas["PostIn"]["properties"]["text"]["anyOf"][0]
        assert text["maxLength"] == 99
        assert {"anyOf", "not"} <= set(schemas["PostIn"])  # a caption or a photo; not two photos
        assert "HTTPValidationError" not in schemas
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                for status in ("500", "503") + (("401",) if path != "/health" else ()):
                    assert responses[status]["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorAnswer"}, (method, path, status)
                assert ("security" in operation) == (path != "/health")
                if "requestBody" in operation:
                    assert {"400", "408", "413", "415", "422"} <= set(responses), (method, path)
        assert "405" in json.dumps(spec["components"]["responses"])
        # what it declares is enforced, with the documented body
        answer = c.post("/users/u/posts", json=[{"post_id": f"p{i}", "text": "x"} for i in range(8)], headers=AUTH)
        assert answer.status_code == 422 and "at most 7" in answer.json()["error"]["message"]
        answer = c.post("/users/u/posts", json=[{"post_id": "p", "text": "x" * 100}], headers=AUTH)
        assert answer.status_code == 422 and "longer than the limit of 99" in answer.json()["error"]["message"]


def test_a_new_route_gets_the_rules_too(tmp_path):
    app = create_app(make_service(tmp_path), TOKEN)
    from interestkit.serve.schemas import UserId

    @app.get("/users/{user_id}/extra")
    async def extra(user_id: UserId):
        return {"user_id": user_id}

    with TestClient(app) as c:
        operation = c.get("/openapi.json", headers=AUTH).json()["paths"]["/users/{user_id}/extra"]["get"]
        assert operation["security"] == [{"bearer": []}]
        assert {"401", "422", "500", "503"} <= set(operation["responses"])
        assert c.get("/users/bad%20id/extra", headers=AUTH).json()["error"]["field"] == "user_id"
        assert c.put("/users/u/extra", headers=AUTH).status_code == 405


def test_undeclared_methods_answer_405_with_allow(client):
    for method, path in [("PUT", "/health"), ("PUT", "/metrics"), ("PATCH", "/rank"), ("PUT", "/users/u/interests"),
                         ("POST", "/users/u/recommendations"), ("PUT", "/users/u")]:
        answer = client.request(method, path, content=b"x")  # no JSON Content-Type: still a 405, not a 415
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.json()["error"]["code"] == 405 and answer.headers["allow"]


# --- schemathesis against a real server --------------------------------------------------------

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.slow
def test_schemathesis_finds_no_failure_against_a_real_server(tmp_path):
    """A bounded (at most 10 cases per operation and phase), seeded run of every check against
    ``interestkit serve`` with a token, on loopback, that reaches every operation the document declares.
    Bounded by cases, not by time: a loaded machine runs the same cases, only slower."""
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    build_fake_hybrid(tmp_path)
    server = Server(str(tmp_path / "serving.db"), tmp_path / "serve.log").start()
    try:
        status, spec = server.call("GET", "/openapi.json")
        assert status == 200, spec
        done = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {TOKEN}",
             "--checks", "all", "--seed", "24", "--max-examples", "10", "--no-color", "--workers", "1",
             "--report", "junit", "--report-dir", str(tmp_path / "report")],
            capture_output=True, text=True, timeout=300, cwd=tmp_path, env=dict(os.environ, NO_COLOR="1"))
    finally:
        server.stop()
    output = done.stdout + done.stderr
    summary = re.search(r"(\d+) generated, (.*)", output)
    print(summary.group(0) if summary else output[-2000:])
    assert done.returncode == 0, output[-6000:]
    assert summary and int(summary.group(1)) > 100 and "failure" not in summary.group(2), output[-3000:]
    assert "Traceback" not in server.tail()
    declared = {f"{method.upper()} {path}" for path, operations in spec["paths"].items() for method in operations}
    tested = {case.get("name") for report in (tmp_path / "report").glob("*.xml")
              for case in ElementTree.parse(report).iter("testcase")}
    assert declared and declared <= tested, sorted(declared - tested)  # the budget reached every operation


# --- Prometheus ----------------------------------------------------------------------------------


def test_metrics_pass_promtool(client):
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (apt-get install prometheus; .ci/run installs it)"
        if os.environ.get("INTERESTKIT_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    client.post("/users/u1/posts", json=[{"post_id": "p", "text": "birdie"}])
    client.get("/users/nobody/interests")
    answer = client.get("/metrics")
    assert answer.status_code == 200 and "interestkit_requests_total" in answer.text
    checked = subprocess.run([promtool, "check", "metrics"], input=answer.text, capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
