"""Every scoring process on exported models imports neither TensorFlow nor Keras.

Each command runs in a fresh process (``predict`` and ``rank`` are in ``test_runtime.py``):
``recommend``, ``evaluate``, ``test``, ``batch --engine local``, ``serve`` with a request
scored, and the pyfunc flavours (a caption model, a photo model, the hybrid) loaded with
``mlflow.pyfunc.load_model``. The models are the tiny hand-built exports of
``runtime_support`` (no Keras files at all, so a path that reached for Keras would fail
as well as show up in ``sys.modules``)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from PIL import Image

from interestkit.cli import cli
from runtime_support import exported_folder
from support import free_port, http

pytestmark = pytest.mark.integration

REPORT = ("import atexit, sys\n"
          "atexit.register(lambda: print('LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules), "
          "file=sys.stderr, flush=True))\n")
CLI = REPORT + "from interestkit.cli import main\nmain(sys.argv[1:])\n"
TOKEN = "runtime-process-token"


@pytest.fixture
def workspace(tmp_path):
    """Exported text and image models, a hybrid of them registered as champion, posts, labels, ads, captions."""
    text = exported_folder(tmp_path / "text", "text")
    image = exported_folder(tmp_path / "image", "image", size=8)
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "p.png")
    posts = [{"user_id": "u1", "post_id": "1", "text": "golf swing", "image": "p.png", "created_at": "2024-01-01T00:00:00"},
             {"user_id": "u1", "post_id": "2", "text": "golf lake", "image": None, "created_at": "2024-01-02T00:00:00"},
             {"user_id": "u2", "post_id": "3", "text": "cook dinner", "image": "p.png", "created_at": "2024-01-02T00:00:00"}]
    (tmp_path / "posts.jsonl").write_text("\n".join(json.dumps(p) for p in posts) + "\n")
    (tmp_path / "labels.tsv").write_text("user_id\tinterest\nu1\tGolf\nu2\tCooking\n")
    (tmp_path / "ads.yaml").write_text("ads:\n  - {ad_id: clubs, title: Golf clubs, interests: [Golf]}\n")
    (tmp_path / "captions.tsv").write_text("label\ttext\nGolf\tgolf swing\nCooking\tcook dinner\nFishing\tfish lake\n")
    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--text-model", str(text), "--image-model", str(image),
                                     "--ads", str(tmp_path / "ads.yaml"), "--media-root", str(tmp_path)])
    assert built.exit_code == 0, built.output
    return {"root": tmp_path, "text": text, "image": image}


def _fresh(code, args=(), env=None, **kwargs):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "INTERESTKIT_PLUGINS": "", **(env or {})}, **kwargs)


def _assert_tensorflow_free(done):
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stderr, done.stderr[-2000:]


def test_scoring_commands_import_no_tensorflow(workspace):
    root, models = workspace["root"], ["--text-model", workspace["text"], "--image-model", workspace["image"]]
    commands = {
        "recommend": ["recommend", "--posts", root / "posts.jsonl", "--ads", root / "ads.yaml", *models],
        "evaluate": ["evaluate", "--posts", root / "posts.jsonl", "--labels", root / "labels.tsv", *models],
        "test": ["test", "--model", workspace["text"], "--data", root / "captions.tsv"],
        "batch": ["batch", "--engine", "local", "--posts", root / "posts.jsonl", "--out", root / "out", *models],
    }
    for name, args in commands.items():
        done = _fresh(CLI, args)
        _assert_tensorflow_free(done)
        assert done.stdout.strip() or name == "batch", name
    assert "clubs" in _fresh(CLI, commands["recommend"]).stdout
    assert list((root / "out").rglob("*.parquet"))


def test_pyfunc_flavours_load_and_predict_without_tensorflow(workspace, tmp_path):
    from interestkit.tracking.models import pyfunc_uri

    text = pyfunc_uri(str(workspace["text"]), tmp_path / "pyfunc")
    image = pyfunc_uri(str(workspace["image"]), tmp_path / "pyfunc")
    code = REPORT + (
        "import json, mlflow, pandas as pd\n"
        "text = mlflow.pyfunc.load_model(sys.argv[1]).predict(pd.DataFrame({'text': ['golf swing at the lake']}))\n"
        "image = mlflow.pyfunc.load_model(sys.argv[2]).predict(pd.DataFrame({'image': ['p.png']}))\n"
        "posts = [json.loads(line) for line in open(sys.argv[3])]\n"
        "hybrid = mlflow.pyfunc.load_model('models:/interestkit-hybrid@champion').predict(pd.DataFrame(posts))\n"
        "print(json.dumps({'text': text.idxmax(axis=1).tolist(), 'image': image.notna().all(axis=1).tolist(), "
        "'users': hybrid['user_id'].tolist()}))\n")
    done = _fresh(code, [text, image, workspace["root"] / "posts.jsonl"],
                  env={"INTERESTKIT_MEDIA_ROOT": str(workspace["root"])})
    _assert_tensorflow_free(done)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["image"] == [True] and sorted(answer["users"]) == ["u1", "u2"] and len(answer["text"]) == 1


def test_serve_scores_a_request_without_tensorflow(workspace):
    port = free_port()
    env = {**os.environ, "INTERESTKIT_SERVE_TOKEN": TOKEN, "INTERESTKIT_PLUGINS": ""}
    server = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--state", str(workspace["root"] / "state.db"), "--reload-seconds", "0",
                               "--no-access-log", "--media-root", str(workspace["root"])],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        posts = [json.loads(line) for line in (workspace["root"] / "posts.jsonl").read_text().splitlines()]
        status, body = http("POST", f"http://127.0.0.1:{port}/rank", posts,
                            headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and {u["user_id"] for u in body["users"]} == {"u1", "u2"}, body
    finally:
        server.send_signal(signal.SIGINT)  # a clean shutdown, so the exit report runs
        _, stderr = server.communicate(timeout=60)
    assert "LOADED []" in stderr, stderr[-2000:]
