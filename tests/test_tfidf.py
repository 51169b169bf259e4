"""The ``tfidf`` text encoder: TF-IDF 1-2-grams + the softmax head, saved like the other models."""

import json

import numpy as np
import pytest

from interestkit import hooks
from interestkit.data.datasets import load_text_dataset
from interestkit.modeling.config import TRAINING_DEFAULTS
from interestkit.modeling.model import InterestModel
from interestkit.modeling.train import train


@pytest.mark.integration  # trains a real Keras model
def test_tfidf_learns_the_tiny_task_and_round_trips_through_keras_files(tmp_path, captions):
    import tensorflow as tf  # here, not at the top: collecting the fast tier never imports TensorFlow

    encoder = hooks.get("encoder", "tfidf", modality="text").cls(max_tokens=500)
    head = hooks.get("classifier", "softmax").cls(dropout=0.1)
    options = {**TRAINING_DEFAULTS, "epochs": 8, "batch_size": 16, "verbose": 0, "learning_rate": 0.05}
    result = train(encoder, head, load_text_dataset(captions), options, log=lambda m: None)
    model = result.model
    assert result.metrics["val_accuracy"] >= 0.8
    vectoriser = model.encoder_model.get_layer("tfidf")
    assert vectoriser.get_config()["ngrams"] == 2 and vectoriser.get_config()["output_mode"] == "tf_idf"
    vocabulary = vectoriser.get_vocabulary()
    assert any(" " in token for token in vocabulary)  # word pairs are in the vocabulary
    assert model.encoder_model.output_shape == (None, len(vocabulary) - 1)  # no column for unknown n-grams
    features = model.encoder_model.predict(tf.constant([["golf birdie"], ["golf zzqx qqzx xzzq"]]), verbose=0)
    assert abs(np.linalg.norm(features[0]) - 10.0) < 1e-4  # unit length, times 'scale'
    # unknown words change nothing: only 'golf' is known in the second caption
    golf = model.encoder_model.predict(tf.constant([["golf"]]), verbose=0)
    np.testing.assert_allclose(features[1], golf[0], atol=1e-5)

    folder = model.save(tmp_path / "model")
    assert {p.name for p in folder.iterdir()} == {"encoder.keras", "head.keras", "meta.json"}
    assert json.loads((folder / "meta.json").read_text())["plugin"] == "tfidf"
    loaded = InterestModel.load(folder)
    texts = ["my puppy at the vet. what a day!", "pasta sauce with garlic"]
    np.testing.assert_allclose(loaded.predict_texts(texts), model.predict_texts(texts), atol=1e-5)
    assert [loaded.labels[i] for i in loaded.predict_texts(texts).argmax(axis=1)] == ["Pets", "Cooking"]
