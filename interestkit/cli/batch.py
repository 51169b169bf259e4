"""``interestkit batch``: rank every user of a posts table into a Parquet dataset, locally or on Spark."""

from __future__ import annotations

import click

from ..app.batch import ENGINE_NAMES, batch
from ..spark import batch as spark_batch  # noqa: F401 (registers the spark engine; pyspark loads only when used)
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
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--spark-logs", type=click.Path(file_okay=False), default=None,
              help="Folder for Spark's own logs (default: a temporary folder, named when the session starts).")
def batch_command(posts_path, out, engine, master, options, fusion, fusion_weights, overwrite, spark_logs,
                  text_model, image_model, media_root, allow_outside_paths):
    """Rank every user's interests from a posts table into a Parquet dataset."""
    summary = batch(posts_path, out, options, engine=engine, master=master, text_model=text_model,
                    image_model=image_model, fusion=fusion, fusion_weights=fusion_weights, media_root=media_root,
                    allow_outside=allow_outside_paths, overwrite=overwrite, log=echo_err, log_dir=spark_logs)
    rate = summary["posts"] / summary["seconds"] if summary["seconds"] else 0.0
    click.echo(f"{out}: {summary['rows']} rows for {summary['users']} users from {summary['posts']} posts "
               f"({summary['engine']}, {summary['seconds']:.1f}s, {rate:.0f} posts/s)")
