"""``interestkit batch``: rank every user of a posts table into a Parquet dataset, locally or on Spark."""

from __future__ import annotations

from contextlib import nullcontext

import click

from ..app.audience import check_target, export, staged_rankings
from ..app.batch import ENGINE_NAMES, batch
from ..spark import batch as spark_batch  # noqa: F401 (registers the spark engine; pyspark loads only when used)
from .adtech import segment_options, segment_settings
from .options import SCORING, fusion_options, ranking_flags, ranking_options
from .output import echo_err


@click.command("batch")
@click.option("--posts", "posts_path", required=True,
              help="Posts: JSONL, Parquet or CSV; a local path, or (with --engine spark) any URI Spark reads.")
@click.option("--out", required=True, help="Parquet dataset to write: user_id, rank, interest, score, n_posts, posts.")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="local", show_default=True,
              help="local: this process; spark: a Spark session (--master).")
@click.option("--master", default="local[2]", show_default=True,
              help="Spark master for --engine spark (ignored when a session is already running, as under spark-submit).")
@ranking_flags("mode", "top_k", "posts_per_interest", *SCORING)
@fusion_options
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["rankings", "openrtb", "segments"]), default="rankings",
              show_default=True, help="What --out holds: the rankings dataset; one OpenRTB 2.6 User object per line "
              "(a JSONL file); or a segments table (user_id, segtax, segment_id, interest, score, rank) to upload to a DMP.")
@segment_options
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--spark-logs", type=click.Path(file_okay=False), default=None,
              help="Folder for Spark's own logs (default: a temporary folder, named when the session starts).")
def batch_command(posts_path, out, engine, master, options, fusion, fusion_weights, overwrite, spark_logs, fmt,
                  text_model, image_model, media_root, allow_outside_paths, **segment_values):
    """Rank every user's interests from a posts table into a Parquet dataset."""
    segments, rules = segment_settings(segment_values)
    if fmt != "rankings":
        check_target(out, fmt, overwrite)
    # openrtb and segments: ranked into a dataset beside --out first, then turned into segments
    with nullcontext(out) if fmt == "rankings" else staged_rankings(out) as rankings:
        summary = batch(posts_path, str(rankings), options, engine=engine, master=master, text_model=text_model,
                        image_model=image_model, fusion=fusion, fusion_weights=fusion_weights, media_root=media_root,
                        allow_outside=allow_outside_paths, overwrite=overwrite or fmt != "rankings", log=echo_err,
                        log_dir=spark_logs)
        if fmt != "rankings":
            summary["rows"] = export(rankings, out, fmt, segments, rules, log=echo_err)
    rate = summary["posts"] / summary["seconds"] if summary["seconds"] else 0.0
    what = {"rankings": "rows", "openrtb": "OpenRTB users", "segments": "segment rows"}[fmt]
    click.echo(f"{out}: {summary['rows']} {what} for {summary['users']} users from {summary['posts']} posts "
               f"({summary['engine']}, {summary['seconds']:.1f}s, {rate:.0f} posts/s)")
