"""``interestkit zero-shot``: models from a taxonomy file, registered like trained ones."""

from __future__ import annotations

import json

import click

from ..app.zeroshot import IMAGE_ENCODER, KINDS, MODALITIES, TEXT_ENCODER, zero_shot
from ..modeling.cache import FeatureCache
from .output import echo_err, print_table, progress_to_stderr
from .taxonomy import TAXONOMY_HELP


@click.command(name="zero-shot")
@click.option("--taxonomy", "taxonomy_file", type=click.Path(dir_okay=False), default=None, help=TAXONOMY_HELP)
@click.option("--examples", multiple=True, type=click.Path(),
              help="Labelled examples: a caption table (label, text), a photo table (label, image) or a folder with "
                   "one sub-folder of photos per interest (repeatable); added to the taxonomy's own examples.")
@click.option("--data", "data", multiple=True, type=click.Path(), help="The same as --examples.")
@click.option("--per-interest", type=click.IntRange(min=0), default=0, show_default=True,
              help="Use at most N examples per interest and modality (a seeded choice); 0: all.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--modality", type=click.Choice(MODALITIES), default="both", show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default="auto", show_default=True,
              help="auto: few-shot where there are examples, else zero-shot; zero-shot: examples only calibrate.")
@click.option("--text-encoder", default=TEXT_ENCODER, show_default=True, help="A frozen text encoder plugin.")
@click.option("--image-encoder", default=IMAGE_ENCODER, show_default=True, help="A frozen image encoder plugin.")
@click.option("--experiment", default="interestkit", show_default=True, help="MLflow experiment name.")
@click.option("--no-register", is_flag=True, help="Build and measure, register nothing.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the photo feature cache.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def zero_shot_command(taxonomy_file, examples, data, per_interest, seed, modality, kind, text_encoder, image_encoder,
                      experiment, no_register, no_cache, fmt):
    """Register zero-shot or few-shot versions of interestkit-text and interestkit-image from a taxonomy file.

    No training: interests are compared with captions through their descriptions and
    keywords (zero-shot), or through a few labelled examples each (few-shot). The new
    versions take the 'champion' alias only when there is none; promote them with
    'interestkit models promote --model text --version N'.
    """
    with progress_to_stderr():
        summaries = zero_shot(taxonomy_file, examples + data, modality, kind, per_interest, seed, text_encoder,
                              image_encoder, not no_register, experiment, FeatureCache(enabled=not no_cache),
                              log=echo_err)
    rows = [{k: v for k, v in s.items() if k != "model"} for s in summaries]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    print_table(("modality", "kind", "encoder", "interests", "examples", "top-1", "temperature", "registered", "s"), [
        [r["modality"], r["kind"], r["encoder"], r["interests"], r["examples"],
         f"{r['metrics']['examples_top1']:.3f}" if "examples_top1" in r["metrics"] else "-", f"{r['temperature']:.3g}",
         (f"{r['name']} v{r['version']}" + (" (champion)" if r["champion"] else "")) if "version" in r else "-",
         r["seconds"]] for r in rows])
    for r in rows:
        if r["unreachable"]:
            echo_err(f"{r['modality']}: not reachable (no example): {', '.join(r['unreachable'])}")
