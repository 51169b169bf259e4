"""Zero-shot captions with MiniLM: interests described in a taxonomy file rank captions about them first."""

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from interestkit import hooks  # noqa: E402
from interestkit.app.examples import gather  # noqa: E402
from interestkit.app.zeroshot import build_text  # noqa: E402
from interestkit.modeling.model import load_model  # noqa: E402
from interestkit.taxonomy import load_taxonomy  # noqa: E402

TAXONOMY = """interests:
  - name: Trail running
    description: Running on mountain and forest trails, trail races and ultramarathons.
    keywords: [trail run, ultramarathon]
  - name: Vegan baking
    description: Baking cakes, bread and pastries without eggs, milk or butter.
    keywords: [vegan cake, dairy-free]
  - name: Smart home
    description: Home automation, smart speakers, smart lights and thermostats.
    examples: [Alexa now turns the lights off when I leave., My thermostat learned my schedule.]
"""
CAPTIONS = {"Trail running": "Twenty miles of mud and roots up the mountain this morning.",
            "Vegan baking": "This chocolate cake has no eggs or dairy and nobody noticed!",
            "Smart home": "Set up the voice assistant so it dims the living room lamps."}


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-minilm")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    hooks.reset()
    yield
    hooks.reset()


def test_zero_shot_and_few_shot_text_rank_the_described_interest_first(tmp_path):
    path = tmp_path / "interests.yaml"
    path.write_text(TAXONOMY)
    taxonomy = load_taxonomy(path)
    built = build_text(taxonomy, gather(taxonomy), kind="zero-shot", log=lambda m: None)
    model = built.model
    assert built.fitted.kind == "zero-shot" and model.reference["package"] == "interestkit-minilm"
    probs = model.predict_texts(list(CAPTIONS.values()))
    assert [model.labels[i] for i in probs.argmax(axis=1)] == list(CAPTIONS)
    assert built.fitted.examples == 2 and built.fitted.metrics["examples_top1"] == 1.0  # calibrated on those 2
    loaded = load_model(model.save(tmp_path / "model"))  # a small folder: vectors + an encoder reference
    assert sum(f.stat().st_size for f in (tmp_path / "model").iterdir()) < 100_000
    assert np.allclose(loaded.predict_texts(list(CAPTIONS.values())), probs, atol=1e-5)
    few = build_text(taxonomy, gather(taxonomy), log=lambda m: None)
    assert few.fitted.kind == "few-shot" and few.fitted.examples == 2
