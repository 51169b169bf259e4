"""MLflow tracking and the model registry: the only module that imports mlflow.

Default store: ``./registry/mlflow.db`` (sqlite) with artifacts in ``./registry/artifacts``;
``MLFLOW_TRACKING_URI`` overrides both. No server is needed.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import logging
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from . import __version__
from .config import flatten
from .errors import ModelError
from .model import InterestModel

CHAMPION = "champion"

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)


class _DropKnownNotices(logging.Filter):
    """MLflow's notice about pickled python_model objects: ours are this package's own classes."""

    def filter(self, record):
        return "Passing a Python object as `python_model`" not in record.getMessage()


logging.getLogger("mlflow.pyfunc").addFilter(_DropKnownNotices())
warnings.filterwarnings("ignore", message=".*input example was not provided.*")


def store_dir() -> Path:
    """Folder of the default store: $INTERESTKIT_REGISTRY or ./registry."""
    return Path(os.environ.get("INTERESTKIT_REGISTRY") or "registry")


def registered_name(modality: str) -> str:
    return f"interestkit-{modality}"


_SET_BY_US: set = set()  # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; ours is not the user's


def user_tracking_uri():
    """The user's MLFLOW_TRACKING_URI, or None."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri if uri and uri not in _SET_BY_US else None


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the sqlite store in ``store_dir()``."""
    return user_tracking_uri() or f"sqlite:///{(store_dir() / 'mlflow.db').resolve()}"


def default_artifact_root():
    """Artifacts beside the default store; None (MLflow's choice) for a user's store."""
    if user_tracking_uri():
        return None
    return (store_dir() / "artifacts").resolve().as_uri()


def configure() -> str:
    uri = tracking_uri()
    if not user_tracking_uri():
        store_dir().mkdir(parents=True, exist_ok=True)
        _SET_BY_US.add(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment_id(name: str) -> str:
    configure()
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = default_artifact_root()
    location = f"{root}/{name}" if root else None
    return client.create_experiment(name, artifact_location=location)


# --- the pyfunc model ------------------------------------------------------------


class InterestPyfunc(mlflow.pyfunc.PythonModel):
    """An InterestModel as an MLflow pyfunc: a DataFrame of captions or photos in, probabilities out.

    Input: a column ``text`` (captions) or ``image`` (file paths); output: one column per
    label. Captions are split into sentences; a blank caption or unreadable photo gives NaN.
    """

    def load_context(self, context):
        self.model = InterestModel.load(context.artifacts["model"])

    # the pd.DataFrame hint tells MLflow the input is a DataFrame (it then neither warns
    # about missing hints nor wraps predict in its own type validation)
    def predict(self, context, model_input: pd.DataFrame, params=None):
        model = self.model
        column = "text" if model.modality == "text" else "image"
        if column not in model_input.columns:
            raise ModelError(f"input needs a {column!r} column (got {', '.join(map(str, model_input.columns))})")
        values = model_input[column].tolist()
        if model.modality == "text":
            probs = model.predict_texts([v if isinstance(v, str) else "" for v in values])
        else:
            probs = np.full((len(values), len(model.labels)), np.nan)
            rows, kept, _ = model.predict_images([v for v in values])
            probs[kept] = rows
        return pd.DataFrame(probs, columns=model.labels)


def load_interest_model(uri: str) -> tuple[InterestModel, dict]:
    """Load an interestkit model from a ``models:/`` or ``runs:/`` URI; (model, description)."""
    configure()
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as error:
        hint = ("train one with 'interestkit train', or promote a version with 'interestkit models promote'"
                if "champion" in uri else "check the name and version with 'interestkit models list'")
        raise ModelError(f"model {uri!r} cannot be loaded from {tracking_uri()}: {str(error).splitlines()[0]}; {hint}") from None
    python_model = pyfunc.unwrap_python_model()
    if not isinstance(python_model, InterestPyfunc):
        raise ModelError(f"model {uri!r} is not an interestkit text or image model")
    return python_model.model, {"uri": uri, **describe_uri(uri)}


def describe_uri(uri: str) -> dict:
    """{name, version} for models:/NAME@ALIAS or models:/NAME/VERSION URIs."""
    if not uri.startswith("models:/"):
        return {}
    rest = uri[len("models:/"):]
    client = MlflowClient()
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = rest.rsplit("/", 1)
            mv = client.get_model_version(name, version)
    except Exception:
        return {}
    return {"name": mv.name, "version": int(mv.version), "run_id": mv.run_id}


# --- training runs ---------------------------------------------------------------


class TrainingRun:
    """The MLflow side of one training run: live epoch metrics, then artefacts and the model."""

    def __init__(self, run):
        self.run = run
        self.step = 0

    @property
    def run_id(self):
        return self.run.info.run_id

    def on_epoch(self, stage, epoch, logs):
        metrics = {key: float(value) for key, value in logs.items() if np.isfinite(value)}
        mlflow.log_metrics(metrics, step=self.step)
        self.step += 1

    def finish(self, result, dataset_fingerprint, register=True, registered_model=None) -> dict:
        """Log figures, labels and the model; register a new version. Returns a summary."""
        from . import figures

        summary = {"run_id": self.run_id, "registered_model": None, "version": None, "champion": False}
        # the last point of each val_* series is the evaluation of the weights kept
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))},
                           step=self.step)
        mlflow.log_dict(result.labels, "labels.json")
        mlflow.log_dict(dataset_fingerprint, "data_fingerprint.json")
        mlflow.log_dict({"labels": result.labels, "matrix": result.confusion.tolist()}, "confusion_matrix.json")
        log_figure(figures.learning_curves(result.history), "learning_curves.png")
        log_figure(figures.confusion(result.confusion, result.labels), "confusion_matrix.png")
        if result.notes:
            mlflow.log_text("\n".join(result.notes) + "\n", "notes.txt")
        with tempfile.TemporaryDirectory() as tmp:
            folder = result.model.save(Path(tmp) / "model")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=InterestPyfunc(),
                artifacts={"model": str(folder)},
                signature=_signature(result.model),
                pip_requirements=[f"interestkit=={__version__}"],
            )
        if register:
            name = registered_model or registered_name(result.model.modality)
            version = mlflow.register_model(info.model_uri, name, tags=self.version_tags(result))
            client = MlflowClient()
            summary.update(registered_model=name, version=int(version.version))
            if CHAMPION not in client.get_registered_model(name).aliases:
                client.set_registered_model_alias(name, CHAMPION, version.version)
                summary["champion"] = True
        return summary

    def version_tags(self, result):
        meta = result.model.meta
        return {
            "plugin": meta.get("plugin", ""),
            "modality": result.model.modality,
            "val_accuracy": f"{result.metrics['val_accuracy']:.4f}",
            "run_id": self.run_id,
        }


def log_figure(fig, name):
    """Log a matplotlib figure as a PNG artefact of the active run, then free it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(fig, name)
    plt.close(fig)


def _signature(model: InterestModel):
    from mlflow.models import infer_signature

    column = "text" if model.modality == "text" else "image"
    example_in = pd.DataFrame({column: ["example"]})
    example_out = pd.DataFrame([[0.0] * len(model.labels)], columns=model.labels)
    return infer_signature(example_in, example_out)


@contextmanager
def training_run(config: dict, plugin_info, dataset_fingerprint: dict, data_path: str, extra_tags=None):
    """An MLflow run for training; marked FAILED (nothing registered) if the body raises.

    Inside an active run (a comparison's parent), the training run is its child.
    """
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
        params = flatten({k: v for k, v in config.items() if k != "tracking"})
        params.update({"data.path": data_path, "data.rows": dataset_fingerprint["rows"],
                       "data.labels": len(dataset_fingerprint["labels"])})
        mlflow.log_params({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()})
        mlflow.log_dict(config, "config.json")
        yield TrainingRun(run)


# --- the registry: listing and promotion ---------------------------------------------


def _version_row(client, mv) -> dict:
    """One registered version with its plugin, data fingerprint and run metrics."""
    try:
        run = client.get_run(mv.run_id) if mv.run_id else None
    except Exception:
        run = None
    metrics = dict(run.data.metrics) if run else {}
    tags = dict(run.data.tags) if run else {}
    return {
        "name": mv.name,
        "version": int(mv.version),
        "aliases": sorted(getattr(mv, "aliases", []) or []),
        "plugin": (mv.tags or {}).get("plugin") or tags.get("interestkit.plugin", ""),
        "data_sha256": tags.get("interestkit.data_sha256", "")[:12],
        "run_id": mv.run_id,
        "created": mv.creation_timestamp,
        "metrics": {k: metrics[k] for k in sorted(metrics)
                    if k.startswith("val_") or k in ("epochs", "train_seconds", "temperature")},
    }


def list_models(prefix="interestkit-") -> list[dict]:
    """Every version of every registered model whose name starts with ``prefix``."""
    configure()
    client = MlflowClient()
    rows = []
    for model in client.search_registered_models():
        if not model.name.startswith(prefix):
            continue
        aliases = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(int(version), []).append(alias)
        for mv in client.search_model_versions(f"name='{model.name}'"):
            row = _version_row(client, mv)
            row["aliases"] = sorted(aliases.get(row["version"], []))
            rows.append(row)
    return sorted(rows, key=lambda r: (r["name"], r["version"]))


def champion_version(name: str):
    """The version number the ``champion`` alias points at, or None."""
    configure()
    try:
        return int(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    except Exception:
        return None


def promote(name: str, metric: str = "val_accuracy", version: int | None = None) -> dict:
    """Point ``champion`` at ``version``, or at the best version by ``metric``.

    Higher is better, except for metrics whose name contains 'loss'; ties go to the newer
    version. Returns {previous, new, metric, value}.
    """
    configure()
    rows = [r for r in list_models(prefix=name) if r["name"] == name]
    if not rows:
        raise ModelError(f"no versions of {name!r} in {tracking_uri()}; train one with 'interestkit train' first")
    previous = champion_version(name)
    if version is not None:
        chosen = next((r for r in rows if r["version"] == version), None)
        if chosen is None:
            have = ", ".join(str(r["version"]) for r in rows)
            raise ModelError(f"{name} has no version {version} (versions: {have})")
    else:
        scored = [r for r in rows if metric in r["metrics"]]
        if not scored:
            known = sorted({k for r in rows for k in r["metrics"]})
            raise ModelError(f"no version of {name} has metric {metric!r} (metrics: {', '.join(known) or 'none'})")
        sign = -1 if "loss" in metric else 1
        chosen = max(scored, key=lambda r: (sign * r["metrics"][metric], r["version"]))
    MlflowClient().set_registered_model_alias(name, CHAMPION, str(chosen["version"]))
    return {"name": name, "previous": previous, "new": chosen["version"], "metric": metric,
            "value": chosen["metrics"].get(metric)}


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line of the MLflow UI on the configured store."""
    import sys

    uri = configure()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    root = default_artifact_root()
    if root:
        command += ["--default-artifact-root", root]
    return command


# --- evaluation and other summary runs ------------------------------------------------

EVALUATION_EXPERIMENT = "interestkit-evaluation"


def _param_value(value):
    """MLflow params are strings: lists and dicts as JSON, None as ''."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) else value


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
    exp = experiment_id(experiment)
    tags = {"interestkit.version": __version__, **(tags or {})}
    with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=tags, nested=mlflow.active_run() is not None) as run:
        mlflow.log_params({k: _param_value(v) for k, v in params.items()})
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


# --- comparisons: a parent run with one child per plugin ------------------------------


@contextmanager
def comparison_run(experiment: str, name: str, tags: dict):
    """The parent run of a comparison; training runs started inside are its children."""
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name, tags=tags) as run:
        yield run.info.run_id


def log_comparison(table: list, figures_by_name: dict, params: dict):
    """Log the comparison table, its figures and params to the active parent run."""
    mlflow.log_params(params)
    mlflow.log_dict(table, "comparison.json")
    for file_name, fig in figures_by_name.items():
        log_figure(fig, file_name)


def find_finished_run(experiment: str, key: str):
    """The newest FINISHED training run tagged with this comparison key, as a dict, or None."""
    exp = MlflowClient().get_experiment_by_name(experiment) if configure() else None
    if exp is None:
        return None
    runs = MlflowClient().search_runs(
        [exp.experiment_id], filter_string=f"tags.`interestkit.compare_key` = '{key}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        return None
    run = runs[0]
    client = MlflowClient()
    history = {}
    epochs = int(run.data.metrics.get("epochs", 0))
    for metric in ("val_accuracy", "val_loss"):
        points = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
        history[metric] = [p.value for p in points][:epochs]
    versions = client.search_model_versions(f"run_id='{run.info.run_id}'")
    return {"run_id": run.info.run_id, "metrics": dict(run.data.metrics), "history": history,
            "registered_model": versions[0].name if versions else None,
            "version": int(versions[0].version) if versions else None}


# --- the hybrid model -----------------------------------------------------------------------

HYBRID_NAME = "interestkit-hybrid"


class HybridPyfunc(mlflow.pyfunc.PythonModel):
    """Posts in (one row per post), ranked interests and ads out (one row per user).

    Input columns: ``user_id``, ``post_id``, ``text``, ``image`` (a file path readable
    where the model runs, or a ``data:image/...;base64,`` URI), ``created_at``.
    Output columns: ``user_id``, ``interests`` and ``ads`` (JSON strings).
    """

    def load_context(self, context):
        from .hybrid import HybridRanker

        self.ranker = HybridRanker.load(context.artifacts["hybrid"])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        from .hybrid import posts_from_records

        frame = model_input.astype(object).where(model_input.notna(), None)
        posts = posts_from_records(frame.to_dict("records"), source="input", allow_paths_anywhere=True)
        rows = self.ranker.rank(posts)
        return pd.DataFrame({
            "user_id": [r["user_id"] for r in rows],
            "interests": [json.dumps(r["interests"]) for r in rows],
            "ads": [json.dumps(r["ads"]) for r in rows],
        })


def _hybrid_signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", "user_id"), ColSpec("string", "post_id"),
                     ColSpec("string", "text", required=False), ColSpec("string", "image", required=False),
                     ColSpec("string", "created_at", required=False)])
    outputs = Schema([ColSpec("string", "user_id"), ColSpec("string", "interests"), ColSpec("string", "ads")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_hybrid(ranker, experiment="interestkit", name=HYBRID_NAME) -> dict:
    """Log the hybrid ranker as a pyfunc model and register a new version of ``name``."""
    tags = {"interestkit.kind": "hybrid", "interestkit.fusion": ranker.fusion_name}
    tags.update({f"interestkit.{m}_model": json.dumps(v) for m, v in ranker.versions.items()})
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name="build-hybrid", tags=tags) as run:
        mlflow.log_params({"fusion": ranker.fusion_name, "fusion_params": json.dumps(ranker.fusion_params),
                           "labels": len(ranker.labels), "ads": len(ranker.ads),
                           **{f"option.{k}": v for k, v in ranker.options.items()}})
        with tempfile.TemporaryDirectory() as tmp:
            folder = ranker.save(Path(tmp) / "hybrid")
            info = mlflow.pyfunc.log_model(name="model", python_model=HybridPyfunc(),
                                           artifacts={"hybrid": str(folder)}, signature=_hybrid_signature(),
                                           pip_requirements=[f"interestkit=={__version__}"])
        version_tags = {"fusion": ranker.fusion_name, "run_id": run.info.run_id,
                        **{f"{m}_version": str(v.get("version", "")) for m, v in ranker.versions.items()}}
        version = mlflow.register_model(info.model_uri, name, tags=version_tags)
    client = MlflowClient()
    champion = CHAMPION not in client.get_registered_model(name).aliases
    if champion:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return {"run_id": run.info.run_id, "name": name, "version": int(version.version), "champion": champion}


def load_hybrid(uri=f"models:/{HYBRID_NAME}@{CHAMPION}"):
    """(HybridRanker, {name, version, run_id}) from the registry."""
    configure()
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as error:
        raise ModelError(f"model {uri!r} cannot be loaded from {tracking_uri()}: {str(error).splitlines()[0]}; "
                         "build one with 'interestkit models build-hybrid'") from None
    python_model = pyfunc.unwrap_python_model()
    if not isinstance(python_model, HybridPyfunc):
        raise ModelError(f"model {uri!r} is not an interestkit hybrid model")
    return python_model.ranker, describe_uri(uri)
