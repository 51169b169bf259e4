import json
import subprocess
import sys
import types

import pytest
from click.testing import CliRunner

from interestkit import hooks as plugins
from interestkit.cli import cli
from interestkit.errors import PluginError
from interestkit import hookimpl
from interestkit.interfaces import Encoder


class TinyEncoder(Encoder):
    """A test encoder."""

    modality = "text"
    defaults = {"size": 4}

    def build(self, train_inputs=None):
        raise AssertionError("not built in these tests")


def make_plugin(name, register_name="tiny", raises=False):
    module = types.ModuleType(name)

    @hookimpl
    def register_encoders(register):
        if raises:
            raise RuntimeError("boom")
        register(register_name, TinyEncoder)

    module.register_encoders = register_encoders
    return module


def test_builtins_are_registered_through_hooks():
    encoders = plugins.collect("encoder")
    assert {"rnn", "lstm", "gru", "bilstm"} <= set(encoders)
    assert encoders["bilstm"].package == "interestkit"
    assert encoders["bilstm"].modality == "text"
    assert "register_encoders" in encoders["bilstm"].hooks
    assert set(plugins.collect("classifier")) >= {"softmax"}
    assert set(plugins.collect("fusion")) >= {"score_sum", "rank_vote", "weighted"}


def test_in_process_plugin_is_collected():
    pm = plugins.get_plugin_manager()
    pm.register(make_plugin("my_plugin"), name="my_plugin")
    info = plugins.get("encoder", "tiny")
    assert info.cls is TinyEncoder and info.plugin == "my_plugin"


def test_duplicate_names_name_both_providers():
    pm = plugins.get_plugin_manager()
    pm.register(make_plugin("first"), name="first")
    pm.register(make_plugin("second"), name="second")
    encoders = plugins.collect("encoder")  # only the clashing name is unusable
    assert "tiny" not in encoders and "bilstm" in encoders
    with pytest.raises(PluginError) as error:
        plugins.get("encoder", "tiny")
    assert "'tiny'" in str(error.value) and "first" in str(error.value) and "second" in str(error.value)


def test_broken_plugin_is_reported_and_skipped(capsys):
    pm = plugins.get_plugin_manager()
    pm.register(make_plugin("broken", raises=True), name="broken")
    encoders = plugins.collect("encoder")
    assert "bilstm" in encoders and "tiny" not in encoders
    assert "broken" in capsys.readouterr().err
    assert any("boom" in message for _, message in plugins.broken_plugins())


def test_strict_mode_turns_broken_plugin_into_error(monkeypatch):
    monkeypatch.setenv("INTERESTKIT_STRICT_PLUGINS", "1")
    pm = plugins.get_plugin_manager()
    pm.register(make_plugin("broken", raises=True), name="broken")
    with pytest.raises(PluginError, match="broken.*boom"):
        plugins.collect("encoder")


def test_misspelt_name_suggests():
    with pytest.raises(PluginError, match="did you mean 'bilstm'"):
        plugins.get("encoder", "bilstn")


def test_plugins_command_json():
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("encoder", "bilstm")]["modality"] == "text"
    assert by_name[("encoder", "bilstm")]["package"] == "interestkit"
    assert by_name[("classifier", "softmax")]["kind"] == "classifier"
    assert by_name[("fusion", "rank_vote")]["kind"] == "fusion"
    assert all({"name", "kind", "modality", "package", "version"} <= set(r) for r in rows)


def test_plugins_table_lists_every_kind():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    for name in ("bilstm", "gru", "softmax", "score_sum"):
        assert name in result.output


@pytest.mark.integration
@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"]])
def test_help_and_plugins_do_not_import_tensorflow(args):
    code = (
        "import sys; from interestkit.cli import main\n"
        "try:\n    main(%r)\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules]\n"
        "print('HEAVY', heavy)" % (args,)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
