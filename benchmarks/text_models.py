"""Caption classifiers on one split: the four recurrent plugins against a TF-IDF baseline.

Every model sees the same stratified split (10% validation, seed 42) of the same file.
The recurrent plugins train through ``interestkit.train.train`` with the options
``interestkit.config.resolve`` gives them (built-in defaults, then ``--config``, then
``--set`` and ``--epochs``); the baseline is TF-IDF (word 1-2-grams) + logistic
regression from scikit-learn.

Columns:
  top-1, top-5     validation accuracy on whole captions (what training reports)
  top-1 sent.      top-1 through ``InterestModel.predict_texts``: captions split into
                   sentences, each classified, word-weighted mean (the product path);
                   the baseline classifies whole captions
  train s          wall-clock seconds of training (vocabulary, model build and fit)
  ms/1k            inference milliseconds per 1,000 validation captions, timed on a
                   second pass over them (``predict_texts`` for the recurrent plugins)
  peak MiB         RSS high-water mark (``resource.getrusage(RUSAGE_SELF).ru_maxrss``)
                   of a fresh child process that trains and evaluates only that model
  +MiB             that peak minus the high-water mark just before training (after
                   importing Keras / scikit-learn and loading the data): what the
                   model itself adds

Run from the repository root::

    .venv/bin/python benchmarks/text_models.py                  # full data
    .venv/bin/python benchmarks/text_models.py --max-rows 5000 --epochs 3 --plugins gru

Expected runtime on 2 CPU cores with the full data (54,957 captions) and the defaults:
about 30 minutes (baseline 1 minute, rnn 3, gru 6, lstm 7, bilstm 12; early stopping
usually ends training before the 10th epoch).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import resource
import sys
from pathlib import Path

from bench_common import print_table, timed  # benchmarks/bench_common.py (scripts run from here)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "text" / "train.tsv"
RNN_PLUGINS = ("rnn", "lstm", "gru", "bilstm")
BASELINE = "tfidf+logreg"
VAL_SPLIT = 0.1
SEED = 42


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled captions (.tsv/.csv/.jsonl)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the training default)")
    parser.add_argument("--max-rows", type=int, default=0, help="stratified sample of N rows (0: all)")
    parser.add_argument("--plugins", default=",".join(RNN_PLUGINS), help="comma-separated text encoders")
    parser.add_argument("--config", type=Path, default=None, help="YAML experiment config applied to every plugin")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one option for every plugin, e.g. training.class_weight=false (repeatable)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    return parser.parse_args(argv)


def parse_settings(settings):
    """['training.batch_size=128', ...] -> {'training': {'batch_size': 128}} (values read as YAML)."""
    import yaml

    overrides = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in ("encoder", "classifier", "training"):
            raise SystemExit(f"--set {setting!r}: expected encoder|classifier|training.KEY=VALUE")
        overrides.setdefault(section, {})[name] = yaml.safe_load(value)
    return overrides


# --- data, shared by every model -----------------------------------------------------


def load_split(data, max_rows):
    """(dataset, train indices, validation indices), exactly as ``train`` splits it."""
    from interestkit.data.datasets import load_text_dataset
    from interestkit.data.splits import stratified_sample, stratified_split

    dataset = load_text_dataset(data)
    if max_rows:
        dataset = dataset.subset(stratified_sample(dataset.labels, max_rows, SEED))
    train_idx, val_idx = stratified_split(dataset.labels, VAL_SPLIT, SEED)
    return dataset, train_idx, val_idx


def peak_mib():
    """RSS high-water mark of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def top_k(probs, y, k):
    import numpy as np

    order = np.argsort(-np.nan_to_num(probs, nan=-1.0), axis=1)[:, :k]
    return float((order == np.asarray(y)[:, None]).any(axis=1).mean())


# --- one model per child process --------------------------------------------------------


def resolve_options(plugin, epochs, config_path, settings):
    """Options as ``interestkit train`` resolves them, with this benchmark's split fixed."""
    from interestkit.modeling import config

    file_config = config.load_yaml(config_path) if config_path else {}
    overrides = parse_settings(settings)
    fixed = {"max_rows": 0, "val_split": VAL_SPLIT, "seed": SEED, "verbose": 0}
    overrides["training"] = dict(overrides.get("training", {}), **fixed, **({"epochs": epochs} if epochs else {}))
    return config.resolve(file_config, plugin, overrides)


def build(plugin, epochs, config_path, settings):
    """(encoder, classifier, training options) for ``plugin``; raises ConfigError on a bad option."""
    from interestkit import hooks as plugins

    resolved = resolve_options(plugin, epochs, config_path, settings)
    encoder = plugins.get("encoder", plugin, modality="text").cls(**resolved["encoder"])
    head = plugins.get("classifier", resolved["classifier"]["name"]).cls(**resolved["classifier"]["options"])
    return encoder, head, resolved["training"]


def run_rnn(plugin, data, max_rows, epochs, config_path, settings):
    """Train one recurrent plugin through interestkit; return its row."""
    from interestkit.modeling.train import train

    encoder, head, options = build(plugin, epochs, config_path, settings)
    dataset, _, val_idx = load_split(data, max_rows)
    import keras  # noqa: F401  (imported first: the framework's own memory is not the model's)

    before = peak_mib()
    result = train(encoder, head, dataset, options, log=lambda message: None)
    val_texts = [dataset.inputs[i] for i in val_idx]
    y_val = [result.labels.index(dataset.labels[i]) for i in val_idx]
    result.model.predict_texts(val_texts)  # warm-up: traces the predict function for these shapes
    probs, seconds = timed(result.model.predict_texts, val_texts)
    return {
        "model": plugin,
        "top1": result.metrics["val_accuracy"],
        "top5": result.metrics["val_top5_accuracy"],
        "top1_sentences": top_k(probs, y_val, 1),
        "train_s": result.metrics["train_seconds"],
        "epochs": result.metrics["epochs"],
        "ms_per_1k": seconds / len(val_texts) * 1000 * 1000,
        "peak_mib": peak_mib(),
        "added_mib": peak_mib() - before,
    }


def run_baseline(data, max_rows):
    """TF-IDF (word 1-2-grams, sublinear tf) + logistic regression on the same split."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    dataset, train_idx, val_idx = load_split(data, max_rows)
    labels = sorted(set(dataset.labels))
    y = np.array([labels.index(label) for label in dataset.labels])
    texts = dataset.inputs
    before = peak_mib()
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                             LogisticRegression(C=5.0, max_iter=1000))
    _, train_s = timed(pipeline.fit, [texts[i] for i in train_idx], y[train_idx])
    val_texts = [texts[i] for i in val_idx]
    pipeline.predict_proba(val_texts)
    probs, seconds = timed(pipeline.predict_proba, val_texts)
    return {
        "model": BASELINE,
        "top1": top_k(probs, y[val_idx], 1),
        "top5": top_k(probs, y[val_idx], 5),
        "top1_sentences": None,
        "train_s": train_s,
        "epochs": None,
        "ms_per_1k": seconds / len(val_texts) * 1000 * 1000,
        "peak_mib": peak_mib(),
        "added_mib": peak_mib() - before,
    }


def in_child(function, *args):
    """Run ``function(*args)`` in a fresh process, so its RSS high-water mark is its own."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# --- report -----------------------------------------------------------------------------


COLUMNS = [  # header, key, format
    ("model", "model", "{}"), ("top-1", "top1", "{:.3f}"), ("top-5", "top5", "{:.3f}"),
    ("top-1 sent.", "top1_sentences", "{:.3f}"), ("train s", "train_s", "{:.0f}"), ("epochs", "epochs", "{}"),
    ("ms/1k", "ms_per_1k", "{:.0f}"), ("peak MiB", "peak_mib", "{:.0f}"), ("+MiB", "added_mib", "{:.0f}"),
]


def main(argv=None):
    args = parse_args(argv)
    plugin_names = [p.strip() for p in args.plugins.split(",") if p.strip()]
    if not args.data.is_file():
        print(f"{args.data}: data file not found; pass --data PATH to a table with 'label' and 'text'")
        return 1
    from interestkit.errors import InterestkitError

    try:  # a misspelt plugin or option fails here, before anything trains
        for plugin in plugin_names:
            build(plugin, args.epochs, args.config, args.settings)
    except InterestkitError as error:
        print(f"error: {error}")
        return 2
    dataset, train_idx, val_idx = load_split(args.data, args.max_rows)
    print(f"{args.data}: {len(dataset)} captions, {len(set(dataset.labels))} labels; "
          f"train {len(train_idx)}, validation {len(val_idx)} (stratified, seed {SEED})", flush=True)
    rows = []
    if not args.no_baseline:
        rows.append(in_child(run_baseline, args.data, args.max_rows))
        print(f"done: {BASELINE} ({rows[-1]['train_s']:.0f} s)", flush=True)
    for plugin in plugin_names:
        rows.append(in_child(run_rnn, plugin, args.data, args.max_rows, args.epochs, args.config, args.settings))
        print(f"done: {plugin} ({rows[-1]['train_s']:.0f} s)", flush=True)
    print()
    print_table(COLUMNS, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
