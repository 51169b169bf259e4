"""``interestkit predict``: the interests of one caption, one photo, or each row of a table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from ..app.predict import (
    Item,
    file_policy,
    load_models,
    needed_modalities,
    predict_items,
    read_items,
    resolve_images,
)
from ..errors import ConfigError, DataError
from .output import echo_err, progress_to_stderr, table_text


@click.command()
@click.argument("caption", required=False)
@click.option("--image", "image_path", type=click.Path(dir_okay=False), help="A photo file to classify.")
@click.option("--file", "file_path", type=click.Path(dir_okay=False),
              help="A .tsv/.csv/.jsonl table with a 'text' and/or an 'image' column (optional 'id').")
@click.option("--model", "model_uris", multiple=True, metavar="URI",
              help="models:/NAME/VERSION, models:/NAME@ALIAS, runs:/... or a model folder; one per modality "
                   "(default: the champion of interestkit-text / interestkit-image).")
@click.option("--top-k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--allow-outside-paths", is_flag=True, help="--file: accept image paths outside the table's folder.")
def predict(caption, image_path, file_path, model_uris, top_k, fmt, allow_outside_paths):
    """Predict the interests of a CAPTION, a photo (--image) or each row of a table (--file).

    A caption's table shows each sentence: its share of the caption's weight, its best
    interest and what it contributes to the caption's top interest.
    """
    given = [name for name, value in (("CAPTION", caption), ("--image", image_path), ("--file", file_path))
             if value is not None]
    if len(given) != 1:
        raise ConfigError(f"give exactly one of CAPTION, --image or --file (got {', '.join(given) or 'none'})")
    if file_path:
        items = resolve_images(read_items(file_path), file_policy(file_path, allow_outside_paths))
    elif image_path:
        items = [Item("image", image=Path(image_path), where=image_path)]
    else:
        if not caption.strip():
            raise DataError("the caption is empty; give some text, e.g. interestkit predict \"my new golf clubs\"")
        items = [Item("caption", text=caption, where="caption")]
    with progress_to_stderr():
        models = load_models(model_uris, needed_modalities(items), log=echo_err)
        predictions = predict_items(items, models, top_k, log=echo_err)
    if image_path and predictions[0].error:
        raise DataError(predictions[0].error)
    if fmt == "json":
        click.echo(json.dumps([p.as_dict() for p in predictions], indent=2))
    elif fmt == "csv":
        click.echo(as_csv(predictions), nl=False)
    else:
        click.echo(as_table(predictions, single=file_path is None))


def as_csv(predictions) -> str:
    """Long format: one line per item, modality and rank."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["item_id", "modality", "rank", "interest", "score", "error"])
    for p in predictions:
        if p.error:
            writer.writerow([p.item_id, p.modality, "", "", "", p.error])
        for rank, entry in enumerate(p.interests, 1):
            writer.writerow([p.item_id, p.modality, rank, entry["interest"], f"{entry['score']:.6f}", ""])
    return buffer.getvalue()


def as_table(predictions, single: bool) -> str:
    if single:
        p = predictions[0]
        lines = [table_text(("rank", "interest", "score"),
                            [[r, e["interest"], f"{e['score']:.3f}"] for r, e in enumerate(p.interests, 1)])]
        if p.modality == "text" and p.interests:
            best = p.interests[0]["interest"]
            rows = [[n, _clip(s["sentence"]), f"{s['weight']:.2f}", s["interests"][0]["interest"],
                     f"{s['interests'][0]['score']:.3f}", f"{s['contributions'][best]:.3f}"]
                    for n, s in enumerate(p.sentences, 1)]
            lines += ["", table_text(("#", "sentence", "weight", "best", "p", f"adds to {best}"), rows)]
        return "\n".join(lines)
    rows = []
    for p in predictions:
        ranked = ", ".join(f"{e['interest']} {e['score']:.2f}" for e in p.interests[1:])
        first = p.interests[0] if p.interests else {"interest": "-", "score": float("nan")}
        rows.append([p.item_id, p.modality, first["interest"], "-" if p.error else f"{first['score']:.3f}",
                     f"error: {p.error}" if p.error else ranked])
    return table_text(("item", "modality", "top", "score", "next"), rows)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."

