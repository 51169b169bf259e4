"""Zero-shot and few-shot models on the real data: per item, on the dev users, and YAML to registered model.

Per item: captions from ``--captions`` and photos from ``--photos``. For each interest,
``--eval-per-interest`` items are held out for measuring and up to 20 others form the
pool few-shot examples are drawn from (5 or 20 per interest, ``--seeds`` draws). Rows:

- text zero-shot (the taxonomy's descriptions and keywords through MiniLM), temperature 1
  and calibrated on 20 examples per interest (the ranking is the same; NLL changes);
- text and photo few-shot with 5 and 20 examples per interest (prototype centroids);
- photo zero-shot: Lite0's ImageNet classifier, its classes mapped to the interests by
  MiniLM (temperature 1, and calibrated on 20 examples per interest).

Users: ``interestkit evaluate``'s path (``app.ranking.prepare`` + ``app.evaluate``) with
the zero-shot text model and the 20-shot text and photo models. Time: ``interestkit
zero-shot --modality text`` in a fresh process, into a temporary store.

Features are computed once per item (MiniLM sentences, Lite0 photos through a temporary
feature cache); heads are refitted per draw. Nothing is written to ./registry or to the
user's cache. Run from the repository root: ``.venv/bin/python benchmarks/zero_shot.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_common import print_table  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captions", default=str(SHARED / "text" / "train.tsv"))
    parser.add_argument("--photos", default=str(SHARED / "images" / "train"))
    parser.add_argument("--users", default=str(SHARED / "users"))
    parser.add_argument("--taxonomy", default=None, help="default: the packaged 36 interests")
    parser.add_argument("--eval-per-interest", type=int, default=60, help="captions held out per interest")
    parser.add_argument("--eval-photos-per-interest", type=int, default=25, help="photos held out per interest")
    parser.add_argument("--seeds", type=int, default=3, help="draws of the few-shot examples")
    parser.add_argument("--text-encoders", default="minilm,glove_mean", help="frozen text encoders, comma-separated")
    parser.add_argument("--skip", default="", help="comma-separated: text, image, users, timing")
    return parser.parse_args()


def split(labels, held_out, pool, seed=0):
    """Per label: ``held_out`` indices to measure on, then up to ``pool`` others for examples."""
    rng = np.random.default_rng(seed)
    by_label: dict = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    test, rest = [], {}
    for label in sorted(by_label):
        order = rng.permutation(by_label[label])
        test.extend(order[:held_out].tolist())
        rest[label] = order[held_out:held_out + pool].tolist()
    return sorted(test), rest


def scores(probs, y):
    """top-1, top-5 and NLL; ``y = -1`` (an interest the model cannot score) counts as wrong, NLL over the rest."""
    y = np.asarray(y)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :5]
    hit = top == y[:, None]
    known = y >= 0
    nll = -float(np.mean(np.log(np.clip(probs[np.arange(len(y))[known], y[known]], 1e-12, 1))))
    return {"top1": float(hit[:, 0].mean()), "top5": float(hit.any(axis=1).mean()), "nll": nll}


def few_shot_rows(name, features, labels, names, test, pool, prior, seeds, n_items):
    """Rows for 5 and 20 examples per interest, averaged over ``seeds`` draws from ``pool``."""
    from interestkit.modeling.calibration import apply_temperature
    from interestkit.modeling.fewshot import fit_head
    from interestkit.modeling.prototypes import DEFAULT_SCALE, softmax, unit_rows

    index = {n: i for i, n in enumerate(names)}
    y_test = np.array([index[labels[i]] for i in test])
    rows = []
    for shots in (5, 20):
        runs, fit_seconds = [], []
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            chosen = [i for label in sorted(pool) for i in rng.permutation(pool[label])[:shots].tolist()]
            started = time.perf_counter()
            fitted = fit_head(prior, features[chosen], np.array([index[labels[i]] for i in chosen]))
            fit_seconds.append(time.perf_counter() - started)
            probs = apply_temperature(softmax(unit_rows(features[test]) @ fitted.prototypes.T / DEFAULT_SCALE),
                                      fitted.temperature)
            runs.append(scores(probs, y_test))
        rows.append({"model": f"{name} few-shot, {shots} per interest", "items": n_items,
                     "top1": float(np.mean([r["top1"] for r in runs])), "top5": float(np.mean([r["top5"] for r in runs])),
                     "nll": float(np.mean([r["nll"] for r in runs])), "fit_s": float(np.mean(fit_seconds))})
    return rows


def text_rows(args, taxonomy, encoder_name, encoder_model, log):
    from interestkit.app.zeroshot import caption_features
    from interestkit.data.datasets import load_text_dataset
    from interestkit.modeling.calibration import apply_temperature, fit_temperature
    from interestkit.modeling.fewshot import zero_shot_prototypes
    from interestkit.modeling.prototypes import DEFAULT_SCALE, embed_texts, softmax, unit_rows

    data = load_text_dataset(args.captions)
    names = list(taxonomy.names)
    test, pool = split(data.labels, args.eval_per_interest, 20)
    used = sorted(set(test) | {i for p in pool.values() for i in p})
    log(f"captions: {len(test)} held out, {len(used) - len(test)} in the example pool; embedding with {encoder_name}")
    started = time.perf_counter()
    feats = np.zeros((len(data.labels), int(encoder_model.output_shape[-1])), np.float32)
    feats[used] = caption_features(encoder_model, [data.inputs[i] for i in used])
    embed_seconds = time.perf_counter() - started
    prior = zero_shot_prototypes(lambda t: embed_texts(encoder_model, t), taxonomy.interests)
    index = {n: i for i, n in enumerate(names)}
    y_test = np.array([index[data.labels[i]] for i in test])
    raw = softmax(unit_rows(feats[test]) @ prior.T / DEFAULT_SCALE)
    rows = [dict(model=f"text zero-shot ({encoder_name}: descriptions + keywords), T = 1", items=len(test), fit_s=None,
                 **scores(raw, y_test))]
    calib = [i for p in pool.values() for i in p]
    y_cal = np.array([index[data.labels[i]] for i in calib])
    t = fit_temperature(softmax(unit_rows(feats[calib]) @ prior.T / DEFAULT_SCALE), y_cal)
    rows.append(dict(model=f"text zero-shot ({encoder_name}), T = {t:.2f} fitted on 20 per interest", items=len(test), fit_s=None,
                     **scores(apply_temperature(raw, t), y_test)))
    rows += few_shot_rows(f"text ({encoder_name})", feats, data.labels, names, test, pool, prior, args.seeds, len(test))
    log(f"captions embedded by {encoder_name} in {embed_seconds:.1f} s ({len(used)} captions)")
    return rows, embed_seconds


def image_rows(args, taxonomy, cache, built, log):
    from interestkit import hooks
    from interestkit.app.examples import Examples
    from interestkit.app.zeroshot import build_image
    from interestkit.data.datasets import load_image_dataset
    from interestkit.modeling.calibration import apply_temperature, fit_temperature
    from interestkit.modeling.features import image_features

    data = load_image_dataset(args.photos)
    present = [n for n in taxonomy.names if n in set(data.labels)]
    test, pool = split(data.labels, args.eval_photos_per_interest, 20)
    used = sorted(set(test) | {i for p in pool.values() for i in p})
    info = hooks.get("encoder", "efficientnet_lite0")
    encoder = info.cls()
    model = encoder.build(None)
    log(f"photos: {len(test)} held out, {len(used) - len(test)} in the example pool; Lite0 features")
    started = time.perf_counter()
    feats, kept, failures = image_features(lambda px: np.asarray(model.predict(px, batch_size=64, verbose=0)),
                                           [data.inputs[i] for i in used], int(encoder.image_size()),
                                           int(model.output_shape[-1]), cache, encoder.identity(), "skip", log)
    seconds = time.perf_counter() - started
    full = np.zeros((len(data.labels), feats.shape[1]), np.float32)
    ok = set()
    for row, k in enumerate(kept):
        full[used[k]] = feats[row]
        ok.add(used[k])
    test = [i for i in test if i in ok]
    pool = {label: [i for i in p if i in ok] for label, p in pool.items()}
    prior = np.zeros((len(present), feats.shape[1]), np.float32)
    rows = few_shot_rows("photo", full, data.labels, present, test, pool, prior, args.seeds, len(test))
    for row in rows:
        row["model"] += f" ({len(present)} interests with photos)"
    zero = build_image(taxonomy, Examples(), kind="zero-shot", built=built, log=log)
    model = zero.model
    index = {n: i for i, n in enumerate(model.labels)}
    y_test = np.array([index.get(data.labels[i], -1) for i in test])
    raw = model.probabilities(full[test], calibrated=False)
    unreachable = ", ".join(zero.unreachable) or "none"
    rows.append(dict(model=f"photo zero-shot (ImageNet classes mapped by MiniLM; unreachable: {unreachable}), T = 1",
                     items=len(test), fit_s=None, **scores(raw, y_test)))
    calib = [i for p in pool.values() for i in p if data.labels[i] in index]
    t = fit_temperature(model.probabilities(full[calib], calibrated=False),
                        np.array([index[data.labels[i]] for i in calib]))
    rows.append(dict(model=f"photo zero-shot, T = {t:.2f} fitted on 20 per interest", items=len(test), fit_s=None,
                     **scores(apply_temperature(raw, t), y_test)))
    log(f"photo features in {seconds:.1f} s ({len(used)} photos, {len(failures)} unreadable)")
    return rows, seconds


def user_rows(args, taxonomy_path, store, log):
    """hit@k on the dev users of the zero-shot text model and the 20-shot models."""
    from interestkit.app.evaluate import run_evaluation
    from interestkit.app.ranking import prepare
    from interestkit.ranking.options import RankingOptions
    from interestkit.app.zeroshot import zero_shot
    from interestkit.data.datasets import load_image_dataset, load_text_dataset

    users = Path(args.users)
    with tempfile.TemporaryDirectory() as tmp:
        examples = Path(tmp) / "examples.tsv"
        data = load_text_dataset(args.captions)
        _, pool = split(data.labels, args.eval_per_interest, 20)
        with examples.open("w", encoding="utf-8") as handle:
            handle.write("label\ttext\n")
            for label, indices in sorted(pool.items()):
                for i in indices:
                    handle.write(f"{label}\t{' '.join(data.inputs[i].split())}\n")
        photos = Path(tmp) / "photos"
        image_data = load_image_dataset(args.photos)
        _, photo_pool = split(image_data.labels, args.eval_photos_per_interest, 20)
        for label, indices in photo_pool.items():
            (photos / label).mkdir(parents=True)
            for i in indices:
                os.symlink(image_data.inputs[i], photos / label / Path(image_data.inputs[i]).name)
        zero = zero_shot(taxonomy_path, modality="both", kind="zero-shot", register=False, log=log)
        few = zero_shot(taxonomy_path, [examples, photos], modality="both", register=False, log=log)
        folders = {}
        for key, model in (("zero_text", zero[0]["model"]), ("zero_image", zero[1]["model"]),
                           ("few_text", few[0]["model"]), ("few_image", few[1]["model"])):
            folders[key] = str(model.save(Path(tmp) / key))
        rows = []
        for title, text_uri, image_uri, mode in (
                ("text zero-shot", folders["zero_text"], "", "text"),
                ("photo zero-shot (ImageNet mapping)", "", folders["zero_image"], "image"),
                ("fused: text + photo zero-shot (no example at all)", folders["zero_text"], folders["zero_image"],
                 "fused"),
                ("text few-shot (20 per interest)", folders["few_text"], "", "text"),
                ("photo few-shot (20 per interest)", "", folders["few_image"], "image"),
                ("fused: text zero-shot + photo few-shot", folders["zero_text"], folders["few_image"], "fused"),
                ("fused: text + photo few-shot", folders["few_text"], folders["few_image"], "fused")):
            prepared = prepare(users / "posts.jsonl", RankingOptions(mode=mode), text_model=text_uri, image_model=image_uri,
                               labels_path=users / "labels.tsv", log=log)
            table, _ = run_evaluation(prepared, users / "labels.tsv", mode, "score_sum", log=log)
            row = table[mode]
            rows.append({"model": title, "users": row["users"], "hit1": row["hit_at_1"], "hit3": row["hit_at_3"],
                         "hit5": row["hit_at_5"], "mrr": row["mrr"]})
    return rows


def yaml_to_registered(taxonomy_path, store):
    """Wall seconds of ``interestkit zero-shot --modality text`` in a fresh process (imports included)."""
    command = [str(ROOT / ".venv" / "bin" / "interestkit"), "zero-shot", "--modality", "text", "--format", "json"]
    if taxonomy_path:
        command += ["--taxonomy", str(taxonomy_path)]
    env = dict(os.environ, INTERESTKIT_REGISTRY=str(store))
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"zero-shot failed: {done.stderr.strip().splitlines()[-1]}")
    result = json.loads(done.stdout)[0]
    return seconds, result


def main():
    args = parse_args()
    if not Path(args.captions).is_file():
        print(f"no data at {args.captions}", file=sys.stderr)
        return 1
    skip = set(filter(None, args.skip.split(",")))
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="zs-bench-") as tmp:
        os.environ["INTERESTKIT_REGISTRY"] = str(Path(tmp) / "registry")
        os.environ["INTERESTKIT_CACHE_DIR"] = str(Path(tmp) / "cache")
        from interestkit.app.zeroshot import frozen_encoder
        from interestkit.modeling.cache import FeatureCache
        from interestkit.taxonomy import load_taxonomy

        taxonomy = load_taxonomy(args.taxonomy)
        rows, seconds, built = [], {}, {}
        if "text" not in skip:
            for name in filter(None, args.text_encoders.split(",")):
                _, _, encoder_model = frozen_encoder(name, "text", built=built)
                found, seconds[f"caption_features_{name}"] = text_rows(args, taxonomy, name, encoder_model, log)
                rows += found
        if "image" not in skip:
            found, seconds["photo_features"] = image_rows(args, taxonomy, FeatureCache(), built, log)
            rows += found
        print("\n## Per item\n")
        print_table([("model", "model", "{}"), ("items", "items", "{}"), ("top-1", "top1", "{:.3f}"),
                     ("top-5", "top5", "{:.3f}"), ("NLL", "nll", "{:.3f}"), ("refit s", "fit_s", "{:.4f}")], rows)
        if "users" not in skip:
            print("\n## Dev users\n")
            print_table([("model", "model", "{}"), ("users", "users", "{}"), ("hit@1", "hit1", "{:.3f}"),
                         ("hit@3", "hit3", "{:.3f}"), ("hit@5", "hit5", "{:.3f}"), ("MRR", "mrr", "{:.3f}")],
                        user_rows(args, args.taxonomy, Path(tmp) / "registry", log))
        if "timing" not in skip:
            wall, result = yaml_to_registered(args.taxonomy, Path(tmp) / "timing-registry")
            print(f"\nYAML to registered model (interestkit zero-shot --modality text, fresh process): {wall:.1f} s "
                  f"-> {result['name']} v{result['version']} ({result['kind']}, {result['interests']} interests); "
                  f"{result['seconds']:.1f} s of it from reading the file to the registered version (importing "
                  "TensorFlow and building MiniLM included)")
        print(f"\nfeature seconds: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
