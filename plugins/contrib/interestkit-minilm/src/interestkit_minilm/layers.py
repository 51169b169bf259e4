"""Custom Keras layers of the ``minilm`` encoder.

Importing this module registers them with Keras (package ``interestkit_minilm``), which
``keras.models.load_model`` needs before it can read a saved ``minilm`` model.
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")


@keras.saving.register_keras_serializable(package="interestkit_minilm")
class WordPiecePreprocessor(keras.layers.Layer):
    """Raw strings ``(batch, 1)`` to BERT inputs, tokenised with WordPiece.

    Each string becomes ``[CLS] pieces [SEP]``, cut to ``max_length`` tokens; the batch
    is padded to its longest row only (short captions stay cheap). Returns the dict a
    ``keras_hub.models.BertBackbone`` takes: ``token_ids``, ``segment_ids`` (all 0) and
    ``padding_mask``. The vocabulary is part of the layer's config, so a saved model
    carries it.
    """

    def __init__(self, vocabulary, max_length=64, lowercase=True, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        missing = [token for token in SPECIAL_TOKENS if token not in vocabulary]
        if missing:
            raise ValueError(f"vocabulary lacks the special tokens {missing}")
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)
        self.tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=self.vocabulary,
            lowercase=self.lowercase,
            strip_accents=self.lowercase,  # what the uncased BERT tokeniser does
            oov_token="[UNK]",
            name="wordpiece",
        )
        # keras-hub tokenises in Python when called eagerly: keep it on TensorFlow ops
        self._graph_tokenize = tf.function(self.tokenizer.tokenize, reduce_retracing=True)
        index = {token: i for i, token in enumerate(self.vocabulary)}
        self.cls_id, self.sep_id, self.pad_id = index["[CLS]"], index["[SEP]"], index["[PAD]"]

    def build(self, input_shape):
        self.built = True  # nothing to create: the vocabulary is set in __init__

    def call(self, inputs):
        texts = tf.reshape(tf.convert_to_tensor(inputs), [-1])
        pieces = self._wordpieces(texts)[:, : self.max_length - 2]
        rows = tf.shape(texts, out_type=tf.int64)[:1]
        cls = tf.RaggedTensor.from_tensor(tf.fill(tf.concat([rows, [1]], 0), self.cls_id))
        sep = tf.RaggedTensor.from_tensor(tf.fill(tf.concat([rows, [1]], 0), self.sep_id))
        ids = tf.concat([cls, tf.cast(pieces, tf.int32), sep], axis=1)
        token_ids = ids.to_tensor(default_value=self.pad_id)
        padding_mask = tf.ones_like(ids, dtype=tf.bool).to_tensor(default_value=False)
        return {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids), "padding_mask": padding_mask}

    def _wordpieces(self, texts):
        """WordPiece ids of each string, as a ragged int tensor."""
        if tf.executing_eagerly():
            return self._graph_tokenize(texts)
        return self.tokenizer(texts)

    def export_tokenizer(self):
        """The tokeniser outside the graph, for interestkit's ONNX export (``runtime.wordpiece``
        gives the same ids in Python)."""
        return {"kind": "wordpiece", "vocabulary": list(self.vocabulary), "max_length": self.max_length,
                "lowercase": self.lowercase, "strip_accents": self.lowercase}

    def inputs_from_ids(self, token_ids):
        """What ``call`` returns for a batch whose ids are ``token_ids`` (``[PAD]`` after the ends)."""
        return {"token_ids": token_ids, "segment_ids": keras.ops.zeros_like(token_ids),
                "padding_mask": keras.ops.not_equal(token_ids, self.pad_id)}

    def compute_output_spec(self, inputs):
        shape = (inputs.shape[0], None)
        return {
            "token_ids": keras.KerasTensor(shape, dtype="int32"),
            "segment_ids": keras.KerasTensor(shape, dtype="int32"),
            "padding_mask": keras.KerasTensor(shape, dtype="bool"),
        }

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary=self.vocabulary, max_length=self.max_length, lowercase=self.lowercase)
        return config
