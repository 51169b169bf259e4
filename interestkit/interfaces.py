"""The three plugin interfaces: Encoder, Classifier and Fusion.

A plugin subclasses one of them and registers the class through a hook (see
``interestkit.hookspecs``). Registration is cheap: keep framework imports (keras,
tensorflow) inside methods, so listing plugins never loads a model or a framework.

Options: each class lists the options it accepts, with their defaults, in ``defaults``
(a plain default gives the type; ``interestkit.Option`` adds bounds or choices).
``__init__`` rejects unknown keys, values of the wrong type and values out of bounds,
naming the key, so a mistake fails when a config is resolved, before any training.
"""

from __future__ import annotations

from .options import validate_options

MODALITIES = ("text", "image")


class Configurable:
    """Base of all plugin classes: holds validated ``options``."""

    #: the name the class is registered under (set at registration)
    name: str = ""
    #: one line shown by ``interestkit plugins``
    description: str = ""
    #: accepted option names and their defaults (or ``Option`` rules)
    defaults: dict = {}

    def __init__(self, **options):
        self.options = validate_options(self.defaults, options, where=self.name or type(self).__name__)
        self.check_options()

    def check_options(self) -> None:
        """Rules between options; raise ``ConfigError`` naming the option. Default: none."""

    def __repr__(self):
        return f"{type(self).__name__}({self.options})"


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
    """A head from features to probabilities over the labels.

    Training calls ``prepare(labels, encoder)`` before ``build``: a head that needs the
    label names or something of the encoder (its ImageNet classifier, say) takes it
    there, and returns notes for the user (a list of strings, possibly empty).
    """

    def prepare(self, labels: list[str], encoder) -> list[str]:
        """See the labels (in output order) and the encoder before ``build``. Default: nothing."""
        return []

    def build(self, feature_dim: int, num_labels: int):
        """Return a Keras model from ``(feature_dim,)`` features to ``num_labels`` probabilities."""
        raise NotImplementedError


class Fusion(Configurable):
    """Combines per-modality user scores into one score per interest.

    ``fuse(scores)`` takes ``{modality: {interest: score}}`` (a modality the user has no
    posts for is absent; an interest a modality does not know is absent from its dict)
    and returns ``{interest: fused score}``, higher meaning more interested. The contract:
    the result covers exactly the union of the present modalities' interests, empty
    input gives ``{}``, the input is left untouched and the same input gives the same
    result. ``interestkit.testing.check_fusion`` checks all of it.

    A fusion with parameters to learn sets ``fittable = True`` and implements ``fit``;
    ``params()`` returns what ``fit`` learnt, in the form ``__init__`` accepts, so that
    ``cls(**params)`` rebuilds the fitted fusion.
    """

    #: True when ``fit`` learns parameters (``interestkit fusion fit`` accepts it)
    fittable: bool = False

    def fuse(self, scores: dict[str, dict[str, float]]) -> dict[str, float]:
        raise NotImplementedError

    def fit(self, examples) -> dict:
        """Learn parameters from ``[(scores, true_interest), ...]``; return fit metrics
        (``{name: number}``, logged with the fit). Default: nothing to learn, ``{}``."""
        return {}

    def params(self) -> dict:
        """Parameters that rebuild this fusion with ``cls(**params)`` (default: the options)."""
        return dict(self.options)


class TextEmbedder(Configurable):
    """Phrases to vectors, for comparing names by meaning: the zero-shot prototypes and the
    ImageNet-name mapping. Registered through ``register_embedders``.

    ``embed(texts)`` returns an ``(len(texts), d)`` array (rows need not be unit length).
    ``priority`` orders the embedders when none is named (the highest usable one wins);
    ``encoder`` names the frozen text encoder that embeds captions the same way, if any:
    zero-shot caption models are built on it.
    """

    #: which embedder ``auto`` picks: the highest priority
    priority: int = 0
    #: the frozen text encoder plugin that embeds like this one (None: none)
    encoder: str | None = None

    def embed(self, texts: list[str]):
        raise NotImplementedError
