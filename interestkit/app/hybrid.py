"""Building the hybrid model: both champions + fusion + options (+ ads) as one registered pyfunc."""

from __future__ import annotations

from .. import tracking
from ..data.paths import MediaPolicy
from ..recommend import load_ads
from ..ranking.options import DEFAULT_FUSION, RankingOptions
from .ranking import IMAGE_URI, TEXT_URI, build_pipeline, check_ads_early, fusion_spec, needed_modalities


def _quiet(message):
    pass


def build_hybrid(fusion=DEFAULT_FUSION, fusion_weights=None, ads_path=None, text_uri=TEXT_URI, image_uri=IMAGE_URI,
                 options: RankingOptions | None = None, media_root=None, allow_outside=False, log=_quiet) -> dict:
    """Register ``interestkit-hybrid`` from the given (default: champion) models.

    ``media_root`` and ``allow_outside`` are the served model's path policy, fixed at
    build time (a serving process may still set ``INTERESTKIT_MEDIA_ROOT``).
    """
    ranking_options = options or RankingOptions()
    spec = fusion_spec(fusion, fusion_weights, log)
    ads = load_ads(ads_path) if ads_path else ()
    uris = {"text": text_uri, "image": image_uri}
    check_ads_early(ads, uris, needed_modalities(ranking_options.mode))
    media = MediaPolicy(media_root, allow_outside)
    pipeline = build_pipeline(uris, ranking_options, spec, ads, media, log=log)
    summary = tracking.log_hybrid(pipeline)
    name, version = summary["name"], summary["version"]
    summary.update(fusion=spec.name, ads=len(pipeline.ads), versions=dict(pipeline.provenance),
                   options=pipeline.describe(),  # 'serve' serves the champion: say which it is, and how to move it
                   champion_version=version if summary["champion"] else tracking.champion_version(name),
                   promote_command=tracking.promote_command(name, version))
    return summary
