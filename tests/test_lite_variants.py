"""EfficientNet-Lite1 and Lite2: block layouts, real ImageNet weights, the packaged classifier."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from interestkit import hooks
from interestkit.errors import ConfigError
from interestkit_plugins.efficientnet_lite import VARIANTS, build_lite, imagenet_classifier, lite_block_layers
from interestkit_plugins.efficientnet_lite.torch_weights import load_legacy_state_dict
from interestkit_plugins.efficientnet_lite.variants import round_filters, variant

TABBY, TIGER_CAT, EGYPTIAN_CAT, ESPRESSO = 281, 282, 285, 967


def square(image, side):
    from PIL import Image

    height, width = image.shape[:2]
    crop = min(height, width)
    top, left = (height - crop) // 2, (width - crop) // 2
    image = np.ascontiguousarray(image[top: top + crop, left: left + crop, :3])
    return np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR), dtype=np.float32)


@pytest.mark.parametrize("name, blocks, last_filters", [("lite0", 16, 320), ("lite1", 21, 320), ("lite2", 21, 352)])
def test_block_layout_fits_every_tensor_of_the_weights_file(name, blocks, last_filters):
    spec = VARIANTS[name]
    state = load_legacy_state_dict(spec.weights_path())
    assert spec.num_blocks == blocks == len({k.split(".")[1] for k in state if k.startswith("_blocks.")})
    for block in spec.blocks():
        prefix = f"_blocks.{block.index}."
        channels = block.filters_in * block.expand_ratio
        assert state[prefix + "_depthwise_conv.weight"].shape == (channels, 1, block.kernel_size, block.kernel_size)
        assert state[prefix + "_project_conv.weight"].shape[:2] == (block.filters_out, channels)
        assert (prefix + "_expand_conv.weight" in state) == (block.expand_ratio != 1)
    assert state["_conv_head.weight"].shape == (1280, last_filters, 1, 1)


def test_channel_rounding_follows_efficientnet():
    assert [round_filters(f, 1.1) for f in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    assert round_filters(40, 1.0) == 40
    with pytest.raises(ValueError, match="known: lite0, lite1, lite2"):
        variant("lite3")


@pytest.mark.integration  # a real Keras EfficientNet-Lite
@pytest.mark.parametrize("name", ["lite1", "lite2"])
def test_pretrained_variant_recognises_the_cat_and_the_coffee(name):
    skimage_data = pytest.importorskip("skimage.data")
    spec = VARIANTS[name]
    photos = np.stack([square(skimage_data.chelsea(), spec.image_size), square(skimage_data.coffee(), spec.image_size)])
    features = build_lite(name).predict(photos, verbose=0)
    assert features.shape == (2, 1280)
    kernel, bias = imagenet_classifier(name)
    logits = features @ kernel + bias
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    cat, coffee = probs
    print(f"{name}: cat classes {cat[[TABBY, TIGER_CAT, EGYPTIAN_CAT]].sum():.3f}, espresso {coffee[ESPRESSO]:.3f}")
    assert int(cat.argmax()) in {TABBY, TIGER_CAT, EGYPTIAN_CAT}
    assert cat[[TABBY, TIGER_CAT, EGYPTIAN_CAT]].sum() > 0.6
    assert int(coffee.argmax()) == ESPRESSO and coffee[ESPRESSO] > 0.5


@pytest.mark.integration  # a real Keras EfficientNet-Lite
def test_packaged_classifier_is_the_top_of_the_full_network():
    model = build_lite("lite1", image_size=64, include_top=True)
    kernel, bias = imagenet_classifier("lite1")
    np.testing.assert_array_equal(model.get_layer("top_logits").get_weights()[0], kernel)
    np.testing.assert_array_equal(model.get_layer("top_logits").get_weights()[1], bias)
    names = [layer.name for layer in lite_block_layers(model, 2)]
    assert names[0].startswith("block19_") and "block20_project_bn" in names and "top_logits" in names
    with pytest.raises(ValueError, match="between 0 and 21"):
        lite_block_layers(model, 22)


def test_encoders_are_registered_with_their_native_sizes():
    for name, size in (("efficientnet_lite1", 240), ("efficientnet_lite2", 260)):
        encoder = hooks.get("encoder", name, modality="image").cls()
        assert encoder.image_size() == size and encoder.frozen()
        assert encoder.identity()["weights"].startswith("sha256:")
        kernel, bias = encoder.imagenet_classifier()
        assert kernel.shape == (1280, 1000) and bias.shape == (1000,)
    with pytest.raises(ConfigError, match="no ImageNet classifier"):
        hooks.get("encoder", "efficientnet_lite2").cls(weights="none").imagenet_classifier()
