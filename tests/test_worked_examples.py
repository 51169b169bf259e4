"""The worked examples of docs/plugins.md, pip-installed and used like any third party's plugins.

``tests/fixtures/`` holds one real distribution per plugin kind: ``interestkit-cnntext``
(an encoder with a custom Keras layer), ``interestkit-gatedhead`` (a classifier head) and
``interestkit-maxfusion`` (a fusion). They are installed once for this module (pip,
``--target``), their own tests (the ones docs/plugins.md shows) run here, and they train,
rank, evaluate and serve through the command line. Slow: installing, training, and
loading a model in a fresh process take tens of seconds.
"""

import importlib
import importlib.util
import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from interestkit import hooks, tracking
from interestkit.cli import cli
from interestkit.errors import ModelError
from interestkit.testing import FakeInterestModel, check_encoder
from plugin_fixtures import FIXTURES, WORKED_EXAMPLES, add_distribution, install_worked_examples
from support import small_workspace
from test_plugin_loading import forgotten_by_keras

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.xdist_group("worked-examples")]  # installed once: one worker runs them all
PACKAGES = ("interestkit_cnntext", "interestkit_gatedhead", "interestkit_maxfusion")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The three examples pip-installed into a folder on sys.path, for this module."""
    target = install_worked_examples(tmp_path_factory.mktemp("worked-examples"))
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]


@pytest.fixture
def allowed(installed, monkeypatch):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", ",".join(WORKED_EXAMPLES))
    hooks.reset()


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output[-3000:]
    return result


def test_the_examples_are_listed_with_their_distributions_and_import_cheaply(allowed):
    rows = {(r["kind"], r["name"]): r for r in json.loads(invoke("plugins", "--json").stdout)}
    for key, package in ((("encoder", "cnn_text"), "interestkit-cnntext"),
                         (("classifier", "gated"), "interestkit-gatedhead"),
                         (("fusion", "max_score"), "interestkit-maxfusion")):
        assert (rows[key]["package"], rows[key]["version"], rows[key]["status"]) == (package, "0.1.0", "ok")
    checked = CliRunner().invoke(cli, ["plugins", "--check", "--json"])
    costs = {row["plugin"]: row for row in json.loads(checked.stdout) if row["kind"] == "import"}
    for plugin in ("cnntext", "gatedhead", "maxfusion"):  # their own tests check the time, too
        assert costs[plugin]["heavy"] == [] and costs[plugin]["error"] is None, costs[plugin]


@pytest.mark.parametrize("example", WORKED_EXAMPLES)
def test_each_example_passes_its_own_tests(allowed, example):
    """The tests docs/plugins.md shows, run from the example's own ``tests/`` folder."""
    (path,) = (FIXTURES / example / "tests").glob("test_*.py")
    spec = importlib.util.spec_from_file_location(f"worked_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) >= 2
    for test in tests:
        test()


def test_train_rank_evaluate_and_serve_with_the_examples(allowed, tmp_path, monkeypatch):
    paths = small_workspace(tmp_path / "ws", users=4)
    config = tmp_path / "cnn.yaml"
    config.write_text(textwrap.dedent("""
        plugin: cnn_text
        encoder: {vocab_size: 300, sequence_length: 12, filters: 8}
        classifier: {name: gated, hidden: 8}
        training: {epochs: 2}
    """))
    trained = invoke("train", "--config", config, "--data", paths["text"], "--set", "encoder.k=3",
                     "--set", "classifier.dropout=0.1")
    assert "registered        interestkit-text version 1" in trained.stdout
    model, described = tracking.load_interest_model("models:/interestkit-text@champion")
    assert (model.meta["plugin_package"], model.meta["classifier_package"]) == \
        ("interestkit-cnntext", "interestkit-gatedhead")
    import mlflow

    params = mlflow.MlflowClient().get_run(described["run_id"]).data.params
    assert (params["encoder.k"], params["encoder.filters"], params["classifier.options.dropout"]) == ("3", "8", "0.1")
    tracking.register_interest_model(FakeInterestModel("image", ["Golf", "Cooking", "Pets", "Travel"]))

    fusion = tmp_path / "fusion.yaml"  # a fusion's options: the file --fusion-weights reads
    fusion.write_text("fusion: max_score\nparams: {tie_break: 0.01}\n")
    ranked = invoke("rank", "--posts", paths["posts"], "--fusion", "max_score", "--fusion-weights", fusion,
                    "--format", "json")
    assert {user["fusion"] for user in json.loads(ranked.stdout)} == {"max_score"}
    assert f"fused with max_score ({fusion}) from interestkit-maxfusion 0.1.0" in ranked.stderr
    evaluated = json.loads(invoke("evaluate", "--posts", paths["posts"], "--labels", paths["labels"],
                                  "--fusion", "all", "--format", "json").stdout)
    assert evaluated["max_score"]["fusion"] == "max_score" and evaluated["max_score"]["users"] == 4

    invoke("models", "build-hybrid", "--fusion", "max_score", "--fusion-weights", fusion)
    pipeline, _ = tracking.load_hybrid()
    assert pipeline.fusion.as_dict()["params"] == {"tie_break": 0.01}

    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-maxfusion")  # where it is served: cnntext left out
    monkeypatch.setenv("INTERESTKIT_RUNTIME", "tf")  # the Keras files need the plugin (an ONNX export would not)
    hooks.reset()
    with forgotten_by_keras("interestkit_cnntext>KMaxPooling"), pytest.raises(ModelError) as error:
        tracking.load_hybrid()
    assert "encoder 'cnn_text' comes from interestkit-cnntext 0.1.0; it is installed but " \
           "INTERESTKIT_PLUGINS='interestkit-maxfusion' leaves it out: set " \
           "INTERESTKIT_PLUGINS=interestkit-maxfusion,interestkit-cnntext" in str(error.value)


LAYER_MODULE = '''
"""A custom layer, but no interestkit.keras_objects entry point names this module."""
import keras


@keras.saving.register_keras_serializable(package="ik_test_undeclared")
class Doubler(keras.layers.Layer):
    def call(self, inputs):
        return keras.ops.cast(inputs, "float32") * 2.0
'''

ENCODER_MODULE = '''
"""An encoder whose saved model needs a layer that no entry point declares."""
from interestkit import Encoder, hookimpl


class UndeclaredLayerEncoder(Encoder):
    modality = "text"

    def build(self, train_inputs=None):
        import keras

        from ik_test_undeclared_layers import Doubler

        vectorizer = keras.layers.TextVectorization(max_tokens=50, output_mode="count")
        vectorizer.adapt(list(train_inputs))
        inputs = keras.Input(shape=(1,), dtype="string")
        return keras.Model(inputs, Doubler()(keras.layers.Flatten()(vectorizer(inputs))))


@hookimpl
def register_encoders(register):
    register("undeclared", UndeclaredLayerEncoder)
'''


def test_check_encoder_catches_a_custom_layer_without_its_entry_point(site, monkeypatch):
    (site / "ik_test_undeclared_layers.py").write_text(LAYER_MODULE)
    add_distribution(site, "interestkit-undeclared", "ik_test_undeclared", entry_point="undeclared",
                     version="0.2.0", source=ENCODER_MODULE)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "undeclared")
    encoder = hooks.get("encoder", "undeclared").cls
    with pytest.raises(AssertionError) as error:
        check_encoder(encoder, "text")
    message = str(error.value)
    assert message.startswith("undeclared: the saved model does not load in a fresh process, where plugins come "
                              "only from installed entry points: ")
    assert "if interestkit-undeclared defines custom Keras layers, it must name the module that registers them in " \
           "the 'interestkit.keras_objects' entry-point group" in message
    assert "hint: a custom Keras layer must be registered with @keras.saving.register_keras_serializable" in message
