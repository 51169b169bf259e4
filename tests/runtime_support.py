"""Small model folders with hand-built ONNX graphs: the exported runtime tested without TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ["Golf", "Fishing", "Cooking"]
VOCABULARY = ["", "[UNK]", "golf", "lake", "fish", "cook", "dinner", "swing"]
DIM = 4


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def embedding():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(len(VOCABULARY), DIM)).astype(np.float32)
    table[0] = 0
    return table


def head_weights(dim=DIM):
    rng = np.random.default_rng(1)
    return rng.normal(size=(dim, len(LABELS))).astype(np.float32), rng.normal(size=len(LABELS)).astype(np.float32)


def text_encoder(path):
    """ids (n, L) -> the sum of their embeddings (n, DIM)."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["vectors"]),
             helper.make_node("ReduceSum", ["vectors", "axis"], ["features"], keepdims=0)]
    graph = helper.make_graph(nodes, "text_encoder",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n", "L"])],
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", DIM])],
                              [numpy_helper.from_array(embedding(), "table"),
                               numpy_helper.from_array(np.array([1], np.int64), "axis")])
    _save(graph, path)


def image_encoder(path, size, scale=255.0):
    """pixels (n, s, s, 3) -> mean of each channel / ``scale`` and their mean (n, DIM)."""
    nodes = [helper.make_node("ReduceMean", ["pixels", "axes"], ["means"], keepdims=0),
             helper.make_node("Div", ["means", "scale"], ["scaled"]),
             helper.make_node("ReduceMean", ["scaled", "last"], ["overall"], keepdims=1),
             helper.make_node("Concat", ["scaled", "overall"], ["features"], axis=1)]
    graph = helper.make_graph(nodes, "image_encoder",
                              [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", size, size, 3])],
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", DIM])],
                              [numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
                               numpy_helper.from_array(np.array([scale], np.float32), "scale"),
                               numpy_helper.from_array(np.array([1], np.int64), "last")])
    _save(graph, path)


def head(path):
    kernel, bias = head_weights()
    nodes = [helper.make_node("MatMul", ["features", "kernel"], ["logits0"]),
             helper.make_node("Add", ["logits0", "bias"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", DIM])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", len(LABELS)])],
                              [numpy_helper.from_array(kernel, "kernel"), numpy_helper.from_array(bias, "bias")])
    _save(graph, path)


def reference_probs(features):
    kernel, bias = head_weights()
    logits = features @ kernel + bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def add_export(folder, modality, size=8, sequence_length=6, int8_scale=None):
    """Write ``export/`` (float32 graphs) into ``folder``; returns the manifest. ``int8_scale``: the
    manifest says int8, and its "int8" encoder is the float32 one times that scale (features a
    cache must never mix up with the float32 ones)."""
    export = folder / "export"
    export.mkdir(parents=True)
    manifest = {"version": 1, "runtime": "onnxruntime", "modality": modality, "encoder": "encoder.onnx",
                "head": "head.onnx", "feature_dim": DIM, "precision": "float32"}
    if modality == "text":
        text_encoder(export / "encoder.onnx")
        (export / "vocabulary.json").write_text(json.dumps(VOCABULARY))
        manifest.update(input="token_ids", tokenizer={"vocabulary": "vocabulary.json", "sequence_length": sequence_length})
    else:
        image_encoder(export / "encoder.onnx", size)
        manifest.update(input="pixels", encoder_float32="encoder.onnx")
        if int8_scale is not None:
            image_encoder(export / "encoder.int8.onnx", size, scale=255.0 / int8_scale)
            manifest.update(precision="int8", encoder="encoder.int8.onnx")
    head(export / "head.onnx")
    (export / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def exported_folder(folder, modality, size=8, sequence_length=6, int8_scale=None):
    """A model folder with only meta.json and export/ (no Keras files)."""
    add_export(folder, modality, size, sequence_length, int8_scale)
    meta = {"format": "keras", "modality": modality, "labels": LABELS, "temperature": 1.0, "plugin": f"tiny-{modality}"}
    if modality == "image":
        meta.update(image_size=size, frozen=True, encoder_identity={"encoder": "tiny", "size": size})
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def fresh_process(code: str) -> list[str]:
    """Run ``code`` in a fresh Python process; its output lines, the last one the sorted list of
    the TensorFlow and Keras modules it imported (``[]``: neither)."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()
