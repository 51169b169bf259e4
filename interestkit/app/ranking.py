"""Building the ranking pipeline from a command's options: the one place that does it.

``rank``, ``recommend``, ``evaluate``, ``fusion fit``, ``build-hybrid`` and ``batch``
call ``prepare`` (or ``build_pipeline``): inputs are validated first (options, posts,
catalogue, fusion parameters), then the models load, so a mistake in a file is reported
before anything heavy starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import hooks, tracking
from ..data.labels import label_problems, load_labels
from ..data.paths import MediaPolicy
from ..data.posts import by_user, read_posts
from ..errors import ConfigError, DataError, ModelError
from ..modeling.cache import FeatureCache
from ..recommend import check_interests, load_ads
from ..ranking.fusing import guarded_fusion
from ..ranking.pipeline import DEFAULT_FUSION, FusionSpec, RankingOptions, RankingPipeline
from ..taxonomy import INTERESTS

TEXT_URI = "models:/interestkit-text@champion"
IMAGE_URI = "models:/interestkit-image@champion"
OUTSIDE_HINT = "pass --allow-outside-paths to accept them"


def _quiet(message):
    pass


def needed_modalities(mode: str) -> list[str]:
    return ["text", "image"] if mode == "fused" else [mode]


def load_models(uris: dict, modalities, log=_quiet) -> tuple[dict, dict]:
    """``({modality: model}, {modality: provenance})``; an empty URI leaves a modality out.

    Errors say which model failed and, in a two-model mode, how to do without it.
    """
    models, provenance = {}, {}
    for modality in modalities:
        uri = uris.get(modality)
        if not uri:
            continue
        try:
            model, described = tracking.load_interest_model(uri)
        except ModelError as error:
            other = "image" if modality == "text" else "text"
            alternative = f"; or do without it: --mode {other}" if len(modalities) > 1 else ""
            raise ModelError(f"{modality} model: {error}{alternative}") from None
        if model.modality != modality:
            raise ModelError(f"{uri!r} is a model of {model.modality}, but --{modality}-model needs a {modality} model")
        version = f"version {described['version']}, " if described.get("version") else ""
        runtime = getattr(model, "runtime", None)
        log(f"{modality} model: {uri} ({version}{len(model.labels)} interests, temperature {model.temperature:.3f}"
            f"{', on ' + runtime if runtime else ''})")
        models[modality], provenance[modality] = model, described
    if not models:
        raise ModelError(f"no model to rank with: give --text-model or --image-model (mode needs {' or '.join(modalities)})")
    return models, provenance


def fusion_spec(name: str | None, weights: str | None = None, log=_quiet) -> FusionSpec:
    """The fusion ``name`` with the parameters fitted by ``fusion fit`` (``weights``: its
    ``runs:/...`` URI or a file), or with its defaults. ``name`` None or ``all``: the
    fusion the parameters are for (without parameters: the default fusion)."""
    document = tracking.load_fusion_document(weights) if weights else None
    if name in (None, "all"):
        name = document["fusion"] if document else _default_fusion(every=name == "all")
    info = hooks.get("fusion", name)
    if document:
        if document["fusion"] != name:
            raise ConfigError(f"{document['source']} holds parameters of fusion {document['fusion']!r}, "
                              f"not of {name!r}; pass --fusion {document['fusion']}")
        guarded_fusion(info, document["params"], document["source"])  # bad parameters fail before models load
        log(f"fusion {name}: parameters {document['params']} from {document['source']}")
        fitted_on = (document.get("fitted_on") or {}).get("sha256", "")
        return FusionSpec(name, document["params"], document["source"], fitted_on)
    if info.cls.fittable:
        log(f"fusion {name}: default parameters {info.cls().params()} (fit them with 'interestkit fusion fit', "
            "then pass its URI with --fusion-weights)")
    return FusionSpec(name, {}, "defaults")


def _default_fusion(every: bool) -> str:
    """The default fusion; for ``--fusion all`` (each fusion its own row) any usable one will do."""
    usable = hooks.collect("fusion")
    return DEFAULT_FUSION if DEFAULT_FUSION in usable or not every or not usable else next(iter(usable))


def media_policy(posts_path=None, media_root=None, allow_outside: bool = False) -> MediaPolicy:
    """Image paths resolve against ``media_root``, by default the posts file's folder."""
    root = Path(media_root) if media_root else (Path(posts_path).parent if posts_path else None)
    if media_root and not root.is_dir():
        raise DataError(f"--media-root {media_root}: {'not a folder' if root.exists() else 'folder not found'}")
    return MediaPolicy(root, allow_outside, OUTSIDE_HINT if not allow_outside else "")


def check_ads_early(ads, uris: dict, modalities) -> None:
    """The ads' interests against the labels the models will have, read without loading
    them, so that a catalogue's mistake is found before the slow part (skipped when a
    model's labels cannot be read cheaply: ``build_pipeline`` checks once it loads)."""
    if not ads:
        return
    known = set(INTERESTS)
    for modality in modalities:
        if uris.get(modality):
            labels = tracking.model_labels(uris[modality])
            if labels is None:
                return
            known |= set(labels)
    check_interests(ads, known)


def build_pipeline(uris: dict, options: RankingOptions, fusion: FusionSpec, ads=(), media: MediaPolicy | None = None,
                   cache: bool = True, modalities=None, log=_quiet) -> RankingPipeline:
    """Load the models the mode needs and assemble the pipeline (ads checked against their labels)."""
    models, provenance = load_models(uris, modalities or needed_modalities(options.mode), log)
    known = {label for model in models.values() for label in model.labels} | set(INTERESTS)
    check_interests(ads, known)
    return RankingPipeline(models, fusion, options, tuple(ads), FeatureCache(enabled=cache),
                           media or MediaPolicy(), provenance)


@dataclass
class Prepared:
    """A command's validated inputs and its pipeline."""

    posts_path: Path
    posts: list  # every post of the file
    pipeline: RankingPipeline
    labels: dict | None = None  # {user_id: UserLabel}, when labels were given
    notes: list = field(default_factory=list)


def prepare(posts_path, options: RankingOptions | None = None, *, text_model=TEXT_URI, image_model=IMAGE_URI,
            fusion=DEFAULT_FUSION, fusion_weights=None, ads_path=None, labels_path=None, media_root=None,
            allow_outside=False, modalities=None, strict_labels=True, log=_quiet) -> Prepared:
    """Validate every input, then load the models: what ``rank`` and the other commands share.

    Progress is logged once everything is valid, so a mistake is the only line a command
    prints. With labels, users without posts and interests the models do not know (or
    know in another case) are errors with ``strict_labels``, else warnings (users without
    posts are then left out of the metrics).
    """
    progress: list[str] = []
    ranking_options = options or RankingOptions()
    mode = ranking_options.mode
    spec = fusion_spec(fusion, fusion_weights, progress.append)
    media = media_policy(posts_path, media_root, allow_outside)
    posts = read_posts(posts_path, media)
    users = by_user(posts)
    window = f"the last {ranking_options.last} posts" if ranking_options.last else "every post"
    progress.append(f"{posts_path}: {len(posts)} posts of {len(users)} users; using {window} of each user")
    ads = load_ads(ads_path) if ads_path else ()
    uris = {"text": text_model, "image": image_model}
    check_ads_early(ads, uris, modalities or needed_modalities(mode))
    labels = load_labels(labels_path) if labels_path is not None else None
    if labels is not None and strict_labels:  # what needs no model fails before any loads
        _checked_labels(labels, labels_path, posts, None, posts_path, True, [])
    pipeline = build_pipeline(uris, ranking_options, spec, ads, media, modalities=modalities or needed_modalities(mode),
                              log=progress.append)
    if labels is not None:
        labels = _checked_labels(labels, labels_path, posts, pipeline, posts_path, strict_labels, progress)
    for message in progress:
        log(message)
    return Prepared(Path(posts_path), posts, pipeline, labels)


def _checked_labels(labels, labels_path, posts, pipeline, posts_path, strict, progress) -> dict:
    known = {label for model in pipeline.models.values() for label in model.labels} if pipeline else None
    problems, without_posts = label_problems(labels, labels_path, posts, known, posts_source=str(posts_path))
    if problems and strict:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more}")
    progress.extend(f"warning: {problem}" for problem in problems)
    kept = {user_id: label for user_id, label in labels.items() if user_id not in without_posts}
    if not kept:
        raise DataError(f"{labels_path}: no labelled user has posts in {posts_path}")
    progress.append(f"{labels_path}: {len(kept)} labelled users" +
                    (f" ({len(without_posts)} without posts left out)" if without_posts else ""))
    return kept
