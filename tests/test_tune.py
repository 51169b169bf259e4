"""``interestkit tune``: search spaces and their errors, pruning, resuming a study, the command's
one-line errors. Fast: training is replaced by a fake that reports per-epoch metrics; the
end-to-end run on real (tiny) models is in test_tune_e2e.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner

from interestkit import hooks
from interestkit.app import tune as tune_app
from interestkit.cli.main import cli
from interestkit.errors import ConfigError
from interestkit.modeling import search
from interestkit.modeling import space as space_mod
from interestkit.modeling.cache import FeatureCache
from interestkit.modeling.features import text_features
from interestkit.tracking import studies


def _classes(encoder="bilstm", head="softmax"):
    return hooks.get("encoder", encoder).cls, hooks.get("classifier", head).cls


# --- spaces ----------------------------------------------------------------------


def test_builtin_defaults_cover_the_rnns_and_frozen_heads():
    rnn = space_mod.default_space(*_classes("bilstm", "softmax"), frozen=False)
    assert rnn["encoder.units"].kind == "int" and rnn["encoder.units"].log
    assert rnn["encoder.embedding_init"].choices == ("glove", "random")
    assert {"encoder.spatial_dropout", "classifier.dropout", "training.learning_rate"} <= set(rnn)
    assert "training.mixup" not in rnn  # mixup mixes frozen features only
    frozen = space_mod.default_space(*_classes("glove_mean", "mlp"), frozen=True)
    assert {"classifier.hidden", "classifier.dropout", "training.weight_decay", "training.label_smoothing",
            "training.mixup", "training.learning_rate"} <= set(frozen)
    prior = space_mod.default_space(*_classes("efficientnet_lite2", "imagenet_prior"), frozen=True)
    assert prior["classifier.prior_weight"].kind == "float"


def test_space_file_narrows_widens_fixes_and_removes(tmp_path):
    enc, head = _classes("bilstm", "softmax")
    base = space_mod.default_space(enc, head, frozen=False)
    path = tmp_path / "space.yaml"
    path.write_text("encoder.units: {low: 16, high: 32}\n"
                    "training.batch_size: [32, 128]\n"
                    "training.epochs: 3\n"
                    "encoder.embedding_init: null\n", encoding="utf-8")
    space = space_mod.load_space_file(path, base, enc, head)
    assert (space["encoder.units"].low, space["encoder.units"].high) == (16, 32)
    assert space["training.batch_size"].choices == (32, 128)
    assert space["training.epochs"].kind == "fixed" and "encoder.embedding_init" not in space
    drawn = space_mod.draw(_FixedTrial({"encoder.units": 20, "training.batch_size": 128,
                                        "encoder.spatial_dropout": 0.1, "classifier.dropout": 0.2,
                                        "training.learning_rate": 0.002}), space)
    assert drawn["encoder"] == {"units": 20, "spatial_dropout": 0.1}
    assert drawn["training"] == {"batch_size": 128, "epochs": 3, "learning_rate": 0.002}


@pytest.mark.parametrize("text, message", [
    ("encoder.units: {low: 16, high: 32}\nencoder.unit: {low: 1, high: 2}\n",
     r"space.yaml:2: unknown option 'encoder.unit' \(did you mean 'encoder.units'"),
    ("classifier.dropout: {low: 0.5, high: 0.2}\n", r"space.yaml:1: classifier.dropout: empty range, low 0.5"),
    ("encoder.units: {low: 8.5, high: 32}\n", r"space.yaml:1: encoder.units: expected an integer, got float 8.5"),
    ("training.learning_rate: {low: 1e-4, high: 0.1}\n", r"space.yaml:1: training.learning_rate: expected a number, "
                                                         r"got str '1e-4' \(YAML reads 1e-4 as text: write 1.0e-4\)"),
    ("training.learning_rate: {low: 0.0, high: 0.1, log: true}\n", r"space.yaml:1: .*must be greater than 0"),
    ("training.class_weight: {low: 0, high: 1}\n", r"space.yaml:1: training.class_weight: a range needs a numeric"),
    ("encoder.embedding_init: [glove, glove2]\n", r"space.yaml:1: encoder.embedding_init: must be one of"),
    ("classifier.dropout: {low: 0.1, hi: 0.2}\n", r"space.yaml:1: classifier.dropout: unknown key 'hi'"),
    ("classifier.dropout: []\n", r"space.yaml:1: classifier.dropout: an empty list of choices"),
    ("- a\n- b\n", r"space.yaml:1: expected a mapping"),
    ("a: [\n", r"space.yaml:2: invalid YAML"),
])
def test_bad_space_is_one_line_naming_file_and_line(tmp_path, text, message):
    enc, head = _classes("bilstm", "softmax")
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        space_mod.load_space_file(path, space_mod.default_space(enc, head, False), enc, head)
    assert "\n" not in str(error.value)


def test_bad_space_through_the_command(tmp_path, captions):
    path = tmp_path / "space.yaml"
    path.write_text("# narrow it\nclassifier.dropout: {low: 0.6, high: 0.6}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["tune", "--plugin", "bilstm", "--data", str(captions), "--space", str(path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{path}:2: classifier.dropout: empty range" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


@pytest.mark.parametrize("args, message", [
    (["--n-trials", "0"], "--n-trials: must be at least 1, got 0"),
    (["--jobs", "0"], "--jobs: must be at least 1, got 0"),
    (["--timeout", "-5"], "--timeout: must be more than 0 seconds"),
    (["--metric", "val_group_accuracy"], "--metric val_group_accuracy needs a group split"),
    (["--epochs", "0"], "--epochs: must be at least 1"),
    (["--plugin", "bilstn"], "did you mean 'bilstm'"),
])
def test_bad_flags_are_one_line(captions, args, message):
    result = CliRunner().invoke(cli, ["tune", "--plugin", "bilstm", "--data", str(captions), *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_plugin_declarations_are_valid_for_every_builtin():
    for encoder_name, info in hooks.collect("encoder").items():
        for head_name, head in hooks.collect("classifier").items():
            space = space_mod.default_space(info.cls, head.cls, frozen=False)
            assert space_mod.searched(space), (encoder_name, head_name)


# --- pruning -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Heartbeat")
def test_pruning_stops_a_trial_below_the_median(tmp_path):
    import optuna

    study = search.open_study("p", "val_accuracy", "median", 5, url=f"sqlite:///{tmp_path / 'o.db'}")
    for good in range(3):
        trial = study.ask()
        report = search.pruning_callback(trial, "val_accuracy")
        for epoch, value in enumerate((0.5, 0.6, 0.7)):
            report("head", epoch, {"val_accuracy": value + good / 100})
        study.tell(trial, 0.7)
    bad = study.ask()
    report = search.pruning_callback(bad, "val_accuracy")
    report("head", 0, {"val_accuracy": 0.1})  # epoch 1: warm-up, never pruned
    with pytest.raises(optuna.TrialPruned, match="val_accuracy 0.1000 after epoch 2"):
        report("head", 1, {"val_accuracy": 0.1})
    fine = study.ask()
    report = search.pruning_callback(fine, "val_group_accuracy")  # reported as val_accuracy per epoch
    for epoch in range(3):
        report("head", epoch, {"val_accuracy": 0.9, "val_loss": 0.1})
    assert not fine.should_prune()


def test_hyperband_and_a_study_keeps_its_metric(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    assert type(search.make_pruner("hyperband", 10)).__name__ == "HyperbandPruner"
    search.open_study("s", "val_accuracy", "median", 5, url=url)
    with pytest.raises(ConfigError, match="study 's' optimises val_accuracy, not val_loss"):
        search.open_study("s", "val_loss", "median", 5, url=url)


# --- the use case, with training faked -------------------------------------------------


class _FixedTrial:
    def __init__(self, params):
        self.params = params

    def suggest_float(self, name, low, high, log=False):
        return self.params[name]

    suggest_int = suggest_float

    def suggest_categorical(self, name, choices):
        return self.params[name]


class _Result:
    def __init__(self, value, epochs):
        self.metrics = {"val_accuracy": value, "val_top5_accuracy": 1.0, "val_loss": 1 - value, "epochs": epochs}
        self.history = {"val_accuracy": [value] * epochs}
        self.labels = ["Cooking", "Golf", "Pets"]


def _fake_train(calls, interrupt_at=None):
    """Accuracy rises with the learning rate's closeness to 0.003; epochs reported as Keras would."""

    def train(encoder, classifier, dataset, training, on_epoch=None, cache=None, log=print):
        calls.append(dict(training))
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        value = float(np.clip(1 - abs(np.log10(training["learning_rate"] / 0.003)), 0.05, 1))
        for epoch in range(training["epochs"]):
            on_epoch("train", epoch, {"val_accuracy": value * (epoch + 1) / training["epochs"], "val_loss": 1.0})
        return _Result(value, training["epochs"])

    return train


DRAW_FIGURES = search.study_figures
SEED = int(os.environ.get("TUNE_TEST_SEED", "0"))  # the sampler's, where a test needs its draws fixed


def _request(captions, **kwargs):
    return tune_app.TuneRequest(data=str(captions), plugin="bilstm", n_trials=kwargs.pop("n_trials", 3),
                                overrides={"training": {"epochs": 3, "verbose": 0}}, study="s", **kwargs)


@pytest.fixture
def fake_training(monkeypatch):
    calls, logged = [], []
    monkeypatch.setattr(tune_app, "train", _fake_train(calls))
    monkeypatch.setattr(studies, "log_trial_model", lambda run, result: logged.append(run.run_id) or "models:/m-x")
    monkeypatch.setattr(studies, "register_best", lambda *a, **k: {"name": "interestkit-text", "version": 1,
                                                                   "champion": True, "args": a})
    # drawing a study's figures takes about a second: they are drawn and checked in one test only
    monkeypatch.setattr(search, "study_figures", lambda study: ({}, []))
    return calls, logged, monkeypatch


def test_resume_counts_done_trials_and_keeps_the_parent_run(captions, fake_training):
    import optuna
    from mlflow import MlflowClient

    calls, logged, _ = fake_training
    first = tune_app.run_tuning(_request(captions, n_trials=3), log=lambda m: None)
    assert len(calls) == 3 and calls[0]["learning_rate"] == 1e-3  # trial 0: the base config
    assert calls[0]["val_group"] == ""  # no source column: a stratified split
    lines = []
    second = tune_app.run_tuning(_request(captions, n_trials=5), log=lines.append)
    assert len(calls) == 5
    assert second["summary"]["parent_run_id"] == first["summary"]["parent_run_id"]
    assert "3 trial(s) done, up to 5" in lines[0]
    assert sum(line.startswith("trial ") for line in lines) == 2
    study = optuna.load_study(study_name="s", storage=search.storage_url())
    assert len(study.trials) == 5
    client = MlflowClient()
    runs = client.search_runs([client.get_run(first["summary"]["parent_run_id"]).info.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{first['summary']['parent_run_id']}'")
    assert len(runs) == 5 and {r.data.tags[studies.STATE_TAG] for r in runs} <= {"complete", "pruned"}
    assert all("search.training.learning_rate" in r.data.params for r in runs)
    assert logged  # improving trials logged their models
    best = second["table"][0]
    assert best["value"] == max(row["value"] for row in second["table"])
    assert second["summary"]["registered"]["args"][5] == best["trial"]  # registered: the best trial


def test_interrupted_trial_reruns_on_resume(captions, fake_training):
    import optuna

    calls, _, monkeypatch = fake_training
    monkeypatch.setattr(tune_app, "train", _fake_train(calls, interrupt_at=2))
    with pytest.raises(KeyboardInterrupt):
        tune_app.run_tuning(_request(captions, n_trials=3), log=lambda m: None)
    study = optuna.load_study(study_name="s", storage=search.storage_url())
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]
    monkeypatch.setattr(tune_app, "train", _fake_train(calls))
    tune_app.run_tuning(_request(captions, n_trials=3), log=lambda m: None)
    study = optuna.load_study(study_name="s", storage=search.storage_url())
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == 3


def test_progress_line_pruned_state_and_the_study_figures(captions, fake_training):
    from mlflow import MlflowClient

    calls, _, monkeypatch = fake_training
    monkeypatch.setattr(search, "study_figures", DRAW_FIGURES)
    lines = []
    space = captions.parent / "space.yaml"  # half the trials hopeless: the pruner must stop some
    space.write_text("training.learning_rate: [0.003, 1.0e-6]\nclassifier.dropout: 0.5\n"
                     "encoder.units: 16\nencoder.spatial_dropout: 0.0\nencoder.embedding_init: random\n")
    request = _request(captions, n_trials=12, space_path=str(space), sampler_seed=SEED)  # reproducible draws
    result = tune_app.run_tuning(request, log=lines.append)
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert len(trial_lines) >= 12
    assert any(" pruned " in line for line in trial_lines), trial_lines
    assert "best" in trial_lines[-1] and "training.learning_rate=" in trial_lines[-1]
    assert result["summary"]["counts"].get("pruned", 0) >= 1
    artifacts = {f.path for f in MlflowClient().list_artifacts(result["summary"]["parent_run_id"])}
    assert {"optimization_history.png", "param_importances.png", "parallel_coordinate.png", "study.json"} <= artifacts


def test_source_column_makes_the_group_split_the_default(tmp_path, fake_training):
    calls, _, _ = fake_training
    table = tmp_path / "c.tsv"
    rows = ["label\ttext\tsource"] + [f"{label}\t{label} word {i}\t{label}{i % 2}"
                                      for label in ("A", "B") for i in range(6)]
    table.write_text("\n".join(rows) + "\n")
    tune_app.run_tuning(_request(table, n_trials=1), log=lambda m: None)
    assert calls[0]["val_group"] == "source"


def test_text_features_go_through_the_cache(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    encoded = []

    def encode(texts):
        encoded.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    first = text_features(encode, ["a", "bb", "a"], cache, {"encoder": "x"})
    again = text_features(encode, ["bb", "a", "ccc"], cache, {"encoder": "x"})
    assert encoded == ["a", "bb", "ccc"]  # each caption encoded once, across calls
    assert first.tolist() == [[1, 1], [2, 1], [1, 1]] and again.tolist() == [[2, 1], [1, 1], [3, 1]]
    assert text_features(encode, ["a"], None, None).tolist() == [[1, 1]]
    chunked = text_features(encode, ["dddd", "a", "eeeee"], cache, {"encoder": "x"}, chunk=2)
    assert chunked.tolist() == [[4, 1], [1, 1], [5, 1]] and encoded[-2:] == ["dddd", "eeeee"]


# --- docs/tuning.md ----------------------------------------------------------------------

DOC = __import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "tuning.md"


def _blocks(language):
    text = DOC.read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in text.split(f"```{language}\n")[1:]]


def test_docs_space_snippet_loads(tmp_path):
    enc, head = _classes("bilstm", "softmax")
    path = tmp_path / "space.yaml"
    path.write_text(_blocks("yaml")[0], encoding="utf-8")
    space = space_mod.load_space_file(path, space_mod.default_space(enc, head, False), enc, head)
    assert space["training.learning_rate"].high == 3.0e-2 and space["training.batch_size"].choices == (64, 128, 256)
    assert space["training.epochs"].value == 12 and "encoder.embedding_init" not in space


def test_docs_error_lines_are_the_real_ones(tmp_path):
    documented = [line[len("Error: "):] for line in DOC.read_text(encoding="utf-8").splitlines()
                  if line.startswith("Error: ")]
    inputs = ["encoder.units: {low: 16, high: 32}\nencoder.unit: {low: 1, high: 2}\n",
              "classifier.dropout: {low: 0.5, high: 0.2}\n", "encoder.units: {low: 8.5, high: 32}\n",
              "training.learning_rate: {low: 1e-4, high: 0.1}\n"]
    enc, head = _classes("bilstm", "softmax")
    assert len(documented) == len(inputs)
    for text, line in zip(inputs, documented):
        path = tmp_path / "space.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as error:
            space_mod.load_space_file(path, space_mod.default_space(enc, head, False), enc, head)
        message = str(error.value).replace(str(tmp_path) + "/", "")
        head_part, _, tail_part = line.partition(", ...)")
        assert message.startswith(head_part) and message.endswith(tail_part), (message, line)


def test_docs_commands_use_real_options():
    import re

    help_text = CliRunner().invoke(cli, ["tune", "--help"]).output
    lines = [line for line in _blocks("bash")[0].splitlines() if line.startswith("interestkit tune")]
    assert len(lines) == 3
    for line in lines:
        for option in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", line):
            assert option in help_text, option
    table = DOC.read_text(encoding="utf-8").split("| option |", 1)[1].split("\n\n", 1)[0]
    for option in re.findall(r"`(--[a-z][a-z-]*)", table):
        assert option in help_text, option
