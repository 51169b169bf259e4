"""Plugin manager: loads built-in and installed plugins and collects what they register.

Every plugin, built-in or third-party, is found through the ``interestkit`` entry-point
group. The built-ins (``interestkit_plugins.*``, shipped in this wheel from ``plugins/``)
are the entry points of the ``interestkit`` distribution itself: core never imports them.

A plugin whose saved models use custom Keras layers also declares the module that
registers them in the ``interestkit.keras_objects`` group; ``import_keras_objects()``
imports those modules before a model is loaded (TensorFlow is never imported just to
list plugins).

Environment:
  INTERESTKIT_PLUGINS  comma-separated allow-list of third-party plugins (entry-point or
                       distribution names); set but empty: built-ins only; unset: all.
  INTERESTKIT_STRICT_PLUGINS=1  a plugin that fails to load is an error, not a warning.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
from dataclasses import dataclass, field

import pluggy

from .. import settings
from ..errors import PluginError, suggest
from . import specs

BUILTIN_DISTRIBUTION = "interestkit"
ENTRY_POINT_GROUP = "interestkit"
KERAS_OBJECTS_GROUP = "interestkit.keras_objects"
KINDS = ("encoder", "classifier", "fusion")
HOOKS = {"encoder": "register_encoders", "classifier": "register_classifiers", "fusion": "register_fusions"}

_pm = None
_broken: list[tuple[str, str]] = []


@dataclass
class PluginInfo:
    """One registered encoder, classifier or fusion."""

    name: str
    kind: str
    cls: type
    plugin: str  # the module or entry point that registered it
    package: str  # the distribution that provides it
    version: str
    hooks: list = field(default_factory=list)

    @property
    def modality(self):
        return getattr(self.cls, "modality", None) if self.kind == "encoder" else None

    def as_dict(self):
        return {
            "name": self.name,
            "kind": self.kind,
            "modality": self.modality,
            "package": self.package,
            "version": self.version,
            "plugin": self.plugin,
            "hooks": self.hooks,
            "description": (self.cls.description or (self.cls.__doc__ or "").strip().split("\n")[0]),
        }


def _dist_of(ep):
    """(distribution name, version) that provides entry point ``ep``."""
    if ep.dist is None:
        return ep.name, "unknown"
    return ep.dist.name, ep.dist.version or "unknown"


def strict_mode():
    return settings.env_flag(settings.STRICT_PLUGINS_ENV)


def _report_broken(name, error):
    """Warn once that plugin ``name`` was skipped; in strict mode raise PluginError instead."""
    message = f"plugin {name!r} failed to load and was skipped: {type(error).__name__}: {error}"
    if strict_mode():
        raise PluginError(message + " (strict mode)")
    if name not in {known for known, _ in _broken}:
        _broken.append((name, message))
        print(f"warning: {message}", file=sys.stderr)


def broken_plugins():
    """[(name, message)] for plugins that failed to load and were skipped."""
    get_plugin_manager()
    return list(_broken)


def _normalize(name):
    """Distribution names compare like pip compares them: case and - _ . do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def allow_list():
    """The names in INTERESTKIT_PLUGINS (normalised), or None when it is unset."""
    allow = os.environ.get(settings.PLUGINS_ENV)
    if allow is None:
        return None
    return {_normalize(n.strip()) for n in allow.split(",") if n.strip()}


def is_builtin(ep) -> bool:
    """True for the entry points of interestkit itself (the built-in plugins)."""
    return ep.dist is not None and _normalize(ep.dist.name) == BUILTIN_DISTRIBUTION


def _allowed(ep, names):
    if names is None or is_builtin(ep):
        return True
    return _normalize(ep.name) in names or (ep.dist is not None and _normalize(ep.dist.name) in names)


def _warn_unknown_allowed(names, entry_points):
    """Warn about allow-list names that match no installed plugin (a typo loads nothing)."""
    entry_points = [ep for ep in entry_points if not is_builtin(ep)]
    known = {_normalize(ep.name) for ep in entry_points}
    known |= {_normalize(ep.dist.name) for ep in entry_points if ep.dist is not None}
    for name in sorted((names or set()) - known):
        print(f"warning: INTERESTKIT_PLUGINS names {name!r}, which no installed plugin provides"
              f"{suggest(name, known)}", file=sys.stderr)


def _plugin_name(pm, ep):
    """The entry point's name, qualified by its distribution when another one took it."""
    if not pm.has_plugin(ep.name):
        return ep.name
    return f"{_dist_of(ep)[0]}:{ep.name}"


def get_plugin_manager():
    """The process-wide plugin manager (built-ins plus allowed installed plugins)."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("interestkit")
        pm.add_hookspecs(specs)
        pm._interestkit_dists = {}
        names = allow_list()
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        _warn_unknown_allowed(names, entry_points)
        # built-ins first, so that they are listed first; then the others by name
        for ep in sorted(entry_points, key=lambda ep: (not is_builtin(ep), ep.name)):
            if not _allowed(ep, names):
                continue
            name = _plugin_name(pm, ep)
            try:
                pm.register(ep.load(), name=name)
            except Exception as error:
                _report_broken(name, error)
                continue
            pm._interestkit_dists[name] = _dist_of(ep)
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
    names = allow_list()
    for ep in importlib.metadata.entry_points(group=KERAS_OBJECTS_GROUP):
        if _allowed(ep, names):
            try:
                ep.load()
            except Exception as error:
                _report_broken(f"{_dist_of(ep)[0]}:{ep.value}", error)


def reset():
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _pm
    _pm = None
    _broken.clear()


def plugin_hooks(pm, plugin_name):
    plugin = pm.get_plugin(plugin_name)
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


def plugin_rows() -> list[dict]:
    """One row per plugin: its distribution, version and hooks; failed ones with their error."""
    pm = get_plugin_manager()
    broken = dict(_broken)
    rows = []
    for name, plugin in pm.list_name_plugin():
        package, version = pm._interestkit_dists.get(name, (name, "unknown"))
        doc = (getattr(plugin, "__doc__", None) or "").strip().split("\n")[0]
        rows.append({"kind": "plugin", "name": name, "modality": None, "package": package, "version": version,
                     "plugin": name, "hooks": plugin_hooks(pm, name), "description": broken.pop(name, doc),
                     "status": "failed" if name in dict(_broken) else "ok"})
    for name, message in broken.items():  # failed before it could be registered
        rows.append({"kind": "plugin", "name": name, "modality": None, "package": None, "version": None,
                     "plugin": name, "hooks": [], "description": message, "status": "failed"})
    return rows


def collect(kind, pm=None) -> dict[str, PluginInfo]:
    """A fresh {name: PluginInfo} of every ``kind`` ('encoder', 'classifier', 'fusion')."""
    pm = pm or get_plugin_manager()
    found: dict[str, PluginInfo] = {}
    hook = getattr(pm.hook, HOOKS[kind])
    for impl in reversed(hook.get_hookimpls()):
        plugin_name = impl.plugin_name
        package, version = getattr(pm, "_interestkit_dists", {}).get(plugin_name, (plugin_name, "unknown"))

        def register(name, cls, _plugin=plugin_name, _package=package, _version=version):
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {_plugin!r} registered a {kind} with an invalid name {name!r}")
            if name in found:
                other = found[name]
                raise PluginError(
                    f"{kind} {name!r} is registered twice: by {other.plugin!r} ({other.package}) "
                    f"and by {_plugin!r} ({_package})"
                )
            cls.name = name
            found[name] = PluginInfo(name, kind, cls, _plugin, _package, _version, plugin_hooks(pm, _plugin))

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as error:
            _report_broken(plugin_name, error)
    return found


def get(kind, name, modality=None) -> PluginInfo:
    """Look up one plugin; unknown names suggest close ones."""
    available = collect(kind)
    if name not in available:
        raise PluginError(f"unknown {kind} {name!r}{suggest(name, available)}")
    info = available[name]
    if modality and info.kind == "encoder" and info.modality != modality:
        raise PluginError(f"{kind} {name!r} is for {info.modality}, but {modality} was needed")
    return info


def all_plugins() -> list[PluginInfo]:
    return [info for kind in KINDS for info in collect(kind).values()]
