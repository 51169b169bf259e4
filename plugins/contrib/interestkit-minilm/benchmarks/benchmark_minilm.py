"""Benchmark: ``minilm`` (frozen, softmax head) against TF-IDF + logistic regression.

Both are fitted on the split every interestkit model uses (``interestkit.data.
splits.stratified_split``: 10% validation, seed 42, stratified by label) and scored on its
validation part. ``minilm`` goes through ``interestkit.modeling.train.train``, exactly as
``interestkit train --plugin minilm`` does (without MLflow); its training time includes
computing the features. Inference is ``InterestModel.predict_texts`` (captions split
into sentences) on 1,000 validation captions.

    python benchmarks/benchmark_minilm.py ../../../../shared/data/text/train.tsv --out minilm.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from interestkit import hooks as plugins  # noqa: E402
from interestkit.modeling import config  # noqa: E402
from interestkit.data.datasets import load_text_dataset  # noqa: E402
from interestkit.data.splits import stratified_sample, stratified_split  # noqa: E402
from interestkit.modeling.metrics import top_k_accuracy  # noqa: E402


def tfidf_baseline(texts, y, train_idx, val_idx) -> dict:
    """Word 1-2-gram TF-IDF (sublinear tf) + multinomial logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform([texts[i] for i in train_idx])
    model = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, y[train_idx])
    seconds = time.perf_counter() - started
    probs = model.predict_proba(vectorizer.transform([texts[i] for i in val_idx]))
    return scores(probs, y[val_idx], seconds)


def scores(probs, y_val, seconds) -> dict:
    return {"val_top1": float((probs.argmax(axis=1) == y_val).mean()),
            "val_top5": top_k_accuracy(probs, y_val, 5), "train_seconds": round(seconds, 1)}


def minilm(dataset, overrides) -> tuple[dict, object]:
    """Train minilm + softmax through the core's training function."""
    from interestkit.modeling.train import train

    resolved = config.resolve({}, "minilm", {"training": overrides})
    encoder = plugins.get("encoder", "minilm").cls()
    classifier = plugins.get("classifier", "softmax").cls()
    result = train(encoder, classifier, dataset, resolved["training"], log=print)
    m = result.metrics
    return {"val_top1": m["val_accuracy"], "val_top5": m["val_top5_accuracy"],
            "train_seconds": round(m["train_seconds"], 1), "epochs": m["epochs"]}, result.model


def inference_ms_per_1000(model, captions) -> float:
    """Milliseconds per 1,000 captions through predict_texts (the second of two calls)."""
    model.predict_texts(captions)  # warm-up: traces the prediction function for these batch shapes
    started = time.perf_counter()
    model.predict_texts(captions)
    return round((time.perf_counter() - started) * 1000 * 1000 / len(captions), 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="captions table with label and text columns")
    parser.add_argument("--max-rows", type=int, default=0, help="a stratified sample of this many rows (0: all)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    dataset = load_text_dataset(args.data)
    if args.max_rows:
        dataset = dataset.subset(stratified_sample(dataset.labels, args.max_rows, 42))
    labels = sorted(set(dataset.labels))
    y = np.array([labels.index(label) for label in dataset.labels])
    train_idx, val_idx = stratified_split(dataset.labels, 0.1, 42)
    print(f"{len(dataset)} captions, {len(labels)} labels, {len(train_idx)} train / {len(val_idx)} validation")

    results = {"rows": len(dataset), "labels": len(labels), "val_rows": len(val_idx)}
    results["tfidf_logreg"] = tfidf_baseline(dataset.inputs, y, train_idx, val_idx)
    print("tfidf_logreg", results["tfidf_logreg"])
    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "verbose": 2}
    results["minilm"], model = minilm(dataset, overrides)
    captions = [dataset.inputs[i] for i in val_idx[:1000]]
    results["minilm"]["inference_ms_per_1000_captions"] = inference_ms_per_1000(model, captions)
    print("minilm", results["minilm"])
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
