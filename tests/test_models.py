import json

import pytest
from click.testing import CliRunner

from conftest import write_captions
from interestkit.cli import cli
from store_snapshot import empty_store


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory, empty_store_template):
    """One store with two versions of interestkit-text (fakes with metrics), shared by this module's tests."""
    from interestkit import tracking
    from interestkit.testing import FakeInterestModel

    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTERESTKIT_REGISTRY", str(empty_store(empty_store_template, root / "registry")))
        for plugin, accuracy, loss in (("rnn", 0.40, 1.3), ("gru", 0.90, 0.4)):
            model = FakeInterestModel("text", ["Cooking", "Golf", "Pets"], meta={"plugin": plugin})
            tracking.register_interest_model(model, metrics={"val_accuracy": accuracy, "val_loss": loss,
                                                             "val_top5_accuracy": 1.0})
    return root / "registry"


@pytest.fixture
def two_versions(trained_store, monkeypatch):
    """The shared store, with the champion back on version 1."""
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(trained_store))
    assert invoke("models", "promote", "--modality", "text", "--version", "1").exit_code == 0
    rows = json.loads(invoke("models", "list", "--format", "json").output)
    return {r["version"]: r for r in rows}


def test_list_shows_aliases_plugin_fingerprint_and_metrics(two_versions):
    assert set(two_versions) == {1, 2}
    assert two_versions[1]["aliases"] == ["champion"] and two_versions[2]["aliases"] == []
    assert two_versions[1]["plugin"] == "rnn" and two_versions[2]["plugin"] == "gru"
    assert all(row["description"] for row in two_versions.values())  # people promote in the UI by it
    assert {"val_accuracy", "val_top5_accuracy", "val_loss"} <= set(two_versions[2]["metrics"])
    table = invoke("models", "list").output
    assert "interestkit-text" in table and "champion" in table and "val_accuracy" in table


def test_promote_by_metric_by_version_and_lower_is_better_for_loss(two_versions):
    by_acc = max(two_versions.values(), key=lambda r: (r["metrics"]["val_accuracy"], r["version"]))["version"]
    result = invoke("models", "promote", "--modality", "text")
    assert result.exit_code == 0, result.output
    assert f"champion version 1 -> version {by_acc}" in result.output
    by_loss = min(two_versions.values(), key=lambda r: (r["metrics"]["val_loss"], -r["version"]))["version"]
    result = invoke("models", "promote", "--modality", "text", "--metric", "val_loss")
    assert f"-> version {by_loss}" in result.output
    result = invoke("models", "promote", "--modality", "text", "--version", "1")
    assert result.exit_code == 0 and result.output.strip().endswith(
        f"-> version 1 (val_accuracy {two_versions[1]['metrics']['val_accuracy']:.4f})")
    rows = json.loads(invoke("models", "list", "--format", "json").output)
    assert [r["version"] for r in rows if "champion" in r["aliases"]] == [1]


def test_promote_errors_are_one_line(two_versions):
    result = invoke("models", "promote", "--modality", "text", "--version", "9")
    assert result.exit_code == 2 and "has no version 9 (versions: 1, 2)" in result.output
    result = invoke("models", "promote", "--modality", "text", "--metric", "f1")
    assert result.exit_code == 2 and "no version of interestkit-text has metric 'f1'" in result.output
    result = invoke("models", "promote", "--modality", "image")
    assert result.exit_code == 2 and "no versions of 'interestkit-image'" in result.output


def test_ui_command_binds_loopback_on_the_store(isolated_store):
    from interestkit import tracking

    command = tracking.ui_command(5123)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5123"
    assert str(isolated_store / "mlflow.db") in command[command.index("--backend-store-uri") + 1]


def test_build_hybrid_hint_is_the_exact_promote_command_and_it_works(tmp_path):
    """A second hybrid is not the champion: the hint says so, and the command it names promotes it."""
    import re
    import shlex

    from support import register_fakes, small_workspace

    small_workspace(tmp_path / "ws", users=2)
    register_fakes()
    first = invoke("models", "build-hybrid")
    assert first.exit_code == 0, first.output
    assert "it is the champion, so 'interestkit serve' serves it" in first.output
    second = invoke("models", "build-hybrid", "--fusion", "rank_vote")
    assert second.exit_code == 0, second.output
    assert "version 2" in second.output and "(alias champion)" not in second.output
    assert "it is not the champion (version 1 is)" in second.output
    assert "'interestkit serve --model models:/interestkit-hybrid/2'" in second.output
    command = re.search(r"'(interestkit models promote [^']+)'", second.output).group(1)
    assert command == "interestkit models promote --model hybrid --version 2"
    promoted = invoke(*shlex.split(command)[1:])
    assert promoted.exit_code == 0, promoted.output
    assert "interestkit-hybrid: champion version 1 -> version 2" in promoted.output
    back = invoke("models", "promote", "--modality", "hybrid", "--version", "1")  # the old flag still works
    assert back.exit_code == 0 and back.output.strip().endswith("-> version 1")
    newest = invoke("models", "promote", "--model", "hybrid")  # no metric: the newest version
    assert newest.exit_code == 0 and "-> version 2 (the newest)" in newest.output, newest.output


def test_promote_needs_a_model(isolated_store):
    result = invoke("models", "promote")
    assert result.exit_code == 64 and "give --model text, image or hybrid" in result.output
