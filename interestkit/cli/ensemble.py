"""``interestkit ensemble``: average several registered models of one modality into one version."""

from __future__ import annotations

import click

from ..app.ensemble import build_ensemble
from .output import echo_err, progress_to_stderr


@click.command()
@click.option("--models", "models_text", required=True, metavar="URI,URI[,...]",
              help="Registered models of one modality, e.g. models:/interestkit-text/3,models:/interestkit-text/5.")
@click.option("--weights", "weights_text", metavar="W,W[,...]", help="One non-negative weight per model (default equal).")
@click.option("--registered-model", help="Register under this name instead of interestkit-<modality>.")
def ensemble(models_text, weights_text, registered_model):
    """Register the weighted mean of several models as one model version (rank, recommend,
    predict, test and build-hybrid use it like any other)."""
    with progress_to_stderr():
        summary = build_ensemble(models_text, weights_text, registered_model, log=echo_err)
    alias = " (alias champion)" if summary["champion"] else ""
    click.echo(f"registered {summary['name']} version {summary['version']}{alias}: ensemble of "
               f"{len(summary['members'])} {summary['modality']} models")
    click.echo(summary["uri"])
    if not summary["champion"]:
        click.echo(f"make it the champion with: interestkit models promote --model {summary['modality']} "
                   f"--version {summary['version']}")
