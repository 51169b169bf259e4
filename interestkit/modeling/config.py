"""Experiment configuration: YAML files validated against the accepted keys and bounds.

A config file has these top-level keys (all optional):

```yaml
plugin: bilstm                 # the encoder to train
encoder: {embedding_dim: 64}   # options of the encoder (see `interestkit plugins`)
classifier: {name: softmax, dropout: 0.5}
training: {epochs: 30, batch_size: 64}
tracking: {experiment: interestkit, registered_model: null, register: true}
plugins:                       # per-plugin sections, merged over the above for that plugin
  bilstm: {encoder: {...}, classifier: {...}, training: {...}}
```

Resolution order, later wins: built-in defaults, the file's top level, the file's
``plugins.<name>`` section, command-line flags. ``resolve`` checks everything (keys,
types, bounds, the encoder's and the head's own options) before anything is built, so a
mistake fails before TensorFlow loads or an MLflow run opens.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path

from .. import hooks
from ..data.tables import read_yaml
from ..errors import ConfigError, PluginError, suggest
from ..options import Option, defaults_of, validate_options

TRAINING_RULES = {
    "epochs": Option(10, min=1, help="maximum; early stopping may end sooner"),
    "batch_size": Option(64, min=1),
    "val_split": Option(0.1, gt=0, lt=1, help="stratified validation fraction"),
    "val_group": Option("", help="a column of the data (e.g. source): whole groups go to validation; "
                                 "empty: a stratified split by rows"),
    "seed": Option(42, min=0, max=2**32 - 1),
    "learning_rate": Option(1e-3, gt=0, max=10.0),
    "class_weight": Option(True, help="weight classes by inverse frequency"),
    "early_stopping": Option(True, help="stop when val_loss stops improving"),
    "patience": Option(2, min=0),
    "max_rows": Option(0, min=0, help="0: use every row; N: a stratified sample of N rows"),
    "fine_tune": Option(0, min=0, help="image encoders: unfreeze the top N blocks after the head converged"),
    "fine_tune_epochs": Option(3, min=1),
    "fine_tune_learning_rate": Option(1e-4, gt=0, max=10.0),
    "label_smoothing": Option(0.0, min=0, lt=1, help="smooth one-hot targets towards uniform by this much"),
    "weight_decay": Option(0.0, min=0, max=1, help="decoupled weight decay (AdamW); 0: plain Adam"),
    "mixup": Option(0.0, min=0, max=10, help="frozen features: mix training pairs, weight ~ Beta(a, a); 0: off"),
    "augment_views": Option(0, min=0, max=16, help="frozen image encoders: N augmented views per training photo, "
                                                   "features cached"),
    "view_crop": Option(0.5, gt=0, max=1, help="augmented views: smallest fraction of the area a random crop keeps"),
    "view_flip": Option(True, help="augmented views: flip left to right half the time"),
    "view_jitter": Option(0.2, min=0, lt=1, help="augmented views: brightness, contrast, saturation +- this"),
    "tta": Option(False, help="frozen image encoders: average each photo's prediction with its mirror image's"),
    "calibrate": Option(True, help="fit a softmax temperature on the validation split"),
    "strict": Option(False, help="images: fail on the first unreadable file instead of skipping it"),
    "cache": Option(True, help="images: cache frozen-encoder features on disk"),
    "cache_dir": Option("", help="empty: $INTERESTKIT_CACHE_DIR or ~/.cache/interestkit/features"),
    "verbose": Option(1, choices=(0, 1, 2), help="0 silent, 1 progress bar, 2 one line per epoch"),
}
_NAME = re.compile(r"\S.{0,254}")
TRACKING_RULES = {
    "experiment": Option("interestkit"),
    "registered_model": Option("", help="empty: interestkit-<modality>"),
    "register": Option(True),
}
TRAINING_DEFAULTS = defaults_of(TRAINING_RULES)
TRACKING_DEFAULTS = defaults_of(TRACKING_RULES)
SECTION_KEYS = ("encoder", "classifier", "training", "tracking")
TOP_KEYS = ("plugin",) + SECTION_KEYS + ("plugins",)


def load_yaml(path) -> dict:
    """Read a YAML mapping; errors name the file."""
    data, _ = read_yaml(path, "YAML config file", "config file", ConfigError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def _check_keys(mapping, accepted, where):
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(mapping).__name__} {mapping!r}")
    for key in mapping:
        if key not in accepted:
            raise ConfigError(
                f"{where}: unknown key {key!r}{suggest(key, accepted)}; accepted: {', '.join(accepted)}"
            )


def _merge(base: dict, extra: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for section in SECTION_KEYS:
        if section in extra and extra[section] is not None:
            if not isinstance(extra[section], dict):
                raise ConfigError(f"{where}: '{section}' must be a mapping of options, "
                                  f"got {type(extra[section]).__name__} {extra[section]!r}")
            out.setdefault(section, {}).update(extra[section])
    return out


def _per_plugin(file_config: dict, source: str, notes: list) -> dict:
    """The ``plugins:`` section. A name close to an installed encoder's is a typo (an error);
    another unknown name may be a plugin not installed here: its section is unused, and
    ``notes`` says so. Every installed plugin's section is checked, not only the one trained."""
    per_plugin = file_config.get("plugins") or {}
    if not isinstance(per_plugin, dict):
        raise ConfigError(f"{source}.plugins: expected a mapping of plugin name to sections, "
                          f"got {type(per_plugin).__name__} {per_plugin!r}")
    encoders = hooks.collect("encoder")
    for name in per_plugin:
        if name in encoders:
            _check_keys(per_plugin[name] or {}, SECTION_KEYS, f"{source}.plugins.{name}")
            continue
        close = difflib.get_close_matches(str(name), list(encoders), n=1, cutoff=0.75)
        if close:
            raise ConfigError(f"{source}.plugins: {name!r} is not an encoder (did you mean {close[0]!r}?)")
        notes.append(f"{source}: plugins.{name}: no encoder {name!r} is installed, so its section is not used")
    return per_plugin


def check_flags(overrides: dict, names: dict) -> None:
    """Command-line values by the same rules as a file's, the error naming the flag
    (``names``: ``{"training.seed": "--seed"}``; others read ``--set section.key``)."""
    for section, rules in (("training", TRAINING_RULES), ("tracking", TRACKING_RULES)):
        for key, value in (overrides.get(section) or {}).items():
            where = names.get(f"{section}.{key}", f"--set {section}.{key}")
            if key not in rules:
                raise ConfigError(f"{where}: unknown option {key!r}{suggest(key, rules)}")
            value = rules[key].check(value, where)
            if key in ("experiment", "registered_model"):
                _check_name(value, key == "experiment", where)


def _check_encoder_flags(plugin: str, options: dict, names: dict) -> None:
    """Each encoder option given on the command line by the encoder's rules, naming the flag."""
    info = hooks.get("encoder", plugin)
    for key, value in options.items():
        try:
            info.cls(**{key: value})
        except ConfigError as error:
            raise ConfigError(f"{names.get(f'encoder.{key}', f'--set encoder.{key}')}: {error}") from None


def _check_name(value: str, required: bool, where: str) -> None:
    if (value or required) and not _NAME.fullmatch(value):
        raise ConfigError(f"{where} must be a non-empty name without line breaks, got {value!r}")


def resolve(file_config: dict | None, plugin: str | None, overrides: dict | None = None, source="config",
            flag_names: dict | None = None) -> dict:
    """Resolve a run's config: defaults < file < file.plugins[plugin] < overrides.

    ``overrides`` uses the same shape as a file (``{"training": {"epochs": 3}}``);
    ``flag_names`` names the flags they came from in errors (``check_flags``).
    Returns ``{"plugin", "encoder", "classifier", "training", "tracking", "notes"}``, every
    section validated (the encoder's and the classifier's options by their classes);
    ``notes`` are things the user should know (a section for a plugin not installed).
    The sections of the file's other installed plugins are validated too.
    """
    file_config = file_config or {}
    _check_keys(file_config, TOP_KEYS, source)
    if flag_names is not None:
        check_flags(overrides or {}, flag_names)
    if file_config.get("plugin") is not None and not isinstance(file_config["plugin"], str):
        raise ConfigError(f"{source}: plugin must be a name, got {file_config['plugin']!r}")
    plugin = plugin or file_config.get("plugin")
    if not plugin:
        raise ConfigError(f"{source}: no plugin given (use --plugin NAME or 'plugin:' in the config)")
    if not isinstance(plugin, str):
        raise ConfigError(f"{source}: plugin must be a name, got {plugin!r}")
    if flag_names is not None:
        _check_encoder_flags(plugin, (overrides or {}).get("encoder") or {}, flag_names)
    notes: list[str] = []
    per_plugin = _per_plugin(file_config, source, notes)
    resolved = _resolve_one(file_config, per_plugin, plugin, overrides, source)
    for other in per_plugin:
        if other != plugin and other in hooks.collect("encoder"):
            _resolve_one(file_config, per_plugin, other, None, f"{source}.plugins.{other}")
    resolved["notes"] = notes
    return resolved


def _resolve_one(file_config, per_plugin, plugin, overrides, source) -> dict:
    """One plugin's config; the file's training and tracking values are checked on their
    own first, so that a flag overriding a bad value does not hide it."""
    resolved = _merge({"encoder": {}, "classifier": {}, "training": {}, "tracking": {}}, file_config, source)
    if plugin in per_plugin:
        resolved = _merge(resolved, per_plugin[plugin] or {}, f"{source}.plugins.{plugin}")
    if overrides:
        validate_options(TRAINING_RULES, resolved["training"], f"{source}: training")
        validate_options(TRACKING_RULES, resolved["tracking"], f"{source}: tracking")
        resolved = _merge(resolved, overrides, "command line")
    return _validate(resolved, plugin, source)


def _validate(resolved, plugin, source) -> dict:
    resolved["plugin"] = plugin
    resolved["training"] = validate_options(TRAINING_RULES, resolved["training"], f"{source}: training")
    resolved["tracking"] = validate_options(TRACKING_RULES, resolved["tracking"], f"{source}: tracking")
    for key in ("experiment", "registered_model"):
        _check_name(resolved["tracking"][key], key == "experiment", f"{source}: tracking.{key}")
    cache_dir = resolved["training"]["cache_dir"]
    if cache_dir and Path(cache_dir).expanduser().exists() and not Path(cache_dir).expanduser().is_dir():
        raise ConfigError(f"{source}: training.cache_dir: {cache_dir!r} is a file, expected a folder")
    classifier = dict(resolved["classifier"])
    name = classifier.pop("name", "softmax")
    if not isinstance(name, str):
        raise ConfigError(f"{source}: classifier.name must be a head's name, got {name!r}")
    resolved["classifier"] = {"name": name, "options": classifier}
    check_plugins(resolved, source)
    return resolved


def check_plugins(resolved: dict, source: str) -> None:
    """Build (without training) the encoder and head classes from their sections: unknown
    plugins, unknown options and out-of-bounds values fail here, naming the section."""
    encoder = hooks.get("encoder", resolved["plugin"])
    head = hooks.get("classifier", resolved["classifier"]["name"])
    for kind, info, options in (("encoder", encoder, resolved["encoder"]),
                                ("classifier", head, resolved["classifier"]["options"])):
        try:
            info.cls(**options)
        except (ConfigError, PluginError) as error:
            raise type(error)(f"{source}: {kind}: {error}") from None


def flatten(config: dict, prefix="") -> dict:
    """{'training': {'epochs': 3}} -> {'training.epochs': 3} (for MLflow params)."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
