"""Quiet output: TensorFlow's, absl's, CUDA's and MLflow's start-up lines stay off the terminal.

Each command runs in a fresh process, since the lines come from the first import of
TensorFlow and MLflow in a process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from interestkit.testing.synthetic import make_workspace

#: what must never reach the terminal in normal use
NOISE = re.compile(r"absl::InitializeLog|cudart_stub|cuda_platform|cuInit|cpu_feature_guard|"
                   r"Could not find cuda drivers|^[IWE]\d{4} \d\d:\d\d|INFO mlflow|INFO alembic|"
                   r"Creating initial MLflow database tables|WARNING:absl|Successfully registered model|"
                   r"Created version '", re.MULTILINE)
QUIET_VARS = ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "MLFLOW_LOGGING_LEVEL", "KERAS_BACKEND",
              "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in QUIET_VARS and k != "INTERESTKIT_DEBUG"}
    env.update(INTERESTKIT_REGISTRY=str(tmp_path / "registry"), INTERESTKIT_CACHE_DIR=str(tmp_path / "cache"),
               **extra)
    return env


def _python(code, env, timeout=300):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.integration  # a fresh process that imports the whole CLI
def test_importing_interestkit_changes_no_environment_variable(tmp_path):
    code = ("import json, os; before = dict(os.environ); import interestkit, interestkit.cli.main; "
            "print(json.dumps({k: v for k, v in os.environ.items() if before.get(k) != v}))")
    out = _python(code, _env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


@pytest.mark.slow  # imports TensorFlow in three fresh processes
def test_quiet_import_of_tensorflow_and_debug_shows_the_lines(tmp_path):
    code = "from interestkit import quiet; tf = quiet.tensorflow(); print(int(tf.constant(2) + 1))"
    out = _python(code, _env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
    assert not NOISE.search(out.stderr), out.stderr
    loud = _python("import tensorflow as tf; print(int(tf.constant(2) + 1))", _env(tmp_path))
    if not NOISE.search(loud.stderr):
        pytest.skip("TensorFlow prints no start-up lines on this machine")
    shown = _python(code, _env(tmp_path, INTERESTKIT_DEBUG="1"))
    assert shown.returncode == 0, shown.stderr
    assert NOISE.search(shown.stderr), "INTERESTKIT_DEBUG=1 must show TensorFlow's start-up lines"


def test_a_failed_import_shows_what_it_wrote(tmp_path):
    """What the silenced import wrote is not lost when the import fails."""
    pkg = tmp_path / "site" / "tensorflow"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import os\nos.write(2, b'native loader says: libfoo.so missing\\n')\n"
                                     "raise ImportError('broken build')\n")
    code = (f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); from interestkit import quiet\n"
            "try:\n    quiet.tensorflow()\nexcept ImportError as e:\n    print('caught', e)\n")
    out = _python(code, _env(tmp_path))
    assert "caught broken build" in out.stdout
    assert "native loader says: libfoo.so missing" in out.stderr


@pytest.mark.slow
def test_train_predict_and_rank_print_no_start_up_noise(tmp_path):
    paths = make_workspace(tmp_path / "ws", interests=("Golf", "Cooking", "Pets"), captions_per_interest=12,
                           images_per_interest=4, users=3, posts_per_user=4, image_size=16)
    env = _env(tmp_path)
    cli = [sys.executable, "-m", "interestkit"]
    commands = {
        "train": ["train", "--plugin", "gru", "--data", str(paths["text"]), "--epochs", "1"],
        "predict": ["predict", "golf swing on the green"],
        "rank": ["rank", "--posts", str(paths["posts"]), "--mode", "text", "--top-k", "2"],
    }
    for name, args in commands.items():
        out = subprocess.run(cli + args, capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, f"{name}: {out.stderr[-2000:]}"
        noise = NOISE.findall(out.stderr)
        assert not noise, f"{name} printed start-up noise {noise}:\n{out.stderr[-2000:]}"
        assert out.stdout.strip(), f"{name} printed no result"


def test_debug_flag_reaches_library_code_and_is_undone_after_the_command(monkeypatch):
    import click
    from click.testing import CliRunner

    from interestkit import quiet
    from interestkit.cli import cli

    monkeypatch.delenv("INTERESTKIT_DEBUG", raising=False)
    seen = []

    @click.command("probe-debug")
    def probe():
        seen.append(quiet.debug())

    monkeypatch.setitem(cli.commands, "probe-debug", probe)
    assert CliRunner().invoke(cli, ["--debug", "probe-debug"]).exit_code == 0
    assert CliRunner().invoke(cli, ["probe-debug"]).exit_code == 0
    assert seen == [True, False]
    assert "INTERESTKIT_DEBUG" not in os.environ
