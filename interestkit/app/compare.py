"""Compare plugins on the same data, split and seed: the paper's model study on any data.

One MLflow parent run, one child training run per plugin. A child that finished before
with the same plugin, resolved config and data fingerprint is reused unless ``force``.
A plugin that fails (out of memory, a bug) is reported in the table; the others go on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import figures, hooks, tracking
from ..atomic import atomic_write
from ..data.datasets import detect_modality
from ..errors import ConfigError, PluginError
from .train import load_training_data, resolve_training, run_training

COLUMNS = ("plugin", "status", "val_top1", "val_group_top1", "val_top5", "val_loss", "parameters", "train_seconds",
           "infer_ms_per_item", "epochs", "version")


def parse_plugins(text: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if len(names) < 2:
        raise ConfigError(f"--plugins needs at least two plugin names separated by commas, got {text!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"--plugins names a plugin twice: {text!r}")
    return names


def check_modalities(names, data) -> str:
    """All plugins of one modality, and the data of that modality; returns it."""
    infos = [hooks.get("encoder", name) for name in names]
    modalities = {info.modality for info in infos}
    if len(modalities) > 1:
        detail = ", ".join(f"{i.name} ({i.modality})" for i in infos)
        raise ConfigError(f"cannot compare plugins of different modalities: {detail}; "
                          "compare text plugins with text plugins and image plugins with image plugins")
    modality = modalities.pop()
    found = detect_modality(data)
    if found != modality:
        raise PluginError(f"the plugins are {modality} encoders but {data} holds {found} data")
    return modality


def comparison_key(name, resolved, fingerprint) -> str:
    """What makes two training runs the same: plugin, config (minus tracking), data."""
    relevant = {k: v for k, v in resolved.items() if k not in ("tracking", "notes")}
    relevant["training"] = {k: v for k, v in relevant["training"].items() if k != "verbose"}
    blob = json.dumps({"plugin": name, "config": relevant, "data": fingerprint["sha256"]}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _row(name, status, metrics=None, version=None, error=None):
    m = metrics or {}
    return {"plugin": name, "status": status, "val_top1": m.get("val_accuracy"),
            "val_group_top1": m.get("val_group_accuracy"), "val_top5": m.get("val_top5_accuracy"),
            "val_loss": m.get("val_loss"), "parameters": m.get("parameters"), "train_seconds": m.get("train_seconds"),
            "infer_ms_per_item": m.get("inference_ms_per_item"), "epochs": m.get("epochs"), "version": version,
            "error": error}


def run_comparison(plugin_names, data, config_path=None, overrides=None, promote=False, force=False,
                   out_dir="comparison", log=print, flag_names=None) -> dict:
    """Train (or reuse) each plugin, then log the table and figures to a parent run."""
    names = parse_plugins(plugin_names) if isinstance(plugin_names, str) else list(plugin_names)
    configs = {name: resolve_training(name, config_path, overrides, flag_names) for name in names}
    modality = check_modalities(names, data)
    dataset = load_training_data(data, modality, configs[names[0]]["training"])
    fingerprint = dataset.fingerprint()
    experiment = configs[names[0]]["tracking"]["experiment"]
    rows, histories = [], {}
    tags = {"interestkit.comparison": ",".join(names), "interestkit.data_sha256": fingerprint["sha256"]}
    with tracking.comparison_run(experiment, f"compare-{'-'.join(names)}", tags) as parent_id:
        log(f"comparing {', '.join(names)} on {data} (MLflow parent run {parent_id})")
        for name in names:
            key = comparison_key(name, configs[name], fingerprint)
            previous = None if force else tracking.find_finished_run(experiment, key)
            if previous:
                log(f"{name}: reusing finished run {previous['run_id']} (--force to retrain)")
                rows.append(_row(name, "reused", previous["metrics"], previous["version"]))
                histories[name] = previous["history"]
                continue
            try:
                summary = run_training(data, resolved=configs[name], dataset=dataset, log=log,
                                       extra_tags={"interestkit.compare_key": key, "interestkit.compare_parent": parent_id})
            except KeyboardInterrupt:
                raise
            except Exception as error:  # one plugin failing must not stop the others
                message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                log(f"{name}: failed ({message})")
                rows.append(_row(name, "failed", error=message))
                continue
            metrics = {k: summary.get(k) for k in ("val_accuracy", "val_group_accuracy", "val_top5_accuracy", "val_loss", "parameters",
                                                   "train_seconds", "inference_ms_per_item", "epochs")}
            rows.append(_row(name, "trained", metrics, summary.get("version")))
            histories[name] = summary["history"]
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plots = {
            "val_accuracy.png": figures.per_epoch({n: h.get("val_accuracy", []) for n, h in histories.items()},
                                                  "validation accuracy", f"validation accuracy per epoch ({modality})"),
            "val_loss.png": figures.per_epoch({n: h.get("val_loss", []) for n, h in histories.items()},
                                              "validation loss", f"validation loss per epoch ({modality})"),
        }
        for file_name, fig in plots.items():
            fig.savefig(out / file_name, dpi=110)
        atomic_write(out / "comparison.json", json.dumps(rows, indent=2))
        split_column = configs[names[0]]["training"]["val_group"]
        tracking.log_comparison(rows, plots, {"plugins": ",".join(names), "data.path": str(data),
                                              "data.rows": fingerprint["rows"],
                                              "split.kind": "group" if split_column else "stratified",
                                              "split.column": split_column})
    result = {"parent_run_id": parent_id, "rows": rows, "figures": [str(out / f) for f in plots],
              "modality": modality, "promoted": None}
    finished = [r for r in rows if r["status"] != "failed" and r["val_top1"] is not None]
    if finished:
        # under a group split, generalisation to held-out groups decides (when every row has it)
        by_group = all(r["val_group_top1"] is not None for r in finished)
        winner = max(finished, key=lambda r: (r["val_group_top1"] if by_group else r["val_top1"], r["val_top1"],
                                              -(r["val_loss"] or 0)))
        result["winner"] = winner["plugin"]
        if promote:
            if winner["version"] is None:
                raise ConfigError(f"cannot promote {winner['plugin']}: its run registered no model version")
            name = configs[winner["plugin"]]["tracking"]["registered_model"] or tracking.registered_name(modality)
            result["promoted"] = tracking.promote(name, version=winner["version"])
    return result
