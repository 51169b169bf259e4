"""MLflow runs of a tuning study: a parent run that holds the study, one nested run per trial.

Every trial is a training run (``runs.training_run``: its resolved config as parameters,
per-epoch metrics) nested under the study's run through the ``mlflow.parentRunId`` tag,
so processes that share a study nest their trials under the same parent. A trial's state
(complete, pruned, failed) is the tag ``interestkit.trial_state``; a pruned trial's run
ends FINISHED, a failed one FAILED. A trial that beats the study's best so far logs its
model, so the best trial's model is always there to register at the end.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager

from .. import __version__, figures
from ..errors import ModelError
from .models import log_interest_model
from .registry import CHAMPION, champion_version, list_models, register, registered_name
from .runs import log_figure, training_run
from .store import as_param, configure, experiment_id

STUDY_TAG = "interestkit.study"
STATE_TAG = "interestkit.trial_state"


def study_run(experiment: str, study_name: str, run_id: str | None = None, params: dict | None = None) -> str:
    """The id of the study's parent run: ``run_id`` when it still exists, else a new run."""
    from mlflow import MlflowClient

    configure()
    client = MlflowClient()
    if run_id:
        try:
            client.get_run(run_id)
            return run_id
        except Exception:  # deleted or from another store: start a new parent
            pass
    run = client.create_run(experiment_id(experiment), run_name=f"tune-{study_name}",
                            tags={STUDY_TAG: study_name, "interestkit.kind": "tune",
                                  "interestkit.version": __version__})
    for key, value in (params or {}).items():
        client.log_param(run.info.run_id, key, as_param(value))
    return run.info.run_id


@contextmanager
def trial_run(parent_id: str, study_name: str, number: int, config: dict, plugin_info, fingerprint: dict,
              data_path: str):
    """A trial's training run, nested under ``parent_id``; yields ``runs.TrainingRun``."""
    tags = {"mlflow.parentRunId": parent_id, STUDY_TAG: study_name, "interestkit.trial": str(number),
            "interestkit.process": f"{socket.gethostname()}:{os.getpid()}"}
    import mlflow

    with training_run(config, plugin_info, fingerprint, data_path, extra_tags=tags) as run:
        mlflow.set_tag("mlflow.runName", f"trial-{number}")
        yield run


def end_trial(run, state: str, metrics: dict, params: dict) -> None:
    """Record a trial's state, its final metrics and the drawn values (``search.<name>``)."""
    import mlflow

    mlflow.set_tag(STATE_TAG, state)
    final = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if final:
        mlflow.log_metrics(final, step=run.step)
    mlflow.log_params({f"search.{k}": as_param(v) for k, v in params.items()})


def log_trial_model(run, result) -> str:
    """Log a trial's model, labels and learning curves in the active trial run; returns the model URI."""
    import mlflow

    mlflow.log_dict(result.labels, "labels.json")
    log_figure(figures.learning_curves(result.history), "learning_curves.png")
    return log_interest_model(result.model, step=run.step)


def finish_study(parent_id: str, summary: dict, table: list, figures_by_name: dict, notes: list) -> None:
    """Log the study's best value and parameters, its top trials and figures to the parent run."""
    from mlflow import MlflowClient

    import mlflow

    client = MlflowClient()
    if summary.get("best_value") is not None:
        client.log_metric(parent_id, "best_value", float(summary["best_value"]))
        client.set_tag(parent_id, "interestkit.best_trial", str(summary["best_trial"]))
        for key, value in (summary.get("best_params") or {}).items():
            client.set_tag(parent_id, f"best.{key}", str(value))
    for state, count in (summary.get("counts") or {}).items():
        client.log_metric(parent_id, f"trials_{state}", float(count))
    with mlflow.start_run(run_id=parent_id):
        mlflow.log_dict({"summary": summary, "top_trials": table}, "study.json")
        if notes:
            mlflow.log_text("\n".join(notes) + "\n", "notes.txt")
        for file_name, figure in figures_by_name.items():
            log_figure(figure, file_name)


def register_best(model_uri: str, modality: str, name: str | None, plugin: str, study_name: str, trial: int,
                  metric: str, value: float, trial_run_id: str, n_trials: int) -> dict:
    """Register the best trial's logged model; the description names the study and trial."""
    name = name or registered_name(modality)
    description = (f"Best trial of tuning study {study_name!r}: trial {trial} of {n_trials}, {metric} {value:.4f} "
                   f"({plugin}, {modality}). MLflow run {trial_run_id}.")
    tags = {"plugin": plugin, "modality": modality, "study": study_name, "trial": trial, metric: f"{value:.4f}",
            "run_id": trial_run_id}
    version, champion = register(model_uri, name, tags, description)
    return {"name": name, "version": version, "champion": champion, "description": description}


def promote_if_better(name: str, version: int, metric: str, value: float, lower_is_better: bool) -> dict:
    """Move ``champion`` to ``version`` only if it beats the current champion on ``metric``.

    Returns ``{promoted, previous, champion_value, reason}``."""
    from mlflow import MlflowClient

    configure()
    previous = champion_version(name)
    if previous == version:
        return {"promoted": True, "previous": None, "champion_value": None, "reason": "first version: champion"}
    rows = {r["version"]: r for r in list_models(prefix=name) if r["name"] == name}
    current = rows.get(previous, {}).get("metrics", {}).get(metric) if previous is not None else None
    if previous is not None and current is None:
        return {"promoted": False, "previous": previous, "champion_value": None,
                "reason": f"champion version {previous} has no {metric} to compare with; promote by hand "
                          f"(interestkit models promote --version {version})"}
    better = previous is None or (value < current if lower_is_better else value > current)
    if not better:
        return {"promoted": False, "previous": previous, "champion_value": current,
                "reason": f"{metric} {value:.4f} does not beat champion version {previous}'s {current:.4f}"}
    try:
        MlflowClient().set_registered_model_alias(name, CHAMPION, str(version))
    except Exception as error:  # MLflow raises several kinds here
        raise ModelError(f"{name}: cannot move {CHAMPION} to version {version} ({error})") from None
    return {"promoted": True, "previous": previous, "champion_value": current,
            "reason": f"{metric} {value:.4f} beats " + (f"champion version {previous}'s {current:.4f}"
                                                        if previous is not None else "no champion")}
