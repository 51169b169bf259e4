"""Plugin manager: loads built-in and installed plugins, and reports what is wrong with them.

Every plugin, built-in or third-party, is found through the ``interestkit`` entry-point
group. The built-ins (``interestkit_plugins.*``, shipped in this wheel from ``plugins/``)
are the entry points of the ``interestkit`` distribution itself: core never imports them.

A plugin whose saved models use custom Keras layers also declares the module that
registers them in the ``interestkit.keras_objects`` group; ``import_keras_objects()``
imports those modules before a model is loaded (TensorFlow is never imported just to
list plugins).

A plugin that cannot be used (it fails to import, implements a hook under a misspelt
name, registers something that is not a class of the right interface, takes a name
another plugin took) is a ``Problem``: one line naming the plugin, its distribution and
what is wrong. Normally each problem is a warning on stderr, printed once, and only what
it concerns is left out; in strict mode it is a ``PluginError``.

Environment:
  INTERESTKIT_PLUGINS  comma-separated allow-list of third-party plugins (entry-point or
                       distribution names); set but empty: built-ins only; unset: all.
  INTERESTKIT_STRICT_PLUGINS=1  a plugin problem is an error, not a warning.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import pluggy

from .. import settings
from ..errors import PluginError, suggest
from . import specs, validation

BUILTIN_DISTRIBUTION = "interestkit"
ENTRY_POINT_GROUP = "interestkit"
KERAS_OBJECTS_GROUP = "interestkit.keras_objects"
STRICT_HINT = "strict mode: fix the plugin, uninstall it or leave it out of INTERESTKIT_PLUGINS"

_pm = None
_problems: list["Problem"] = []
_lenient = [False]


@dataclass(frozen=True)
class Problem:
    """Something wrong with a plugin: who (``subject``), what, and its effect in normal mode."""

    subject: str  # "plugin 'x' (interestkit-x 1.0)" or "fusion 'y' from plugin 'x' (interestkit-x 1.0)"
    what: str
    effect: str = "skipped"  # what normal mode does about it ("" for a plain warning)
    plugin: str = ""
    failed: bool = False  # the plugin itself could not be loaded

    def warning(self) -> str:
        return f"{self.subject}: {self.what}" + (f"; {self.effect}" if self.effect else "")

    def error(self) -> str:
        return f"{self.subject}: {self.what} ({STRICT_HINT})"


def one_line(error: BaseException | str) -> str:
    """An exception (or text) as one line: ``Type: message`` with whitespace collapsed."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return " ".join(str(text).split())


def strict_mode() -> bool:
    return settings.env_flag(settings.STRICT_PLUGINS_ENV)


def report(problem: Problem) -> Problem:
    """Record ``problem``, and warn about it once (not in strict mode: ``enforce_strict`` raises)."""
    if problem not in _problems:
        _problems.append(problem)
        if not strict_mode():
            print(f"warning: {problem.warning()}", file=sys.stderr)
    return problem


@contextmanager
def lenient():
    """``enforce_strict`` does not raise inside: to list every problem first, even in strict mode."""
    previous, _lenient[0] = _lenient[0], True
    try:
        yield
    finally:
        _lenient[0] = previous


def problems() -> list[Problem]:
    """Every problem reported since the plugins were loaded."""
    return list(_problems)


def enforce_strict(found=None) -> None:
    """In strict mode, a PluginError for the problems found (default: every one reported)."""
    found = problems() if found is None else found
    if strict_mode() and found and not _lenient[0]:
        more = f"; and {len(found) - 1} more (see 'interestkit plugins')" if len(found) > 1 else ""
        raise PluginError(found[0].error() + more)


def broken_plugins():
    """[(name, message)] for plugins that failed to load and were left out."""
    get_plugin_manager()
    return [(p.plugin, p.warning()) for p in _problems if p.failed]


@functools.lru_cache(maxsize=256)
def _name_and_version(dist) -> tuple[str, str]:
    """A distribution's (name, version): its METADATA is parsed once here, where every ``dist.name``
    and ``dist.version`` would parse it again (several times per entry point while plugins load)."""
    metadata = dist.metadata
    return metadata["Name"], metadata["Version"] or "unknown"


def _dist_of(ep):
    """(distribution name, version) that provides entry point ``ep``."""
    if ep.dist is None:
        return ep.name, "unknown"
    return _name_and_version(ep.dist)


def normalize(name: str) -> str:
    """Distribution names compare like pip compares them: case and - _ . do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def allow_list():
    """The names in INTERESTKIT_PLUGINS (normalised), or None when it is unset."""
    allow = os.environ.get(settings.PLUGINS_ENV)
    if allow is None:
        return None
    return {normalize(n.strip()) for n in allow.split(",") if n.strip()}


def is_builtin(ep) -> bool:
    """True for the entry points of interestkit itself (the built-in plugins)."""
    return ep.dist is not None and normalize(_dist_of(ep)[0]) == BUILTIN_DISTRIBUTION


def _allowed(ep, names):
    if names is None or is_builtin(ep):
        return True
    return normalize(ep.name) in names or (ep.dist is not None and normalize(_dist_of(ep)[0]) in names)


def entry_points(group=ENTRY_POINT_GROUP) -> list:
    """The allowed entry points of ``group``: built-ins first, then the others by name."""
    names = allow_list()
    found = sorted(importlib.metadata.entry_points(group=group), key=lambda ep: (not is_builtin(ep), ep.name))
    return [ep for ep in found if _allowed(ep, names)]


def _warn_unknown_allowed(names, eps):
    """Warn about allow-list names that match no installed plugin (a typo loads nothing)."""
    eps = [ep for ep in eps if not is_builtin(ep)]
    known = {normalize(ep.name) for ep in eps} | {normalize(_dist_of(ep)[0]) for ep in eps if ep.dist is not None}
    for name in sorted((names or set()) - known):
        print(f"warning: INTERESTKIT_PLUGINS names {name!r}, which no installed plugin provides"
              f"{suggest(name, known)}", file=sys.stderr)


def _plugin_name(pm, ep):
    """The entry point's name, qualified by its distribution when another one took it."""
    if not pm.has_plugin(ep.name):
        return ep.name
    return f"{_dist_of(ep)[0]}:{ep.name}"


def describe_plugin(pm, name: str) -> str:
    """``plugin 'NAME' (DISTRIBUTION VERSION)``: how messages name a plugin."""
    return plugin_words(name, *distribution_of(pm, name))


def plugin_words(name: str, package: str, version: str) -> str:
    return f"plugin {name!r} ({package} {version})" if package != name else f"plugin {name!r}"


def distribution_of(pm, name: str) -> tuple[str, str]:
    """(distribution, version) of a loaded plugin; (name, 'unknown') for one registered in-process."""
    return getattr(pm, "_interestkit_dists", {}).get(name, (name, "unknown"))


def _load(pm, ep, name) -> list[Problem]:
    """Import and register one entry point; the problems found with it."""
    pm._interestkit_dists[name] = _dist_of(ep)
    try:
        plugin = ep.load()
        pm.register(plugin, name=name)
    except Exception as error:
        pm._interestkit_failed[name] = one_line(error)
        return [report(Problem(describe_plugin(pm, name), f"failed to load: {one_line(error)}", "skipped", name,
                               True))]
    subject = describe_plugin(pm, name)
    found = [report(Problem(subject, what, "", name)) for what in validation.hook_problems(plugin, pm)]
    if not found and not validation.implements_a_hook(plugin, pm):
        found.append(report(Problem(subject, f"implements no interestkit hook ({', '.join(validation.hook_names())})"
                                             ", so it adds nothing", "", name)))
    return found


def get_plugin_manager():
    """The process-wide plugin manager (built-ins plus allowed installed plugins)."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("interestkit")
        pm.add_hookspecs(specs)
        pm._interestkit_dists, pm._interestkit_failed = {}, {}
        _warn_unknown_allowed(allow_list(), list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)))
        found = [problem for ep in entry_points() for problem in _load(pm, ep, _plugin_name(pm, ep))]
        enforce_strict(found)  # raises in strict mode; the next call then loads (and raises) again
        _pm = pm
    return _pm


def import_keras_objects():
    """Import the modules where allowed plugins register custom Keras objects.

    Call it before ``keras.models.load_model`` on a model a plugin built: Keras finds a
    registered custom layer only once the module defining it has been imported. The
    modules come from the ``interestkit.keras_objects`` entry-point group, filtered by
    INTERESTKIT_PLUGINS; one that fails to import is reported and skipped (strict mode:
    an error).
    """
    found = []
    for ep in entry_points(KERAS_OBJECTS_GROUP):
        try:
            ep.load()
        except Exception as error:
            package, version = _dist_of(ep)
            found.append(report(Problem(f"custom Keras objects {ep.value!r} ({package} {version})",
                                        f"failed to import: {one_line(error)}", "skipped", f"{package}:{ep.value}",
                                        True)))
    enforce_strict(found)


def reset():
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _pm
    _pm = None
    _problems.clear()


def plugin_hooks(pm, plugin_name):
    plugin = pm.get_plugin(plugin_name)
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [] if caller.spec is not None)


def plugin_rows() -> list[dict]:
    """One row per plugin: distribution, version, hooks, and its problems; failed ones with their error."""
    pm = get_plugin_manager()
    rows = []
    for name, plugin in pm.list_name_plugin():
        package, version = distribution_of(pm, name)
        doc = (getattr(plugin, "__doc__", None) or "").strip().split("\n")[0]
        found = [p for p in _problems if p.plugin == name]
        failures = [p.what for p in found if p.failed]
        status = "failed" if failures else "warning" if found else "ok"
        rows.append({"kind": "plugin", "name": name, "modality": None, "package": package, "version": version,
                     "plugin": name, "hooks": plugin_hooks(pm, name), "description": failures[0] if failures else doc,
                     "status": status, "problems": [p.what for p in found]})
    for name, error in pm._interestkit_failed.items():  # failed before it could be registered
        package, version = distribution_of(pm, name)
        rows.append({"kind": "plugin", "name": name, "modality": None, "package": package, "version": version,
                     "plugin": name, "hooks": [], "description": f"failed to load: {error}", "status": "failed",
                     "problems": [f"failed to load: {error}"]})
    return rows
