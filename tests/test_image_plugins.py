import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import require_shared
from interestkit import hooks as plugins
from interestkit.modeling.cache import FeatureCache
from interestkit.cli import cli
from interestkit.modeling.config import TRAINING_DEFAULTS
from interestkit.data.datasets import load_image_dataset
from interestkit.testing.synthetic import make_workspace
from interestkit.modeling.train import train

QUIET = lambda message: None  # noqa: E731


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    four = ["Golf", "Cooking", "Pets", "Travel"]
    return make_workspace(root, interests=four, image_interests=four, images_per_interest=8,
                          captions_per_interest=4, users=2, image_size=48, seed=1)["images"]


def options(**extra):
    return {**TRAINING_DEFAULTS, "epochs": 1, "batch_size": 8, "verbose": 0, **extra}


@pytest.mark.parametrize("name, size", [
    pytest.param("efficientnet_b7", 32, marks=pytest.mark.slow), pytest.param("resnet_v2", 32, marks=pytest.mark.slow),
    pytest.param("inception_v3", 75, marks=pytest.mark.slow), pytest.param("mobilenet_v2", 32, marks=pytest.mark.integration),
    pytest.param("inception_resnet_v2", 75, marks=pytest.mark.slow), pytest.param("efficientnet_lite0", 32, marks=pytest.mark.integration),
])
def test_each_image_plugin_builds_and_trains_one_step_without_weights(name, size):
    """One eager training step (graph tracing of the deepest CNNs takes minutes on a CPU)."""
    import keras

    encoder = plugins.get("encoder", name, modality="image").cls(image_size=size, weights="none")
    assert not encoder.frozen()
    features = encoder.build()
    head = plugins.get("classifier", "softmax").cls().build(int(features.output_shape[-1]), 3)
    model = keras.Model(features.inputs, head(features.outputs[0]))
    model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=True)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, size, size, 3)).astype("float32")
    before = [w.numpy().copy() for w in model.trainable_weights[:3]]
    loss = model.train_on_batch(x, np.array([0, 2]))
    assert np.isfinite(loss)
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights[:3]))
    probs = model(x, training=False).numpy()
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


@pytest.mark.slow
def test_trainable_cnn_through_train(photos):
    """The pixel path of train() (no frozen features) with a small CNN."""
    encoder = plugins.get("encoder", "mobilenet_v2").cls(image_size=32, weights="none")
    dataset = load_image_dataset(photos)
    result = train(encoder, plugins.get("classifier", "softmax").cls(), dataset,
                   options(epochs=1, calibrate=False), log=QUIET)
    assert result.metrics["epochs"] == 1 and np.isfinite(result.history["loss"][0])
    probs, kept, failures = result.model.predict_images(dataset.inputs[:2])
    assert probs.shape == (2, 4) and kept == [0, 1] and not failures


def test_paper_defaults_and_weights_option():
    b7 = plugins.get("encoder", "efficientnet_b7").cls()
    assert b7.image_size() == 600 and b7.options["weights"] == "none"
    assert plugins.get("encoder", "inception_v3").cls().image_size() == 299
    assert plugins.get("encoder", "efficientnet_lite0").cls().frozen()
    from interestkit.errors import ConfigError

    with pytest.raises(ConfigError, match="weights file 'nope.h5' not found"):
        plugins.get("encoder", "resnet_v2").cls(weights="nope.h5").frozen()


@pytest.mark.slow
def test_frozen_lite0_uses_and_reuses_the_feature_cache(photos, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    info = plugins.get("encoder", "efficientnet_lite0")
    dataset = load_image_dataset(photos)
    head = plugins.get("classifier", "softmax").cls()
    first = train(info.cls(image_size=64), head, dataset, options(epochs=30, patience=5), cache=cache, log=QUIET)
    assert cache.misses == len(dataset) and cache.hits == 0
    assert first.metrics["val_accuracy"] >= 0.75  # pretrained features separate the synthetic styles
    second = train(info.cls(image_size=64), head, dataset, options(epochs=2), cache=cache, log=QUIET)
    assert cache.hits == len(dataset) and cache.misses == len(dataset)
    # a different input size is a different encoder identity: no stale features
    train(info.cls(image_size=72), head, dataset, options(epochs=1), cache=cache, log=QUIET)
    assert cache.misses == 2 * len(dataset)
    assert second.model.frozen


@pytest.mark.slow
def test_fine_tuning_unfreezes_top_blocks(photos):
    import keras

    info = plugins.get("encoder", "efficientnet_lite0")
    encoder = info.cls(image_size=48)
    model = encoder.build()
    assert not any(w for w in model.trainable_weights)
    encoder.unfreeze(model, 2)
    names = {w.path.split("/")[0] for w in model.trainable_weights}
    assert names and all(n.startswith(("block14_", "block15_", "top_")) for n in names)
    assert not any(isinstance(l, keras.layers.BatchNormalization) and l.trainable for l in model.layers[-1].layers)
    result = train(info.cls(image_size=48), plugins.get("classifier", "softmax").cls(), load_image_dataset(photos),
                   options(epochs=2, fine_tune=1, fine_tune_epochs=1), log=QUIET)
    assert result.model.meta["fine_tuned_blocks"] == 1 and not result.model.frozen
    assert len(result.history["loss"]) == result.metrics["epochs"] >= 2


@pytest.mark.slow
def test_cli_trains_lite0_and_skips_bad_images(photos, tmp_path, isolated_store, monkeypatch):
    import shutil

    data = tmp_path / "photos"
    shutil.copytree(photos, data)
    (data / "Golf" / "broken.jpg").write_bytes(b"not an image at all")
    result = CliRunner().invoke(cli, ["train", "--plugin", "efficientnet_lite0", "--data", str(data),
                                      "--image-size", "64", "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "1 photos unusable were not used" in result.output and "broken.jpg" in result.output  # left out before the run
    assert "interestkit-image version 1 (alias champion)" in result.output
    import mlflow

    # the served model reads paths under the media root its process was started with
    monkeypatch.setenv("INTERESTKIT_MEDIA_ROOT", str(data))
    model = mlflow.pyfunc.load_model("models:/interestkit-image@champion")
    paths = [f"Pets/{p.name}" for p in sorted((data / "Pets").glob("*.png"))[:2]]
    out = model.predict(pd.DataFrame({"image": paths + ["Golf/broken.jpg"]}))
    assert list(out.columns) == ["Cooking", "Golf", "Pets", "Travel"]
    np.testing.assert_allclose(out.iloc[:2].sum(axis=1), 1.0, atol=1e-4)
    assert out.iloc[2].isna().all()  # unreadable photo: no score, not a guess

    strict = CliRunner().invoke(cli, ["train", "--plugin", "efficientnet_lite0", "--data", str(data),
                                      "--image-size", "64", "--epochs", "1", "--strict"])
    assert strict.exit_code == 2 and "broken.jpg" in strict.output and "Traceback" not in strict.output


def test_image_plugin_refuses_caption_table(tmp_path, captions):
    result = CliRunner().invoke(cli, ["train", "--plugin", "efficientnet_lite0", "--data", str(captions)])
    assert result.exit_code == 2 and "is an image encoder" in result.output


@pytest.mark.realdata
def test_lite0_frozen_on_real_photos():
    """Frozen Lite0 + softmax head on the 2,622 real photos: validation top-1 >= 0.85."""
    data = require_shared("images", "train")
    result = CliRunner().invoke(cli, ["train", "--plugin", "efficientnet_lite0", "--data", str(data),
                                      "--epochs", "40", "--no-register"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    top1 = float(next(l for l in result.output.splitlines() if l.startswith("val top-1")).split()[-1])
    assert top1 >= 0.85
