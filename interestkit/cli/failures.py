"""The CLI's last line of defence: an exception nobody turned into an ``InterestkitError``
becomes one line saying what failed and where, with an exit code (docs/errors.md).

Library exceptions (Keras, TensorFlow, MLflow, numpy, ...) name the library, the
exception and the innermost interestkit (or plugin) frame; OS errors name the file and
the system's reason. ``--debug`` (or ``INTERESTKIT_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import traceback
from pathlib import Path

#: exit codes (docs/errors.md)
OK, INTERNAL, DATA, USAGE, INTERRUPTED, TERMINATED = 0, 1, 2, 64, 130, 143

#: top-level module of an exception's class -> what to call it in a message
LIBRARIES = {"keras": "Keras", "tensorflow": "TensorFlow", "tf_keras": "Keras", "mlflow": "MLflow",
             "numpy": "numpy", "pandas": "pandas", "sqlalchemy": "the MLflow store (SQLAlchemy)", "PIL": "Pillow",
             "yaml": "YAML", "pyarrow": "pyarrow", "google": "protobuf", "h5py": "h5py", "sklearn": "scikit-learn",
             "pluggy": "the plugin manager"}
_LONGEST = 300


def one_line(text) -> str:
    """``text`` on one line, at most ``_LONGEST`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _LONGEST else flat[: _LONGEST - 3] + "..."


def _own_parts(filename: str) -> list[str] | None:
    """The path from interestkit's (or a built-in or ``interestkit*`` plugin's) folder on,
    or None for a frame of another library or of Python."""
    parts = list(Path(filename).parts)
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            parts = parts[len(parts) - parts[::-1].index(marker):]
    folders = [i for i, part in enumerate(parts[:-1]) if part.startswith("interestkit") or part == "plugins"]
    return parts[folders[-1]:] if folders else None


def where(error: BaseException) -> str:
    """``file:line in function`` of the innermost frame of interestkit or a plugin (else
    the innermost frame at all); '' without a traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [(f, _own_parts(f.filename)) for f in frames if _own_parts(f.filename)]
    if own:
        frame, parts = own[-1]
        return f"{'/'.join(parts)}:{frame.lineno} in {frame.name}"
    if not frames:
        return ""
    return f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"


def describe(error: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) for an exception the library did not translate."""
    at = where(error)
    place = f" (at {at})" if at else ""
    if isinstance(error, OSError):
        target = " -> ".join(str(name) for name in (error.filename, error.filename2) if name)
        reason = error.strerror or one_line(error) or type(error).__name__
        subject = f"{target}: " if target else ""
        return f"{subject}{reason} ({type(error).__name__}{', at ' + at if at else ''})", DATA
    if isinstance(error, MemoryError):
        return f"out of memory{place}; try a smaller batch_size, image_size or max_rows", INTERNAL
    library = LIBRARIES.get(type(error).__module__.split(".")[0])
    what = f"{library} failed" if library else "unexpected internal error"
    message = one_line(error)
    return f"{what}: {type(error).__name__}{': ' + message if message else ''}{place}", INTERNAL


def traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
