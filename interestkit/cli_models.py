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
    from .cli import _given
    from .compare import COLUMNS, run_comparison

    training = _given(epochs=epochs, max_rows=max_rows, seed=seed)
    if not sys.stderr.isatty():
        training["verbose"] = 2
    overrides = {"training": training, "encoder": _given(image_size=image_size, weights=weights),
                 "tracking": _given(experiment=experiment)}
    result = run_comparison(plugin_names, data, config_path, overrides, promote=promote, force=force,
                            out_dir=out_dir, log=echo_err)
    print_table(COLUMNS, [[_cell(row[c]) for c in COLUMNS] for row in result["rows"]])
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


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 100 else f"{value:.0f}"
    return str(value)
