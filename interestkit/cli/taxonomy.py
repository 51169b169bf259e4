"""``interestkit taxonomy show``: the interests a taxonomy file defines, as checked."""

from __future__ import annotations

import json

import click

from ..taxonomy import load_taxonomy
from .output import print_table

TAXONOMY_HELP = "A taxonomy file (interests.yaml); default: the paper's 36 interests."


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@click.group(name="taxonomy")
def taxonomy_group():
    """Interest taxonomies: the interests zero-shot and few-shot models rank."""


@taxonomy_group.command(name="show")
@click.option("--taxonomy", "taxonomy_file", type=click.Path(dir_okay=False), default=None, help=TAXONOMY_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "yaml", "json"]), default="table", show_default=True,
              help="yaml prints a file to edit into your own taxonomy.")
def show(taxonomy_file, fmt):
    """Check a taxonomy file and print its interests (name, parent, keywords, examples, description)."""
    taxonomy = load_taxonomy(taxonomy_file)
    if fmt == "yaml":
        click.echo(taxonomy.to_yaml(), nl=False)
        return
    if fmt == "json":
        click.echo(json.dumps(taxonomy.as_dict(), indent=2, ensure_ascii=False))
        return
    counts = taxonomy.n_examples
    title = taxonomy.name or taxonomy.source
    click.echo(f"{title}: {len(taxonomy.interests)} interests, {counts['text']} caption and "
               f"{counts['image']} photo examples" + (f"; groups: {', '.join(taxonomy.groups)}" if taxonomy.groups else ""))
    print_table(("interest", "parent", "keywords", "examples", "description"), [
        [i.name, i.parent or "-", ", ".join(i.keywords) or "-", f"{len(i.captions)} text, {len(i.photos)} photo",
         _short(i.description)] for i in taxonomy.interests])
