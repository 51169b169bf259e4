"""Giving executors the driver's environment, without Spark: the packed archive, the session's settings, the error."""

import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from interestkit.errors import ConfigError
from interestkit.spark import environment
from interestkit.spark.session import ENVIRONMENT_HINT, _environment_problem, on_loopback, on_this_machine, \
    session_conf, spark_errors


def _venv(root: Path, source: Path) -> Path:
    """A minimal virtual environment: a package, a library to leave out, a development install of ``source``."""
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    (site / "kept").mkdir(parents=True)
    (site / "kept" / "__init__.py").write_text("VALUE = 1\n")
    (site / "kept-1.0.dist-info").mkdir()
    (site / "heavy").mkdir()
    (site / "heavy" / "__init__.py").write_text("")
    (site / "heavy-2.0.dist-info").mkdir()
    (site / "pyspark").mkdir()
    (site / "mine-0.1.dist-info").mkdir()
    (site / "mine-0.1.dist-info" / "entry_points.txt").write_text("[interestkit]\nmine = mine\n")
    (site / "__editable__.mine-0.1.pth").write_text("import __editable___mine_0_1_finder; "
                                                    "__editable___mine_0_1_finder.install()\n")
    (site / "__editable___mine_0_1_finder.py").write_text(f"MAPPING: dict[str, str] = {{'mine': {str(source)!r}}}\n")
    (source / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text("NAME = 'mine'\n")
    (source / "__pycache__" / "x.pyc").write_bytes(b"0")
    (root / "bin").mkdir()
    (root / "bin" / "python").symlink_to(sys.executable)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return site


def test_pack_ships_development_installs_from_source_and_leaves_out_what_it_is_told(tmp_path):
    site = _venv(tmp_path / "venv", tmp_path / "src" / "mine")
    rel = site.relative_to(tmp_path / "venv")
    done = environment.pack(tmp_path / "out" / "env.tar.gz", exclude=["heavy"], prefix=tmp_path / "venv")
    assert done["editable"] == ["mine"]
    with tarfile.open(tmp_path / "out" / "env.tar.gz") as tar:
        names = set(tar.getnames())
        assert tar.getmember("bin/python").issym()
    assert {"pyvenv.cfg", f"{rel}/kept/__init__.py", f"{rel}/mine/__init__.py",
            f"{rel}/mine-0.1.dist-info/entry_points.txt"} <= names
    assert not [n for n in names if "heavy" in n or "pyspark" in n or "__editable__" in n or "__pycache__/x" in n]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["env.tar.gz"]  # no partial file left


def test_pack_refuses_what_it_cannot_ship_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is not a virtual environment"):
        environment.pack(tmp_path / "env.tar.gz", prefix=tmp_path)
    site = _venv(tmp_path / "venv", tmp_path / "src" / "mine")
    with pytest.raises(ConfigError, match=r"must end in \.tar\.gz"):
        environment.pack(tmp_path / "env.zip", prefix=tmp_path / "venv")
    (site / "old.egg-link").write_text(str(tmp_path / "src"))
    with pytest.raises(ConfigError, match="old.egg-link: a development install"):
        environment.pack(tmp_path / "env.tar.gz", prefix=tmp_path / "venv")
    assert not list(tmp_path.glob("*.tar.gz")) and not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("master, here, loopback", [
    ("local[2]", True, True),
    ("spark://127.0.0.1:7077", True, True),
    ("spark://localhost:7077,127.0.0.1:7078", True, True),
    ("spark://spark-master.example:7077", False, False),
    ("yarn", False, False),
])
def test_executors_on_this_machine_get_this_python_and_interestkit_variables(master, here, loopback, tmp_path,
                                                                             monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "")
    assert (on_this_machine(master), on_loopback(master)) == (here, loopback)
    conf = session_conf(master, tmp_path / "spark.log")
    assert (conf.get("spark.pyspark.python") == sys.executable) == here
    assert (conf.get("spark.driver.host") == "127.0.0.1") == loopback
    assert ("spark.executorEnv.INTERESTKIT_PLUGINS" in conf) == (here and master.startswith("spark://"))
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/python")  # the user's choice wins
    assert "spark.pyspark.python" not in session_conf(master, tmp_path / "spark.log")


def test_a_missing_environment_on_executors_is_one_line_saying_what_to_set_or_ship():
    trace = ("Job aborted due to stage failure: ...\nTraceback (most recent call last):\n  File \"worker.py\"\n"
             "ModuleNotFoundError: No module named 'pandas'\n\tat org.apache.spark.api.python...")
    assert _environment_problem(trace) == "an executor's Python has no module named 'pandas'"
    assert _environment_problem("java.io.IOException: Cannot run program \"./environment/bin/python\": "
                                "error=2, No such file") == 'executors cannot run the Python "./environment/bin/python"'

    class Py4JJavaError(Exception):
        pass

    Py4JJavaError.__module__ = "py4j.protocol"
    with pytest.raises(ConfigError) as caught, spark_errors("scoring the posts"):
        raise Py4JJavaError(trace)
    message = str(caught.value)
    assert message == f"scoring the posts failed: an executor's Python has no module named 'pandas'; {ENVIRONMENT_HINT}"
    assert "\n" not in message and "--archives" in message and "PYSPARK_PYTHON" in message
