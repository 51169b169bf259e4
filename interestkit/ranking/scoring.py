"""Per-post scores: every caption through the text model, every photo through the image model.

The result is ``{modality: {post_id: {interest: probability}}}``. A model scores only the
interests it knows: an interest it does not know is *absent* from its dicts (not 0), so
scores live on the union of both models' labels. A photo that cannot be read is
reported (``failures``); its post keeps its caption's score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

Scores = dict[str, float]  # {interest: score}


@dataclass
class ScoredPosts:
    """Per-post probabilities by modality, and the posts whose photo could not be read."""

    scores: dict[str, dict[str, Scores]] = field(default_factory=dict)  # {modality: {post_id: {interest: p}}}
    failures: dict[str, str] = field(default_factory=dict)  # {post_id: why its photo was skipped}

    def merge(self, other: "ScoredPosts") -> "ScoredPosts":
        """The scores of both (``other`` wins for a post scored in both)."""
        merged = ScoredPosts({m: dict(s) for m, s in self.scores.items()}, {**self.failures, **other.failures})
        for modality, by_post in other.scores.items():
            merged.scores.setdefault(modality, {}).update(by_post)
        return merged


def score_posts(posts, models: dict, cache=None, calibrated: bool = True, log=None) -> ScoredPosts:
    """Score every post with each given model (``{"text": model, "image": model}``)."""
    scored = ScoredPosts()
    if "text" in models:
        scored.scores["text"] = score_texts(posts, models["text"], calibrated, log)
    if "image" in models:
        scored.scores["image"], scored.failures = score_images(posts, models["image"], cache, calibrated, log)
    return scored


def score_texts(posts, model, calibrated: bool = True, log=None) -> dict[str, Scores]:
    """``{post_id: {interest: p}}`` for posts with a caption: one batched ``predict_texts``."""
    with_text = [post for post in posts if post.text is not None]
    if log:
        log(f"text: scoring {len(with_text)} captions")
    if not with_text:
        return {}
    probs = model.predict_texts([post.text for post in with_text], calibrated=calibrated)
    return {post.post_id: _as_dict(model.labels, row) for post, row in zip(with_text, probs) if _finite(row)}


def score_images(posts, model, cache=None, calibrated: bool = True, log=None) -> tuple[dict[str, Scores], dict[str, str]]:
    """``({post_id: {interest: p}}, {post_id: why it was skipped})``: one batched ``predict_images``."""
    with_image = [post for post in posts if post.image is not None]
    if log:
        log(f"image: scoring {len(with_image)} photos")
    if not with_image:
        return {}, {}
    probs, kept, failures = model.predict_images([post.image for post in with_image], cache=cache,
                                                 on_error="skip", log=log, calibrated=calibrated)
    scores = {with_image[i].post_id: _as_dict(model.labels, row) for i, row in zip(kept, probs) if _finite(row)}
    kept_set = set(kept)
    failed = [post for i, post in enumerate(with_image) if i not in kept_set]
    return scores, {post.post_id: _reason(source, message) for post, (source, message) in zip(failed, failures)}


def _reason(source, message: str) -> str:
    """An image error without the source it starts with (a server's path is nobody's business)."""
    name = str(source) if isinstance(source, (str, PurePath)) else "<bytes>"
    return message.removeprefix(f"{name}: ")


def _as_dict(labels, row) -> Scores:
    return {label: float(value) for label, value in zip(labels, row)}


def _finite(row) -> bool:
    return bool(np.all(np.isfinite(row)))
