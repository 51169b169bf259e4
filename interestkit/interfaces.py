"""The three plugin interfaces: Encoder, Classifier and Fusion.

A plugin subclasses one of them and registers the class through a hook (see
``interestkit.hookspecs``). Registration is cheap: keep framework imports (keras,
tensorflow) inside methods, so listing plugins never loads a model or a framework.

Options: each class lists the options it accepts, with their defaults, in ``defaults``.
``__init__`` rejects unknown keys and values of the wrong type, naming the key.
"""

from __future__ import annotations

from .errors import ConfigError, suggest

MODALITIES = ("text", "image")


class Configurable:
    """Base of all plugin classes: holds validated ``options``."""

    #: the name the class is registered under (set at registration)
    name: str = ""
    #: one line shown by ``interestkit plugins``
    description: str = ""
    #: accepted option names and their defaults; the default's type is the expected type
    defaults: dict = {}

    def __init__(self, **options):
        self.options = validate_options(self.defaults, options, where=self.name or type(self).__name__)

    def __repr__(self):
        return f"{type(self).__name__}({self.options})"


def validate_options(defaults, options, where):
    """Merge ``options`` over ``defaults``; unknown keys and wrong types raise ConfigError."""
    merged = dict(defaults)
    for key, value in (options or {}).items():
        if key not in defaults:
            raise ConfigError(
                f"{where}: unknown option {key!r}{suggest(key, defaults)}; accepted: {', '.join(sorted(defaults))}"
            )
        merged[key] = coerce(value, defaults[key], f"{where}.{key}")
    return merged


def coerce(value, default, where):
    """Check ``value`` against the type of ``default`` (None default accepts anything)."""
    if default is None or value is None:
        return value
    expected = type(default)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, expected):
        return value
    raise ConfigError(f"{where}: expected {expected.__name__}, got {type(value).__name__} {value!r}")


class Encoder(Configurable):
    """Turns raw inputs of one modality into a feature vector.

    Subclasses set ``modality`` (``"text"`` or ``"image"``) and implement ``build``.

    Text encoders: ``build(train_texts)`` returns a Keras model from a batch of raw
    strings (input shape ``(1,)``, dtype string) to features; preprocessing (tokenising,
    vectorising) lives inside that model, so a saved model takes raw strings.

    Image encoders: ``build(None)`` returns a Keras model from a batch of RGB pixels in
    [0, 255] (shape ``(size, size, 3)``, float32) to features; normalisation lives inside
    the model. ``image_size()`` says which size to resize to.

    Frozen encoders (``frozen() -> True``) never train: their features may be cached
    by ``identity()``, and only the classifier head is fitted.
    """

    modality: str = "text"

    def build(self, train_inputs=None):
        """Return a Keras model from raw inputs to features."""
        raise NotImplementedError

    def frozen(self) -> bool:
        """True when the built model's weights stay fixed during head training."""
        return False

    def image_size(self) -> int | None:
        """Side in pixels that images are resized to (image encoders only)."""
        return None

    def identity(self) -> dict:
        """What determines the features: used as the feature-cache key (frozen encoders)."""
        return {"encoder": self.name, "class": type(self).__qualname__, "options": self.options}

    def unfreeze(self, model, blocks: int) -> None:
        """Make the top ``blocks`` blocks of a built model trainable (fine-tuning)."""
        raise NotImplementedError(f"encoder {self.name!r} does not support fine-tuning")


class Classifier(Configurable):
    """A head from features to probabilities over the labels."""

    def build(self, feature_dim: int, num_labels: int):
        """Return a Keras model from ``(feature_dim,)`` features to ``num_labels`` probabilities."""
        raise NotImplementedError


class Fusion(Configurable):
    """Combines per-modality user scores into one score per interest.

    ``fuse(scores)`` takes ``{modality: {interest: score}}`` (a modality the user has no
    posts for is absent; an interest a modality does not know is absent from its dict)
    and returns ``{interest: fused score}``, higher meaning more interested.
    """

    def fuse(self, scores: dict[str, dict[str, float]]) -> dict[str, float]:
        raise NotImplementedError

    def fit(self, examples) -> None:
        """Optionally learn parameters from ``[(scores, true_interest), ...]``."""

    def params(self) -> dict:
        """Parameters to save with a fitted fusion (default: the options)."""
        return dict(self.options)
