"""Leave-source-out captions: how well caption models generalise to subreddits never trained on.

One split for every model, made by ``interestkit.modeling.train.validation_split`` with
``val_group: source`` (what ``--val-group source`` does): for every interest with two
subreddits or more, whole subreddits go to validation; interests with one subreddit are
split by rows. The plugins train through ``interestkit.modeling.train.train`` (early
stopping and temperature on that validation split); the baseline is scikit-learn's
TF-IDF (word 1-2-grams, sublinear tf, min_df 2) + logistic regression (C = 5) on the
same training rows.

Columns:
  top-1 held-out   top-1 on the validation captions of held-out subreddits only
                   (leave-subreddit-out: the number this benchmark is about)
  top-1 val        top-1 on the whole validation split (held-out subreddits, plus the
                   row-split interests)
  top-5 held-out   top-5 on the held-out subreddits' captions
  train s          wall-clock seconds of training

Run from the repository root::

    .venv/bin/python benchmarks/leave_source_out.py --plugins tfidf --max-rows 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from bench_common import print_table  # benchmarks/bench_common.py (scripts run from here)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "text" / "train.tsv"
BASELINE = "tfidf+logreg"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled captions with a source column")
    parser.add_argument("--group", default="source", help="the column whose values are held out whole")
    parser.add_argument("--max-rows", type=int, default=0, help="stratified sample of N rows (0: all)")
    parser.add_argument("--plugins", default="tfidf", help="comma-separated text encoders ('' for none)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the training default)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one option for every plugin, e.g. training.learning_rate=0.01")
    parser.add_argument("--no-baseline", action="store_true")
    return parser.parse_args(argv)


def overrides_from(args) -> dict:
    import yaml

    overrides = {"training": {"val_group": args.group, "verbose": 0, "cache": False}}
    if args.epochs:
        overrides["training"]["epochs"] = args.epochs
    for setting in args.settings:
        key, _, value = setting.partition("=")
        section, _, name = key.partition(".")
        overrides.setdefault(section, {})[name] = yaml.safe_load(value)
    return overrides


def held_out_mask(dataset, val_idx, held_out):
    held = set(held_out)
    return np.array([dataset.groups[i] in held for i in val_idx], dtype=bool)


def baseline(dataset, train_idx, val_idx, held_out) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x_train = vectorizer.fit_transform([dataset.inputs[i] for i in train_idx])
    classifier = LogisticRegression(C=5, max_iter=1000)
    classifier.fit(x_train, [dataset.labels[i] for i in train_idx])
    seconds = time.perf_counter() - started
    probs = classifier.predict_proba(vectorizer.transform([dataset.inputs[i] for i in val_idx]))
    classes = list(classifier.classes_)
    truth = np.array([classes.index(dataset.labels[i]) if dataset.labels[i] in classes else -1 for i in val_idx])
    top5 = np.argsort(-probs, axis=1)[:, :5]
    mask = held_out_mask(dataset, val_idx, held_out)
    hit1, hit5 = probs.argmax(axis=1) == truth, (top5 == truth[:, None]).any(axis=1)
    return {"model": BASELINE, "held1": hit1[mask].mean(), "val1": hit1.mean(), "held5": hit5[mask].mean(),
            "seconds": seconds, "epochs": None}


def plugin_row(name, dataset, overrides, val_idx, held_out) -> dict:
    from interestkit.app.train import build_plugins, resolve_training
    from interestkit.modeling.metrics import top_k_accuracy
    from interestkit.modeling.train import train

    resolved = resolve_training(name, None, overrides)
    _, encoder, classifier = build_plugins(resolved)
    result = train(encoder, classifier, dataset, resolved["training"], log=lambda m: None)
    model = result.model
    texts = [dataset.inputs[i] for i in val_idx]
    index = {label: i for i, label in enumerate(model.labels)}
    truth = np.array([index[dataset.labels[i]] for i in val_idx])
    import tensorflow as tf

    probs = np.asarray(model.full_model().predict(tf.constant(texts)[:, None], batch_size=256, verbose=0))
    mask = held_out_mask(dataset, val_idx, held_out)
    hit1 = probs.argmax(axis=1) == truth
    return {"model": name, "held1": hit1[mask].mean(), "val1": hit1.mean(),
            "held5": top_k_accuracy(probs[mask], truth[mask], 5), "seconds": result.metrics["train_seconds"],
            "epochs": result.metrics["epochs"], "check": result.metrics.get("val_group_accuracy")}


def main(argv=None):
    args = parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data}: data file not found; pass --data PATH to a table with label, text and {args.group}")
        return 1
    sys.path.insert(0, str(REPO))
    from interestkit.data.datasets import load_text_dataset
    from interestkit.data.splits import stratified_sample
    from interestkit.modeling.config import TRAINING_DEFAULTS
    from interestkit.modeling.train import validation_split

    dataset = load_text_dataset(args.data, args.group)
    overrides = overrides_from(args)
    options = {**TRAINING_DEFAULTS, **overrides["training"]}
    if args.max_rows:
        dataset = dataset.subset(stratified_sample(dataset.labels, args.max_rows, options["seed"]))
    options["max_rows"] = 0  # sampled once here; train() sees the same rows
    overrides["training"]["max_rows"] = 0
    train_idx, val_idx, split = validation_split(dataset, options)
    held = held_out_mask(dataset, val_idx, split["held_out"])
    print(f"{args.data}: {len(dataset)} captions, {len(set(dataset.labels))} labels; training {len(train_idx)}, "
          f"validation {len(val_idx)} ({int(held.sum())} from {len(split['held_out'])} held-out groups)",
          file=sys.stderr)
    rows = [] if args.no_baseline else [baseline(dataset, train_idx, val_idx, split["held_out"])]
    for name in [n.strip() for n in args.plugins.split(",") if n.strip()]:
        rows.append(plugin_row(name, dataset, overrides, val_idx, split["held_out"]))
        if rows[-1]["check"] is not None and abs(rows[-1]["check"] - rows[-1]["held1"]) > 0.02:
            print(f"note: {name}: train() reported held-out top-1 {rows[-1]['check']:.4f}", file=sys.stderr)
    print_table([("model", "model", "{}"), ("top-1 held-out", "held1", "{:.3f}"), ("top-1 val", "val1", "{:.3f}"),
                 ("top-5 held-out", "held5", "{:.3f}"), ("train s", "seconds", "{:.0f}"), ("epochs", "epochs", "{}")],
                rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
