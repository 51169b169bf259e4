"""Caption handling: sentence splitting and how a caption's score comes from its sentences.

As in the paper, a caption is split into sentences and each sentence is classified. The
caption's probabilities are the mean of its sentences' probabilities, each sentence
weighted by its number of words (a one-word exclamation counts less than a full
sentence). A caption with no sentence boundary is one sentence.
"""

from __future__ import annotations

import re

import numpy as np

# a sentence ends at . ! ? or … (repeated allowed), followed by space, or at a line break
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Split a caption into sentences; never returns an empty list for non-blank text."""
    parts = [p.strip() for p in _BOUNDARY.split(text or "")]
    parts = [p for p in parts if _WORD.search(p)]
    if not parts:
        stripped = (text or "").strip()
        return [stripped] if stripped else []
    return parts


def sentence_weight(sentence: str) -> float:
    return float(max(1, len(_WORD.findall(sentence))))


def explode(texts):
    """(sentences, owner index per sentence, weight per sentence) for a list of captions."""
    sentences, owners, weights = [], [], []
    for index, text in enumerate(texts):
        for sentence in split_sentences(text):
            sentences.append(sentence)
            owners.append(index)
            weights.append(sentence_weight(sentence))
    return sentences, np.array(owners, dtype=int), np.array(weights, dtype=np.float32)


def aggregate(sentence_probs: np.ndarray, owners: np.ndarray, weights: np.ndarray, n_texts: int) -> np.ndarray:
    """Word-weighted mean of sentence probabilities per caption; NaN rows for blank captions."""
    n_labels = sentence_probs.shape[1] if sentence_probs.ndim == 2 else 0
    totals = np.zeros((n_texts, n_labels), dtype=np.float64)
    mass = np.zeros(n_texts, dtype=np.float64)
    np.add.at(totals, owners, sentence_probs * weights[:, None])
    np.add.at(mass, owners, weights)
    out = np.full((n_texts, n_labels), np.nan)
    seen = mass > 0
    out[seen] = totals[seen] / mass[seen, None]
    return out
