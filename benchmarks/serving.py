"""Serving benchmark: `interestkit serve` under single-post updates, against bare model calls.

    .venv/bin/python benchmarks/serving.py [--data ../shared/data] [--store DIR] [--posts N]

1. Unless ``--store`` already holds champions, trains them in a temporary store on the
   real data (bilstm on a stratified 20,000-caption sample, 4 epochs; efficientnet_lite0
   frozen) and builds the hybrid model (about 5 minutes on 2 CPU cores).
2. Starts ``interestkit serve`` on a free loopback port and replays the posts of
   ``<data>/users/posts.jsonl`` as single-post updates (photos inlined as data URIs), at 1,
   4 and 16 concurrent clients (each level replays the same posts under its own user ids),
   bounded by ``--posts`` per level and a 5-minute time limit per level.
3. Prints latency p50 / p95 / p99 and throughput per level, the bare in-process time of
   the same models on the same single posts (``HybridRanker.score``), and checks that no
   update was lost: every user's window holds min(20, posts sent) posts.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args, env):
    subprocess.run([str(BIN / "interestkit"), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def train_champions(data: Path, env):
    print("training champions (bilstm on 20,000 captions; frozen efficientnet_lite0) ...", flush=True)
    run("train", "--plugin", "bilstm", "--data", str(data / "text" / "train.tsv"), "--max-rows", "20000",
        "--epochs", "4", env=env)
    run("train", "--plugin", "efficientnet_lite0", "--data", str(data / "images" / "train"), "--epochs", "40", env=env)
    run("models", "build-hybrid", env=env)


def request_bodies(posts_file: Path, limit: int):
    rows = [json.loads(line) for line in posts_file.read_text().splitlines()][:limit]
    for row in rows:
        if row.get("image"):
            raw = (posts_file.parent / row["image"]).read_bytes()
            row["image"] = "data:image/jpeg;base64," + base64.b64encode(raw).decode()
    return rows


def post(url, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        status = response.status
    return time.perf_counter() - started, status


def replay(base, rows, clients, prefix, time_limit=300):
    """Send each post alone; users are split across clients so each user's order is kept."""
    by_user = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    users = sorted(by_user)
    latencies, failures = [], []
    deadline = time.time() + time_limit
    lock = threading.Lock()

    def client(mine):
        for user in mine:
            for row in by_user[user]:
                if time.time() > deadline:
                    return
                body = [{k: v for k, v in row.items() if k != "user_id"}]
                try:
                    seconds, status = post(f"{base}/users/{prefix}{user}/posts", body)
                except Exception as error:  # counted, not raised: the benchmark reports failures
                    with lock:
                        failures.append(str(error))
                    continue
                with lock:
                    (latencies if status == 200 else failures).append(seconds if status == 200 else status)

    threads = [threading.Thread(target=client, args=(users[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    return latencies, failures, time.perf_counter() - started, {u: len(by_user[u]) for u in users}


def check_windows(base, sent, prefix):
    lost = 0
    for user, count in sent.items():
        with urllib.request.urlopen(f"{base}/users/{prefix}{user}/interests", timeout=60) as response:
            body = json.loads(response.read())
        lost += body["posts_used"] != min(20, count)
    return lost


def bare_times(rows, env):
    """Seconds of the hybrid's own models on each single post, in-process (no HTTP, no DB)."""
    os.environ.update(env)
    from interestkit import tracking
    from interestkit.data.paths import MediaPolicy

    pipeline, _ = tracking.load_hybrid(media=MediaPolicy(allow_outside=True))
    times = []
    for row in rows:
        posts = pipeline.parse_records([row])
        started = time.perf_counter()
        pipeline.score(posts)
        times.append(time.perf_counter() - started)
    return times[3:]  # the first calls trace graphs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--store", type=Path, help="A store that already has champions and a hybrid model.")
    parser.add_argument("--posts", type=int, default=800, help="Posts replayed per concurrency level.")
    args = parser.parse_args()
    if not (args.data / "users" / "posts.jsonl").is_file():
        sys.exit(f"{args.data}: real data not found (expected users/posts.jsonl); nothing to measure")
    store = args.store or Path(tempfile.mkdtemp(prefix="ik-serving-"))
    env = dict(os.environ, INTERESTKIT_REGISTRY=str(store / "registry"),
               INTERESTKIT_CACHE_DIR=str(store / "cache"), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("MLFLOW_TRACKING_URI", None)
    if not (store / "registry" / "mlflow.db").is_file():
        train_champions(args.data, env)
    rows = request_bodies(args.data / "users" / "posts.jsonl", args.posts)
    port = free_port()
    server = subprocess.Popen([str(BIN / "interestkit"), "serve", "--port", str(port), "--db",
                               str(store / f"serving-{port}.db"), "--reload-seconds", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(1)
        warm = {k: v for k, v in rows[0].items() if k != "user_id"}
        post(f"{base}/users/warmup/posts", [dict(warm, post_id="warm")])
        print(f"\n{'clients':>7} {'updates':>8} {'failed':>6} {'lost':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'updates/s':>10}")
        for clients in (1, 4, 16):
            prefix = f"c{clients}-"
            latencies, failures, seconds, sent = replay(base, rows, clients, prefix)
            lost = check_windows(base, sent, prefix)
            ms = np.array(latencies) * 1000
            print(f"{clients:>7} {len(latencies):>8} {len(failures):>6} {lost:>4} {np.percentile(ms, 50):>8.1f} "
                  f"{np.percentile(ms, 95):>8.1f} {np.percentile(ms, 99):>8.1f} {len(latencies) / seconds:>10.1f}",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare = np.array(bare_times([dict(r) for r in rows[:200]], env)) * 1000
    print(f"\nbare in-process model time per single post (HybridRanker.score, {len(bare)} posts): "
          f"p50 {np.percentile(bare, 50):.1f} ms, p95 {np.percentile(bare, 95):.1f} ms")


if __name__ == "__main__":
    main()
