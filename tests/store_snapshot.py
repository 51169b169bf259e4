"""Fake models registered once per test process: later tests get a copy of the store.

Logging and registering a model costs about half a second of CPU, and most tests start from
the same fake champions in an empty store. The first test to register a given set of models
does it for real; the store it leaves is kept, and a later test whose store is still empty
gets a copy of it, its paths moved to that test's store folder. A store that already holds
runs is always written for real.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

_KEPT: dict = {}  # key -> (kept store folder, the folder it was written in, the answer)
_ROOT: list = []  # this process's folder of kept stores


def empty_store(template: Path, folder: Path) -> Path:
    """``folder`` (made if missing) with a copy of the empty store ``template`` (conftest's
    ``empty_store_template``) as its ``mlflow.db``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "mlflow.db")
    return folder


def _store_folder() -> Path | None:
    """The test's own store folder, or None where MLFLOW_TRACKING_URI names another store."""
    from interestkit.tracking.store import user_tracking_uri
    from interestkit.settings import store_dir

    return None if user_tracking_uri() else store_dir().resolve()


def _is_empty(folder: Path) -> bool:
    db = folder / "mlflow.db"
    if (folder / "artifacts").exists():
        return False
    if not db.exists():  # a fast-tier test's store before its first use (conftest.isolated_store)
        return folder.is_dir()
    with sqlite3.connect(db) as connection:
        counts = [connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("runs", "registered_models", "experiments")]
    return counts[0] == counts[1] == 0 and counts[2] <= 1  # MLflow's Default experiment only


def _move_paths(folder: Path, old: str, new: str) -> None:
    """Every text column of the sqlite store, and every MLmodel file, naming ``old/`` names ``new/``."""
    old, new = old + "/", new + "/"
    with sqlite3.connect(folder / "mlflow.db") as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in connection.execute(f'PRAGMA table_info("{table}")').fetchall():
                if "CHAR" in column[2].upper() or "TEXT" in column[2].upper():
                    connection.execute(f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                                       f'WHERE instr("{column[1]}", ?) > 0', (old, new, old))
    for mlmodel in (folder / "artifacts").rglob("MLmodel"):
        text = mlmodel.read_text(encoding="utf-8")
        if old in text:
            mlmodel.write_text(text.replace(old, new), encoding="utf-8")


#: where each test's own store and caches are (every test has its own; MLflow exports the URI it
#: was pointed at): not settings a registration depends on, so not part of a kept store's key
WHERE = ("INTERESTKIT_REGISTRY", "INTERESTKIT_CACHE_DIR", "INTERESTKIT_EXPORT_CACHE", "MLFLOW_TRACKING_URI",
         "MLFLOW_REGISTRY_URI")
STATS = {"copied": 0, "written": 0}  # this process's counts, read by the test of this module


def _link_wheels(source, destination):
    """Bundled wheels (400 KiB each, never written in place) are hard links; the rest is copied
    (``_move_paths`` rewrites MLmodel files in place)."""
    if source.endswith(".whl"):
        os.link(source, destination)
        return destination
    return shutil.copy2(source, destination)


def _settings() -> tuple:
    """The settings a registration may read, but where the store and the caches are."""
    return tuple(sorted((k, v) for k, v in os.environ.items()
                        if k.startswith(("INTERESTKIT_", "MLFLOW_")) and k not in WHERE))


def registered_once(key, register):
    """``register()``'s answer; into an empty store, a copy of what it wrote the first time
    with the same ``key`` and settings."""
    from interestkit import quiet

    quiet.prepare()  # the defaults every registration sets first: part of the key from the start
    key = (key, _settings())
    folder = _store_folder()
    empty = folder is not None and _is_empty(folder)
    if empty and key in _KEPT:
        kept, written_in, answer = _KEPT[key]
        shutil.copy(kept / "mlflow.db", folder / "mlflow.db")
        shutil.copytree(kept / "artifacts", folder / "artifacts", copy_function=_link_wheels)
        _move_paths(folder, written_in, str(folder))
        from interestkit.tracking.store import configure

        configure()  # MLflow pointed at this store, as a registration leaves it
        STATS["copied"] += 1
        return dict(answer)
    answer = register()
    STATS["written"] += 1
    if empty:
        if not _ROOT:
            _ROOT.append(Path(tempfile.mkdtemp(prefix="interestkit-kept-stores-")))
            atexit.register(shutil.rmtree, _ROOT[0], True)
        kept = _ROOT[0] / str(len(_KEPT))
        kept.mkdir()
        shutil.copy(folder / "mlflow.db", kept / "mlflow.db")
        shutil.copytree(folder / "artifacts", kept / "artifacts")
        _KEPT[key] = (kept, str(folder), dict(answer))
    return answer
