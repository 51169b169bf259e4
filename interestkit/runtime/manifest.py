"""The exported inference artefact of a model folder: ``export/manifest.json`` and its files.

A model folder (``modeling.model``) may hold an ``export/`` folder beside its Keras
files: the encoder's and the head's numeric graphs as ONNX files, and what runs outside
them (for captions, the tokeniser's vocabulary). ``manifest.json`` says which:

    {"version": 1, "runtime": "onnxruntime", "modality": "image", "precision": "int8",
     "encoder": "encoder.int8.onnx", "encoder_float32": "encoder.onnx", "head": "head.onnx",
     "feature_dim": 1280, "input": "pixels", "calibration": {...}}

Captions add ``"input": "token_ids"`` and a ``"tokenizer"``: Keras' ``TextVectorization``
(``runtime.tokenizer``) as ``{"vocabulary": "vocabulary.json", "sequence_length": 40}``, or
BERT's WordPiece (``runtime.wordpiece``) as ``{"kind": "wordpiece", "vocabulary":
"vocabulary.json", "max_length": 64, "lowercase": true, "strip_accents": true}``.

A zero-shot model's export (format ``prototypes``: its head is the interests' vectors,
in numpy) has an encoder and no ``head``; a zero-shot photo model's adds ``image_size``, and
with a ``mapped`` head ``"imagenet_classifier": "imagenet_classifier.npz"`` (the encoder's
ImageNet kernel and bias). Reading a manifest needs neither TensorFlow nor
ONNX Runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError

EXPORT_DIR = "export"
MANIFEST = "manifest.json"
VERSION = 1
RUNTIME = "onnxruntime"
INPUTS = ("pixels", "token_ids")
TOKENIZERS = ("text_vectorization", "wordpiece")
PRECISIONS = ("float32", "int8")
#: a zero-shot photo model's ImageNet classifier in its export: arrays ``kernel`` and ``bias``
CLASSIFIER_FILE = "imagenet_classifier.npz"


def export_dir(folder) -> Path:
    return Path(folder) / EXPORT_DIR


def has_export(folder) -> bool:
    return (export_dir(folder) / MANIFEST).is_file()


def read_manifest(folder) -> dict:
    """The checked manifest of ``folder``'s export; ModelError naming the file and field otherwise."""
    path = export_dir(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder}: the model has no exported graph ({path} is missing); "
                         "run 'interestkit models export' or use --runtime tf") from None
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: unreadable export manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{path}: expected a JSON object")
    expect = {"version": (VERSION,), "runtime": (RUNTIME,), "input": INPUTS, "precision": PRECISIONS}
    for field, allowed in expect.items():
        if manifest.get(field) not in allowed:
            raise ModelError(f"{path}: field {field!r} is {manifest.get(field)!r}, expected one of "
                             f"{', '.join(map(str, allowed))}")
    for field in ("encoder", "head", "imagenet_classifier"):
        name = manifest.get(field)
        if field != "encoder" and name is None:
            continue  # an encoder alone (a zero-shot model's), a head other than a mapped one
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise ModelError(f"{path}: field {field!r} must name a file in {EXPORT_DIR}/, got {name!r}")
        if not (export_dir(folder) / name).is_file():
            raise ModelError(f"{path}: field {field!r} names {name!r}, which is not in {export_dir(folder)}")
    if not isinstance(manifest.get("feature_dim"), int) or manifest["feature_dim"] < 1:
        raise ModelError(f"{path}: field 'feature_dim' must be a positive integer, got {manifest.get('feature_dim')!r}")
    if manifest["input"] == "token_ids":
        _check_tokenizer(path, manifest.get("tokenizer"))
    return manifest


def _check_tokenizer(path, tokenizer) -> None:
    kind = tokenizer.get("kind", "text_vectorization") if isinstance(tokenizer, dict) else None
    if kind not in TOKENIZERS:
        raise ModelError(f"{path}: field 'tokenizer' must be an object whose 'kind' is one of {', '.join(TOKENIZERS)}, "
                         f"got {tokenizer!r}")
    length = "sequence_length" if kind == "text_vectorization" else "max_length"
    if not isinstance(tokenizer.get(length), int) or not isinstance(tokenizer.get("vocabulary"), str):
        raise ModelError(f"{path}: field 'tokenizer' must give 'vocabulary' (a file) and {length!r} "
                         f"(an integer), got {tokenizer!r}")


def read_vocabulary(folder, manifest: dict) -> list[str]:
    path = export_dir(folder) / manifest["tokenizer"]["vocabulary"]
    try:
        vocabulary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: unreadable vocabulary ({error})") from None
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        raise ModelError(f"{path}: expected a JSON list of tokens")
    return vocabulary


def write_manifest(directory, manifest: dict) -> None:
    (Path(directory) / MANIFEST).write_text(json.dumps(dict(manifest, version=VERSION, runtime=RUNTIME), indent=2,
                                                       sort_keys=True))
