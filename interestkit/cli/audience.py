"""``interestkit audience``: the users of one interest in a rankings dataset, for a campaign."""

from __future__ import annotations

import click

from ..app.audience import ENGINES, FORMATS, audience, audience_text, write_audience
from ..errors import ConfigError
from ..spark import audience as spark_audience  # noqa: F401 (registers the spark engine; pyspark loads only when used)
from .output import echo_err


@click.command("audience")
@click.option("--rankings", "rankings_path", required=True,
              help="A rankings dataset (Parquet, as 'interestkit batch' writes); with --engine spark, any URI Spark reads.")
@click.option("--interest", required=True, help="The interest whose users form the audience (e.g. Golf).")
@click.option("--min-score", type=click.FloatRange(0.0, None), default=0.0, show_default=True,
              help="Users whose score for the interest is below this are left out.")
@click.option("--top", type=click.IntRange(1, None), default=None, help="At most N users, the best-scoring first.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="parquet needs --out (a dataset folder).")
@click.option("--out", type=click.Path(), default=None, help="Write here (whole or not at all) instead of stdout.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: pyarrow in this process; spark: a Spark session (--master), for large datasets.")
@click.option("--master", default="local[2]", show_default=True, help="Spark master for --engine spark.")
def audience_command(rankings_path, interest, min_score, top, fmt, out, engine, master):
    """List the users in an interest's audience: user_id, interest, score, rank; best score first."""
    if fmt == "parquet" and out is None:
        raise ConfigError("--format parquet writes a dataset folder: give it with --out")
    frame = audience(rankings_path, interest, min_score=min_score, top=top, engine=engine, master=master, log=echo_err)
    if out is None:
        click.echo(audience_text(frame, fmt), nl=False)
        return
    write_audience(frame, fmt, out)
    echo_err(f"wrote {len(frame)} users to {out}")
