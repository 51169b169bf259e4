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
