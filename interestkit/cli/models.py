"""``interestkit models ...`` and ``interestkit ui``: the registry from the command line."""

from __future__ import annotations

import json
import os
import sys

import click

from .. import tracking
from ..app.hybrid import build_hybrid
from .export import export_command
from .options import SCORING, fusion_options, model_options, ranking_flags
from .output import echo_err, print_table

METRIC_COLUMNS = ("val_accuracy", "val_top5_accuracy", "val_loss")
PROMOTABLE = ("text", "image", "hybrid")


@click.group()
def models():
    """List registered models and promote a champion."""


@models.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def models_list(fmt):
    """Registered versions with aliases, plugin, kind (trained, zero-shot, few-shot), data fingerprint and metrics."""
    rows = tracking.list_models()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        echo_err(f"no registered models in {tracking.tracking_uri()}; train one with 'interestkit train'")
        return
    headers = ("model", "version", "aliases", "plugin", "kind", "data", *METRIC_COLUMNS)
    table = [[r["name"], r["version"], ",".join(r["aliases"]) or "-", r["plugin"] or "-", r["kind"],
              r["data_sha256"] or "-",
              *(f"{r['metrics'][m]:.4f}" if m in r["metrics"] else "-" for m in METRIC_COLUMNS)] for r in rows]
    print_table(headers, table)


@models.command("promote")
@click.option("--model", "--modality", "kind", type=click.Choice(PROMOTABLE),
              help="Which model: interestkit-text, interestkit-image or interestkit-hybrid (--modality is an alias).")
@click.option("--metric", default=None,
              help="Pick the best version by this run metric (default: val_accuracy; a hybrid: the newest version).")
@click.option("--version", type=click.IntRange(min=1), help="Promote this version instead of the best.")
@click.option("--registered-model", help="Registered model name (default interestkit-<model>).")
def models_promote(kind, metric, version, registered_model):
    """Move the 'champion' alias to the best (or a given) version; the one 'serve', 'rank' and the rest use."""
    if not (kind or registered_model):
        raise click.UsageError("which model? give --model text, image or hybrid (or --registered-model NAME)")
    name = registered_model or tracking.registered_name(kind)
    if metric is None and name != tracking.HYBRID_NAME:
        metric = "val_accuracy"
    result = tracking.promote(name, metric=metric, version=version)
    before = f"version {result['previous']}" if result["previous"] else "none"
    value = f" ({metric} {result['value']:.4f})" if result["value"] is not None else ""
    newest = " (the newest)" if metric is None and version is None else ""
    click.echo(f"{name}: champion {before} -> version {result['new']}{newest}{value}")


@click.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
def ui(port, host):
    """Open the MLflow UI on the configured store (compare runs, move the champion alias)."""
    command = tracking.ui_command(port, host)
    echo_err(f"MLflow UI for {tracking.tracking_uri()} at http://{host}:{port} (Ctrl-C to stop)")
    sys.stdout.flush()
    os.execv(command[0], command)


@models.command("build-hybrid")
@fusion_options
@click.option("--ads", "ads_path", type=click.Path(), help="Ad catalogue (.yaml/.csv) to attach.")
@model_options
@ranking_flags("mode", "top_k", "top_n_ads", "posts_per_interest", *SCORING)
@click.option("--media-root", type=click.Path(file_okay=False), default=None,
              help="Where the served model reads image paths from (a serving process may set INTERESTKIT_MEDIA_ROOT "
                   "instead); without it, photos must come inline.")
@click.option("--allow-outside-paths", is_flag=True, help="Let the served model read image paths anywhere (trusted callers only).")
def build_hybrid_command(fusion, fusion_weights, ads_path, text_model, image_model, options, media_root,
                         allow_outside_paths):
    """Register interestkit-hybrid: both champions + fusion + options (+ ads) as one pyfunc model."""
    s = build_hybrid(fusion, fusion_weights, ads_path, text_model, image_model, options, media_root,
                     allow_outside_paths, log=echo_err)
    alias = " (alias champion)" if s["champion"] else ""
    pinned = ", ".join(f"{m} {v.get('name', v.get('uri'))} v{v.get('version', '-')}" for m, v in s["versions"].items())
    click.echo(f"registered {s['name']} version {s['version']}{alias}: fusion {s['fusion']}, {s['ads']} ads, {pinned}")
    click.echo(_serve_hint(s))


def _serve_hint(s) -> str:
    """How to serve the version just built: 'interestkit serve' serves the champion only."""
    uri = f"models:/{s['name']}/{s['version']}"
    if s["champion"]:
        return (f"MLflow run {s['run_id']}; it is the champion, so 'interestkit serve' serves it "
                f"(or 'mlflow models serve -m {uri} --env-manager local')")
    champion = s["champion_version"]
    return (f"MLflow run {s['run_id']}; it is not the champion (version {champion} is), so 'interestkit serve' "
            f"keeps serving version {champion}: make it the champion with '{s['promote_command']}', "
            f"or serve it as it is with 'interestkit serve --model {uri}'")


models.add_command(export_command)
