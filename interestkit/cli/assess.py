"""``interestkit test``: per-item evaluation of a registered model on labelled data."""

from __future__ import annotations

import json

import click

from ..app.assess import run_assessment
from .output import echo_err, progress_to_stderr, table_text


@click.command(name="test")
@click.option("--model", "uri", required=True, metavar="URI",
              help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/... or a model folder.")
@click.option("--data", "-d", "data_path", required=True, type=click.Path(),
              help="Labelled captions (label, text) or photos (a folder of label sub-folders, or a table).")
@click.option("--group-by", metavar="COLUMN", help="Also report each value of this column separately (e.g. source).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def assess_command(uri, data_path, group_by, fmt):
    """Score every labelled item with a model: top-1, top-5, per-label precision and
    recall, macro-F1, calibration error; figures and metrics go to an MLflow run."""
    with progress_to_stderr():
        result = run_assessment(uri, data_path, group_by, log=echo_err)
    for note in result["notes"]:
        echo_err(f"note: {note}")
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, default=str))
        return
    click.echo(format_assessment(result))


def _f(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_assessment(result: dict) -> str:
    """The overall row (and one per group), then the per-label table."""
    headers = ("set", "items", "top-1", "top-5", "macro-F1", "ECE")
    rows = [["all", result["overall"]["items"], *(_f(result["overall"][k]) for k in ("top1", "top5", "macro_f1",
                                                                                     "ece"))]]
    for group, row in result.get("groups", {}).items():
        rows.append([group, row["items"], *(_f(row[k]) for k in ("top1", "top5", "macro_f1", "ece"))])
    labels = [[label, row["support"], _f(row["precision"]), _f(row["recall"]), _f(row["f1"])]
              for label, row in sorted(result["overall"]["per_label"].items())]
    return "\n".join([table_text(headers, rows), "", table_text(("label", "items", "precision", "recall", "F1"),
                                                               labels), "", f"MLflow run: {result['run_id']}"])
