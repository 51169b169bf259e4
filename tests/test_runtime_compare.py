"""TensorFlow against the export: ``interestkit test --runtime both``, and a feature cache per runtime.

The TensorFlow side is the TensorFlow-free fake model (what ``--runtime tf`` loads from the
folder's ``meta.json``); the export is a hand-built ONNX graph in the same folder, so the two
give different scores, as a real export may."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from interestkit.app.assess import measures
from interestkit.cli.main import cli
from interestkit.modeling.cache import FeatureCache
from interestkit.modeling.model import load_model
from interestkit.runtime.choice import forced
from interestkit.runtime.onnx_model import ExportedModel
from interestkit.testing import FakeInterestModel
from runtime_support import LABELS, add_export

TEXTS = ["golf swing on the green", "fish by the lake", "cook dinner tonight", "golf lake", "a quiet day"]
TRUTH = ["Golf", "Fishing", "Cooking", "Fishing", "Cooking"]


def _both(folder, modality, **export):
    FakeInterestModel(modality, LABELS, keywords={"Golf": ["swing"], "Fishing": ["lake"], "Cooking": ["dinner"]},
                      image_size=8).save(folder)
    add_export(folder, modality, size=8, **export)
    return folder


def _expected(model):
    probs = np.asarray(model.predict_texts(TEXTS), np.float64)
    return measures(probs, np.array([LABELS.index(t) for t in TRUTH]), LABELS), probs.argmax(axis=1)


def test_test_runtime_both_reports_tensorflow_and_the_export_side_by_side(tmp_path):
    folder = _both(tmp_path / "text", "text")
    data = tmp_path / "captions.tsv"
    data.write_text("label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in zip(TRUTH, TEXTS)))
    with forced("tf"):
        tf, tf_best = _expected(load_model(folder))
    export_model = load_model(folder)
    assert isinstance(export_model, ExportedModel)
    export, export_best = _expected(export_model)
    assert tf["top1"] != export["top1"]  # the two sides differ here, so a mix-up would show

    result = CliRunner().invoke(cli, ["test", "--model", str(folder), "--data", str(data), "--runtime", "both",
                                      "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runtimes = json.loads(result.stdout)["runtimes"]
    assert runtimes["export_runtime"] == "onnxruntime-float32"
    for key in ("top1", "top5", "macro_f1", "ece"):
        assert runtimes["tf"][key] == pytest.approx(tf[key]) and runtimes["export"][key] == pytest.approx(export[key])
        assert runtimes["difference"][key] == pytest.approx(export[key] - tf[key])
    assert runtimes["agreement_top1"] == pytest.approx(float(np.mean(tf_best == export_best)))
    assert json.loads(result.stdout)["overall"]["top1"] == pytest.approx(export["top1"])  # what scoring uses

    table = CliRunner().invoke(cli, ["test", "--model", str(folder), "--data", str(data), "--runtime", "both"])
    assert table.exit_code == 0, table.output
    assert "tensorflow" in table.stdout and "export (onnxruntime-float32)" in table.stdout
    assert f"{export['top1'] - tf['top1']:+.3f}" in table.stdout


def test_test_runtime_both_needs_an_export(tmp_path):
    folder = tmp_path / "text"
    FakeInterestModel("text", LABELS).save(folder)
    data = tmp_path / "captions.tsv"
    data.write_text("label\ttext\nGolf\tgolf\n")
    result = CliRunner().invoke(cli, ["test", "--model", str(folder), "--data", str(data), "--runtime", "both"])
    assert result.exit_code == 2 and "interestkit models export" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_int8_float32_and_tensorflow_features_never_mix_in_the_cache(tmp_path):
    """One folder scored by three runtimes through one cache: each gets its own entries and its own scores."""
    folder = _both(tmp_path / "image", "image", int8_scale=2.0)
    photos = []
    for n, colour in enumerate([(250, 10, 10), (10, 250, 10), (30, 30, 200)]):
        Image.new("RGB", (20, 20), colour).save(tmp_path / f"{n}.png")
        photos.append(tmp_path / f"{n}.png")
    with forced("tf"):
        keras_side = load_model(folder)
    models = {"onnxruntime-int8": load_model(folder), "onnxruntime-float32": ExportedModel.load(folder, "float32"),
              "tensorflow": keras_side}
    assert models["onnxruntime-int8"].runtime == "onnxruntime-int8"
    cache = FeatureCache(tmp_path / "cache")
    cached = {name: model.predict_images(photos, cache=cache, calibrated=False)[0] for name, model in models.items()}
    again = {name: model.predict_images(photos, cache=cache, calibrated=False)[0] for name, model in models.items()}
    fresh = {name: model.predict_images(photos, cache=None, calibrated=False)[0] for name, model in models.items()}
    for name in models:
        assert np.allclose(cached[name], fresh[name], atol=1e-6) and np.allclose(again[name], fresh[name], atol=1e-6)
    assert not np.allclose(fresh["onnxruntime-int8"], fresh["onnxruntime-float32"], atol=1e-3)
    identities = [json.loads(p.read_text())["identity"] for p in (tmp_path / "cache").rglob("identity.json")]
    assert sorted(i.get("runtime", "tensorflow") for i in identities) == sorted(models)
    assert cache.hits == 3 * len(photos)  # the second pass of each runtime, from its own entries
