"""Training as a use case: resolve the config and plugins, load the data, train, track, register.

The CLI is a thin layer over this; progress goes through a ``log`` callable.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import hooks, quiet, tracking
from ..data.datasets import check_images, detect_modality, load_dataset
from ..errors import PluginError
from ..modeling import config as config_mod
from ..modeling.cache import FeatureCache
from ..modeling.train import train


def resolve_training(plugin: str | None, config_path=None, overrides=None, flag_names=None) -> dict:
    """The validated config of one run (``flag_names``: the flags the overrides came from)."""
    file_config = config_mod.load_yaml(config_path) if config_path else {}
    return config_mod.resolve(file_config, plugin, overrides, source=str(config_path or "config"),
                              flag_names=flag_names)


def build_plugins(resolved: dict):
    """(encoder info, encoder instance, classifier instance) from a resolved config."""
    info = hooks.get("encoder", resolved["plugin"])
    encoder = info.cls(**resolved["encoder"])
    head_info = hooks.get("classifier", resolved["classifier"]["name"])
    classifier = head_info.cls(**resolved["classifier"]["options"])
    return info, encoder, classifier


def run_training(data, plugin=None, config_path=None, overrides=None, log=print, resolved=None,
                 extra_tags=None, dataset=None, flag_names=None) -> dict:
    """Train one plugin on ``data``, track it in MLflow and register it; returns a summary.

    Everything is checked before the run opens: the config, and the data as it will be
    used (photos decoded, every label with at least 2 usable items)."""
    resolved = resolved or resolve_training(plugin, config_path, overrides, flag_names)
    quiet.prepare()  # before a plugin first imports TensorFlow
    info, encoder, classifier = build_plugins(resolved)
    head_info = hooks.get("classifier", resolved["classifier"]["name"])
    modality = detect_modality(data)
    if modality != info.modality:
        kind = "a folder or table of labelled photos" if modality == "image" else "a table of labelled captions"
        raise PluginError(
            f"plugin {info.name!r} is {_article(info.modality)} {info.modality} encoder, but {data} is {kind}; "
            f"choose a {modality} plugin ({', '.join(sorted(n for n, p in hooks.collect('encoder').items() if p.modality == modality))})"
        )
    dataset = dataset or load_training_data(data, modality, resolved["training"])
    fingerprint = dataset.fingerprint()
    for note in resolved.get("notes", []):
        log(f"note: {note}")
    log(f"{dataset.source}: {len(dataset)} examples, {len(fingerprint['labels'])} labels")
    training = resolved["training"]
    cache = FeatureCache(training["cache_dir"] or None, enabled=training["cache"]) if modality == "image" else None

    with tracking.training_run(resolved, info, fingerprint, str(Path(data)), extra_tags) as run:
        log(f"training {info.name} (MLflow run {run.run_id}, store {tracking.tracking_uri()})")
        result = train(encoder, classifier, dataset, training, on_epoch=run.on_epoch, cache=cache, log=log)
        # what a loading process needs installed: the distributions that provided encoder and head
        result.model.meta.update(plugin_package=info.package, plugin_package_version=info.version,
                                 classifier_package=head_info.package, classifier_package_version=head_info.version)
        if cache is not None:
            result.metrics["cache_hits"] = cache.hits
            result.metrics["cache_misses"] = cache.misses
        result.metrics["parameters"] = result.model.encoder_model.count_params() + result.model.head_model.count_params()
        result.metrics["inference_ms_per_item"] = inference_ms(result.model, dataset.inputs)
        summary = run.finish(result, fingerprint, register_model=resolved["tracking"]["register"],
                             registered_model=resolved["tracking"]["registered_model"] or None,
                             calibration=dataset.inputs if modality == "image" else None)
    summary.update({k: result.metrics[k] for k in ("val_accuracy", "val_top5_accuracy", "val_loss", "epochs",
                                                   "train_seconds", "temperature")})
    summary.update(plugin=info.name, modality=modality, notes=result.notes, labels=len(result.labels),
                   parameters=result.metrics["parameters"], inference_ms_per_item=result.metrics["inference_ms_per_item"],
                   history={k: result.history.get(k, []) for k in ("val_accuracy", "val_loss")},
                   split=result.split, val_group_accuracy=result.metrics.get("val_group_accuracy"))
    return summary


def load_training_data(data, modality: str, training: dict):
    """The dataset as training will use it: photos decoded (unreadable ones left out, or
    an error with ``strict``), then every label checked on its usable items."""
    dataset = load_dataset(data, modality, training.get("val_group") or None)
    if modality == "image":
        dataset = check_images(dataset, strict=training["strict"])
    return dataset


def inference_ms(model, inputs, sample=128) -> float:
    """Milliseconds per item to score raw inputs (captions, or photos decoded from disk)."""
    items = list(inputs[:sample])
    if model.modality == "text":
        model.predict_texts(items[:8])  # warm-up: graph tracing is not inference
        started = time.perf_counter()
        model.predict_texts(items)
    else:
        model.predict_images(items[:8])
        started = time.perf_counter()
        model.predict_images(items)
    return 1000 * (time.perf_counter() - started) / max(1, len(items))


def _article(word):
    return "an" if word[:1] in "aeiou" else "a"
