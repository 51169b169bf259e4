"""interestkit's Python WordPiece gives the ids of this plugin's Keras layer, with its real vocabulary."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from interestkit.runtime.wordpiece import WordPiece  # noqa: E402
from interestkit_minilm.encoder import read_vocabulary, weights_dir  # noqa: E402

#: the real data: ../shared/data beside the repository, or where INTERESTKIT_SHARED_DATA says
SHARED = Path(os.environ.get("INTERESTKIT_SHARED_DATA") or Path(__file__).resolve().parents[4].parent / "shared" / "data")
TRICKY = [
    "", "   ", "Café crème brûlée at the ÉCOLE!! 🍮", "Straße ǅemal ﬁsh Ｆｕｌｌ-width", "東京タワーに行った 中文",
    "한국어 문장입니다", "I ❤️ 🎣 fishing 👨‍👩‍👧 #blessed", "a" * 120, "é" * 60, "pneumonoultramicroscopicsilicovolcanoconiosis",
    "co\u00adoperate zero\u200bwidth", "no\u00a0break\u3000space", "tab\tnew\nline\r\x0bvt\x85nel",
    "¿Qué? ¡Sí! «quotes» — dash … ellipsis", "$100 @user #hashtag http://x.y/z?q=1&a=b", "½ ⒈ ™ ℃ ①",
    "[CLS] [PAD] [SEP] [UNK] ##ing", "İstanbul ΣΊΣΥΦΟΣ ǅ", "My boyfriend & I doing the \"fish pose\" &lt;3",
    "golf " * 80,
]


def layer_ids(layer, texts):
    import tensorflow as tf

    out = layer(tf.constant(texts)[:, None])
    return [list(ids[mask]) for ids, mask in zip(out["token_ids"].numpy(), out["padding_mask"].numpy())]


@pytest.fixture(scope="module")
def layer():
    from interestkit_minilm.layers import WordPiecePreprocessor

    return WordPiecePreprocessor(read_vocabulary(weights_dir()), max_length=64)


def test_the_layer_describes_its_tokeniser(layer):
    spec = layer.export_tokenizer()
    assert spec["kind"] == "wordpiece" and spec["max_length"] == 64 and spec["lowercase"] is True
    assert spec["vocabulary"][:1] == ["[PAD]"] and len(spec["vocabulary"]) == 30522


def test_the_same_ids_on_tricky_captions(layer):
    tokenizer = WordPiece(read_vocabulary(weights_dir()), 64)
    for text, expected in zip(TRICKY, layer_ids(layer, TRICKY)):
        assert tokenizer.text_ids(text) == [int(i) for i in expected], text
    assert tokenizer.ids(TRICKY).shape == (len(TRICKY), 64)


@pytest.mark.realdata
@pytest.mark.slow
def test_the_same_ids_on_every_training_caption(layer):
    from interestkit.data.tables import read_table

    path = SHARED / "text" / "train.tsv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    texts = [row["text"] or "" for _, row in read_table(path, ("label", "text"))]
    tokenizer = WordPiece(read_vocabulary(weights_dir()), 64)
    differing = []
    for start in range(0, len(texts), 4096):
        batch = texts[start:start + 4096]
        differing += [text for text, ids in zip(batch, layer_ids(layer, batch))
                      if tokenizer.text_ids(text) != [int(i) for i in ids]]
    assert len(texts) > 50_000 and differing == []
