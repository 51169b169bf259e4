"""Maps from a classifier's classes (ImageNet's 1,000, say) to interests, by the meaning of their names.

Each class name and each interest is embedded; an interest is the centroid of its
prompts (its name, then its description and keywords where a taxonomy gives them).
``similarity[c, i]`` is the cosine between class ``c`` and interest ``i``. A class's
weights over the interests are a softmax of its similarities at ``temperature``, so
``ClassMap.apply`` turns class probabilities into interest probabilities:
``p(interest) = sum over classes of p(class) * weight(class, interest)``.

With ``background`` set, each class also has an implicit "none of these" interest at
that similarity: a class like *tench* that is close to no interest then gives its mass
to none of them instead of spreading it, and ``apply`` renormalises.

``overrides`` (``{interest: class indices}``, from a taxonomy's ``imagenet_classes``)
replace the similarities of an interest: the listed classes get similarity 1 to it,
every other class -1.

An interest is *reachable* when at least one class is closer to it than to any other
interest, with more than ``min_similarity``; the others cannot get a high score from the
map however sure the classifier is, and ``ClassMap.unreachable`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class ClassMap:
    classes: tuple
    interests: tuple
    similarity: np.ndarray  # (classes, interests) cosine similarities
    matrix: np.ndarray  # (classes, interests) weights; a row sums to at most 1
    embedder: str
    reachable: tuple
    unreachable: tuple

    def apply(self, class_probs, floor: float = 1e-6) -> np.ndarray:
        """``(n, classes)`` probabilities -> ``(n, interests)`` probabilities (rows sum to 1)."""
        probs = np.asarray(class_probs, dtype=np.float64) @ self.matrix + floor
        return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)

    def top_classes(self, interest: str, k: int = 5) -> list:
        """The ``k`` classes that give ``interest`` the most weight: ``[(class, weight), ...]``."""
        column = self.matrix[:, self.interests.index(interest)]
        return [(self.classes[c], float(column[c])) for c in np.argsort(-column, kind="stable")[:k]]

    def notes(self) -> list:
        """What a user should know: the interests the map cannot reach."""
        if not self.unreachable:
            return []
        return [f"ImageNet prior ({self.embedder}): no class maps to {', '.join(self.unreachable)}; "
                "for these only the trained head can score"]


def interest_prompts(interests, prompts: dict | None = None) -> list:
    """The texts embedded for each interest: its name, then ``prompts[name]`` (a string or a list)."""
    prompts = prompts or {}
    out = []
    for name in interests:
        extra = prompts.get(name) or []
        out.append([str(name), *([extra] if isinstance(extra, str) else list(extra))])
    return out


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def map_classes(class_names, interests, embedder, prompts: dict | None = None, temperature: float = 0.05,
                background: float | None = None, min_similarity: float = 0.0, overrides: dict | None = None) -> ClassMap:
    """Build the ``ClassMap`` from ``class_names`` to ``interests`` with ``embedder``.

    ``embedder`` maps a list of strings to rows (``interestkit.semantics.Embedder`` or any
    callable doing that); its ``name`` attribute, if any, is recorded. ``prompts`` and
    ``overrides`` are keyed by interest name (see the module's docstring).
    """
    class_names, interests = tuple(class_names), tuple(interests)
    if not class_names or not interests:
        raise ConfigError("a class map needs at least one class and one interest")
    if not temperature > 0:
        raise ConfigError(f"class map temperature must be above 0, got {temperature}")
    texts = interest_prompts(interests, prompts)
    flat = [t for group in texts for t in group]
    vectors = _unit(np.asarray(embedder(list(class_names) + flat), dtype=np.float64))
    if vectors.ndim != 2 or len(vectors) != len(class_names) + len(flat):
        raise ConfigError(f"the embedder gave an array of shape {vectors.shape} for "
                          f"{len(class_names) + len(flat)} texts")
    owners = np.repeat(np.arange(len(interests)), [len(group) for group in texts])
    centroids = _unit(np.stack([vectors[len(class_names):][owners == i].mean(axis=0) for i in range(len(interests))]))
    similarity = vectors[: len(class_names)] @ centroids.T
    for name, indices in (overrides or {}).items():
        if name in interests:
            column = np.full(len(class_names), -1.0)
            column[list(indices)] = 1.0
            similarity[:, interests.index(name)] = column
    scores = similarity / temperature
    if background is not None:
        scores = np.concatenate([scores, np.full((len(class_names), 1), background / temperature)], axis=1)
    matrix = _softmax(scores)[:, : len(interests)]
    best = similarity.argmax(axis=1)
    won = {int(i) for c, i in enumerate(best) if similarity[c, i] > min_similarity}
    reachable = tuple(name for i, name in enumerate(interests) if i in won)
    unreachable = tuple(name for i, name in enumerate(interests) if i not in won)
    return ClassMap(class_names, interests, similarity.astype(np.float32), matrix.astype(np.float32),
                    getattr(embedder, "name", type(embedder).__name__), reachable, unreachable)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
