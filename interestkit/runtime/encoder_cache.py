"""ONNX exports of frozen caption encoders, made once per machine and shared.

An embedder (MiniLM's) and the zero-shot caption models built on the same frozen encoder
run the same graph. ``exported_encoder(identity, build)`` gives the folder of its export
(``export/``, ``runtime.manifest``: encoder graph and tokeniser, no head) under
``settings.export_cache()``, keyed by the encoder's identity (``Encoder.identity()``:
plugin, options and weights); the first call on a machine builds the Keras encoder with
``build()`` and exports it (``runtime.text_export``: TensorFlow, once), every later call
and process only reads it. ``text_encoder(identity, build)`` loads it for scoring
(``runtime.text_encoder``), or gives None when the encoder cannot be exported or
``INTERESTKIT_RUNTIME=tf`` asks for Keras: the caller then embeds on TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

from .. import settings
from ..atomic import atomic_folder
from ..errors import ModelError
from .choice import requested
from .convert import ExportError
from .manifest import EXPORT_DIR, has_export, read_manifest, write_manifest
from .text_encoder import TextEncoder
from .text_export import export_text_encoder


def cache_key(identity) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]


def exported_encoder(identity, build) -> Path:
    """The folder whose ``export/`` holds the encoder of ``identity`` (exported now if absent).
    Raises ``ExportError`` when the encoder cannot be exported."""
    folder = settings.export_cache() / cache_key(identity)
    if has_export(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="interestkit-export-", dir=folder.parent) as tmp:
        manifest = {"modality": "text", "precision": "float32", "encoder_identity": identity}
        manifest.update(export_text_encoder(build(), Path(tmp)))
        write_manifest(Path(tmp), manifest)
        with atomic_folder(folder / EXPORT_DIR) as staging:
            for path in Path(tmp).iterdir():
                path.rename(staging / path.name)
    return folder


def text_encoder(identity, build):
    """A ``TextEncoder`` of the encoder of ``identity`` on ONNX Runtime, or None (see the module)."""
    if requested() == "tf":
        return None
    try:
        folder = exported_encoder(identity, build)
        return TextEncoder(folder, read_manifest(folder))
    except ExportError as error:
        if requested() == "onnx":
            raise ModelError(f"the encoder cannot be exported, and --runtime onnx asks for its export: {error}") from None
        logging.getLogger("interestkit").warning("the encoder embeds on TensorFlow: %s", error)
        return None
