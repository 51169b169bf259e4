"""Serving benchmark: `interestkit serve` under single-post updates, against the bare models and a stateless peer.

    .venv/bin/python benchmarks/serving.py --store DIR [--duration 10] [--clients 1,4,16,64]

``--store`` holds champions and a hybrid (``interestkit models build-hybrid``); without
one, small champions are trained in a temporary store on the real data (bilstm on 6,000
captions, 2 epochs; frozen efficientnet_lite0 on 900 photos) and the hybrid is built.
For each kind of post (``caption``: captions only; ``photo``: posts with a photo, inlined
as ``image_b64`` with 8 random bytes after the image's end, so that no feature cache knows
it, with their caption if any) and each number of clients, clients loop for
``--duration`` seconds on loopback keep-alive connections:

- ``serve``: each update is one new post (``POST /users/{id}/posts``); each client moves to
  a new user every 20 posts, so every acknowledged post must be in the answer's and the
  final ``window`` (lost = acknowledged posts missing from it);
- ``peer``: ``mlflow models serve`` of the same hybrid; each update sends the user's whole
  window (up to 20 posts) to ``/invocations`` (stateless);
- ``bare``: the same models in-process, ``pipeline.score`` on batches of 64 posts (the
  limit), and on one post at a time (``single`` p50), before the servers run and after
  (the ratios use their mean: the load of a shared machine moves).

Prints one Markdown table, the load average before and after, and the goals' ratios.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WINDOW = 20


def run(*args, env):
    subprocess.run([str(BIN / "interestkit"), *args], env=env, check=True, stdout=subprocess.DEVNULL)


def train_champions(data: Path, env):
    print("training small champions (bilstm on 6,000 captions; frozen efficientnet_lite0 on 900 photos) ...",
          flush=True)
    run("train", "--plugin", "bilstm", "--data", str(data / "text" / "train.tsv"), "--max-rows", "6000",
        "--epochs", "2", env=env)
    run("train", "--plugin", "efficientnet_lite0", "--data", str(data / "images" / "train"), "--max-rows", "900",
        "--epochs", "5", env=env)
    run("models", "build-hybrid", env=env)


def posts_of(data: Path, kind: str) -> list[dict]:
    """The users' posts as request records: captions only, or posts with a photo (inlined)."""
    rows = [json.loads(line) for line in (data / "users" / "posts.jsonl").read_text().splitlines()]
    out = []
    for row in rows:
        record = {"post_id": row["post_id"], "text": row.get("text"), "created_at": row.get("created_at")}
        if kind == "caption" and row.get("text"):
            out.append(record)
        elif kind == "photo" and row.get("image"):
            record["photo"] = (data / "users" / row["image"]).read_bytes()
            out.append(record)
    return out


class Client:
    """One keep-alive connection; ``post`` -> (seconds, status, JSON body)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path, body):
        data = json.dumps(body).encode()
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, data, {"Content-Type": "application/json"})
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return time.perf_counter() - started, 0, None
        seconds = time.perf_counter() - started
        return seconds, response.status, json.loads(payload) if response.status == 200 else None

    def get(self, path):
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def load(port, rows, clients, duration, kind, stateful: bool):
    """Closed-loop clients for ``duration`` s: latencies, errors, {user: acknowledged ids}."""
    latencies, errors, acknowledged, lock = [], [0], {}, threading.Lock()
    deadline = time.time() + duration

    def client(index):
        me, n, window = Client(port), 0, []
        while time.time() < deadline:
            row = dict(rows[(index * 7919 + n) % len(rows)], post_id=f"{kind}-{clients}-{index}-{n}")
            if "photo" in row:  # bytes after the image's end: a new photo to every cache, the same pixels
                row["image_b64"] = base64.b64encode(row.pop("photo") + os.urandom(8)).decode()
            user = f"{kind}-{clients}-{index}-u{n // WINDOW}"
            if stateful:
                seconds, status, body = me.post(f"/users/{user}/posts", [row])
                ok = status == 200 and row["post_id"] in body["window"]
            else:
                window = (window if n % WINDOW else [])[-(WINDOW - 1):] + [dict(row, user_id=user)]
                seconds, status, body = me.post("/invocations", {"dataframe_records": window})
                ok = status == 200
            with lock:
                if ok:
                    latencies.append(seconds)
                    acknowledged.setdefault(user, []).append(row["post_id"])
                else:
                    errors[0] += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    return latencies, errors[0], acknowledged, time.perf_counter() - started


def lost_updates(port, acknowledged):
    client, lost = Client(port), 0
    for user, ids in acknowledged.items():
        status, body = client.get(f"/users/{user}/interests")
        lost += len(set(ids) - set(body.get("window", []))) if status == 200 else len(ids)
    return lost


def wait_for(port, path, process, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"no answer on port {port}{path}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_BARE = None


def bare(env, rows_by_kind, duration):
    """{kind: (posts/s on batches of 64, p50 ms of one post)} of the hybrid's own models, in-process."""
    os.environ.update(env)
    from interestkit import tracking
    from interestkit.modeling.cache import FeatureCache

    global _BARE
    if _BARE is None:
        _BARE = tracking.load_hybrid(cache=FeatureCache(enabled=False))[0]  # every photo computed
    pipeline = _BARE
    result = {}
    for kind, rows in rows_by_kind.items():
        records = [{k: v for k, v in r.items() if k != "photo"} for r in rows[:256]]
        for record, r in zip(records, rows):
            if "photo" in r:
                record["image_b64"] = base64.b64encode(r["photo"]).decode()
        posts = pipeline.parse_records([dict(r, user_id="u") for r in records])
        for _ in range(3):
            pipeline.score(posts[:64])
            pipeline.score(posts[:1])
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < duration:
            batch = [posts[(done + i) % len(posts)] for i in range(64)]
            pipeline.score(batch)
            done += 64
        rate = done / (time.perf_counter() - started)
        single = []
        for post in posts[:100]:
            t = time.perf_counter()
            pipeline.score([post])
            single.append(time.perf_counter() - t)
        result[kind] = (rate, float(np.percentile(single, 50)) * 1000)
    return result


def row(server, kind, clients, latencies, errors, lost, seconds):
    ms = np.array(latencies or [np.nan]) * 1000
    return {"server": server, "posts": kind, "clients": clients, "updates/s": len(latencies) / seconds,
            "p50 ms": float(np.percentile(ms, 50)), "p99 ms": float(np.percentile(ms, 99)), "errors": errors,
            "lost": lost}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--store", type=Path, help="A store that already has champions and a hybrid model.")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per server, kind and level.")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--kinds", default="caption,photo")
    parser.add_argument("--no-peer", action="store_true", help="Skip mlflow models serve.")
    parser.add_argument("--peer-photo-clients", default="1,4",
                        help="Levels of the peer with photos (each of its updates re-scores up to 20 photos).")
    parser.add_argument("--serve-args", default="", help="Extra options for interestkit serve, e.g. '--batch-wait-ms 5'.")
    args = parser.parse_args()
    if not (args.data / "users" / "posts.jsonl").is_file():
        sys.exit(f"{args.data}: real data not found (expected users/posts.jsonl); nothing to measure")
    store = args.store or Path(tempfile.mkdtemp(prefix="ik-serving-"))
    env = dict(os.environ, INTERESTKIT_REGISTRY=str(store / "registry"), INTERESTKIT_CACHE_DIR=str(store / "cache"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MLFLOW_TRACKING_URI=f"sqlite:///{store}/registry/mlflow.db")
    if not (store / "registry" / "mlflow.db").is_file():
        train_champions(args.data, env)
    levels = [int(c) for c in args.clients.split(",")]
    kinds = args.kinds.split(",")
    rows = {kind: posts_of(args.data, kind) for kind in kinds}
    print(f"load average before: {os.getloadavg()}", flush=True)
    limits_before = bare(env, rows, args.duration)  # the machine's load moves: measured before and after
    print(f"bare before: {limits_before}", flush=True)
    results = []
    port = free_port()
    state = tempfile.mkdtemp(prefix="ik-serving-state-")
    serve = subprocess.Popen([str(BIN / "interestkit"), "serve", "--port", str(port), "--state", f"{state}/serving.db",
                              "--reload-seconds", "0", "--no-access-log", *args.serve_args.split()],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(port, "/health", serve)
        for kind in kinds:
            load(port, rows[kind], 2, 2, f"warm{kind}", True)
            for clients in levels:
                latencies, errors, acknowledged, seconds = load(port, rows[kind], clients, args.duration, kind, True)
                results.append(row("serve", kind, clients, latencies, errors, lost_updates(port, acknowledged), seconds))
                print(results[-1], flush=True)
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    if not args.no_peer:
        port = free_port()
        peer = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                 "models:/interestkit-hybrid@champion", "--env-manager", "local", "--host",
                                 "127.0.0.1", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            wait_for(port, "/ping", peer)
            for kind in kinds:
                load(port, rows[kind], 2, 2, f"warm{kind}", False)
                peer_levels = [int(c) for c in args.peer_photo_clients.split(",")] if kind == "photo" else levels
                for clients in peer_levels:
                    latencies, errors, _, seconds = load(port, rows[kind], clients, args.duration, kind, False)
                    results.append(row("mlflow models serve (whole window)", kind, clients, latencies, errors, None,
                                       seconds))
                    print(results[-1], flush=True)
        finally:
            peer.terminate()
            peer.wait(timeout=60)
    limits_after = bare(env, rows, args.duration)
    print(f"bare after: {limits_after}")
    limits = {k: ((limits_before[k][0] + limits_after[k][0]) / 2, (limits_before[k][1] + limits_after[k][1]) / 2)
              for k in limits_after}
    print(f"load average after: {os.getloadavg()}\n")
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_common import print_table

    print_table([("server", "server", "{}"), ("posts", "posts", "{}"), ("clients", "clients", "{}"),
                 ("updates/s", "updates/s", "{:.1f}"), ("p50 ms", "p50 ms", "{:.1f}"), ("p99 ms", "p99 ms", "{:.1f}"),
                 ("errors", "errors", "{}"), ("lost", "lost", "{}")], results)
    print()
    for kind, (rate, single) in limits.items():
        print(f"bare forward, {kind}: {rate:.1f} posts/s in batches of 64; one post p50 {single:.1f} ms "
              f"(mean of before {limits_before[kind][0]:.1f} / {limits_before[kind][1]:.1f} ms and after "
              f"{limits_after[kind][0]:.1f} / {limits_after[kind][1]:.1f} ms)")
        ours = {r["clients"]: r for r in results if r["server"] == "serve" and r["posts"] == kind}
        peer = {r["clients"]: r for r in results if r["server"] != "serve" and r["posts"] == kind}
        best = max((r["updates/s"] for r in ours.values()), default=0)
        if 1 in ours:
            print(f"  single-client p50 / one bare post: {ours[1]['p50 ms'] / single:.2f}x (goal <= 1.3)")
        print(f"  best serve throughput / bare batched: {best / rate:.2f}x")
        if 16 in ours and 16 in peer:
            print(f"  16 clients: {ours[16]['updates/s']:.1f} updates/s, {ours[16]['updates/s'] / peer[16]['updates/s']:.1f}x "
                  "the peer (goal >= 150 and >= 3x for captions)")


if __name__ == "__main__":
    main()
