"""The 1,000 ImageNet classes by name, and their map to interests.

The names ship with interestkit (``interestkit/imagenet_classes.tsv``: synset id and
name, one line per class in the class order every ImageNet-1k classifier uses, index 0
``tench`` ... 999 ``toilet_tissue``). They are the names keras-hub bundles
(``keras_hub.utils.imagenet_id_to_name``: one short WordNet name per class, e.g.
``tabby`` or ``golf_ball``), copied so that reading them neither downloads anything nor
imports keras-hub (tens of seconds on a loaded CPU). Underscores become spaces.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import ConfigError, suggest
from ..taxonomy import Taxonomy, default_taxonomy
from .embedding import default_embedder
from .mapping import ClassMap, map_classes

NUM_CLASSES = 1000
CLASSES_FILE = Path(__file__).resolve().parents[1] / "imagenet_classes.tsv"


@functools.lru_cache(maxsize=1)
def imagenet_synsets() -> tuple:
    """``(synset id, name)`` of the 1,000 ImageNet-1k classes, by class index."""
    rows = [line.split("\t") for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    if len(rows) != NUM_CLASSES or any(len(row) != 2 for row in rows):
        raise ConfigError(f"{CLASSES_FILE}: expected {NUM_CLASSES} lines 'synset<TAB>name'")
    return tuple((wnid, name) for wnid, name in rows)


def imagenet_class_names() -> tuple:
    """The 1,000 ImageNet-1k class names, by class index (``golf ball``, not ``golf_ball``)."""
    return tuple(name.replace("_", " ") for _, name in imagenet_synsets())


def class_index(name) -> int:
    """The index of an ImageNet class given by index or by name (spaces or underscores, any case)."""
    if isinstance(name, int) and not isinstance(name, bool):
        if 0 <= name < NUM_CLASSES:
            return name
        raise ConfigError(f"ImageNet class index {name} is out of range (0 to {NUM_CLASSES - 1})")
    key = str(name).replace("_", " ").strip().lower()
    for i, known in enumerate(imagenet_class_names()):
        if known.lower() == key:
            return i
    raise ConfigError(f"unknown ImageNet class {name!r}{suggest(key, [n.lower() for n in imagenet_class_names()])}")


def taxonomy_hints(interests, taxonomy: Taxonomy | None = None) -> tuple[dict, dict]:
    """``(prompts, overrides)`` for ``interests`` from a taxonomy (default: the built-in one).

    Prompts are an interest's description and keywords; overrides its
    ``imagenet_classes`` as class indices. Interests the taxonomy lacks get neither.
    """
    taxonomy = taxonomy or default_taxonomy()
    known = {interest.name: interest for interest in taxonomy.interests}
    prompts, overrides = {}, {}
    for name in interests:
        interest = known.get(name)
        if interest is None:
            continue
        prompts[name] = [interest.description, *interest.keywords]
        if interest.imagenet_classes is not None:
            try:
                overrides[name] = tuple(class_index(c) for c in interest.imagenet_classes)
            except ConfigError as error:
                raise ConfigError(f"{interest.where or name}: imagenet_classes: {error}") from None
    return prompts, overrides


def imagenet_map(interests, taxonomy: Taxonomy | None = None, embedder=None, temperature: float = 0.05,
                 background: float | None = None, min_similarity: float = 0.0, use_taxonomy: bool = True) -> ClassMap:
    """The ``ClassMap`` from the ImageNet classes to ``interests``.

    ``embedder``: MiniLM when installed, else GloVe (``default_embedder``). The taxonomy
    (default: the built-in one) gives the interests' descriptions, keywords and
    ``imagenet_classes`` overrides; ``use_taxonomy=False`` maps by the names alone.
    """
    embedder = embedder or default_embedder()
    arguments = (tuple(interests), taxonomy or default_taxonomy(), embedder, temperature, background, min_similarity,
                 use_taxonomy)
    if getattr(embedder, "shared", False):
        return _cached_map(*arguments)
    return _map(*arguments)


@functools.lru_cache(maxsize=16)
def _cached_map(*arguments):
    """With a built-in embedder, the same map is not computed twice in a process (embedding
    1,000 names takes seconds); other embedders may be built anew for each call, so are not kept."""
    return _map(*arguments)


def _map(interests, taxonomy, embedder, temperature, background, min_similarity, use_taxonomy):
    prompts, overrides = taxonomy_hints(interests, taxonomy) if use_taxonomy else ({}, {})
    return map_classes(imagenet_class_names(), interests, embedder, prompts, temperature, background,
                       min_similarity, overrides)
