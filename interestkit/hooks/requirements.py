"""What a saved model needs where it loads: the distributions it recorded, and which are missing.

A model records the distributions that provided its encoder and head (``meta.json``:
``plugin_package``, ``plugin_package_version``, ``classifier_package``, ...), and a hybrid
the one that provided its fusion (``pipeline.json``: ``fusion.package``). When loading
fails, ``missing(needs)`` says, for each such distribution that is not installed here or
not allowed by INTERESTKIT_PLUGINS, what to do about it, so the error names what to
install instead of suggesting to train a model that exists.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass

from .. import settings
from .manager import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, KERAS_OBJECTS_GROUP, allow_list, normalize


@dataclass(frozen=True)
class Need:
    """``what`` (e.g. "encoder 'cnn_text'") comes from distribution ``package`` at ``version``."""

    what: str
    package: str
    version: str = ""

    @property
    def known_version(self) -> bool:
        return bool(self.version) and self.version != "unknown"

    @property
    def requirement(self) -> str:
        """What pip installs: ``package==version`` when the version is known."""
        return f"{self.package}=={self.version}" if self.known_version else self.package

    @property
    def label(self) -> str:
        return f"{self.package} {self.version}" if self.known_version else self.package


def installed_version(package: str) -> str | None:
    """The installed version of distribution ``package``, or None when it is not installed."""
    try:
        return importlib.metadata.distribution(package).version
    except importlib.metadata.PackageNotFoundError:
        return None


def is_allowed(package: str) -> bool:
    """True unless INTERESTKIT_PLUGINS is set and leaves out every entry point of ``package``."""
    names = allow_list()
    if names is None or normalize(package) in (names | {BUILTIN_DISTRIBUTION}):
        return True
    for group in (ENTRY_POINT_GROUP, KERAS_OBJECTS_GROUP):
        for ep in importlib.metadata.entry_points(group=group):
            if ep.dist is not None and normalize(ep.dist.name) == normalize(package) and normalize(ep.name) in names:
                return True
    return False


def _allow_hint(package: str) -> str:
    current = os.environ.get(settings.PLUGINS_ENV, "")
    wanted = ",".join([n for n in current.split(",") if n.strip()] + [package])
    return f"it is installed but {settings.PLUGINS_ENV}={current!r} leaves it out: set {settings.PLUGINS_ENV}={wanted}"


def problem_of(need: Need) -> str | None:
    """Why ``need`` is not met here (not installed, not allowed), or None when it is."""
    if not need.package or normalize(need.package) == BUILTIN_DISTRIBUTION:
        return None
    if installed_version(need.package) is None:
        return f"{need.what} comes from {need.label}, which is not installed here: pip install '{need.requirement}'"
    if not is_allowed(need.package):
        return f"{need.what} comes from {need.label}; {_allow_hint(need.package)}"
    return None


def missing(needs) -> list[str]:
    """One phrase per unmet need (see ``problem_of``)."""
    return [found for need in needs if (found := problem_of(need))]


def version_notes(needs) -> list[str]:
    """Needs met by another version than the recorded one (worth saying when loading fails)."""
    notes = []
    for need in needs:
        have = installed_version(need.package) if need.package else None
        if have and need.known_version and have != need.version and normalize(need.package) != BUILTIN_DISTRIBUTION:
            notes.append(f"{need.what} was saved with {need.package} {need.version}, {have} is installed")
    return notes


def model_needs(meta: dict) -> list[Need]:
    """The distributions a model folder's ``meta.json`` recorded for its encoder and head."""
    needs = []
    for role, name_key, prefix in (("encoder", "plugin", "plugin_package"), ("classifier", "classifier",
                                                                              "classifier_package")):
        package = meta.get(prefix)
        if package:
            needs.append(Need(f"{role} {meta.get(name_key) or '?'!r}", package, str(meta.get(f"{prefix}_version") or "")))
    return needs
