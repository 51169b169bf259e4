"""On-disk cache of features computed by frozen encoders.

Layout under the root::

    <encoder_key[:16]>/identity.json                      what the encoder is
    <encoder_key[:16]>/<hash[:2]>/<hash>.npy              one float32 feature array

Every file is written atomically (``interestkit.atomic``): a killed process leaves at
most an orphan ``*.tmp`` file (never read, removed by ``clear()``), never a half-written
entry. An entry that cannot be read is a miss: it is deleted and recomputed. Entries are
not fsynced (``durable=False``): one file per caption or photo, and an fsync each made
encoding 50,000 captions wait on the disk far longer than on the encoder; an entry a
power cut leaves empty is such a miss.
``features()`` is the one way features go through the cache (``modeling.features``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from .. import settings
from ..atomic import atomic_write
from ..errors import DataError

IDENTITY_FILE = "identity.json"

_HEX = re.compile(r"[0-9a-f]{16,128}")
_ENCODER_DIR = re.compile(r"[0-9a-f]{16}")


def _check_hex(value, what: str) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError(f"feature cache: {what} must be 16-128 lowercase hex digits, "
                         f"got {value!r}")
    return value


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False


class FeatureCache:
    """Features of frozen encoders on disk, keyed by encoder identity and content hash.

    ``FeatureCache(root=None)`` uses ``settings.cache_root()``. With ``enabled=False`` nothing is
    read or written and ``features`` always computes. ``misses`` counts the rows computed,
    ``hits`` the rows that were not (read from disk, or a hash repeated in the batch).
    """

    def __init__(self, root: Path | str | None = None, enabled: bool = True):
        self.root = settings.cache_root() if root is None else Path(os.path.expanduser(str(root)))
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root}: is a file, expected the feature cache's folder")
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    # -- keys and paths -------------------------------------------------------------

    @staticmethod
    def encoder_key(identity: dict) -> str:
        """Hex SHA-256 of the canonical JSON (sorted keys) of an encoder identity dict."""
        try:
            text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"feature cache: encoder identity must be plain JSON data: "
                            f"{exc}") from None
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def _encoder_dir(self, encoder_key: str) -> Path:
        return self.root / _check_hex(encoder_key, "encoder key")[:16]

    def _entry_path(self, encoder_key: str, content_hash: str) -> Path:
        content_hash = _check_hex(content_hash, "content hash")
        return self._encoder_dir(encoder_key) / content_hash[:2] / f"{content_hash}.npy"

    def register(self, identity: dict) -> str:
        """Return the encoder key of ``identity``; write its ``identity.json`` if missing."""
        key = self.encoder_key(identity)
        path = self._encoder_dir(key) / IDENTITY_FILE
        if self.enabled and not path.is_file():
            text = json.dumps({"encoder_key": key, "identity": identity}, sort_keys=True, indent=2)
            atomic_write(path, text + "\n")
        return key

    # -- single entries -------------------------------------------------------------

    def _load(self, path: Path) -> np.ndarray | None:
        """Read one entry; a missing one is None, a broken one is deleted and None."""
        try:
            array = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except Exception:  # truncated, garbage, a folder, unreadable: all a miss
            _unlink(path)
            return None
        if not isinstance(array, np.ndarray) or array.dtype != np.float32 or array.ndim == 0:
            _unlink(path)
            return None
        return array

    def get(self, encoder_key: str, content_hash: str) -> np.ndarray | None:
        """The cached features, or None (miss, disabled cache, or a broken entry)."""
        path = self._entry_path(encoder_key, content_hash)
        array = self._load(path) if self.enabled else None
        if array is None:
            self.misses += 1
        else:
            self.hits += 1
        return array

    def put(self, encoder_key: str, content_hash: str, features) -> None:
        """Store ``features`` as float32, atomically. Does nothing when disabled."""
        path = self._entry_path(encoder_key, content_hash)
        if not self.enabled:
            return
        array = np.ascontiguousarray(features, dtype=np.float32)
        atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False), durable=False)

    # -- batches --------------------------------------------------------------------

    def features(self, encoder_key: str, hashes, compute) -> np.ndarray:
        """Features for every hash, in order, computing only the misses.

        ``compute(indices)`` gets the indices (into ``hashes``, ascending) of the rows to
        compute and returns an array with one row per index; it is called at most once.
        A hash repeated in ``hashes`` is computed once. A computed row that is not finite
        (an input that could not be read) is returned but never stored. Returns
        ``(n, ...)`` float32 (``(0, 0)`` for no hashes). A failed write (read-only or full
        disk) warns once and the batch goes on uncached.
        """
        hashes = list(hashes)
        if not hashes:
            return np.empty((0, 0), dtype=np.float32)
        if not self.enabled:
            self.misses += len(hashes)
            return self._computed(compute, list(range(len(hashes))))
        rows = self._drop_odd_shapes(
            [self._load(self._entry_path(encoder_key, h)) for h in hashes], encoder_key, hashes)
        first: dict[str, int] = {}
        todo = []
        for index, (digest, row) in enumerate(zip(hashes, rows)):
            if row is None and digest not in first:
                todo.append(index)
            first.setdefault(digest, index)
        self.misses += len(todo)
        self.hits += len(hashes) - len(todo)
        if todo:
            writable = True
            for index, row in zip(todo, self._computed(compute, todo)):
                rows[index] = row
                if writable and np.all(np.isfinite(row)):
                    writable = self._put_quietly(encoder_key, hashes[index], row)
        rows = [rows[first[h]] if row is None else row for h, row in zip(hashes, rows)]
        return np.stack(rows)

    def _drop_odd_shapes(self, rows, encoder_key, hashes):
        """Entries whose shape differs from the most common one are broken: drop them."""
        shapes = Counter(row.shape for row in rows if row is not None)
        if len(shapes) < 2:
            return rows
        common = shapes.most_common(1)[0][0]
        for index, row in enumerate(rows):
            if row is not None and row.shape != common:
                _unlink(self._entry_path(encoder_key, hashes[index]))
                rows[index] = None
        return rows

    @staticmethod
    def _computed(compute, indices) -> np.ndarray:
        result = np.asarray(compute(indices), dtype=np.float32)
        if result.ndim < 1 or result.shape[0] != len(indices):
            raise ValueError(f"feature cache: compute() returned shape {result.shape} "
                             f"for {len(indices)} inputs; expected one row per input")
        return result

    def _put_quietly(self, encoder_key, content_hash, row) -> bool:
        """Store one row; on an OSError warn and return False (the batch stops writing)."""
        try:
            self.put(encoder_key, content_hash, row)
        except OSError as exc:
            warnings.warn(f"feature cache: cannot write under {self.root}: {exc}", stacklevel=3)
            return False
        return True

    # -- housekeeping ---------------------------------------------------------------

    def _encoder_dirs(self):
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir()
                      if p.is_dir() and _ENCODER_DIR.fullmatch(p.name))

    @staticmethod
    def _entries(encoder_dir: Path):
        return [p for p in encoder_dir.glob("??/*.npy") if p.is_file()]

    @staticmethod
    def _read_identity(encoder_dir: Path):
        try:
            return json.loads((encoder_dir / IDENTITY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def info(self) -> dict:
        """Root, encoder/entry counts, total bytes; per encoder: entries, bytes, identity."""
        per_encoder, entries, total = {}, 0, 0
        for encoder_dir in self._encoder_dirs():
            files = self._entries(encoder_dir)
            size = sum(p.stat().st_size for p in encoder_dir.rglob("*") if p.is_file())
            per_encoder[encoder_dir.name] = {"entries": len(files), "bytes": size,
                                             "identity": self._read_identity(encoder_dir)}
            entries += len(files)
            total += size
        return {"root": str(self.root), "encoders": len(per_encoder), "entries": entries,
                "bytes": total, "per_encoder": per_encoder}

    def clear(self, encoder_key: str | None = None) -> int:
        """Delete one encoder's folder (key or 16-digit prefix), or all; return entries removed.

        Only folders named like encoder keys are touched, so a mistaken root loses nothing
        else. Stray ``*.tmp`` files go with their folder.
        """
        if encoder_key is None:
            dirs = self._encoder_dirs()
        else:
            dirs = [d for d in [self._encoder_dir(encoder_key)] if d.is_dir()]
        removed = 0
        for encoder_dir in dirs:
            removed += len(self._entries(encoder_dir))
            shutil.rmtree(encoder_dir, ignore_errors=True)
        return removed
