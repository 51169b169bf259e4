"""Third-party plugins found through real distribution metadata (importlib.metadata).

Each test lays out installed distributions on a temporary ``sys.path`` entry (a
``.dist-info`` folder with ``METADATA`` and ``entry_points.txt`` beside the plugin's
module), or installs a tiny project with pip, then sets INTERESTKIT_PLUGINS itself.
"""

import json
import subprocess
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner

from interestkit import hooks as plugins
from interestkit.errors import PluginError
from plugin_fixtures import PLUGIN_SOURCE, add_distribution

@pytest.fixture
def two_plugins(site):
    add_distribution(site, "interestkit-alpha", "ik_test_alpha", entry_point="alpha", version="0.3.1")
    add_distribution(site, "interestkit-beta", "ik_test_beta", entry_point="beta", version="2.0")
    return site


def encoder_names():
    return set(plugins.collect("encoder"))


# --- discovery -------------------------------------------------------------------------


@pytest.mark.integration
def test_pip_installed_distribution_is_discovered(tmp_path, monkeypatch):
    """A real project with an entry point, built and installed by pip into a --target folder."""
    pytest.importorskip("setuptools", reason="--no-build-isolation builds with the environment's setuptools")
    project = tmp_path / "project"
    (project / "ik_test_hello").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "interestkit-hello"
        version = "1.2.3"
        dependencies = ["interestkit"]

        [project.entry-points.interestkit]
        hello = "ik_test_hello"
    '''))
    (project / "ik_test_hello" / "__init__.py").write_text(PLUGIN_SOURCE.format(
        doc="Says hello.", cls="HelloEncoder", dist="interestkit-hello",
        register_body='register("hello", HelloEncoder)') + textwrap.dedent('''

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                """Say hello."""
    '''))
    target = tmp_path / "target"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(project)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    monkeypatch.syspath_prepend(str(target))
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-hello")
    plugins.reset()
    try:
        info = plugins.get("encoder", "hello")
        assert (info.package, info.version, info.plugin) == ("interestkit-hello", "1.2.3", "hello")
        assert info.hooks == ["register_commands", "register_encoders"]
        row = next(r for r in plugins.plugin_rows() if r["name"] == "hello")
        assert row["status"] == "ok" and row["description"] == "Says hello."
        group = click.Group()
        plugins.get_plugin_manager().hook.register_commands(cli=group)
        assert "hello" in group.commands
    finally:
        sys.modules.pop("ik_test_hello", None)
        plugins.reset()


def test_plugins_command_shows_package_version_and_hooks(two_plugins, monkeypatch):
    from interestkit.cli import cli

    monkeypatch.setenv("INTERESTKIT_PLUGINS", "alpha,beta")
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.output)}
    alpha = rows[("encoder", "alpha")]
    assert (alpha["package"], alpha["version"], alpha["hooks"]) == ("interestkit-alpha", "0.3.1", ["register_encoders"])
    assert rows[("encoder", "beta")]["package"] == "interestkit-beta"


# --- the allow-list ----------------------------------------------------------------------


def test_unset_allow_list_loads_every_installed_plugin(two_plugins, monkeypatch):
    monkeypatch.delenv("INTERESTKIT_PLUGINS", raising=False)
    assert {"alpha", "beta", "bilstm"} <= encoder_names()


def test_empty_allow_list_loads_builtins_only(two_plugins, monkeypatch):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "")
    names = encoder_names()
    assert "bilstm" in names and not {"alpha", "beta"} & names
    assert {r["package"] for r in plugins.plugin_rows()} == {"interestkit"}


@pytest.mark.parametrize("allow", ["alpha", "interestkit-alpha", " Interestkit_Alpha , "])
def test_allow_list_by_entry_point_or_distribution_name(two_plugins, monkeypatch, allow):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", allow)
    names = encoder_names()
    assert "alpha" in names and "beta" not in names and "bilstm" in names


def test_allow_list_name_that_matches_nothing_is_reported(two_plugins, monkeypatch, capsys):
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "alpah")
    assert not {"alpha", "beta"} & encoder_names()
    err = capsys.readouterr().err
    assert "'alpah'" in err and "did you mean 'alpha'" in err


# --- broken plugins and strict mode --------------------------------------------------------


def test_plugin_that_fails_to_import_is_reported_once_and_skipped(two_plugins, monkeypatch, capsys):
    add_distribution(two_plugins, "interestkit-broken", "ik_test_broken", entry_point="broken",
                     source="import not_a_module_anywhere\n")
    monkeypatch.delenv("INTERESTKIT_PLUGINS", raising=False)
    for _ in range(3):
        assert {"alpha", "beta"} <= encoder_names()
    plugins.broken_plugins()
    err = capsys.readouterr().err
    assert err.count("'broken'") == 1, err
    assert "ModuleNotFoundError" in err and "not_a_module_anywhere" in err
    [row] = [r for r in plugins.plugin_rows() if r["name"] == "broken"]
    assert row["status"] == "failed" and "not_a_module_anywhere" in row["description"]


def test_plugin_that_fails_to_register_is_skipped(two_plugins, monkeypatch, capsys):
    add_distribution(two_plugins, "interestkit-faulty", "ik_test_faulty", entry_point="faulty",
                     source=PLUGIN_SOURCE.format(doc="Faulty.", cls="E", dist="d",
                                                 register_body='raise RuntimeError("boom")'))
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "alpha,faulty")
    assert "alpha" in encoder_names()
    assert "'faulty'" in capsys.readouterr().err
    assert [name for name, message in plugins.broken_plugins() if "boom" in message] == ["faulty"]
    [row] = [r for r in plugins.plugin_rows() if r["name"] == "faulty"]
    assert row["status"] == "failed" and "boom" in row["description"] and row["package"] == "interestkit-faulty"


def test_strict_mode_makes_a_broken_plugin_an_error(two_plugins, monkeypatch):
    add_distribution(two_plugins, "interestkit-broken", "ik_test_broken", entry_point="broken",
                     source="raise ValueError('bad config')\n")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "alpha,broken")
    monkeypatch.setenv("INTERESTKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"'broken'.*ValueError: bad config.*strict") as error:
        plugins.collect("encoder")
    assert "skipped" not in str(error.value)  # in strict mode nothing is skipped: the command fails
    assert str(error.value) == ("plugin 'broken' (interestkit-broken 1.0): failed to load: ValueError: bad config "
                                "(strict mode: fix the plugin, uninstall it or leave it out of INTERESTKIT_PLUGINS)")


def _cli_has_strict_flag():
    from interestkit.cli import cli

    return any("--strict-plugins" in param.opts for param in cli.params)


@pytest.mark.skipif(not _cli_has_strict_flag(), reason="the CLI has no --strict-plugins option")
@pytest.mark.integration
def test_strict_plugins_flag(two_plugins, monkeypatch):
    add_distribution(two_plugins, "interestkit-broken", "ik_test_broken", entry_point="broken",
                     source="raise ValueError('bad config')\n")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "broken")
    code = ("import sys; from interestkit.cli import main\n"
            "sys.exit(main(['--strict-plugins', 'plugins']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=_env_with_path(two_plugins))
    assert out.returncode == 2 and "bad config" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "skipped" not in out.stderr and "strict mode" in out.stderr, out.stderr
    lenient = subprocess.run([sys.executable, "-c", code.replace("'--strict-plugins', ", "")],
                             capture_output=True, text=True, timeout=120, env=_env_with_path(two_plugins))
    assert lenient.returncode == 0 and lenient.stderr.count("bad config") == 1, lenient.stderr


def _env_with_path(site):
    import os

    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))


# --- names ---------------------------------------------------------------------------------


def test_same_encoder_name_from_two_distributions_names_both(site, monkeypatch):
    add_distribution(site, "interestkit-one", "ik_test_one", entry_point="one", encoder="twin")
    add_distribution(site, "interestkit-two", "ik_test_two", entry_point="two", encoder="twin")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "one,two")
    assert "twin" not in encoder_names()
    with pytest.raises(PluginError) as error:
        plugins.get("encoder", "twin")
    message = str(error.value)
    assert "'twin'" in message and "interestkit-one" in message and "interestkit-two" in message


def test_same_entry_point_name_in_two_distributions_loads_both(site, monkeypatch):
    add_distribution(site, "interestkit-left", "ik_test_left", entry_point="shared")
    add_distribution(site, "interestkit-right", "ik_test_right", entry_point="shared")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "shared")
    encoders = plugins.collect("encoder")
    assert {encoders["left"].package, encoders["right"].package} == {"interestkit-left", "interestkit-right"}


# --- custom Keras objects ---------------------------------------------------------------------


def test_keras_object_modules_are_imported_only_when_a_model_loads(site, monkeypatch):
    (site / "ik_test_layers.py").write_text("import sys\nsys.modules[__name__].imported = True\n")
    add_distribution(site, "interestkit-layered", "ik_test_layered", entry_point="layered",
                     keras_objects="ik_test_layers")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "layered")
    assert "layered" in encoder_names()
    assert "ik_test_layers" not in sys.modules
    plugins.import_keras_objects()
    assert sys.modules["ik_test_layers"].imported


def test_keras_object_modules_follow_the_allow_list(site, monkeypatch, capsys):
    add_distribution(site, "interestkit-layered", "ik_test_layered", entry_point="layered",
                     keras_objects="ik_test_missing_layers")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "")
    plugins.import_keras_objects()
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "layered")
    plugins.import_keras_objects()
    assert "ik_test_missing_layers" in capsys.readouterr().err


# --- interestkit.testing: the checks plugin authors run ---------------------------------------


@pytest.mark.integration
def test_checks_pass_on_the_builtins():
    """The fusion and head checks on the built-ins (check_encoder runs on the worked example, in
    tests/test_worked_examples.py: it loads the model in a fresh process, seconds of TensorFlow start-up)."""
    from interestkit.testing import check_classifier, check_fusion
    from interestkit_plugins.fusion import RankVoteFusion, ScoreSumFusion, WeightedFusion
    from interestkit_plugins.heads import MLPClassifier, SoftmaxClassifier

    for fusion in (ScoreSumFusion, RankVoteFusion, WeightedFusion):
        check_fusion(fusion)
    check_fusion(ScoreSumFusion, {"normalize": True})
    check_classifier(SoftmaxClassifier)
    check_classifier(MLPClassifier, {"hidden": 8})


def test_check_fusion_explains_what_is_wrong():
    from interestkit import Fusion
    from interestkit.testing import check_fusion

    class TextOnly(Fusion):
        def fuse(self, scores):
            return dict(scores.get("text", {}))

    with pytest.raises(AssertionError, match="union of the modalities' interests; got"):
        check_fusion(TextOnly)


@pytest.mark.integration  # builds a Keras model
def test_check_encoder_explains_a_wrong_output_shape():
    from interestkit import Encoder
    from interestkit.testing import check_encoder

    class Unflattened(Encoder):
        modality = "text"

        def build(self, train_inputs=None):
            import keras

            vectorizer = keras.layers.TextVectorization(max_tokens=50, output_mode="count")
            vectorizer.adapt(list(train_inputs))
            inputs = keras.Input(shape=(1,), dtype="string")
            return keras.Model(inputs, vectorizer(inputs))

    with pytest.raises(AssertionError, match=r"output shape \(batch, features\), got \(None, 1, \d+\)"):
        check_encoder(Unflattened, "text")
