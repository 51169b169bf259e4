"""Photo recipes under concept shift: pretrained EfficientNet-Lite encoders, heads, the ImageNet prior.

Every row trains with the product's own ``interestkit.modeling.train.train`` (features
through the feature cache, the head's early stopping and temperature on a 10% split of
the training part) and scores with ``InterestModel.predict_images``. Two protocols:

  stratified    the split ``interestkit train`` makes (10%, seed 42): its validation top-1
  cluster-out   concept shift emulated: each interest's photos are cut into ``--folds``
                clusters (k-means, seed 0, on the concatenated unit-length features of
                Lite0, Lite1 and Lite2, so no one encoder's view decides), and fold f
                holds out cluster f of every interest: the head never sees that kind of
                object of the interest (drones after TVs). Top-1 / top-5 pooled over folds.

The photos mostly come from one collection per interest, so a stratified split rewards
memorising the collection; the cluster-out score is the one that chose the recipes.
``prior-only`` rows are the ImageNet prior alone (``prior_weight: 1``), i.e. zero-shot;
``logreg`` rows are scikit-learn logistic regression (C=1) on the same cached features,
the reference a user would try first.

Run from the repository root (with the feature cache warm, a recipe on one encoder
takes about a minute on 2 cores)::

    .venv/bin/python benchmarks/image_prior.py --encoders efficientnet_lite0 --recipes softmax,prior
    .venv/bin/python benchmarks/image_prior.py --out results.json

``--write-table`` writes the same cluster-out split as a photo table for ``interestkit tune``
(docs/benchmarks.md, Tuning): the photos must lie in the table's folder (a hard-linked copy
will do, ``cp -al``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench_common import print_table  # benchmarks/bench_common.py (scripts run from here)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "images" / "train"
ENCODERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
BASE = {"epochs": 30, "patience": 3, "verbose": 0}
#: recipe name -> (classifier section, training options over BASE)
RECIPES = {
    "logreg": (None, None),  # scikit-learn, not a head: see logreg()
    "softmax": ({"name": "softmax"}, {}),
    "softmax-ls-wd": ({"name": "softmax"}, {"label_smoothing": 0.1, "weight_decay": 1e-4}),
    "prior-0.2": ({"name": "imagenet_prior", "prior_weight": 0.2}, {}),
    "prior": ({"name": "imagenet_prior", "prior_weight": 0.3}, {}),
    "prior-0.5": ({"name": "imagenet_prior", "prior_weight": 0.5}, {}),
    "prior-ls-wd": ({"name": "imagenet_prior", "prior_weight": 0.3}, {"label_smoothing": 0.1, "weight_decay": 1e-4}),
    "prior-0.7": ({"name": "imagenet_prior", "prior_weight": 0.7}, {}),
    "prior-only": ({"name": "imagenet_prior", "prior_weight": 1.0}, {"epochs": 1}),
    "prior-0.5-mixup": ({"name": "imagenet_prior", "prior_weight": 0.5}, {"mixup": 0.2}),
    "prior-0.5-ls-wd": ({"name": "imagenet_prior", "prior_weight": 0.5}, {"label_smoothing": 0.1, "weight_decay": 1e-4}),
    "prior-0.5-views": ({"name": "imagenet_prior", "prior_weight": 0.5}, {"augment_views": 2}),
    "mixup": ({"name": "softmax"}, {"mixup": 0.2}),
    "views": ({"name": "softmax"}, {"augment_views": 2}),
    "prior-views-mixup": ({"name": "imagenet_prior", "prior_weight": 0.3}, {"augment_views": 2, "mixup": 0.2}),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of label sub-folders of photos")
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--recipes", default="softmax,prior-0.2,prior,prior-0.5,prior-only",
                        help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--protocols", default="stratified,cluster-out")
    parser.add_argument("--cache-dir", default="", help="feature cache (default: interestkit's)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON")
    parser.add_argument("--write-table", type=Path, metavar="CSV",
                        help="only write the cluster-out split as a photo table (columns image, label, group: "
                             "group = interest/cluster), for `interestkit tune --val-group group`; the photos "
                             "must lie in the table's folder")
    return parser.parse_args(argv)


def write_table(path: Path, dataset, fold) -> int:
    """The photos of ``dataset`` as a table beside them, each with its concept-shift group."""
    import csv

    rows = []
    for photo, label, f in zip(dataset.inputs, dataset.labels, fold):
        try:
            relative = Path(photo).resolve().relative_to(path.parent.resolve())
        except ValueError:
            print(f"{photo}: not inside {path.parent} (image paths in a table are relative to it)", file=sys.stderr)
            return 1
        rows.append({"image": relative.as_posix(), "label": label, "group": f"{label}/cluster{f}"})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["image", "label", "group"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path}: {len(rows)} photos in {len(set(r['group'] for r in rows))} groups")
    return 0


def features_of(name, paths, cache):
    """Unit-length features of ``paths`` by encoder ``name``, through the cache."""
    import numpy as np

    from interestkit import hooks
    from interestkit.modeling.model import InterestModel

    encoder = hooks.get("encoder", name).cls()
    meta = {"image_size": encoder.image_size(), "frozen": True, "encoder_identity": encoder.identity()}
    features, kept, failures = InterestModel("image", ["-"], encoder.build(None), None, meta).image_features(
        paths, cache, "skip", lambda message: None)
    if failures:
        sys.exit(f"unreadable photos: {failures[:3]}")
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def clusters(dataset, cache, folds):
    """Fold of each photo: its k-means cluster within its interest (on all three encoders' features)."""
    import numpy as np
    from sklearn.cluster import KMeans

    joint = np.concatenate([features_of(name, dataset.inputs, cache) for name in ENCODERS], axis=1)
    labels = np.array(dataset.labels)
    fold = np.zeros(len(labels), dtype=int)
    for label in sorted(set(dataset.labels)):
        rows = np.flatnonzero(labels == label)
        found = KMeans(n_clusters=folds, n_init=10, random_state=0).fit_predict(joint[rows])
        # fold 0 is each interest's largest cluster, and so on, so folds are of similar size
        order = np.argsort(-np.bincount(found, minlength=folds), kind="stable")
        fold[rows] = np.argsort(order)[found]
    return fold


def logreg(encoder_name, dataset, cache, train_idx, test_idx):
    """The reference: scikit-learn logistic regression (C=1) on the same cached features.

    Without ``test_idx``: trained and scored on the split ``interestkit train`` makes."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from interestkit.data.splits import stratified_split
    from interestkit.modeling.metrics import top_k_accuracy

    features = features_of(encoder_name, dataset.inputs, cache)
    labels = sorted(set(dataset.labels))
    y = np.array([labels.index(label) for label in dataset.labels])
    if test_idx is None:
        part = [dataset.labels[i] for i in train_idx]
        inner_train, inner_val = stratified_split(part, 0.1, 42)
        train_idx, test_idx = [train_idx[i] for i in inner_train], [train_idx[i] for i in inner_val]
    model = LogisticRegression(C=1.0, max_iter=3000).fit(features[train_idx], y[train_idx])
    probs = np.zeros((len(test_idx), len(labels)))
    probs[:, model.classes_] = model.predict_proba(features[test_idx])
    return float((probs.argmax(axis=1) == y[test_idx]).mean()), top_k_accuracy(probs, y[test_idx], 5)


def run_recipe(encoder_name, recipe, dataset, cache, train_idx, test_idx):
    """(model's validation metrics, top-1 and top-5 on ``test_idx``) of one training."""
    import numpy as np

    if recipe == "logreg":
        top1, top5 = logreg(encoder_name, dataset, cache, list(train_idx), test_idx)
        return {"val_accuracy": top1}, top1, top5

    from interestkit import hooks
    from interestkit.modeling.config import TRAINING_DEFAULTS
    from interestkit.modeling.metrics import top_k_accuracy
    from interestkit.modeling.train import train

    section, extra = RECIPES[recipe]
    classifier = hooks.get("classifier", section["name"]).cls(**{k: v for k, v in section.items() if k != "name"})
    encoder = hooks.get("encoder", encoder_name).cls()
    options = {**TRAINING_DEFAULTS, **BASE, **extra}
    result = train(encoder, classifier, dataset.subset(train_idx), options, cache=cache, log=lambda message: None)
    if test_idx is None:
        return dict(result.metrics, notes=result.notes), None, None
    index = {label: i for i, label in enumerate(result.labels)}
    probs, kept, _ = result.model.predict_images([dataset.inputs[i] for i in test_idx], cache)
    y = np.array([index[dataset.labels[i]] for i in test_idx])[kept]
    return dict(result.metrics, notes=result.notes), float((probs.argmax(axis=1) == y).mean()), \
        top_k_accuracy(probs, y, 5)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from interestkit.data.datasets import load_image_dataset
    from interestkit.modeling.cache import FeatureCache

    if not args.data.is_dir():
        print(f"real photos not found: {args.data} (pass --data)", file=sys.stderr)
        return 1
    cache = FeatureCache(args.cache_dir or None)
    dataset = load_image_dataset(args.data)
    protocols = args.protocols.split(",")
    fold = clusters(dataset, cache, args.folds) if "cluster-out" in protocols or args.write_table else None
    if args.write_table:
        return write_table(args.write_table, dataset, fold)
    rows = []
    for encoder_name in args.encoders.split(","):
        for recipe in args.recipes.split(","):
            started = time.perf_counter()
            row = {"encoder": encoder_name, "recipe": recipe, "stratified": None, "shift_top1": None,
                   "shift_top5": None, "notes": ""}
            if "stratified" in protocols:
                metrics, _, _ = run_recipe(encoder_name, recipe, dataset, cache, list(range(len(dataset))), None)
                row["stratified"] = metrics["val_accuracy"]
                row["notes"] = "; ".join(n for n in metrics.get("notes", []) if "ImageNet prior" in n)
            if fold is not None:
                hits1 = hits5 = total = 0
                for f in range(args.folds):
                    test_idx = np.flatnonzero(fold == f).tolist()
                    train_idx = np.flatnonzero(fold != f).tolist()
                    _, top1, top5 = run_recipe(encoder_name, recipe, dataset, cache, train_idx, test_idx)
                    hits1, hits5, total = hits1 + top1 * len(test_idx), hits5 + top5 * len(test_idx), total + len(test_idx)
                row["shift_top1"], row["shift_top5"] = hits1 / total, hits5 / total
            row["seconds"] = time.perf_counter() - started
            rows.append(row)
            print(json.dumps(row), flush=True)
    print_table([("encoder", "encoder", "{}"), ("recipe", "recipe", "{}"), ("stratified top-1", "stratified", "{:.3f}"),
                 ("cluster-out top-1", "shift_top1", "{:.3f}"), ("cluster-out top-5", "shift_top5", "{:.3f}"),
                 ("s", "seconds", "{:.0f}")], rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
