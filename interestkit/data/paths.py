"""The path policy: which image paths a file or a request may name.

Image paths resolve against a media root: the posts file's folder on the command line,
``--media-root`` for a server or a served model, the table's folder for an image table.
Absolute paths, ``..`` and links that lead out of the root are refused. Only whoever
starts the process widens the policy (``allow_outside``, set from a flag or from a
model's build-time config); nothing in a request can.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

#: how whoever starts a server or a served model lets it read image paths (for refusals' messages)
SERVED_HINT = ("a server reads photo paths only under its media root: interestkit serve --media-root DIR, "
               "or INTERESTKIT_MEDIA_ROOT=DIR for a served model")
MAX_PATH_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class MediaPolicy:
    """Image paths must lie inside ``root``, unless ``allow_outside``.

    ``root=None`` accepts no path at all (photos must come inline: ``inline`` names the
    column that takes a photo's bytes where this policy applies). ``hint`` is added to
    refusals: how the person running the command may widen the policy.
    """

    root: Path | None = None
    allow_outside: bool = False
    hint: str = ""
    inline: str = "image_b64"

    def __post_init__(self):
        if self.root is not None:
            object.__setattr__(self, "root", Path(self.root))

    def resolve(self, value: str, where: str) -> Path:
        """The file ``value`` names; ``DataError`` (naming ``where``) if the policy refuses it, or if
        it is no legal path at all (empty, a NUL or other control character, not encodable)."""
        _check_legal(value, where)
        candidate = Path(value)
        if self.allow_outside:
            return candidate if candidate.is_absolute() or self.root is None else self.root / candidate
        if self.root is None:
            raise DataError(f"{where}: file paths are not accepted here (got {value!r}); send the photo inline "
                            f"({self.inline} or a data:image/...;base64 URI) ({self.hint or SERVED_HINT})")
        if candidate.is_absolute() or ".." in candidate.parts:
            raise DataError(f"{where} must be a path inside {self.root} (got {value!r}); absolute paths and '..' "
                            f"are refused{self._hint()}")
        path = self.root / candidate
        try:
            inside = path.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError, ValueError):  # a link loop, a name too long: nothing to read anyway
            inside = True
        if not inside:
            raise DataError(f"{where}: {value!r} leads out of {self.root} through a link; refused{self._hint()}")
        return path

    def _hint(self) -> str:
        return f" ({self.hint})" if self.hint else ""

    def describe(self) -> dict:
        return {"media_root": str(self.root) if self.root is not None else None, "allow_outside": self.allow_outside}


def _check_legal(value, where: str) -> None:
    """DataError unless ``value`` can name a file on this system."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: expected a file path, got {value!r}")
    if len(value) > MAX_PATH_CHARS:
        raise DataError(f"{where}: the path is {len(value)} characters, longer than {MAX_PATH_CHARS}")
    bad = _CONTROL.search(value)
    if bad:
        name = "a NUL byte" if bad.group() == "\x00" else f"the control character {bad.group()!r}"
        raise DataError(f"{where}: the path {value!r} contains {name}; expected a file path")
    try:
        os.fsencode(value)
    except UnicodeError:
        raise DataError(f"{where}: the path {value!r} has characters no file name here can have "
                        "(not encodable); expected a file path") from None


def broken_link(path) -> str | None:
    """What is wrong with ``path`` if it is a symbolic link that leads nowhere: a loop, or
    a missing target; None for anything else."""
    path = Path(path)
    if not path.is_symlink() or path.exists():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link loop"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
    return "a symbolic link to a missing file"
