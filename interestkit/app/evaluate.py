"""Evaluating rankings on labelled users, and fitting a fusion on them.

Posts are windowed and scored once by the pipeline; every row of the evaluation table
(text, image, and fused with one fusion or with each) ranks from those same scores.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from .. import hooks, tracking
from ..errors import ConfigError, PluginError
from ..ranking.evaluation import evaluate, fit_fusion
from ..ranking.pipeline import FusionSpec
from .ranking import Prepared


def _quiet(message):
    pass


def fingerprint(*paths) -> str:
    """SHA-256 over the bytes of the given files (which posts and labels a fit used)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def evaluation_rows(mode: str, fusion: str) -> list[tuple[str, str, str | None]]:
    """(row name, mode, fusion name or None) for each row of the evaluation table.

    With one fusion the fused row is ``fused``; with ``--fusion all`` there is one row per
    fusion plugin, named after it, including those that cannot be used (their rows say why).
    """
    rows = [(m, m, None) for m in ("text", "image") if mode in ("all", m)]
    if mode in ("all", "fused"):
        if fusion == "all":
            collected = hooks.registrations("fusion")
            rows.extend((name, "fused", name) for name in [*collected.usable, *collected.unusable])
        else:
            rows.append(("fused", "fused", fusion))
    return rows


def score_users(prepared: Prepared, log=_quiet):
    """(windowed posts, their scores, per-user scores) from the prepared pipeline."""
    pipeline = prepared.pipeline
    selected, _ = pipeline.window(prepared.posts)
    scored = pipeline.score(selected, log)
    return selected, scored, pipeline.user_scores(selected, scored)


def run_evaluation(prepared: Prepared, labels_path, mode: str, fusion: str, log=_quiet):
    """Rank and evaluate every requested mode on scored posts; log the run. ``(table, run id, rankings)``"""
    pipeline, labels = prepared.pipeline, prepared.labels
    _, _, scores = score_users(prepared, log)
    table, ranked = {}, {}
    for row, row_mode, fusion_name in evaluation_rows(mode, fusion):
        try:
            row_pipeline = pipeline
            if fusion_name and fusion_name != pipeline.fusion.name:
                row_pipeline = pipeline.replace(fusion=FusionSpec(fusion_name))
            ranked[row] = row_pipeline.rankings(scores, row_mode)
        except PluginError as error:  # one fusion's failure is its row's, not the evaluation's
            table[row] = {"fusion": fusion_name, "error": str(error)}
            log(f"error: {row}: {error}")
            continue
        table[row] = {"fusion": fusion_name, **evaluate(ranked[row], labels)}
    if pipeline.fusion.fitted_on and pipeline.fusion.fitted_on == fingerprint(prepared.posts_path, labels_path):
        log(f"note: the {pipeline.fusion.name} parameters were fitted on these same users, so its row is optimistic")
    params = {"posts": str(prepared.posts_path), "labels": str(labels_path), "users": len(labels), "mode": mode,
              "fusion": fusion, **_pipeline_params(pipeline)}
    top5 = {row: {user: r[:5] for user, r in by_user.items()} for row, by_user in ranked.items()}
    run_id = tracking.log_evaluation(table, params, {"rankings_top5.json": top5, "pipeline.json": pipeline.describe()})
    log(f"logged to MLflow run {run_id} (experiment {tracking.EVALUATION_EXPERIMENT}, store {tracking.tracking_uri()})")
    return table, run_id


def _pipeline_params(pipeline) -> dict:
    described = pipeline.describe()
    params = {f"option.{k}": v for k, v in described["options"].items() if k != "mode"}
    params.update({"fusion.params": described["fusion"]["params"], "fusion.source": described["fusion"]["source"]})
    for modality, model in described["models"].items():
        params[f"{modality}_model"] = model.get("uri")
        params[f"{modality}_model_version"] = model.get("version")
        params[f"{modality}_temperature"] = model["temperature"]
    return params


def check_fittable(fusion: str):
    """The fusion's plugin info, or ConfigError when it has nothing to fit (checked before anything loads)."""
    if fusion == "all":
        raise ConfigError("--fusion all is for 'interestkit evaluate'; fit one fusion at a time")
    info = hooks.get("fusion", fusion)
    if not info.cls.fittable:
        fittable = sorted(name for name, p in hooks.collect("fusion").items() if p.cls.fittable)
        raise ConfigError(f"fusion {fusion!r} has nothing to fit; fittable fusions: {', '.join(fittable) or 'none'}")
    return info


def run_fusion_fit(prepared: Prepared, labels_path, fusion: str, log=_quiet) -> dict:
    """Fit fusion ``fusion`` on the labelled users and log it; returns the fit's summary."""
    info = check_fittable(fusion)
    _, _, scores = score_users(prepared, log)
    fuser = info.cls()
    report, users = fit_fusion(fuser, scores, prepared.labels)
    spec = FusionSpec(fusion, fuser.params(), "fit")
    pipeline = prepared.pipeline
    details = {
        "users": users,
        "fitted_on": {"posts": str(Path(prepared.posts_path).resolve()), "labels": str(Path(labels_path).resolve()),
                      "sha256": fingerprint(prepared.posts_path, labels_path)},
        "models": {m: {k: d.get(k) for k in ("uri", "version", "temperature")}
                   for m, d in pipeline.describe()["models"].items()},
        "options": pipeline.options.as_dict(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    uri = tracking.log_fusion_fit(spec, report, details)
    log(f"logged to MLflow ({uri}, experiment {tracking.EVALUATION_EXPERIMENT})")
    return {"uri": uri, "fusion": fusion, "params": spec.params, "report": report, "users": users}
