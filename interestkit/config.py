"""Experiment configuration: YAML files validated against the accepted keys.

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
``plugins.<name>`` section, command-line flags.
"""

from __future__ import annotations

import copy
from pathlib import Path

from .errors import ConfigError, suggest
from .interfaces import validate_options

TRAINING_DEFAULTS = {
    "epochs": 10,  # maximum; early stopping may end sooner
    "batch_size": 64,
    "val_split": 0.1,  # stratified validation fraction
    "seed": 42,
    "learning_rate": 1e-3,
    "class_weight": True,  # weight classes by inverse frequency
    "early_stopping": True,  # stop when val_loss stops improving
    "patience": 2,
    "max_rows": 0,  # 0: use every row; N: a stratified sample of N rows
    "fine_tune": 0,  # image encoders: unfreeze the top N blocks after the head converged
    "fine_tune_epochs": 3,
    "fine_tune_learning_rate": 1e-4,
    "calibrate": True,  # fit a softmax temperature on the validation split
    "strict": False,  # images: fail on the first unreadable file instead of skipping it
    "cache": True,  # images: cache frozen-encoder features on disk
    "cache_dir": "",  # empty: $INTERESTKIT_CACHE_DIR or ~/.cache/interestkit/features
    "verbose": 1,  # 0 silent, 1 progress bar, 2 one line per epoch
}
TRACKING_DEFAULTS = {
    "experiment": "interestkit",
    "registered_model": "",  # empty: interestkit-<modality>
    "register": True,
}
SECTION_KEYS = ("encoder", "classifier", "training", "tracking")
TOP_KEYS = ("plugin",) + SECTION_KEYS + ("plugins",)


def load_yaml(path) -> dict:
    """Read a YAML mapping; errors name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(error, 'problem', error)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
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
            _check_keys(extra[section], list(extra[section]), f"{where}.{section}")  # type check only
            out.setdefault(section, {}).update(extra[section])
    return out


def resolve(file_config: dict | None, plugin: str | None, overrides: dict | None = None, source="config") -> dict:
    """Resolve a run's config: defaults < file < file.plugins[plugin] < overrides.

    ``overrides`` uses the same shape as a file (``{"training": {"epochs": 3}}``).
    Returns ``{"plugin", "encoder", "classifier", "training", "tracking"}`` with training
    and tracking validated; encoder and classifier options are validated by their classes.
    """
    file_config = file_config or {}
    _check_keys(file_config, TOP_KEYS, source)
    plugin = plugin or file_config.get("plugin")
    if not plugin:
        raise ConfigError(f"{source}: no plugin given (use --plugin NAME or 'plugin:' in the config)")
    resolved = _merge({"encoder": {}, "classifier": {}, "training": {}, "tracking": {}}, file_config, source)
    per_plugin = file_config.get("plugins") or {}
    if not isinstance(per_plugin, dict):
        raise ConfigError(f"{source}.plugins: expected a mapping of plugin name to sections")
    if plugin in per_plugin:
        _check_keys(per_plugin[plugin] or {}, SECTION_KEYS, f"{source}.plugins.{plugin}")
        resolved = _merge(resolved, per_plugin[plugin] or {}, f"{source}.plugins.{plugin}")
    resolved = _merge(resolved, overrides or {}, "command line")
    resolved["plugin"] = plugin
    resolved["training"] = validate_options(TRAINING_DEFAULTS, resolved["training"], f"{source}: training")
    resolved["tracking"] = validate_options(TRACKING_DEFAULTS, resolved["tracking"], f"{source}: tracking")
    classifier = dict(resolved["classifier"])
    resolved["classifier"] = {"name": classifier.pop("name", "softmax"), "options": classifier}
    t = resolved["training"]
    if not 0 < t["val_split"] < 1:
        raise ConfigError(f"{source}: training.val_split must be between 0 and 1, got {t['val_split']}")
    for key in ("epochs", "batch_size"):
        if t[key] < 1:
            raise ConfigError(f"{source}: training.{key} must be at least 1, got {t[key]}")
    return resolved


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
