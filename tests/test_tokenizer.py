"""The numpy tokeniser gives the ids Keras' TextVectorization gives, without TensorFlow."""

import csv
import random

import numpy as np
import pytest

from conftest import require_shared
from interestkit.runtime.tokenizer import Tokenizer, split, standardize
from runtime_support import fresh_process

VOCABULARY = ["", "[UNK]", "the", "golf", "lake", "café", "naïve", "x2"]

SYNTHETIC = [
    "The GOLF, lake!", "  the\tlake\n\ngolf  ", "", "CAFÉ café", "Naïve NAÏVE", "x-2 X.2 x_2", "don't", "über ÜBER",
    "the\u00a0lake", "the\u2003lake", "golf\x0bgolf\x0clake\rthe", "((the)) [golf] {lake}", "a b c d e f g h i j k l",
    "ＧＯＬＦ", "🏌️ golf 🏌️", "the" * 3, "#golf @lake $5 100% ~the~ `golf` |lake| ^^",
]


def test_standardize_lowers_ascii_only_and_strips_ascii_punctuation():
    assert standardize("The GOLF, Lake!") == "the golf lake"
    assert standardize("CAFÉ Über") == "cafÉ Über"  # tf.strings.lower without an encoding: ASCII only
    assert standardize("don't x-2 a.b (c) [d] {e} «f»") == "dont x2 ab c d e «f»"


def test_split_is_on_ascii_whitespace_only():
    assert split(" a\tb\nc\x0bd\x0ce\rf  ") == ["a", "b", "c", "d", "e", "f"]
    assert split("a\u00a0b c") == ["a\u00a0b", "c"]  # a no-break space is not a separator
    assert split("   ") == []


def test_ids_pad_cut_and_map_unknown_words():
    tokenizer = Tokenizer(VOCABULARY, 4)
    ids = tokenizer.ids(["The golf, LAKE!", "", "unknown golf words here and more", "café"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [[2, 3, 4, 0], [0, 0, 0, 0], [1, 3, 1, 1], [5, 0, 0, 0]]


def test_a_vocabulary_without_padding_and_unknown_is_refused():
    with pytest.raises(ValueError, match="starts with"):
        Tokenizer(["the", "golf"], 4)
    with pytest.raises(ValueError, match="at least 1"):
        Tokenizer(VOCABULARY, 0)


def test_the_tokeniser_imports_no_tensorflow():
    code = "from interestkit.runtime.tokenizer import Tokenizer; Tokenizer(['', '[UNK]', 'a'], 3).ids(['a b'])"
    assert fresh_process(code) == ["[]"]


def _keras_ids(texts, vocabulary=None, adapt=None, length=40):
    import keras
    import tensorflow as tf

    layer = keras.layers.TextVectorization(max_tokens=10000, output_sequence_length=length, vocabulary=vocabulary)
    if adapt is not None:
        layer.adapt(adapt)
    ids = np.concatenate([np.asarray(layer(tf.constant(texts[i:i + 4096])[:, None]))
                          for i in range(0, len(texts), 4096)])
    return ids.reshape(len(texts), length), [str(t) for t in layer.get_vocabulary()]


@pytest.mark.slow
def test_same_ids_as_keras_on_synthetic_captions():
    rng = random.Random(0)
    alphabet = list("abcXYZ éÉüÜ'-.,!?_\t\n\u00a0\u2003\x0b\x0c\r()[]{}#@$%&*+/:;<=>\\^`|~\"") + ["golf", "lake", "the"]
    texts = SYNTHETIC + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    expected, vocabulary = _keras_ids(texts, adapt=texts)
    assert np.array_equal(Tokenizer(vocabulary, 40).ids(texts), expected)


@pytest.mark.realdata
def test_same_ids_as_keras_on_every_training_caption():
    path = require_shared("text", "train.tsv")
    with open(path, newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    assert len(texts) > 50_000
    expected, vocabulary = _keras_ids(texts, adapt=texts)
    got = Tokenizer(vocabulary, 40).ids(texts)
    differ = np.flatnonzero((got != expected).any(axis=1))
    assert differ.size == 0, [texts[i] for i in differ[:5]]
