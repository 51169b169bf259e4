"""``interestkit models ...`` and ``interestkit ui``: the registry from the command line."""

from __future__ import annotations

import json
import os
import sys

import click

from .cli import cli, echo_err, print_table

METRIC_COLUMNS = ("val_accuracy", "val_top5_accuracy", "val_loss")


@cli.group()
def models():
    """List registered models and promote a champion."""


@models.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def models_list(fmt):
    """Registered versions with aliases, plugin, data fingerprint and metrics side by side."""
    from . import tracking

    rows = tracking.list_models()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        echo_err(f"no registered models in {tracking.tracking_uri()}; train one with 'interestkit train'")
        return
    headers = ("model", "version", "aliases", "plugin", "data", *METRIC_COLUMNS)
    table = [[r["name"], r["version"], ",".join(r["aliases"]) or "-", r["plugin"] or "-", r["data_sha256"] or "-",
              *(f"{r['metrics'][m]:.4f}" if m in r["metrics"] else "-" for m in METRIC_COLUMNS)] for r in rows]
    print_table(headers, table)


@models.command("promote")
@click.option("--modality", type=click.Choice(["text", "image"]), required=True)
@click.option("--metric", default="val_accuracy", show_default=True, help="Pick the best version by this run metric.")
@click.option("--version", type=click.IntRange(min=1), help="Promote this version instead of the best.")
@click.option("--registered-model", help="Registered model name (default interestkit-<modality>).")
def models_promote(modality, metric, version, registered_model):
    """Move the 'champion' alias to the best (or a given) version."""
    from . import tracking

    name = registered_model or tracking.registered_name(modality)
    result = tracking.promote(name, metric=metric, version=version)
    before = f"version {result['previous']}" if result["previous"] else "none"
    value = f" ({metric} {result['value']:.4f})" if result["value"] is not None else ""
    click.echo(f"{name}: champion {before} -> version {result['new']}{value}")


@cli.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
def ui(port, host):
    """Open the MLflow UI on the configured store (compare runs, move the champion alias)."""
    from . import tracking

    command = tracking.ui_command(port, host)
    echo_err(f"MLflow UI for {tracking.tracking_uri()} at http://{host}:{port} (Ctrl-C to stop)")
    sys.stdout.flush()
    os.execv(command[0], command)


@cli.command()
@click.option("--plugins", "plugin_names", required=True, help="Comma-separated plugins of one modality, e.g. bilstm,gru,lstm,rnn.")
@click.option("--data", "-d", required=True, type=click.Path(), help="Captions table or photo folder/table.")
@click.option("--config", "-c", "config_path", type=click.Path(), help="YAML config (configs/paper.yaml: the paper's study).")
@click.option("--epochs", type=click.IntRange(min=1))
@click.option("--image-size", type=click.IntRange(min=16), help="Shrink image inputs (recorded in the runs).")
@click.option("--weights", help="Image encoders: none, imagenet or a weights file.")
@click.option("--max-rows", type=click.IntRange(min=0), help="Compare on a stratified sample of this many rows.")
@click.option("--seed", type=int)
@click.option("--experiment", help="MLflow experiment.")
@click.option("--out", "out_dir", default="comparison", show_default=True, type=click.Path(), help="Folder for the figures and table.")
@click.option("--promote", is_flag=True, help="Move the champion alias to the winner.")
@click.option("--force", is_flag=True, help="Retrain plugins that finished before with the same config and data.")
def compare(plugin_names, data, config_path, epochs, image_size, weights, max_rows, seed, experiment, out_dir,
            promote, force):
    """Train several plugins on the same split and seed; table, figures, MLflow parent run."""
    from .cli import _given, progress_to_stderr
    from .compare import COLUMNS, run_comparison

    training = _given(epochs=epochs, max_rows=max_rows, seed=seed)
    if not sys.stderr.isatty():
        training["verbose"] = 2
    overrides = {"training": training, "encoder": _given(image_size=image_size, weights=weights),
                 "tracking": _given(experiment=experiment)}
    with progress_to_stderr():
        result = run_comparison(plugin_names, data, config_path, overrides, promote=promote, force=force,
                                out_dir=out_dir, log=echo_err)
    print_table(COLUMNS, [[_cell(c, row[c]) for c in COLUMNS] for row in result["rows"]])
    for row in result["rows"]:
        if row["error"]:
            echo_err(f"{row['plugin']}: {row['error']}")
    click.echo(f"figures: {', '.join(result['figures'])}")
    click.echo(f"MLflow parent run: {result['parent_run_id']}")
    if result.get("winner"):
        click.echo(f"best: {result['winner']}")
    if result["promoted"]:
        p = result["promoted"]
        click.echo(f"{p['name']}: champion version {p['previous']} -> version {p['new']}")


# decimals per column of the comparison table; other values print as they are
_DECIMALS = {"val_top1": 4, "val_top5": 4, "val_loss": 4, "train_seconds": 1, "infer_ms_per_item": 2}


def _cell(column, value):
    if value is None:
        return "-"
    if column in _DECIMALS:
        return f"{float(value):.{_DECIMALS[column]}f}"
    if column in ("parameters", "epochs", "version"):
        return str(int(value))
    return str(value)


@models.command("build-hybrid")
@click.option("--fusion", default="score_sum", show_default=True, help="Fusion plugin (weighted uses 'fusion fit' weights).")
@click.option("--ads", "ads_path", type=click.Path(), help="Ad catalogue (.yaml/.csv) to attach.")
@click.option("--text-model", default="models:/interestkit-text@champion", show_default=True)
@click.option("--image-model", default="models:/interestkit-image@champion", show_default=True)
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=0), help="Posts per user kept (most recent).")
def build_hybrid(fusion, ads_path, text_model, image_model, top_k, last):
    """Register interestkit-hybrid: both champions + fusion + labels (+ ads) as one pyfunc model."""
    from .pipeline import build_hybrid as build

    s = build(fusion, ads_path, text_model, image_model, {"top_k": top_k, "last": last}, log=echo_err)
    alias = " (alias champion)" if s["champion"] else ""
    pinned = ", ".join(f"{m} {v.get('name')} v{v.get('version')}" for m, v in s["versions"].items())
    click.echo(f"registered {s['name']} version {s['version']}{alias}: fusion {s['fusion']}, {s['ads']} ads, {pinned}")
    click.echo(f"MLflow run {s['run_id']}; serve it with 'interestkit serve' or "
               f"'mlflow models serve -m models:/{s['name']}/{s['version']} --env-manager local'")


@cli.command()
@click.option("--posts", required=True, type=click.Path(), help="Posts JSONL.")
@click.option("--ads", "ads_path", required=True, type=click.Path(), help="Ad catalogue (.yaml/.csv).")
@click.option("--top-n", default=10, show_default=True, type=click.IntRange(min=1), help="Ads per user.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1), help="Interests per user matched.")
@click.option("--fusion", default="score_sum", show_default=True)
@click.option("--text-model", default="models:/interestkit-text@champion", show_default=True)
@click.option("--image-model", default="models:/interestkit-image@champion", show_default=True)
@click.option("--last", default=20, show_default=True, type=click.IntRange(min=0))
@click.option("--allow-outside-paths", is_flag=True, help="Accept absolute and '..' image paths.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def recommend(posts, ads_path, top_n, top_k, fusion, text_model, image_model, last, allow_outside_paths, fmt):
    """Interest-based, ranked-order ad recommendations per user."""
    from .pipeline import make_ranker
    from .posts import load_posts

    ranker = make_ranker(fusion, ads_path, text_model, image_model,
                         {"top_k": top_k, "last": last, "top_n_ads": top_n}, log=echo_err)
    rows = ranker.rank(load_posts(posts, allow_outside=allow_outside_paths))
    if fmt == "json":
        click.echo(json.dumps([{k: r[k] for k in ("user_id", "interests", "ads")} for r in rows], indent=2))
        return
    for r in rows:
        top = ", ".join(f"{i['interest']} {i['score']:.2f}" for i in r["interests"])
        click.echo(f"{r['user_id']}  interests: {top}")
        for rank, ad in enumerate(r["ads"], 1):
            click.echo(f"  {rank:>2}. {ad['ad_id']}  {ad['title']}  score {ad['score']:.3f}  (for {ad['interest']})")
        if not r["ads"]:
            click.echo("   no active ad matches these interests")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--model", "model_uri", default="models:/interestkit-hybrid@champion", show_default=True)
@click.option("--db", "db_path", type=click.Path(), help="Scores and windows database (default <store>/serving.db).")
@click.option("--window", default=20, show_default=True, type=click.IntRange(min=1), help="Posts kept per user.")
@click.option("--media-root", type=click.Path(file_okay=False), help="Accept image paths relative to this folder.")
@click.option("--reload-seconds", default=30, show_default=True, type=click.IntRange(min=0),
              help="Check for a newly promoted champion this often (0: never).")
def serve(host, port, model_uri, db_path, window, media_root, reload_seconds):
    """Serve interests and ads over HTTP from the hybrid champion (see docs/serving.md)."""
    from . import tracking
    from .serve import InterestService, make_server

    db = db_path or str(tracking.store_dir() / "serving.db")
    service = InterestService(lambda: tracking.load_hybrid(model_uri), db, window=window, media_root=media_root,
                              reload_seconds=reload_seconds if "@" in model_uri else 0)
    server = make_server(service, host, port)
    info = service.model_info
    echo_err(f"serving {info.get('name')} version {info.get('version')} on http://{host}:{server.server_port} "
             f"(state in {db}; Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo_err("stopped")
    finally:
        service.close()
        server.server_close()
