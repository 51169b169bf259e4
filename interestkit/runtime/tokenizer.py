"""Keras ``TextVectorization`` in numpy: the same ids from a saved vocabulary, without TensorFlow.

A recurrent caption encoder's graph starts with ``TextVectorization`` (standardize
``lower_and_strip_punctuation``, split ``whitespace``, output ``int``, padded or cut to
``output_sequence_length``). Its exported numeric graph starts at the ids instead, and
this tokeniser makes them:

- lower case: ASCII letters only (``tf.strings.lower`` without an encoding leaves every
  other byte as it is);
- punctuation: the ASCII characters of Keras' pattern removed;
- split: on runs of ASCII whitespace (space, tab, newline, vertical tab, form feed,
  carriage return), empty pieces dropped, as ``tf.strings.split`` does;
- ids: the token's index in the vocabulary (index 0 is padding, 1 is ``[UNK]``, for
  any token the vocabulary lacks), cut to the sequence length and padded with 0.

``tests/test_tokenizer.py`` checks the ids against the Keras layer on every training
caption and on synthetic ones.
"""

from __future__ import annotations

import re

import numpy as np

PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
PAD, OOV = 0, 1


def standardize(text: str) -> str:
    """ASCII lower case, then Keras' punctuation removed."""
    return PUNCTUATION.sub("", text.translate(_ASCII_LOWER))


def split(text: str) -> list[str]:
    return [token for token in WHITESPACE.split(text) if token]


class Tokenizer:
    """``ids(texts) -> (n, sequence_length) int64``, as the Keras layer with ``vocabulary``."""

    def __init__(self, vocabulary: list[str], sequence_length: int):
        if len(vocabulary) < 2 or vocabulary[0] != "" or vocabulary[1] != "[UNK]":
            raise ValueError("a TextVectorization vocabulary starts with '' (padding) and '[UNK]'")
        if int(sequence_length) < 1:
            raise ValueError(f"sequence length must be at least 1, got {sequence_length}")
        self.vocabulary = list(vocabulary)
        self.sequence_length = int(sequence_length)
        self._index = {token: i for i, token in enumerate(self.vocabulary) if i >= 2}

    def tokens(self, text: str) -> list[str]:
        return split(standardize(text))

    def ids(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.sequence_length), dtype=np.int64)
        index, length = self._index, self.sequence_length
        for row, text in enumerate(texts):
            ids = [index.get(token, OOV) for token in self.tokens(text)[:length]]
            out[row, : len(ids)] = ids
        return out
