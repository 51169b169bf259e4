"""Photo classifiers on one split: pretrained EfficientNet-Lite0 against CNNs trained from scratch.

Rows (all on the same stratified split, seed 42):
  efficientnet_lite0 frozen      ImageNet weights, features cached, only the head trains
  efficientnet_lite0 fine-tuned  the same, then the top ``--fine-tune`` blocks train
  mobilenet_v2, resnet_v2        weights none, the whole network trains for exactly
                                 ``--epochs`` epochs (no early stopping) at
                                 ``--image-size`` pixels (CPU-sized)
  lite0 features + logreg        scikit-learn logistic regression on the cached frozen
                                 features: a reference for the frozen head

Columns:
  top-1, top-5   validation accuracy
  fit top-1      training accuracy of the last epoch (dropout and augmentation active)
  train s        wall-clock seconds of ``interestkit.train.train`` (model build, decoding,
                 features, fitting); the frozen row starts from an empty feature cache
  warm s         the frozen model trained again with the same cache folder (head only)
  img/s          encoder throughput: bare ``model.predict`` over decoded pixels, batch 64

Then the feature-extraction overhead of interestkit for Lite0: the same decoded batch
through the compute step of ``InterestModel.image_features`` (the encoder on
64-image chunks) against one bare ``predict``; and ``image_features`` from files (decoding
included, cache off and cold) against bare decoding plus ``predict``. Each timing is the
best of ``--repeats`` runs. Caches live in a temporary folder removed at the end.

Run from the repository root::

    .venv/bin/python benchmarks/image_models.py
    .venv/bin/python benchmarks/image_models.py --models lite0 --fine-tune 0

Expected runtime on 2 CPU cores with the defaults: about 15 minutes (frozen Lite0 1,
fine-tuning 3, mobilenet_v2 3, resnet_v2 7, overhead 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_common import best_of, print_table, timed  # benchmarks/bench_common.py (scripts run from here)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "images" / "train"
SEED = 42
CHUNK = 64  # interestkit.modeling.features.image_features's default batch
MODELS = ("lite0", "finetune", "mobilenet_v2", "resnet_v2")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of label sub-folders of photos")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--val-split", type=float, default=0.2, help="stratified validation fraction")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for the CNNs trained from scratch")
    parser.add_argument("--image-size", type=int, default=96, help="input size of the CNNs trained from scratch")
    parser.add_argument("--fine-tune", type=int, default=2, help="Lite0 blocks unfrozen after the head")
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--overhead-images", type=int, default=512, help="photos in the overhead measurement")
    parser.add_argument("--repeats", type=int, default=2, help="timings are the best of this many runs")
    parser.add_argument("--max-rows", type=int, default=0, help="stratified sample of N photos (0: all)")
    return parser.parse_args(argv)


def quiet_tensorflow():
    """Hide TensorFlow's retracing warnings: each model here is fitted and predicted a few times."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


# --- training through interestkit ------------------------------------------------------


def build(plugin, encoder_options, training):
    """(encoder, classifier, training options) as ``interestkit train`` would resolve them."""
    from interestkit import hooks as plugins
    from interestkit.modeling import config

    resolved = config.resolve({}, plugin, {"encoder": encoder_options, "training": training})
    encoder = plugins.get("encoder", plugin, modality="image").cls(**resolved["encoder"])
    head = plugins.get("classifier", resolved["classifier"]["name"]).cls(**resolved["classifier"]["options"])
    return encoder, head, resolved["training"]


def fit(plugin, dataset, encoder_options, training, cache=None):
    from interestkit.modeling.train import train

    encoder, head, options = build(plugin, encoder_options, training)
    return train(encoder, head, dataset, options, cache=cache, log=lambda message: None)


def encoder_throughput(model, sample, size, repeats):
    """Images per second of a bare ``predict`` of the encoder over the decoded ``sample``."""
    from interestkit.data.images import load_images

    pixels, _, _ = load_images(sample, size)
    encoder = model.encoder_model
    encoder.predict(pixels[:CHUNK], batch_size=CHUNK, verbose=0)  # warm-up
    return len(pixels) / best_of(repeats, encoder.predict, pixels, batch_size=CHUNK, verbose=0)


def row(name, size, result, throughput=None, warm_s=None):
    metrics = result.metrics
    return {"model": name, "size": size, "top1": metrics["val_accuracy"], "top5": metrics["val_top5_accuracy"],
            "fit_top1": result.history["accuracy"][-1], "train_s": metrics["train_seconds"],
            "epochs": metrics["epochs"], "warm_s": warm_s, "img_s": throughput}


def lite0_frozen(dataset, training, sample, repeats, workdir):
    """The frozen row (cold cache, then warm) and the trained model."""
    from interestkit.modeling.cache import FeatureCache

    cache_dir = Path(workdir) / "features"
    cold = fit("efficientnet_lite0", dataset, {}, training, FeatureCache(cache_dir))
    warm = fit("efficientnet_lite0", dataset, {}, training, FeatureCache(cache_dir))
    throughput = encoder_throughput(cold.model, sample, 224, repeats)
    return row("efficientnet_lite0 frozen", 224, cold, throughput, warm.metrics["train_seconds"]), cold, cache_dir


def lite0_fine_tuned(dataset, training, blocks, epochs):
    tuned = dict(training, fine_tune=blocks, fine_tune_epochs=epochs)
    result = fit("efficientnet_lite0", dataset, {}, tuned)
    return row(f"efficientnet_lite0 fine-tuned ({blocks} blocks)", 224, result)


def from_scratch(plugin, dataset, training, size, epochs, sample, repeats):
    """Exactly ``epochs`` epochs (no early stopping) of the whole network from random weights."""
    fixed = dict(training, epochs=epochs, early_stopping=False)
    result = fit(plugin, dataset, {"weights": "none", "image_size": size}, fixed)
    return row(f"{plugin} (weights none)", size, result, encoder_throughput(result.model, sample, size, repeats))


def logreg_reference(model, dataset, training, cache_dir):
    """Logistic regression on the cached Lite0 features of the same split."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from interestkit.modeling.cache import FeatureCache
    from interestkit.data.splits import stratified_split

    features, kept, _ = model.image_features(dataset.inputs, FeatureCache(cache_dir))
    labels = sorted(set(dataset.labels))
    y = np.array([labels.index(dataset.labels[i]) for i in kept])
    position = {index: row for row, index in enumerate(kept)}
    train_idx, val_idx = stratified_split(dataset.labels, training["val_split"], training["seed"])
    tr = [position[i] for i in train_idx if i in position]
    va = [position[i] for i in val_idx if i in position]
    classifier = LogisticRegression(max_iter=2000)
    _, seconds = timed(classifier.fit, features[tr], y[tr])
    order = np.argsort(-classifier.predict_proba(features[va]), axis=1)
    return {"model": "lite0 features + logreg", "size": 224, "top1": float((order[:, 0] == y[va]).mean()),
            "top5": float((order[:, :5] == y[va][:, None]).any(axis=1).mean()),
            "fit_top1": classifier.score(features[tr], y[tr]), "train_s": seconds,
            "epochs": None, "warm_s": None, "img_s": None}


# --- interestkit's feature-extraction overhead -------------------------------------------


def chunked_features(model, pixels):
    """What ``image_features`` does once a chunk is decoded: the encoder per 64 photos."""
    import numpy as np

    return np.concatenate([model._predict(model.encoder_model, pixels[i:i + CHUNK])
                           for i in range(0, len(pixels), CHUNK)])


def overhead(model, paths, repeats, workdir):
    """Seconds of each way to get Lite0 features for ``paths``; ratios against bare Keras."""
    from interestkit.modeling.cache import FeatureCache
    from interestkit.data.images import load_images

    pixels, _, _ = load_images(paths, 224)
    encoder = model.encoder_model
    encoder.predict(pixels[:CHUNK], batch_size=CHUNK, verbose=0)
    chunked_features(model, pixels[:CHUNK])
    bare = best_of(repeats, encoder.predict, pixels, batch_size=CHUNK, verbose=0)
    compute = best_of(repeats, chunked_features, model, pixels)
    decode = best_of(repeats, load_images, paths, 224)
    from_files = best_of(repeats, model.image_features, paths, None)
    cold = min(timed(model.image_features, paths, FeatureCache(Path(workdir) / f"overhead-{i}"))[1]
               for i in range(repeats))
    return {"images": len(paths), "bare": bare, "compute": compute, "decode": decode,
            "from_files": from_files, "cold_cache": cold}


# --- report -----------------------------------------------------------------------------


COLUMNS = [  # header, key, format
    ("model", "model", "{}"), ("px", "size", "{}"), ("top-1", "top1", "{:.3f}"), ("top-5", "top5", "{:.3f}"),
    ("fit top-1", "fit_top1", "{:.3f}"), ("train s", "train_s", "{:.1f}"), ("epochs", "epochs", "{}"), ("warm s", "warm_s", "{:.1f}"),
    ("img/s", "img_s", "{:.0f}"),
]


def print_overhead(o):
    n, bare = o["images"], o["bare"]
    both = o["decode"] + bare
    print(f"\nLite0 feature extraction, {n} photos at 224 px (best of repeats):")
    lines = [
        ("bare model.predict on decoded pixels", bare, ""),
        ("interestkit image_features, 64-photo chunks", o["compute"], f"overhead ratio {o['compute'] / bare:.3f}"),
        (f"bare load_images + predict (decoding {o['decode']:.2f} s)", both, ""),
        ("image_features from files, no cache", o["from_files"], f"ratio {o['from_files'] / both:.3f}"),
        ("image_features from files, empty cache", o["cold_cache"], f"ratio {o['cold_cache'] / both:.3f}"),
    ]
    for label, seconds, note in lines:
        print(f"  {label:<46} {seconds:6.2f} s {n / seconds:6.1f} img/s  {note}".rstrip())


def print_warm_ratio(rows):
    frozen = next((r for r in rows if r["model"] == "efficientnet_lite0 frozen"), None)
    if frozen:
        print(f"\nwarm-cache head re-training: {frozen['train_s'] / frozen['warm_s']:.1f}x faster than the first run")


def run_models(args, dataset, training, train_idx, val_idx, workdir):
    """The table's rows, and the overhead measurement when Lite0 frozen ran."""
    chosen = [m.strip() for m in args.models.split(",")]
    sample = [dataset.inputs[i] for i in val_idx][:256]  # photos for the img/s column
    rows, measured = [], None

    def done(row):
        rows.append(row)
        print(f"done: {row['model']} ({row['train_s']:.0f} s)", flush=True)

    if "lite0" in chosen:
        frozen_row, frozen, cache_dir = lite0_frozen(dataset, training, sample, args.repeats, workdir)
        done(frozen_row)
        rows.append(logreg_reference(frozen.model, dataset, training, cache_dir))
        paths = [dataset.inputs[i] for i in train_idx][: args.overhead_images]
        measured = overhead(frozen.model, paths, args.repeats, workdir)
    if "finetune" in chosen and args.fine_tune > 0:
        done(lite0_fine_tuned(dataset, training, args.fine_tune, args.fine_tune_epochs))
    for plugin in ("mobilenet_v2", "resnet_v2"):
        if plugin in chosen:
            done(from_scratch(plugin, dataset, training, args.image_size, args.epochs, sample, args.repeats))
    return rows, measured


def main(argv=None):
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: folder not found; pass --data PATH to a folder of label sub-folders of photos")
        return 1
    unknown = sorted({m.strip() for m in args.models.split(",")} - set(MODELS))
    if unknown:
        print(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
        return 2
    quiet_tensorflow()
    from interestkit.data.datasets import load_image_dataset
    from interestkit.data.splits import stratified_sample, stratified_split

    dataset = load_image_dataset(args.data)
    if args.max_rows:
        dataset = dataset.subset(stratified_sample(dataset.labels, args.max_rows, SEED))
    training = {"val_split": args.val_split, "seed": SEED, "verbose": 0}
    train_idx, val_idx = stratified_split(dataset.labels, args.val_split, SEED)
    print(f"{args.data}: {len(dataset)} photos, {len(set(dataset.labels))} labels; "
          f"train {len(train_idx)}, validation {len(val_idx)} (stratified, seed {SEED})", flush=True)
    with tempfile.TemporaryDirectory(prefix="interestkit-bench-") as workdir:
        rows, measured = run_models(args, dataset, training, train_idx, val_idx, workdir)
    print()
    print_table(COLUMNS, rows)
    if measured:
        print_overhead(measured)
        print_warm_ratio(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
