"""Atomic writes: a file or a folder appears whole, or not at all.

Everything is first written next to its destination (same file system), flushed and
fsynced, then renamed into place with ``os.replace``. A killed process leaves at most a
hidden ``.*.tmp`` file or ``.saving-*`` folder, never a half-written destination.
``durable=False`` skips the fsync, for files that can be recomputed and are checked when
read (the feature cache): a killed process still never leaves a half-written file, and
after a power cut such a file may be empty, which its reader treats as missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable

TMP_SUFFIX = ".tmp"


def atomic_write(path, data: bytes | str | Callable[[BinaryIO], None], durable: bool = True) -> Path:
    """Write ``data`` (bytes, UTF-8 text, or a callable given the open file) to ``path``;
    ``durable`` also fsyncs it before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX,
                                     delete=False) as handle:
        try:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
            raise
    try:
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_folder(directory):
    """Yield an empty staging folder; on success it replaces ``directory`` whole."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory.parent))
    try:
        yield staging
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
