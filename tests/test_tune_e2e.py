"""``interestkit tune`` end to end on real (tiny) models: resumed, two processes on one study,
a pruned trial, nested runs, the best trial registered."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from interestkit import tracking
from interestkit.modeling import search
from interestkit.testing.synthetic.workspace import make_text_table

pytestmark = pytest.mark.slow


def _table_with_sources(path):
    """The synthetic workspace's captions, each interest's split over four sources."""
    make_text_table(path, interests=["Golf", "Cooking", "Pets", "Music"], n_per_interest=60, seed=1)
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + "\tsource"] + [f"{line}\t{line.split(chr(9))[0]}-{i % 4}" for i, line in enumerate(lines[1:])]
    path.write_text("\n".join(rows) + "\n")
    return path


def _tune(args, env):
    return subprocess.Popen([sys.executable, "-m", "interestkit", "tune", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_tune_end_to_end(tmp_path):
    import optuna
    from mlflow import MlflowClient

    data = _table_with_sources(tmp_path / "captions.tsv")
    space = tmp_path / "space.yaml"
    space.write_text("training.learning_rate: {low: 5.0e-3, high: 0.05, log: true}\n"
                     "encoder.units: {low: 8, high: 16}\nencoder.embedding_init: random\n"
                     "training.early_stopping: false\n", encoding="utf-8")
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    args = ["--plugin", "rnn", "--data", str(data), "--space", str(space), "--study", "e2e", "--epochs", "4",
            "--set", "encoder.vocab_size=200", "--set", "encoder.embedding_dim=8", "--set", "training.learning_rate=0.02"]
    first = _tune([*args, "--n-trials", "3"], env)
    out, err = first.communicate(timeout=1200)
    assert first.returncode == 0, err[-2000:]
    assert "registered: interestkit-text version 1 (alias champion)" in out
    assert "on whole held-out groups of 'source'" in err  # the default split: by source

    storage = search.storage_url()
    study = optuna.load_study(study_name="e2e", storage=storage)
    assert study.trials[0].params["training.learning_rate"] == 0.02  # trial 0: the base config
    for _ in range(2):  # hopeless trials (outside the space, which Optuna allows when queued): pruned
        study.enqueue_trial({"training.learning_rate": 1e-6})

    both = [_tune([*args, "--n-trials", "9", "--jobs", "2", "--promote"], env), _tune([*args, "--n-trials", "9"], env)]
    for process in both:
        out, err = process.communicate(timeout=1800)
        assert process.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="e2e", storage=storage)
    states = [t.state.name for t in study.trials]
    assert sum(s in ("COMPLETE", "PRUNED") for s in states) >= 9
    assert "PRUNED" in states

    tracking.configure()  # this process's MLflow on the test's store
    client = MlflowClient()
    parent_id = study.user_attrs["mlflow_parent_run"]
    parent = client.get_run(parent_id)
    children = client.search_runs([parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")
    assert len(children) >= 9
    assert {"complete", "pruned"} <= {r.data.tags.get("interestkit.trial_state") for r in children}
    assert len({r.data.tags["interestkit.process"] for r in children}) >= 2  # several processes, one study
    artifacts = {f.path for f in client.list_artifacts(parent_id)}
    assert {"optimization_history.png", "parallel_coordinate.png", "study.json"} <= artifacts
    assert parent.data.metrics["best_value"] == pytest.approx(study.best_value)

    versions = client.search_model_versions("name='interestkit-text'")
    best = study.best_trial
    described = [v for v in versions if f"trial {best.number} of" in (v.description or "")]
    assert described and "study 'e2e'" in described[0].description
    assert described[0].run_id == best.user_attrs["run_id"]
