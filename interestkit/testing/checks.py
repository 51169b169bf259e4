"""Checks a plugin author runs from their own tests.

Each check exercises a plugin class through the same code paths interestkit uses and
raises ``AssertionError`` with a message that says what was expected and what came
back::

    from interestkit.testing import check_encoder

    def test_my_encoder():
        check_encoder(MyEncoder, "text", {"units": 8})

* ``check_encoder(cls, modality, tiny_options)``: the class would be accepted at
  registration; it builds on a tiny labelled dataset and trains one step with the
  softmax head; the saved model loads, with the same predictions, in a fresh process
  that finds plugins only through installed entry points (``interestkit.testing.process``),
  and after logging, registering and loading it through MLflow (a temporary store).
* ``check_classifier(cls, options)``: shapes, probabilities, one training step, ``.keras``
  round trip.
* ``check_fusion(cls, options)``: the fusion contract (``interestkit.testing.fusions``).
* ``check_import_cost(module)``: the plugin's entry point imports no heavy library and
  takes at most 0.5 s (``interestkit.testing.process``).

A method left to the subclass (``build``, ``fuse``) and a model that does not load
again are ``AssertionError``s with a hint.

They need TensorFlow (encoder and classifier checks) and write only to temporary folders.
"""

from __future__ import annotations

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
from ..hooks import validation
from ..interfaces import MODALITIES
from ..modeling import config
from ..modeling.config import TRAINING_RULES
from ..modeling.train import train
from ..options import validate_options
from ..runtime.choice import forced
from . import process
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


def checked_class(kind: str, cls) -> str:
    """The name to check ``cls`` under; AssertionError if interestkit would refuse to register it."""
    problem = validation.registration_problem(kind, cls)
    name = getattr(cls, "name", "") or getattr(cls, "__name__", type(cls).__name__).lower()
    check(problem is None, f"{name}: registered as {_article(kind)} {kind}, it would be refused: {problem}")
    return name


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def calling(name: str, method: str, function, *args):
    """``function(*args)``; an exception becomes an AssertionError naming the method (and, for
    NotImplementedError, saying that the method still has to be written)."""
    try:
        return function(*args)
    except AssertionError:
        raise
    except NotImplementedError as error:
        said = f": {error}" if str(error) else ""
        raise AssertionError(f"{name}: {method} is not implemented (it raised NotImplementedError{said}): "
                             "implement it in the subclass") from error
    except Exception as error:
        raise AssertionError(f"{name}: {method} failed: {type(error).__name__}: {error}") from error


# --- encoders ----------------------------------------------------------------------


def check_encoder(cls, modality: str, tiny_options: dict | None = None, per_label: int = 8):
    """Build, train one step, save/load and MLflow round-trip an encoder; return the model.

    ``tiny_options`` are encoder options that keep it small (a short sequence, a small
    image size, no pretrained download). The encoder is trained with the built-in
    ``softmax`` head on ``per_label`` examples of each of three labels.
    """
    name = checked_class("encoder", cls)
    registered = next((info for info in hooks.collect("encoder").values() if info.cls is cls), None)
    name = registered.name if registered else name
    found = (registered.package, registered.version) if registered and registered.package != registered.plugin \
        else process.distribution_of(cls)
    check(modality in MODALITIES, f"modality must be one of {MODALITIES}, got {modality!r}")
    check(cls.modality == modality, f"{name}: modality is {cls.modality!r}, expected {modality!r}")
    encoder = cls(**(tiny_options or {}))
    encoder.name = name
    check(isinstance(encoder.frozen(), bool), f"{name}: frozen() must return a bool, got {encoder.frozen()!r}")
    _check_identity(encoder)
    with tempfile.TemporaryDirectory(prefix="interestkit-check-") as tmp:
        tmp = Path(tmp)
        dataset, samples = _tiny_dataset(modality, tmp / "data", per_label)
        built = calling(name, "build()", encoder.build, dataset.inputs if modality == "text" else None)
        _check_built_model(name, encoder, built)
        result = _train_one_step(encoder, dataset)
        model = result.model
        if found:  # recorded as `interestkit train` records it: a failed load can then name it
            model.meta.update(plugin_package=found[0], plugin_package_version=found[1])
        expected = _predict(model, samples)
        check(expected.shape == (len(samples), len(TINY_LABELS)),
              f"{name}: predictions have shape {expected.shape}, expected {(len(samples), len(TINY_LABELS))}")
        check(np.all(np.isfinite(expected)), f"{name}: predictions contain NaN or infinity")
        check(np.allclose(expected.sum(axis=1), 1.0, atol=1e-4), f"{name}: prediction rows do not sum to 1")
        _check_same(name, "predicting twice", expected, _predict(model, samples))
        try:
            again = process.load_in_fresh_process(model.save(tmp / "saved"), samples, found[0] if found else None)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
        _check_same(name, "saving and loading in a fresh process", expected, again)
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
    head, options = _softmax_head(), _training_options()
    return calling(encoder.name, "training one step",
                   lambda: train(encoder, head, dataset, options, log=lambda message: None))


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
    resolved = {"plugin": encoder.name, "encoder": dict(encoder.options),
                "classifier": {"name": "softmax", "options": {}}, "training": _training_options(),
                "tracking": validate_options(config.TRACKING_RULES, {"experiment": "interestkit-testing"}, "tracking")}
    with temporary_store(tmp / "registry"):
        with tracking.training_run(resolved, info, dataset.fingerprint(), str(dataset.source)) as run:
            summary = run.finish(result, dataset.fingerprint(), register_model=True)
        check(summary.get("version"), f"{encoder.name}: the model was not registered in MLflow ({summary})")
        with forced("tf"):  # the plugin's own Keras model; an ONNX export is checked when it is written
            model, _ = tracking.load_interest_model(f"models:/{summary['registered_model']}/{summary['version']}")
    return model


# --- classifiers ---------------------------------------------------------------------


def check_classifier(cls, options: dict | None = None, feature_dim: int = 8, num_labels: int = 3):
    """A head: shapes, probabilities, one training step, ``.keras`` round trip; returns the model."""
    import keras

    name = checked_class("classifier", cls)
    head = calling(name, "build()", cls(**(options or {})).build, feature_dim, num_labels)
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
