"""The engines on the TensorFlow path and on the export, side by side (``benchmarks/runtime.py`` calls it).

For each runtime (``--runtime tf``, then the export: ``onnx``), over the same posts:

- ``interestkit batch --engine local``: posts/s of one run (models loaded in it, feature
  cache off, so replicated photos are computed again, as on Spark);
- ``interestkit batch --engine spark --master local[2]``: a fresh session per runtime (its
  Python workers start empty), a first run (the workers load the models) and a steady
  run, whose posts/s is reported; and the peak resident memory (VmHWM) of the largest
  Spark Python worker of that session;
- ``interestkit serve --runtime R`` at ``clients`` closed-loop clients (``serving.load``):
  caption-only updates and photo updates (each photo new to every cache), updates/s and
  p50 / p99 latency.

The posts are the dev users' posts replicated under new ids (``batch.replicated_posts``);
the store holds text and image champions with exports and a hybrid built from them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from batch import replicated_posts  # noqa: E402
from serving import free_port, load, posts_of, wait_for  # noqa: E402

BIN = Path(sys.executable).parent / "interestkit"
LABEL = {"tf": "tensorflow", "onnx": "export"}
URIS = {"text": "models:/interestkit-text@champion", "image": "models:/interestkit-image@champion"}


class WorkerPeak:
    """The largest VmHWM (peak resident set) of this process's descendants running ``pyspark.daemon``
    (Spark's Python workers and the daemon they fork from), sampled every 0.2 s."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _descendants():
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
        found, frontier = set(), [os.getpid()]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
            found.update(children)
            frontier.extend(children)
        return found

    def sample(self):
        for pid in self._descendants():
            try:
                if b"pyspark.daemon" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except OSError:
                continue

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def batch_rates(posts_path, n_posts, media_root, work: Path, runtimes, master="local[2]") -> dict:
    """{runtime: {local, spark, spark_first, worker_gib}}: posts/s of the local engine and of Spark's steady run."""
    import interestkit.spark.batch  # noqa: F401 (registers the spark engine)
    from interestkit.app.batch import batch
    from interestkit.runtime.choice import forced
    from interestkit.spark import session

    common = dict(text_model=URIS["text"], image_model=URIS["image"], media_root=str(media_root), overwrite=True)
    found = {}
    for runtime in runtimes:
        with forced(runtime):
            local = batch(posts_path, work / f"out-local-{runtime}", engine="local", cache=False, **common)["seconds"]
            print(f"  batch local, {LABEL[runtime]}: {n_posts / local:.2f} posts/s", flush=True)
            with WorkerPeak() as peak:
                spark = session(master, work / f"logs-{runtime}")
                first = batch(posts_path, work / "out-spark", engine="spark", master=master, **common)["seconds"]
                steady = batch(posts_path, work / "out-spark", engine="spark", master=master, **common)["seconds"]
                peak.sample()
                spark.stop()  # its Python workers go with it: the next runtime starts from empty ones
            print(f"  batch spark {master}, {LABEL[runtime]}: {n_posts / steady:.2f} posts/s steady, first run "
                  f"{first:.1f}s, worker peak {peak.peak / 2**30:.2f} GiB", flush=True)
        found[runtime] = {"local": n_posts / local, "spark": n_posts / steady, "spark_first": first,
                          "worker_gib": peak.peak / 2**30 if peak.peak else None}
    return found


def serve_rates(data: Path, env: dict, runtimes, clients: int, duration: float, kinds=("caption", "photo"),
                start_seconds: float = 900) -> dict:
    """{(runtime, kind): {updates_s, p50, p99, errors}} of ``interestkit serve --runtime R`` at ``clients`` clients
    (a server not answering within ``start_seconds`` is reported and left out)."""
    rows = {kind: posts_of(data, kind) for kind in kinds}
    found = {}
    for runtime in runtimes:
        port, state = free_port(), tempfile.mkdtemp(prefix="ik-engines-serve-")
        server = subprocess.Popen([str(BIN), "serve", "--runtime", runtime, "--port", str(port),
                                   "--state", f"{state}/serving.db", "--reload-seconds", "0", "--no-access-log"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            try:
                wait_for(port, "/health", server, seconds=start_seconds)
            except SystemExit as error:  # the other rows are still worth printing
                print(f"  serve, {LABEL[runtime]}: not measured ({error})", flush=True)
                continue
            for kind in kinds:
                load(port, rows[kind], 2, 2, f"warm-{runtime}-{kind}", True)
                latencies, errors, _, seconds = load(port, rows[kind], clients, duration, f"{runtime}-{kind}", True)
                ms = np.array(latencies or [np.nan]) * 1000
                found[(runtime, kind)] = {"updates_s": len(latencies) / seconds, "p50": float(np.percentile(ms, 50)),
                                          "p99": float(np.percentile(ms, 99)), "errors": errors}
                print(f"  serve {kind}, {LABEL[runtime]}, {clients} clients: {found[(runtime, kind)]}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return found


def goals(batch: dict, serve: dict, clients: int) -> list[str]:
    """One line per goal: the measured value against it, met or not."""
    lines = []

    def verdict(ok):
        return "met" if ok else "NOT met"

    if {"tf", "onnx"} <= batch.keys():
        for engine in ("local", "spark"):
            ratio = batch["onnx"][engine] / batch["tf"][engine]
            lines.append(f"batch {engine}: export {ratio:.2f}x the TensorFlow path's posts/s (goal >= 3x): "
                         f"{verdict(ratio >= 3)}")
    caption = serve.get(("onnx", "caption"))
    if caption:
        lines.append(f"serve captions, {clients} clients: {caption['updates_s']:.1f} updates/s, p99 "
                     f"{caption['p99']:.0f} ms (goal >= 300 and <= 250 ms): "
                     f"{verdict(caption['updates_s'] >= 300 and caption['p99'] <= 250)}")
    if ("onnx", "photo") in serve and ("tf", "photo") in serve:
        ratio = serve[("onnx", "photo")]["updates_s"] / serve[("tf", "photo")]["updates_s"]
        lines.append(f"serve photos, {clients} clients: export {ratio:.2f}x the TensorFlow path's updates/s "
                     f"(goal >= 3x): {verdict(ratio >= 3)}")
    return lines


def table_rows(batch: dict, serve: dict, clients: int, master: str) -> list[dict]:
    """The side-by-side table: one row per measure, the TensorFlow path, the export and their ratio."""
    def pair(name, tf, onnx, fmt="{:.1f}"):
        return {"measure": name, "tf": tf, "onnx": onnx, "ratio": onnx / tf if tf and onnx else None, "fmt": fmt}

    rows = []
    if batch:
        get = lambda r, k: batch.get(r, {}).get(k)  # noqa: E731
        rows.append(pair("batch --engine local, posts/s", get("tf", "local"), get("onnx", "local"), "{:.2f}"))
        rows.append(pair(f"batch --engine spark {master} (steady), posts/s", get("tf", "spark"), get("onnx", "spark"),
                         "{:.2f}"))
        rows.append(pair(f"spark {master} first run (workers load the models), s", get("tf", "spark_first"),
                         get("onnx", "spark_first")))
        rows.append(pair("one Spark Python worker, peak RSS GiB", get("tf", "worker_gib"), get("onnx", "worker_gib"),
                         "{:.2f}"))
    for kind in ("caption", "photo"):
        tf, onnx = serve.get(("tf", kind)), serve.get(("onnx", kind))
        if tf or onnx:
            get = lambda row, k: row[k] if row else None  # noqa: E731
            rows.append(pair(f"serve {kind} updates, {clients} clients, updates/s", get(tf, "updates_s"),
                             get(onnx, "updates_s")))
            rows.append(pair(f"serve {kind} updates, {clients} clients, p50 ms", get(tf, "p50"), get(onnx, "p50")))
            rows.append(pair(f"serve {kind} updates, {clients} clients, p99 ms", get(tf, "p99"), get(onnx, "p99")))
    return rows


def run(args, env: dict) -> None:
    """The engines section of ``benchmarks/runtime.py``: measure, print the table and the goals."""
    from bench_common import print_table

    runtimes = tuple(args.runtimes.split(","))
    work = Path(tempfile.mkdtemp(prefix="ik-engines-"))
    posts_path = work / "posts.jsonl"
    n_posts, n_users = replicated_posts(posts_path, args.batch_posts, args.data)
    print(f"engines: {n_posts} posts of {n_users} users; load average {os.getloadavg()}", flush=True)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("INTERESTKIT_", "MLFLOW_"))})
    batch = batch_rates(posts_path, n_posts, args.data / "users", work, runtimes, args.master) \
        if "batch" in args.engines else {}
    serve = serve_rates(args.data, env, runtimes, args.clients, args.serve_seconds) if "serve" in args.engines else {}
    print(f"engines: load average at end {os.getloadavg()}\n", flush=True)
    rows = table_rows(batch, serve, args.clients, args.master)
    for row in rows:  # each row's own number format
        row["tf_s"] = None if row["tf"] is None else row["fmt"].format(row["tf"])
        row["onnx_s"] = None if row["onnx"] is None else row["fmt"].format(row["onnx"])
    print_table([("engine, measure", "measure", "{}"), ("TensorFlow path", "tf_s", "{}"), ("export", "onnx_s", "{}"),
                 ("export / TensorFlow", "ratio", "{:.2f}x")], rows)
    print()
    for line in goals(batch, serve, args.clients):
        print(line)
