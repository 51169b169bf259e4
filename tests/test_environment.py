"""Registered models carry what rebuilds their environment: pinned requirements and wheels of their code."""

import importlib.metadata
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from interestkit.tracking import environment
from support import register_fakes, small_workspace


def _model_folder(uri):
    import mlflow

    from interestkit import tracking

    tracking.configure()
    return Path(mlflow.artifacts.download_artifacts(uri))


def _requirements(folder: Path) -> list[str]:
    return [line for line in (folder / "requirements.txt").read_text().splitlines() if line.strip()]


def test_a_registered_model_pins_its_dependencies_and_bundles_interestkit():
    uris = register_fakes()
    folder = _model_folder(uris["text"])
    lines = _requirements(folder)
    for package in ("tensorflow", "keras", "mlflow", "numpy", "fastapi"):
        assert f"{package}=={importlib.metadata.version(package)}" in lines
    assert not [line for line in lines if line.startswith("interestkit==")], "no index has interestkit"
    wheels = [line for line in lines if line.endswith(".whl")]
    assert wheels == ["artifacts/wheels/interestkit-0.1.0-py3-none-any.whl"]
    with zipfile.ZipFile(folder / wheels[0]) as wheel:
        names = wheel.namelist()
        assert "interestkit/tracking/environment.py" in names and "interestkit_plugins/fusion.py" in names
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "Version: 0.1.0" in wheel.read(metadata).decode()
    python_env = (folder / "python_env.yaml").read_text()
    assert "artifacts/wheels/interestkit-0.1.0-py3-none-any.whl" in (folder / "conda.yaml").read_text()
    assert "python: 3.11" in python_env


@pytest.mark.integration
def test_wheels_are_built_once_per_change_of_the_code(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    module = site / "ik_env_demo.py"
    module.write_text("VALUE = 1\n")
    info = site / "ik_env_demo-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ik-env-demo\nVersion: 2.0\n")
    (info / "RECORD").write_text("ik_env_demo.py,,\nik_env_demo-2.0.dist-info/METADATA,,\n"
                                 "ik_env_demo-2.0.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("INTERESTKIT_WHEEL_CACHE", str(tmp_path / "wheels"))
    first = environment.wheel_of("ik-env-demo")
    assert first.name == "ik_env_demo-2.0-py3-none-any.whl"
    assert environment.wheel_of("ik-env-demo") == first and first.stat().st_mtime_ns == first.stat().st_mtime_ns
    module.write_text("VALUE = 2\n")
    second = environment.wheel_of("ik-env-demo")
    assert second != first
    with zipfile.ZipFile(second) as wheel:
        assert wheel.read("ik_env_demo.py") == b"VALUE = 2\n"
        assert "ik_env_demo-2.0.dist-info/METADATA" in wheel.namelist()
    pip = environment.model_environment(["ik-env-demo"], tmp_path / "model" / "wheels")
    assert pip[-2:] == ["artifacts/wheels/interestkit-0.1.0-py3-none-any.whl",
                        "artifacts/wheels/ik_env_demo-2.0-py3-none-any.whl"]
    assert (tmp_path / "model" / "wheels" / "ik_env_demo-2.0-py3-none-any.whl").exists()


def test_a_distribution_without_a_record_is_pinned_by_name_with_a_warning(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "ik_norecord-1.5.dist-info").mkdir(parents=True)
    (site / "ik_norecord-1.5.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ik-norecord\n"
                                                                 "Version: 1.5\n")
    monkeypatch.syspath_prepend(str(site))
    warnings = []
    pip = environment.model_environment(["ik-norecord"], tmp_path / "wheels", warn=warnings.append)
    assert pip[-1] == "ik-norecord==1.5"
    assert len(warnings) == 1 and "ik-norecord 1.5 has no RECORD" in warnings[0]


def test_a_hybrid_takes_frames_from_pandas_read_json(tmp_path):
    """docs/serving.md: ``model.predict(pd.read_json("posts.jsonl", lines=True))``, created_at parsed as timestamps."""
    import re

    import mlflow
    from click.testing import CliRunner

    from interestkit.cli import cli

    paths = small_workspace(tmp_path / "ws")
    register_fakes()
    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--media-root", str(paths["posts"].parent)])
    assert built.exit_code == 0, built.output
    folder = _model_folder("models:/interestkit-hybrid@champion")
    assert _requirements(folder)[-1] == "artifacts/wheels/interestkit-0.1.0-py3-none-any.whl"
    guide = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(import pandas as pd\n.*?)```", guide, re.S).group(1)
    frame = pd.read_json(paths["posts"], lines=True)
    assert str(frame["created_at"].dtype).startswith("datetime64")
    import os

    cwd = os.getcwd()
    os.chdir(paths["posts"].parent)
    try:
        namespace: dict = {}
        exec(snippet, namespace)
    finally:
        os.chdir(cwd)
    answer = namespace["answer"]
    assert len(answer) == 4 and set(answer.columns) >= {"user_id", "interests"}
    assert all(json.loads(row)[0]["rank"] == 1 for row in answer["interests"])


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").environ.get("INTERESTKIT_ENV_REBUILD"),
                    reason="rebuilds a whole environment from the package index (minutes, GBs): "
                           "set INTERESTKIT_ENV_REBUILD=1 to run benchmarks/env_rebuild.py here")
def test_mlflow_rebuilds_a_hybrids_environment_and_serves_it():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "env_rebuild.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "equals the in-process predict: True" in run.stdout


def test_slim_metadata_moves_only_unconditional_requirements_of_the_left_out():
    text = ("Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nProvides-Extra: test\n"
            "Requires-Dist: tensorflow<2.22,>=2.18\nRequires-Dist: numpy<3,>=1.26\n"
            "Requires-Dist: keras>=3; python_version >= \"3.10\"\nRequires-Dist: pytest>=8; extra == \"test\"\n"
            "\nRequires-Dist: tensorflow is only mentioned in the description\n")
    slim = environment.slim_metadata(text, ["tensorflow", "Keras"])
    head, _, description = slim.partition("\n\n")
    assert "Requires-Dist: tensorflow<2.22,>=2.18; extra == \"training\"" in head
    assert "Requires-Dist: keras>=3; (python_version >= \"3.10\") and extra == \"training\"" in head
    assert "Requires-Dist: numpy<3,>=1.26\n" in head + "\n" and "Requires-Dist: pytest>=8; extra == \"test\"" in head
    assert head.count("Provides-Extra: training") == 1
    assert description == "Requires-Dist: tensorflow is only mentioned in the description\n"
    assert environment.slim_metadata(text, ["scipy"]) == text


def _registered_requirements(tmp_path, text_folder, image_folder):
    from click.testing import CliRunner

    from interestkit.cli import cli

    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--text-model", str(text_folder),
                                     "--image-model", str(image_folder), "--media-root", str(tmp_path)])
    assert built.exit_code == 0, built.output
    return _model_folder("models:/interestkit-hybrid@champion")


def test_a_hybrid_of_exported_models_requires_onnx_runtime_and_no_tensorflow(tmp_path):
    """Its requirements, conda.yaml and bundled wheel bring ONNX Runtime and none of what only training needs."""
    import base64
    import hashlib

    from interestkit.runtime.export import TRAINING_ONLY
    from runtime_support import exported_folder

    folder = _registered_requirements(tmp_path, exported_folder(tmp_path / "text", "text"),
                                      exported_folder(tmp_path / "image", "image"))
    lines = _requirements(folder)
    names = [environment.requirement_name(line) for line in lines]
    assert names.count("onnxruntime") == 1 and "mlflow" in names and "numpy" in names
    assert not set(names) & set(TRAINING_ONLY), lines
    assert "tensorflow" not in (folder / "conda.yaml").read_text()
    [wheel] = [line for line in lines if line.endswith(".whl")]
    with zipfile.ZipFile(folder / wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name)
        record = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))).decode()
    requires = [line for line in metadata.decode().split("\n\n")[0].splitlines() if line.startswith("Requires-Dist:")]
    tensorflow = [line for line in requires if line.split()[1].startswith("tensorflow")]
    assert tensorflow and all(line.endswith('extra == "training"') for line in tensorflow)
    assert any(line.split()[1].startswith("onnxruntime") and "extra" not in line for line in requires)
    digest = base64.urlsafe_b64encode(hashlib.sha256(metadata).digest()).rstrip(b"=").decode()
    assert f"{metadata_name},sha256={digest},{len(metadata)}" in record.splitlines()  # pip checks it


def test_a_hybrid_over_a_model_without_an_export_keeps_tensorflow(tmp_path):
    from interestkit.testing import FakeInterestModel
    from runtime_support import LABELS, exported_folder

    text = FakeInterestModel("text", LABELS).save(tmp_path / "text")
    folder = _registered_requirements(tmp_path, text, exported_folder(tmp_path / "image", "image"))
    assert f"tensorflow=={importlib.metadata.version('tensorflow')}" in _requirements(folder)
