"""``interestkit demo``: synthetic data, a text and an image model, ranked users and their evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .. import tracking
from ..app.demo import DEMO_IMAGE, DEMO_TEXT, train_demo_model, write_workspace
from ..app.evaluate import run_evaluation
from ..app.ranking import prepare
from ..ranking.options import RankingOptions
from .evaluate import format_evaluation
from .output import echo_err, progress_to_stderr
from .ranking import format_rankings


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="interestkit-demo", show_default=True,
              help="Folder for the demo's synthetic data.")
def demo(directory):
    """Quick start: synthetic data, a text and an image model, ranked users and their evaluation."""
    started = time.perf_counter()
    root = Path(directory)
    echo_err(f"[1/5] writing a synthetic workspace (made-up captions, pictures and users) to {root}")
    paths = write_workspace(root)
    uris = {}
    steps = (("text", paths["text"], DEMO_TEXT), ("image", paths["images"], DEMO_IMAGE))
    for step, (modality, data, (plugin, overrides)) in enumerate(steps, 2):
        echo_err(f"[{step}/5] training a small {modality} model ({plugin}) on {data}")
        with progress_to_stderr():  # Keras prints epochs on stdout
            uris[modality], summary = train_demo_model(data, plugin, overrides, echo_err)
        echo_err(f"  {uris[modality]}: validation top-1 {summary['val_accuracy']:.3f}, {summary['train_seconds']:.0f}s")
    echo_err(f"[4/5] ranking the demo users' interests ({paths['posts']})")
    prepared = prepare(paths["posts"], RankingOptions(top_k=3), text_model=uris["text"], image_model=uris["image"],
                       labels_path=paths["labels"], log=echo_err)
    shown = 4
    users = prepared.pipeline.rank(prepared.posts)
    click.echo(f"Top 3 interests of the first {shown} of {len(users)} demo users "
               f"(fused, {prepared.pipeline.fusion.name}):")
    click.echo(format_rankings(users[:shown], "table"))
    echo_err(f"[5/5] evaluating against {paths['labels']} with every fusion")
    table, run_id = run_evaluation(prepared, paths["labels"], "all", "all", log=echo_err)
    click.echo("")
    click.echo(format_evaluation(table))
    click.echo("")
    click.echo(_next_steps(paths, uris, run_id, tracking.tracking_uri(), time.perf_counter() - started))


def _next_steps(paths, uris, run_id, store, seconds) -> str:
    posts, labels = paths["posts"], paths["labels"]
    return "\n".join([
        f"Demo finished in {seconds:.0f}s. Models: {uris['text']} and {uris['image']}; evaluation run {run_id}.",
        "Next:",
        f"  interestkit ui                      browse the runs, models and evaluations in {store}",
        f"  interestkit rank --posts {posts} --text-model {uris['text']} --image-model {uris['image']}",
        "  with your own data:",
        "    interestkit train --plugin bilstm --data captions.tsv",
        "    interestkit train --plugin efficientnet_lite0 --data photos/",
        "    interestkit rank --posts posts.jsonl",
        "    interestkit evaluate --posts posts.jsonl --labels labels.tsv --fusion all",
        f"  (labels for these demo users: {labels})",
    ])
