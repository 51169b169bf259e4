"""Models that need a plugin: errors that name the distribution to install or allow.

A model records the distributions of its encoder and head (``meta.json``), a hybrid the
one of its fusion (``pipeline.json``); when one is missing where the model loads, the
error says which, at which version, and how to allow it, never "train one". Also: a
method left unimplemented fails where it is registered, not in the middle of training.
"""

import sys
from contextlib import contextmanager

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_captions
from interestkit import Encoder, hookimpl, hooks, tracking
from interestkit.cli import cli
from interestkit.errors import ModelError
from interestkit.modeling.model import InterestModel, load_model
from interestkit.testing import check_encoder
from plugin_fixtures import add_distribution, fusion_distribution
from support import register_fakes

LABELS = ["Cooking", "Golf", "Pets"]
META = {"plugin": "cnn_x", "plugin_package": "interestkit-cnnx", "plugin_package_version": "0.3.0",
        "classifier": "softmax", "classifier_package": "interestkit", "classifier_package_version": "0.1.0"}


# --- a method left unimplemented ---------------------------------------------------------


class NoBuild(Encoder):
    modality = "text"


class BuildRaises(Encoder):
    modality = "text"

    def build(self, train_inputs=None):
        raise NotImplementedError


def test_an_encoder_without_build_fails_at_registration_and_in_check_encoder(tmp_path):
    module = type(sys)("ik_test_nobuild")
    module.register_encoders = hookimpl(lambda register: register("nobuild", NoBuild))
    hooks.get_plugin_manager().register(module, name="nobuild")
    result = CliRunner().invoke(cli, ["train", "--plugin", "nobuild", "--data", str(write_captions(tmp_path / "c.tsv"))])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "encoder 'nobuild' cannot be used: plugin 'nobuild' registered it, but NoBuild does not implement build()" \
        in result.output
    with pytest.raises(AssertionError, match=r"registered as an encoder, it would be refused: NoBuild does not "
                                             r"implement build\(\)"):
        check_encoder(NoBuild, "text")
    with pytest.raises(AssertionError, match=r"buildraises: build\(\) is not implemented \(it raised "
                                             r"NotImplementedError\): implement it in the subclass"):
        check_encoder(BuildRaises, "text")


# --- a model whose plugin is missing ------------------------------------------------------


def _custom_layer():
    import keras

    @keras.saving.register_keras_serializable(package="ik_test_cnnx")
    class Doubler(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    return Doubler


@contextmanager
def forgotten_by_keras(name="ik_test_cnnx>Doubler"):
    """The process has not imported the plugin's layers (as in a fresh process without its entry point)."""
    import keras

    objects = keras.saving.get_custom_objects()
    saved = objects.pop(name)
    try:
        yield
    finally:
        objects[name] = saved


@pytest.fixture
def layered_model(tmp_path):
    """A saved model whose encoder has a plugin's custom layer; ``meta.json`` names the plugin's distribution."""
    import keras

    inputs = keras.Input(shape=(4,))
    encoder = keras.Model(inputs, _custom_layer()()(inputs))
    features = keras.Input(shape=(4,))
    head = keras.Model(features, keras.layers.Dense(3, activation="softmax")(features))
    return InterestModel("text", LABELS, encoder, head, META)


@pytest.mark.integration  # a real Keras model with a custom layer
def test_a_model_whose_plugin_is_not_installed_or_not_allowed_says_what_to_do(layered_model, tmp_path, site, monkeypatch):
    folder = layered_model.save(tmp_path / "model")
    with forgotten_by_keras():
        with pytest.raises(ModelError) as missing:
            load_model(folder)
        assert str(missing.value) == (f"{folder}: this model needs what is not available here: encoder 'cnn_x' comes "
                                      "from interestkit-cnnx 0.3.0, which is not installed here: "
                                      "pip install 'interestkit-cnnx==0.3.0'")

        add_distribution(site, "interestkit-cnnx", "ik_test_cnnx", entry_point="cnnx", version="0.3.0", source="")
        monkeypatch.setenv("INTERESTKIT_PLUGINS", "")
        with pytest.raises(ModelError, match="it is installed but INTERESTKIT_PLUGINS='' leaves it out: set "
                                             "INTERESTKIT_PLUGINS=interestkit-cnnx$"):
            load_model(folder)

        monkeypatch.setenv("INTERESTKIT_PLUGINS", "cnnx")  # allowed, but its layers are not declared
        with pytest.raises(ModelError) as undeclared:
            load_model(folder)
        assert "Keras cannot load the model (" in str(undeclared.value)
        assert "if interestkit-cnnx defines custom Keras layers, it must name the module that registers them in " \
               "the 'interestkit.keras_objects' entry-point group" in str(undeclared.value)
    assert np.asarray(load_model(folder).encoder_model(np.ones((1, 4)))).tolist() == [[2.0] * 4]


@pytest.mark.integration  # a real Keras model with a custom layer
def test_a_registered_model_whose_plugin_is_missing_names_it_not_train_one(layered_model):
    tracking.register_interest_model(layered_model)  # the champion: it exists, so nothing to train
    with forgotten_by_keras(), pytest.raises(ModelError) as error:
        tracking.load_interest_model("models:/interestkit-text@champion")
    message = str(error.value)
    assert message.startswith("model 'models:/interestkit-text@champion' cannot be loaded: ")
    assert "encoder 'cnn_x' comes from interestkit-cnnx 0.3.0, which is not installed here: " \
           "pip install 'interestkit-cnnx==0.3.0'" in message
    assert "train one" not in message and "promote" not in message


def test_a_hybrid_whose_fusion_plugin_is_missing_names_it(site, monkeypatch, tmp_path):
    fusion_distribution(site, 'register("max_score", GoodFusion)')
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-maxfusion")
    register_fakes()
    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--fusion", "max_score"])
    assert built.exit_code == 0, built.output
    import mlflow

    tracking.configure()
    spec = mlflow.artifacts.load_dict(f"runs:/{tracking.load_hybrid()[1]['run_id']}/pipeline.json")
    assert (spec["fusion"]["package"], spec["fusion"]["package_version"]) == ("interestkit-maxfusion", "0.1.0")

    monkeypatch.setenv("INTERESTKIT_PLUGINS", "")  # left out of the allow-list where it is served
    hooks.reset()
    with pytest.raises(ModelError) as disallowed:
        tracking.load_hybrid()
    assert "this hybrid cannot rank here: its fusion 'max_score' comes from interestkit-maxfusion 0.1.0; it is " \
           "installed but INTERESTKIT_PLUGINS='' leaves it out: set INTERESTKIT_PLUGINS=interestkit-maxfusion" \
           in str(disallowed.value)

    for path in site.glob("interestkit_maxfusion-*.dist-info"):  # uninstalled
        (path / "METADATA").unlink()
        (path / "entry_points.txt").unlink()
        path.rmdir()
    monkeypatch.delenv("INTERESTKIT_PLUGINS")
    hooks.reset()
    with pytest.raises(ModelError, match="its fusion 'max_score' comes from interestkit-maxfusion 0.1.0, which is not "
                                         "installed here: pip install 'interestkit-maxfusion==0.1.0'"):
        tracking.load_hybrid()
