"""Training recipes for heads on frozen features: cached augmented views, mixup, label smoothing,
weight decay, test-time augmentation; their bounds."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from interestkit.data.augment import View
from interestkit.data.datasets import load_image_dataset
from interestkit.errors import ConfigError
from interestkit.interfaces import Encoder
from interestkit.modeling import fitting
from interestkit.modeling.cache import FeatureCache
from interestkit.modeling.config import TRAINING_DEFAULTS, TRAINING_RULES, resolve
from interestkit.modeling.features import image_features
from interestkit.modeling.train import image_only_notes, train
from interestkit.testing.synthetic import make_workspace
from interestkit import hooks

QUIET = lambda message: None  # noqa: E731
RNG = np.random.default_rng(0)
PIXELS = RNG.uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)


@pytest.mark.integration
def test_a_view_is_the_same_image_every_time_and_differs_between_views():
    hashes = ["ab" * 32, "cd" * 32]
    view = View(index=0, crop=0.5, jitter=0.3)
    once, again = view.apply(PIXELS, hashes), view.apply(PIXELS, hashes)
    np.testing.assert_array_equal(once, again)
    assert once.shape == PIXELS.shape and once.min() >= 0 and once.max() <= 255
    assert not np.allclose(once, View(index=1, crop=0.5, jitter=0.3).apply(PIXELS, hashes))
    assert not np.allclose(once[0], PIXELS[0])
    np.testing.assert_array_equal(View.mirror().apply(PIXELS, hashes), PIXELS[:, :, ::-1])
    np.testing.assert_allclose(View(crop=1.0, flip=False, jitter=0.0).apply(PIXELS, hashes), PIXELS)
    assert View.mirror().key() == {"view": "mirror"} and View(index=2).key()["view"] == 2


def test_views_are_cached_under_their_own_key(tmp_path):
    workspace = make_workspace(tmp_path / "ws", interests=["Golf", "Pets"], image_interests=["Golf", "Pets"],
                               images_per_interest=2, captions_per_interest=2, users=1, image_size=24)
    paths = load_image_dataset(workspace["images"]).inputs
    cache = FeatureCache(tmp_path / "cache")
    calls = []

    def encode(pixels):
        calls.append(len(pixels))
        return pixels.mean(axis=(1, 2))

    identity = {"encoder": "mean-colour"}
    plain, _, _ = image_features(encode, paths, 16, 3, cache, identity)
    mirrored, _, _ = image_features(encode, paths, 16, 3, cache, identity, view=View.mirror())
    np.testing.assert_allclose(plain, mirrored, atol=1e-4)  # a mirror keeps the mean colour
    jittered, _, _ = image_features(encode, paths, 16, 3, cache, identity, view=View(jitter=0.5))
    assert not np.allclose(plain, jittered)
    assert sum(calls) == 3 * len(paths) and cache.info()["encoders"] == 3
    again, _, _ = image_features(encode, paths, 16, 3, cache, identity, view=View(jitter=0.5))
    np.testing.assert_array_equal(again, jittered)
    assert sum(calls) == 3 * len(paths)  # the view came from the cache


@pytest.mark.integration  # tf.data and Keras: TensorFlow
def test_mixup_batches_mix_features_targets_and_weights_alike():
    x = np.eye(4, dtype=np.float32)
    y = fitting.targets(np.array([0, 1, 2, 0]), 3, {"mixup": 0.4})
    weights = fitting.sample_weights(y, {0: 1.0, 1: 2.0, 2: 3.0})
    assert weights.tolist() == [1.0, 2.0, 3.0, 1.0]
    for xb, yb, wb in fitting.mixup_batches(x, y, weights, 4, 0.4, seed=0).take(3):
        xb, yb, wb = xb.numpy(), yb.numpy(), wb.numpy()
        np.testing.assert_allclose(yb.sum(axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(xb.sum(axis=1), 1, atol=1e-5)  # a convex mix of one-hot features
        # each mixed target is the same mix of labels as the features are of examples
        np.testing.assert_allclose(xb @ y, yb, atol=1e-5)
        np.testing.assert_allclose(xb @ weights, wb, atol=1e-5)


@pytest.mark.integration  # tf.data and Keras: TensorFlow
def test_loss_targets_and_optimiser_follow_the_options():
    import keras

    plain = dict(TRAINING_DEFAULTS)
    assert not fitting.dense_targets(plain) and fitting.loss(plain) == "sparse_categorical_crossentropy"
    smooth = dict(plain, label_smoothing=0.1, weight_decay=1e-3)
    assert fitting.targets(np.array([1]), 3, smooth).tolist() == [[0, 1, 0]]
    assert isinstance(fitting.optimizer(1e-3, smooth), keras.optimizers.AdamW)
    assert isinstance(fitting.optimizer(1e-3, plain), keras.optimizers.Adam)
    assert fitting.loss(smooth).get_config()["label_smoothing"] == pytest.approx(0.1)


@pytest.mark.parametrize("key, value", [("label_smoothing", 1.0), ("weight_decay", -0.1), ("mixup", 11),
                                        ("augment_views", 17), ("view_crop", 0), ("view_jitter", 1.0),
                                        ("tta", "yes")])
def test_out_of_bounds_recipe_options_fail_before_training(key, value):
    assert key in TRAINING_RULES
    with pytest.raises(ConfigError, match=f"training.{key}|{key}"):
        resolve({"training": {key: value}}, "efficientnet_lite0")


def test_options_a_kind_of_training_cannot_use_are_noted():
    options = dict(TRAINING_DEFAULTS, augment_views=2, mixup=0.2, tta=True)
    assert image_only_notes("image", True, options) == []
    assert "augment_views, tta" in image_only_notes("text", True, options)[0]
    assert "mixup" not in image_only_notes("text", True, options)[0]
    assert "augment_views, tta, mixup" in image_only_notes("image", False, options)[0]


class MeanColourEncoder(Encoder):
    """A frozen 'encoder' of 16-pixel photos: mean colour and its square (6 features)."""

    modality = "image"
    name = "mean_colour"

    def frozen(self):
        return True

    def image_size(self):
        return 16

    def identity(self):
        return {"encoder": "mean_colour", "version": 1}

    def build(self, train_inputs=None):
        import keras

        inputs = keras.Input(shape=(16, 16, 3), name="pixels")
        mean = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
        return keras.Model(inputs, keras.layers.Concatenate()([mean, keras.layers.Multiply()([mean, mean])]))


@pytest.mark.integration
def test_train_with_every_recipe_option_on_frozen_features(tmp_path):
    workspace = make_workspace(tmp_path / "ws", interests=["Golf", "Pets", "Travel"],
                               image_interests=["Golf", "Pets", "Travel"], images_per_interest=6,
                               captions_per_interest=2, users=1, image_size=24)
    dataset = load_image_dataset(workspace["images"])
    cache = FeatureCache(tmp_path / "cache")
    options = dict(TRAINING_DEFAULTS, epochs=2, batch_size=4, verbose=0, val_split=0.2, augment_views=2,
                   mixup=0.3, label_smoothing=0.1, weight_decay=1e-3, tta=True)
    head = hooks.get("classifier", "softmax").cls(dropout=0.1)
    result = train(MeanColourEncoder(), head, dataset, options, cache=cache, log=QUIET)
    assert result.metrics["epochs"] == 2 and np.isfinite(result.history["loss"]).all()
    assert result.model.meta["tta"] == "mirror"
    assert cache.info()["encoders"] == 4  # the photos, two augmented views, the mirror images
    # predictions average each photo with its mirror image
    probs, kept, _ = result.model.predict_images(dataset.inputs[:3], cache, calibrated=False)
    features, _, _ = result.model.image_features(dataset.inputs[:3], cache)
    mirrored, _, _ = result.model.image_features(dataset.inputs[:3], cache, view=View.mirror())
    expected = (result.model.head_model.predict(features, verbose=0) + result.model.head_model.predict(mirrored,
                                                                                                       verbose=0)) / 2
    np.testing.assert_allclose(probs, expected, atol=1e-5)
