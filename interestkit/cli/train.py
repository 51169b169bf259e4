"""``interestkit train`` and ``interestkit compare``: fit models, one or several on the same split."""

from __future__ import annotations

import sys

import click

from ..app.compare import COLUMNS, run_comparison
from ..app.train import run_training
from .options import parse_settings
from .output import echo_err, given, print_table, progress_to_stderr

#: the config value each flag sets: errors name the flag (the rules are the config's)
FLAG_NAMES = {"training.epochs": "--epochs", "training.batch_size": "--batch-size", "training.val_split": "--val-split",
              "training.val_group": "--val-group", "training.seed": "--seed", "training.max_rows": "--max-rows", "training.fine_tune": "--fine-tune",
              "training.strict": "--strict", "training.cache": "--no-cache",
              "tracking.experiment": "--experiment", "tracking.registered_model": "--registered-model",
              "tracking.register": "--no-register", "encoder.image_size": "--image-size", "encoder.weights": "--weights"}


@click.command()
@click.option("--plugin", "-p", help="Encoder to train (see 'interestkit plugins'); or 'plugin:' in the config.")
@click.option("--data", "-d", required=True, type=click.Path(), help="Captions table (.tsv/.csv/.jsonl) or photo folder/table.")
@click.option("--config", "-c", "config_path", type=click.Path(), help="YAML experiment config (e.g. configs/paper.yaml).")
@click.option("--epochs", type=int, help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=int)
@click.option("--val-split", type=float, help="Validation fraction (stratified).")
@click.option("--val-group", metavar="COLUMN",
              help="Hold whole groups of this column (e.g. source) out for validation, instead of a row split.")
@click.option("--seed", type=int)
@click.option("--max-rows", type=int, help="Train on a stratified sample of this many rows.")
@click.option("--image-size", type=int, help="Image encoders: input side in pixels.")
@click.option("--weights", help="Image encoders: 'imagenet' (download), a local weights file, or 'none'.")
@click.option("--fine-tune", type=int, help="Image encoders: unfreeze the top N blocks after the head.")
@click.option("--strict", is_flag=True, default=None, help="Fail on the first unreadable image instead of skipping it.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the image feature cache.")
@click.option("--experiment", help="MLflow experiment name.")
@click.option("--registered-model", help="Register under this name instead of interestkit-<modality>.")
@click.option("--no-register", is_flag=True, help="Track the run but register no model version.")
@click.option("--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Any option of the config's encoder, classifier, training or tracking section, e.g. "
                   "--set encoder.units=32 --set classifier.name=mlp (repeatable; wins over the other flags).")
def train(plugin, data, config_path, epochs, batch_size, val_split, val_group, seed, max_rows, image_size, weights,
          fine_tune, strict, no_cache, experiment, registered_model, no_register, settings):
    """Train an encoder + head on labelled captions or photos; track and register it."""
    training = given(epochs=epochs, batch_size=batch_size, val_split=val_split, val_group=val_group, seed=seed,
                     max_rows=max_rows, fine_tune=fine_tune, strict=strict)
    if no_cache:
        training["cache"] = False
    if not sys.stderr.isatty():
        training.setdefault("verbose", 2)
    encoder = given(image_size=image_size, weights=weights)
    tracking = given(experiment=experiment, registered_model=registered_model)
    if no_register:
        tracking["register"] = False
    overrides = {"training": training, "encoder": encoder, "tracking": tracking, "classifier": {}}
    names = dict(FLAG_NAMES)
    for section, values in parse_settings(settings).items():
        overrides[section].update(values)
        names.update({f"{section}.{key}": f"--set {section}.{key}" for key in values})
    with progress_to_stderr():
        summary = run_training(data, plugin, config_path, overrides, log=echo_err, flag_names=names)
    for note in summary["notes"]:
        echo_err(f"note: {note}")
    click.echo(format_summary(summary))


def format_summary(s) -> str:
    lines = [
        f"plugin            {s['plugin']} ({s['modality']}, {s['labels']} labels)",
        f"val top-1         {s['val_accuracy']:.4f}",
        f"val top-5         {s['val_top5_accuracy']:.4f}",
        f"val loss          {s['val_loss']:.4f}",
        *([f"val top-1 (held-out {s['split']['column']} only) {s['val_group_accuracy']:.4f}"]
          if s.get("val_group_accuracy") is not None else []),
        f"epochs run        {s['epochs']}",
        f"train seconds     {s['train_seconds']:.1f}",
        f"temperature       {s['temperature']:.3f}",
        f"MLflow run        {s['run_id']}",
    ]
    if s["registered_model"]:
        alias = " (alias champion)" if s["champion"] else ""
        lines.append(f"registered        {s['registered_model']} version {s['version']}{alias}")
    else:
        lines.append("registered        no (--no-register)")
    return "\n".join(lines)


@click.command()
@click.option("--plugins", "plugin_names", required=True, help="Comma-separated plugins of one modality, e.g. bilstm,gru,lstm,rnn.")
@click.option("--data", "-d", required=True, type=click.Path(), help="Captions table or photo folder/table.")
@click.option("--config", "-c", "config_path", type=click.Path(), help="YAML config (configs/paper.yaml: the paper's study).")
@click.option("--epochs", type=int)
@click.option("--image-size", type=int, help="Shrink image inputs (recorded in the runs).")
@click.option("--weights", help="Image encoders: none, imagenet or a weights file.")
@click.option("--max-rows", type=int, help="Compare on a stratified sample of this many rows.")
@click.option("--val-group", metavar="COLUMN", help="Validate on whole held-out groups of this column (e.g. source).")
@click.option("--seed", type=int)
@click.option("--experiment", help="MLflow experiment.")
@click.option("--out", "out_dir", default="comparison", show_default=True, type=click.Path(), help="Folder for the figures and table.")
@click.option("--promote", is_flag=True, help="Move the champion alias to the winner.")
@click.option("--force", is_flag=True, help="Retrain plugins that finished before with the same config and data.")
def compare(plugin_names, data, config_path, epochs, image_size, weights, max_rows, val_group, seed, experiment,
            out_dir, promote, force):
    """Train several plugins on the same split and seed; table, figures, MLflow parent run."""
    training = given(epochs=epochs, max_rows=max_rows, val_group=val_group, seed=seed)
    if not sys.stderr.isatty():
        training["verbose"] = 2
    overrides = {"training": training, "encoder": given(image_size=image_size, weights=weights),
                 "tracking": given(experiment=experiment)}
    with progress_to_stderr():
        result = run_comparison(plugin_names, data, config_path, overrides, promote=promote, force=force,
                                out_dir=out_dir, log=echo_err, flag_names=FLAG_NAMES)
    print_table(COLUMNS, [[_cell(c, row[c]) for c in COLUMNS] for row in result["rows"]])
    for row in result["rows"]:
        if row["error"]:
            echo_err(f"{row['plugin']}: {row['error']}")
    click.echo(f"figures: {', '.join(result['figures'])}")
    click.echo(f"MLflow parent run: {result['parent_run_id']}")
    if result.get("winner"):
        click.echo(f"best: {result['winner']}")
    if result["promoted"]:
        p = result["promoted"]
        click.echo(f"{p['name']}: champion version {p['previous']} -> version {p['new']}")


# decimals per column of the comparison table; other values print as they are
_DECIMALS = {"val_group_top1": 4, "val_top1": 4, "val_top5": 4, "val_loss": 4, "train_seconds": 1, "infer_ms_per_item": 2}


def _cell(column, value):
    if value is None:
        return "-"
    if column in _DECIMALS:
        return f"{float(value):.{_DECIMALS[column]}f}"
    if column in ("parameters", "epochs", "version"):
        return str(int(value))
    return str(value)
