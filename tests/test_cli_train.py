import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import require_shared, write_captions
from interestkit.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def client():
    from interestkit import tracking

    tracking.configure()
    from mlflow import MlflowClient

    return MlflowClient()


FAST = ["--epochs", "2", "--batch-size", "16"]


@pytest.mark.integration
def test_train_registers_tracks_and_loads_back(captions, isolated_store):
    result = run("train", "--plugin", "gru", "--data", str(captions), *FAST)
    assert result.exit_code == 0, result.output
    assert "registered        interestkit-text version 1 (alias champion)" in result.output
    assert (isolated_store / "mlflow.db").is_file()
    c = client()
    mv = c.get_model_version_by_alias("interestkit-text", "champion")
    assert int(mv.version) == 1 and mv.tags["plugin"] == "gru"
    run_ = c.get_run(mv.run_id)
    assert run_.info.status == "FINISHED"
    assert run_.data.tags["interestkit.plugin"] == "gru"
    assert run_.data.params["training.epochs"] == "2"
    assert {"val_accuracy", "val_top5_accuracy", "val_loss", "loss"} <= set(run_.data.metrics)
    assert run_.info.artifact_uri.startswith((isolated_store / "artifacts").as_uri())
    # one point per epoch, then the evaluation of the kept weights
    assert len(c.get_metric_history(run_.info.run_id, "val_loss")) == int(run_.data.metrics["epochs"]) + 1
    artifacts = {a.path for a in c.list_artifacts(run_.info.run_id)}
    assert {"learning_curves.png", "confusion_matrix.png", "labels.json", "data_fingerprint.json", "config.json"} <= artifacts
    import mlflow

    # what the UI shows on the saved model, and what a person promotes by: the final metrics
    (logged,) = mlflow.search_logged_models(experiment_ids=[run_.info.experiment_id], output_format="list")
    shown = {m.key: m.value for m in logged.metrics}
    for key in ("val_accuracy", "val_loss", "val_top5_accuracy"):
        assert shown[key] == pytest.approx(run_.data.metrics[key])
    assert mv.description.startswith("gru (text, head softmax) trained on ")
    assert f"top-1 {run_.data.metrics['val_accuracy']:.4f}" in mv.description and mv.run_id in mv.description
    assert c.get_registered_model("interestkit-text").description.startswith("interestkit caption models")

    model = mlflow.pyfunc.load_model("models:/interestkit-text@champion")
    out = model.predict(pd.DataFrame({"text": ["golf swing on the green. par!", "a puppy and a kitten"]}))
    assert list(out.columns) == ["Cooking", "Golf", "Pets"]
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-4)

    # a second version is registered but does not take the champion alias
    result = run("train", "--plugin", "rnn", "--data", str(captions), *FAST)
    assert "version 2" in result.output and "alias champion" not in result.output
    assert int(client().get_model_version_by_alias("interestkit-text", "champion").version) == 1


@pytest.mark.slow
def test_no_register_tracks_only(captions):
    result = run("train", "--plugin", "rnn", "--data", str(captions), "--no-register", *FAST)
    assert result.exit_code == 0 and "registered        no" in result.output
    assert client().search_registered_models() == []


@pytest.mark.slow
def test_config_file_and_flags(tmp_path, captions):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("plugin: lstm\nencoder: {units: 4}\ntraining: {epochs: 5, batch_size: 16}\n"
                   "tracking: {experiment: mine}\n")
    result = run("train", "--config", str(cfg), "--data", str(captions), "--epochs", "1")
    assert result.exit_code == 0, result.output
    exp = client().get_experiment_by_name("mine")
    (r,) = client().search_runs([exp.experiment_id])
    assert r.data.params["training.epochs"] == "1" and r.data.params["encoder.units"] == "4"


def test_failed_run_is_marked_failed_and_registers_nothing(captions, monkeypatch):
    import interestkit.app.train as train_mod

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train", explode)
    result = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", str(captions)])
    assert result.exit_code == 130 and "registered nothing" in result.output
    c = client()
    (r,) = c.search_runs([c.get_experiment_by_name("interestkit").experiment_id])
    assert r.info.status in ("FAILED", "KILLED")
    assert c.search_registered_models() == []


@pytest.mark.slow
def test_sigterm_mid_training_marks_the_run_failed_and_registers_nothing(captions, isolated_store, tmp_path):
    """``kill`` (a scheduler's timeout) is handled like Ctrl-C: no run left RUNNING, no version."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = tmp_path / "slow.yaml"
    cfg.write_text("encoder: {units: 4, vocab_size: 300, sequence_length: 8}\n"
                   "training: {epochs: 1000, batch_size: 4, early_stopping: false, verbose: 2}\n")
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "interestkit", "train", "--plugin", "rnn", "--data",
                                 str(captions), "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=stderr,
                                env=dict(os.environ))
        deadline = time.time() + 120
        while "Epoch 2/" not in log.read_text(errors="replace") and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    text = log.read_text()
    assert "Interrupted" in text and "Traceback" not in text
    c = client()
    (r,) = c.search_runs([c.get_experiment_by_name("interestkit").experiment_id])
    assert r.info.status in ("FAILED", "KILLED")
    assert c.search_registered_models() == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--plugin", "bilstn"], "unknown encoder 'bilstn' (did you mean 'bilstm'"),
        (["--plugin", "gru", "--data", "missing.tsv"], "missing.tsv: file or folder not found"),
        (["--plugin", "gru", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    ],
)
def test_user_mistakes_get_one_line_errors(captions, args, message):
    if "--data" not in args:
        args = args + ["--data", str(captions)]
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_text_plugin_refuses_image_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "Golf").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", str(folder)])
    assert result.exit_code == 2
    assert "is a text encoder" in result.output and "photos" in result.output


@pytest.mark.parametrize("section, message", [
    ("encoder: {units: 0}", "encoder: gru.units: must be at least 1 and at most 4096, got 0"),
    ("training: {learning_rate: -1}", "training.learning_rate: must be greater than 0"),
    ("classifier: {dropout: 1.5}", "classifier: softmax.dropout: must be at least 0 and less than 1, got 1.5"),
])
def test_bad_options_fail_before_any_run_opens(tmp_path, captions, section, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(section + "\n")
    result = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", str(captions), "--config", str(cfg)])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert client().search_runs([e.experiment_id for e in client().search_experiments()]) == []


def test_unknown_config_key_names_file(tmp_path, captions):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("trainnig: {epochs: 1}\n")
    result = CliRunner().invoke(cli, ["train", "--plugin", "gru", "--data", str(captions), "--config", str(cfg)])
    assert result.exit_code == 2 and "bad.yaml: unknown key 'trainnig'" in result.output


@pytest.mark.realdata
def test_bilstm_on_real_captions(tmp_path):
    """bilstm on a 12,000-title stratified sample of the real titles, 4 epochs (~40 s).

    Floor 0.35: with 34 labels chance is ~0.03 and the largest label ~0.04. This setting
    measured 0.47 here and was still improving at epoch 4 (the full set reaches ~0.63,
    docs/benchmarks.md), so 0.35 catches a broken pipeline without flaking.
    """
    data = require_shared("text", "train.tsv")
    result = run("train", "--plugin", "bilstm", "--data", str(data), "--max-rows", "12000", "--epochs", "4",
                 "--no-register")
    assert result.exit_code == 0, result.output
    top1 = float(next(l for l in result.output.splitlines() if l.startswith("val top-1")).split()[-1])
    assert top1 >= 0.35
