"""``interestkit test``: per-item evaluation of a registered model on labelled data."""

from __future__ import annotations

import json

import click

from ..app.assess import run_assessment
from ..runtime.choice import CHOICES, set_runtime
from .output import echo_err, progress_to_stderr, table_text
from .runtime import HELP as RUNTIME_HELP


@click.command(name="test")
@click.option("--model", "uri", required=True, metavar="URI",
              help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/... or a model folder.")
@click.option("--data", "-d", "data_path", required=True, type=click.Path(),
              help="Labelled captions (label, text) or photos (a folder of label sub-folders, or a table).")
@click.option("--group-by", metavar="COLUMN", help="Also report each value of this column separately (e.g. source).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--runtime", type=click.Choice([*CHOICES, "both"]), default=None,
              help=f"{RUNTIME_HELP} both: score on TensorFlow and through the export, and report them side by side.")
def assess_command(uri, data_path, group_by, fmt, runtime):
    """Score every labelled item with a model: top-1, top-5, per-label precision and
    recall, macro-F1, calibration error; figures and metrics go to an MLflow run.
    With --runtime both, also what the export costs against TensorFlow."""
    set_runtime(None if runtime == "both" else runtime)
    with progress_to_stderr():
        result = run_assessment(uri, data_path, group_by, log=echo_err, runtime=runtime)
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
    compared = [runtimes_text(result["runtimes"]), ""] if result.get("runtimes") else []
    return "\n".join([table_text(headers, rows), "", *compared,
                      table_text(("label", "items", "precision", "recall", "F1"), labels), "",
                      f"MLflow run: {result['run_id']}"])


def runtimes_text(runtimes: dict) -> str:
    """TensorFlow and the export side by side, and the difference (export minus TensorFlow)."""
    keys = ("top1", "top5", "macro_f1", "ece")
    rows = [["tensorflow", runtimes["tf"]["items"], *(_f(runtimes["tf"][k]) for k in keys)],
            [f"export ({runtimes['export_runtime']})", runtimes["export"]["items"],
             *(_f(runtimes["export"][k]) for k in keys)],
            ["difference", "", *(_signed(runtimes["difference"][k]) for k in keys)]]
    return "\n".join([table_text(("runtime", "items", "top-1", "top-5", "macro-F1", "ECE"), rows),
                      f"same top-1 interest on both: {_f(runtimes['agreement_top1'])} of the items"])


def _signed(value) -> str:
    return "-" if value is None else f"{value:+.3f}"
