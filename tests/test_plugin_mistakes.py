"""A plugin author's mistakes, each caught where it is made, with a one-line message.

Every test installs a small distribution by hand (``plugin_fixtures.add_distribution``:
a module and its ``.dist-info``, found by ``importlib.metadata`` like a pip install) and
runs the commands on TensorFlow-free fake models saved as folders, in milliseconds.
"""

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest
from click.testing import CliRunner

from conftest import write_captions
from interestkit import Fusion, hooks
from interestkit.cli import cli
from interestkit.cli.options import parse_settings
from interestkit.errors import PluginError
from interestkit.testing import FakeInterestModel, check_fusion, check_import_cost
from plugin_fixtures import add_distribution, fusion_distribution

LABELS = ("Golf", "Cooking", "Pets")

@pytest.fixture
def workspace(tmp_path):
    """Fake text and image models as folders, two users' captions and their labels."""
    for modality in ("text", "image"):
        FakeInterestModel(modality, LABELS, keywords={"Golf": ["birdie"], "Pets": ["puppy"]}).save(tmp_path / modality)
    rows = [{"user_id": "u1", "post_id": "a", "text": "a birdie on the green"},
            {"user_id": "u1", "post_id": "b", "text": "golf again"},
            {"user_id": "u2", "post_id": "c", "text": "my puppy and pets"}]
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "labels.tsv").write_text("user_id\tinterest\nu1\tGolf\nu2\tPets\n")
    return tmp_path


def run(workspace, *args):
    """``interestkit COMMAND --posts ... --text-model FOLDER --image-model ''`` (fake models)."""
    return CliRunner().invoke(cli, [*args, "--posts", str(workspace / "posts.jsonl"),
                                    "--text-model", str(workspace / "text"), "--image-model", ""])


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    return line


def listed(name, kind="fusion"):
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    return [r for r in json.loads(result.stdout) if r["kind"] == kind and r["name"] == name]


# --- registration is validated ----------------------------------------------------------


@pytest.mark.parametrize("body, reason", [
    ('register("max_score", GoodFusion())', "is an instance of GoodFusion, not a class"),
    ('register("max_score", TextEncoder)', "TextEncoder is an interestkit.Encoder, not an interestkit.Fusion"),
    ('register("max_score", Plain)', "Plain is not a subclass of interestkit.Fusion"),
    ('register("max_score", NoFuse)', "NoFuse does not implement fuse()"),
], ids=["an instance", "an encoder as a fusion", "a plain class", "fuse not implemented"])
def test_a_wrong_registration_is_refused_with_one_line_naming_plugin_and_distribution(
        site, monkeypatch, workspace, capsys, body, reason):
    fusion_distribution(site, body)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-maxfusion")
    assert "max_score" not in hooks.collect("fusion") and "score_sum" in hooks.collect("fusion")
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "max_score" in line]
    assert warning.startswith("warning: fusion 'max_score' from plugin 'maxfusion' (interestkit-maxfusion 0.1.0)")
    assert reason in warning and warning.endswith("it cannot be used")

    (row,) = listed("max_score")  # `interestkit plugins` lists it, and why it cannot be used
    assert row["status"] == "invalid" and reason in row["problem"] and row["package"] == "interestkit-maxfusion"
    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0 and "invalid" in table.output and reason in table.output

    line = error_line(run(workspace, "rank", "--fusion", "max_score"))
    assert "fusion 'max_score' cannot be used: plugin 'maxfusion' (interestkit-maxfusion 0.1.0)" in line
    assert reason in line
    assert run(workspace, "rank", "--fusion", "rank_vote").exit_code == 0  # the others still work

    monkeypatch.setenv("INTERESTKIT_STRICT_PLUGINS", "1")
    hooks.reset()
    with pytest.raises(PluginError, match=f"{reason}.*strict mode"):
        hooks.collect("fusion")


def test_an_invalid_name_and_an_empty_hook_are_reported(site, monkeypatch, capsys):
    fusion_distribution(site, 'register("", GoodFusion)')
    fusion_distribution(site, "pass", dist="interestkit-empty", module="ik_test_empty", entry_point="empty")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "maxfusion,empty")
    assert set(hooks.collect("fusion")) == {"score_sum", "rank_vote", "weighted", "learned"}
    err = capsys.readouterr().err
    assert "has an invalid name '' (a non-empty str is expected)" in err
    assert "plugin 'empty' (interestkit-empty 0.1.0): registered no fusion in register_fusions" in err


# --- hooks interestkit would never call -----------------------------------------------------


TYPO_PLUGIN = '''
"""Hooks that interestkit would never call."""
from interestkit import Fusion, hookimpl


class MaxFusion(Fusion):
    def fuse(self, scores):
        return {}


@hookimpl
def register_fusion(register):
    register("max_score", MaxFusion)
'''

UNDECORATED_PLUGIN = '''
"""A hook without @hookimpl."""
from interestkit import Fusion


def register_fusions(register):
    register("max_score", Fusion)
'''


@pytest.mark.parametrize("source, words", [
    (TYPO_PLUGIN, "implements 'register_fusion', which is not an interestkit hook (did you mean 'register_fusions'?)"),
    (UNDECORATED_PLUGIN, "defines register_fusions() without @hookimpl, so interestkit never calls it"),
    ('"""Registers nothing."""\n', "implements no interestkit hook"),
], ids=["a misspelt hook", "no @hookimpl", "nothing at all"])
def test_a_hook_interestkit_would_never_call_is_reported(site, monkeypatch, capsys, source, words):
    add_distribution(site, "interestkit-maxfusion", "ik_test_maxfusion", entry_point="maxfusion", version="0.1.0",
                     source=source)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "maxfusion")
    assert "max_score" not in hooks.collect("fusion")
    err = capsys.readouterr().err
    assert err.count("warning: plugin 'maxfusion' (interestkit-maxfusion 0.1.0): ") == 1 and words in err, err
    (row,) = [r for r in hooks.plugin_rows() if r["name"] == "maxfusion"]
    assert row["status"] == "warning" and words in row["problems"][0]

    strict = CliRunner().invoke(cli, ["--strict-plugins", "plugins"])  # lists everything, then fails
    assert strict.exit_code == 2 and "maxfusion" in strict.stdout and "Traceback" not in strict.output
    assert words in error_line(strict) and "strict mode" in error_line(strict)
    assert CliRunner().invoke(cli, ["--strict-plugins", "cache", "info"]).exit_code == 2  # any command


# --- one plugin's failure never takes the others down ----------------------------------------


def test_a_fusion_that_fails_at_use_loses_only_its_row(site, monkeypatch, workspace):
    fusion_distribution(site, 'register("max_score", Raises)\nregister("lazy", NoFuse)')
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "maxfusion")
    result = CliRunner().invoke(cli, ["evaluate", "--posts", str(workspace / "posts.jsonl"), "--labels",
                                      str(workspace / "labels.tsv"), "--text-model", str(workspace / "text"),
                                      "--image-model", "", "--mode", "fused", "--fusion", "all", "--format", "json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert {name: row["users"] for name, row in table.items() if "users" in row} == \
        {"score_sum": 2, "rank_vote": 2, "weighted": 2, "learned": 2}
    assert "RuntimeError: max() arg is an empty sequence" in table["max_score"]["error"]
    assert "interestkit-maxfusion 0.1.0" in table["max_score"]["error"]
    assert "does not implement fuse()" in table["lazy"]["error"]
    assert "error: max_score: fusion 'max_score' from plugin 'maxfusion'" in result.stderr

    text = CliRunner().invoke(cli, ["evaluate", "--posts", str(workspace / "posts.jsonl"), "--labels",
                                    str(workspace / "labels.tsv"), "--text-model", str(workspace / "text"),
                                    "--image-model", "", "--fusion", "all"])
    rows = {line.split()[0]: line for line in text.stdout.splitlines()[2:]}
    assert rows["max_score"].split()[-2:] == ["max_score", "(failed)"] and rows["rank_vote"].split()[-1] == "rank_vote"

    line = error_line(run(workspace, "rank", "--fusion", "max_score"))
    assert line == ("Error: fusion 'max_score' from plugin 'maxfusion' (interestkit-maxfusion 0.1.0) failed: "
                    "RuntimeError: max() arg is an empty sequence")


def test_a_third_party_score_sum_makes_only_that_name_unusable(site, monkeypatch, workspace):
    fusion_distribution(site, 'register("score_sum", GoodFusion)\nregister("max_score", GoodFusion)',
                        dist="interestkit-sumx", module="ik_test_sumx", entry_point="sumx")
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "sumx")
    rows = listed("score_sum")  # `interestkit plugins` lists both providers, marked
    assert sorted(r["package"] for r in rows) == ["interestkit", "interestkit-sumx"]
    assert all(r["status"] == "clash" and "also registered by plugin" in r["problem"] for r in rows)
    assert CliRunner().invoke(cli, ["plugins"]).exit_code == 0

    line = error_line(run(workspace, "rank"))  # score_sum is the default fusion
    assert "fusion 'score_sum' cannot be used: it is registered by plugin 'interestkit_plugins.fusion' " \
           "(interestkit 0.1.0) and by plugin 'sumx' (interestkit-sumx 0.1.0)" in line
    for fusion in ("rank_vote", "max_score"):
        ranked = run(workspace, "rank", "--fusion", fusion, "--format", "json")
        assert ranked.exit_code == 0, ranked.output
        assert {u["fusion"] for u in json.loads(ranked.stdout)} == {fusion}
    evaluated = CliRunner().invoke(cli, ["evaluate", "--posts", str(workspace / "posts.jsonl"), "--labels",
                                         str(workspace / "labels.tsv"), "--text-model", str(workspace / "text"),
                                         "--image-model", "", "--fusion", "all", "--format", "json"])
    table = json.loads(evaluated.stdout)
    assert "interestkit-sumx" in table["score_sum"]["error"] and table["rank_vote"]["users"] == 2


@pytest.mark.integration
def test_a_broken_command_hook_does_not_take_the_cli_down(site, monkeypatch):
    add_distribution(site, "interestkit-cmd", "ik_test_cmd", entry_point="cmd", source=textwrap.dedent('''
        from interestkit import hookimpl

        @hookimpl
        def register_commands(cli):
            raise RuntimeError("bad command")
    '''))
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "cmd")
    code = "import sys; from interestkit.cli import main; sys.exit(main(['plugins']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path])))
    assert out.returncode == 0, out.stderr
    assert "plugin 'cmd' (interestkit-cmd 1.0): failed in register_commands: RuntimeError: bad command" in out.stderr


# --- import-time cost ----------------------------------------------------------------------


HEAVY_PLUGIN = '''
"""Imports TensorFlow at its top."""
import sys
import types

# what `import tensorflow` leaves behind, without its seconds: the check looks at sys.modules
sys.modules.setdefault("tensorflow", types.ModuleType("tensorflow"))

from interestkit import Fusion, hookimpl


@hookimpl
def register_fusions(register):
    register("heavy_fusion", Fusion)
'''

SLOW_PLUGIN = '''
"""Takes its time to import."""
import time

time.sleep(0.6)
'''


def test_check_import_cost_reports_a_plugin_that_imports_tensorflow(site):
    add_distribution(site, "interestkit-heavy", "ik_test_heavy", entry_point="heavy", source=HEAVY_PLUGIN)
    with pytest.raises(AssertionError, match="importing ik_test_heavy imports tensorflow: `interestkit --help` and "
                                             "`interestkit plugins` import it; import TensorFlow, Keras and MLflow "
                                             "inside the methods"):
        check_import_cost("ik_test_heavy")


@pytest.mark.slow  # one fresh process per plugin, seven in all
def test_plugins_check_reports_heavy_and_slow_imports(site, monkeypatch):
    add_distribution(site, "interestkit-heavy", "ik_test_heavy", entry_point="heavy", source=HEAVY_PLUGIN)
    add_distribution(site, "interestkit-slow", "ik_test_slow", entry_point="slow", source=SLOW_PLUGIN)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "heavy,slow")
    result = CliRunner().invoke(cli, ["plugins", "--check", "--json"])
    assert result.exit_code == 1, result.output
    costs = {row["plugin"]: row for row in json.loads(result.stdout) if row["kind"] == "import"}
    assert costs["heavy"]["heavy"] == ["tensorflow"] and costs["heavy"]["package"] == "interestkit-heavy"
    assert costs["slow"]["seconds"] > 0.5 and "takes" in costs["slow"]["problems"][0]
    builtins = [row for name, row in costs.items() if name not in ("heavy", "slow")]
    shipped = {ep.name for ep in metadata.entry_points(group="interestkit") if ep.dist.name == "interestkit"}
    assert {row["plugin"] for row in builtins} == shipped  # every built-in module, checked like a third party's
    assert not any(row["heavy"] or row["error"] for row in builtins)  # time: load-dependent
    assert "heavy (interestkit-heavy): importing ik_test_heavy imports tensorflow" in result.stderr
    assert "hint: import TensorFlow, Keras and MLflow inside the methods" in result.stderr
    table = CliRunner().invoke(cli, ["plugins", "--check"])
    assert table.exit_code == 1 and "importing ik_test_slow takes" in table.stdout


# --- check_fusion: the documented contract ---------------------------------------------------


class Forgetful(Fusion):
    """Learns a weight but params() does not return it."""

    defaults = {"weight": 1.0}
    fittable = True

    def fit(self, examples):
        self.options["weight"] = 3.0
        return {"mrr": 1.0}

    def fuse(self, scores):
        weights = {"text": 1.0, "image": self.options["weight"]}
        interests = sorted({i for s in scores.values() for i in s})
        return {i: sum(weights.get(m, 1.0) * s.get(i, 0.0) for m, s in scores.items()) for i in interests}

    def params(self):
        return {}


class Mutating(Fusion):
    def fuse(self, scores):
        scores.setdefault("text", {})["Golf"] = 1.0
        return {i: v for s in scores.values() for i, v in s.items()}


class NotYet(Fusion):
    def fuse(self, scores):
        raise NotImplementedError("coming soon")


class Infinite(Fusion):
    def fuse(self, scores):
        return {i: float("inf") for s in scores.values() for i in s}


@pytest.mark.parametrize("cls, message", [
    (Forgetful, r"Forgetful\(\*\*params\(\)\) fuses differently .* params\(\) must return everything fit\(\) learnt"),
    (Mutating, r"fuse\(\) modified its input"),
    (NotYet, r"fuse\(\) on empty input is not implemented \(it raised NotImplementedError: coming soon\): "
             r"implement it in the subclass"),
    (Infinite, r"fused scores must be finite numbers"),
    (type("NoFuse", (Fusion,), {}), r"it would be refused: NoFuse does not implement fuse\(\)"),
])
def test_check_fusion_names_what_breaks_the_contract(cls, message):
    with pytest.raises(AssertionError, match=message):
        check_fusion(cls)


# --- passing options -------------------------------------------------------------------------


def test_set_passes_options_checked_like_a_config(tmp_path):
    captions = str(write_captions(tmp_path / "c.tsv", per_label=3))
    bad = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", captions, "--set", "units=3"])
    assert "expected SECTION.KEY=VALUE with SECTION one of encoder, classifier, training, tracking" in error_line(bad)
    typo = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", captions, "--set", "encoder.unitz=3"])
    assert "unknown option 'unitz' (did you mean 'units'?)" in error_line(typo)
    bounds = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", captions, "--set", "classifier.dropout=2"])
    assert "dropout: must be at least 0 and less than 1, got 2" in error_line(bounds)
    assert parse_settings(["encoder.units=8", "classifier.name=mlp", "training.calibrate=false",
                           "encoder.label=hello world"]) == {"encoder": {"units": 8, "label": "hello world"},
                                                      "classifier": {"name": "mlp"}, "training": {"calibrate": False}}
