"""BERT's WordPiece in Python: the ids keras-hub's ``WordPieceTokenizer`` gives, without TensorFlow.

A transformer caption encoder (MiniLM) tokenises inside its Keras graph with
``keras_hub.tokenizers.WordPieceTokenizer`` (TensorFlow Text ops). Its exported numeric
graph starts at the ids instead, and this tokeniser makes them, step for step as the
Keras layer does (``lowercase`` on, which also strips accents, as the uncased BERT
tokeniser does):

1. CJK ideographs get a space on each side (each becomes a word);
2. accents: NFD, then every non-spacing mark (``Mn``) removed;
3. split: on ASCII whitespace, control (``Cc``) and format (``Cf``) characters, which
   are dropped, and on punctuation (ASCII ``!-/ :-@ [-` {-~`` and every ``P*``
   character) and CJK ideographs, which are kept as words of their own. Other Unicode
   spaces (a no-break space) do not split, as in TensorFlow's regular expressions;
4. lower case per word: Unicode ``NFKC_Casefold`` (NFKC, full case folding, NFKC again,
   default-ignorable code points dropped), as ``tf_text.case_fold_utf8``;
5. WordPiece per word: greedy longest match first, pieces after the first prefixed
   ``##``; a word with no full match, or longer than 100 UTF-8 bytes, is ``[UNK]``;
6. ``[CLS] pieces [SEP]``, the pieces cut to ``max_length - 2``, padded with ``[PAD]``.

HF ``tokenizers``' BERT normaliser differs on exactly these details (it lower-cases
instead of case folding, splits on every Unicode space, and counts characters, not bytes,
for long words): docs/dependencies.md. ``tests/test_wordpiece.py`` and the plugin's tests
check the ids against the Keras layer on tricky captions and on every training caption.
"""

from __future__ import annotations

import unicodedata

import numpy as np

SPECIAL = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
SUFFIX = "##"
MAX_BYTES_PER_WORD = 100
_ASCII_WHITESPACE = frozenset(" \t\n\r\f")
_ASCII_PUNCTUATION = frozenset(chr(c) for r in ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))
                               for c in range(r[0], r[1] + 1))
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
#: default-ignorable code points, which NFKC_Casefold drops
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
              (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
              (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
              (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def _in(ranges, char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def _kind(char: str) -> str:
    """``drop`` (a delimiter removed), ``keep`` (a delimiter kept as a word) or ``word``."""
    if char.isascii():
        if char in _ASCII_WHITESPACE:
            return "drop"
        if char in _ASCII_PUNCTUATION:
            return "keep"
        return "drop" if unicodedata.category(char) == "Cc" else "word"
    category = unicodedata.category(char)
    if category in ("Cc", "Cf"):
        return "drop"
    if category.startswith("P") or _in(_CJK, char):
        return "keep"
    return "word"


def casefold(word: str) -> str:
    """Unicode ``NFKC_Casefold`` of ``word``."""
    if word.isascii():
        return word.lower()
    word = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())
    return "".join(char for char in word if not _in(_IGNORABLE, char))


def words(text: str, lowercase: bool = True, strip_accents: bool = True) -> list[str]:
    """Steps 1 to 4: a text's words, before WordPiece (step 1 is implied: CJK ideographs split)."""
    if strip_accents and not text.isascii():
        text = "".join(char for char in unicodedata.normalize("NFD", text) if unicodedata.category(char) != "Mn")
    out, current = [], []
    for char in text:
        kind = _kind(char)
        if kind == "word":
            current.append(char)
            continue
        if current:
            out.append("".join(current))
            current = []
        if kind == "keep":
            out.append(char)
    if current:
        out.append("".join(current))
    return [casefold(word) for word in out] if lowercase else out


class WordPiece:
    """``ids(texts) -> (n, max_length) int64``: ``[CLS] pieces [SEP]`` padded with ``[PAD]``, as the
    Keras layer with ``vocabulary`` gives them."""

    def __init__(self, vocabulary: list[str], max_length: int, lowercase: bool = True,
                 strip_accents: bool | None = None):
        missing = [token for token in SPECIAL if token not in vocabulary]
        if missing:
            raise ValueError(f"the WordPiece vocabulary lacks the special tokens {missing}")
        if int(max_length) < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}")
        self.vocabulary = list(vocabulary)
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self._index = {}
        for i, token in enumerate(self.vocabulary):
            self._index.setdefault(token, i)
        self.cls_id, self.sep_id, self.pad_id, self.unk_id = (self._index[token] for token in SPECIAL)
        self._cache: dict[str, list[int]] = {}

    def word_ids(self, word: str) -> list[int]:
        """Step 5 for one word (memoised: captions repeat their words)."""
        found = self._cache.get(word)
        if found is not None:
            return found
        ids = self._pieces(word)
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    def _pieces(self, word: str) -> list[int]:
        if len(word.encode("utf-8")) > MAX_BYTES_PER_WORD:
            return [self.unk_id]
        index, ids, start = self._index, [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else SUFFIX + word[start:end]
                if piece in index:
                    ids.append(index[piece])
                    start = end
                    break
            else:
                return [self.unk_id]
        return ids

    def text_ids(self, text: str) -> list[int]:
        """``[CLS] pieces [SEP]`` of one text, cut to ``max_length``."""
        pieces: list[int] = []
        room = self.max_length - 2
        for word in words(text, self.lowercase, self.strip_accents):
            pieces.extend(self.word_ids(word))
            if len(pieces) >= room:
                break
        return [self.cls_id, *pieces[:room], self.sep_id]

    def ids(self, texts) -> np.ndarray:
        out = np.full((len(texts), self.max_length), self.pad_id, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = self.text_ids(text)
            out[row, : len(ids)] = ids
        return out
