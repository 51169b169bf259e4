"""Transformer-style caption exports on ONNX Runtime, without TensorFlow: a WordPiece tokeniser
outside the graph, zero-shot models carrying their encoder's export, and the shared encoder exports."""

import json

import numpy as np
import pytest

from interestkit.errors import ModelError
from interestkit.modeling.model import load_model
from interestkit.modeling.prototypes import PrototypeModel
from interestkit.runtime import encoder_cache
from interestkit.runtime.onnx_model import ExportedModel
from interestkit.runtime.wordpiece import WordPiece
from runtime_support import DIM, LABELS, exported_folder, fresh_process, reference_probs, text_encoder

#: [PAD] is row 0 of the tiny graph's table (zeros), so padding adds nothing, as a masked mean would
PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "golf", "lake", "fish", "##ing", "cook"]


def wordpiece_folder(folder, head=True):
    """A caption model's folder (or, without ``head``, a zero-shot one's) with a WordPiece export."""
    folder = exported_folder(folder, "text") if head else folder
    export = folder / "export"
    export.mkdir(parents=True, exist_ok=True)
    text_encoder(export / "encoder.onnx")  # ids -> the sum of the first 8 rows' embeddings
    (export / "vocabulary.json").write_text(json.dumps(PIECES[:8]))
    manifest = {"version": 1, "runtime": "onnxruntime", "modality": "text", "encoder": "encoder.onnx",
                "feature_dim": DIM, "precision": "float32", "input": "token_ids",
                "tokenizer": {"kind": "wordpiece", "vocabulary": "vocabulary.json", "max_length": 8}}
    if head:
        manifest["head"] = "head.onnx"
    (export / "manifest.json").write_text(json.dumps(manifest))
    return folder


def features(texts):
    from runtime_support import embedding

    ids = WordPiece(PIECES[:8], 8).ids(texts)
    return embedding()[ids].sum(axis=1)


def test_a_wordpiece_export_scores_captions_from_the_ids_of_its_tokeniser(tmp_path):
    model = load_model(wordpiece_folder(tmp_path / "text"))
    assert isinstance(model, ExportedModel) and isinstance(model.tokenizer, WordPiece)
    texts = ["Fishing at the LAKE", "golf golf golf golf golf golf golf golf golf", ""]
    probs = model.predict_texts(texts, calibrated=False)
    assert np.allclose(probs[:2], reference_probs(features(texts[:2])), atol=1e-5)
    assert np.isnan(probs[2]).all()
    # sentences of different lengths in one batch: cut to the longest, the same features as alone
    assert np.allclose(model.encode_sentences(["golf", "fishing lake golf"])[0], model.encode_sentences(["golf"])[0])


def test_a_bad_tokenizer_kind_names_the_file_and_field(tmp_path):
    folder = wordpiece_folder(tmp_path / "text")
    path = folder / "export" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(dict(manifest, tokenizer=dict(manifest["tokenizer"], kind="sentencepiece"))))
    with pytest.raises(ModelError, match=r"manifest.json: field 'tokenizer' must be an object whose 'kind'"):
        load_model(folder)
    path.write_text(json.dumps(dict(manifest, tokenizer={"kind": "wordpiece", "vocabulary": "vocabulary.json"})))
    with pytest.raises(ModelError, match=r"field 'tokenizer' must give 'vocabulary' \(a file\) and 'max_length'"):
        load_model(folder)


def zero_shot_folder(folder, export=True):
    prototypes = np.random.default_rng(2).normal(size=(len(LABELS), DIM))
    reference = {"name": "tiny-transformer", "options": {}, "identity": {"encoder": "tiny"},
                 "package": "no-such-distribution", "version": "1"}
    PrototypeModel("text", LABELS, prototypes, reference).save(folder)
    return wordpiece_folder(folder, head=False) if export else folder


def test_a_zero_shot_model_embeds_through_its_export_without_its_plugin(tmp_path):
    folder = zero_shot_folder(tmp_path / "zs")
    model = load_model(folder)  # its encoder plugin is not installed: the export is all it needs
    assert isinstance(model, PrototypeModel) and model.runtime == "onnxruntime-float32"
    texts = ["fishing lake", "golf"]
    assert np.allclose(model.predict_texts(texts, calibrated=False), model.probabilities(features(texts), False))
    copy = load_model(model.save(tmp_path / "copy"))  # the export goes with a saved copy
    assert (tmp_path / "copy" / "export" / "manifest.json").is_file()
    assert np.allclose(copy.predict_texts(texts), model.predict_texts(texts))


def test_a_zero_shot_model_without_an_export_needs_its_plugin_or_runtime_tf(tmp_path, monkeypatch):
    folder = zero_shot_folder(tmp_path / "zs", export=False)
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "onnx")
    with pytest.raises(ModelError, match="has no exported graph"):
        load_model(folder)
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "auto")
    with pytest.raises(ModelError, match="needs what is not available here.*no-such-distribution"):
        load_model(folder)  # the Keras path: the plugin is missing


def test_zero_shot_scoring_imports_no_tensorflow(tmp_path):
    folder = zero_shot_folder(tmp_path / "zs")
    code = ("from interestkit.modeling.model import load_model; "
            f"load_model({str(folder)!r}).predict_texts(['golf at the lake'])")
    assert fresh_process(code)[-1] == "[]"


def test_the_shared_encoder_export_is_read_not_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERESTKIT_EXPORT_CACHE", str(tmp_path / "exports"))
    identity = {"encoder": "tiny", "weights": "v1"}
    wordpiece_folder(tmp_path / "exports" / encoder_cache.cache_key(identity), head=False)

    def build():
        raise AssertionError("an encoder with an export is not built")

    encoder = encoder_cache.text_encoder(identity, build)
    assert np.allclose(encoder(["golf lake"]), features(["golf lake"]))
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "tf")
    assert encoder_cache.text_encoder(identity, build) is None  # the caller embeds on TensorFlow
    assert encoder_cache.cache_key(identity) != encoder_cache.cache_key(dict(identity, weights="v2"))
