"""Plugin manager: loads built-in and installed plugins and collects what they register.

Built-in plugins (``interestkit_plugins.*``, shipped in this wheel from ``plugins/``) are
registered through the same hooks as third-party ones, which are found through the
``interestkit`` entry-point group.

Environment:
  INTERESTKIT_PLUGINS  comma-separated allow-list of third-party plugins (entry-point or
                       distribution names); set but empty: built-ins only; unset: all.
  INTERESTKIT_STRICT_PLUGINS=1  a plugin that fails to load is an error, not a warning.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .errors import PluginError, suggest

BUILTIN_MODULES = (
    "interestkit_plugins.heads",
    "interestkit_plugins.text",
    "interestkit_plugins.image",
    "interestkit_plugins.fusion",
)
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


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def strict_mode():
    return os.environ.get("INTERESTKIT_STRICT_PLUGINS", "").lower() in ("1", "true", "yes")


def _report_broken(name, error):
    message = f"plugin {name!r} failed to load and was skipped: {type(error).__name__}: {error}"
    if strict_mode():
        raise PluginError(message + " (strict mode)")
    if (name, message) not in _broken:
        _broken.append((name, message))
        print(f"warning: {message}", file=sys.stderr)


def broken_plugins():
    """[(name, message)] for plugins that failed to load and were skipped."""
    get_plugin_manager()
    return list(_broken)


def _allowed(ep):
    allow = os.environ.get("INTERESTKIT_PLUGINS")
    if allow is None:
        return True
    names = {n.strip() for n in allow.split(",") if n.strip()}
    return ep.name in names or (ep.dist is not None and ep.dist.name in names)


def get_plugin_manager():
    """The process-wide plugin manager (built-ins plus allowed installed plugins)."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("interestkit")
        pm.add_hookspecs(hookspecs)
        pm._interestkit_dists = {}
        for module_name in BUILTIN_MODULES:
            try:
                module = importlib.import_module(module_name)
            except Exception as error:  # a broken built-in must not take the others down
                _report_broken(module_name, error)
                continue
            pm.register(module, name=module_name)
            pm._interestkit_dists[module_name] = ("interestkit", _version("interestkit"))
        for ep in importlib.metadata.entry_points(group="interestkit"):
            if not _allowed(ep) or pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
                pm.register(module, name=ep.name)
            except Exception as error:
                _report_broken(ep.name, error)
                continue
            dist = ep.dist.name if ep.dist is not None else ep.name
            pm._interestkit_dists[ep.name] = (dist, _version(dist))
        _pm = pm
    return _pm


def reset():
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _pm
    _pm = None
    _broken.clear()


def plugin_hooks(pm, plugin_name):
    plugin = pm.get_plugin(plugin_name)
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


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
