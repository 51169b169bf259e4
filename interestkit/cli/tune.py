"""``interestkit tune``: search a plugin's options; every trial a tracked run, the best registered."""

from __future__ import annotations

import click

from ..app.tune import TuneRequest, run_tuning
from ..modeling.search import METRICS, PRUNERS
from .options import parse_settings
from .output import echo_err, given, print_table, progress_to_stderr


@click.command("tune")
@click.option("--plugin", "-p", help="Encoder to tune (see 'interestkit plugins'); or 'plugin:' in the config.")
@click.option("--data", "-d", required=True, type=click.Path(), help="Captions table or photo folder/table.")
@click.option("--config", "-c", "config_path", type=click.Path(), help="Base YAML config (e.g. configs/recommended-text.yaml).")
@click.option("--space", "space_path", type=click.Path(), help="YAML search space over the plugin's own (docs/tuning.md).")
@click.option("--n-trials", type=int, default=20, show_default=True,
              help="Trials the study holds when done (a resumed study runs only the rest).")
@click.option("--timeout", type=float, help="Stop starting trials after this many seconds.")
@click.option("--metric", type=click.Choice(METRICS), default="val_accuracy", show_default=True)
@click.option("--val-group", metavar="COLUMN",
              help="Validate on whole held-out groups of this column; default 'source' when the data has it. "
                   "'' for a stratified split.")
@click.option("--study", "study", help="Study name (default PLUGIN-DATASTEM); the same name resumes it.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Processes working on the study.")
@click.option("--pruner", type=click.Choice(PRUNERS), default="median", show_default=True)
@click.option("--epochs", type=int, help="Maximum epochs per trial.")
@click.option("--max-rows", type=int, help="Tune on a stratified sample of this many rows.")
@click.option("--seed", type=int, help="Seed of every trial's split and initial weights.")
@click.option("--experiment", help="MLflow experiment.")
@click.option("--registered-model", help="Register the best trial under this name instead of interestkit-<modality>.")
@click.option("--promote", is_flag=True, help="Move champion to the best trial's version if it beats the champion.")
@click.option("--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Fix any option of the base config (repeatable).")
def tune(plugin, data, config_path, space_path, n_trials, timeout, metric, val_group, study, jobs, pruner, epochs,
         max_rows, seed, experiment, registered_model, promote, settings):
    """Search a plugin's options with Optuna; every trial an MLflow run nested in the study's."""
    overrides = {"training": {"verbose": 0, **given(epochs=epochs, max_rows=max_rows, seed=seed)},
                 "encoder": {}, "classifier": {},
                 "tracking": given(experiment=experiment, registered_model=registered_model)}
    names = {"training.epochs": "--epochs", "training.max_rows": "--max-rows", "training.seed": "--seed",
             "tracking.experiment": "--experiment", "tracking.registered_model": "--registered-model"}
    for section, values in parse_settings(settings).items():
        overrides[section].update(values)
        names.update({f"{section}.{key}": f"--set {section}.{key}" for key in values})
    request = TuneRequest(data=data, plugin=plugin, config_path=config_path, space_path=space_path, n_trials=n_trials,
                          timeout=timeout, metric=metric, val_group=val_group, study=study, jobs=jobs, promote=promote,
                          pruner=pruner, overrides=overrides, flag_names=names)
    with progress_to_stderr():
        result = run_tuning(request, log=echo_err)
    summary, table = result["summary"], result["table"]
    names = sorted({k for row in table for k in row["params"]})
    print_table(["trial", metric, "seconds", *names],
                [[row["trial"], f"{row['value']:.4f}", f"{row['seconds']:.1f}" if row["seconds"] else "-",
                  *[_cell(row["params"].get(k)) for k in names]] for row in table])
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary["counts"].items()))
    click.echo(f"study {summary['study']}: {counts}; MLflow parent run {summary['parent_run_id']}")
    if summary["best_trial"] is not None:
        click.echo(f"best: trial {summary['best_trial']}, {metric} {summary['best_value']:.4f}")
    registered = summary.get("registered")
    if registered:
        click.echo(f"registered: {registered['name']} version {registered['version']}"
                   f"{' (alias champion)' if registered.get('champion') else ''}")
    promotion = summary.get("promotion")
    if promotion:
        (click.echo if promotion["promoted"] else echo_err)(
            f"promote: {'champion moved' if promotion['promoted'] else 'champion kept'}: {promotion['reason']}")


def _cell(value):
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
