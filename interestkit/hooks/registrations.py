"""Collecting what plugins register: every registration validated, clashes isolated.

``collect(kind)`` calls the ``register_*`` hook of every loaded plugin with a fresh
``register`` callable and returns ``{name: PluginInfo}`` of what can be used. A
registration that is wrong (not a class, the wrong interface, a required method not
implemented), a hook that raises and a name two plugins took are reported
(``manager.report``) and left out; only the clashing name is unusable, and ``get`` says
why a name cannot be used. ``inventory`` keeps everything, for ``interestkit plugins``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import PluginError, suggest
from . import manager, validation
from .manager import Problem, describe_plugin, distribution_of, get_plugin_manager, one_line, plugin_hooks, plugin_words, report

KINDS = ("encoder", "classifier", "fusion", "embedder")
HOOKS = validation.HOOK_OF_KIND


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
    problem: str = ""  # why it cannot be used ("" when it can)
    status: str = "ok"  # ok, invalid (a bad registration) or clash (another plugin took the name)

    @property
    def modality(self):
        return getattr(self.cls, "modality", None) if self.kind == "encoder" and isinstance(self.cls, type) else None

    @property
    def provider(self) -> str:
        return plugin_words(self.plugin, self.package, self.version)

    def as_dict(self):
        description = getattr(self.cls, "description", "") if isinstance(self.cls, type) else ""
        if not isinstance(description, str) or not description:
            doc = getattr(self.cls, "__doc__", None) if isinstance(self.cls, type) else None
            description = (doc or "").strip().split("\n")[0]
        return {"name": self.name, "kind": self.kind, "modality": self.modality, "package": self.package,
                "version": self.version, "plugin": self.plugin, "hooks": self.hooks, "description": description,
                "status": self.status, "problem": self.problem or None}


@dataclass
class Collected:
    """A kind's registrations: the usable ones, and why each other name cannot be used."""

    usable: dict = field(default_factory=dict)  # {name: PluginInfo}
    unusable: dict = field(default_factory=dict)  # {name: reason}
    everything: list = field(default_factory=list)  # every PluginInfo, in registration order
    problems: list = field(default_factory=list)


def _call_hook(kind, impl, pm, collected: Collected):
    """Run one plugin's ``register_*`` hook; its registrations, or none if it raised."""
    plugin = impl.plugin_name
    package, version = distribution_of(pm, plugin)
    hooks = plugin_hooks(pm, plugin)
    made: list[PluginInfo] = []

    def register(name, cls):
        info = PluginInfo(name if isinstance(name, str) else repr(name), kind, cls, plugin, package, version, hooks)
        problem = (f"has an invalid name {name!r} (a non-empty str is expected)"
                   if not isinstance(name, str) or not name else validation.registration_problem(kind, cls))
        if problem:
            info.status, info.problem = "invalid", problem
            what = f"{kind} {info.name!r} from {describe_plugin(pm, plugin)}"
            collected.problems.append(report(Problem(what, problem, "it cannot be used", plugin)))
        made.append(info)

    try:
        impl.function(register=register)
    except Exception as error:
        collected.problems.append(report(Problem(describe_plugin(pm, plugin), f"failed in {HOOKS[kind]}: "
                                                 f"{one_line(error)}", f"its {kind}s are skipped", plugin, True)))
        for info in made:
            info.status, info.problem = "invalid", f"{HOOKS[kind]} of {info.provider} failed: {one_line(error)}"
    if not made:
        collected.problems.append(report(Problem(describe_plugin(pm, plugin), f"registered no {kind} in "
                                                 f"{HOOKS[kind]}", "", plugin)))
    return made


def registrations(kind: str, pm=None) -> Collected:
    """Every registration of ``kind``, checked; see ``Collected``. Problems are reported (strict: raised)."""
    if kind not in HOOKS:
        raise PluginError(f"unknown plugin kind {kind!r} (choose from: {', '.join(KINDS)})")
    pm = pm or get_plugin_manager()
    collected = Collected()
    for impl in getattr(pm.hook, HOOKS[kind]).get_hookimpls():  # in registration order: built-ins first
        collected.everything.extend(_call_hook(kind, impl, pm, collected))
    by_name: dict[str, list[PluginInfo]] = {}
    for info in collected.everything:
        if info.status == "ok":
            by_name.setdefault(info.name, []).append(info)
        elif info.name not in collected.unusable:
            collected.unusable[info.name] = f"{info.provider} registered it, but {info.problem}"
    for name, infos in by_name.items():
        if len(infos) == 1:
            infos[0].cls.name = name
            collected.usable[name] = infos[0]
            collected.unusable.pop(name, None)
            continue
        providers = " and by ".join(info.provider for info in infos)
        for info in infos:
            info.status = "clash"
            info.problem = "also registered by " + ", ".join(o.provider for o in infos if o is not info)
        collected.unusable[name] = f"it is registered by {providers}; uninstall one (or leave it out of INTERESTKIT_PLUGINS)"
        collected.problems.append(report(Problem(f"{kind} {name!r}", f"is registered by {providers}",
                                                 f"{name!r} cannot be used until one of them is uninstalled or "
                                                 "left out of INTERESTKIT_PLUGINS", infos[-1].plugin)))
    manager.enforce_strict(collected.problems)
    return collected


def collect(kind, pm=None) -> dict[str, PluginInfo]:
    """A fresh {name: PluginInfo} of every usable ``kind`` ('encoder', 'classifier', 'fusion')."""
    return registrations(kind, pm).usable


def get(kind, name, modality=None) -> PluginInfo:
    """Look up one plugin; an unusable name says why, an unknown one suggests close ones."""
    collected = registrations(kind)
    if name in collected.unusable:
        raise PluginError(f"{kind} {name!r} cannot be used: {collected.unusable[name]}")
    if name not in collected.usable:
        failed = [p.plugin for p in manager.problems() if p.failed]
        note = f"; these plugins failed: {', '.join(dict.fromkeys(failed))} (see 'interestkit plugins')" if failed else ""
        raise PluginError(f"unknown {kind} {name!r}{suggest(name, collected.usable)}{note}")
    info = collected.usable[name]
    if modality and info.kind == "encoder" and info.modality != modality:
        raise PluginError(f"{kind} {name!r} is for {info.modality}, but {modality} was needed")
    return info


def all_plugins() -> list[PluginInfo]:
    """Every usable encoder, classifier and fusion."""
    return [info for kind in KINDS for info in collect(kind).values()]


def inventory() -> list[PluginInfo]:
    """Every registration of every kind, usable or not (``status`` and ``problem`` say which)."""
    return [info for kind in KINDS for info in registrations(kind).everything]


def check_plugins() -> None:
    """Load and collect everything; in strict mode, PluginError for the first problem."""
    with manager.lenient():
        get_plugin_manager()
        for kind in KINDS:
            registrations(kind)
    manager.enforce_strict()
