"""Tuning as a use case: search a plugin's options with Optuna, every trial a tracked training run.

Each trial is the training path of ``interestkit train`` (``app.train``'s config
resolution and data loading, ``modeling.train.train``) with the trial's drawn options as
overrides, validated like command-line flags. With a ``source`` column the default split
is by whole sources (``--val-group source``), so every trial is judged on sources it did
not train on. Frozen encoders' features come from the feature cache, so a trial that
changes only the head does not encode anything again. ``jobs`` processes (spawned, each
with its own TensorFlow) share the study; separate commands with the same study name do
too, and the same command resumes it after an interruption.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import hooks, tracking
from ..data.datasets import detect_modality
from ..data.tables import TABLE_SUFFIXES, read_table
from ..errors import ConfigError, InterestkitError
from ..modeling import config as config_mod
from ..modeling import search
from ..modeling import space as space_mod
from ..modeling.cache import FeatureCache
from ..modeling.train import train
from ..tracking import studies
from .train import build_plugins, load_training_data

MAX_FAILURES_IN_A_ROW = 3


@dataclass
class TuneRequest:
    """Everything one tuning command asks for (plain data: it crosses to worker processes)."""

    data: str
    plugin: str | None = None
    config_path: str | None = None
    space_path: str | None = None
    n_trials: int = 20
    timeout: float | None = None
    sampler_seed: int | None = None  # None: unseeded, so parallel workers draw apart; tests fix it
    metric: str = "val_accuracy"
    val_group: str | None = None  # None: "source" when the data has that column
    study: str | None = None
    jobs: int = 1
    promote: bool = False
    pruner: str = "median"
    overrides: dict = field(default_factory=dict)
    flag_names: dict = field(default_factory=dict)


@dataclass
class Prepared:
    """A request checked and resolved: the config, the space, the study's name."""

    request: TuneRequest
    file_config: dict
    resolved: dict
    space: dict
    study_name: str


def has_column(data, column: str) -> bool:
    """Whether a table of examples has ``column`` (a photo folder has none)."""
    path = Path(data)
    if not path.is_file() or path.suffix.lower() not in TABLE_SUFFIXES:
        return False
    rows = read_table(path, required=())
    return bool(rows) and column in rows[0][1]


def prepare(request: TuneRequest) -> Prepared:
    """Check everything before a study opens: numbers, metric, config, space."""
    if request.n_trials < 1:
        raise ConfigError(f"--n-trials: must be at least 1, got {request.n_trials}")
    if request.jobs < 1:
        raise ConfigError(f"--jobs: must be at least 1, got {request.jobs}")
    if request.timeout is not None and request.timeout <= 0:
        raise ConfigError(f"--timeout: must be more than 0 seconds, got {request.timeout}")
    if request.metric not in search.METRICS:
        raise ConfigError(f"--metric: must be one of {', '.join(search.METRICS)}, got {request.metric!r}")
    if request.pruner not in search.PRUNERS:
        raise ConfigError(f"--pruner: must be one of {', '.join(search.PRUNERS)}, got {request.pruner!r}")
    if not Path(request.data).exists():
        raise ConfigError(f"{request.data}: data not found; expected a captions table or a photo folder/table")
    file_config = config_mod.load_yaml(request.config_path) if request.config_path else {}
    overrides = {section: dict(values) for section, values in request.overrides.items()}
    training = overrides.setdefault("training", {})
    if request.val_group is None and "val_group" not in training and has_column(request.data, "source"):
        training["val_group"] = "source"
    elif request.val_group is not None:
        training["val_group"] = request.val_group
    names = {"training.val_group": "--val-group", **request.flag_names}
    resolved = config_mod.resolve(file_config, request.plugin, overrides, source=str(request.config_path or "config"),
                                  flag_names=names)
    if request.metric == "val_group_accuracy" and not resolved["training"]["val_group"]:
        raise ConfigError("--metric val_group_accuracy needs a group split: give --val-group COLUMN")
    encoder_cls = hooks.get("encoder", resolved["plugin"]).cls
    head_cls = hooks.get("classifier", resolved["classifier"]["name"]).cls
    frozen = encoder_cls(**resolved["encoder"]).frozen()
    space = space_mod.default_space(encoder_cls, head_cls, frozen)
    if request.space_path:
        space = space_mod.load_space_file(request.space_path, space, encoder_cls, head_cls)
    if not space_mod.searched(space):
        raise ConfigError(f"{request.space_path or 'the default space'}: nothing to search (every option is fixed)")
    request.overrides = overrides
    name = request.study or f"{resolved['plugin']}-{Path(request.data).stem}"
    return Prepared(request, file_config, resolved, space, name)


def trial_config(prepared: Prepared, drawn: dict) -> dict:
    """The resolved config of one trial: the request's overrides, then the drawn values."""
    overrides = {section: dict(values) for section, values in prepared.request.overrides.items()}
    for section, values in drawn.items():
        overrides.setdefault(section, {}).update(values)
    overrides.setdefault("tracking", {})["register"] = False
    return config_mod.resolve(prepared.file_config, prepared.resolved["plugin"], overrides,
                              source=str(prepared.request.config_path or "config"))


def base_values(prepared: Prepared) -> dict:
    """The base config's value of every searched option that lies inside its range or choices."""
    resolved = prepared.resolved
    head_cls = hooks.get("classifier", resolved["classifier"]["name"]).cls
    sections = {"encoder": hooks.get("encoder", resolved["plugin"]).cls(**resolved["encoder"]).options,
                "classifier": head_cls(**resolved["classifier"]["options"]).options, "training": resolved["training"]}
    values = {}
    for name, param in space_mod.searched(prepared.space).items():
        section, key = name.split(".", 1)
        value = sections[section].get(key)
        if param.contains(value):
            values[name] = value
    return values


class Objective:
    """One process's side of a study: the data loaded once, then a training run per trial."""

    def __init__(self, prepared: Prepared, parent_id: str, log):
        self.prepared = prepared
        self.parent_id = parent_id
        self.log = log
        resolved = prepared.resolved
        self.info = hooks.get("encoder", resolved["plugin"])
        self.modality = detect_modality(prepared.request.data)
        if self.modality != self.info.modality:
            raise ConfigError(f"plugin {self.info.name!r} is a {self.info.modality} encoder, but "
                              f"{prepared.request.data} holds {self.modality} examples")
        self.dataset = load_training_data(prepared.request.data, self.modality, resolved["training"])
        self.fingerprint = self.dataset.fingerprint()
        training = resolved["training"]
        self.cache = FeatureCache(training["cache_dir"] or None, enabled=training["cache"])

    def __call__(self, trial):
        import optuna

        prepared, metric = self.prepared, self.prepared.request.metric
        drawn = space_mod.draw(trial, prepared.space)
        resolved = trial_config(prepared, drawn)
        _, encoder, classifier = build_plugins(resolved)
        prune = search.pruning_callback(trial, metric)
        params = {name: trial.params[name] for name in trial.params}
        started = time.perf_counter()
        with studies.trial_run(self.parent_id, prepared.study_name, trial.number, resolved, self.info,
                               self.fingerprint, str(prepared.request.data)) as run:
            def on_epoch(stage, epoch, logs):
                run.on_epoch(stage, epoch, logs)
                prune(stage, epoch, logs)

            try:
                result = train(encoder, classifier, self.dataset, resolved["training"], on_epoch=on_epoch,
                               cache=self.cache, log=lambda message: None)
            except optuna.TrialPruned:
                studies.end_trial(run, "pruned", {"trial_seconds": time.perf_counter() - started}, params)
                raise
            except BaseException as error:
                studies.end_trial(run, "failed", {"trial_seconds": time.perf_counter() - started}, params)
                if isinstance(error, Exception):
                    trial.set_user_attr("error", (str(error).strip().splitlines() or [type(error).__name__])[0][:300])
                raise
            value = result.metrics.get(metric)
            if value is None:
                studies.end_trial(run, "failed", result.metrics, params)
                raise InterestkitError(f"trial {trial.number}: training gave no {metric} (metrics: "
                                       f"{', '.join(sorted(result.metrics))})")
            result.metrics["trial_seconds"] = time.perf_counter() - started
            studies.end_trial(run, "complete", result.metrics, params)
            if _improves(trial.study, value):
                trial.set_user_attr("model_uri", studies.log_trial_model(run, result))
            trial.set_user_attr("run_id", run.run_id)
            for key in ("val_accuracy", "val_group_accuracy", "val_top5_accuracy", "epochs"):
                if key in result.metrics:
                    trial.set_user_attr(key, result.metrics[key])
        return value


def _improves(study, value) -> bool:
    best = search.best_trial(study)
    if best is None:
        return True
    return value < best.value if search.direction(study.user_attrs.get("metric", "")) == "minimize" else value > best.value


def trial_line(study, trial) -> str:
    """The progress line of a finished trial: number, state, value, best so far, parameters."""
    state = trial.state.name.lower()
    value = f"{trial.value:.4f}" if state == "complete" and trial.value is not None else "-"
    best = search.best_trial(study)
    best_text = f"{best.value:.4f} (trial {best.number})" if best is not None else "-"
    params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial.params.items()))
    reason = ""
    if state == "fail":
        reason = f"  [{trial.user_attrs.get('error', 'failed')}]"
    elif state == "pruned" and trial.intermediate_values:
        step = max(trial.intermediate_values)
        reason = f"  [stopped after epoch {step + 1}: {trial.intermediate_values[step]:.4f} per epoch]"
    return f"trial {trial.number:>3}  {state:<8}  value {value}  best {best_text}  {params}{reason}"


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value


def optimize(prepared: Prepared, parent_id: str, deadline: float | None, log) -> None:
    """Run trials in this process until the study holds ``n_trials`` or the deadline passes."""
    import optuna

    request = prepared.request
    study = search.open_study(prepared.study_name, request.metric, request.pruner,
                              prepared.resolved["training"]["epochs"], seed=request.sampler_seed)
    remaining = request.n_trials - len(search.done(study))
    if remaining <= 0:
        return
    objective = Objective(prepared, parent_id, log)

    failures = {"in_a_row": 0}

    def progress(study, trial):
        log(trial_line(study, trial))
        failed = trial.state == optuna.trial.TrialState.FAIL
        failures["in_a_row"] = failures["in_a_row"] + 1 if failed else 0
        if failures["in_a_row"] >= MAX_FAILURES_IN_A_ROW:
            log(f"stopping: {MAX_FAILURES_IN_A_ROW} trials in a row failed")
            study.stop()

    timeout = None if deadline is None else max(1.0, deadline - time.time())
    study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(Exception,),
                   callbacks=[optuna.study.MaxTrialsCallback(request.n_trials, states=search.done_states()), progress])


def _worker(prepared: Prepared, parent_id: str, deadline: float | None) -> None:
    """A spawned process's loop (``jobs`` > 1): its progress lines go to stderr."""
    def log(message):
        print(message, file=sys.stderr, flush=True)

    try:
        optimize(prepared, parent_id, deadline, log)
    except KeyboardInterrupt:
        pass
    except InterestkitError as error:
        log(f"worker: {error}")
        sys.exit(1)


def run_tuning(request: TuneRequest, log=print) -> dict:
    """Run (or resume) a study; returns its summary, top trials and what was registered."""
    prepared = prepare(request)
    metric = request.metric
    study = search.open_study(prepared.study_name, metric, request.pruner, prepared.resolved["training"]["epochs"])
    experiment = prepared.resolved["tracking"]["experiment"]
    parent_id = studies.study_run(experiment, prepared.study_name, study.user_attrs.get("mlflow_parent_run"),
                                  {"plugin": prepared.resolved["plugin"], "data.path": request.data, "metric": metric,
                                   "pruner": request.pruner, "space": {k: p.describe() for k, p in prepared.space.items()}})
    study.set_user_attr("mlflow_parent_run", parent_id)
    before = len(study.get_trials(deepcopy=False))
    if before == 0:  # trial 0 is the base config itself: the study's best is judged against it
        study.enqueue_trial(base_values(prepared), skip_if_exists=True)
    log(f"study {prepared.study_name!r} ({search.storage_url()}): {len(search.done(study))} trial(s) done, up to "
        f"{request.n_trials}; "
        f"{metric} on {_split_text(prepared)}; MLflow parent run {parent_id}")
    for name, param in space_mod.searched(prepared.space).items():
        log(f"  {name}: {param.describe()}")
    deadline = time.time() + request.timeout if request.timeout else None
    workers = []
    if request.jobs > 1:
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_worker, args=(prepared, parent_id, deadline), daemon=False)
                   for _ in range(request.jobs - 1)]
        for process in workers:
            process.start()
    try:
        optimize(prepared, parent_id, deadline, log)
    finally:
        for process in workers:
            process.join()
    return conclude(prepared, parent_id, log)


def _split_text(prepared) -> str:
    column = prepared.resolved["training"]["val_group"]
    return f"whole held-out groups of {column!r}" if column else "a stratified validation split"


def conclude(prepared: Prepared, parent_id: str, log) -> dict:
    """Figures and summary on the parent run; the best trial registered (and promoted)."""
    request = prepared.request
    study = search.open_study(prepared.study_name, request.metric, request.pruner,
                              prepared.resolved["training"]["epochs"])
    best = search.best_trial(study)
    table = search.top_trials(study, 10)
    summary = {"study": prepared.study_name, "metric": request.metric, "counts": search.counts(study),
               "best_trial": best.number if best else None, "best_value": best.value if best else None,
               "best_params": dict(best.params) if best else {}, "parent_run_id": parent_id,
               "storage": search.storage_url(), "registered": None, "promotion": None}
    figures, notes = search.study_figures(study)
    studies.finish_study(parent_id, summary, table, figures, notes)
    if best is None:
        log("no trial completed: nothing to register")
        return {"summary": summary, "table": table}
    model_uri = best.user_attrs.get("model_uri")
    registered = study.user_attrs.get("registered") or {}
    if registered.get("trial") == best.number:
        summary["registered"] = registered
    elif model_uri:
        summary["registered"] = studies.register_best(
            model_uri, detect_modality(request.data), prepared.resolved["tracking"]["registered_model"] or None,
            prepared.resolved["plugin"], prepared.study_name, best.number, request.metric, best.value,
            best.user_attrs.get("run_id", ""), len(study.get_trials(deepcopy=False)))
        summary["registered"]["trial"] = best.number
        study.set_user_attr("registered", summary["registered"])
    if request.promote and summary["registered"]:
        summary["promotion"] = studies.promote_if_better(summary["registered"]["name"],
                                                         summary["registered"]["version"], request.metric, best.value,
                                                         search.direction(request.metric) == "minimize")
    return {"summary": summary, "table": table}
