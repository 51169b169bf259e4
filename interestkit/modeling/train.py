"""Fit and evaluate one encoder + classifier on a dataset. Knows neither click nor MLflow.

Text: the whole model (vectoriser, embedding, recurrent layer, head) trains end to end; a
frozen encoder (``frozen()`` True, e.g. a pretrained sentence transformer) computes its
features once, then only the head trains.
Images, frozen encoder: features are computed once (and cached on disk), then only the
head trains; ``fine_tune: N`` then unfreezes the top N blocks at a lower learning rate.
Images, trainable encoder (weights none): the whole network trains on decoded pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import quiet
from ..data.augment import View
from ..data.datasets import Dataset
from ..data.images import load_images
from ..data.splits import group_split, stratified_sample, stratified_split
from ..errors import DataError
from . import fitting
from .calibration import fit_temperature
from .config import TRAINING_DEFAULTS
from .features import text_features
from .metrics import confusion_matrix, top_k_accuracy
from .model import InterestModel


@dataclass
class TrainResult:
    model: InterestModel
    history: dict  # metric name -> one value per epoch (loss, accuracy, top5_accuracy, val_*)
    metrics: dict  # final validation metrics and timings
    confusion: np.ndarray  # rows: true label, columns: predicted label (validation split)
    labels: list
    notes: list = field(default_factory=list)  # things the user should know (skipped files...)
    split: dict = field(default_factory=dict)  # how validation was chosen: kind, column, held-out groups


class EpochCallback:
    """Calls ``on_epoch(stage, epoch, logs)`` after every epoch (tracking, progress)."""

    def __init__(self, on_epoch, stage):
        import keras

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(inner, epoch, logs=None):  # noqa: N805
                on_epoch(stage, epoch, dict(logs or {}))

        self.keras_callback = _Callback()


def class_weights(y: np.ndarray, n_labels: int) -> dict:
    """Inverse-frequency weights, mean 1 over examples ('balanced')."""
    counts = np.bincount(y, minlength=n_labels).astype(np.float64)
    weights = len(y) / (n_labels * np.maximum(counts, 1))
    return {i: float(w) for i, w in enumerate(weights)}


def _compile(model, learning_rate, n_labels, options):
    model.compile(
        optimizer=fitting.optimizer(learning_rate, options),
        loss=fitting.loss(options),
        metrics=fitting.metrics(n_labels, options),
        jit_compile=False,  # XLA compiles big CNNs for minutes on a CPU and rarely pays back
    )


def _fit(model, train_data, val_data, options, epochs, on_epoch, stage, weights, n_labels, mixup=False):
    """Fit on ``(x, labels)``; ``mixup``: the training batches are mixed (features only)."""
    import keras

    callbacks = [EpochCallback(on_epoch, stage).keras_callback] if on_epoch else []
    if options["early_stopping"]:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=options["patience"],
                                                       restore_best_weights=True))
    y_train = fitting.targets(train_data[1], n_labels, options)
    val_data = (val_data[0], fitting.targets(val_data[1], n_labels, options))
    if mixup and options["mixup"] > 0:
        batches = fitting.mixup_batches(train_data[0], y_train, fitting.sample_weights(y_train, weights),
                                        options["batch_size"], options["mixup"], options["seed"])
        history = model.fit(batches, validation_data=val_data, epochs=epochs, callbacks=callbacks,
                            verbose=options["verbose"], shuffle=False)  # the batches are shuffled already
    else:
        history = model.fit(train_data[0], y_train, validation_data=val_data, epochs=epochs,
                            batch_size=options["batch_size"], class_weight=weights, callbacks=callbacks,
                            verbose=options["verbose"], shuffle=True)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _extend(history, more):
    for key, values in more.items():
        history.setdefault(key, []).extend(values)
    return history


def train(encoder, classifier, dataset: Dataset, options: dict, on_epoch=None, cache=None, log=print) -> TrainResult:
    """Train ``encoder`` + ``classifier`` on ``dataset`` with the resolved training ``options``."""
    quiet.prepare()
    import keras

    options = {**TRAINING_DEFAULTS, **options}  # callers that predate an option get its default
    keras.utils.set_random_seed(options["seed"])
    notes = list(dataset.notes)
    if options["max_rows"]:
        dataset = dataset.subset(stratified_sample(dataset.labels, options["max_rows"], options["seed"]))
        notes.append(f"trained on a stratified sample of {len(dataset)} rows (max_rows)")
    labels = sorted(set(dataset.labels))
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[label] for label in dataset.labels], dtype=np.int64)
    train_idx, val_idx, split = validation_split(dataset, options)
    if split["kind"] == "group":
        notes.append(f"validation: {len(split['held_out'])} whole group(s) of {split['column']!r} held out")
    weights = class_weights(y[train_idx], len(labels)) if options["class_weight"] else None
    started = time.perf_counter()
    notes.extend(classifier.prepare(labels, encoder))
    notes.extend(image_only_notes(dataset.modality, encoder.frozen(), options))
    if dataset.modality == "text":
        encoder_model, head, history, val_probs, y_val = _train_text(
            encoder, classifier, dataset, y, train_idx, val_idx, labels, options, on_epoch, weights, cache)
        meta = {}
    else:
        encoder_model, head, history, val_probs, y_val, meta, skipped = _train_image(
            encoder, classifier, dataset, y, train_idx, val_idx, labels, options, on_epoch, weights, cache, log)
        if skipped:
            notes.append(f"skipped {len(skipped)} unreadable image(s): " + "; ".join(m for _, m in skipped[:3])
                         + (" ..." if len(skipped) > 3 else ""))
    seconds = time.perf_counter() - started
    temperature = fit_temperature(val_probs, y_val) if options["calibrate"] else 1.0
    meta.update({"plugin": encoder.name, "classifier": classifier.name, "temperature": temperature,
                 "encoder_options": encoder.options})
    model = InterestModel(dataset.modality, labels, encoder_model, head, meta)
    predicted = val_probs.argmax(axis=1)
    metrics = {
        "val_accuracy": float((predicted == y_val).mean()),
        "val_top5_accuracy": top_k_accuracy(val_probs, y_val, 5),
        "val_loss": float(-np.log(np.clip(val_probs[np.arange(len(y_val)), y_val], 1e-12, 1)).mean()),
        "epochs": len(history.get("loss", [])),
        "train_seconds": seconds,
        "temperature": temperature,
        "train_rows": len(train_idx),
        "val_rows": len(val_idx),
    }
    if split["kind"] == "group" and len(val_idx) == len(y_val):  # (photos: unless unreadable ones were skipped)
        accuracy = held_out_accuracy(dataset, val_idx, y_val, predicted, split["held_out"])
        if np.isfinite(accuracy):
            metrics["val_group_accuracy"] = accuracy
    return TrainResult(model, history, metrics, confusion_matrix(y_val, predicted, len(labels)), labels, notes, split)


def validation_split(dataset: Dataset, options: dict):
    """``(train indices, validation indices, split description)``: stratified by rows, or by
    whole groups of ``options["val_group"]`` (``group_split``)."""
    column = options.get("val_group") or ""
    if not column:
        train_idx, val_idx = stratified_split(dataset.labels, options["val_split"], options["seed"])
        return train_idx, val_idx, {"kind": "stratified", "column": ""}
    if dataset.groups is None:
        raise DataError(f"{dataset.source}: val_group {column!r} given but the data was loaded without that column")
    try:
        train_idx, val_idx, held_out = group_split(dataset.labels, dataset.groups, options["val_split"],
                                                   options["seed"])
    except ValueError as error:
        raise DataError(f"{dataset.source}: column {column!r}: {error}") from None
    return train_idx, val_idx, {"kind": "group", "column": column, "held_out": held_out}


def held_out_accuracy(dataset: Dataset, val_idx, y_val, predicted, held_out) -> float:
    """Top-1 on the validation rows of held-out groups only (the rows of sources never trained on)."""
    held = set(held_out)
    mask = np.array([dataset.groups[i] in held for i in val_idx], dtype=bool)
    return float((predicted[mask] == y_val[mask]).mean()) if mask.any() else float("nan")


def _train_text(encoder, classifier, dataset, y, train_idx, val_idx, labels, options, on_epoch, weights, cache=None):
    import keras
    import tensorflow as tf

    texts = dataset.inputs
    encoder_model = encoder.build([texts[i] for i in train_idx])
    head = classifier.build(int(encoder_model.output_shape[-1]), len(labels))
    if encoder.frozen():
        # features once (shortest captions first, so batches pad little; through the cache when
        # one is given), then the head alone
        def encode(items):
            order = sorted(range(len(items)), key=lambda i: len(items[i]))
            out = np.empty((len(items), int(encoder_model.output_shape[-1])), dtype=np.float32)
            out[order] = encoder_model.predict(tf.constant([items[i] for i in order])[:, None], batch_size=256,
                                               verbose=options["verbose"])
            return out

        features = text_features(encode, texts, cache, encoder.identity() if cache is not None else None)
        _compile(head, options["learning_rate"], len(labels), options)
        history = _fit(head, (features[train_idx], y[train_idx]), (features[val_idx], y[val_idx]), options,
                       options["epochs"], on_epoch, "head", weights, len(labels), mixup=True)
        val_probs = np.asarray(head.predict(features[val_idx], batch_size=256, verbose=0))
        return encoder_model, head, history, val_probs, y[val_idx]
    x_train = tf.constant([texts[i] for i in train_idx])[:, None]
    x_val = tf.constant([texts[i] for i in val_idx])[:, None]
    inputs = keras.Input(shape=(1,), dtype="string")
    full = keras.Model(inputs, head(encoder_model(inputs)))
    _compile(full, options["learning_rate"], len(labels), options)
    history = _fit(full, (x_train, y[train_idx]), (x_val, y[val_idx]), options, options["epochs"],
                   on_epoch, "train", weights, len(labels))
    val_probs = np.asarray(full.predict(x_val, batch_size=256, verbose=0))
    return encoder_model, head, history, val_probs, y[val_idx]


def _train_image(encoder, classifier, dataset, y, train_idx, val_idx, labels, options, on_epoch, weights, cache, log):
    size = encoder.image_size()
    encoder_model = encoder.build(None)
    identity = encoder.identity()
    meta = {"image_size": size, "frozen": encoder.frozen(), "encoder_identity": identity}
    head = classifier.build(int(encoder_model.output_shape[-1]), len(labels))
    probe = InterestModel("image", labels, encoder_model, head, meta)
    on_error = "raise" if options["strict"] else "skip"
    skipped = []
    if encoder.frozen():
        features, kept, skipped = probe.image_features(dataset.inputs, cache, on_error, log)
        keep = {orig: row for row, orig in enumerate(kept)}
        tr = [i for i in train_idx if i in keep]
        va = [i for i in val_idx if i in keep]
        _require_both(tr, va, dataset)
        f_train, f_val = features[[keep[i] for i in tr]], features[[keep[i] for i in va]]
        f_train, y_train = _with_views(probe, dataset, tr, f_train, y[tr], options, cache, log)
        _compile(head, options["learning_rate"], len(labels), options)
        history = _fit(head, (f_train, y_train), (f_val, y[va]), options, options["epochs"], on_epoch, "head",
                       weights, len(labels), mixup=True)
        if options["tta"]:
            meta["tta"] = "mirror"
        val_probs = _head_probs(probe, head, f_val, [dataset.inputs[i] for i in va], cache, options["tta"])
        if options["fine_tune"] > 0:
            log(f"fine-tuning the top {options['fine_tune']} blocks of {encoder.name}")
            pixels, kept_px, _ = load_images([dataset.inputs[i] for i in tr + va], size, on_error="skip")
            px_train, px_val = pixels[: len(tr)], pixels[len(tr):]
            encoder.unfreeze(encoder_model, options["fine_tune"])
            full = probe.full_model()
            _compile(full, options["fine_tune_learning_rate"], len(labels), options)
            more = _fit(full, (px_train, y[tr]), (px_val, y[va]), options, options["fine_tune_epochs"],
                        on_epoch, "fine_tune", weights, len(labels))
            _extend(history, more)
            val_probs = np.asarray(full.predict(px_val, batch_size=64, verbose=0))
            meta["frozen"] = False
            meta["fine_tuned_blocks"] = options["fine_tune"]
            meta.pop("tta", None)  # features are no longer cached: test-time augmentation needs them
        return encoder_model, head, history, val_probs, y[va], meta, skipped
    log(f"decoding {len(dataset)} images at {size}x{size}")
    pixels, kept, skipped = load_images(dataset.inputs, size, on_error=on_error)
    keep = {orig: row for row, orig in enumerate(kept)}
    tr = [i for i in train_idx if i in keep]
    va = [i for i in val_idx if i in keep]
    _require_both(tr, va, dataset)
    full = probe.full_model()
    _compile(full, options["learning_rate"], len(labels), options)
    history = _fit(full, (pixels[[keep[i] for i in tr]], y[tr]), (pixels[[keep[i] for i in va]], y[va]),
                   options, options["epochs"], on_epoch, "train", weights, len(labels))
    val_probs = np.asarray(full.predict(pixels[[keep[i] for i in va]], batch_size=64, verbose=0))
    return encoder_model, head, history, val_probs, y[va], meta, skipped


def _with_views(probe, dataset, train_rows, features, y, options, cache, log):
    """The training features with those of ``augment_views`` augmented views of each photo added."""
    if not options["augment_views"]:
        return features, y
    sources = [dataset.inputs[i] for i in train_rows]
    all_x, all_y = [features], [y]
    for index in range(options["augment_views"]):
        view = View(index=index, crop=options["view_crop"], flip=options["view_flip"],
                    jitter=options["view_jitter"], seed=options["seed"])
        log(f"features of augmented view {index + 1}/{options['augment_views']}")
        more, kept, _ = probe.image_features(sources, cache, "skip", log, view=view)
        all_x.append(more)
        all_y.append(y[kept])
    return np.concatenate(all_x), np.concatenate(all_y)


def _head_probs(probe, head, features, sources, cache, tta):
    """The head's probabilities on features; with ``tta``, averaged with the mirror images'."""
    probs = np.asarray(head.predict(features, batch_size=256, verbose=0))
    if not tta:
        return probs
    mirrored, kept, _ = probe.image_features(sources, cache, "skip", None, view=View.mirror())
    if len(kept) != len(sources):
        return probs
    return (probs + np.asarray(head.predict(mirrored, batch_size=256, verbose=0))) / 2


def image_only_notes(modality: str, frozen: bool, options: dict) -> list:
    """Options set that this kind of training does not use, as notes (never silently ignored).

    ``augment_views`` and ``tta`` need an image encoder whose features are cached (frozen);
    ``mixup`` mixes features, so it needs a frozen encoder of either modality.
    """
    unused = [key for key in ("augment_views", "tta") if options.get(key) and not (modality == "image" and frozen)]
    unused += ["mixup"] if options.get("mixup") and not frozen else []
    if not unused:
        return []
    return [f"training option(s) {', '.join(unused)} not used: they apply to heads on frozen features "
            "(augment_views and tta: of photos)"]


def _require_both(train_idx, val_idx, dataset):
    if not train_idx or not val_idx:
        raise DataError(f"{dataset.source}: too few readable images left to train and validate")
