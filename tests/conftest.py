"""Test isolation: no installed third-party plugins, a temporary store and cache per test."""

import os
import random
from pathlib import Path

import pytest

os.environ["INTERESTKIT_PLUGINS"] = ""  # built-ins only: the developer's plugins never load
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path_factory, monkeypatch):
    """Each test gets its own MLflow store and feature cache; plugins are reloaded."""
    from interestkit import plugins

    root = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(root / "registry"))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(root / "cache"))
    monkeypatch.delenv("INTERESTKIT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    plugins.reset()
    yield root / "registry"
    plugins.reset()
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # exported by mlflow.set_tracking_uri


WORDS = {
    "Golf": "golf club swing green par birdie tee fairway putt course",
    "Cooking": "pasta sauce recipe bake oven dinner garlic chef kitchen",
    "Pets": "dog cat puppy kitten vet leash fur paw adopted",
}


def write_captions(path, per_label=30, labels=("Golf", "Cooking", "Pets"), seed=0):
    """A tiny, learnable captions table (labels' own words plus shared filler)."""
    rng = random.Random(seed)
    lines = ["label\ttext"]
    for label in labels:
        words = WORDS[label].split()
        for _ in range(per_label):
            lines.append(f"{label}\t{' '.join(rng.choices(words, k=4))} with friends. What a day!")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


@pytest.fixture
def captions(tmp_path):
    return write_captions(tmp_path / "captions.tsv")


def require_shared(*parts):
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present ({path})")
    return path
