"""Option rules shared by configs, plugins and the command line.

An options mapping lists every accepted key with its default. A plain default says only
the type (``{"units": 64}``: an int); an ``Option`` adds bounds or choices
(``{"units": Option(64, min=1)}``). ``validate_options`` merges given values over the
defaults and rejects, in one line naming the key, unknown keys (with suggestions),
values of the wrong type, values out of bounds and non-finite numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, suggest


@dataclass(frozen=True)
class Option:
    """An accepted option: default, expected type (the default's unless given) and bounds.

    ``min``/``max`` are inclusive, ``gt``/``lt`` exclusive; ``choices`` lists the allowed
    values; ``nullable`` accepts None (implied by a None default).
    """

    default: Any
    type: type | None = None
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple | None = None
    nullable: bool = False
    help: str = ""
    flag: str | None = None  # its command-line flag (default ``--name-with-dashes``; a bool defaulting to True: ``--no-...``)

    def flag_of(self, name: str) -> str:
        """The command-line flag of the option called ``name``."""
        return self.flag or "--" + name.replace("_", "-")

    @property
    def expected(self):
        return self.type or (type(self.default) if self.default is not None else None)

    def check(self, value, where: str):
        """The value, coerced (an int for a float option), or ConfigError naming ``where``."""
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise ConfigError(f"{where}: expected {_kind(self.expected)}, got null")
        value = coerce(value, self.expected, where)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: must be one of {', '.join(map(repr, self.choices))}, got {value!r}"
                              f"{suggest(value, [str(c) for c in self.choices]) if isinstance(value, str) else ''}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                (self.min is not None and value < self.min) or (self.max is not None and value > self.max)
                or (self.gt is not None and value <= self.gt) or (self.lt is not None and value >= self.lt)):
            raise ConfigError(f"{where}: must be {self.describe_bounds()}, got {value!r}")
        return value

    def describe_bounds(self) -> str:
        parts = []
        for bound, words in ((self.min, "at least"), (self.gt, "greater than"), (self.max, "at most"),
                             (self.lt, "less than")):
            if bound is not None:
                parts.append(f"{words} {bound:g}" if isinstance(bound, float) else f"{words} {bound}")
        return " and ".join(parts)


def _kind(expected) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "text", dict: "a mapping",
             list: "a list"}
    return names.get(expected, getattr(expected, "__name__", "a value"))


def coerce(value, expected, where: str):
    """Check ``value`` against type ``expected`` (None accepts anything); ints pass as floats."""
    if expected is None:
        return value
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{where}: must be a finite number, got {value!r}")
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, expected):
        return value
    raise ConfigError(f"{where}: expected {_kind(expected)}, got {type(value).__name__} {value!r}")


def as_option(spec) -> Option:
    return spec if isinstance(spec, Option) else Option(spec)


def defaults_of(specs: dict) -> dict:
    """``{key: default}`` of an options mapping."""
    return {key: as_option(spec).default for key, spec in specs.items()}


def validate_options(specs: dict, options: dict | None, where: str) -> dict:
    """Merge ``options`` over the defaults of ``specs``; every rule is checked, naming the key."""
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(options).__name__} {options!r}")
    merged = defaults_of(specs)
    for key, value in (options or {}).items():
        if key not in specs:
            raise ConfigError(f"{where}: unknown option {key!r}{suggest(key, specs)}; "
                              f"accepted: {', '.join(sorted(specs))}")
        merged[key] = as_option(specs[key]).check(value, f"{where}.{key}")
    return merged


def options_class(name: str, specs: dict, module: str, doc: str = ""):
    """A frozen dataclass with one field per rule of ``specs`` (its default the rule's),
    validated on construction by the rules; ``from_dict``, ``as_dict`` and ``replace``.

    The rules are the one declaration: the command line's flags come from them too
    (``cli.options.rule_flags``), so no default is written twice.
    """
    where = " ".join(part.lower() for part in _words(name))

    def post_init(self):
        checked = validate_options(specs, dataclasses.asdict(self), where)
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    def from_dict(cls, values: dict | None, at: str = where):
        """Options from a mapping (absent keys: their defaults), every value checked, naming ``at``."""
        return cls(**validate_options(specs, values or {}, at))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with some options changed (checked like any other)."""
        return dataclasses.replace(self, **changes)

    cls = dataclasses.make_dataclass(
        name, [(key, Any, dataclasses.field(default=as_option(spec).default)) for key, spec in specs.items()],
        frozen=True, namespace={"__post_init__": post_init, "from_dict": classmethod(from_dict), "as_dict": as_dict,
                                "replace": replace, "__doc__": doc, "RULES": specs})
    cls.__module__ = module  # picklable by name (Spark ships options to its workers)
    return cls


def _words(name: str) -> list[str]:
    import re

    return re.findall(r"[A-Z][a-z]*", name) or [name]
