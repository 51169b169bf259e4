import json

import pytest
from click.testing import CliRunner

from interestkit import hooks as plugins
from interestkit.cli import cli
from interestkit import hookimpl
from interestkit_plugins.text import GRUEncoder


class ExplodingEncoder(GRUEncoder):
    """Fails like a model that does not fit in memory."""

    def build(self, train_inputs=None):
        raise MemoryError("out of memory while building")


class ExplodingPlugin:
    @staticmethod
    @hookimpl
    def register_encoders(register):
        register("exploding", ExplodingEncoder)


def compare(*args):
    return CliRunner().invoke(cli, ["compare", *args], catch_exceptions=False)


@pytest.fixture
def tiny_config(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("encoder: {units: 4, vocab_size: 300, sequence_length: 8}\ntraining: {epochs: 2, batch_size: 16}\n")
    return cfg


@pytest.mark.slow
def test_compare_end_to_end_with_failure_promotion_and_resume(tmp_path, captions, tiny_config):
    plugins.get_plugin_manager().register(ExplodingPlugin(), name="exploding-plugin")
    out = tmp_path / "cmp"
    args = ["--plugins", "rnn,exploding,gru", "--data", str(captions), "--config", str(tiny_config),
            "--out", str(out)]
    result = compare(*args, "--promote")
    assert result.exit_code == 0, result.output
    # stdout holds the table; Keras' per-epoch lines go to stderr with the other progress
    assert "val_top1" in result.stdout and "Epoch 1/" in result.stderr and "Epoch" not in result.stdout
    rows = {r["plugin"]: r for r in json.loads((out / "comparison.json").read_text())}
    first = rows
    assert rows["exploding"]["status"] == "failed" and "out of memory" in rows["exploding"]["error"]
    assert rows["rnn"]["status"] == rows["gru"]["status"] == "trained"
    for r in (rows["rnn"], rows["gru"]):
        assert 0 <= r["val_top1"] <= 1 and r["parameters"] > 0 and r["infer_ms_per_item"] > 0
    assert (out / "val_accuracy.png").stat().st_size > 1000 and (out / "val_loss.png").stat().st_size > 1000
    winner = max((rows["rnn"], rows["gru"]), key=lambda r: (r["val_top1"], -r["val_loss"]))
    assert f"best: {winner['plugin']}" in result.output
    assert f"-> version {winner['version']}" in result.output

    from interestkit import tracking
    from mlflow import MlflowClient

    tracking.configure()
    client = MlflowClient()
    exp = client.get_experiment_by_name("interestkit")
    parents = client.search_runs([exp.experiment_id], "tags.`interestkit.comparison` = 'rnn,exploding,gru'")
    assert len(parents) == 1
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"val_accuracy.png", "val_loss.png", "comparison.json"} <= artifacts
    children = client.search_runs([exp.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'")
    assert sorted(c.data.tags["interestkit.plugin"] for c in children) == ["exploding", "gru", "rnn"]
    assert int(client.get_model_version_by_alias("interestkit-text", "champion").version) == winner["version"]

    # resume: finished children are reused, the failed one is tried again
    again = compare("--plugins", "rnn,exploding,gru", "--data", str(captions), "--config", str(tiny_config),
                    "--out", str(out))
    assert "rnn: reusing finished run" in again.output and "gru: reusing finished run" in again.output
    rows = {r["plugin"]: r for r in json.loads((out / "comparison.json").read_text())}
    for name in ("rnn", "gru"):
        assert rows[name]["status"] == "reused"
        assert rows[name]["val_top1"] == pytest.approx(first[name]["val_top1"])
        assert rows[name]["version"] == first[name]["version"]
    assert rows["exploding"]["status"] == "failed"
    forced = compare("--plugins", "rnn,gru", "--data", str(captions), "--config", str(tiny_config),
                     "--out", str(out), "--force")
    assert "reusing" not in forced.output


def test_mixed_modalities_are_refused(captions):
    result = CliRunner().invoke(cli, ["compare", "--plugins", "bilstm,efficientnet_lite0", "--data", str(captions)])
    assert result.exit_code == 2
    assert "different modalities: bilstm (text), efficientnet_lite0 (image)" in result.output


def test_needs_two_plugins(captions):
    result = CliRunner().invoke(cli, ["compare", "--plugins", "bilstm", "--data", str(captions)])
    assert result.exit_code == 2 and "at least two plugin names" in result.output
