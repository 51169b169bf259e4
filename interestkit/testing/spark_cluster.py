"""A throwaway Spark standalone cluster on this machine: one master and one worker, as separate JVMs.

``standalone_cluster(folder, cores=2)`` starts both from pyspark's own jars
(``$SPARK_HOME/bin/spark-class ...deploy.master.Master`` and ``...deploy.worker.Worker``,
``SPARK_HOME`` being pyspark's package folder), bound to 127.0.0.1 on free ports, and
yields the master's URL (``spark://127.0.0.1:PORT``) once the worker has registered.
Spark's standalone daemons always serve a web UI: here it listens on 127.0.0.1 only, on
an ephemeral port. Their logs, and the worker's per-application folders (executors'
stdout and stderr), are kept under ``folder``. On exit, the worker and the master are
stopped (SIGTERM to their process groups, SIGKILL after a grace period), executors and
their Python workers with them.

Used by the cluster tests and ``benchmarks/batch.py``; it needs pyspark and Java 17.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

LOG4J = """\
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
appender.file.type = Console
appender.file.name = file
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def spark_home() -> Path:
    """pyspark's package folder: its ``bin/spark-class`` and ``jars`` make a Spark distribution."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(role: str, args: list, folder: Path, env: dict) -> subprocess.Popen:
    log = open(folder / f"{role}.log", "ab")
    try:
        return subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    finally:
        log.close()


def _stop(process: subprocess.Popen | None, grace: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)


def _wait_for(check, process: subprocess.Popen, role: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark {role} exited with status {process.returncode}; see {log}")
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Spark {role} was not ready after {timeout:.0f}s; see {log}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def standalone_cluster(folder, cores: int = 2, memory: str = "4g", timeout: float = 180.0):
    """A master and one worker with ``cores`` cores and ``memory`` for executors; yields the master URL."""
    folder = Path(folder)
    (folder / "conf").mkdir(parents=True, exist_ok=True)
    (folder / "work").mkdir(exist_ok=True)
    (folder / "conf" / "log4j2.properties").write_text(LOG4J, encoding="utf-8")
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_CONF_DIR": str(folder / "conf"),
           "SPARK_LOG_DIR": str(folder), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_PUBLIC_DNS": "127.0.0.1"}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master = worker = None
    try:
        master = _start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                   "--port", str(port), "--webui-port", "0"], folder, env)
        _wait_for(lambda: _listening(port), master, "master", folder / "master.log", timeout)
        worker = _start("worker", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                   "--cores", str(cores), "--memory", memory, "--webui-port", "0",
                                   "--work-dir", str(folder / "work"), url], folder, env)
        log = folder / "worker.log"
        _wait_for(lambda: "Successfully registered with master" in log.read_text(errors="replace"),
                  worker, "worker", log, timeout)
        yield url
    finally:
        _stop(worker)
        _stop(master)
