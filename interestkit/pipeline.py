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


def run_training(data, plugin=None, config_path=None, overrides=None, log=print, resolved=None,
                 extra_tags=None, dataset=None) -> dict:
    """Train one plugin on ``data``, track it in MLflow and register it; returns a summary."""
    from .cache import FeatureCache

    resolved = resolved or resolve_training(plugin, config_path, overrides)
    info, encoder, classifier = build_plugins(resolved)
    modality = detect_modality(data)
    if modality != info.modality:
        kind = "a folder or table of labelled photos" if modality == "image" else "a table of labelled captions"
        raise PluginError(
            f"plugin {info.name!r} is {_article(info.modality)} {info.modality} encoder, but {data} is {kind}; "
            f"choose a {modality} plugin ({', '.join(sorted(n for n, p in plugins.collect('encoder').items() if p.modality == modality))})"
        )
    dataset = dataset or load_dataset(data, modality)
    fingerprint = dataset.fingerprint()
    log(f"{dataset.source}: {len(dataset)} examples, {len(fingerprint['labels'])} labels")
    training = resolved["training"]
    cache = FeatureCache(training["cache_dir"] or None, enabled=training["cache"]) if modality == "image" else None

    from . import tracking
    from .train import train

    with tracking.training_run(resolved, info, fingerprint, str(Path(data)), extra_tags) as run:
        log(f"training {info.name} (MLflow run {run.run_id}, store {tracking.tracking_uri()})")
        result = train(encoder, classifier, dataset, training, on_epoch=run.on_epoch, cache=cache, log=log)
        if cache is not None:
            result.metrics["cache_hits"] = cache.hits
            result.metrics["cache_misses"] = cache.misses
        result.metrics["parameters"] = result.model.encoder_model.count_params() + result.model.head_model.count_params()
        result.metrics["inference_ms_per_item"] = inference_ms(result.model, dataset.inputs)
        summary = run.finish(result, fingerprint, register=resolved["tracking"]["register"],
                             registered_model=resolved["tracking"]["registered_model"] or None)
    summary.update({k: result.metrics[k] for k in ("val_accuracy", "val_top5_accuracy", "val_loss", "epochs",
                                                   "train_seconds", "temperature")})
    summary.update(plugin=info.name, modality=modality, notes=result.notes, labels=len(result.labels),
                   parameters=result.metrics["parameters"], inference_ms_per_item=result.metrics["inference_ms_per_item"],
                   history={k: result.history.get(k, []) for k in ("val_accuracy", "val_loss")})
    return summary


def inference_ms(model, inputs, sample=128) -> float:
    """Milliseconds per item to score raw inputs (captions, or photos decoded from disk)."""
    import time

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


# --- the hybrid model and recommendations -------------------------------------------------

TEXT_URI = "models:/interestkit-text@champion"
IMAGE_URI = "models:/interestkit-image@champion"


def load_models(text_uri=TEXT_URI, image_uri=IMAGE_URI, log=print):
    """({modality: InterestModel}, {modality: description}) for both model URIs."""
    from . import tracking

    models, versions = {}, {}
    for modality, uri in (("text", text_uri), ("image", image_uri)):
        if uri:
            models[modality], versions[modality] = tracking.load_interest_model(uri)
            desc = versions[modality]
            log(f"{modality} model: {uri}" + (f" ({desc['name']} version {desc['version']})" if desc.get("version") else ""))
    return models, versions


def make_ranker(fusion="score_sum", ads_path=None, text_uri=TEXT_URI, image_uri=IMAGE_URI, options=None, log=print):
    """A HybridRanker from the registry's models, a fusion and an optional catalogue."""
    from .hybrid import HybridRanker
    from .ranking import make_fusion
    from .recommend import load_ads
    from .taxonomy import INTERESTS

    models, versions = load_models(text_uri, image_uri, log)
    fusion_plugin, note = make_fusion(fusion)
    if note:
        log(note)
    labels = {label for model in models.values() for label in model.labels} | set(INTERESTS)
    ads = load_ads(ads_path, labels) if ads_path else []
    return HybridRanker(models, fusion, fusion_plugin.params(), ads, options, versions)


def build_hybrid(fusion="score_sum", ads_path=None, text_uri=TEXT_URI, image_uri=IMAGE_URI, options=None,
                 log=print) -> dict:
    """Register interestkit-hybrid from the given (default: champion) models."""
    from . import tracking

    ranker = make_ranker(fusion, ads_path, text_uri, image_uri, options, log)
    summary = tracking.log_hybrid(ranker)
    summary.update(fusion=fusion, ads=len(ranker.ads), versions=ranker.versions)
    return summary
