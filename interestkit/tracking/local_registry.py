"""Registered versions of a local sqlite store, found without importing MLflow.

Importing MLflow and opening its store (SQLAlchemy, the schema check) takes seconds; a
scoring command needs only the folder of one registered version. For a
``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` URI on a local sqlite store (the
default store, or ``MLFLOW_TRACKING_URI=sqlite:///...``), ``find_version`` reads the alias
and the version's artifact location from the database, read-only, with the standard
library's ``sqlite3``, and returns the version's folder when its files are on this machine.

Whatever it cannot answer with certainty (another kind of store, a missing database, a
schema it does not know, a version that is not ready, artefacts elsewhere, a folder that is
not an interestkit text or image model) is ``None``: the caller goes through MLflow, which
gives the same answer, or the error it always gave.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import ModelError
from .registry import parse_model_uri
from .store import tracking_uri

SQLITE = "sqlite:///"
READY = "READY"
DELETED = "Deleted_Internal"  # MLflow's stage for a deleted version


def store_database(uri: str | None = None) -> Path | None:
    """The database file of the configured store when it is a local sqlite file, else None."""
    uri = uri or tracking_uri()
    if not uri.startswith(SQLITE):
        return None
    path = Path(unquote(uri[len(SQLITE):].split("?", 1)[0]))
    return path if path.is_file() else None


def _parse(uri: str):
    try:
        return parse_model_uri(uri)
    except ModelError:
        return None


def _row(database: Path, name: str, alias: str | None, version: int | None):
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        if alias is not None:
            found = connection.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                                       (name, alias)).fetchone()
            if found is None:
                return None
            version = int(found[0])
        return connection.execute("SELECT name, version, run_id, storage_location, source, current_stage, status "
                                  "FROM model_versions WHERE name = ? AND version = ?", (name, version)).fetchone()
    finally:
        connection.close()


def _local_folder(location: str | None) -> Path | None:
    if not location:
        return None
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file") or (parsed.scheme == "file" and parsed.netloc not in ("", "localhost")):
        return None
    return Path(unquote(parsed.path))


def find_version(uri: str) -> tuple[Path, dict] | None:
    """``(model folder, {name, version, run_id})`` of the registered text or image model ``uri``, or
    None when it cannot be found this way (see the module's docstring)."""
    parsed = _parse(uri) if uri.startswith("models:/") else None
    database = store_database() if parsed else None
    if database is None:
        return None
    name, alias, version = parsed
    try:
        row = _row(database, name, alias, version)
    except (sqlite3.Error, ValueError, OSError):  # locked, damaged, or a schema this reader does not know
        return None
    if row is None:
        return None
    name, version, run_id, storage_location, source, stage, status = row
    if status != READY or stage == DELETED:
        return None
    root = _local_folder(storage_location) or _local_folder(source)
    folder = root / "artifacts" / "model" if root else None
    if folder is None or not (root / "MLmodel").is_file():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("modality") not in ("text", "image"):
        return None
    return folder, {"name": name, "version": int(version), "run_id": run_id}
