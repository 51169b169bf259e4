"""Logging and loading models: text and image models, the hybrid pipeline, fitted fusions.

A model is referred to by ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/...``
or the path of a local model folder. Fitted fusion parameters live in MLflow too: a
``fusion fit`` run holds them as params and as the artefact ``fusion.json``
(``runs:/<run id>/fusion.json``), which ``--fusion-weights`` and ``build-hybrid`` read.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from ..data.tables import parse_yaml
from ..errors import DataError, InterestkitError, ModelError
from ..hooks.requirements import model_needs
from ..modeling.model import load_model, read_meta
from ..ranking.bundle import save_bundle, spec_of
from ..runtime.choice import use_export
from ..runtime.export import TRAINING_ONLY, export_when_logged, runtime_requirements, scores_on_export
from . import environment as environment_module
from .local_registry import find_version
from .registry import CHAMPION, HYBRID_NAME, describe_uri, register, registered_name
from .store import as_param, configure, experiment_id, tracking_uri

FUSION_ARTIFACT = "fusion.json"


class _DropKnownNotices(logging.Filter):
    """MLflow's notice about pickled python_model objects: ours are this package's own classes."""

    def filter(self, record):
        return "Passing a Python object as `python_model`" not in record.getMessage()


logging.getLogger("mlflow.pyfunc").addFilter(_DropKnownNotices())


@contextmanager
def _without_input_example_warning():
    """No 'input example was not provided' warning: the signatures say what the models take."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example was not provided.*")
        yield


def model_packages(meta: dict) -> list[str]:
    """The distributions that provided a model folder's plugins (interestkit for the built-ins)."""
    return [need.package for need in model_needs(meta) if need.package]


def environment(packages, tmp, on_export: bool = False) -> tuple[dict, list[str]]:
    """``({"wheels": folder}, pip requirements)`` for logging a model that needs ``packages``
    (interestkit is always bundled, once; blank names are skipped). ``on_export``: the model
    scores on its ONNX export, so its requirements name ONNX Runtime and leave TensorFlow and
    the rest of what only training needs out (``runtime.export.TRAINING_ONLY``)."""
    folder = Path(tmp) / environment_module.WHEELS
    pip = environment_module.model_environment(packages, folder, warn=_warn,
                                                leave_out=TRAINING_ONLY if on_export else ())
    return {environment_module.WHEELS: str(folder)}, with_runtime(pip) if on_export else pip


def with_runtime(pip: list[str]) -> list[str]:
    """Requirement lines and ONNX Runtime's (at the version installed here), unless they name it already."""
    named = {environment_module.requirement_name(r) for r in pip if r.strip() and not r.lstrip().startswith(("#", "-"))}
    return [*pip, *(r for r in runtime_requirements() if environment_module.requirement_name(r) not in named)]


def _warn(message: str) -> None:
    logging.getLogger("interestkit").warning(message)


def _pyfunc_flavours():
    from . import pyfunc  # imports MLflow at import: only where a model is logged or loaded

    return pyfunc


def log_interest_model(model, step: int = 0, calibration=None) -> str:
    """Log a text or image model (any model format) in the active run; returns its model URI.

    A Keras model's folder gets its ONNX export (``runtime.export``; ``calibration``: photos
    for int8 quantisation), and its requirements then name ONNX Runtime."""
    import mlflow

    pyfunc = _pyfunc_flavours()
    with tempfile.TemporaryDirectory(prefix="interestkit-") as tmp:
        folder = model.save(Path(tmp) / "model")
        exported = export_when_logged(model, folder, calibration, warn=_warn)
        wheels, pip = environment(model_packages(getattr(model, "meta", {}) or {}), tmp, on_export=bool(exported))
        with _without_input_example_warning():
            info = mlflow.pyfunc.log_model(name="model", python_model=pyfunc.InterestPyfunc(),
                                           artifacts={"model": str(folder), **wheels},
                                           signature=pyfunc.interest_signature(model),
                                           pip_requirements=pip, step=step)
    return info.model_uri


def register_interest_model(model, name: str | None = None, experiment: str = "interestkit", description: str = "",
                            tags: dict | None = None, params: dict | None = None, metrics: dict | None = None,
                            texts: dict | None = None) -> dict:
    """Log ``model`` (any model format, trained or not) in a run of its own, with its
    ``params`` and ``metrics`` (linked to the logged model) and ``texts`` (``{artifact file:
    text}``, e.g. a taxonomy), and register it under ``name`` (default
    ``interestkit-<modality>``); returns ``{run_id, name, version, champion, uri}``."""
    import mlflow

    name = name or registered_name(model.modality)
    tags = {"modality": model.modality, "plugin": model.meta.get("plugin", ""), **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=f"register-{tags['plugin'] or name}",
                          tags={f"interestkit.{k}": str(v) for k, v in tags.items()}) as run:
        if params:
            mlflow.log_params({k: as_param(v) for k, v in params.items()})
        mlflow.log_dict(model.labels, "labels.json")
        for artifact, text in (texts or {}).items():
            mlflow.log_text(text, artifact)
        if metrics:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=0)
        model_uri = log_interest_model(model)
        version, champion = register(model_uri, name, {**tags, "run_id": run.info.run_id},
                                     description or f"{tags['plugin'] or model.modality} model ({len(model.labels)} "
                                                    f"interests), registered by run {run.info.run_id}.")
    return {"run_id": run.info.run_id, "name": name, "version": version, "champion": champion,
            "uri": f"models:/{name}/{version}"}


def _load_pyfunc(uri: str, what: str, build_hint: str):
    """``mlflow.pyfunc.load_model(uri)``; a one-line ModelError that says what to do."""
    import mlflow

    configure()
    try:
        return mlflow.pyfunc.load_model(uri)
    except InterestkitError as error:  # the model exists; what it needs here is missing (it says what)
        raise type(error)(f"{what} {uri!r} cannot be loaded: {error}") from None
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        exists = bool(describe_uri(uri)) or uri.startswith("runs:/")
        hint = ("check its plugins are installed and allowed (interestkit plugins)" if exists
                else f"{build_hint}, or promote a version with 'interestkit models promote'" if CHAMPION in uri
                else "check the name and version with 'interestkit models list'")
        raise ModelError(f"{what} {uri!r} cannot be loaded from {tracking_uri()}: {first}; {hint}") from None


def load_interest_model(uri: str) -> tuple[object, dict]:
    """A text or image model and its description ``{uri, name, version, run_id}``."""
    path = Path(uri)
    if not uri.startswith(("models:/", "runs:/")) and (path / "meta.json").is_file():
        return load_model(path), {"uri": str(path)}
    found = find_version(uri)  # a local store's version: its folder, as the pyfunc flavour loads it, without MLflow
    if found is not None:
        folder, described = found
        try:
            return load_model(folder), {"uri": uri, **described}
        except InterestkitError as error:  # as _load_pyfunc says it
            raise type(error)(f"model {uri!r} cannot be loaded: {error}") from None
    model = _load_pyfunc(uri, "model", "train one with 'interestkit train'").unwrap_python_model()
    if not isinstance(model, _pyfunc_flavours().InterestPyfunc):
        raise ModelError(f"model {uri!r} is not an interestkit text or image model")
    return model.model, {"uri": uri, **describe_uri(uri)}


def model_labels(uri: str) -> list | None:
    """The labels of the model at ``uri`` without loading it (its folder's meta.json, or the
    ``labels.json`` its run logged); None when they cannot be read cheaply."""
    path = Path(uri)
    try:
        if not uri.startswith(("models:/", "runs:/")):
            return list(json.loads((path / "meta.json").read_text(encoding="utf-8"))["labels"])
        found = find_version(uri)
        if found is not None:
            return list(read_meta(found[0])["labels"])
        import mlflow

        configure()
        run_id = describe_uri(uri).get("run_id") if uri.startswith("models:/") else uri.split("/")[1]
        labels = mlflow.artifacts.load_dict(f"runs:/{run_id}/labels.json") if run_id else None
        return list(labels) if isinstance(labels, list) else None
    except Exception:  # not readable cheaply: the models' labels are checked once they load
        return None


# --- the hybrid ----------------------------------------------------------------------


def hybrid_description(pipeline) -> str:
    described = pipeline.describe()
    models = ", ".join(f"{m} {p.get('name', p.get('uri', '?'))} v{p.get('version', '?')}"
                       for m, p in described["models"].items())
    o = described["options"]
    return (f"Hybrid of {models}; fusion {pipeline.fusion.name} {dict(pipeline.fusion.params) or ''} "
            f"({pipeline.fusion.source}); mode {o['mode']}, last {o['last']} posts, top {o['top_k']}, aggregation "
            f"{o['aggregation']}, half-life {o['half_life_days']}, calibration {'on' if o['calibrate'] else 'off'}; "
            f"{described['ads']} ads; {described['labels']} interests.")


def log_hybrid(pipeline, experiment: str = "interestkit", name: str = HYBRID_NAME) -> dict:
    """Log the pipeline as the hybrid pyfunc model, with every option as a param; register it."""
    import mlflow

    pyfunc = _pyfunc_flavours()
    spec = spec_of(pipeline)
    tags = {"interestkit.kind": "hybrid", "interestkit.fusion": pipeline.fusion.name}
    tags.update({f"interestkit.{m}_model": json.dumps(p) for m, p in spec["provenance"].items()})
    params = {"fusion": pipeline.fusion.name, "fusion.params": spec["fusion"]["params"],
              "fusion.source": pipeline.fusion.source, "labels": len(spec["labels"]), "ads": len(spec["ads"]),
              **{f"option.{k}": v for k, v in spec["options"].items()},
              **{f"media.{k}": v for k, v in spec["media"].items()},
              **{f"{m}_model": p.get("uri", "") for m, p in spec["provenance"].items()}}
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name="build-hybrid", tags=tags) as run:
        mlflow.log_params({k: as_param(v) for k, v in params.items()})
        mlflow.log_dict(spec, "pipeline.json")
        with tempfile.TemporaryDirectory(prefix="interestkit-") as tmp:
            folder = save_bundle(pipeline, Path(tmp) / "hybrid")
            packages = [p for m in pipeline.models.values() for p in model_packages(getattr(m, "meta", {}) or {})]
            on_export = bool(pipeline.models) and all(scores_on_export(m) for m in pipeline.models.values())
            wheels, pip = environment([*packages, spec["fusion"].get("package") or ""], tmp, on_export)
            with _without_input_example_warning():
                info = mlflow.pyfunc.log_model(name="model", python_model=pyfunc.HybridPyfunc(),
                                               artifacts={"hybrid": str(folder), **wheels},
                                               signature=pyfunc.hybrid_signature(), pip_requirements=pip)
        version_tags = {"fusion": pipeline.fusion.name, "run_id": run.info.run_id,
                        **{f"{m}_version": str(p.get("version", "")) for m, p in spec["provenance"].items()}}
        version, champion = register(info.model_uri, name, version_tags, hybrid_description(pipeline))
    return {"run_id": run.info.run_id, "name": name, "version": version, "champion": champion}


def load_hybrid(uri: str = f"models:/{HYBRID_NAME}@{CHAMPION}", media=None, cache=None):
    """``(RankingPipeline, {name, version, run_id})`` of a hybrid model; ``media`` and
    ``cache`` (the serving process's own) replace the loaded ones when given."""
    model = _load_pyfunc(uri, "model", "build one with 'interestkit models build-hybrid'").unwrap_python_model()
    if not isinstance(model, _pyfunc_flavours().HybridPyfunc):
        raise ModelError(f"model {uri!r} is not an interestkit hybrid model")
    pipeline = model.pipeline
    changes = {k: v for k, v in (("media", media), ("cache", cache)) if v is not None}
    return (pipeline.replace(**changes) if changes else pipeline), {"uri": uri, **describe_uri(uri)}


# --- fitted fusions ------------------------------------------------------------------


def load_fusion_document(ref: str) -> dict:
    """A fitted fusion from ``runs:/<id>[/fusion.json]`` or a local ``.json``/``.yaml`` file."""
    if ref.startswith("runs:/"):
        import mlflow

        configure()
        uri = ref if ref.rstrip("/").endswith(FUSION_ARTIFACT) else f"{ref.rstrip('/')}/{FUSION_ARTIFACT}"
        try:
            document = mlflow.artifacts.load_dict(uri)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DataError(f"{ref}: no fitted fusion there ({first}); 'interestkit fusion fit' prints the URI") from None
        source = uri
    else:
        document, source = _read_fusion_file(Path(ref)), ref
    if not isinstance(document, dict) or not isinstance(document.get("fusion"), str) \
            or not isinstance(document.get("params"), dict):
        raise DataError(f"{source}: not a fitted fusion (expected 'fusion: NAME' and 'params: {{...}}')")
    return {**document, "source": source}


def _read_fusion_file(path: Path):
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a fusion parameters file (.json or .yaml)")
    if not path.is_file():
        raise DataError(f"{path}: fusion parameters file not found (write one with 'interestkit fusion fit')")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            return parse_yaml(text, path)
        return json.loads(text)
    except DataError:
        raise
    except Exception as error:  # unreadable, not UTF-8, invalid JSON or YAML
        raise DataError(f"{path}: cannot read fusion parameters ({' '.join(str(error).split())})") from None


# --- models for Spark ---------------------------------------------------------------


def pyfunc_uri(uri: str, workdir) -> str:
    """A URI ``mlflow.pyfunc.spark_udf`` can load: an MLflow URI as it is; a model folder
    (``meta.json``) saved as a pyfunc model under ``workdir`` first, without loading it."""
    import mlflow

    path = Path(uri)
    if uri.startswith(("models:/", "runs:/")) or not (path / "meta.json").is_file():
        configure()
        return uri
    meta = read_meta(path)
    described = SimpleNamespace(modality=meta.get("modality"), labels=list(meta.get("labels") or []))
    if described.modality not in ("text", "image") or not described.labels:
        raise ModelError(f"{uri}: meta.json names no modality and labels; not an interestkit model folder")
    pyfunc = _pyfunc_flavours()
    target = Path(workdir) / f"{described.modality}-pyfunc"
    wheels, pip = environment(model_packages(meta), Path(workdir) / f"{described.modality}-env",
                              on_export=meta.get("format", "keras") != "ensemble" and use_export(path))
    with _without_input_example_warning():
        mlflow.pyfunc.save_model(str(target), python_model=pyfunc.InterestPyfunc(),
                                 artifacts={"model": str(path), **wheels},
                                 signature=pyfunc.interest_signature(described), pip_requirements=pip)
    return str(target)
