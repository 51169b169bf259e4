"""Per-post scores on Spark: one ``mlflow.pyfunc.spark_udf`` for each of the text and image models.

Each UDF is row-wise over Arrow batches; MLflow ships the model to the executors once
and each Python worker loads it once (``SparkModelCache``), so a model is never loaded
per user or per batch. Captions go to the text model; photos to the image model as a
path under the media root (resolved on the executor by the model's path policy: the
root travels as ``INTERESTKIT_MEDIA_ROOT``) or as bytes (``image_bytes``). The result
is one row per post and modality with the probability array ``p`` in the model's label
order; a photo that cannot be read scores NaN and is left out, as in ``rank``.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..errors import ConfigError, ModelError
from ..runtime.choice import RUNTIME_ENV, requested
from ..runtime.onnx_model import THREADS_ENV
from ..tracking.models import pyfunc_uri

KEEP = ("user_id", "post_id", "created_at", "_order")


@dataclass(frozen=True)
class ModelRef:
    """A registered (or saved) interestkit model as Spark will call it."""

    modality: str
    uri: str  # what spark_udf loads (an MLflow URI or a saved pyfunc folder)
    labels: tuple
    calibration_param: bool  # its signature takes the ``calibrated`` parameter
    given: str  # the URI the user gave


def model_ref(uri: str, workdir, want: str) -> ModelRef:
    """The model at ``uri`` (models:/, runs:/ or a model folder), checked to be a ``want`` model."""
    import mlflow

    loadable = pyfunc_uri(uri, workdir)
    try:
        signature = mlflow.models.get_model_info(loadable).signature
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{want} model {uri!r} cannot be read: {first}") from None
    inputs = set(signature.inputs.input_names()) if signature is not None else set()
    modality = "text" if "text" in inputs else "image" if "image" in inputs else None
    if modality is None:
        raise ModelError(f"{uri!r} is not an interestkit text or image model (its inputs: {sorted(inputs)})")
    if modality != want:
        raise ModelError(f"{uri!r} is a model of {modality}, but --{want}-model needs a {want} model")
    params = [p.name for p in signature.params.params] if signature.params is not None else []
    return ModelRef(modality, loadable, tuple(signature.outputs.input_names()), "calibrated" in params, uri)


def _udf(spark, ref: ModelRef, calibrated: bool, media_root, env_manager: str = "local"):
    import mlflow
    from pyspark.sql import types as T

    if not calibrated and not ref.calibration_param:
        raise ConfigError(f"{ref.given!r} was registered before models took a 'calibrated' parameter; "
                          "rank it with calibration on, or with --engine local")
    # executors resolve photo paths against this folder (absolute: their working folder is not ours)
    env = {settings.MEDIA_ROOT_ENV: str(Path(media_root).resolve())} if media_root is not None else {}
    env["INTERESTKIT_REUSE_MODELS"] = "1"  # each Python worker loads a model once, whatever the tasks
    env.update(worker_runtime(spark))
    with _quiet_mlflow():  # its notice that env_manager="local" reuses this environment: we mean it
        udf = mlflow.pyfunc.spark_udf(spark, ref.uri, result_type=T.ArrayType(T.DoubleType()),
                                      env_manager=env_manager, params=None if calibrated else {"calibrated": False},
                                      extra_env=env)
    # Marked non-deterministic so that Spark calls the model once per row: a deterministic UDF
    # may be evaluated twice, once for a filter pushed below the repartition and once above it
    base = getattr(udf, "__wrapped__", udf)
    return base.asNondeterministic() if hasattr(base, "asNondeterministic") else udf


def worker_runtime(spark) -> dict:
    """What the workers score with: the runtime this process asks for (``--runtime``; a JVM started
    earlier would not pass a later change on), and ONNX Runtime sessions of ``spark.task.cpus``
    intra-op threads (one by default: Spark runs one task per core, and sessions that each took
    every core would fight over them). ``INTERESTKIT_ONNX_THREADS`` set here wins."""
    threads = os.environ.get(THREADS_ENV, "").strip() or spark.conf.get("spark.task.cpus", "1")
    return {RUNTIME_ENV: requested(), THREADS_ENV: threads}


@contextmanager
def _quiet_mlflow():
    loggers = [logging.getLogger(name) for name in ("mlflow.pyfunc", "mlflow.models.flavor_backend_registry")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def udfs(spark, refs: dict, calibrated: bool = True, media_root=None, env_manager: str = "local") -> dict:
    """``{modality: spark_udf}``: made once (MLflow copies each model to the executors then)."""
    return {m: _udf(spark, ref, calibrated, media_root, env_manager) for m, ref in refs.items()}


def scoring_partitions(spark) -> int:
    """One scoring task per executor core, on every master.

    Without it the model UDFs run in the stage after the window's shuffle, with its
    ``spark.sql.shuffle.partitions`` (200 on a cluster): hundreds of small or empty
    tasks, each an Arrow round trip to a Python worker, or, where adaptive execution
    coalesces them by bytes (posts are small), one task on one core. On local masters
    MLflow also loads the model per task."""
    return max(1, spark.sparkContext.defaultParallelism)


def score(spark, window, model_udfs: dict):
    """``(user_id, post_id, created_at, _order, modality, p)`` for every scorable post."""
    from pyspark.sql import functions as F

    window = window.repartition(scoring_partitions(spark))
    parts = []
    if "text" in model_udfs:
        udf = model_udfs["text"]
        parts.append(window.filter(F.col("text").isNotNull())
                     .select(*KEEP, F.lit("text").alias("modality"), udf(F.struct(F.col("text"))).alias("p")))
    if "image" in model_udfs:
        udf = model_udfs["image"]
        photos = window.filter(F.col("image").isNotNull() | F.col("image_bytes").isNotNull())
        parts.append(photos.select(*KEEP, F.lit("image").alias("modality"),
                                   udf(F.struct(F.col("image"), F.col("image_bytes"))).alias("p")))
    if not parts:
        raise ConfigError("no model to score with: give a text or an image model")
    scored = parts[0]
    for part in parts[1:]:
        scored = scored.unionByName(part)
    finite = F.forall("p", lambda x: ~F.isnan(x) & (F.abs(x) != float("inf")))
    return scored.filter(F.col("p").isNotNull() & finite)
