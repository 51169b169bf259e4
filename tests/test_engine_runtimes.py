"""Every engine scores through the export where a model has one: the local batch, `serve`'s
micro-batches, and the model a Spark worker loads (one intra-op thread per task there).

The Spark engine itself is checked in tests/test_spark.py (a JVM: the integration tier)."""

import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from batch_support import assert_same, from_parquet, invoke, ranked
from interestkit.ranking.bundle import load_bundle, save_bundle
from interestkit.ranking.pipeline import RankingOptions, RankingPipeline
from interestkit.runtime.onnx_model import ExportedModel
from interestkit.serve.app import create_app
from interestkit.serve.service import InterestService
from interestkit.tracking import pyfunc
from runtime_support import exported_folder


@pytest.fixture
def exported(tmp_path):
    return {"text": exported_folder(tmp_path / "text", "text"), "image": exported_folder(tmp_path / "image", "image")}


def _posts(tmp_path):
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "red.png")
    Image.new("RGB", (20, 20), (20, 30, 220)).save(tmp_path / "blue.png")
    rows = [{"user_id": f"u{u}", "post_id": f"{u}-{i}", "text": ["golf swing", "cook dinner", None][(u + i) % 3],
             "image": ["red.png", None, "blue.png"][(u * 2 + i) % 3] if (u + i) % 3 != 2 else "red.png", "created_at": f"2024-01-{i + 1:02d}T00:00:00"}
            for u in range(3) for i in range(5)]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_local_batch_scores_through_the_export_and_says_so(exported, tmp_path):
    posts = _posts(tmp_path)
    models = ["--text-model", exported["text"], "--image-model", exported["image"]]
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "local", *models)
    assert result.exit_code == 0, result.output
    assert "text model:" in result.stderr and "on onnxruntime-float32" in result.stderr
    assert sum("on onnxruntime-float32" in line for line in result.stderr.splitlines()) == 2
    # the folders have no Keras files: only the export can have scored
    assert not list(exported["image"].glob("*.keras")) and not list(exported["text"].glob("*.keras"))
    assert_same(ranked(posts, *models), from_parquet(tmp_path / "out"), "batch --engine local on the export")


def test_serve_micro_batches_run_on_the_export_and_health_says_so(exported, tmp_path):
    pipeline = RankingPipeline({m: ExportedModel.load(f) for m, f in exported.items()},
                               options=RankingOptions(last=5))
    hybrid = load_bundle(save_bundle(pipeline, tmp_path / "hybrid"))  # as build-hybrid writes it and serve loads it
    service = InterestService(lambda: (hybrid, {"name": "hybrid", "version": 1}), tmp_path / "serve.db")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "PNG")
    photo = base64.b64encode(buffer.getvalue()).decode()
    with TestClient(create_app(service, None)) as client:
        health = client.get("/health").json()
        assert {m: d["runtime"] for m, d in health["pipeline"]["models"].items()} == \
            {"text": "onnxruntime-float32", "image": "onnxruntime-float32"}
        answer = client.post("/users/u1/posts", json=[
            {"post_id": "1", "text": "golf swing", "image_b64": photo, "created_at": "2024-01-01T00:00:00"},
            {"post_id": "2", "text": "cook dinner", "created_at": "2024-01-02T00:00:00"}])
        assert answer.status_code == 200, answer.text
        assert sorted(answer.json()["window"]) == ["1", "2"] and answer.json()["interests"]


def test_a_spark_worker_loads_each_runtime_and_thread_count_once_and_logs_it(exported, monkeypatch, capsys):
    monkeypatch.setattr(pyfunc, "_LOADED", {})
    monkeypatch.setenv("INTERESTKIT_ONNX_THREADS", "1")
    first = pyfunc._cached_model(exported["image"])
    assert pyfunc._cached_model(exported["image"]) is first
    assert first.encoder.session.get_session_options().intra_op_num_threads == 1
    line = capsys.readouterr().err.strip()
    assert line.endswith("image model on onnxruntime-float32, intra-op threads: 1, "
                         f"tensorflow {'imported' if 'tensorflow' in __import__('sys').modules else 'not imported'}")
    monkeypatch.setenv("INTERESTKIT_ONNX_THREADS", "2")
    second = pyfunc._cached_model(exported["image"])
    assert second is not first and second.encoder.session.get_session_options().intra_op_num_threads == 2
    assert "intra-op threads: 2" in capsys.readouterr().err
