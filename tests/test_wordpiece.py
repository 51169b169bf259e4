"""The Python WordPiece gives the ids keras-hub's WordPieceTokenizer (TensorFlow Text) gives.

The plugin interestkit-minilm checks the same with its real vocabulary and layer, on every
training caption (plugins/contrib/interestkit-minilm/tests/test_wordpiece_ids.py).
"""


import numpy as np
import pytest

from interestkit.runtime.wordpiece import WordPiece, casefold, words
from runtime_support import fresh_process

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "cafe", "naive", "resume", "strasse", "fish", "##ing", "full", "i",
              "东", "京", "!", "?", "¿", "«", "»", ".", "-", "un", "##believ", "##able", "super", "##cal", "a",
              "##a", "ss", "istanbul", "σισυφος", "1", "2", "⁄", "no", "break", "co", "##operate", "##ab", "b",
              "x", "#", "$", "%", "1⁄2", "tm", "°c", "k", "é", "##é"]

FIXTURES = [
    "", "   ", "Café naïve RÉSUMÉ", "Straße STRASSE", "ﬁsh Ｆｕｌｌ ｆｉｓｈｉｎｇ", "東京 东京", "I ❤️ 🎣 fishing 👨‍👩‍👧",
    "a" * 120, "é" * 60, "a" * 99, "unbelievable supercal", "co\u00adoperate zero\u200bwidth", "no\u00a0break\u3000a",
    "tab\tnew\nline\r\x0bvt\x85nel\x7f", "¿Qué? ¡Sí! «quotes» — dash … ellipsis", "$100 #tag 50%", "½ ⒈ ™ ℃ Ｋ",
    "[CLS] [PAD] [SEP] [UNK]", "İstanbul ΣΊΣΥΦΟΣ", "aaaab abab", "x " * 80, "한국어 문장", "ǅ ǆ Ǆ",
]


def test_words_split_strip_and_fold_as_bert_does():
    assert words("Café, NAÏVE!") == ["cafe", ",", "naive", "!"]
    assert words("東京タワー") == ["東", "京", "タワー"]  # ideographs are words of their own, kana are not
    assert words("a\u00a0b c\u200bd") == ["a b", "c", "d"]  # no-break space joins (then folds to a space)
    assert words("Straße") == ["strasse"] and casefold("ΣΊΣΥΦΟΣ") == "σίσυφοσ"
    assert words("Café", lowercase=False, strip_accents=False) == ["Café"]


def test_ids_are_cls_pieces_sep_padded_and_cut():
    tokenizer = WordPiece(VOCABULARY, 6)
    ids = tokenizer.ids(["Unbelievable fishing!", "", "a a a a a a a", "qqq"])
    assert ids.dtype == np.int64 and ids.shape == (4, 6)
    assert ids.tolist() == [[2, 21, 22, 23, 8, 3], [2, 3, 0, 0, 0, 0], [2, 26, 26, 26, 26, 3], [2, 1, 3, 0, 0, 0]]


def test_a_long_word_is_unknown_by_its_bytes_not_its_characters():
    tokenizer = WordPiece(VOCABULARY, 8)
    assert tokenizer.text_ids("a" * 100) == [2, 26, 27, 27, 27, 27, 27, 3]
    assert tokenizer.text_ids("a" * 101) == [2, 1, 3]
    cased = WordPiece(VOCABULARY, 8, lowercase=False)
    assert cased.text_ids("é" * 50) == [2, 48, 49, 49, 49, 49, 49, 3]  # 100 bytes
    assert cased.text_ids("é" * 51) == [2, 1, 3]  # 51 characters, 102 bytes


def test_a_vocabulary_without_the_special_tokens_is_refused():
    with pytest.raises(ValueError, match=r"\[CLS\]"):
        WordPiece(["[PAD]", "[UNK]", "[SEP]", "a"], 8)
    with pytest.raises(ValueError, match="at least 3"):
        WordPiece(VOCABULARY, 2)


@pytest.mark.integration  # TensorFlow Text: the fast tier stays TensorFlow-free (the plugin's suite runs it every time)
def test_the_same_ids_as_keras_hub_on_tricky_captions():
    keras_hub = pytest.importorskip("keras_hub")
    import tensorflow as tf

    layer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=VOCABULARY, lowercase=True, strip_accents=True,
                                                    oov_token="[UNK]")
    graph = tf.function(layer.tokenize)  # the TensorFlow Text ops, as inside the encoder's graph
    expected = graph(tf.constant(FIXTURES)).to_list()
    tokenizer = WordPiece(VOCABULARY, 512)
    for text, pieces in zip(FIXTURES, expected):
        assert tokenizer.text_ids(text) == [2, *pieces, 3], text


def test_the_tokeniser_imports_no_tensorflow():
    code = ("from interestkit.runtime.wordpiece import WordPiece; "
            "WordPiece(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a'], 8).ids(['a b'])")
    assert fresh_process(code) == ["[]"]
