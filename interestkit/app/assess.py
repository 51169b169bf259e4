"""Per-item evaluation of a registered model on labelled data (``interestkit test``).

Every caption of a labelled table (or photo of a folder or table) is predicted through
the product path (captions split into sentences; photos through the feature cache), then
scored: top-1, top-5, per-label precision and recall, macro-F1 and the expected
calibration error, with a confusion matrix and a reliability diagram, overall and, with
``group_by``, per group (e.g. per source). A label of the data that the model does not
know counts as a miss in every metric and is reported. Everything is logged to an MLflow
run tagged with the model's name and version; the version gets a tag pointing at it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import figures, tracking
from ..data.datasets import load_dataset
from ..errors import DataError
from ..modeling.cache import FeatureCache
from ..modeling.metrics import (
    calibration_bins,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_label,
    top_k_accuracy,
)
from ..runtime.choice import forced

MAX_GROUPS = 200


def _quiet(message):
    pass


def score_dataset(model, dataset, log=_quiet):
    """``(probabilities over labels, true label indices, labels, kept row indices, notes)``;
    the label list is the model's, then the data's labels the model does not know."""
    notes = []
    if model.modality == "text":
        probs = np.asarray(model.predict_texts(dataset.inputs), dtype=np.float64)
        kept = list(range(len(dataset)))
    else:
        probs, kept, failures = model.predict_images(dataset.inputs, cache=FeatureCache(), on_error="skip", log=log)
        probs = np.asarray(probs, dtype=np.float64)
        if failures:
            notes.append(f"{len(failures)} unreadable photo(s) not scored: "
                         + "; ".join(m for _, m in failures[:3]) + (" ..." if len(failures) > 3 else ""))
    unknown = sorted({dataset.labels[i] for i in kept} - set(model.labels))
    if unknown:
        notes.append(f"the model does not know {len(unknown)} label(s) of the data ({', '.join(unknown[:5])}"
                     f"{' ...' if len(unknown) > 5 else ''}): their items count as misses")
    labels = list(model.labels) + unknown
    probs = np.pad(probs, ((0, 0), (0, len(unknown))))
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[dataset.labels[i]] for i in kept], dtype=int)
    return probs, y, labels, kept, notes


def measures(probs, y, labels) -> dict:
    """The metrics of one set of items."""
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    table = per_label(y, predicted, labels)
    present = {label: row for label, row in table.items() if row["support"] or row["precision"] is not None}
    return {"items": int(len(y)), "top1": top_k_accuracy(probs, y, 1), "top5": top_k_accuracy(probs, y, 5),
            "macro_f1": macro_f1(table), "ece": expected_calibration_error(probs, y), "per_label": present}


def metric_name(text: str) -> str:
    """A group value as part of an MLflow metric name (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^\w\-./ ]", "_", text)[:200]


def flat_metrics(result: dict) -> dict:
    """MLflow metrics: ``top1`` ... overall, ``label.<L>.recall`` ..., ``group.<G>.top1`` ..."""
    out = {k: result["overall"][k] for k in ("items", "top1", "top5", "macro_f1", "ece")}
    for label, row in result["overall"]["per_label"].items():
        for key in ("precision", "recall"):
            out[f"label.{metric_name(label)}.{key}"] = row[key]
    for group, row in result.get("groups", {}).items():
        for key in ("items", "top1", "top5", "macro_f1", "ece"):
            out[f"group.{metric_name(group)}.{key}"] = row[key]
    for side in ("tf", "export", "difference"):
        for key, value in result.get("runtimes", {}).get(side, {}).items():
            out[f"runtime.{side}.{key}"] = value
    if result.get("runtimes"):
        out["runtime.agreement_top1"] = result["runtimes"]["agreement_top1"]
    return {k: float(v) for k, v in out.items() if v is not None}


def _load_both(uri) -> dict:
    """``{"tf": (model, described), "onnx": (...)}``: the model on TensorFlow and through its export."""
    loaded = {}
    for runtime in ("tf", "onnx"):
        with forced(runtime):
            loaded[runtime] = tracking.load_interest_model(uri)
    return loaded


def _compare_runtimes(loaded, dataset, data_path, log) -> tuple[tuple, dict]:
    """The export's scores, and ``{"tf": measures, "export": measures, "difference": export - tf, "agreement"}``:
    the same items scored on TensorFlow and through the export, side by side."""
    scored = {}
    for runtime in ("tf", "onnx"):
        model = loaded[runtime][0]
        log(f"scoring with {getattr(model, 'runtime', 'tensorflow')}")
        scored[runtime] = (model, score_dataset(model, dataset, log))
    (_, (tf_probs, tf_y, tf_labels, tf_kept, _)), (export, export_scores) = scored["tf"], scored["onnx"]
    probs, y, labels, kept, _ = export_scores
    if tf_kept != kept or tf_labels != labels:
        raise DataError(f"{data_path}: TensorFlow and the export scored different items or labels; "
                        "compare them on items both can read")
    tf, exported = measures(tf_probs, tf_y, labels), measures(probs, y, labels)
    keys = ("top1", "top5", "macro_f1", "ece")
    agreement = float(np.mean(tf_probs.argmax(axis=1) == probs.argmax(axis=1))) if len(y) else None
    return export_scores, {
        "export_runtime": export.runtime, "agreement_top1": agreement,
        "tf": {k: tf[k] for k in ("items", *keys)}, "export": {k: exported[k] for k in ("items", *keys)},
        "difference": {k: None if tf[k] is None or exported[k] is None else exported[k] - tf[k] for k in keys}}


def run_assessment(uri: str, data_path, group_by: str | None = None, log=_quiet, runtime: str | None = None) -> dict:
    """Evaluate the model ``uri`` on ``data_path``; log it all; returns the result with ``run_id``.

    ``runtime="both"``: the items are scored on TensorFlow and through the export; the
    result's metrics are the export's, and ``result["runtimes"]`` holds both and their
    difference (export minus TensorFlow)."""
    loaded = _load_both(uri) if runtime == "both" else None
    model, described = loaded["onnx"] if loaded else tracking.load_interest_model(uri)
    dataset = load_dataset(data_path, model.modality, group_by, checked=False)
    log(f"{dataset.source}: {len(dataset)} labelled {'captions' if model.modality == 'text' else 'photos'}")
    comparison = None
    if loaded:
        (probs, y, labels, kept, notes), comparison = _compare_runtimes(loaded, dataset, data_path, log)
    else:
        probs, y, labels, kept, notes = score_dataset(model, dataset, log)
    if not len(y):
        raise DataError(f"{data_path}: no item could be scored")
    result = {"model": {k: described.get(k) for k in ("uri", "name", "version", "run_id")},
              "data": str(data_path), "group_by": group_by or None, "labels": labels, "notes": notes,
              "overall": measures(probs, y, labels)}
    if comparison:
        result["runtimes"] = comparison
    matrix = confusion_matrix(y, probs.argmax(axis=1), len(labels))
    bins = calibration_bins(probs, y)
    if group_by:
        groups = np.array([dataset.groups[i] for i in kept], dtype=object)
        values = sorted(set(groups))
        if len(values) > MAX_GROUPS:
            raise DataError(f"{data_path}: column {group_by!r} has {len(values)} groups; --group-by takes at most "
                            f"{MAX_GROUPS}")
        result["groups"] = {g: measures(probs[groups == g], y[groups == g], labels) for g in values}
    name = described.get("name") or Path(str(uri)).name
    version = described.get("version")
    title = f"{name}{f' v{version}' if version else ''} on {Path(str(data_path)).name}"
    plots = {"confusion_matrix.png": figures.confusion(matrix, labels, f"confusion matrix (row-normalised): {title}"),
             "reliability.png": figures.reliability(bins, f"reliability: {title}")}
    documents = {"assessment.json": result, "confusion_matrix.json": {"labels": labels, "matrix": matrix.tolist()},
                 "calibration_bins.json": bins}
    params = {"model": uri, "model.name": described.get("name", ""), "model.version": version or "",
              "data.path": str(data_path), "data.rows": len(dataset), "data.scored": len(y),
              "data.sha256": dataset.fingerprint()["sha256"], "group_by": group_by or "",
              **({"runtime": "both"} if comparison else {})}
    result["run_id"] = tracking.log_assessment(params, flat_metrics(result), documents, plots, described)
    log(f"logged to MLflow run {result['run_id']} (experiment {tracking.EVALUATION_EXPERIMENT}, "
        f"store {tracking.tracking_uri()})")
    return result
