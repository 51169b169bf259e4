"""Per-item predictions: a caption, a photo, or a table of them, through a registered model.

A caption's answer shows how it was scored: the caption is split into sentences, each
sentence is classified, and the caption's probabilities are the word-weighted mean of
its sentences' (``interestkit.data.text``). Each sentence reports its share of the
weight, its own top interests and its contribution to each of the caption's top
interests (share times its probability: the contributions add up to the caption's score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import tracking
from ..data import text as text_utils
from ..data.paths import MediaPolicy
from ..data.tables import read_table
from ..errors import DataError, ModelError
from ..modeling.cache import FeatureCache
from .ranking import IMAGE_URI, OUTSIDE_HINT, TEXT_URI

DEFAULT_URIS = {"text": TEXT_URI, "image": IMAGE_URI}
MAX_ITEMS = 100_000
MAX_TEXT_CHARS = 10_000


@dataclass
class Item:
    """One thing to predict: a caption and/or a photo, named by ``item_id``."""

    item_id: str
    text: str | None = None
    image: Path | None = None
    where: str = ""  # file:line, for messages


@dataclass
class Prediction:
    item_id: str
    modality: str
    interests: list  # [{"interest", "score"}], best first
    sentences: list = field(default_factory=list)  # captions: per-sentence contributions
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"item_id": self.item_id, "modality": self.modality, "interests": self.interests}
        if self.modality == "text":
            out["sentences"] = self.sentences
        if self.error:
            out["error"] = self.error
        return out


def load_models(uris, needed, log=print) -> dict:
    """``{modality: (model, description)}`` for the ``needed`` modalities. ``uris`` are the
    ``--model`` values (each model serves its own modality); a needed modality without one
    uses its champion."""
    models = {}
    for uri in uris:
        model, described = tracking.load_interest_model(uri)
        if model.modality in models:
            raise ModelError(f"--model {uri!r} and {models[model.modality][1]['uri']!r} are both {model.modality} "
                             "models; give one model per modality")
        models[model.modality] = (model, described)
    for modality in needed:
        if modality not in models:
            models[modality] = tracking.load_interest_model(DEFAULT_URIS[modality])
    for modality, (model, described) in models.items():
        version = f" version {described['version']}" if described.get("version") else ""
        log(f"{modality} model: {described['uri']}{version} ({len(model.labels)} interests)")
    unused = sorted(set(models) - set(needed))
    if unused:
        raise ModelError(f"--model gives {' and '.join(('an ' if m == 'image' else 'a ') + m for m in unused)} model but "
                         f"the input has no "
                         f"{' or '.join('caption' if m == 'text' else 'photo' for m in unused)}")
    return {m: models[m] for m in needed}


def read_items(path) -> list[Item]:
    """Items from a ``.tsv``/``.csv``/``.jsonl`` table with a ``text`` and/or an ``image``
    column (and optionally ``id``); image paths are relative to the table's folder."""
    path = Path(path)
    rows = read_table(path, ())
    columns = set(rows[0][1])
    if not columns & {"text", "image"}:
        raise DataError(f"{path}:1: no 'text' or 'image' column (found {', '.join(map(repr, rows[0][1]))}); "
                        "expected captions in 'text' and/or photo paths in 'image'")
    if len(rows) > MAX_ITEMS:
        raise DataError(f"{path}: {len(rows)} rows; at most {MAX_ITEMS} per call")
    items, seen = [], {}
    for line, row in rows:
        where = f"{path}:{line}"
        text, image = _value(row, "text", where), _value(row, "image", where)
        if text is None and image is None:
            raise DataError(f"{where}: neither 'text' nor 'image' has a value; expected a caption or a photo path")
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise DataError(f"{where}: column 'text' has {len(text)} characters; at most {MAX_TEXT_CHARS}")
        item_id = _value(row, "id", where) or str(line)
        if item_id in seen:
            raise DataError(f"{where}: id {item_id!r} already used on line {seen[item_id]}; ids must be unique")
        seen[item_id] = line
        items.append(Item(item_id, text, Path(image) if image is not None else None, where))
    return items


def _value(row: dict, column: str, where: str):
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise DataError(f"{where}: column {column!r} must be text, got {type(value).__name__} {value!r}")
    return str(value).strip()


def resolve_images(items, media: MediaPolicy) -> list[Item]:
    """Items whose photo paths the path policy accepts (a refusal is an error naming the line)."""
    for item in items:
        if item.image is not None:
            item.image = media.resolve(str(item.image), f"{item.where}: column 'image'")
    return items


def file_policy(path, allow_outside: bool = False) -> MediaPolicy:
    return MediaPolicy(Path(path).parent, allow_outside, "" if allow_outside else OUTSIDE_HINT)


def top(labels, row, k: int) -> list[dict]:
    order = sorted(range(len(labels)), key=lambda i: (-float(row[i]), labels[i]))[:k]
    return [{"interest": labels[i], "score": round(float(row[i]), 6)} for i in order]


def explain_caption(model, text: str, k: int) -> tuple[list, list]:
    """``(top interests, sentences)`` of one caption, through ``model.predict_sentences``."""
    sentences = text_utils.split_sentences(text)
    if not sentences:
        return [], []
    probs = np.asarray(model.predict_sentences(sentences), dtype=np.float64)
    weights = np.array([text_utils.sentence_weight(s) for s in sentences])
    shares = weights / weights.sum()
    caption = shares @ probs
    best = top(model.labels, caption, k)
    index = {label: i for i, label in enumerate(model.labels)}
    explained = [{"sentence": sentence, "weight": round(float(share), 6), "interests": top(model.labels, row, k),
                  "contributions": {b["interest"]: round(float(share * row[index[b["interest"]]]), 6) for b in best}}
                 for sentence, share, row in zip(sentences, shares, probs)]
    return best, explained


def predict_items(items, models: dict, k: int, log=print) -> list[Prediction]:
    """One prediction per item and modality present: captions explained, photos batched."""
    out = []
    if "text" in models:
        model = models["text"][0]
        for item in items:
            if item.text is not None:
                best, sentences = explain_caption(model, item.text, k)
                out.append(Prediction(item.item_id, "text", best, sentences,
                                      None if best else "the caption has no words"))
    if "image" in models:
        model = models["image"][0]
        with_image = [item for item in items if item.image is not None]
        probs, kept, failures = model.predict_images([item.image for item in with_image], cache=FeatureCache(),
                                                     on_error="skip")
        rows = dict(zip(kept, probs))
        failed = iter(failures)
        for i, item in enumerate(with_image):
            if i in rows:
                out.append(Prediction(item.item_id, "image", top(model.labels, rows[i], k)))
            else:
                _, message = next(failed)
                log(f"warning: {item.where or item.item_id}: {message}")
                out.append(Prediction(item.item_id, "image", [], error=message))
    order = {item.item_id: n for n, item in enumerate(items)}
    return sorted(out, key=lambda p: (order[p.item_id], p.modality != "text"))


def needed_modalities(items) -> list[str]:
    return [m for m, present in (("text", any(i.text is not None for i in items)),
                                 ("image", any(i.image is not None for i in items))) if present]
