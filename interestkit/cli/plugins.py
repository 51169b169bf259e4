"""``interestkit plugins`` and ``interestkit cache``: what is installed, and the feature cache."""

from __future__ import annotations

import json

import click

from .. import hooks
from ..hooks.imports import HEAVY, HINT, LIMIT_S, check_entry_points
from ..modeling.cache import FeatureCache
from ..runtime.choice import encoder_runtime
from .output import echo_err, print_table


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--check", is_flag=True,
              help=f"Also import each plugin in a fresh process: flag those that load {', '.join(HEAVY)} or take "
                   f"more than {LIMIT_S} s (exit code 1 if any does).")
def plugins_command(as_json, check):
    """List every encoder, classifier and fusion, and every plugin, with what is wrong with them.

    Everything is listed, broken plugins and clashing names included; in strict mode
    (--strict-plugins) the command then fails if anything is wrong.
    """
    with hooks.lenient():
        rows = [info.as_dict() for info in hooks.inventory()]
        providers = hooks.plugin_rows()
    costs = [cost.as_dict() for cost in check_entry_points()] if check else []
    if as_json:
        click.echo(json.dumps(rows + providers + [dict(c, kind="import") for c in costs], indent=2))
    else:
        _print_tables(rows, providers, costs)
        if check:
            click.echo("")
            with hooks.lenient():
                usable = [info for info in hooks.inventory() if info.kind in ("encoder", "embedder") and info.status == "ok"]
            print_table(("kind", "name", "scores on"), [[info.kind, info.name, encoder_runtime(info.cls)]
                                                        for info in usable])
    hooks.enforce_strict()
    if any(c["problems"] for c in costs):
        for cost in costs:
            for problem in cost["problems"]:
                echo_err(f"{cost['plugin']} ({cost['package']}): {problem}")
        echo_err(f"hint: {HINT}")
        click.get_current_context().exit(1)


def _cell(row, header) -> str:
    """A registration's cell; a registration that cannot be used shows why instead of its description."""
    if header == "description" and row["status"] != "ok":
        return row["problem"]
    return "-" if row[header] is None else str(row[header])


def _print_tables(rows, providers, costs):
    headers = ("kind", "name", "modality", "package", "version", "status", "description")
    print_table(headers, [[_cell(row, h) for h in headers] for row in rows])
    click.echo("")
    print_table(("plugin", "package", "version", "status", "hooks and problems"), [
        [row["name"], row["package"] or "-", row["version"] or "-", row["status"],
         "; ".join(([", ".join(row["hooks"])] if row["hooks"] else []) + row["problems"]) or "-"]
        for row in providers])
    if costs:
        click.echo("")
        print_table(("plugin", "package", "import s", "imports", "check"), [
            [c["plugin"], c["package"], "-" if c["seconds"] is None else f"{c['seconds']:.2f}",
             ", ".join(c["heavy"]) or "-", "; ".join(c["problems"]) or "ok"] for c in costs])


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
