"""``interestkit evaluate`` and ``interestkit fusion fit``: rankings against labelled users."""

from __future__ import annotations

import json

import click

from ..app.evaluate import check_fittable, run_evaluation, run_fusion_fit
from ..app.ranking import prepare
from .options import SCORING, fusion_options, ranking_flags, ranking_options
from .output import echo_err, table_text
from .ranking import fusion_note


STRICT = click.option("--strict", is_flag=True,
                      help="Fail, instead of warning, on labelled users without posts and on labelled interests the "
                           "models do not know (or know in another case).")


POSTS_HELP = "Posts table (.jsonl, .parquet or .csv)."


@click.command()
@click.option("--posts", "posts_path", required=True, type=click.Path(), help=POSTS_HELP)
@click.option("--labels", "labels_path", required=True, type=click.Path(),
              help="User labels TSV: user_id, interest, other_interests.")
@ranking_flags("mode", *SCORING, defaults={"mode": "all"}, extra_choices={"mode": ("all",)})
@fusion_options
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@STRICT
def evaluate(posts_path, labels_path, options, mode, fusion, fusion_weights, fmt, strict, text_model, image_model,
             media_root, allow_outside_paths):
    """Measure how often each user's labelled interest is ranked first, in the top 3 and top 5.

    '--fusion all' gives one fused row per installed fusion, named after it. Labelled users
    without posts, and labelled interests the models do not know, are warnings ('--strict':
    errors); users without posts are left out of the metrics. '--mode all' (the default)
    evaluates text, image and fused.
    """
    prepared = prepare(posts_path, options, text_model=text_model, image_model=image_model, fusion=fusion,
                       fusion_weights=fusion_weights, labels_path=labels_path, media_root=media_root,
                       allow_outside=allow_outside_paths, strict_labels=strict, log=echo_err)
    table, _ = run_evaluation(prepared, labels_path, mode, fusion, log=echo_err)
    if fmt == "json":
        click.echo(json.dumps(table, indent=2))
        return
    if mode in ("all", "fused") and fusion != "all":
        echo_err(f"fused: {fusion_note(prepared.pipeline)}")
    click.echo(format_evaluation(table))


def format_evaluation(table: dict) -> str:
    """The evaluation as an aligned text table (fractions, 95% bootstrap intervals), with the
    fusion of each fused row; a row whose fusion failed shows dashes (its error is on stderr)."""
    headers = ("mode", "users", "hit@1", "hit@3", "hit@5", "MRR", "nDCG@5", "recall@5", "hit@1 95% CI", "hit@5 95% CI",
               "fusion")
    keys = ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5")
    rows = []
    for name, row in table.items():
        fusion = row.get("fusion") or "-"
        if "error" in row:
            rows.append([name, "-", *["-"] * (len(headers) - 3), f"{fusion} (failed)"])
            continue
        rows.append([name, row["users"], *(_fraction(row[k]) for k in keys), _interval(row["hit_at_1_ci"]),
                     _interval(row["hit_at_5_ci"]), fusion])
    return table_text(headers, rows)


def _fraction(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _interval(value) -> str:
    return "-" if value is None else f"{value[0]:.2f}-{value[1]:.2f}"


@click.group(name="fusion")
def fusion_group():
    """Fit the parameters of fusions on labelled users."""


@fusion_group.command("fit")
@click.option("--posts", "posts_path", required=True, type=click.Path(), help=POSTS_HELP)
@click.option("--labels", "labels_path", required=True, type=click.Path(), help="User labels TSV.")
@click.option("--fusion", default="weighted", show_default=True, help="A fusion with parameters to fit.")
@ranking_flags(*SCORING)
@ranking_options
@STRICT
def fusion_fit(posts_path, labels_path, fusion, options, strict, text_model, image_model, media_root,
               allow_outside_paths):
    """Fit a fusion's parameters on labelled users and log them to MLflow (prints the URI)."""
    check_fittable(fusion)
    prepared = prepare(posts_path, options.replace(mode="fused"), text_model=text_model, image_model=image_model,
                       fusion=fusion, labels_path=labels_path, media_root=media_root,
                       allow_outside=allow_outside_paths, strict_labels=strict, log=echo_err)
    fit = run_fusion_fit(prepared, labels_path, fusion, log=echo_err)
    report = ", ".join(f"{k} {v:.3f}" for k, v in fit["report"].items())
    click.echo(f"{fusion} fusion: {json.dumps(dict(fit['params']))} ({report or 'fitted'} on {fit['users']} labelled users)")
    click.echo(fit["uri"])
    click.echo(f"use it with: --fusion {fusion} --fusion-weights {fit['uri']}")
