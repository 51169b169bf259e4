"""Batch benchmark: `interestkit batch` with the local engine and on Spark at local[1] and local[2].

    .venv/bin/python benchmarks/batch.py [--store DIR] [--posts 3000] [--masters local[1],local[2]]
        [--data ../shared/data] [--spark-only]

A master ``standalone[N]`` is a real standalone cluster started for the run
(``interestkit.testing.spark_cluster``: a master and one worker with N cores, separate
JVMs on 127.0.0.1), so ``--masters local[2],standalone[2] --spark-only`` compares
``local[2]`` with a cluster of the same cores side by side in one invocation.
``--spark-only`` leaves out the bare and local-engine rows.

The dev users' posts (``../shared/data/users``) are replicated under new user ids until
there are ``--posts`` of them. ``--store`` holds text and image champions; without one,
small ones are trained in a temporary store as ``benchmarks/serving.py`` does (bilstm on
6,000 captions; frozen efficientnet_lite0 on 900 photos). Rows:

- ``bare``: the two models in this process, one batched ``predict_texts`` over every
  caption and one ``predict_images`` over every photo (no feature cache): the floor
  (its load and warm-up reported apart);
- ``local``: ``interestkit batch --engine local`` (feature cache off, so replicated photos
  are computed again, as on Spark);
- ``spark MASTER``: a fresh session (its start-up is reported apart: the first one
  launches the JVM), a first run (which copies the models to the workers and loads them
  there) and a second, steady-state run. Each task's TensorFlow uses one thread (the
  session's settings), so N is the number of cores the scoring uses.

Every run (local and Spark) loads the models: on ``local[N]`` masters MLflow loads them
once per task, and the local engine once per run.

posts/s and users/s are of the steady run; ``vs bare`` is the bare forward pass's time
over the run's; peak memory is the largest resident set of this process and its children
(the JVM and its Python workers), sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_common import print_table, timed  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


class PeakMemory:
    """The largest summed RSS of this process and its descendants, from /proc."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
            except (OSError, ValueError, IndexError):
                continue
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier.extend(children)
        total = 0
        for pid in tree:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(0.2)

    def __enter__(self):
        self.peak = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def replicated_posts(target: Path, count: int, data: Path = DATA) -> tuple[int, int]:
    """The dev users' posts, replicated under new user and post ids, ``count`` posts in all."""
    source = [json.loads(line) for line in (data / "users" / "posts.jsonl").read_text().splitlines() if line.strip()]
    rows, copy = [], 0
    while len(rows) < count:
        for post in source:
            if len(rows) == count:
                break
            rows.append(dict(post, user_id=f"r{copy}-{post['user_id']}", post_id=f"r{copy}-{post['post_id']}"))
        copy += 1
    target.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows), len({r["user_id"] for r in rows})


def bare(posts_path: Path, uris: dict, data: Path = DATA) -> float:
    """Seconds of one batched forward pass of each model over the posts (no feature cache)."""
    from interestkit import tracking

    posts = [json.loads(line) for line in posts_path.read_text().splitlines()]
    started = time.perf_counter()
    text, _ = tracking.load_interest_model(uris["text"])
    image, _ = tracking.load_interest_model(uris["image"])
    captions = [p["text"] for p in posts if p.get("text")]
    photos = [data / "users" / p["image"] for p in posts if p.get("image")]
    text.predict_texts(captions[:32])
    image.predict_images(photos[:8])  # warm-up: graphs traced, weights in memory
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    text.predict_texts(captions)
    middle = time.perf_counter()
    image.predict_images(photos)
    done = time.perf_counter()
    print(f"bare models: {len(captions)} captions in {middle - started:.1f}s, {len(photos)} photos in "
          f"{done - middle:.1f}s", flush=True)
    return done - started, loaded


@contextlib.contextmanager
def cluster_for(master: str, work: Path):
    """``master`` itself, or for ``standalone[N]`` the URL of a standalone cluster of N cores started for it."""
    match = re.fullmatch(r"standalone\[(\d+)\]", master)
    if not match:
        yield master
        return
    from interestkit.testing.spark_cluster import standalone_cluster

    with standalone_cluster(work / f"cluster-{match.group(1)}", cores=int(match.group(1))) as url:
        yield url


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="MLflow store with text and image champions")
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--masters", default="local[1],local[2]",
                        help="Spark masters, comma-separated; standalone[N]: a standalone cluster of N cores")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (with users/posts.jsonl)")
    parser.add_argument("--spark-only", action="store_true", help="leave out the bare and local-engine rows")
    args = parser.parse_args(argv)
    data = args.data
    if not (data / "users" / "posts.jsonl").exists():
        sys.exit(f"{data}/users is not here: the benchmark replicates the dev users' posts")
    work = Path(tempfile.mkdtemp(prefix="interestkit-batch-bench-"))
    store = args.store or work / "store"
    os.environ["INTERESTKIT_REGISTRY"] = str(store)
    os.environ["INTERESTKIT_CACHE_DIR"] = str(work / "cache")
    if args.store is None:
        from serving import train_champions

        train_champions(data, dict(os.environ))
    uris = {"text": "models:/interestkit-text@champion", "image": "models:/interestkit-image@champion"}
    posts_path = work / "posts.jsonl"
    n_posts, n_users = replicated_posts(posts_path, args.posts, data)
    print(f"{n_posts} posts of {n_users} users ({data}/users replicated); load average {os.getloadavg()[0]:.1f}",
          flush=True)

    import interestkit.spark.batch  # noqa: F401 (registers the spark engine)
    from interestkit.app.batch import batch
    from interestkit.spark import session

    common = dict(text_model=uris["text"], image_model=uris["image"], media_root=str(data / "users"),
                  overwrite=True)
    rows = []
    floor = None
    if not args.spark_only:
        floor, loaded = bare(posts_path, uris, data)
        print(f"bare models: loaded and warmed up in {loaded:.1f}s, forward pass {floor:.1f}s", flush=True)
        rows.append({"engine": "bare models", "start": None, "first": loaded, "steady": floor,
                     "posts_s": n_posts / floor, "users_s": n_users / floor, "vs_bare": 1.0, "peak": None})
        with PeakMemory() as memory:
            summary = batch(posts_path, work / "out-local", engine="local", cache=False, **common)
        rows.append({"engine": "local", "start": None, "first": None, "steady": summary["seconds"],
                     "posts_s": n_posts / summary["seconds"], "users_s": n_users / summary["seconds"],
                     "vs_bare": floor / summary["seconds"], "peak": memory.peak / 2**30})
        print(f"local: {summary['seconds']:.1f}s", flush=True)
    for master in args.masters.split(","):
        with PeakMemory() as memory, cluster_for(master, work) as url:
            spark, start = timed(session, url, work / f"logs-{master}")
            first = batch(posts_path, work / "out-spark", engine="spark", master=url, **common)["seconds"]
            steady = batch(posts_path, work / "out-spark", engine="spark", master=url, **common)["seconds"]
            spark.stop()
        rows.append({"engine": f"spark {master}", "start": start, "first": first, "steady": steady,
                     "posts_s": n_posts / steady, "users_s": n_users / steady,
                     "vs_bare": floor / steady if floor else None, "peak": memory.peak / 2**30})
        print(f"spark {master}: start {start:.1f}s, first {first:.1f}s, steady {steady:.1f}s; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    print()
    print_table([("engine", "engine", "{}"), ("session start s", "start", "{:.1f}"),
                 ("first run (bare: model load) s", "first", "{:.1f}"), ("steady run s", "steady", "{:.1f}"),
                 ("posts/s", "posts_s", "{:.1f}"), ("users/s", "users_s", "{:.2f}"),
                 ("vs bare", "vs_bare", "{:.2f}x"), ("peak memory GiB", "peak", "{:.2f}")], rows)
    local = next((row for row in rows if row["engine"] == "local"), None)
    for row in rows:
        if local and row["engine"].startswith("spark"):
            print(f"{row['engine']}: {row['posts_s'] / local['posts_s']:.2f}x the local engine's posts/s")
    spark_rows = {row["engine"][len("spark "):]: row for row in rows if row["engine"].startswith("spark ")}
    for master, row in spark_rows.items():
        match = re.fullmatch(r"standalone\[(\d+)\]", master)
        twin = spark_rows.get(f"local[{match.group(1)}]") if match else None
        if twin:
            print(f"spark {master} against local[{match.group(1)}]: steady {row['steady'] / twin['steady']:.2f}x the "
                  f"time, first run {row['first'] / twin['first']:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
