"""The MLflow store: where it is, and opening it safely.

Default store: ``./registry/mlflow.db`` (sqlite) with artifacts in ``./registry/artifacts``
(``INTERESTKIT_REGISTRY`` moves the folder; ``MLFLOW_TRACKING_URI`` names another store).
No server is needed.

The first use of a store in a process creates or migrates its tables. Several processes
starting at once on a fresh store would race at that step and leave it half-migrated,
so it runs under a file lock beside the database. A store that cannot be opened (damaged,
or written by an incompatible MLflow version) is a one-line ``ModelError`` naming it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .. import quiet
from ..errors import DataError, ModelError
from ..settings import REGISTRY_ENV, store_dir

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

LOCK_FILE = ".mlflow.lock"
LOCK_TIMEOUT_SECONDS = 300

_SET_BY_US: set = set()  # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; ours is not the user's
_OPENED: set = set()  # stores this process has opened (created or migrated) already


def user_tracking_uri():
    """The user's MLFLOW_TRACKING_URI, or None."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri if uri and uri not in _SET_BY_US else None


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the sqlite store in ``store_dir()``."""
    return user_tracking_uri() or f"sqlite:///{(store_dir() / 'mlflow.db').resolve()}"


def default_artifact_root():
    """Artifacts beside the default store; None (MLflow's choice) for a user's store."""
    if user_tracking_uri():
        return None
    return (store_dir() / "artifacts").resolve().as_uri()


def _lock_path(uri: str) -> Path | None:
    """The lock file of a local sqlite store (None for other stores: their server serialises)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):]).parent / LOCK_FILE


def configure() -> str:
    """Point MLflow at the store and make sure it is usable; returns its URI."""
    quiet.prepare()  # before MLflow first loads: its INFO lines off
    import mlflow

    uri = tracking_uri()
    if not user_tracking_uri():
        try:
            store_dir().mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(f"{store_dir()}: cannot be the store's folder ({error.strerror}); set {REGISTRY_ENV} "
                            "to a folder") from None
        _SET_BY_US.add(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri not in _OPENED:
        _open(uri)
        _OPENED.add(uri)
    return uri


def _open(uri: str) -> None:
    """Create or migrate the store once, under the file lock for a local sqlite store."""
    from filelock import FileLock, Timeout

    lock = _lock_path(uri)
    if lock is None:
        _touch(uri)
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock), timeout=LOCK_TIMEOUT_SECONDS):
            _touch(uri)
    except Timeout:
        raise ModelError(f"{uri}: another process has held {lock} for {LOCK_TIMEOUT_SECONDS} s; "
                         "is a migration stuck? remove the lock file if no interestkit process is running") from None


def _touch(uri: str) -> None:
    """Open the tracking and registry stores (MLflow creates or migrates their tables)."""
    from mlflow import MlflowClient

    try:
        client = MlflowClient(uri, uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    except Exception as error:  # MLflow and SQLAlchemy raise many kinds here
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{uri}: the MLflow store cannot be opened ({first}); it may be damaged or written by "
                         "an incompatible MLflow version: move it away, or set MLFLOW_TRACKING_URI to another "
                         "store") from None


def as_param(value):
    """MLflow params are strings: lists and dicts as JSON, None as ''."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) else value


def experiment_id(name: str) -> str:
    """The id of experiment ``name``, created (with artifacts beside the store) if missing."""
    from mlflow import MlflowClient

    configure()
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = default_artifact_root()
    location = f"{root}/{name}" if root else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by another process
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
