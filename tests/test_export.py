"""Real Keras models exported to ONNX: the same probabilities, int8 photo encoders, the export logged with the model."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

LABELS = ["Golf", "Fishing", "Cooking"]
CAPTIONS = ["golf swing on the course", "fishing at the lake. big bass!", "cooking dinner tonight", "golf again",
            "a lake, a boat and a fish", "pasta recipe for dinner"] * 5


def _interest_model(encoder, head_dim_labels=LABELS, meta=None):
    from interestkit.modeling.model import InterestModel
    from interestkit_plugins.heads import SoftmaxClassifier

    return lambda keras_encoder: InterestModel(
        encoder.modality, head_dim_labels, keras_encoder,
        SoftmaxClassifier().build(int(keras_encoder.output_shape[-1]), len(head_dim_labels)), meta or {})


def test_a_bilstm_caption_model_is_logged_with_its_export_and_scores_the_same(tmp_path, monkeypatch):
    import mlflow

    from interestkit import tracking
    from interestkit.modeling.model import load_model
    from interestkit.runtime.onnx_model import ExportedModel
    from interestkit_plugins.text import BiLSTMEncoder

    encoder = BiLSTMEncoder(embedding_init="random", vocab_size=50, units=8, embedding_dim=8)
    model = _interest_model(encoder, meta={"plugin": "bilstm"})(encoder.build(CAPTIONS))
    monkeypatch.setenv("INTERESTKIT_EXPORT", "1")
    registered = tracking.register_interest_model(model)
    folder = Path(mlflow.artifacts.download_artifacts(registered["uri"]))
    manifest = json.loads((folder / "artifacts" / "model" / "export" / "manifest.json").read_text())
    assert manifest["input"] == "token_ids" and manifest["tokenizer"]["sequence_length"] == 40
    requirements = (folder / "requirements.txt").read_text().splitlines()
    assert sum(line.startswith("onnxruntime") for line in requirements) == 1
    assert not [line for line in requirements if line.startswith(("tensorflow", "keras", "tf2onnx"))], requirements
    exported = load_model(folder / "artifacts" / "model")
    assert isinstance(exported, ExportedModel)
    texts = CAPTIONS[:6] + ["", "Unknown words only", "golf " * 60]
    assert np.allclose(exported.predict_texts(texts), model.predict_texts(texts), atol=1e-5, equal_nan=True)


def test_efficientnet_lite_exports_to_int8_close_to_float32(tmp_path):
    import keras

    from interestkit.runtime.export import export_model
    from interestkit.runtime.onnx_model import ExportedModel
    from interestkit_plugins.efficientnet_lite import build_lite
    from interestkit_plugins.image import EfficientNetLite0Encoder

    keras.utils.set_random_seed(0)  # the head is random: fix it, so the bound below is one measured case, not a draw
    size = 64
    encoder = EfficientNetLite0Encoder(image_size=size)
    backbone = build_lite("lite0", size)
    kinds = {type(layer).__name__ for layer in backbone.layers}
    assert kinds <= {"InputLayer", "Rescaling", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Add",
                     "GlobalAveragePooling2D"}, kinds  # no squeeze-and-excite (no Multiply, no sigmoid)
    assert {layer.max_value for layer in backbone.layers if isinstance(layer, keras.layers.ReLU)} == {6.0}
    model = _interest_model(encoder, meta={"image_size": size, "frozen": True,
                                           "encoder_identity": {"encoder": "lite0", "size": size}})(backbone)
    model.save(tmp_path / "model")
    rng = np.random.default_rng(0)
    photos = []
    for n in range(24):
        path = tmp_path / f"{n}.png"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).resize((96, 96)).save(path)
        photos.append(path)
    manifest = export_model(model, tmp_path / "model", calibration=photos[:16])
    assert manifest["precision"] == "int8" and manifest["calibration"]["photos"] == 16
    export = tmp_path / "model" / "export"
    assert (export / "encoder.int8.onnx").stat().st_size < (export / "encoder.onnx").stat().st_size / 2
    import onnx

    graph = onnx.load(str(export / "encoder.int8.onnx")).graph
    per_channel = [n for n in graph.node if n.op_type == "DequantizeLinear"
                   and any(i.name == n.input[1] and len(i.dims) == 1 and i.dims[0] > 1 for i in graph.initializer)]
    assert per_channel, "weights are quantised per channel"
    reference = model.predict_images(photos[16:], calibrated=False)[0]
    float32 = ExportedModel.load(tmp_path / "model", "float32").predict_images(photos[16:], calibrated=False)[0]
    int8 = ExportedModel.load(tmp_path / "model").predict_images(photos[16:], calibrated=False)[0]
    assert np.allclose(float32, reference, atol=1e-4)
    # the pretrained encoder's features keep their direction through int8 (0.970 at worst on these noise photos);
    # a random head on top magnifies the rest, so its probabilities are held to a looser, seeded bound
    exact = model.image_features(photos[16:])[0]
    quantised = ExportedModel.load(tmp_path / "model").image_features(photos[16:])[0]
    cosine = (exact * quantised).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(quantised, axis=1)
    assert cosine.min() > 0.95, cosine
    assert np.abs(int8 - reference).mean() < 0.05 and np.abs(int8 - reference).max() < 0.1


def test_a_zero_shot_photo_model_exports_its_encoder_and_imagenet_classifier(tmp_path):
    from interestkit import hooks
    from interestkit.modeling.model import load_model
    from interestkit.modeling.prototypes import PrototypeModel, encoder_reference
    from interestkit.runtime.choice import forced
    from interestkit.runtime.export import export_model

    info = hooks.get("encoder", "efficientnet_lite0", "image")
    encoder = info.cls(image_size=64)
    weights = np.random.default_rng(0).uniform(size=(1000, len(LABELS)))  # ImageNet classes -> interests
    model = PrototypeModel("image", LABELS, weights, encoder_reference(info, encoder), "mapped", encoder=encoder,
                           encoder_model=encoder.build(None))
    folder = model.save(tmp_path / "zs")
    rng = np.random.default_rng(1)
    photos = []
    for n in range(6):
        photos.append(tmp_path / f"{n}.png")
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).resize((80, 80)).save(photos[-1])
    manifest = export_model(model, folder)
    assert (manifest["precision"], manifest["imagenet_classifier"], manifest["image_size"]) == \
        ("float32", "imagenet_classifier.npz", 64)
    exported = load_model(folder)
    assert isinstance(exported, PrototypeModel) and exported.runtime == "onnxruntime-float32"
    with forced("tf"):
        keras_model = load_model(folder)
    assert keras_model.runtime == "tensorflow"
    assert np.allclose(exported.predict_images(photos)[0], keras_model.predict_images(photos)[0], atol=1e-4)
