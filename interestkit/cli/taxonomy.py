"""``interestkit taxonomy show`` and ``mapping``: the interests a taxonomy file defines, and how photos reach them."""

from __future__ import annotations

import json

import click

from ..app.zeroshot import MAP_MIN_SIMILARITY, TEXT_ENCODER, image_mapping
from ..taxonomy import load_taxonomy
from .output import echo_err, print_table, progress_to_stderr

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
    """Check a taxonomy file and print its interests (name, parent, IAB Audience Taxonomy 1.1 segment ids,
    keywords, examples, description)."""
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
    print_table(("interest", "parent", "iab_audience", "keywords", "examples", "description"), [
        [i.name, i.parent or "-", " ".join(i.iab_audience) or "-", ", ".join(i.keywords) or "-",
         f"{len(i.captions)} text, {len(i.photos)} photo", _short(i.description)] for i in taxonomy.interests])
    unmapped = [i.name for i in taxonomy.interests if not i.iab_audience]
    if unmapped:
        echo_err(f"no IAB Audience Taxonomy 1.1 segment (iab_audience): {', '.join(unmapped)}")


@taxonomy_group.command(name="mapping")
@click.option("--taxonomy", "taxonomy_file", type=click.Path(dir_okay=False), default=None, help=TAXONOMY_HELP)
@click.option("--text-encoder", default=TEXT_ENCODER, show_default=True,
              help="The frozen text encoder that compares class names with the interests.")
@click.option("--top", type=click.IntRange(1, 50), default=5, show_default=True, help="Classes shown per interest.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def mapping(taxonomy_file, text_encoder, top, fmt):
    """How zero-shot photo models reach each interest: the ImageNet classes that weigh most in it.

    An interest is reachable when some class is closer to it than to any other interest,
    with a similarity of at least 0.45 ('best': the highest similarity of any class to it);
    the others cannot be scored from photos without examples and are left out of a
    zero-shot photo model. Fix a mapping with 'imagenet_classes: [...]' in the taxonomy file.
    """
    taxonomy = load_taxonomy(taxonomy_file)
    with progress_to_stderr():
        class_map = image_mapping(taxonomy, text_encoder)
    overridden = {i.name for i in taxonomy.interests if i.imagenet_classes is not None}
    best = class_map.similarity.max(axis=0)
    rows = [{"interest": name, "reachable": name in class_map.reachable, "override": name in overridden,
             "best_similarity": round(float(best[i]), 3),
             "classes": [{"class": c, "weight": round(w, 4)} for c, w in class_map.top_classes(name, top)]}
            for i, name in enumerate(class_map.interests)]
    if fmt == "json":
        click.echo(json.dumps({"embedder": class_map.embedder, "min_similarity": MAP_MIN_SIMILARITY, "interests": rows,
                               "unreachable": list(class_map.unreachable)}, indent=2))
        return
    click.echo(f"ImageNet classes mapped by {class_map.embedder} (reachable: a class closest to it, similarity at "
               f"least {MAP_MIN_SIMILARITY})")
    print_table(("interest", "reachable", "best", "source", "top classes (weight)"), [
        [r["interest"], "yes" if r["reachable"] else "NO", f"{r['best_similarity']:.2f}",
         "imagenet_classes" if r["override"] else class_map.embedder,
         ", ".join(f"{c['class']} {c['weight']:.2f}" for c in r["classes"])] for r in rows])
    if class_map.unreachable:
        echo_err(f"not reachable from photos without examples: {', '.join(class_map.unreachable)}")
