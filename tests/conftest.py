"""Test isolation: no installed third-party plugins, a temporary store and cache per test."""

import gc
import os
import random
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from store_snapshot import empty_store

# Test modules are compiled with their asserts rewritten, which costs about 5 s of CPU a process;
# the compiled copies are cached in __pycache__ even where PYTHONDONTWRITEBYTECODE is set.
sys.dont_write_bytecode = False
os.environ["INTERESTKIT_PLUGINS"] = ""  # built-ins only: the developer's plugins never load
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# the TensorFlow-free stand-in model is a test format, loadable here and in every process a test starts
os.environ["INTERESTKIT_MODEL_FORMATS"] = "fake=interestkit.testing.fakes:FakeInterestModel"
# a Keras model logged by a test gets no ONNX export (tf2onnx and int8 quantisation cost seconds per
# model): the tests of the export and of scoring through it turn it on (INTERESTKIT_EXPORT=1)
os.environ.setdefault("INTERESTKIT_EXPORT", "0")

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
    # its 218 tables and indexes take a page each: with 1 KiB pages the copies are 280 KiB, not 930
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA page_size = 1024")
    connection.execute("VACUUM")
    connection.close()
    return db


@pytest.fixture(scope="session", autouse=True)
def schema_head_read_once():
    """MLflow reads every migration script to learn the newest schema each time it opens a store
    (about 0.1 s); every test opens its own store, and the answer is the same all session."""
    import functools

    from mlflow.store.db import utils

    original = utils._get_latest_schema_revision
    utils._get_latest_schema_revision = functools.cache(original)
    yield
    utils._get_latest_schema_revision = original


@pytest.fixture(autouse=True)
def isolated_store(request, tmp_path_factory, monkeypatch, empty_store_template):
    """Each test gets its own MLflow store and feature cache; plugins are reloaded.

    The store is a copy of the empty template. A fast-tier test gets it when it first opens
    the store (most never do: a thousand copies are 300 MB written, and deleted again by a
    later run); a slow test gets it at once, as another process may open the store first."""
    from interestkit import hooks
    from interestkit.tracking import store

    root = tmp_path_factory.mktemp("store")
    db = root / "registry" / "mlflow.db"
    db.parent.mkdir()
    if request.node.get_closest_marker("slow"):
        empty_store(empty_store_template, db.parent)
    else:
        opened = store._open

        def open_from_template(uri):
            if uri == f"sqlite:///{db.resolve()}" and not db.exists():
                empty_store(empty_store_template, db.parent)
            opened(uri)

        monkeypatch.setattr(store, "_open", open_from_template)
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(root / "registry"))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("INTERESTKIT_EXPORT_CACHE", str(root / "exports"))
    monkeypatch.delenv("INTERESTKIT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    hooks.reset()
    yield root / "registry"
    hooks.reset()
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # exported by mlflow.set_tracking_uri


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests put distributions (``plugin_fixtures.add_distribution``);
    their ``ik_test_*`` modules are forgotten after, and so are stand-ins they planted in
    ``sys.modules`` (a module with no spec, such as a fake ``tensorflow``: a later test of the
    process would import it instead of the real one)."""
    from interestkit import hooks

    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    hooks.reset()
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("ik_test_") or getattr(sys.modules[name], "__spec__", None) is None:
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
    """Real-data tests train on real data: they belong to the slow tier too. So do integration
    tests (a JVM, PostgreSQL, pip, real TensorFlow models, other processes): `pytest -m "not slow"`
    is the fast tier, `pytest -m integration` the integration tier."""
    for item in items:
        if item.get_closest_marker("realdata"):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.slow)


# --- the fast tier stays free of TensorFlow (importing it costs seconds per process) --------------
_TENSORFLOW_FIRST = []


def pytest_collection_finish(session):
    if "tensorflow" in sys.modules:
        _TENSORFLOW_FIRST.append("collecting the tests (a module imports it at its top)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    if not _TENSORFLOW_FIRST and "tensorflow" in sys.modules:
        _TENSORFLOW_FIRST.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, config):
    """Names the first test that imported TensorFlow in a run of the fast tier: mark it
    ``integration`` or give it a fake model."""
    if _TENSORFLOW_FIRST and "not slow" in (config.option.markexpr or ""):
        terminalreporter.write_line(f"fast tier: {_TENSORFLOW_FIRST[0]} imported TensorFlow", yellow=True)


# --- plugins are reloaded for every test: the entry-point scan is cached while nothing changed ----
def _metadata_state():
    """sys.path, and every distribution's metadata folder and entry_points.txt on it, with mtimes."""
    state = []
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        try:
            found = [e for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            state.append((folder, None))
            continue
        for e in found:
            try:
                points = os.stat(os.path.join(e.path, "entry_points.txt")).st_mtime_ns
            except OSError:
                points = None
            state.append((e.path, e.stat().st_mtime_ns, points))
    return tuple(state)


@pytest.fixture(scope="session", autouse=True)
def cached_entry_points():
    """``importlib.metadata.entry_points`` reads every installed distribution's metadata (tens of
    milliseconds); the answer is kept until sys.path or a distribution's metadata on it changes."""
    import importlib.metadata as metadata

    original, cache = metadata.entry_points, {}

    def entry_points(**params):
        key = (tuple(sorted(params.items())), _metadata_state())
        if key not in cache:
            if len(cache) > 64:  # a test added or removed distributions: start again
                cache.clear()
            cache[key] = original(**params)
        return cache[key]

    metadata.entry_points = entry_points
    yield
    metadata.entry_points = original


# --- a quick exit: the last garbage collections would walk every object the tests left ----------
@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """After a thousand tests a worker holds about a million objects, and the interpreter's
    collections at exit would walk them all (seconds, once the tests are over). Frozen, they
    are left for the process's exit to free."""
    gc.freeze()
