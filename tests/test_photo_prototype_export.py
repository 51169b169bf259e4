"""Zero-shot and few-shot photo models scored through their export: the encoder's ONNX graph and,
for a mapped head, the ImageNet classifier beside it; neither the encoder plugin nor TensorFlow."""

import json

import numpy as np
import pytest
from PIL import Image

from interestkit.errors import ModelError
from interestkit.modeling.model import load_model
from interestkit.modeling.prototypes import PrototypeModel, softmax, unit_rows
from interestkit.runtime.manifest import CLASSIFIER_FILE
from runtime_support import DIM, LABELS, fresh_process, image_encoder

SIZE = 8
CLASSES = 5
#: the plugin is not installed: a model that loads and scores got everything from its export
REFERENCE = {"name": "tiny-photos", "options": {}, "identity": {"encoder": "tiny-photos", "size": SIZE},
             "package": "no-such-distribution", "version": "1"}


def classifier():
    rng = np.random.default_rng(3)
    return rng.normal(size=(DIM, CLASSES)).astype(np.float32) * 4, rng.normal(size=CLASSES).astype(np.float32)


def photo_prototypes(folder, head="mapped", precision="float32"):
    """A saved photo PrototypeModel with an export: the tiny encoder (channel means / 255 and
    their mean) and, for a mapped head, a (DIM, CLASSES) classifier."""
    rng = np.random.default_rng(2)
    weights = rng.uniform(size=(CLASSES, len(LABELS))) if head == "mapped" else rng.normal(size=(len(LABELS), DIM))
    PrototypeModel("image", LABELS, weights, REFERENCE, head, meta={"image_size": SIZE}).save(folder)
    export = folder / "export"
    export.mkdir()
    image_encoder(export / "encoder.onnx", SIZE)
    manifest = {"version": 1, "runtime": "onnxruntime", "modality": "image", "input": "pixels", "encoder": "encoder.onnx",
                "encoder_float32": "encoder.onnx", "feature_dim": DIM, "precision": precision, "image_size": SIZE}
    if head == "mapped":
        kernel, bias = classifier()
        np.savez(export / CLASSIFIER_FILE, kernel=kernel, bias=bias)
        manifest["imagenet_classifier"] = CLASSIFIER_FILE
    (export / "manifest.json").write_text(json.dumps(manifest))
    return folder, weights


def photos(folder):
    colours = [(200, 30, 30), (30, 200, 30), (20, 20, 220), (250, 250, 250)]
    paths = []
    for n, colour in enumerate(colours):
        paths.append(folder / f"{n}.png")
        Image.new("RGB", (12, 12), colour).save(paths[-1])
    return paths, np.array([[*(np.array(c) / 255.0), np.mean(c) / 255.0] for c in colours], np.float32)


def test_a_mapped_photo_model_scores_through_its_export_and_classifier(tmp_path):
    folder, weights = photo_prototypes(tmp_path / "zs")
    model = load_model(folder)
    assert isinstance(model, PrototypeModel) and model.runtime == "onnxruntime-float32"
    paths, features = photos(tmp_path)
    probs, kept, failures = model.predict_images(paths, calibrated=False)
    kernel, bias = classifier()
    mass = softmax(features @ kernel + bias).astype(np.float64) @ weights + 1e-6
    assert kept == [0, 1, 2, 3] and not failures
    assert np.allclose(probs, mass / mass.sum(axis=1, keepdims=True), atol=1e-5)
    assert len({tuple(np.round(p, 4)) for p in probs}) == 4  # the photos are told apart
    copy = load_model(model.save(tmp_path / "copy"))  # a saved copy carries the export and the classifier
    assert (tmp_path / "copy" / "export" / CLASSIFIER_FILE).is_file()
    assert np.allclose(copy.predict_images(paths)[0], model.predict_images(paths)[0])


def test_a_cosine_photo_model_scores_through_its_export(tmp_path):
    folder, prototypes = photo_prototypes(tmp_path / "fs", head="cosine")
    model = load_model(folder)
    paths, features = photos(tmp_path)
    expected = softmax(unit_rows(features) @ unit_rows(prototypes).T / model.scale)
    assert np.allclose(model.predict_images(paths, calibrated=False)[0], expected, atol=1e-5)


def test_export_features_are_cached_apart_from_other_runtimes(tmp_path):
    from interestkit.modeling.cache import FeatureCache

    folder, _ = photo_prototypes(tmp_path / "zs", precision="int8")  # the same graph, called int8
    paths, _ = photos(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    model = load_model(folder)
    assert model.runtime == "onnxruntime-int8"
    first = model.predict_images(paths, cache=cache)[0]
    identities = [json.loads(p.read_text())["identity"] for p in (tmp_path / "cache").rglob("identity.json")]
    assert identities == [dict(REFERENCE["identity"], runtime="onnxruntime-int8")]
    assert np.allclose(model.predict_images(paths, cache=cache)[0], first) and cache.hits == len(paths)


def test_a_broken_classifier_file_is_one_line_naming_it(tmp_path):
    folder, _ = photo_prototypes(tmp_path / "zs")
    (folder / "export" / CLASSIFIER_FILE).unlink()
    with pytest.raises(ModelError, match=r"field 'imagenet_classifier' names 'imagenet_classifier.npz', which is not"):
        load_model(folder)
    np.savez(folder / "export" / CLASSIFIER_FILE, kernel=np.zeros((DIM, 3)), bias=np.zeros(4))
    with pytest.raises(ModelError, match=r"imagenet_classifier.npz: kernel \(4, 3\) and bias \(4,\) do not fit"):
        load_model(folder)
    (folder / "export" / "manifest.json").write_text(json.dumps(
        dict(json.loads((folder / "export" / "manifest.json").read_text()), modality="text")))
    with pytest.raises(ModelError, match="the export is not of a photo encoder"):
        load_model(folder)


def test_scoring_a_photo_zero_shot_model_imports_no_tensorflow(tmp_path):
    folder, _ = photo_prototypes(tmp_path / "zs")
    paths, _ = photos(tmp_path)
    code = ("from interestkit.modeling.model import load_model; "
            f"print(load_model({str(folder)!r}).predict_images([{str(paths[0])!r}])[0].shape)")
    assert fresh_process(code)[-2:] == [f"(1, {len(LABELS)})", "[]"]
