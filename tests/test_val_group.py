"""Group splits (``--val-group``): whole groups to validation, deterministic, clear errors."""

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from interestkit.cli.main import cli
from interestkit.data.datasets import load_dataset, load_text_dataset
from interestkit.data.splits import group_split
from interestkit.errors import DataError
from interestkit.modeling.config import TRAINING_DEFAULTS
from interestkit.modeling.train import validation_split

LABELS = ["A"] * 6 + ["B"] * 9 + ["C"] * 4 + ["D"] * 3
GROUPS = ["a1", "a1", "a2", "a2", "a3", "a3", "b1", "b1", "b1", "b2", "b2", "b2", "b3", "b3", "b3",
          "c", "c", "c", "c", "d1", "d2", "d2"]


def test_group_split_holds_whole_groups_out_and_keeps_every_label_in_training():
    train, val, held = group_split(LABELS, GROUPS, 0.2, seed=0)
    assert sorted(train + val) == list(range(len(LABELS))) and not set(train) & set(val)
    for group in set(GROUPS) - {"c"}:  # 'c' is C's only group: C is split by rows
        sides = {i in val for i, g in enumerate(GROUPS) if g == group}
        assert len(sides) == 1, f"group {group} is split"
        assert sides == {group in held}
    for label in "ABD":  # one group held out of each, at least one kept
        assert len({GROUPS[i] for i in val if LABELS[i] == label}) == 1
        assert {LABELS[i] for i in train} >= {label}
    c_rows = [i for i, label in enumerate(LABELS) if label == "C"]
    assert 1 <= len(set(c_rows) & set(val)) < len(c_rows)
    assert "c" not in held
    assert group_split(LABELS, GROUPS, 0.2, seed=0) == (train, val, held)
    assert any(group_split(LABELS, GROUPS, 0.2, seed=s)[2] != held for s in range(1, 6))


def test_group_split_takes_enough_groups_for_the_fraction():
    _, val, held = group_split(LABELS, GROUPS, 0.6, seed=0)
    assert len([g for g in held if g.startswith("b")]) == 2  # 3 of 9 rows is not 60%: two of B's three groups


def test_group_split_needs_two_groups():
    with pytest.raises(ValueError, match="at least 2 groups"):
        group_split(["A", "B"], ["x", "x"], 0.5, 0)


def test_dataset_group_column_errors(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("label\ttext\tsource\nA\tone\tx\nA\ttwo\tx\nB\tthree\tx\nB\tfour\tx\n")
    with pytest.raises(DataError, match=r"t.tsv:1: no column 'origin' for the group split"):
        load_text_dataset(table, "origin")
    with pytest.raises(DataError, match="1 distinct value.*at least 2 groups"):
        load_text_dataset(table, "source")
    table.write_text("label\ttext\tsource\nA\tone\tx\nA\ttwo\t\nB\tthree\ty\nB\tfour\tx\n")
    with pytest.raises(DataError, match=r"t.tsv:3: column 'source' is empty"):
        load_text_dataset(table, "source")
    folder = tmp_path / "photos"
    (folder / "A").mkdir(parents=True)
    with pytest.raises(DataError, match="photo folder has no column 'source'"):
        load_dataset(folder, "image", "source")


def test_validation_split_describes_the_split(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("label\ttext\tsource\n" + "".join(f"{label}\t{label} {n}\t{label}{n % 2}\n"
                                                       for label in "AB" for n in range(6)))
    dataset = load_text_dataset(table, "source")
    train, val, split = validation_split(dataset, {**TRAINING_DEFAULTS, "val_group": "source"})
    assert split["kind"] == "group" and split["column"] == "source" and len(split["held_out"]) == 2
    assert {dataset.groups[i] for i in val} == set(split["held_out"])
    assert validation_split(dataset, TRAINING_DEFAULTS)[2] == {"kind": "stratified", "column": ""}
    assert dataset.subset([0, 7]).groups == ["A0", "B1"]


def test_train_val_group_errors_are_one_line(tmp_path, captions):
    result = CliRunner().invoke(cli, ["train", "--plugin", "tfidf", "--data", str(captions), "--val-group", "source"])
    assert result.exit_code == 2 and "no column 'source'" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_train_and_compare_with_a_group_split_log_it(tmp_path):
    table = tmp_path / "captions.tsv"
    words = {"Golf": "golf birdie fairway putt", "Pets": "puppy kitten dog vet", "Food": "pasta sauce oven bake"}
    table.write_text("label\tsource\ttext\n" + "".join(
        f"{label}\t{label}-{n % 3}\t{' '.join(words[label].split()[: 1 + n % 4])} today\n"
        for label in words for n in range(18)))
    result = CliRunner().invoke(cli, ["train", "--plugin", "tfidf", "--data", str(table), "--val-group", "source",
                                      "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "held-out source only" in result.output
    run_id = result.output.split("MLflow run")[-1].split()[0]
    run = MlflowClient().get_run(run_id)
    assert run.data.params["split.kind"] == "group" and run.data.params["split.column"] == "source"
    assert run.data.params["training.val_group"] == "source" and "val_group_accuracy" in run.data.metrics
    compared = CliRunner().invoke(cli, ["compare", "--plugins", "tfidf,gru", "--data", str(table), "--epochs", "1",
                                        "--val-group", "source", "--out", str(tmp_path / "cmp")])
    assert compared.exit_code == 0, compared.output
    assert "val_group_top1" in compared.output
