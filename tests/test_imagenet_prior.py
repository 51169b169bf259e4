"""The imagenet_prior head: the mixture's math on a tiny fake encoder, saving, and errors."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from interestkit import hooks
from interestkit.errors import ConfigError
from interestkit.semantics import imagenet_class_names
from interestkit_plugins.imagenet_prior import prior_matrix

GOLF_BALL = imagenet_class_names().index("golf ball")
BEAGLE = imagenet_class_names().index("beagle")
LABELS = ["Golf", "Pets", "Cooking"]


class FakeLiteEncoder:
    """Four features; feature 0 makes ImageNet say 'golf ball', feature 1 'beagle'."""

    name = "fake_lite"

    def imagenet_classifier(self):
        kernel = np.zeros((4, 1000), np.float32)
        kernel[0, GOLF_BALL] = kernel[1, BEAGLE] = 12.0
        return kernel, np.zeros(1000, np.float32)


def head(prior_weight, labels=LABELS, build=True):
    """(classifier, its Keras model or None without ``build``, notes)."""
    classifier = hooks.get("classifier", "imagenet_prior").cls(prior_weight=prior_weight, embedder="glove",
                                                               dropout=0.0)
    notes = classifier.prepare(labels, FakeLiteEncoder())
    return classifier, classifier.build(4, len(labels)) if build else None, notes


FEATURES = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], np.float32)


@pytest.mark.integration  # builds the Keras model
def test_prior_alone_is_the_imagenet_classes_mapped_to_interests():
    classifier, model, _ = head(1.0)
    probs = model.predict(FEATURES, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert [LABELS[i] for i in probs[:2].argmax(axis=1)] == ["Golf", "Pets"]
    # the same numbers as the class map applied to the ImageNet softmax
    logits = FEATURES @ classifier.kernel + classifier.bias
    imagenet = np.exp(logits - logits.max(axis=1, keepdims=True))
    imagenet /= imagenet.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, imagenet @ prior_matrix(classifier.class_map), atol=1e-5)


@pytest.mark.integration  # builds the Keras model
def test_mixture_is_the_weighted_mean_of_head_and_prior():
    _, mixed, _ = head(0.3)
    _, head_only, _ = head(0.0)
    _, prior_only, _ = head(1.0)
    head_only.get_layer("head_softmax").set_weights(mixed.get_layer("head_softmax").get_weights())
    expected = 0.7 * head_only.predict(FEATURES, verbose=0) + 0.3 * prior_only.predict(FEATURES, verbose=0)
    np.testing.assert_allclose(mixed.predict(FEATURES, verbose=0), expected, atol=1e-5)


@pytest.mark.integration
def test_only_the_softmax_head_trains_and_the_saved_head_loads_without_the_plugin(tmp_path):
    import keras

    _, model, _ = head(0.5)
    assert [w.path for w in model.trainable_weights] == ["head_softmax/kernel", "head_softmax/bias"]
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(FEATURES, np.array([0, 1, 2]), epochs=2, verbose=0)
    model.save(tmp_path / "head.keras")
    loaded = keras.models.load_model(tmp_path / "head.keras", compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(FEATURES, verbose=0), model.predict(FEATURES, verbose=0), atol=1e-6)


def test_prior_rows_stay_distributions_with_a_background():
    classifier, _, _ = head(0.5, build=False)
    matrix = prior_matrix(classifier.class_map)
    np.testing.assert_allclose(matrix.sum(axis=1), 1, atol=1e-5)
    tench = imagenet_class_names().index("tench")
    assert np.ptp(matrix[tench]) < np.ptp(matrix[GOLF_BALL])  # means nothing: nearly flat


def test_unreachable_interests_are_noted():
    _, _, notes = head(0.3, labels=["Golf", "Pets", "Qqqzzx"], build=False)  # a name GloVe does not know
    assert len(notes) == 1 and "Qqqzzx" in notes[0] and "glove" in notes[0]


@pytest.mark.integration  # imports Keras
def test_encoders_without_an_imagenet_classifier_and_misuse_are_config_errors():
    classifier = hooks.get("classifier", "imagenet_prior").cls(embedder="glove")
    mobilenet = hooks.get("encoder", "mobilenet_v2").cls()
    with pytest.raises(ConfigError, match="'mobilenet_v2' has no ImageNet classifier"):
        classifier.prepare(LABELS, mobilenet)
    with pytest.raises(ConfigError, match="prepare"):
        classifier.build(4, 3)
    classifier.prepare(LABELS, FakeLiteEncoder())
    with pytest.raises(ConfigError, match="prepared for 3 labels and 4-d features, built for 2 and 4"):
        classifier.build(4, 2)
    with pytest.raises(ConfigError, match="prior_weight"):
        hooks.get("classifier", "imagenet_prior").cls(prior_weight=1.5)


@pytest.mark.realdata
def test_prior_alone_reads_real_photos_far_above_chance():
    """Zero-shot: Lite0's ImageNet classifier mapped to the 30 photo interests (GloVe, the embedder
    every install has) on 4 real photos per interest. Measured on all 2,622: 0.34; chance 0.03."""
    from conftest import require_shared
    from interestkit.data.datasets import load_image_dataset
    from interestkit.data.splits import stratified_sample
    from interestkit.modeling.model import InterestModel

    dataset = load_image_dataset(require_shared("images", "train"))
    labels = sorted(set(dataset.labels))
    sample = dataset.subset(stratified_sample(dataset.labels, 4 * len(labels), 0))
    encoder = hooks.get("encoder", "efficientnet_lite0").cls()
    classifier = hooks.get("classifier", "imagenet_prior").cls(prior_weight=1.0, embedder="glove")
    classifier.prepare(labels, encoder)
    meta = {"image_size": 224, "frozen": True, "encoder_identity": encoder.identity()}
    model = InterestModel("image", labels, encoder.build(None), classifier.build(1280, len(labels)), meta)
    probs, kept, failures = model.predict_images(sample.inputs)
    y = np.array([labels.index(label) for label in sample.labels])[kept]
    top1 = float((probs.argmax(axis=1) == y).mean())
    print(f"zero-shot top-1 on {len(y)} photos: {top1:.3f}")
    assert not failures and top1 > 0.2
