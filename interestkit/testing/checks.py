"""Checks a plugin author runs from their own tests.

Each check exercises a plugin class through the same code paths interestkit uses and
raises ``AssertionError`` with a message that says what was expected and what came
back::

    from interestkit.testing import check_encoder

    def test_my_encoder():
        check_encoder(MyEncoder, "text", {"units": 8})

* ``check_encoder(cls, modality, tiny_options)``: builds the encoder on a tiny labelled
  dataset, trains it one step with the softmax head, and checks that predictions are
  unchanged after ``InterestModel.save``/``load`` and after logging, registering and
  loading the model through MLflow (in a temporary store).
* ``check_classifier(cls, options)``: shapes, probabilities, one training step, ``.keras``
  round trip.
* ``check_fusion(cls, options)``: a missing modality, the union of labels, empty input,
  determinism, inputs left untouched.

They need TensorFlow (encoder and classifier checks) and write only to temporary folders.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import hooks, tracking
from ..data.datasets import load_dataset
from ..hooks import PluginInfo
from ..interfaces import MODALITIES, Classifier, Encoder, Fusion
from ..modeling import config
from ..modeling.config import TRAINING_RULES
from ..modeling.model import InterestModel
from ..modeling.train import train
from ..options import validate_options
from .synthetic import make_image, make_text_table

TINY_LABELS = ("Cooking", "Golf", "Pets")
TINY_TRAINING = {
    "epochs": 1,
    "batch_size": 256,  # one step: the tiny dataset fits in one batch
    "val_split": 0.25,
    "early_stopping": False,
    "calibrate": True,
    "cache": False,
    "verbose": 0,
}
ATOL = 1e-5


def check(condition, message: str) -> None:
    """Raise AssertionError(message) unless ``condition`` (kept under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


def _named(cls, kind_base, what):
    check(isinstance(cls, type) and issubclass(cls, kind_base),
          f"{what} must be a subclass of interestkit.{kind_base.__name__}, got {cls!r}")
    return cls.name or cls.__name__.lower()


# --- encoders ----------------------------------------------------------------------


def check_encoder(cls, modality: str, tiny_options: dict | None = None, per_label: int = 8):
    """Build, train one step, save/load and MLflow round-trip an encoder; return the model.

    ``tiny_options`` are encoder options that keep it small (a short sequence, a small
    image size, no pretrained download). The encoder is trained with the built-in
    ``softmax`` head on ``per_label`` examples of each of three labels.
    """
    name = _named(cls, Encoder, "encoder class")
    check(modality in MODALITIES, f"modality must be one of {MODALITIES}, got {modality!r}")
    check(cls.modality == modality, f"{name}: modality is {cls.modality!r}, expected {modality!r}")
    encoder = cls(**(tiny_options or {}))
    encoder.name = name
    check(isinstance(encoder.frozen(), bool), f"{name}: frozen() must return a bool, got {encoder.frozen()!r}")
    _check_identity(encoder)
    with tempfile.TemporaryDirectory(prefix="interestkit-check-") as tmp:
        tmp = Path(tmp)
        dataset, samples = _tiny_dataset(modality, tmp / "data", per_label)
        _check_built_model(name, encoder, encoder.build(dataset.inputs if modality == "text" else None))
        result = _train_one_step(encoder, dataset)
        model = result.model
        expected = _predict(model, samples)
        check(expected.shape == (len(samples), len(TINY_LABELS)),
              f"{name}: predictions have shape {expected.shape}, expected {(len(samples), len(TINY_LABELS))}")
        check(np.all(np.isfinite(expected)), f"{name}: predictions contain NaN or infinity")
        check(np.allclose(expected.sum(axis=1), 1.0, atol=1e-4), f"{name}: prediction rows do not sum to 1")
        _check_same(name, "predicting twice", expected, _predict(model, samples))
        reloaded = InterestModel.load(model.save(tmp / "saved"))
        _check_same(name, "InterestModel.save/load", expected, _predict(reloaded, samples))
        from_mlflow = _mlflow_round_trip(encoder, result, dataset, tmp)
        _check_same(name, "MLflow log/register/load", expected, _predict(from_mlflow, samples))
        return model


def _check_identity(encoder):
    try:
        json.dumps(encoder.identity(), sort_keys=True)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{encoder.name}: identity() must be plain JSON data (it keys the feature cache): {error}")


def _tiny_dataset(modality, folder, per_label):
    """(Dataset, sample inputs to predict) for ``modality``, written under ``folder``."""
    folder.mkdir(parents=True)
    if modality == "text":
        dataset = load_dataset(make_text_table(folder / "captions.tsv", TINY_LABELS, per_label), "text")
        return dataset, ["A birdie on the last hole. What a day!", "Garlic pasta tonight.", "puppy", "ok"]
    rng = np.random.default_rng(0)
    for label in TINY_LABELS:
        (folder / label).mkdir()
        for k in range(per_label):
            make_image(label, rng, 48).save(folder / label / f"{k:03d}.png")
    dataset = load_dataset(folder, "image")
    return dataset, [str(p) for p in dataset.inputs[:: max(1, len(dataset) // 4)]][:4]


def _training_options():
    return validate_options(TRAINING_RULES, TINY_TRAINING, "check_encoder")


def _softmax_head():
    return hooks.get("classifier", "softmax").cls()


def _train_one_step(encoder, dataset):
    try:
        return train(encoder, _softmax_head(), dataset, _training_options(), log=lambda message: None)
    except AssertionError:
        raise
    except Exception as error:
        raise AssertionError(f"{encoder.name}: training one step failed: {type(error).__name__}: {error}") from error


def _check_built_model(name, encoder, keras_model):
    shape = tuple(keras_model.output_shape)
    check(len(shape) == 2 and isinstance(shape[-1], int) and shape[-1] > 0,
          f"{name}: build() must return a model with output shape (batch, features), got {shape}")
    if encoder.modality == "text":
        check(tuple(keras_model.input_shape) == (None, 1) and str(keras_model.inputs[0].dtype) == "string",
              f"{name}: a text encoder takes raw strings of shape (batch, 1); got input shape "
              f"{keras_model.input_shape}, dtype {keras_model.inputs[0].dtype}")
    else:
        size = encoder.image_size()
        check(isinstance(size, int) and size > 0, f"{name}: image_size() must return a positive int, got {size!r}")
        check(tuple(keras_model.input_shape) == (None, size, size, 3),
              f"{name}: an image encoder takes pixels of shape (batch, {size}, {size}, 3); "
              f"got {keras_model.input_shape}")


def _predict(model, samples) -> np.ndarray:
    if model.modality == "text":
        return np.asarray(model.predict_texts(samples))
    probs, kept, failures = model.predict_images(samples)
    check(not failures and list(kept) == list(range(len(samples))), f"unreadable sample images: {failures}")
    return np.asarray(probs)


def _check_same(name, how, expected, actual):
    check(actual.shape == expected.shape, f"{name}: after {how} predictions have shape {actual.shape}, "
                                          f"expected {expected.shape}")
    both_nan = np.isnan(expected) & np.isnan(actual)
    close = np.isclose(expected, actual, atol=ATOL) | both_nan
    worst = float(np.nanmax(np.abs(expected - actual))) if actual.size else 0.0
    check(bool(close.all()), f"{name}: predictions changed after {how} (max difference {worst:.2e})")


@contextmanager
def temporary_store(folder):
    """Point interestkit's MLflow store at ``folder`` for the duration (environment restored)."""
    import mlflow

    saved = {key: os.environ.get(key) for key in ("INTERESTKIT_REGISTRY", "MLFLOW_TRACKING_URI")}
    uris = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    os.environ["INTERESTKIT_REGISTRY"] = str(folder)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield Path(folder)
    finally:
        mlflow.set_tracking_uri(uris[0])
        mlflow.set_registry_uri(uris[1])
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _mlflow_round_trip(encoder, result, dataset, tmp):
    """Log and register ``result`` in a temporary store, then load it back by model URI."""
    package = type(encoder).__module__.split(".")[0]
    info = PluginInfo(encoder.name, "encoder", type(encoder), "interestkit.testing", package, "0", [])
    resolved = config.resolve({}, encoder.name, {"training": TINY_TRAINING,
                                                 "tracking": {"experiment": "interestkit-testing"}})
    with temporary_store(tmp / "registry"):
        with tracking.training_run(resolved, info, dataset.fingerprint(), str(dataset.source)) as run:
            summary = run.finish(result, dataset.fingerprint(), register_model=True)
        check(summary.get("version"), f"{encoder.name}: the model was not registered in MLflow ({summary})")
        model, _ = tracking.load_interest_model(f"models:/{summary['registered_model']}/{summary['version']}")
    return model


# --- classifiers ---------------------------------------------------------------------


def check_classifier(cls, options: dict | None = None, feature_dim: int = 8, num_labels: int = 3):
    """A head: shapes, probabilities, one training step, ``.keras`` round trip; returns the model."""
    import keras

    name = _named(cls, Classifier, "classifier class")
    head = cls(**(options or {})).build(feature_dim, num_labels)
    check(isinstance(head, keras.Model), f"{name}: build() must return a keras.Model, got {type(head).__name__}")
    check(tuple(head.input_shape) == (None, feature_dim),
          f"{name}: input shape {head.input_shape}, expected (None, {feature_dim})")
    check(tuple(head.output_shape) == (None, num_labels),
          f"{name}: output shape {head.output_shape}, expected (None, {num_labels})")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(12, feature_dim)).astype(np.float32)
    probs = np.asarray(head.predict(features, verbose=0))
    check(np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4),
          f"{name}: outputs must be probabilities (non-negative rows summing to 1)")
    head.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = head.fit(features, np.arange(12) % num_labels, epochs=1, batch_size=12, verbose=0)
    check(math.isfinite(history.history["loss"][-1]), f"{name}: training one step gave a non-finite loss")
    expected = np.asarray(head.predict(features, verbose=0))
    with tempfile.TemporaryDirectory(prefix="interestkit-check-") as tmp:
        path = Path(tmp) / "head.keras"
        head.save(path)
        reloaded = keras.models.load_model(path, compile=False, safe_mode=True)
    _check_same(name, ".keras save/load", expected, np.asarray(reloaded.predict(features, verbose=0)))
    return head


# --- fusions ---------------------------------------------------------------------------


FUSION_CASES = {
    "one modality": {"text": {"Golf": 0.7, "Pets": 0.2, "Cooking": 0.1}},
    "two modalities": {"text": {"Golf": 0.6, "Pets": 0.4}, "image": {"Pets": 0.5, "Cooking": 0.5}},
}


def check_fusion(cls, options: dict | None = None):
    """A fusion: missing modality, union of labels, empty input, determinism; returns it."""
    name = _named(cls, Fusion, "fusion class")
    fusion = cls(**(options or {}))
    examples = [(FUSION_CASES["two modalities"], "Pets"), (FUSION_CASES["one modality"], "Golf")]
    fusion.fit(copy.deepcopy(examples))
    _check_json(name, fusion.params())
    for case in ("empty input", "only empty modalities"):
        scores = {} if case == "empty input" else {"text": {}, "image": {}}
        fused = _fuse(fusion, name, scores, case)
        check(fused == {}, f"{name}: {case} must give {{}}, got {fused!r}")
    single = FUSION_CASES["one modality"]
    fused = _fuse(fusion, name, single, "a missing modality")
    check(set(fused) == set(single["text"]),
          f"{name}: with only text scores the result must cover exactly their interests; got {sorted(fused)}")
    order = sorted(fused, key=lambda i: (-fused[i], i))
    check(order == ["Golf", "Pets", "Cooking"],
          f"{name}: with one modality the ranking must follow its scores (Golf, Pets, Cooking); got {order}")
    both = FUSION_CASES["two modalities"]
    fused = _fuse(fusion, name, both, "two modalities")
    check(set(fused) == {"Cooking", "Golf", "Pets"},
          f"{name}: the result must cover the union of the modalities' interests; got {sorted(fused)}")
    reordered = {"image": dict(reversed(list(both["image"].items()))), "text": both["text"]}
    again = _fuse(fusion, name, both, "a second call"), _fuse(fusion, name, reordered, "reordered input")
    check(again == (fused, fused), f"{name}: fusing the same scores again (or in another order) gave a different result")
    return fusion


def _fuse(fusion, name, scores, case):
    before = copy.deepcopy(scores)
    try:
        fused = fusion.fuse(scores)
    except Exception as error:
        raise AssertionError(f"{name}: fuse() raised on {case}: {type(error).__name__}: {error}") from error
    check(scores == before, f"{name}: fuse() modified its input ({case})")
    check(isinstance(fused, dict), f"{name}: fuse() must return a dict, got {type(fused).__name__} ({case})")
    bad = {k: v for k, v in fused.items() if not isinstance(v, (int, float)) or not math.isfinite(v)}
    check(not bad, f"{name}: fused scores must be finite numbers; got {bad} ({case})")
    return fused


def _check_json(name, params):
    try:
        json.dumps(params)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{name}: params() must be JSON data (it is saved with the model): {error}")
