"""Environment rebuild: `mlflow models serve --env-manager virtualenv` of a registered hybrid, from the index alone.

    .venv/bin/python benchmarks/env_rebuild.py [--store DIR] [--runtime auto|tf] [--env-manager virtualenv|uv] [--timeout 1800]

``--store`` holds text and image champions (real ones, e.g. the store
``benchmarks/batch.py`` trains); a new hybrid version is built there and served. Without it, a temporary
store gets the TensorFlow-free fake champions of the tests. The hybrid's recorded
environment (pinned requirements, and interestkit's wheel inside the model) is then
rebuilt by MLflow in an empty environment folder (``MLFLOW_ENV_ROOT``), the scoring
server started on a free loopback port, and one request sent. The script prints the time
from the command to ``/ping``, and checks that the answer equals the in-process
``predict`` of the same model.

``--runtime`` is the runtime the hybrid's models load with when it is built: ``auto`` (their
ONNX exports where they have them: the hybrid then needs ONNX Runtime and no TensorFlow)
or ``tf`` (their Keras files: the hybrid needs TensorFlow where it runs). The fake
champions have no export, so they need TensorFlow either way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POSTS = [{"user_id": "u1", "post_id": "p1", "text": "Birdie on 18, then the dog ran onto the fairway",
          "created_at": "2026-01-02T10:00:00Z"},
         {"user_id": "u1", "post_id": "p2", "text": "Puppy training all weekend", "created_at": "2026-01-03T10:00:00Z"},
         {"user_id": "u2", "post_id": "p3", "text": "Cooking pasta tonight", "created_at": "2026-01-01T09:00:00Z"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_hybrid(store: Path | None, work: Path) -> dict:
    os.environ["INTERESTKIT_REGISTRY"] = str(store or work / "store")
    os.environ.setdefault("INTERESTKIT_PLUGINS", "")
    if store is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from support import register_fakes

        register_fakes()
    subprocess.run([str(BIN / "interestkit"), "models", "build-hybrid"], check=True,
                   env=dict(os.environ), stdout=subprocess.DEVNULL)
    from mlflow import MlflowClient

    from interestkit import tracking

    tracking.configure()
    # the version just built (a store that had a hybrid keeps its champion where it was)
    newest = max(int(v.version) for v in MlflowClient().search_model_versions("name='interestkit-hybrid'"))
    return {"uri": f"models:/interestkit-hybrid/{newest}", "tracking_uri": tracking.tracking_uri()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--env-manager", default="virtualenv", choices=["virtualenv", "uv"])
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--runtime", default="auto", choices=["auto", "tf"])
    args = parser.parse_args(argv)
    os.environ["INTERESTKIT_RUNTIME"] = args.runtime
    work = Path(tempfile.mkdtemp(prefix="interestkit-env-rebuild-"))
    model = build_hybrid(args.store, work)
    import mlflow
    import pandas as pd

    local = mlflow.pyfunc.load_model(model["uri"])
    expected = local.predict(pd.DataFrame(POSTS))
    folder = Path(mlflow.artifacts.download_artifacts(model["uri"]))
    requirements = (folder / "requirements.txt").read_text().split()
    print(f"{model['uri']}: {len(requirements)} requirements; bundled: "
          f"{', '.join(r for r in requirements if r.endswith('.whl'))}; TensorFlow: "
          f"{', '.join(r for r in requirements if r.startswith('tensorflow')) or 'none'}", flush=True)

    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=model["tracking_uri"], MLFLOW_ENV_ROOT=str(work / "envs"),
               INTERESTKIT_PLUGINS="")
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    command = [str(BIN / "mlflow"), "models", "serve", "-m", model["uri"], "--env-manager", args.env_manager,
               "--host", "127.0.0.1", "--port", str(port)]
    print("$ " + " ".join(command), flush=True)
    log = open(work / "serve.log", "w")
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        up = None
        while time.perf_counter() - started < args.timeout and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as response:
                    if response.status == 200:
                        up = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(2)
        if up is None:
            tail = (work / "serve.log").read_text()[-3000:]
            sys.exit(f"the server did not come up (exit code {server.poll()}); its log ends:\n{tail}")
        body = json.dumps({"dataframe_records": POSTS}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())["predictions"]
        same = [json.loads(a["interests"]) for a in answer] == [json.loads(v) for v in expected["interests"]]
        envs = work / "envs"
        size = sum(p.stat().st_size for p in envs.rglob("*") if p.is_file()) / 2**30 if envs.exists() else 0.0
        print(f"environment rebuilt and server up in {up:.0f}s (environment: {size:.2f} GiB, {args.env_manager})")
        print(f"answer for {len(answer)} users equals the in-process predict: {same}")
        if not same:
            sys.exit(1)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
