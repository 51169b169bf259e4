"""An ensemble of models of one modality: the weighted mean of its members' probabilities.

Members are any model folders (``keras``, ``fake``, even other ensembles) over the same
set of interests; each applies its own temperature, so the members' calibrated
probabilities are averaged. The folder holds ``meta.json`` (format ``ensemble``, the
labels, the weights and what each member was loaded from) and a copy of every member
under ``members/<n>``, so a saved ensemble needs nothing outside itself. It offers what
ranking needs (``predict_texts``, ``predict_sentences``, ``predict_images``), so
``rank``, ``recommend``, ``predict``, ``test`` and the hybrid use it like any model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..data import text as text_utils
from ..errors import ModelError
from .model import load_model, read_meta, write_meta


def check_members(models, weights=None, names=None) -> list[float]:
    """The normalised weights; ModelError when the members differ in modality or interests."""
    names = list(names or [f"member {i + 1}" for i in range(len(models))])
    if len(models) < 2:
        raise ModelError(f"an ensemble needs at least 2 models, got {len(models)}")
    first = models[0]
    for name, model in zip(names[1:], models[1:]):
        if model.modality != first.modality:
            raise ModelError(f"{name} is a {model.modality} model but {names[0]} is a {first.modality} model; "
                             "an ensemble averages models of one modality")
        if set(model.labels) != set(first.labels):
            extra, missing = sorted(set(model.labels) - set(first.labels)), sorted(set(first.labels) - set(model.labels))
            raise ModelError(f"{name} and {names[0]} know different interests (only in {name}: "
                             f"{', '.join(extra) or 'none'}; only in {names[0]}: {', '.join(missing) or 'none'}); "
                             "an ensemble needs the same interest list")
    weights = [1.0] * len(models) if weights is None else [float(w) for w in weights]
    if len(weights) != len(models):
        raise ModelError(f"{len(weights)} weights for {len(models)} models; give one weight per model")
    if any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ModelError(f"ensemble weights must be non-negative numbers, not all 0 (got {weights})")
    return [w / sum(weights) for w in weights]


class EnsembleModel:
    """The weighted mean of several models' calibrated probabilities."""

    format = "ensemble"

    def __init__(self, members, weights=None, meta=None):
        self.members = list(members)
        self.weights = check_members(self.members, weights)
        self.modality = self.members[0].modality
        self.labels = list(self.members[0].labels)
        self.meta = {"plugin": "ensemble", **dict(meta or {})}
        # each member's columns in the ensemble's label order
        self._columns = [[list(m.labels).index(label) for label in self.labels] for m in self.members]

    @property
    def temperature(self) -> float:
        return 1.0  # members are calibrated; the mean is not rescaled

    @property
    def image_size(self):
        return self.members[0].image_size

    @property
    def frozen(self) -> bool:
        return False

    def _mean(self, outputs) -> np.ndarray:
        return sum(w * np.asarray(out, dtype=np.float64)[:, cols]
                   for w, out, cols in zip(self.weights, outputs, self._columns)).astype(np.float32)

    def predict_sentences(self, sentences, calibrated: bool = True) -> np.ndarray:
        return self._mean([m.predict_sentences(list(sentences), calibrated) for m in self.members])

    def predict_texts(self, texts, calibrated: bool = True) -> np.ndarray:
        sentences, owners, weights = text_utils.explode(texts)
        return text_utils.aggregate(self.predict_sentences(sentences, calibrated), owners, weights, len(texts))

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True):
        """Photos every member could read; failures as the first member reports them."""
        sources = list(sources)
        results = [m.predict_images(sources, cache=cache, on_error=on_error, log=log, calibrated=calibrated)
                   for m in self.members]
        kept = sorted(set.intersection(*(set(k) for _, k, _ in results)))
        rows = [{index: row for row, index in enumerate(k)} for _, k, _ in results]
        outputs = [probs[[where[i] for i in kept]] for (probs, _, _), where in zip(results, rows)]
        if not kept:
            return np.zeros((0, len(self.labels)), np.float32), [], results[0][2]
        return self._mean(outputs), kept, results[0][2]

    def save(self, directory) -> Path:
        directory = Path(directory)
        with atomic_folder(directory) as staging:
            for n, member in enumerate(self.members):
                member.save(staging / "members" / str(n))
            meta = dict(self.meta, format=self.format, modality=self.modality, labels=self.labels,
                        weights=self.weights, members=len(self.members))
            write_meta(staging, meta)
        return directory

    @classmethod
    def load(cls, directory) -> "EnsembleModel":
        directory = Path(directory)
        meta = read_meta(directory)
        count = meta.get("members")
        if not isinstance(count, int) or count < 2:
            raise ModelError(f"{directory / 'meta.json'}: an ensemble needs 'members' (a count of at least 2)")
        members = [load_model(directory / "members" / str(n)) for n in range(count)]
        weights = meta.get("weights")
        for key in ("format", "modality", "labels", "weights", "members"):
            meta.pop(key, None)
        model = cls(members, weights, meta)
        return model
