"""A Spark session for batch scoring: local masters bound to loopback, no UI, Spark's logs in a file.

``session(master)`` gives the active session when there is one (a cluster's
``spark-submit`` made it: its settings win), else builds one. A session this module
builds:

* binds the driver to 127.0.0.1 for ``local[...]`` masters and for clusters whose master is
  on 127.0.0.1 or ``localhost`` (nothing listens beyond loopback);
* gives executors the driver's Python where they run on this machine (``local[...]``, or a
  ``spark://`` master at this host's name or a loopback address): ``spark.pyspark.python``
  is this interpreter (unless ``PYSPARK_PYTHON`` says otherwise), and the ``INTERESTKIT_*``
  variables of this process reach executors too. Executors on other machines need the
  environment shipped (``python -m interestkit.spark.environment``, docs/scaling.md);
* runs without the Spark UI and without console progress bars;
* uses UTC as the session time zone, so a ``created_at`` without a zone means UTC, as
  everywhere else in interestkit;
* sends Spark's own output (the JVM's log4j lines, Python workers' stderr) to a log file,
  ``spark.log`` in the folder given (default: a temporary one), not to the terminal.

pyspark is the optional extra ``interestkit[spark]``: without it, ``session`` says what to
install in one line.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, DataError, InterestkitError, ModelError, PluginError

INSTALL_HINT = "pip install 'interestkit[spark]'"

LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
"""


def require_pyspark():
    """The ``pyspark`` module, or a ConfigError saying how to install it."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        import pyspark
    except ImportError:
        raise ConfigError(f"the spark engine needs pyspark: {INSTALL_HINT} (Java 17 must be installed too)") from None
    return pyspark


LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: what a one-line error says when executors lack interestkit's environment
ENVIRONMENT_HINT = ("executors need interestkit's Python environment: on this machine, set PYSPARK_PYTHON to a "
                    "Python that has interestkit; on other machines, ship it with `python -m "
                    "interestkit.spark.environment env.tar.gz` and --archives env.tar.gz#environment --conf "
                    "spark.pyspark.python=./environment/bin/python (docs/scaling.md)")


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def master_hosts(master: str) -> list:
    """The hosts of a ``spark://host:port[,host:port]`` URL (others: none)."""
    if not master.startswith("spark://"):
        return []
    return [entry.rsplit(":", 1)[0].strip("[]") for entry in master[len("spark://"):].split(",") if entry]


def on_loopback(master: str) -> bool:
    """A local master, or a cluster whose masters all listen on a loopback address."""
    hosts = master_hosts(master)
    return is_local(master) or (bool(hosts) and all(h in LOOPBACK for h in hosts))


def on_this_machine(master: str) -> bool:
    """Executors run here: a local master, or a ``spark://`` master at a loopback address or this host's name."""
    hosts = master_hosts(master)
    here = {*LOOPBACK, socket.gethostname(), socket.getfqdn()}
    return is_local(master) or (bool(hosts) and all(h in here for h in hosts))


def session_conf(master: str, log_file: Path, app_name: str = "interestkit") -> dict:
    """The settings a session built here gets (a cluster's own settings are not overridden)."""
    conf = {
        "spark.app.name": app_name,
        "spark.master": master,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.shuffle.partitions": "8" if is_local(master) else "200",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_file.with_suffix('.log4j2.properties')}",
        "spark.executorEnv.TF_CPP_MIN_LOG_LEVEL": "3",
        # one TensorFlow thread per task core: Spark runs one task per core, and a worker whose
        # TensorFlow took every core of the machine would fight the others for them
        "spark.executorEnv.TF_NUM_INTRAOP_THREADS": "1",
        "spark.executorEnv.TF_NUM_INTEROP_THREADS": "1",
        "spark.executorEnv.OMP_NUM_THREADS": "1",
        # and one ONNX Runtime intra-op thread (the scoring UDFs pass spark.task.cpus on as well)
        "spark.executorEnv.INTERESTKIT_ONNX_THREADS": os.environ.get("INTERESTKIT_ONNX_THREADS", "1"),
    }
    if on_loopback(master):
        conf.update({"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"})
    if on_this_machine(master) and not os.environ.get("PYSPARK_PYTHON"):
        # executors run this interpreter, which has interestkit and the models' libraries
        conf.update({"spark.pyspark.python": sys.executable, "spark.pyspark.driver.python": sys.executable})
    if on_this_machine(master) and not is_local(master):  # local workers inherit this process's variables
        conf.update({f"spark.executorEnv.{name}": value for name, value in os.environ.items()
                     if name.startswith("INTERESTKIT_")})
    return conf


@contextmanager
def _output_to(log_file: Path):
    """The process's stdout and stderr go to ``log_file`` while the JVM starts: the JVM
    inherits them, so its output (and its Python workers') lands in the file for good."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(log_file, "ab") as handle:
        try:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def active_session():
    """The running SparkSession, or None (without pyspark: None)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def session(master: str = "local[2]", log_dir=None, log=None):
    """The active session, or a new one on ``master`` (``log``: one progress line)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    if running is not None:
        return running
    if not isinstance(master, str) or not master.strip():
        raise ConfigError(f"--master must be a Spark master URL such as local[2], got {master!r}")
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="interestkit-spark-"))
    log_file = log_dir / "spark.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.with_suffix(".log4j2.properties").write_text(LOG4J.format(path=log_file), encoding="utf-8")
    builder = SparkSession.builder
    for key, value in session_conf(master.strip(), log_file).items():
        builder = builder.config(key, value)
    if on_this_machine(master.strip()):  # pyspark takes the workers' interpreter from the environment
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    try:
        with _output_to(log_file):
            spark = builder.getOrCreate()
    except Exception as error:  # no Java, a bad master URL: the log says why
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"Spark did not start on {master!r}: {first} (Java 17 is needed; see {log_file})") from None
    spark.sparkContext.setLogLevel("ERROR")
    if log:
        log(f"spark: session on {master} started in {time.perf_counter() - started:.1f}s (Spark's logs: {log_file})")
    return spark


@contextmanager
def spark_errors(what: str = "the Spark job"):
    """An error raised on an executor arrives wrapped in Java's and Python's tracebacks: the
    interestkit error inside it (a photo the policy refused, a fusion that failed) becomes
    that error again, anything else one line naming ``what`` failed."""
    try:
        yield
    except InterestkitError:
        raise
    except Exception as error:
        text = str(error)
        missing = _environment_problem(text) if type(error).__module__.startswith(("pyspark", "py4j")) else None
        if missing:
            raise ConfigError(f"{what} failed: {missing}; {ENVIRONMENT_HINT}") from None
        kinds = {"DataError": DataError, "PluginError": PluginError, "ModelError": ModelError,
                 "ConfigError": ConfigError, "INVALID_PARAMETER_VALUE": DataError}
        for line in reversed(text.splitlines()):
            for marker, kind in kinds.items():
                if marker in line and ":" in line:
                    message = line.split(marker, 1)[1].lstrip(":) ").strip()
                    raise kind(message or line.strip()) from None
        if type(error).__module__.startswith(("pyspark", "py4j")):
            last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), type(error).__name__)
            raise ConfigError(f"{what} failed: {last[:300]}") from None
        raise


def _environment_problem(text: str):
    """What an executor's error says of a missing environment (a module, the Python itself), or None."""
    for line in reversed(text.splitlines()):
        if "ModuleNotFoundError:" in line:
            return "an executor's Python " + line.split("ModuleNotFoundError:", 1)[1].strip().replace("No module", "has no module")
        if "Cannot run program" in line:
            program = line.split("Cannot run program", 1)[1].split(":", 1)[0].strip()
            return f"executors cannot run the Python {program}"
    return None
