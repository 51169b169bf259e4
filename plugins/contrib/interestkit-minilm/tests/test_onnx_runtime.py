"""MiniLM without TensorFlow at inference: the recommended caption model, zero-shot caption
models and the embedder score on ONNX Runtime in a fresh process, as TensorFlow does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from interestkit import hooks  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECIPE = Path(__file__).resolve().parents[4] / "configs" / "recommended-text.yaml"
TOPICS = {"Fishing": ["bass", "trout", "the lake", "my new rod", "fly fishing", "the river"],
          "Golf": ["the 18th hole", "my new driver", "a birdie", "the fairway", "the putting green", "a par three"],
          "Baking": ["sourdough bread", "a chocolate cake", "croissants", "the oven", "cinnamon rolls", "a lemon tart"]}
FRAMES = ["Spent the whole morning with {}!", "Can't stop thinking about {}", "{} again today, what a day",
          "Finally tried {} this weekend", "Nothing beats {}"]
CAPTIONS = ["Landed a huge bass at the lake this morning", "Hit a birdie on the 18th hole. Best round ever!",
            "My sourdough finally rose 🍞", "", "Café crème at the fairway, naïve but happy. 東京"]
TAXONOMY = """interests:
  - name: Trail running
    description: Running on mountain and forest trails, trail races and ultramarathons.
  - name: Vegan baking
    description: Baking cakes, bread and pastries without eggs, milk or butter.
  - name: Smart home
    description: Home automation, smart speakers, smart lights and thermostats.
"""
#: what the scoring process prints: its probabilities, its runtime and whether TensorFlow or Keras came in
SCORE = """
import json, sys
from interestkit.modeling.model import load_model
model = load_model(sys.argv[1])
probs = model.predict_texts(json.loads(sys.argv[2]))
print(json.dumps({"probs": probs.tolist(), "runtime": getattr(model, "runtime", "tensorflow"),
                  "heavy": sorted(m for m in ("tensorflow", "keras") if m in sys.modules)}))
"""


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-minilm")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("INTERESTKIT_RUNTIME", raising=False)
    hooks.reset()
    yield
    hooks.reset()


def score_in_a_fresh_process(folder, texts, runtime="auto"):
    env = dict(os.environ, INTERESTKIT_RUNTIME=runtime, INTERESTKIT_PLUGINS="interestkit-minilm")
    out = subprocess.run([sys.executable, "-c", SCORE, str(folder), json.dumps(texts)], capture_output=True,
                         text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def registered_folder(uri):
    from interestkit.tracking.exports import model_root

    return model_root(uri) / "artifacts" / "model"


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def test_the_recommended_caption_model_scores_on_onnx_without_tensorflow(tmp_path):
    from interestkit.app.train import run_training

    data = tmp_path / "captions.tsv"
    rows = [f"{label}\t{frame.format(thing)}" for label, things in TOPICS.items() for thing in things for frame in FRAMES]
    data.write_text("label\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")
    summary = run_training(str(data), config_path=str(RECIPE), overrides={"training": {"epochs": 3}}, log=lambda m: None)
    folder = registered_folder(f"models:/{summary['registered_model']}/{summary['version']}")
    manifest = json.loads((folder / "export" / "manifest.json").read_text())
    assert manifest["tokenizer"]["kind"] == "wordpiece" and manifest["tokenizer"]["max_length"] == 64
    assert manifest["head"] == "head.onnx" and manifest["feature_dim"] == 384

    onnx = score_in_a_fresh_process(folder, CAPTIONS)
    assert onnx["heavy"] == [] and onnx["runtime"] == "onnxruntime-float32"
    keras = score_in_a_fresh_process(folder, CAPTIONS, runtime="tf")
    assert "tensorflow" in keras["heavy"]
    onnx_probs, keras_probs = np.array(onnx["probs"]), np.array(keras["probs"])
    assert np.isnan(onnx_probs[3]).all() and np.isnan(keras_probs[3]).all()  # a blank caption has no score
    kept = [0, 1, 2, 4]
    np.testing.assert_allclose(onnx_probs[kept], keras_probs[kept], atol=1e-4)
    assert onnx_probs[kept].argmax(1).tolist() == keras_probs[kept].argmax(1).tolist()


def test_a_zero_shot_caption_model_carries_the_encoder_export(tmp_path):
    from interestkit.app.examples import gather
    from interestkit.app.zeroshot import build_text, register_built
    from interestkit.taxonomy import load_taxonomy

    path = tmp_path / "interests.yaml"
    path.write_text(TAXONOMY)
    taxonomy = load_taxonomy(path)
    built = build_text(taxonomy, gather(taxonomy), kind="zero-shot", log=lambda m: None)
    registered = register_built(built, taxonomy, [])
    folder = registered_folder(registered["uri"])
    manifest = json.loads((folder / "export" / "manifest.json").read_text())
    assert "head" not in manifest and manifest["tokenizer"]["kind"] == "wordpiece"
    captions = ["Twenty miles of mud and roots up the mountain this morning.",
                "This chocolate cake has no eggs or dairy and nobody noticed!",
                "Set up the voice assistant so it dims the living room lamps."]
    onnx = score_in_a_fresh_process(folder, captions)
    assert onnx["heavy"] == [] and onnx["runtime"] == "onnxruntime-float32"
    keras = score_in_a_fresh_process(folder, captions, runtime="tf")
    assert keras["runtime"] == "tensorflow"
    np.testing.assert_allclose(onnx["probs"], keras["probs"], atol=1e-4)
    assert np.array(onnx["probs"]).argmax(1).tolist() == [0, 1, 2]


def test_the_embedder_embeds_on_onnx_in_a_fresh_process():
    code = ("import json, sys\nfrom interestkit.semantics.embedding import default_embedder\n"
            "vectors = default_embedder('minilm')(json.loads(sys.argv[1]))\n"
            "print(json.dumps({'vectors': vectors.tolist(), "
            "'heavy': sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)}))")
    names = ["golf", "Fishing", "smart home", "vegan baking", "Café", ""]

    def run(runtime):
        env = dict(os.environ, INTERESTKIT_RUNTIME=runtime, INTERESTKIT_PLUGINS="interestkit-minilm")
        out = subprocess.run([sys.executable, "-c", code, json.dumps(names)], capture_output=True, text=True,
                             timeout=900, env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    run("auto")  # the first use on this machine exports the encoder (once, with TensorFlow)
    onnx = run("auto")  # every later process reads the export
    assert onnx["heavy"] == []
    keras = run("tf")
    assert "tensorflow" in keras["heavy"]
    assert cosine(onnx["vectors"], keras["vectors"]).min() > 0.9999



def test_plugins_check_says_what_each_encoder_and_embedder_scores_on():
    import re

    from click.testing import CliRunner

    from interestkit.cli.main import cli

    result = CliRunner().invoke(cli, ["plugins", "--check"])  # exit code: 1 when a plugin imports slowly (load)
    rows = {tuple(re.split(r"\s{2,}|\s*\|\s*", line.strip().strip("|").strip())) for line in result.stdout.splitlines()}
    assert ("encoder", "minilm", "onnxruntime") in rows, result.stdout
    assert ("embedder", "minilm", "onnxruntime") in rows and ("embedder", "glove", "numpy") in rows
    assert ("encoder", "bilstm", "onnxruntime") in rows
