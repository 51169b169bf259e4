"""Runtime benchmark: TensorFlow against the ONNX export, every figure side by side in one run.

    .venv/bin/python benchmarks/runtime.py --store DIR [--data ../shared/data] [--user-photos 0]
    .venv/bin/python benchmarks/runtime.py --store DIR --quick      # every section, small: checks the script

The full run (docs/benchmarks.md, "Runtimes" and "Engines") is the command without ``--quick``.

``--store`` is an interestkit store whose text and image champions have exports
(``interestkit models export``). The image champion must have been trained on
``../shared/data/images/train`` with ``--seed S`` (``--seed``, default 0) and the default
validation fraction, so that its validation split is known. Rows:

- photos: the encoder alone on decoded pixels, ms/photo at batch 64 (128 validation
  photos) and at batch 1 (median of 10), the best of ``--rounds`` rounds that take the
  runtimes in turn; top-1 of encoder + head on the validation
  split; TensorFlow (float32, one compiled call), ONNX float32 and ONNX int8. The int8
  graph is quantised again here, calibrated on 200 photos of the training split only.
- dev users' photos: top-1 against ``post_truth.tsv``'s ``photo_interest`` (labels the model knows).
- captions: encoder + head, ms/caption at batch 64 and batch 1; top-1 on 2,000 captions.
- MiniLM (``--minilm``: the recommended caption recipe, trained on ``--minilm-split``'s
  ``train.tsv``): captions/s and ms/caption at batch 64 and 1 and top-1 on its
  ``holdout.tsv``, TensorFlow against ONNX Runtime.
- cold commands: wall time (best and median of ``--repeats``) and CPU time of
  ``interestkit predict "..."`` and ``predict --image`` in fresh processes, and
  ``interestkit batch --engine local`` posts/s over the dev users' 800 posts;
  ``--cold-only auto`` (or ``auto,tf``) measures only the two cold ``predict`` commands;
- users: the dev users' top-5 from ``interestkit rank``, TensorFlow against the export;
- LiteRT (``ai-edge-litert``, XNNPACK): the photo encoder converted from Keras, float32 and
  int8, as extra photo rows where it is installed (``benchmarks/litert.py``);
- engines (``benchmarks/engines.py``): ``interestkit batch`` posts/s with the local engine
  and on Spark ``--master``, one Spark Python worker's peak memory, and ``serve``
  updates/s, p50 and p99 at ``--clients`` clients for caption and photo updates, each on
  the TensorFlow path and on the export, and the goals met or not. The store must also
  hold a hybrid built from the champions (``interestkit models build-hybrid``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA = ROOT.parent / "shared" / "data"
BIN = Path(sys.executable).parent / "interestkit"

from bench_common import print_table  # noqa: E402


COLD_COLUMNS = [("command", "what", "{}"), ("wall s, best", "wall", "{:.2f}"), ("wall s, median", "median", "{:.2f}"),
                ("CPU s (user+sys), best run", "cpu", "{:.2f}")]
#: CPU ms per item (all of this process's threads) of the last ``per_item`` call: what an item costs
#: in core time, which a loaded machine inflates far less than wall time
LAST_CPU = [None]


def per_item(function, inputs, batch):
    """(ms per item, outputs) running ``function`` over ``inputs`` in batches of ``batch`` (after a warm-up call)."""
    function(inputs[:batch])
    started, cpu = time.perf_counter(), time.process_time()
    outputs = [function(inputs[start:start + batch]) for start in range(0, len(inputs), batch)]
    LAST_CPU[0] = (time.process_time() - cpu) / len(inputs) * 1000
    return (time.perf_counter() - started) / len(inputs) * 1000, np.concatenate(outputs)


def single(function, inputs, repeats=20):
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        function(inputs[i % len(inputs):i % len(inputs) + 1])
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def cold(args, env, repeats=2):
    """``{"wall", "median", "cpu"}`` of fresh ``interestkit`` processes: the best and the median wall
    time, and the user+system CPU time of the best run (the machine may be shared: CPU time is
    what load does not inflate)."""
    runs = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([str(BIN), *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        runs.append((took, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    best = min(runs)
    return {"wall": best[0], "median": float(np.median([r[0] for r in runs])), "cpu": best[1]}


def champion_folder(name):
    from interestkit.tracking.exports import model_root

    return model_root(f"models:/{name}@champion") / "artifacts" / "model"


def load_three(folder, calibration_pixels):
    """TensorFlow, ONNX float32 and ONNX int8 (re-quantised on ``calibration_pixels``) models of ``folder``."""
    from interestkit.modeling.model import InterestModel
    from interestkit.runtime.export import quantise
    from interestkit.runtime.onnx_model import ExportedModel

    copy = Path(tempfile.mkdtemp(prefix="runtime-bench-")) / "model"
    shutil.copytree(folder, copy)
    models = {"tensorflow float32": InterestModel.load(copy), "onnx float32": ExportedModel.load(copy, "float32")}
    if calibration_pixels is not None:
        quantise(copy / "export" / "encoder.onnx", copy / "export" / "encoder.int8.onnx", calibration_pixels)
        models["onnx int8"] = ExportedModel.load(copy, "int8")
    return models


def encoder_call(model):
    if hasattr(model, "encoder_model"):
        return lambda x: model._predict(model.encoder_model, x)
    return lambda x: model.encoder(x, 64)


def photos(args, rows):
    from interestkit.data.datasets import load_image_dataset
    from interestkit.data.images import load_images
    from interestkit.data.splits import stratified_split

    folder = champion_folder("interestkit-image")
    meta = json.loads((folder / "meta.json").read_text())
    size = int(meta["image_size"])
    dataset = load_image_dataset(DATA / "images" / "train", checked=False)
    train_idx, val_idx = stratified_split(dataset.labels, args.val_split, args.seed)
    rng = np.random.default_rng(0)
    calibration = [dataset.inputs[i] for i in rng.choice(train_idx, args.calibration, replace=False)]
    calib_pixels, _, _ = load_images(calibration, size)
    val_pixels, kept, _ = load_images([dataset.inputs[i] for i in val_idx[:args.val_photos or None]], size)
    truth = np.array([meta["labels"].index(dataset.labels[val_idx[k]]) for k in kept])
    user_sources, user_truth = user_photos(meta["labels"], args.user_photos)
    user_pixels, user_kept, _ = load_images(user_sources, size)
    models = load_three(folder, calib_pixels)
    encoders = {name: (encoder_call(model), model) for name, model in models.items()}
    if args.litert:
        import litert

        problem = litert.note()
        if problem:
            print(problem, flush=True)
        else:  # LiteRT encoders, with the float32 ONNX head
            head = models["onnx float32"]
            keras_encoder = models["tensorflow float32"].encoder_model
            encoders.update({name: (encode, head) for name, encode in
                             litert.encoders(keras_encoder, calib_pixels, log=print).items()})
    found = {}
    for name, (encode, model) in encoders.items():
        _, features = per_item(encode, val_pixels, 64)
        top1 = float((model.predict_features(features).argmax(1) == truth).mean())
        user_top1 = float((model.predict_features(encode(user_pixels)).argmax(1)
                           == user_truth[user_kept]).mean()) if len(user_kept) else None
        found[name] = {"what": f"photos, {name}", "b64": None, "cpu64": None, "b1": None, "top1": top1, "users": user_top1,
                       "n": len(truth)}
    # timings: rounds that take the runtimes in turn, the best of each kept (the machine is shared)
    for _ in range(args.rounds):
        for name, (encode, _) in encoders.items():
            b64 = per_item(encode, val_pixels[:128], 64)[0]
            cpu = LAST_CPU[0]
            b1 = single(encode, val_pixels, 10)
            row = found[name]
            row["cpu64"] = cpu if row.get("cpu64") is None else min(row["cpu64"], cpu)
            row["b64"] = b64 if row["b64"] is None else min(row["b64"], b64)
            row["b1"] = b1 if row["b1"] is None else min(row["b1"], b1)
    for row in found.values():
        rows.append(row)
        print(row, flush=True)


def user_photos(labels, limit):
    truth = {r["post_id"]: r["photo_interest"] for r in csv.DictReader(open(DATA / "users" / "post_truth.tsv"),
                                                                          delimiter="\t")}
    sources, answers = [], []
    for line in open(DATA / "users" / "posts.jsonl"):
        post = json.loads(line)
        interest = truth.get(post["post_id"])
        if post.get("image") and interest in labels:
            sources.append(DATA / "users" / post["image"])
            answers.append(labels.index(interest))
    if limit:
        sources, answers = sources[:limit], answers[:limit]
    return sources, np.array(answers)


def captions(args, rows):
    from interestkit.modeling.model import InterestModel
    from interestkit.runtime.onnx_model import ExportedModel

    folder = champion_folder("interestkit-text")
    meta = json.loads((folder / "meta.json").read_text())
    table = list(csv.DictReader(open(DATA / "text" / "train.tsv"), delimiter="\t"))
    sample = [table[i] for i in np.random.default_rng(1).choice(len(table), args.captions, replace=False)]
    texts = [r["text"] for r in sample if r["label"] in meta["labels"]]
    truth = np.array([meta["labels"].index(r["label"]) for r in sample if r["label"] in meta["labels"]])
    for name, model in (("tensorflow float32", InterestModel.load(folder)), ("onnx float32", ExportedModel.load(folder))):
        predict = model.predict_sentences
        b64, probs = per_item(predict, texts, 64)
        cpu = LAST_CPU[0]
        b1 = single(predict, texts)
        top1 = float((probs.argmax(1) == truth).mean())
        rows.append({"what": f"captions ({meta.get('plugin')}), {name}", "b64": b64, "cpu64": cpu, "b1": b1,
                     "top1": top1, "users": None, "n": len(truth)})
        print(rows[-1], flush=True)


def minilm_split(out: Path, train_rows=6000, holdout_rows=2000, seed=0):
    """Disjoint random samples of train.tsv: ``out/train.tsv`` to train the recommended recipe on
    and ``out/holdout.tsv`` to measure it on (the same files for the same seed)."""
    table = list(csv.DictReader(open(DATA / "text" / "train.tsv", encoding="utf-8"), delimiter="\t"))
    order = np.random.default_rng(seed).permutation(len(table))
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", order[:train_rows]), ("holdout.tsv", order[train_rows:train_rows + holdout_rows])):
        with open(out / name, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["label", "text"])
            writer.writerows([table[i]["label"], table[i]["text"]] for i in rows)
        print(f"{out / name}: {len(rows)} captions", flush=True)


def minilm(args, rows, repeats=3):
    """The recommended caption model (minilm + mlp) on TensorFlow and on its export: captions/s and
    ms/caption at batch 1 and 64 (encoder + head, the best of ``repeats`` rounds taking the runtimes
    in turn), and top-1 on the held-out captions."""
    from interestkit.modeling.model import InterestModel
    from interestkit.runtime.onnx_model import ExportedModel
    from interestkit.tracking.exports import model_root

    folder = Path(args.minilm)
    if args.minilm.startswith(("models:/", "runs:/")):
        folder = model_root(args.minilm) / "artifacts" / "model"
    meta = json.loads((folder / "meta.json").read_text())
    table = list(csv.DictReader(open(args.minilm_eval, encoding="utf-8"), delimiter="\t"))
    known = [r for r in table if r["label"] in meta["labels"]]
    texts, truth = [r["text"] for r in known], np.array([meta["labels"].index(r["label"]) for r in known])
    models = {"tensorflow float32": InterestModel.load(folder), "onnx float32": ExportedModel.load(folder)}
    timed = texts[:512]
    best = {name: {"b64": np.inf, "cpu64": np.inf, "b1": np.inf} for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            best[name]["b64"] = min(best[name]["b64"], per_item(model.predict_sentences, timed, 64)[0])
            best[name]["cpu64"] = min(best[name]["cpu64"], LAST_CPU[0])
            best[name]["b1"] = min(best[name]["b1"], single(model.predict_sentences, timed, 40))
    for name, model in models.items():
        probs = model.predict_sentences(texts)
        top1 = float((probs.argmax(1) == truth).mean())
        rows.append({"what": f"captions (minilm + mlp), {name}", **best[name], "top1": top1, "users": None,
                     "n": len(truth), "rate64": 1000 / best[name]["b64"], "rate1": 1000 / best[name]["b1"]})
        print(rows[-1], flush=True)


def commands(env, rows, users, timing=True):
    photo = next(p for p in sorted((DATA / "users" / "media").glob("*.jpg")))
    posts = DATA / "users" / "posts.jsonl"
    for runtime in ("tf", "auto"):
        label = "tensorflow" if runtime == "tf" else "export"
        if timing:
            timed_commands(env, rows, runtime, label, photo, posts)
        done = subprocess.run([str(BIN), "rank", "--runtime", runtime, "--posts", str(posts), "--format", "json",
                               "--media-root", str(DATA / "users")], env=env, check=True, capture_output=True, text=True)
        users[label] = {u["user_id"]: [i["interest"] for i in u["interests"]] for u in json.loads(done.stdout)}


def timed_commands(env, rows, runtime, label, photo, posts, repeats=2, batch=True):
    for what, args in ((f"cold predict \"caption\", {label}", ["Landed a huge bass at the lake this morning"]),
                       (f"cold predict --image, {label}", ["--image", str(photo)])):
        rows.append({"what": what, **cold(["predict", "--runtime", runtime, *args], env, repeats)})
        print(rows[-1], flush=True)
    if not batch:
        return
    out = Path(tempfile.mkdtemp(prefix="runtime-batch-")) / "out"
    timed = cold(["batch", "--runtime", runtime, "--engine", "local", "--posts", str(posts), "--out", str(out),
                  "--media-root", str(DATA / "users")], env, repeats=1)
    rows.append({"what": f"batch --engine local (800 posts), {label}", **timed, "rate": 800 / timed["wall"]})
    print(rows[-1], flush=True)


def cold_only(env, rows, runtimes, repeats):
    """Only the cold ``predict`` timings, ``repeats`` fresh processes each (the OS file cache warm
    after a first, untimed run of each)."""
    photo = next(p for p in sorted((DATA / "users" / "media").glob("*.jpg")))
    for runtime in runtimes:
        label = "tensorflow" if runtime == "tf" else "export"
        cold(["predict", "--runtime", runtime, "warm the file cache"], env, repeats=1)
        timed_commands(env, rows, runtime, label, photo, None, repeats, batch=False)


SECTIONS = ("photos", "captions", "commands", "users", "engines")
QUICK = dict(rounds=1, calibration=32, val_photos=32, captions=300, user_photos=16, batch_posts=200,
             serve_seconds=3.0, sections="photos,captions,engines")


def price(rows, posts=200_000_000):
    """docs/scaling.md's arithmetic: core-hours to score ``posts`` posts (the dev users' shares of photos
    and captions) at each runtime's CPU ms per photo and per caption (batch 64)."""
    found = [json.loads(line) for line in open(DATA / "users" / "posts.jsonl")]
    shares = {"photos": sum(bool(p.get("image")) for p in found) / len(found),
              "captions": sum(bool(p.get("text")) for p in found) / len(found)}
    cpu = {r["what"]: r.get("cpu64") for r in rows}
    pairs = {"TensorFlow": ("photos, tensorflow float32", "tensorflow float32"),
             "export": ("photos, onnx int8", "onnx float32")}
    print(f"\n{posts:,} posts a night: {shares['photos']:.3f} with a photo, {shares['captions']:.3f} with a caption")
    for label, (photo, caption) in pairs.items():
        caption_row = next((w for w in cpu if w.startswith("captions") and w.endswith(caption)), None)
        if cpu.get(photo) is None or caption_row is None:
            continue
        photo_h = posts * shares["photos"] * cpu[photo] / 3.6e6
        caption_h = posts * shares["captions"] * cpu[caption_row] / 3.6e6
        print(f"  {label}: {posts * shares['photos']:,.0f} photos x {cpu[photo]:.2f} CPU ms = {photo_h:,.0f} core-h; "
              f"{posts * shares['captions']:,.0f} captions x {cpu[caption_row]:.3f} CPU ms = {caption_h:,.0f} core-h; "
              f"{photo_h + caption_h:,.0f} core-h in all")


def main():
    global DATA
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="interestkit store with exported champions")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the real data (default {DATA})")
    parser.add_argument("--seed", type=int, default=0, help="the image champion's training seed")
    parser.add_argument("--val-split", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds of the photo encoders (best kept)")
    parser.add_argument("--users-only", action="store_true", help="only the users' top-5 comparison")
    parser.add_argument("--no-commands", action="store_true", help="leave out the cold-command and batch timings")
    parser.add_argument("--user-photos", type=int, default=0, help="dev users' photos scored (0: all)")
    parser.add_argument("--cold-only", default=None, metavar="RUNTIMES",
                        help="only the cold predict timings, for these runtimes (e.g. auto or auto,tf)")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per cold command (best kept)")
    parser.add_argument("--minilm-split", type=Path, help="write the recommended recipe's train.tsv and holdout.tsv "
                                                          "there, then stop")
    parser.add_argument("--minilm", help="the recommended caption model (a model folder or models:/ URI) with an "
                                         "export: its rows only")
    parser.add_argument("--minilm-eval", type=Path, help="held-out captions for --minilm's top-1 (--minilm-split)")
    parser.add_argument("--calibration", type=int, default=200, help="training photos the int8 graphs calibrate on")
    parser.add_argument("--val-photos", type=int, default=0, help="validation photos scored (0: all)")
    parser.add_argument("--captions", type=int, default=2000, help="captions scored")
    parser.add_argument("--no-litert", dest="litert", action="store_false", help="leave out the LiteRT rows")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--batch-posts", type=int, default=3000, help="posts of the batch runs (dev users' replicated)")
    parser.add_argument("--master", default="local[2]", help="the Spark master of the batch rows")
    parser.add_argument("--clients", type=int, default=16, help="serve's concurrent clients")
    parser.add_argument("--serve-seconds", type=float, default=10.0, help="seconds of load per runtime and kind")
    parser.add_argument("--engines", default="batch,serve", help="engines measured: batch, serve or both")
    parser.add_argument("--runtimes", default="tf,onnx", help="the engines' runtimes: tf (TensorFlow), onnx (export)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (explicit options win), to check the script: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    if "--quick" in sys.argv[1:]:  # smaller defaults; options given explicitly still win
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    if args.users_only:
        sections = {"users"}
    if args.no_commands:
        sections.discard("commands")
    DATA = args.data
    if args.minilm_split:
        return minilm_split(args.minilm_split)
    if args.minilm:
        os.environ["INTERESTKIT_REGISTRY"] = args.store
        print(f"load average at start: {os.getloadavg()}", flush=True)
        rows = []
        minilm(args, rows)
        print(f"load average at end: {os.getloadavg()}\n")
        return print_table([("what", "what", "{}"), ("captions/s batch 64", "rate64", "{:.1f}"),
                            ("ms/caption batch 64", "b64", "{:.2f}"), ("CPU ms/caption batch 64", "cpu64", "{:.2f}"),
                            ("captions/s batch 1", "rate1", "{:.1f}"),
                            ("ms/caption batch 1", "b1", "{:.2f}"), ("top-1 held out", "top1", "{:.4f}"),
                            ("held-out captions", "n", "{}")], rows)
    os.environ["INTERESTKIT_REGISTRY"] = args.store
    env = {**os.environ, "INTERESTKIT_CACHE_DIR": tempfile.mkdtemp(prefix="runtime-cache-")}
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows, users, timed = [], {}, []
    if args.cold_only:
        timed = []
        cold_only(env, timed, args.cold_only.split(","), args.repeats)
        print(f"load average at end: {os.getloadavg()}\n")
        print_table(COLD_COLUMNS, timed)
        return
    if "photos" in sections:
        photos(args, rows)
    if "captions" in sections:
        captions(args, rows)
    if sections & {"commands", "users"}:
        commands(env, timed, users, timing="commands" in sections)
    print(f"load average at end: {os.getloadavg()}")
    print()
    if rows:
        print_table([("what", "what", "{}"), ("ms/item batch 64", "b64", "{:.2f}"),
                     ("CPU ms/item batch 64", "cpu64", "{:.2f}"), ("ms/item batch 1", "b1", "{:.2f}"), ("top-1 validation", "top1", "{:.4f}"),
                     ("top-1 dev users' posts", "users", "{:.4f}"), ("validation items", "n", "{}")], rows)
        price(rows)
    print()
    if timed:
        print_table([*COLD_COLUMNS, ("posts/s", "rate", "{:.1f}")], [{"rate": None, **r} for r in timed])
    if "engines" in sections:
        print()
        import engines

        engines.run(args, env)
    if not users:
        return
    differ = sorted(u for u in users["tensorflow"] if users["tensorflow"][u] != users["export"].get(u))
    print(f"\nusers' top-5, export against TensorFlow: {len(users['tensorflow']) - len(differ)} of "
          f"{len(users['tensorflow'])} identical")
    for user in differ:
        print(f"  {user}: tensorflow {users['tensorflow'][user]} | export {users['export'].get(user)}")


if __name__ == "__main__":
    main()
