"""Search spaces of ``interestkit tune``: what plugins declare, what a YAML file changes, what a trial draws.

A space maps an option, named ``section.key`` (``encoder.units``, ``classifier.dropout``,
``training.learning_rate``), to one entry, written the same way in a plugin class's
``search_space`` attribute and in a ``--space`` file:

```yaml
training.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}   # a float range
encoder.units: {low: 32, high: 256, log: true}                   # an int range (int option)
encoder.embedding_init: [glove, random]                          # choices
training.batch_size: 128                                         # fixed: not searched
classifier.hidden: null                                          # left out: the config's value
```

In a class's ``search_space`` the section may be left out for its own options
(``{"units": {...}}`` on an encoder). The default space of a run is the encoder's and
the head's declarations over the training defaults below (for a frozen encoder, whose
features are computed once, the head's training options; otherwise the learning rate).
A file's entries replace or add to it. Every entry is checked against the option's own
rule (type, bounds, choices); a mistake is one ``ConfigError`` naming the file and line.
Knows neither Optuna nor MLflow: a trial is anything with ``suggest_float``,
``suggest_int`` and ``suggest_categorical``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.tables import read_yaml
from ..errors import ConfigError, suggest
from ..options import as_option
from .config import TRAINING_RULES

SECTIONS = ("encoder", "classifier", "training")
#: searched for every encoder (a trainable one learns end to end at this rate)
TRAINING_SPACE = {"training.learning_rate": {"low": 3e-4, "high": 1e-2, "log": True}}
#: searched for frozen encoders: only the head trains, so each trial costs seconds
FROZEN_TRAINING_SPACE = {
    "training.learning_rate": {"low": 3e-4, "high": 3e-3, "log": True},
    "training.weight_decay": {"low": 0.0, "high": 0.05},
    "training.label_smoothing": {"low": 0.0, "high": 0.2},
    "training.mixup": {"low": 0.0, "high": 0.4},
}
_RANGE_KEYS = ("low", "high", "log")


@dataclass(frozen=True)
class Param:
    """One searched or fixed option: ``kind`` is ``float``, ``int``, ``choice`` or ``fixed``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    value: object = None

    def draw(self, trial):
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        return self.value

    def contains(self, value) -> bool:
        """Whether a trial could draw ``value``."""
        if self.kind == "choice":
            return value in self.choices
        if self.kind in ("float", "int") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.low <= value <= self.high
        return False

    def describe(self) -> str:
        if self.kind in ("float", "int"):
            return f"{self.low:g} .. {self.high:g}{' (log)' if self.log else ''}"
        if self.kind == "choice":
            return " | ".join(map(str, self.choices))
        return f"= {self.value!r}"


def option_rules(encoder_cls, head_cls) -> dict:
    """``{"section.key": Option}`` of every option a space may name."""
    rules = {f"training.{k}": as_option(v) for k, v in TRAINING_RULES.items()}
    rules.update({f"encoder.{k}": as_option(v) for k, v in (encoder_cls.defaults or {}).items()})
    rules.update({f"classifier.{k}": as_option(v) for k, v in (head_cls.defaults or {}).items()})
    return rules


def declared(cls, section: str) -> dict:
    """A plugin class's ``search_space`` with every name qualified by its section."""
    space = getattr(cls, "search_space", None) or {}
    return {(name if name.split(".", 1)[0] in SECTIONS and "." in name else f"{section}.{name}"): entry
            for name, entry in space.items()}


def default_space(encoder_cls, head_cls, frozen: bool) -> dict:
    """``{name: Param}``: the training defaults, then the encoder's and the head's declarations."""
    rules = option_rules(encoder_cls, head_cls)
    entries = dict(FROZEN_TRAINING_SPACE if frozen else TRAINING_SPACE)
    entries.update(declared(encoder_cls, "encoder"))
    entries.update(declared(head_cls, "classifier"))
    space = {}
    for name, entry in entries.items():
        where = f"{getattr(encoder_cls if name.startswith('encoder.') else head_cls, '__name__', '?')}.search_space"
        param = parse_entry(name, entry, rules, where)
        if param is not None:
            space[name] = param
    return space


def parse_entry(name: str, entry, rules: dict, where: str):
    """One entry as a ``Param`` (None: left out), checked against the option's rule."""
    if not isinstance(name, str) or name not in rules:
        raise ConfigError(f"{where}: unknown option {name!r}{suggest(str(name), rules)}; "
                          f"options are named section.key, sections {', '.join(SECTIONS)}")
    rule = rules[name]
    expected = rule.expected
    if entry is None:
        return None
    if isinstance(entry, list):
        if not entry:
            raise ConfigError(f"{where}: {name}: an empty list of choices")
        values = tuple(_checked(rule, value, where, name) for value in entry)
        if len(set(map(repr, values))) < len(values):
            raise ConfigError(f"{where}: {name}: a choice is listed twice: {list(entry)!r}")
        return Param(name, "choice", choices=values)
    if isinstance(entry, dict):
        unknown = [key for key in entry if key not in _RANGE_KEYS]
        if unknown:
            raise ConfigError(f"{where}: {name}: unknown key {unknown[0]!r}; a range has low, high and log "
                              "(a list gives choices, a plain value fixes the option)")
        if "low" not in entry or "high" not in entry:
            raise ConfigError(f"{where}: {name}: a range needs both low and high, got {entry!r}")
        if expected not in (int, float):
            raise ConfigError(f"{where}: {name}: a range needs a numeric option, but {name} is "
                              f"{'true or false' if expected is bool else 'text'}; list the choices instead")
        low, high = (_checked(rule, entry[key], where, name) for key in ("low", "high"))
        log = entry.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{where}: {name}: log must be true or false, got {log!r}")
        if low >= high:
            raise ConfigError(f"{where}: {name}: empty range, low {low!r} is not below high {high!r} "
                              "(a plain value fixes the option)")
        if log and low <= 0:
            raise ConfigError(f"{where}: {name}: a log range needs low above 0, got {low!r}")
        return Param(name, "int" if expected is int else "float", low=low, high=high, log=log)
    return Param(name, "fixed", value=_checked(rule, entry, where, name))


def _checked(rule, value, where, name):
    hint = ""
    if isinstance(value, str) and rule.expected in (int, float):
        try:
            float(value)
            hint = " (YAML reads 1e-4 as text: write 1.0e-4)"
        except ValueError:
            pass
    try:
        return rule.check(value, f"{where}: {name}")
    except ConfigError as error:
        raise ConfigError(f"{error}{hint}") from None


def load_space_file(path, base: dict, encoder_cls, head_cls) -> dict:
    """``base`` with a YAML ``--space`` file's entries applied; errors name ``path:line``."""
    data, text = read_yaml(path, "YAML search-space file", "search-space file", ConfigError)
    if data is None:
        return dict(base)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of section.key to a range, choices or a value, "
                          f"got {type(data).__name__}")
    lines = key_lines(text)
    rules = option_rules(encoder_cls, head_cls)
    space = dict(base)
    for name, entry in data.items():
        param = parse_entry(name, entry, rules, f"{path}:{lines.get(str(name), 1)}")
        if param is None:
            space.pop(name, None)
        else:
            space[name] = param
    return space


def key_lines(text: str) -> dict:
    """``{key: line}`` of a YAML mapping's top-level keys (1-based)."""
    import yaml

    node = yaml.compose(text)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value}


def draw(trial, space: dict) -> dict:
    """A trial's overrides, ``{"encoder": {...}, "classifier": {...}, "training": {...}}``."""
    overrides = {section: {} for section in SECTIONS}
    for name, param in space.items():
        section, key = name.split(".", 1)
        overrides[section][key] = param.draw(trial)
    return overrides


def searched(space: dict) -> dict:
    """Only the entries a trial draws (not the fixed ones)."""
    return {name: p for name, p in space.items() if p.kind != "fixed"}
