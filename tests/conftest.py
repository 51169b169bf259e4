"""Test isolation: no installed third-party plugins, a temporary store and cache per test."""

import os
import random
import sys
from pathlib import Path

import pytest

os.environ["INTERESTKIT_PLUGINS"] = ""  # built-ins only: the developer's plugins never load
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# the TensorFlow-free stand-in model is a test format, loadable here and in every process a test starts
os.environ["INTERESTKIT_MODEL_FORMATS"] = "fake=interestkit.testing.fakes:FakeInterestModel"

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: the worked-example distributions: installed by the tests that use them, never collected
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="session")
def empty_store_template(tmp_path_factory):
    """An MLflow sqlite store with its tables created once: each test starts from a copy
    (creating the tables takes about a second, and most tests touch a store)."""
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(uri, uri)
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)
    return db


@pytest.fixture(autouse=True)
def isolated_store(tmp_path_factory, monkeypatch, empty_store_template):
    """Each test gets its own MLflow store and feature cache; plugins are reloaded."""
    import shutil

    from interestkit import hooks

    root = tmp_path_factory.mktemp("store")
    (root / "registry").mkdir()
    shutil.copy(empty_store_template, root / "registry" / "mlflow.db")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(root / "registry"))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(root / "cache"))
    monkeypatch.delenv("INTERESTKIT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    hooks.reset()
    yield root / "registry"
    hooks.reset()
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # exported by mlflow.set_tracking_uri


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests put distributions (``plugin_fixtures.add_distribution``);
    their ``ik_test_*`` modules are forgotten after."""
    from interestkit import hooks

    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    hooks.reset()
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("ik_test_"):
            del sys.modules[name]
    hooks.reset()


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


def pytest_collection_modifyitems(items):
    """Real-data tests train on real data: they belong to the slow tier too."""
    for item in items:
        if item.get_closest_marker("realdata"):
            item.add_marker(pytest.mark.slow)
