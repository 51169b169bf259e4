"""InterestModel: a trained encoder + head + labels, with its preprocessing, saved as a folder.

The folder holds ``encoder.keras`` (raw input -> features), ``head.keras`` (features ->
probabilities) and ``meta.json`` (format, modality, labels, plugin, image size,
temperature, encoder identity). It takes raw inputs: captions as strings, photos as paths
or bytes. Loading needs interestkit and Keras; a model with a plugin's custom layers also
needs that plugin installed (its ``interestkit.keras_objects`` entry point is imported
first).

``load_model(folder)`` reads any model folder: ``meta.json``'s ``format`` names the class
(``keras``: this one; ``prototypes``: zero-shot and few-shot heads over a frozen encoder
plugin, ``modeling.prototypes``; ``ensemble``: the weighted mean of member models, ``interestkit.modeling.ensemble``).
Every format offers what ranking needs: ``modality``, ``labels``, ``temperature``,
``predict_texts``, ``predict_images`` and ``save`` (``modeling.interface.ScoringModel``).

A folder with an ONNX export (``export/``, ``runtime.manifest``) loads as
``runtime.onnx_model.ExportedModel`` unless ``INTERESTKIT_RUNTIME=tf`` asks for Keras
(``runtime.choice``): scoring then imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np

from .. import quiet
from ..atomic import atomic_folder
from ..data import text as text_utils
from ..data.augment import View
from ..data.images import load_images
from ..errors import ModelError
from ..hooks import KERAS_OBJECTS_GROUP, import_keras_objects, one_line, requirements
from ..runtime.choice import use_export
from .calibration import apply_temperature
from .features import image_features
from .interface import MetaProperties

BATCH = 256
#: at most this many inputs go through one compiled call of the model instead of ``Model.predict``,
#: whose fixed cost per call (a data pipeline, callbacks) dominates small and medium batches
SMALL_BATCH = BATCH

#: model folder formats: ``meta.json["format"]`` -> "module:class" (imported when used)
FORMATS = {
    "keras": "interestkit.modeling.model:InterestModel",
    "prototypes": "interestkit.modeling.prototypes:PrototypeModel",
    "ensemble": "interestkit.modeling.ensemble:EnsembleModel",
}
#: a folder with an ONNX export, scored without TensorFlow
EXPORTED = "interestkit.runtime.onnx_model:ExportedModel"


#: more formats, "name=module:Class,...": how tests make their TensorFlow-free stand-in
#: (``interestkit.testing.fakes``) loadable in every process they start
FORMATS_ENV = "INTERESTKIT_MODEL_FORMATS"


def formats() -> dict:
    """``FORMATS`` and those ``INTERESTKIT_MODEL_FORMATS`` adds."""
    known = dict(FORMATS)
    for entry in filter(None, (e.strip() for e in os.environ.get(FORMATS_ENV, "").split(","))):
        name, _, target = entry.partition("=")
        if not name.strip() or ":" not in target:
            raise ModelError(f"{FORMATS_ENV}: entry {entry!r} is not name=module:Class")
        known[name.strip()] = target.strip()
    return known


def _keras():
    quiet.prepare()
    import keras

    return keras


def read_meta(directory) -> dict:
    """A model folder's ``meta.json``; ModelError naming the folder if it is not one."""
    directory = Path(directory)
    meta_file = directory / "meta.json"
    if not meta_file.is_file():
        raise ModelError(f"{directory}: not an interestkit model folder (no meta.json)")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{meta_file}: unreadable model description ({error})") from None
    if not isinstance(meta, dict) or "modality" not in meta or "labels" not in meta:
        raise ModelError(f"{meta_file}: not an interestkit model description (no modality or labels)")
    return meta


def write_meta(directory, meta: dict) -> None:
    """Write a model folder's ``meta.json`` (the description ``read_meta`` reads back)."""
    (Path(directory) / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))


def load_model(directory):
    """Load a model folder of any format (see ``FORMATS``)."""
    meta = read_meta(directory)
    kind = meta.get("format", "keras")
    known = formats()
    if kind not in known:
        raise ModelError(f"{directory}: unknown model format {kind!r} (known: {', '.join(known)})")
    # prototypes load their export themselves (their head is numpy), ensembles through their members
    target = EXPORTED if kind not in ("ensemble", "prototypes") and use_export(directory) else known[kind]
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).load(directory)


class InterestModel(MetaProperties):
    """A trained interest classifier for one modality."""

    format = "keras"
    runtime = "tensorflow"  # what scores it (an export's model says onnxruntime-<precision>)

    def __init__(self, modality, labels, encoder_model, head_model, meta=None):
        self.modality = modality
        self.labels = list(labels)
        self.encoder_model = encoder_model
        self.head_model = head_model
        self.meta = dict(meta or {})
        self._full = None
        self._compiled = {}

    def full_model(self):
        """One Keras model from raw input to probabilities."""
        if self._full is None:
            keras = _keras()
            inputs = keras.Input(shape=self.encoder_model.input_shape[1:], dtype=self.encoder_model.inputs[0].dtype)
            self._full = keras.Model(inputs, self.head_model(self.encoder_model(inputs)))
        return self._full

    # --- prediction --------------------------------------------------------------

    def _calibrate(self, probs, calibrated: bool):
        return apply_temperature(probs, self.temperature) if calibrated else probs

    def _predict(self, model, inputs):
        if len(inputs) == 0:
            return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
        if len(inputs) <= SMALL_BATCH:
            return np.asarray(self._compiled_call(model)(inputs), dtype=np.float32)
        return np.asarray(model.predict(inputs, batch_size=BATCH, verbose=0), dtype=np.float32)

    def _compiled_call(self, model):
        """``model(x, training=False)`` as one ``tf.function`` traced once for any batch size."""
        key = id(model)
        if key not in self._compiled:
            import tensorflow as tf

            spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
            self._compiled[key] = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return self._compiled[key]

    def predict_sentences(self, sentences: list[str], calibrated: bool = True) -> np.ndarray:
        """Probabilities for each sentence as written (no splitting)."""
        import tensorflow as tf

        if not sentences:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        # shortest first: models that pad a batch to its longest sentence do far less work
        order = np.argsort([len(s) for s in sentences], kind="stable")
        probs = np.empty((len(sentences), len(self.labels)), dtype=np.float32)
        probs[order] = self._predict(self.full_model(), tf.constant([sentences[i] for i in order])[:, None])
        return self._calibrate(probs, calibrated)

    def predict_texts(self, texts: list[str], calibrated: bool = True) -> np.ndarray:
        """Per-caption probabilities: sentences classified, then word-weighted mean (NaN for blank)."""
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences, calibrated), owners, weights, len(texts))

    def image_features(self, sources, cache=None, on_error="skip", log=None, view=None):
        """``(features, kept, failures)`` of the encoder, through the cache when frozen
        (of an augmented ``view`` of each photo, if given)."""
        identity = self.meta.get("encoder_identity") if self.frozen else None
        return image_features(lambda pixels: self._predict(self.encoder_model, pixels), sources,
                              int(self.image_size), int(self.encoder_model.output_shape[-1]), cache, identity,
                              on_error, log, view=view)

    def predict_features(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        return self._calibrate(self._predict(self.head_model, features), calibrated)

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True):
        """(probabilities, kept indices, failures) for photos given as paths or bytes.

        With a frozen encoder and a ``FeatureCache``, features of photos seen before are
        read from the cache instead of being recomputed.
        """
        sources = list(sources)
        if self.frozen:
            features, kept, failures = self.image_features(sources, cache, on_error, log)
            if self.meta.get("tta") == "mirror" and kept:
                # test-time augmentation: the mean of the photo's and its mirror image's probabilities
                mirrored, _, _ = self.image_features([sources[i] for i in kept], cache, "skip", None, View.mirror())
                if len(mirrored) == len(kept):
                    probs = (self._predict(self.head_model, features) + self._predict(self.head_model, mirrored)) / 2
                    return self._calibrate(probs, calibrated), kept, failures
        else:
            pixels, kept, failures = load_images(sources, int(self.image_size), on_error=on_error)
        if not kept:
            return np.zeros((0, len(self.labels)), np.float32), kept, failures
        if self.frozen:
            return self.predict_features(features, calibrated), kept, failures
        return self._calibrate(self._predict(self.full_model(), pixels), calibrated), kept, failures

    # --- persistence ------------------------------------------------------------

    def save(self, directory) -> Path:
        """Write the model folder atomically (a staging folder renamed into place)."""
        directory = Path(directory)
        with atomic_folder(directory) as staging:
            self.encoder_model.save(staging / "encoder.keras")
            self.head_model.save(staging / "head.keras")
            meta = dict(self.meta, format=self.format, modality=self.modality, labels=self.labels)
            write_meta(staging, meta)
        return directory

    @classmethod
    def load(cls, directory) -> "InterestModel":
        directory = Path(directory)
        meta = read_meta(directory)
        meta.pop("format", None)
        keras = _keras()
        import_keras_objects()  # installed plugins' custom layers (e.g. the minilm tokeniser)
        try:
            encoder = keras.models.load_model(directory / "encoder.keras", compile=False, safe_mode=True)
            head = keras.models.load_model(directory / "head.keras", compile=False, safe_mode=True)
        except Exception as error:
            raise ModelError(load_failure(directory, meta, error)) from None
        return cls(meta.pop("modality"), meta.pop("labels"), encoder, head, meta)


def load_failure(directory, meta: dict, error: Exception) -> str:
    """Why a model folder's Keras files did not load, and what to install or allow, from ``meta.json``."""
    needs = requirements.model_needs(meta)
    unmet = requirements.missing(needs)
    if unmet:
        return f"{directory}: this model needs what is not available here: {'; '.join(unmet)}"
    keras_said = one_line(error)
    keras_said = keras_said if len(keras_said) <= 300 else keras_said[:297] + "..."
    third_party = [n for n in needs if n.package != "interestkit"]
    hint = (f"if {' or '.join(n.package for n in third_party)} defines custom Keras layers, it must name the module "
            f"that registers them in the '{KERAS_OBJECTS_GROUP}' entry-point group" if third_party else
            "the model may come from another interestkit or Keras version")
    notes = "".join(f"; {note}" for note in requirements.version_notes(needs))
    return f"{directory}: Keras cannot load the model ({keras_said}); {hint}{notes}"
