"""Zero-shot and few-shot models from a taxonomy file, registered like trained ones.

Captions: the interests' texts embedded by a frozen text encoder (by default the one the
preferred embedder plugin names: ``semantics.preferred``) are the prototypes; with caption examples
the prototypes become the examples' centroids (few-shot) and the temperature is fitted
on them. Photos: with photo examples, centroids of a frozen image encoder's features
(``efficientnet_lite0`` by default); without, the encoder's ImageNet classifier and the
ImageNet classes mapped to the interests by the embedder plugin of that text encoder
(``semantics``; the taxonomy's ``imagenet_classes`` override it). An interest neither reaches is left out
of the image model and reported, not given zeros. Each model is a ``PrototypeModel`` registered
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
from ..errors import ConfigError
from ..modeling.features import image_features
from ..modeling.fewshot import Fitted, calibrate, fit_head, zero_shot_prototypes
from ..modeling.prototypes import PrototypeModel, embed_texts, encoder_reference, unit_rows
from ..semantics import Embedder, default_embedder, imagenet_map, preferred
from ..taxonomy import load_taxonomy
from .examples import Examples, gather

TEXT_ENCODER = "auto"  # the text encoder the preferred embedder plugin names
IMAGE_ENCODER = "efficientnet_lite0"
KINDS = ("auto", "zero-shot", "few-shot")
MAP_TEMPERATURE = 0.05  # class -> interest weights: softmax of name similarities at this temperature
MAP_BACKGROUND = 0.25  # similarity of "none of these": a class close to no interest gives its mass to none
MAP_MIN_SIMILARITY = 0.45  # an interest is reachable when a class is closest to it, at least this similar
MODALITIES = ("text", "image", "both")


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


def text_encoder_name(name: str = TEXT_ENCODER) -> str:
    """``name``, or for ``auto`` the frozen text encoder the preferred embedder plugin names."""
    return preferred(with_encoder=True).cls.encoder if name == TEXT_ENCODER else name


def frozen_encoder(name: str, modality: str, options=None, built: dict | None = None):
    """``(info, encoder, built model)`` of a registered frozen encoder; ``built`` caches them by modality and name."""
    if modality == "text":
        name = text_encoder_name(name)
    if built is not None and (modality, name) in built and not options:
        return built[(modality, name)]
    info = hooks.get("encoder", name, modality)
    encoder = info.cls(**(options or {}))
    if not encoder.frozen():
        raise ConfigError(f"encoder {name!r} is not frozen with these options; zero-shot and few-shot heads need "
                          "fixed features")
    found = (info, encoder, encoder.build(None))
    if built is not None and not options:
        built[(modality, name)] = found
    return found


def mapping_embedder(text_encoder=TEXT_ENCODER, built=None) -> Embedder:
    """The embedder plugin of ``text_encoder`` (one whose ``encoder`` it is); without one, the
    encoder's own features."""
    name = text_encoder_name(text_encoder)
    for info in hooks.collect("embedder").values():
        if info.cls.encoder == name:
            return default_embedder(info.name)
    info, _, model = frozen_encoder(name, "text", built=built)
    return Embedder(info.name, lambda texts: embed_texts(model, list(texts)))


def image_mapping(taxonomy, text_encoder=TEXT_ENCODER, built=None):
    """The ImageNet classes mapped to the taxonomy's interests by the text encoder's embedder (``semantics.ClassMap``)."""
    embedder = mapping_embedder(text_encoder, built)
    return imagenet_map(taxonomy.names, taxonomy=taxonomy, embedder=embedder, temperature=MAP_TEMPERATURE,
                        background=MAP_BACKGROUND, min_similarity=MAP_MIN_SIMILARITY)


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


def build_text(taxonomy, examples: Examples, encoder_name=TEXT_ENCODER, options=None, kind="auto", log=print,
               built=None) -> Built:
    started = time.perf_counter()
    info, encoder, model = frozen_encoder(encoder_name, "text", options, built)
    log(f"text: embedding the descriptions of {len(taxonomy.interests)} interests with {info.name}")
    prior = zero_shot_prototypes(lambda texts: embed_texts(model, texts), taxonomy.interests)
    count = examples.count("text")
    features = caption_features(model, examples.inputs["text"]) if count else None
    fitted = fit_head(prior, features, examples.y("text", taxonomy.names) if count else None,
                      few_shot=_kind_wanted(kind, count, "text"))
    made = PrototypeModel("text", taxonomy.names, fitted.prototypes, encoder_reference(info, encoder), "cosine",
                           meta=_meta(taxonomy, fitted), encoder=encoder, encoder_model=model,
                           taxonomy_yaml=taxonomy.to_yaml())
    return Built(made, fitted, info.name, [], time.perf_counter() - started)


def _photo_features(encoder, model, paths, cache, log):
    size = int(encoder.image_size())
    features, kept, failures = image_features(lambda px: np.asarray(model.predict(px, batch_size=64, verbose=0)),
                                              paths, size, int(model.output_shape[-1]), cache, encoder.identity(),
                                              "skip", log)
    for source, message in failures:
        log(f"skipped example photo {source}: {message}")
    return features, kept


def build_image(taxonomy, examples: Examples, encoder_name=IMAGE_ENCODER, options=None, kind="auto", cache=None,
                log=print, text_encoder=TEXT_ENCODER, built=None) -> Built:
    """Photos: few-shot centroids of the example photos' features, or zero-shot through the
    encoder's ImageNet classifier and the class map (``image_mapping``). Interests neither
    reaches are left out of the model and reported."""
    started = time.perf_counter()
    count = examples.count("image")
    few = _kind_wanted(kind, count, "image") and count > 0
    class_map = None if few else image_mapping(taxonomy, text_encoder, built)  # before the image encoder: cheaper
    info, encoder, model = frozen_encoder(encoder_name, "image", options, built)
    reference = encoder_reference(info, encoder)
    if few:
        log(f"image: features of {count} example photos with {info.name}")
        features, kept = _photo_features(encoder, model, examples.inputs["image"], cache, log)
        labels = [examples.labels["image"][i] for i in kept]
        reachable = [name for name in taxonomy.names if name in set(labels)]
        if len(reachable) < 2:
            raise ConfigError(f"photos: only {len(reachable)} interest(s) have a readable example photo; at least 2 "
                              "are needed (or --kind zero-shot)")
        y = np.array([reachable.index(label) for label in labels], int)
        fitted = fit_head(np.zeros((len(reachable), features.shape[1]), np.float32), features, y, few_shot=True)
        unreachable = [name for name in taxonomy.names if name not in reachable]
        head, weights = "cosine", fitted.prototypes
    else:
        if not callable(getattr(encoder, "imagenet_classifier", None)):
            raise ConfigError(f"zero-shot photos need an encoder with an ImageNet classifier (efficientnet_lite0, "
                              f"efficientnet_lite1, efficientnet_lite2); {info.name!r} has none")
        reachable, unreachable = list(class_map.reachable), list(class_map.unreachable)
        weights = class_map.matrix[:, [class_map.interests.index(name) for name in reachable]]
        head = "mapped"
        log(f"image: ImageNet classes mapped to {len(reachable)} interests with {class_map.embedder}")
    meta = _meta(taxonomy, Fitted(weights, 1.0, "few-shot" if few else "zero-shot", {}, 0), {"unreachable": unreachable})
    if not few:
        meta.update(map_embedder=class_map.embedder, map_temperature=MAP_TEMPERATURE, map_background=MAP_BACKGROUND,
                    map_min_similarity=MAP_MIN_SIMILARITY)
    made = PrototypeModel("image", reachable, weights, reference, head, meta=meta, encoder=encoder,
                          encoder_model=model, taxonomy_yaml=taxonomy.to_yaml())
    if few:
        made.meta["temperature"] = fitted.temperature
    else:
        fitted = Fitted(weights, 1.0, "zero-shot", {}, 0)
        usable = [i for i, label in enumerate(examples.labels["image"]) if label in reachable]
        if usable:
            features, kept = _photo_features(encoder, model, [examples.inputs["image"][i] for i in usable], cache, log)
            y = np.array([reachable.index(examples.labels["image"][usable[k]]) for k in kept], int)
            temperature, metrics = calibrate(made.probabilities(features, calibrated=False), y)
            fitted = Fitted(weights, temperature, "zero-shot", metrics, len(y))
            made.meta["temperature"] = temperature
    return Built(made, fitted, info.name, unreachable, time.perf_counter() - started)


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
    encoders: dict = {}
    for which in wanted:
        built = (build_text(taxonomy, found, text_encoder, kind=kind, log=log, built=encoders) if which == "text" else
                 build_image(taxonomy, found, image_encoder, kind=kind, cache=cache, log=log,
                             text_encoder=text_encoder, built=encoders))
        summary = {"modality": which, "kind": built.fitted.kind, "encoder": built.encoder,
                   "interests": len(built.model.labels), "unreachable": built.unreachable,
                   "examples": built.fitted.examples, "temperature": round(built.model.temperature, 4),
                   "metrics": {k: round(v, 4) for k, v in built.fitted.metrics.items()}, "model": built.model}
        if register:
            summary.update(register_built(built, taxonomy, found.sources, experiment))
        summary["seconds"] = round(time.perf_counter() - started, 2)
        summaries.append(summary)
    return summaries
