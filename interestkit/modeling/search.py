"""The Optuna side of ``interestkit tune``: the study, its sampler and pruner, per-epoch pruning, tables.

The study lives in an Optuna RDB storage beside the MLflow store (``optuna.db`` in the
store's folder, or ``INTERESTKIT_OPTUNA_STORAGE``, e.g. a PostgreSQL database): one name,
one study, which any number of processes share and a later command resumes. Optuna 5's
multivariate TPE with constant liar draws the parameters, so parallel workers do not
repeat each other; with a heartbeat, a trial whose process died is marked failed (and
retried once) when the next worker starts. Knows neither click nor MLflow.
"""

from __future__ import annotations

import math
import os
import warnings

from .. import settings
from ..errors import ConfigError

STORAGE_ENV = "INTERESTKIT_OPTUNA_STORAGE"
PRUNERS = ("median", "hyperband", "none")
#: the metrics a study may optimise (``val_loss`` is minimised, the others maximised)
METRICS = ("val_accuracy", "val_group_accuracy", "val_top5_accuracy", "val_loss")
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120


def storage_url() -> str:
    """``INTERESTKIT_OPTUNA_STORAGE``, else ``sqlite:///<store folder>/optuna.db``."""
    url = os.environ.get(STORAGE_ENV, "").strip()
    if url:
        return url
    folder = settings.store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'optuna.db').resolve()}"


def direction(metric: str) -> str:
    return "minimize" if "loss" in metric else "maximize"


def make_pruner(kind: str, max_epochs: int):
    import optuna

    if kind == "median":  # stop a trial below the median of earlier ones at the same epoch
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 2), reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner: must be one of {', '.join(PRUNERS)}, got {kind!r}")


def open_study(name: str, metric: str, pruner: str, max_epochs: int, url: str | None = None, seed: int | None = None):
    """Create or load the study ``name`` (its metric must be the one it was created with)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = url or storage_url()
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the heartbeat is marked experimental
            storage = RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_SECONDS,
                                 grace_period=GRACE_SECONDS,
                                 heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
    except Exception as error:  # SQLAlchemy and Optuna raise many kinds here
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{url}: the study storage cannot be opened ({first}); set {STORAGE_ENV} to another "
                          "database URL") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning of the sampler's options
        sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=make_pruner(pruner, max_epochs),
                                study_name=name, direction=direction(metric), load_if_exists=True)
    created_for = study.user_attrs.get("metric")
    if created_for is None:
        study.set_user_attr("metric", metric)
    elif created_for != metric:
        raise ConfigError(f"study {name!r} optimises {created_for}, not {metric}; use --metric {created_for} to "
                          "resume it, or another --study name")
    return study


def pruning_callback(trial, metric: str):
    """``on_epoch(stage, epoch, logs)`` that reports the epoch's validation metric to
    ``trial`` and raises ``optuna.TrialPruned`` when the pruner says stop.

    Per epoch Keras knows the whole validation split's metrics (``val_accuracy``,
    ``val_top5_accuracy``, ``val_loss``); a held-out-only metric is reported as
    ``val_accuracy`` per epoch (the same rows and more)."""
    import optuna

    key = metric if metric in ("val_accuracy", "val_top5_accuracy", "val_loss") else "val_accuracy"
    step = {"n": 0}

    def on_epoch(stage, epoch, logs):
        value = logs.get(key)
        if value is None or not math.isfinite(float(value)):
            return
        trial.report(float(value), step["n"])
        step["n"] += 1
        if trial.should_prune():
            raise optuna.TrialPruned(f"{key} {float(value):.4f} after epoch {step['n']}")

    return on_epoch


def done(study) -> list:
    """The trials that count towards ``--n-trials``: complete or pruned (a failed or
    interrupted one does not, so a resumed study runs it again)."""
    return study.get_trials(deepcopy=False, states=done_states())


def done_states() -> tuple:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def best_trial(study):
    """The best complete trial, or None."""
    try:
        return study.best_trial
    except ValueError:
        return None


def top_trials(study, k: int = 10) -> list:
    """The ``k`` best complete trials, best first, as rows: number, value, params, seconds."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    sign = -1 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1
    done.sort(key=lambda t: (-sign * t.value, t.number))
    return [{"trial": t.number, "value": t.value, "params": dict(t.params),
             "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
             if t.datetime_complete and t.datetime_start else None} for t in done[:k]]


def counts(study) -> dict:
    """Trials per state name (``complete``, ``pruned``, ``fail``, ``running``...)."""
    out: dict = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name.lower()] = out.get(t.state.name.lower(), 0) + 1
    return out


def study_figures(study) -> tuple[dict, list]:
    """``({file name: matplotlib figure}, notes)``: optimisation history, parameter
    importances and parallel coordinates; a figure the study cannot draw yet (too few
    complete trials, one parameter) is a note instead."""
    from optuna.visualization import matplotlib as plots

    figures, notes = {}, []
    for file_name, plot in (("optimization_history.png", plots.plot_optimization_history),
                            ("param_importances.png", plots.plot_param_importances),
                            ("parallel_coordinate.png", plots.plot_parallel_coordinate)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = plot(study)
            figure = getattr(axes, "figure", None) or axes.flat[0].figure
            figure.set_size_inches(9, 5)
            figure.tight_layout()
            figures[file_name] = figure
        except Exception as error:  # noqa: BLE001 - Optuna raises several kinds for too little data
            notes.append(f"{file_name}: not drawn ({str(error).splitlines()[0] if str(error) else type(error).__name__})")
    return figures, notes
