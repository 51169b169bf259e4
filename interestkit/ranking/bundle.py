"""A RankingPipeline saved as a folder: the artefact of the hybrid MLflow model.

::

    <folder>/text/           the text model's folder (any model format)
    <folder>/image/          the image model's folder
    <folder>/pipeline.json   fusion and its parameters, options, ads, media policy, provenance

Every option the pipeline was built with is in ``pipeline.json``, so a loaded bundle
ranks exactly as the pipeline that was saved. The feature cache is the loading process's
business, as is the media root: a process may pass its own policy at load.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__, hooks, settings
from ..atomic import atomic_folder
from ..data.paths import MediaPolicy
from ..errors import ModelError, PluginError
from ..hooks import requirements
from ..modeling.model import load_model
from ..recommend import ad_from_dict, ad_to_dict
from .pipeline import FusionSpec, RankingOptions, RankingPipeline

SPEC_FILE = "pipeline.json"
FORMAT_VERSION = 1


def spec_of(pipeline: RankingPipeline) -> dict:
    """The JSON description of everything but the models' weights."""
    return {"format_version": FORMAT_VERSION, "interestkit_version": __version__,
            "modalities": sorted(pipeline.models), "labels": pipeline.labels,
            "fusion": pipeline.fusion.as_dict(), "options": pipeline.options.as_dict(),
            "ads": [ad_to_dict(ad) for ad in pipeline.ads], "media": pipeline.media.describe(),
            "provenance": {m: dict(p) for m, p in pipeline.provenance.items()}}


def save_bundle(pipeline: RankingPipeline, directory) -> Path:
    """Write the pipeline's models and ``pipeline.json`` under ``directory``, atomically."""
    directory = Path(directory)
    with atomic_folder(directory) as staging:
        for modality, model in pipeline.models.items():
            model.save(staging / modality)
        (staging / SPEC_FILE).write_text(json.dumps(spec_of(pipeline), indent=2, sort_keys=True, default=str))
    return directory


def read_spec(directory) -> dict:
    path = Path(directory) / SPEC_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: not a saved ranking pipeline ({error})") from None
    if spec.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: pipeline format {spec.get('format_version')!r} is not the supported "
                         f"{FORMAT_VERSION}; rebuild it with 'interestkit models build-hybrid'")
    return spec


def load_bundle(directory, media: MediaPolicy | None = None, cache=None) -> RankingPipeline:
    """The saved pipeline; ``media`` replaces the saved media policy when given."""
    directory = Path(directory)
    spec = read_spec(directory)
    _check_fusion(directory, spec["fusion"])  # before the models: it is the quick check
    models = {m: load_model(directory / m) for m in spec["modalities"]}
    saved_media = spec.get("media") or {}
    if media is None:
        media = MediaPolicy(saved_media.get("media_root"), bool(saved_media.get("allow_outside")),
                            settings.HYBRID_MEDIA_HINT)
    fusion = spec["fusion"]
    return RankingPipeline(models, FusionSpec(fusion["name"], fusion.get("params") or {}, fusion.get("source", "")),
                           RankingOptions.from_dict(spec["options"], f"{directory / SPEC_FILE}: options"),
                           tuple(ad_from_dict(a) for a in spec.get("ads", [])), cache, media,
                           spec.get("provenance") or {})


def _check_fusion(directory: Path, fusion: dict) -> None:
    """ModelError naming the distribution to install or allow when the saved fusion is not usable here."""
    try:
        hooks.get("fusion", fusion["name"])
    except PluginError as error:
        need = requirements.Need(f"its fusion {fusion['name']!r}", fusion.get("package") or "",
                                 str(fusion.get("package_version") or ""))
        unmet = requirements.problem_of(need)
        raise ModelError(f"{directory}: this hybrid cannot rank here: {unmet or error}") from None
