"""What every scoring model offers, declared once: ``ScoringModel``, and ``MetaProperties``.

``InterestModel`` (Keras), ``PrototypeModel`` (zero-shot and few-shot heads),
``EnsembleModel`` and ``runtime.onnx_model.ExportedModel`` (the ONNX export of a model
folder) all implement ``ScoringModel``: ranking, the pyfunc flavours and ``serve`` use
nothing else. ``MetaProperties`` holds the properties read from a folder's ``meta.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


class MetaProperties:
    """``temperature``, ``image_size`` and ``frozen`` from ``self.meta``."""

    meta: dict

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def image_size(self):
        return self.meta.get("image_size")

    @property
    def frozen(self) -> bool:
        return bool(self.meta.get("frozen", False))


@runtime_checkable
class ScoringModel(Protocol):
    """A text or image model, whatever runs it."""

    modality: str
    labels: list
    meta: dict

    @property
    def temperature(self) -> float: ...

    @property
    def image_size(self): ...

    @property
    def frozen(self) -> bool: ...

    def predict_sentences(self, sentences: list[str], calibrated: bool = True) -> np.ndarray: ...

    def predict_texts(self, texts: list[str], calibrated: bool = True) -> np.ndarray: ...

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated: bool = True): ...

    def save(self, directory) -> Path: ...
