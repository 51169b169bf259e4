"""MLflow runs: training runs, summary runs (evaluations, fusion fits) and comparisons.

A training run logs its resolved config, plugin and data fingerprint, metrics per epoch,
figures and the model; registration is its last step, so a run that fails or is
interrupted is marked FAILED and registers nothing.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .. import __version__, figures
from ..modeling.config import flatten
from .models import FUSION_ARTIFACT, log_interest_model
from .registry import register, registered_name, tag_version, version_model_id
from .store import as_param, configure, experiment_id

EVALUATION_EXPERIMENT = "interestkit-evaluation"


def log_figure(fig, name):
    """Log a matplotlib figure as a PNG artefact of the active run, then free it."""
    import mlflow

    mlflow.log_figure(fig, name)
    figures.close(fig)


# --- training runs -----------------------------------------------------------------


def version_description(result, fingerprint: dict, data_path: str, run_id: str) -> str:
    """What a person promoting in the MLflow UI needs to know about a trained version."""
    meta, m = result.model.meta, result.metrics
    return (f"{meta.get('plugin', '?')} ({result.model.modality}, head {meta.get('classifier', '?')}) trained on "
            f"{data_path}: {fingerprint['rows']} rows, {len(fingerprint['labels'])} labels, data sha256 "
            f"{fingerprint['sha256'][:12]}. Validation: top-1 {m['val_accuracy']:.4f}, top-5 "
            f"{m['val_top5_accuracy']:.4f}, loss {m['val_loss']:.4f} after {m['epochs']} epochs "
            f"(temperature {m['temperature']:.3f}). MLflow run {run_id}.")


class TrainingRun:
    """The MLflow side of one training run: live epoch metrics, then artefacts and the model."""

    def __init__(self, run, data_path: str):
        self.run = run
        self.data_path = data_path
        self.step = 0

    @property
    def run_id(self):
        return self.run.info.run_id

    def on_epoch(self, stage, epoch, logs):
        import mlflow

        metrics = {key: float(value) for key, value in logs.items() if np.isfinite(value)}
        mlflow.log_metrics(metrics, step=self.step)
        self.step += 1

    def finish(self, result, dataset_fingerprint, register_model=True, registered_model=None,
               calibration=None) -> dict:
        """Log figures, labels and the model; register a new version. Returns a summary.

        ``calibration``: training photos, for the int8 quantisation of the model's ONNX export."""
        import mlflow

        summary = {"run_id": self.run_id, "registered_model": None, "version": None, "champion": False}
        # the final metrics: the last point of each val_* series is the evaluation of the
        # weights kept, and the logged model is linked to this step (what the UI shows on it)
        final = {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))}
        mlflow.log_metrics(final, step=self.step)
        split = result.split or {"kind": "stratified", "column": ""}
        mlflow.log_params({"split.kind": split["kind"], "split.column": split.get("column", ""),
                           "split.held_out_groups": as_param(split.get("held_out", []))[:6000]})
        mlflow.log_dict(result.labels, "labels.json")
        mlflow.log_dict(dataset_fingerprint, "data_fingerprint.json")
        mlflow.log_dict({"labels": result.labels, "matrix": result.confusion.tolist()}, "confusion_matrix.json")
        log_figure(figures.learning_curves(result.history), "learning_curves.png")
        log_figure(figures.confusion(result.confusion, result.labels), "confusion_matrix.png")
        if result.notes:
            mlflow.log_text("\n".join(result.notes) + "\n", "notes.txt")
        model_uri = log_interest_model(result.model, step=self.step, calibration=calibration)
        if register_model:
            name = registered_model or registered_name(result.model.modality)
            tags = {"plugin": result.model.meta.get("plugin", ""), "modality": result.model.modality,
                    "val_accuracy": f"{result.metrics['val_accuracy']:.4f}", "run_id": self.run_id}
            version, champion = register(model_uri, name, tags,
                                         version_description(result, dataset_fingerprint, self.data_path, self.run_id))
            summary.update(registered_model=name, version=version, champion=champion)
        return summary


@contextmanager
def training_run(config: dict, plugin_info, dataset_fingerprint: dict, data_path: str, extra_tags=None):
    """An MLflow run for training; marked FAILED (nothing registered) if the body raises.

    Inside an active run (a comparison's parent), the training run is its child.
    """
    import mlflow

    exp = experiment_id(config["tracking"]["experiment"])
    tags = dict(extra_tags or {})
    tags.update({
        "interestkit.plugin": plugin_info.name,
        "interestkit.plugin_package": plugin_info.package,
        "interestkit.plugin_version": plugin_info.version,
        "interestkit.modality": plugin_info.modality,
        "interestkit.data_sha256": dataset_fingerprint["sha256"],
        "interestkit.version": __version__,
    })
    nested = mlflow.active_run() is not None
    with mlflow.start_run(experiment_id=exp, run_name=f"train-{plugin_info.name}", tags=tags, nested=nested) as run:
        params = flatten({k: v for k, v in config.items() if k not in ("tracking", "notes")})
        params.update({"data.path": data_path, "data.rows": dataset_fingerprint["rows"],
                       "data.labels": len(dataset_fingerprint["labels"])})
        mlflow.log_params({k: as_param(v) for k, v in params.items()})
        mlflow.log_dict(config, "config.json")
        yield TrainingRun(run, data_path)


# --- evaluation and other summary runs ------------------------------------------------


def table_metrics(table: dict) -> dict:
    """``{"<row>.<metric>": value}`` from ``{row: {metric: value}}``; intervals as ``_low``/``_high``."""
    metrics = {}
    for row, values in table.items():
        for key, value in values.items():
            if isinstance(value, (list, tuple)) and len(value) == 2:
                metrics[f"{row}.{key}_low"], metrics[f"{row}.{key}_high"] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[f"{row}.{key}"] = value
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def log_summary_run(run_name: str, params: dict, metrics: dict, documents: dict,
                    experiment: str = EVALUATION_EXPERIMENT, tags: dict | None = None) -> str:
    """One finished MLflow run with params, metrics and JSON documents; returns its id."""
    import mlflow

    exp = experiment_id(experiment)
    tags = {"interestkit.version": __version__, **(tags or {})}
    with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=tags, nested=mlflow.active_run() is not None) as run:
        mlflow.log_params({k: as_param(v) for k, v in params.items()})
        if metrics:
            mlflow.log_metrics(metrics)
        for name, document in documents.items():
            mlflow.log_dict(document, name)
    return run.info.run_id


def log_evaluation(table: dict, params: dict, documents: dict | None = None,
                   experiment: str = EVALUATION_EXPERIMENT) -> str:
    """Log a ranking evaluation as its own run: metrics ``<mode>.<metric>`` (e.g.
    ``fused.hit_at_5``), the table as ``evaluation.json`` plus ``documents``; returns the run id."""
    documents = {"evaluation.json": table, **(documents or {})}
    return log_summary_run(f"evaluate-{params.get('fusion', '')}".rstrip("-"), params, table_metrics(table),
                           documents, experiment, tags={"interestkit.kind": "evaluation"})


def log_fusion_fit(spec, report: dict, details: dict, experiment: str = EVALUATION_EXPERIMENT) -> str:
    """Log a fitted fusion (a ``FusionSpec``) as a finished run; returns ``runs:/<id>/fusion.json``."""
    document = {"fusion": spec.name, "params": dict(spec.params), "fit": report, **details}
    params = {"fusion": spec.name, **{f"params.{k}": v for k, v in spec.params.items()},
              "users": details.get("users")}
    run_id = log_summary_run(f"fusion-fit-{spec.name}", params, {f"fit_{k}": v for k, v in report.items()},
                             {FUSION_ARTIFACT: document}, experiment, tags={"interestkit.kind": "fusion-fit"})
    return f"runs:/{run_id}/{FUSION_ARTIFACT}"


def log_assessment(params: dict, metrics: dict, documents: dict, plots: dict, model: dict,
                   experiment: str = EVALUATION_EXPERIMENT) -> str:
    """Log a per-item test of a model as its own run (figures included), linked to the model:
    the run is tagged with the model's name, version and training run, its metrics are linked
    to the version's logged model, and the version's tag ``interestkit.last_test_run`` points
    at the run. Returns the run id."""
    import mlflow

    name, version = model.get("name"), model.get("version")
    tags = {"interestkit.version": __version__, "interestkit.kind": "test",
            "interestkit.model_uri": str(model.get("uri", "")), "interestkit.model_name": str(name or ""),
            "interestkit.model_version": str(version or ""), "interestkit.model_run_id": str(model.get("run_id") or "")}
    model_id = version_model_id(name, version) if name and version else None
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=f"test-{name or 'model'}"
                          f"{f'-v{version}' if version else ''}", tags=tags) as run:
        mlflow.log_params({k: as_param(v) for k, v in params.items()})
        mlflow.log_metrics(metrics, **({"model_id": model_id} if model_id else {}))
        for file_name, document in documents.items():
            mlflow.log_dict(document, file_name)
        for file_name, fig in plots.items():
            log_figure(fig, file_name)
    if name and version:
        tag_version(name, version, {"interestkit.last_test_run": run.info.run_id,
                                    "interestkit.last_test": f"top-1 {metrics.get('top1', float('nan')):.4f} on "
                                                             f"{params.get('data.path', '')}"})
    return run.info.run_id


# --- comparisons: a parent run with one child per plugin ------------------------------


@contextmanager
def comparison_run(experiment: str, name: str, tags: dict):
    """The parent run of a comparison; training runs started inside are its children."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name, tags=tags) as run:
        yield run.info.run_id


def log_comparison(table: list, figures_by_name: dict, params: dict):
    """Log the comparison table, its figures and params to the active parent run."""
    import mlflow

    mlflow.log_params(params)
    mlflow.log_dict(table, "comparison.json")
    for file_name, fig in figures_by_name.items():
        log_figure(fig, file_name)


def find_finished_run(experiment: str, key: str):
    """The newest FINISHED training run tagged with this comparison key, as a dict, or None."""
    from mlflow import MlflowClient

    configure()
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`interestkit.compare_key` = '{key}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        return None
    run = runs[0]
    history = {}
    epochs = int(run.data.metrics.get("epochs", 0))
    for metric in ("val_accuracy", "val_loss"):
        points = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
        history[metric] = [p.value for p in points][:epochs]
    versions = client.search_model_versions(f"run_id='{run.info.run_id}'")
    return {"run_id": run.info.run_id, "metrics": dict(run.data.metrics), "history": history,
            "registered_model": versions[0].name if versions else None,
            "version": int(versions[0].version) if versions else None}
