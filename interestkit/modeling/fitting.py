"""How a head is fitted: the loss, the optimiser, and mixup, from the training options.

- ``label_smoothing`` (> 0): targets become one-hot vectors smoothed towards uniform;
- ``weight_decay`` (> 0): AdamW with that decoupled weight decay instead of Adam;
- ``mixup`` (> 0, heads on frozen features only): each training batch is mixed with a
  shuffled copy of itself, features and one-hot targets alike, with a weight drawn from
  Beta(mixup, mixup) per example; class weights are mixed the same way.

With neither label smoothing nor mixup, targets stay integer labels and the loss is
Keras' sparse categorical cross-entropy, as before these options existed.
"""

from __future__ import annotations

import numpy as np


def dense_targets(options: dict) -> bool:
    """Whether targets are one-hot vectors (label smoothing or mixup) rather than label indices."""
    return options.get("label_smoothing", 0) > 0 or options.get("mixup", 0) > 0


def targets(y: np.ndarray, n_labels: int, options: dict) -> np.ndarray:
    """``y`` as the loss wants it: label indices, or one-hot float32 rows."""
    if not dense_targets(options):
        return y
    return np.eye(n_labels, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


def loss(options: dict):
    import keras

    if not dense_targets(options):
        return "sparse_categorical_crossentropy"
    return keras.losses.CategoricalCrossentropy(label_smoothing=float(options.get("label_smoothing", 0)))


def metrics(n_labels: int, options: dict) -> list:
    import keras

    k = min(5, n_labels)
    if dense_targets(options):
        return [keras.metrics.CategoricalAccuracy(name="accuracy"),
                keras.metrics.TopKCategoricalAccuracy(k=k, name="top5_accuracy")]
    return ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5_accuracy")]


def optimizer(learning_rate: float, options: dict):
    import keras

    decay = float(options.get("weight_decay", 0))
    if decay > 0:
        return keras.optimizers.AdamW(learning_rate, weight_decay=decay)
    return keras.optimizers.Adam(learning_rate)


def sample_weights(y: np.ndarray, class_weight: dict | None) -> np.ndarray:
    """Per-example weights from class weights (``y``: label indices or one-hot rows)."""
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    if not class_weight:
        return np.ones(len(labels), dtype=np.float32)
    return np.array([class_weight[int(label)] for label in labels], dtype=np.float32)


def mixup_batches(x: np.ndarray, y: np.ndarray, weights: np.ndarray, batch_size: int, alpha: float, seed: int):
    """A ``tf.data.Dataset`` of mixed ``(x, y, weight)`` batches, reshuffled every epoch.

    ``y`` are one-hot rows. Each example is mixed with another of its batch:
    ``lam * a + (1 - lam) * b`` with ``lam ~ Beta(alpha, alpha)``.
    """
    import tensorflow as tf

    x, y, weights = (np.asarray(a, dtype=np.float32) for a in (x, y, weights))
    data = tf.data.Dataset.from_tensor_slices((x, y, weights))
    data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)

    def mix(xb, yb, wb):
        n = tf.shape(xb)[0]
        a = tf.random.gamma([n], alpha)
        b = tf.random.gamma([n], alpha)
        lam = a / (a + b)
        other = tf.random.shuffle(tf.range(n))
        keep = lam[:, None]
        return (keep * xb + (1 - keep) * tf.gather(xb, other), keep * yb + (1 - keep) * tf.gather(yb, other),
                lam * wb + (1 - lam) * tf.gather(wb, other))

    return data.map(mix).prefetch(2)
