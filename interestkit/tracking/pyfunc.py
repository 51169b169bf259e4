"""The MLflow pyfunc flavours: a text or image model, and the hybrid ranking pipeline.

This module subclasses MLflow's ``PythonModel`` at import, so it imports MLflow: the
rest of ``interestkit.tracking`` imports it only where a model is logged or loaded.

Both flavours read photos under the same path policy as every other entry point: file
paths resolve against the media root set by whoever starts the process
(``INTERESTKIT_MEDIA_ROOT``) or by the model's build-time config; absolute paths and
``..`` are refused; a request cannot widen that. Bad input raises an MLflow
``INVALID_PARAMETER_VALUE`` error, which ``mlflow models serve`` answers with a 400.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from .. import settings
from ..data.paths import MediaPolicy
from ..data.posts import RecordLimits, parse_post
from ..errors import InterestkitError
from ..modeling.cache import FeatureCache
from ..modeling.model import load_model
from ..ranking.bundle import load_bundle, read_spec
from ..runtime.choice import requested
from ..runtime.onnx_model import THREADS_ENV

#: what one request to a served model may carry
LIMITS = RecordLimits(max_posts=10_000, max_text_chars=10_000, max_image_bytes=10 * 1024 * 1024)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None for missing values (pandas gives NaN / NaT)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def _bad_input(error: InterestkitError) -> MlflowException:
    return MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE)


class InterestPyfunc(mlflow.pyfunc.PythonModel):
    """A text or image model: a DataFrame of captions or photos in, probabilities out.

    Input: a column ``text`` (captions), or ``image`` (paths under the media root, or
    ``data:image/...;base64,`` URIs) or ``image_bytes`` (the photos' bytes). Output: one
    column per label. A blank caption or an unreadable photo gives a row of NaN.
    """

    def load_context(self, context):
        folder = context.artifacts["model"]
        self.model = _cached_model(folder) if settings.env_flag(REUSE_ENV) else load_model(folder)
        self.media = MediaPolicy(settings.media_root_from_env(), hint=settings.SERVED_MODEL_MEDIA_HINT,
                                 inline="image_bytes")  # this model's input has no image_b64

    def predict(self, context, model_input: pd.DataFrame, params=None):
        model = self.model
        columns = ("text",) if model.modality == "text" else ("image", "image_bytes")
        given = [c for c in columns if c in model_input.columns]
        if not given:
            raise MlflowException(f"input needs a {' or '.join(map(repr, columns))} column "
                                  f"(got {', '.join(map(str, model_input.columns))})", INVALID_PARAMETER_VALUE)
        calibrated = bool((params or {}).get("calibrated", True))
        if model.modality == "text":
            values = model_input["text"].tolist()
            return pd.DataFrame(model.predict_texts([v if isinstance(v, str) else "" for v in values],
                                                    calibrated=calibrated), columns=model.labels)
        # per row: the path (or data URI) in ``image``, else the bytes in ``image_bytes``
        rows_in = [{c: _present(model_input[c].iat[i]) for c in given} for i in range(len(model_input))]
        probs = np.full((len(rows_in), len(model.labels)), np.nan)
        present = [i for i, row in enumerate(rows_in) if any(v is not None for v in row.values())]
        try:
            sources = [bytes(rows_in[i]["image_bytes"]) if rows_in[i].get("image") is None else
                       parse_post({"user_id": "-", "post_id": str(i), "image": rows_in[i]["image"]}, f"row {i}", i,
                                  self.media, LIMITS).image for i in present]
        except InterestkitError as error:
            raise _bad_input(error) from None
        rows, kept, _ = model.predict_images(sources, calibrated=calibrated)
        probs[[present[k] for k in kept]] = rows
        return pd.DataFrame(probs, columns=model.labels)


def _present(value):
    """None for a missing cell (None, NaN, NaT), else the value."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


#: models loaded in this process, by the SHA-256 of their folder's files and the runtime asked for, where
#: REUSE_ENV is set (by interestkit.spark, for its workers): a Spark worker that runs many tasks (MLflow
#: loads the pyfunc once per task on local masters) then loads each model once
REUSE_ENV = "INTERESTKIT_REUSE_MODELS"
_LOADED: dict = {}


def _cached_model(folder):
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    # the same folder under another runtime or thread count is another model
    key = (digest.hexdigest(), requested(), os.environ.get(THREADS_ENV, ""))
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = load_model(folder)
        # one write: Spark's workers run unbuffered, where print() writes the line and its newline
        # apart, and another worker's line can land between them in the shared log
        sys.stderr.write(worker_line(_LOADED[key]) + "\n")
        sys.stderr.flush()
    return _LOADED[key]


def worker_line(model) -> str:
    """What a Spark worker says, in Spark's log, when it loads a model: the runtime that scores it,
    its intra-op threads, and whether TensorFlow is in the process."""
    runtime = getattr(model, "runtime", None) or "python"
    variable = THREADS_ENV if runtime.startswith("onnxruntime") else "TF_NUM_INTRAOP_THREADS"
    threads = os.environ.get(variable, "").strip() or "all cores"
    return (f"interestkit worker {os.getpid()}: {model.modality} model on {runtime}, intra-op threads: {threads}, "
            f"tensorflow {'imported' if 'tensorflow' in sys.modules else 'not imported'}")


class HybridPyfunc(mlflow.pyfunc.PythonModel):
    """Posts in (one row per post), ranked interests and ads out (one row per user).

    Input columns: ``user_id``, ``post_id``, ``text``, ``image`` (a path under the media
    root or a ``data:image/...;base64,`` URI) or ``image_b64``, ``created_at`` (ISO text or
    a timestamp). Output columns: ``user_id``, and ``interests``, ``ads``, ``skipped``,
    ``window`` as JSON strings: the same answer as ``interestkit rank`` and ``serve``.
    """

    def load_context(self, context):
        folder = context.artifacts["hybrid"]
        saved = read_spec(folder).get("media") or {}
        root = settings.media_root_from_env() or saved.get("media_root")
        media = MediaPolicy(root, bool(saved.get("allow_outside")), settings.HYBRID_MEDIA_HINT)
        self.pipeline = load_bundle(folder, media=media, cache=FeatureCache())

    def predict(self, context, model_input: pd.DataFrame, params=None):
        try:
            posts = self.pipeline.parse_records(_records(model_input), "input", limits=LIMITS)
        except InterestkitError as error:
            raise _bad_input(error) from None
        users = self.pipeline.rank(posts)
        return pd.DataFrame({
            "user_id": [u.user_id for u in users],
            "interests": [json.dumps(u.as_dict()["interests"]) for u in users],
            "ads": [json.dumps(u.ads) for u in users],
            "skipped": [json.dumps(u.skipped) for u in users],
            "window": [json.dumps(u.window) for u in users],
        }, columns=["user_id", "interests", "ads", "skipped", "window"])


def interest_signature(model):
    """Input: ``text``, or ``image`` (a path or data URI) or ``image_bytes``; output: one
    probability column per label. Parameter ``calibrated`` (default true): apply the
    model's fitted temperature."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    columns = [ColSpec("string", "text")] if model.modality == "text" else \
        [ColSpec("string", "image", required=False), ColSpec("binary", "image_bytes", required=False)]
    return ModelSignature(inputs=Schema(columns),
                          outputs=Schema([ColSpec("double", label) for label in model.labels]),
                          params=ParamSchema([ParamSpec("calibrated", "boolean", True)]))


def hybrid_signature():
    """Posts in, one row per user out. ``created_at`` may be ISO text or a timestamp (pandas
    ``read_json``, Spark ``TimestampType``): any type, validated by the pipeline."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    inputs = Schema([ColSpec("string", "user_id"), ColSpec("string", "post_id"),
                     ColSpec("string", "text", required=False), ColSpec("string", "image", required=False),
                     ColSpec("string", "image_b64", required=False), ColSpec(AnyType(), "created_at", required=False)])
    outputs = Schema([ColSpec("string", name) for name in ("user_id", "interests", "ads", "skipped", "window")])
    return ModelSignature(inputs=inputs, outputs=outputs)
