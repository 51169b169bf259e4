"""The ``interestkit`` command: a thin click layer over the library.

Library errors (``InterestkitError``) become one-line messages with exit code 2. Heavy
imports (TensorFlow, MLflow) happen inside commands, so ``--help`` and ``plugins`` stay fast.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import click

from . import __version__
from .errors import InterestkitError


def echo_err(message):
    click.echo(message, err=True)


def progress_to_stderr():
    """Keras prints its per-epoch lines to stdout; send them to stderr with the other
    progress, so that stdout holds only a command's result (a table, a summary)."""
    import contextlib

    return contextlib.redirect_stdout(sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's timeout) handled like Ctrl-C: runs are closed cleanly."""


def _terminate(signum, frame):
    raise Terminated()


class InterestkitGroup(click.Group):
    """Turns library errors into one-line messages, never tracebacks; SIGTERM into Ctrl-C."""

    def invoke(self, ctx):
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
        try:
            return super().invoke(ctx)
        except InterestkitError as error:
            echo_err(f"Error: {error}")
            ctx.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:
            echo_err("Interrupted: any unfinished run was marked failed and registered nothing.")
            ctx.exit(143 if isinstance(interrupt, Terminated) else 130)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


STRICT_ENV = "INTERESTKIT_STRICT_PLUGINS"


@click.group(cls=InterestkitGroup)
@click.version_option(__version__, prog_name="interestkit")
@click.option("--strict-plugins", is_flag=True,
              help=f"Fail when a plugin cannot be loaded, instead of warning and skipping it ({STRICT_ENV}=1).")
@click.pass_context
def cli(ctx, strict_plugins):
    """Learn users' interests from their posts' photos and captions.

    Train models with plugins, track and register them in MLflow, rank users'
    interests and recommend ads. Start with 'interestkit demo'.
    """
    if strict_plugins:
        _strict_plugins(ctx)


def _strict_plugins(ctx):
    """Plugins load under strict rules for this invocation (the environment is restored after)."""
    from . import plugins

    previous = os.environ.get(STRICT_ENV)
    os.environ[STRICT_ENV] = "1"
    ctx.call_on_close(lambda: _restore_env(STRICT_ENV, previous))
    plugins.reset()


def _restore_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@cli.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def plugins_command(as_json):
    """List registered encoders, classifiers and fusions."""
    from . import plugins

    rows = [info.as_dict() for info in plugins.all_plugins()]
    providers = plugins.plugin_rows()
    if as_json:
        click.echo(json.dumps(rows + providers, indent=2))
        return
    headers = ("kind", "name", "modality", "package", "version", "description")
    table = [[str(row[h] if row[h] is not None else "-") for h in headers] for row in rows]
    print_table(headers, table)
    click.echo("")
    print_table(("plugin", "package", "version", "hooks"), [
        [row["name"], row["package"] or "-", row["version"] or "-",
         ", ".join(row["hooks"]) if row["status"] == "ok" else f"failed: {row['description']}"]
        for row in providers])


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    click.echo(line)
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


@cli.command()
@click.option("--plugin", "-p", help="Encoder to train (see 'interestkit plugins'); or 'plugin:' in the config.")
@click.option("--data", "-d", required=True, type=click.Path(), help="Captions table (.tsv/.csv/.jsonl) or photo folder/table.")
@click.option("--config", "-c", "config_path", type=click.Path(), help="YAML experiment config (e.g. configs/paper.yaml).")
@click.option("--epochs", type=click.IntRange(min=1), help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=click.IntRange(min=1))
@click.option("--val-split", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Validation fraction (stratified).")
@click.option("--seed", type=int)
@click.option("--max-rows", type=click.IntRange(min=0), help="Train on a stratified sample of this many rows.")
@click.option("--image-size", type=click.IntRange(min=16), help="Image encoders: input side in pixels.")
@click.option("--weights", help="Image encoders: 'imagenet' (download), a local weights file, or 'none'.")
@click.option("--fine-tune", type=click.IntRange(min=0), help="Image encoders: unfreeze the top N blocks after the head.")
@click.option("--strict", is_flag=True, default=None, help="Fail on the first unreadable image instead of skipping it.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the image feature cache.")
@click.option("--experiment", help="MLflow experiment name.")
@click.option("--registered-model", help="Register under this name instead of interestkit-<modality>.")
@click.option("--no-register", is_flag=True, help="Track the run but register no model version.")
def train(plugin, data, config_path, epochs, batch_size, val_split, seed, max_rows, image_size, weights,
          fine_tune, strict, no_cache, experiment, registered_model, no_register):
    """Train an encoder + head on labelled captions or photos; track and register it."""
    from .pipeline import run_training

    training = _given(epochs=epochs, batch_size=batch_size, val_split=val_split, seed=seed, max_rows=max_rows,
                      fine_tune=fine_tune, strict=strict)
    if no_cache:
        training["cache"] = False
    if not sys.stderr.isatty():
        training.setdefault("verbose", 2)
    encoder = _given(image_size=image_size, weights=weights)
    tracking = _given(experiment=experiment, registered_model=registered_model)
    if no_register:
        tracking["register"] = False
    overrides = {"training": training, "encoder": encoder, "tracking": tracking}
    with progress_to_stderr():
        summary = run_training(data, plugin, config_path, overrides, log=echo_err)
    for note in summary["notes"]:
        echo_err(f"note: {note}")
    click.echo(format_summary(summary))


def _given(**values):
    return {k: v for k, v in values.items() if v is not None}


def format_summary(s) -> str:
    lines = [
        f"plugin            {s['plugin']} ({s['modality']}, {s['labels']} labels)",
        f"val top-1         {s['val_accuracy']:.4f}",
        f"val top-5         {s['val_top5_accuracy']:.4f}",
        f"val loss          {s['val_loss']:.4f}",
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


@cli.group()
def cache():
    """Inspect or clear the image feature cache."""


@cache.command("info")
@click.option("--dir", "cache_dir", type=click.Path(), help="Cache folder (default $INTERESTKIT_CACHE_DIR or ~/.cache/interestkit/features).")
def cache_info(cache_dir):
    """Where the cache is, how many entries and bytes it holds."""
    from .cache import FeatureCache

    click.echo(json.dumps(FeatureCache(cache_dir).info(), indent=2, default=str))


@cache.command("clear")
@click.option("--dir", "cache_dir", type=click.Path())
def cache_clear(cache_dir):
    """Delete every cached feature."""
    from .cache import FeatureCache

    removed = FeatureCache(cache_dir).clear()
    click.echo(f"removed {removed} cached feature entries")


def _global_options(args):
    """The arguments before the command name."""
    options = []
    for arg in args:
        if not arg.startswith("-"):
            break
        options.append(arg)
    return options


def _register_plugin_commands():
    from . import plugins

    try:
        plugins.get_plugin_manager().hook.register_commands(cli=cli)
    except InterestkitError as error:
        echo_err(f"Error: {error}")
        sys.exit(error.exit_code)


def main(argv=None):
    if "--strict-plugins" in _global_options(sys.argv[1:] if argv is None else argv):
        os.environ[STRICT_ENV] = "1"  # before plugins load for their commands
    _register_plugin_commands()
    return cli.main(args=argv, prog_name="interestkit")


from . import cli_models  # noqa: E402,F401  (registers 'models' and 'ui')
from . import cli_ranking  # noqa: E402,F401  (registers rank, evaluate, fusion and demo)
