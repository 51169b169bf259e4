"""A caption encoder's Keras graph to ONNX, its tokeniser taken out of the graph.

A caption encoder takes raw strings and tokenises inside its graph. Its export is the
numeric rest (token ids of any length -> features) plus what ``runtime.text_encoder``
needs to make the ids in Python:

- Keras' ``TextVectorization`` (the recurrent encoders): its vocabulary, for
  ``runtime.tokenizer``; standardize, split and output mode must be Keras' defaults;
- a preprocessing layer that describes itself (a plugin's, e.g. MiniLM's WordPiece): it
  has ``export_tokenizer()``, the tokeniser's spec with its vocabulary (``{"kind":
  "wordpiece", "vocabulary": [...], "max_length": 64, "lowercase": true}``), and
  ``inputs_from_ids(ids)``, what the layer would have output for those ids (Keras ops;
  for BERT: ids, zero segments and the padding mask).

``export_text_encoder(encoder, directory)`` writes ``encoder.onnx`` and
``vocabulary.json`` there and returns the manifest's fields; the graph is checked against
Keras on probe captions, and must not depend on trailing padding (scoring cuts each batch
to its longest sentence). Anything else raises ``ExportError`` and keeps the model on
TensorFlow. Needs TensorFlow and Keras; scoring never imports this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .convert import TOLERANCE, ExportError, export_checked, largest_difference
from .graph import Graph
from .tokenizer import Tokenizer
from .wordpiece import WordPiece

PROBE_TEXTS = ["A day out fishing on the lake!", "new laptop, who dis?", "", "Golf golf GOLF", "x" * 300, "a b",
               "The quick brown fox jumps over the lazy dog at the 18th hole", "Café naïve 東京 🎣 ＧＯＬＦ"]
VOCABULARY_FILE = "vocabulary.json"


def _vectorizer(encoder):
    import keras

    found = [layer for layer in encoder.layers if isinstance(layer, keras.layers.TextVectorization)]
    if len(found) != 1:
        raise ExportError(f"the caption encoder has {len(found)} TextVectorization layers and no layer with "
                          "export_tokenizer(); the export needs one of them")
    layer = found[0]
    config = layer.get_config()
    wanted = {"standardize": "lower_and_strip_punctuation", "split": "whitespace", "output_mode": "int"}
    for key, value in wanted.items():
        if config.get(key) != value:
            raise ExportError(f"the tokeniser's {key} is {config.get(key)!r}; the numpy tokeniser does {value!r} only")
    if not config.get("output_sequence_length"):
        raise ExportError("the tokeniser has no output_sequence_length")
    return layer, int(config["output_sequence_length"])


def _described(encoder):
    """The layer that describes its own tokeniser, or None."""
    found = [layer for layer in encoder.layers if callable(getattr(layer, "export_tokenizer", None))]
    if len(found) > 1:
        raise ExportError(f"the caption encoder has {len(found)} layers with export_tokenizer(); the export needs one")
    return found[0] if found else None


def _wordpiece_numeric(encoder, layer):
    """(ids -> features Keras model, tokeniser, manifest spec) of an encoder with a WordPiece layer."""
    import keras

    spec = dict(layer.export_tokenizer())
    if spec.get("kind") != "wordpiece":
        raise ExportError(f"layer {layer.name!r} describes a {spec.get('kind')!r} tokeniser; "
                          "the export knows 'wordpiece'")
    vocabulary = [str(token) for token in spec.pop("vocabulary")]
    try:
        tokenizer = WordPiece(vocabulary, int(spec["max_length"]), bool(spec.get("lowercase", True)),
                              spec.get("strip_accents"))
    except (KeyError, ValueError) as error:
        raise ExportError(f"layer {layer.name!r}: {error}") from None
    after = keras.Model(layer.output, encoder.output, name="caption_encoder_numeric")
    ids_in = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    features = after(keras.tree.flatten(layer.inputs_from_ids(ids_in)))
    return keras.Model(ids_in, features, name="caption_encoder"), tokenizer, vocabulary, spec


def export_text_encoder(encoder, directory) -> dict:
    """Write ``encoder``'s numeric graph and vocabulary into ``directory``; the manifest's fields."""
    import keras

    directory = Path(directory)
    if not callable(getattr(encoder, "export", None)) or not hasattr(encoder, "layers"):
        raise ExportError(f"the caption encoder is a {type(encoder).__name__}, not a Keras model")
    layer = _described(encoder)
    if layer is not None:
        numeric, tokenizer, vocabulary, spec = _wordpiece_numeric(encoder, layer)
        import tensorflow as tf

        ids = tokenizer.ids(PROBE_TEXTS).astype(np.int32)
        expected = np.asarray(encoder(tf.constant(PROBE_TEXTS)[:, None], training=False), np.float32)
        worst = largest_difference(expected, numeric(ids, training=False))
        if not worst <= TOLERANCE:
            raise ExportError(f"the caption encoder on the tokeniser's ids differs from the encoder on raw text by "
                              f"{worst:.2g}: the tokeniser does not give the layer's ids")
        tokenizer_spec = dict(spec, kind="wordpiece", vocabulary=VOCABULARY_FILE)
    else:
        vectorizer, length = _vectorizer(encoder)
        vocabulary = [str(t) for t in vectorizer.get_vocabulary()]
        after = keras.Model(vectorizer.output, encoder.output, name="caption_encoder_numeric")
        ids_in = keras.Input(shape=(None,), dtype="int64", name="token_ids")  # any length: cut to the longest
        numeric = keras.Model(ids_in, after(ids_in), name="caption_encoder")
        tokenizer = Tokenizer(vocabulary, length)
        ids = tokenizer.ids(PROBE_TEXTS)
        tokenizer_spec = {"vocabulary": VOCABULARY_FILE, "sequence_length": length}
    pad = getattr(tokenizer, "pad_id", 0)
    export_checked(numeric, ids, directory / "encoder.onnx", "caption encoder")
    short = ids[:, : max(1, int((ids != pad).sum(axis=1).max()))]  # what scoring runs: cut to the longest
    worst = largest_difference(numeric(ids, training=False), Graph(directory / "encoder.onnx")(short))
    if not worst <= TOLERANCE:
        raise ExportError(f"the caption encoder's output depends on trailing padding ({worst:.2g})")
    (directory / VOCABULARY_FILE).write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    return {"encoder": "encoder.onnx", "input": "token_ids", "tokenizer": tokenizer_spec,
            "feature_dim": int(encoder.output_shape[-1])}
