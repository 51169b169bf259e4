"""What a plugin must get right: the classes it registers and the hooks it implements.

``registration_problem(kind, cls)`` says what is wrong with a class registered as an
encoder, classifier or fusion (None when nothing is): it must be a class, a subclass of
the matching interface, with the required attributes and methods. ``hook_problems``
finds hook implementations interestkit would never call: a misspelt hook name
(``register_fusion``) or a function named like a hook without ``@hookimpl``.

Both are plain functions over the class or module, so the manager (at collection) and
``interestkit.testing`` (in a plugin author's tests) apply the same rules.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping

from ..interfaces import MODALITIES, Classifier, Configurable, Encoder, Fusion, TextEmbedder
from . import specs

INTERFACES = {"encoder": Encoder, "classifier": Classifier, "fusion": Fusion, "embedder": TextEmbedder}
HOOK_OF_KIND = {"encoder": "register_encoders", "classifier": "register_classifiers", "fusion": "register_fusions",
                "embedder": "register_embedders"}
#: the methods each interface leaves to its subclasses
REQUIRED_METHODS = {"encoder": ("build",), "classifier": ("build",), "fusion": ("fuse",), "embedder": ("embed",)}
MARKER = "interestkit_impl"  # the attribute pluggy's HookimplMarker("interestkit") sets


def hook_names() -> list[str]:
    """Every hook a plugin may implement (the specs' names)."""
    return sorted(name for name, function in inspect.getmembers(specs, inspect.isfunction)
                  if hasattr(function, "interestkit_spec"))


def _kind_of(cls) -> str | None:
    return next((kind for kind, base in INTERFACES.items() if issubclass(cls, base)), None)


def _described(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def registration_problem(kind: str, cls) -> str | None:
    """What is wrong with registering ``cls`` as a ``kind``, in a few words; None if nothing."""
    base = INTERFACES[kind]
    expected = f"interestkit.{base.__name__}"
    if not isinstance(cls, type):
        if isinstance(cls, Configurable):
            name = type(cls).__name__
            return f"is an instance of {name}, not a class: register the class itself, register(name, {name})"
        return f"is {_described(cls)}, not a class: register(name, cls) takes a subclass of {expected}"
    if not issubclass(cls, base):
        other = _kind_of(cls)
        if other:
            return (f"{cls.__name__} is an interestkit.{INTERFACES[other].__name__}, not an {expected}: "
                    f"register it from {HOOK_OF_KIND[other]}")
        return f"{cls.__name__} is not a subclass of {expected} (class {cls.__name__}({base.__name__}): ...)"
    missing = [f"{m}()" for m in REQUIRED_METHODS[kind] if getattr(cls, m, None) is getattr(base, m)]
    if kind == "fusion" and getattr(cls, "fittable", False) is True and cls.fit is Fusion.fit:
        missing.append("fit() (it sets fittable = True)")
    if missing:
        return f"{cls.__name__} does not implement {' or '.join(missing)}, which {expected} leaves to subclasses"
    return _attribute_problem(kind, cls)


def _attribute_problem(kind: str, cls) -> str | None:
    name = cls.__name__
    if not isinstance(getattr(cls, "defaults", None), Mapping):
        return f"{name}.defaults must be a mapping of option names to defaults, got {_described(cls.defaults)}"
    if not isinstance(getattr(cls, "description", None), str):
        return f"{name}.description must be a one-line str, got {_described(cls.description)}"
    if kind == "encoder" and cls.modality not in MODALITIES:
        return f"{name}.modality must be one of {', '.join(map(repr, MODALITIES))}, got {_described(cls.modality)}"
    if kind == "embedder" and (isinstance(cls.priority, bool) or not isinstance(cls.priority, int)):
        return f"{name}.priority must be an int, got {_described(cls.priority)}"
    if kind == "fusion" and not isinstance(cls.fittable, bool):
        return f"{name}.fittable must be True or False, got {_described(cls.fittable)}"
    return None


def _defined_here(plugin, value) -> bool:
    """A module's own functions (not names it imported); any attribute of another object."""
    if not inspect.ismodule(plugin):
        return True
    return getattr(value, "__module__", None) == plugin.__name__


def hook_problems(plugin, pm) -> list[str]:
    """Hook implementations of ``plugin`` that interestkit would never call, one line each."""
    known = hook_names()
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.spec is None and not _optional(caller, plugin):
            problems.append(f"implements {caller.name!r}, which is not an interestkit hook{_did_you_mean(caller.name, known)}")
    for attribute in sorted(dir(plugin)):
        if not attribute.startswith("register_"):
            continue
        value = getattr(plugin, attribute, None)
        if not callable(value) or hasattr(value, MARKER) or not _defined_here(plugin, value):
            continue
        close = attribute if attribute in known else next(iter(difflib.get_close_matches(attribute, known, 1, 0.8)), None)
        if close:
            problems.append(f"defines {attribute}() without @hookimpl, so interestkit never calls it"
                            f"{'' if close == attribute else f' (and did you mean {close!r}?)'}: "
                            "decorate it with @interestkit.hookimpl")
    return problems


def _optional(caller, plugin) -> bool:
    return any(impl.plugin is plugin and impl.optionalhook for impl in caller.get_hookimpls())


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (the hooks: {', '.join(known)})"


def implements_a_hook(plugin, pm) -> bool:
    """True when ``plugin`` implements at least one known hook."""
    return any(caller.spec is not None for caller in pm.get_hookcallers(plugin) or [])
