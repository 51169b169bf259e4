"""``interestkit plugins`` and ``interestkit cache``: what is installed, and the feature cache."""

from __future__ import annotations

import json

import click

from .. import hooks
from ..modeling.cache import FeatureCache
from .output import print_table


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def plugins_command(as_json):
    """List registered encoders, classifiers and fusions."""
    rows = [info.as_dict() for info in hooks.all_plugins()]
    providers = hooks.plugin_rows()
    if as_json:
        click.echo(json.dumps(rows + providers, indent=2))
        return
    headers = ("kind", "name", "modality", "package", "version", "description")
    print_table(headers, [[str(row[h] if row[h] is not None else "-") for h in headers] for row in rows])
    click.echo("")
    print_table(("plugin", "package", "version", "hooks"), [
        [row["name"], row["package"] or "-", row["version"] or "-",
         ", ".join(row["hooks"]) if row["status"] == "ok" else f"failed: {row['description']}"]
        for row in providers])


@click.group()
def cache():
    """Inspect or clear the image feature cache."""


@cache.command("info")
@click.option("--dir", "cache_dir", type=click.Path(),
              help="Cache folder (default $INTERESTKIT_CACHE_DIR or ~/.cache/interestkit/features).")
def cache_info(cache_dir):
    """Where the cache is, how many entries and bytes it holds."""
    click.echo(json.dumps(FeatureCache(cache_dir).info(), indent=2, default=str))


@cache.command("clear")
@click.option("--dir", "cache_dir", type=click.Path())
def cache_clear(cache_dir):
    """Delete every cached feature."""
    removed = FeatureCache(cache_dir).clear()
    click.echo(f"removed {removed} cached feature entries")
