"""What the commands do, as plain functions: resolve config and plugins, train, track.

The CLI is a thin layer over these; they print through a ``log`` callable.
"""

from __future__ import annotations

from pathlib import Path

from . import config as config_mod
from . import plugins
from .data import detect_modality, load_dataset
from .errors import PluginError


def resolve_training(plugin: str | None, config_path=None, overrides=None) -> dict:
    file_config = config_mod.load_yaml(config_path) if config_path else {}
    return config_mod.resolve(file_config, plugin, overrides, source=str(config_path or "config"))


def build_plugins(resolved: dict):
    """(encoder info, encoder instance, classifier instance) from a resolved config."""
    info = plugins.get("encoder", resolved["plugin"])
    encoder = info.cls(**resolved["encoder"])
    head_info = plugins.get("classifier", resolved["classifier"]["name"])
    classifier = head_info.cls(**resolved["classifier"]["options"])
    return info, encoder, classifier


def run_training(data, plugin=None, config_path=None, overrides=None, log=print) -> dict:
    """Train one plugin on ``data``, track it in MLflow and register it; returns a summary."""
    from .cache import FeatureCache

    resolved = resolve_training(plugin, config_path, overrides)
    info, encoder, classifier = build_plugins(resolved)
    modality = detect_modality(data)
    if modality != info.modality:
        kind = "a folder or table of labelled photos" if modality == "image" else "a table of labelled captions"
        raise PluginError(
            f"plugin {info.name!r} is {_article(info.modality)} {info.modality} encoder, but {data} is {kind}; "
            f"choose a {modality} plugin ({', '.join(sorted(n for n, p in plugins.collect('encoder').items() if p.modality == modality))})"
        )
    dataset = load_dataset(data, modality)
    fingerprint = dataset.fingerprint()
    log(f"{dataset.source}: {len(dataset)} examples, {len(fingerprint['labels'])} labels")
    training = resolved["training"]
    cache = FeatureCache(training["cache_dir"] or None, enabled=training["cache"]) if modality == "image" else None

    from . import tracking
    from .train import train

    with tracking.training_run(resolved, info, fingerprint, str(Path(data))) as run:
        log(f"training {info.name} (MLflow run {run.run_id}, store {tracking.tracking_uri()})")
        result = train(encoder, classifier, dataset, training, on_epoch=run.on_epoch, cache=cache, log=log)
        if cache is not None:
            result.metrics["cache_hits"] = cache.hits
            result.metrics["cache_misses"] = cache.misses
        summary = run.finish(result, fingerprint, register=resolved["tracking"]["register"],
                             registered_model=resolved["tracking"]["registered_model"] or None)
    summary.update({k: result.metrics[k] for k in ("val_accuracy", "val_top5_accuracy", "val_loss", "epochs",
                                                   "train_seconds", "temperature")})
    summary.update(plugin=info.name, modality=modality, notes=result.notes, labels=len(result.labels))
    return summary


def _article(word):
    return "an" if word[:1] in "aeiou" else "a"
