"""Every bad input gets one clear line: the corpus (tests/bad_inputs_table.py, bad_inputs_more.py).

Each row runs the command in-process (click's CliRunner) and checks: exit code 2, exactly
one line on stderr (``Error: ...``, naming the culprit), no traceback, an MLflow store
with no run (every mistake is found before a run opens), so nothing RUNNING and nothing
registered, and TensorFlow not loaded. Models, where a command needs them, are fake model folders: no TensorFlow.
Then the warnings of a non-strict ``evaluate``, the exit codes of usage errors and the
last line of defence for exceptions nobody translated.
"""

import os
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from bad_inputs_more import ROWS as MORE
from bad_inputs_table import FOLDER, PNG, ROWS
from conftest import write_captions
from interestkit.cli import cli
from interestkit.testing import FakeInterestModel

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROWS + MORE
LABELS = ("Golf", "Pets", "Cooking", "Travel")


def test_the_corpus_is_large_and_its_ids_unique():
    ids = [f"{row[0]}/{row[1]}" for row in CORPUS]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(CORPUS) >= 150
    assert {row[0] for row in CORPUS} >= {"train-config", "train-flags", "train-captions", "train-photos", "compare",
                                          "rank", "recommend", "evaluate", "fusion-fit", "build-hybrid", "serve",
                                          "plugins"}


def _png(path):
    Image.new("RGB", (20, 20), (200, 30, 30)).save(path)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Valid inputs every row leaves alone but one: captions, photos, posts, labels, ads, models."""
    ws = tmp_path_factory.mktemp("ws")
    write_captions(ws / "captions.tsv", per_label=4)
    for label in ("Golf", "Pets"):
        (ws / "photos" / label).mkdir(parents=True)
        for i in range(3):
            _png(ws / "photos" / label / f"{i}.png")
    (ws / "posts.jsonl").write_text('{"user_id": "u1", "post_id": "p1", "text": "birdie on the fairway"}\n'
                                    '{"user_id": "u2", "post_id": "p2", "text": "my puppy"}\n')
    (ws / "labels.tsv").write_text("user_id\tinterest\nu1\tGolf\nu2\tPets\n")
    (ws / "ads.yaml").write_text("- {ad_id: clubs, title: Golf clubs, interests: [Golf]}\n")
    FakeInterestModel("text", LABELS).save(ws / "text-model")
    FakeInterestModel("image", LABELS).save(ws / "image-model")
    return ws


def _fill(value, case, ws):
    return value.replace("{case}", str(case)).replace("{ws}", str(ws)) if isinstance(value, str) else value


def write_files(case, files, ws):
    for name, content in files.items():
        path = case / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FOLDER:
            path.mkdir(exist_ok=True)
        elif content is PNG:
            _png(path)
        elif isinstance(content, tuple) and content[0] == "link":
            os.symlink(content[1], path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, case, ws), encoding="utf-8")


def store_rows(registry):
    """(runs, RUNNING runs, registered models) in the test's sqlite store."""
    if not (registry / "mlflow.db").exists():  # never opened
        return 0, 0, 0
    with sqlite3.connect(registry / "mlflow.db") as db:
        runs = db.execute("SELECT status FROM runs").fetchall()
        registered = db.execute("SELECT count(*) FROM registered_models").fetchone()[0]
    return len(runs), sum(1 for (status,) in runs if status == "RUNNING"), registered


@pytest.fixture
def nothing_trains(monkeypatch):
    """A row that got as far as training failed its point: fail it at once, not minutes later."""
    import interestkit.app.compare as compare_app
    import interestkit.app.train as train_app

    def opened(*args, **kwargs):
        raise AssertionError("a run was opened: the mistake was not caught up front")

    monkeypatch.setattr(train_app.tracking, "training_run", opened)
    monkeypatch.setattr(compare_app.tracking, "comparison_run", opened)


@pytest.mark.parametrize("command, case, args, files, culprit", CORPUS, ids=[f"{r[0]}/{r[1]}" for r in CORPUS])
def test_a_bad_input_is_one_line_naming_the_culprit(tmp_path, workspace, isolated_store, nothing_trains, command, case,
                                                    args, files, culprit):
    write_files(tmp_path, files, workspace)
    loaded = "tensorflow" in sys.modules  # another test of this process may have loaded it
    result = CliRunner().invoke(cli, [_fill(a, tmp_path, workspace) for a in args], catch_exceptions=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    assert _fill(culprit, tmp_path, workspace) in lines[0], lines[0]
    assert store_rows(isolated_store) == (0, 0, 0)
    assert loaded or "tensorflow" not in sys.modules, "TensorFlow was loaded before the mistake was found"


# --- not errors, but not silent ------------------------------------------------------------


def evaluate(workspace, labels_text, tmp_path, *extra):
    (tmp_path / "labels.tsv").write_text(labels_text)
    return CliRunner().invoke(cli, ["evaluate", "--posts", str(workspace / "posts.jsonl"), "--text-model",
                                    str(workspace / "text-model"), "--image-model", str(workspace / "image-model"),
                                    "--mode", "text", "--labels", str(tmp_path / "labels.tsv"), *extra],
                              catch_exceptions=False)


def test_evaluate_warns_naming_unknown_and_miscased_interests_and_users_without_posts(workspace, tmp_path):
    result = evaluate(workspace, "user_id\tinterest\nu1\tgolf\nu2\tQuidditch\nu9\tPets\n", tmp_path)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("'golf'" in w and "differs only in case" in w and "'Golf'" in w for w in warnings), warnings
    assert any("'Quidditch'" in w and "not one the models know" in w for w in warnings), warnings
    assert any("'u9'" in w and "no posts" in w for w in warnings), warnings
    assert "2 labelled users (1 without posts left out)" in result.stderr
    strict = evaluate(workspace, "user_id\tinterest\nu1\tgolf\nu2\tQuidditch\n", tmp_path, "--strict")
    assert strict.exit_code == 2 and "'golf'" in strict.stderr and "(and 1 more)" in strict.stderr


def test_a_label_with_unreadable_photos_is_left_out_with_a_note(workspace, tmp_path):
    """One unreadable photo of three: the label keeps 2 usable ones, so training would go on."""
    from interestkit.data.datasets import check_images, load_image_dataset

    for label in ("Golf", "Pets"):
        (tmp_path / label).mkdir()
        for i in range(2):
            _png(tmp_path / label / f"{i}.png")
    (tmp_path / "Pets" / "empty.jpg").write_bytes(b"")
    dataset = check_images(load_image_dataset(tmp_path))
    assert dataset.label_counts() == {"Golf": 2, "Pets": 2}
    assert any("1 photos unusable were not used" in note and "empty.jpg" in note for note in dataset.notes)


# --- exit codes and the last line of defence ----------------------------------------------


@pytest.mark.parametrize("args", [["train", "--bogus"], ["rank"], ["train", "--epochs", "many"], ["nonsense"], []])
def test_usage_errors_exit_64(args):
    assert CliRunner().invoke(cli, args).exit_code == 64


class FakeKerasError(Exception):
    """What a Keras failure looks like to the CLI: an exception from the keras package."""


FakeKerasError.__module__ = "keras.src.ops"


@pytest.mark.parametrize("error, code, expected", [
    (FakeKerasError("Negative dimension size"), 1, "Keras failed: FakeKerasError: Negative dimension size"),
    (PermissionError(13, "Permission denied", "/srv/store/mlflow.db"), 2, "/srv/store/mlflow.db: Permission denied"),
    (ZeroDivisionError("division by zero"), 1, "unexpected internal error: ZeroDivisionError"),
])
def test_unexpected_exceptions_are_one_line_saying_what_and_where(monkeypatch, workspace, error, code, expected):
    import interestkit.cli.ranking as ranking_cli

    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(ranking_cli, "prepare", explode)
    args = ["rank", "--posts", str(workspace / "posts.jsonl")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and expected in line and "interestkit/" in line and "--debug" in line
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert debug.exit_code == code and "Traceback" in debug.stderr and "in explode" in debug.stderr
    monkeypatch.setenv("INTERESTKIT_DEBUG", "1")
    assert "Traceback" in CliRunner().invoke(cli, args).stderr


def test_the_documented_examples_and_exit_codes(tmp_path, monkeypatch):
    """docs/errors.md: each example prints its documented line; the table's codes are the CLI's."""
    import re
    import shlex

    from interestkit.cli import failures

    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    codes = {int(code) for code in re.findall(r"^\| (\d+) \|", text, re.M)}
    assert codes == {failures.OK, failures.INTERNAL, failures.DATA, failures.USAGE, failures.INTERRUPTED,
                     failures.TERMINATED}
    block = re.search(r"```console\n(.*?)```", text, re.S).group(1).splitlines()
    examples = list(zip(block[::2], block[1::2]))
    assert len(examples) >= 5
    monkeypatch.chdir(tmp_path)
    write_captions(tmp_path / "captions.tsv", per_label=4)
    for command, expected in examples:
        args = shlex.split(command.removeprefix("$ interestkit "))
        result = CliRunner().invoke(cli, args)
        assert result.stderr.splitlines()[-1] == expected, (command, result.stderr)
        assert result.exit_code == (failures.USAGE if "Invalid value" in expected else failures.DATA)


def test_a_store_folder_that_is_a_file_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "registry").write_text("not a folder")
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(tmp_path / "registry"))
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"{tmp_path / 'registry'}: cannot be the store's folder" in result.stderr


def test_ads_interests_are_checked_before_registered_models_load(workspace, tmp_path, monkeypatch):
    """Their labels are read from the runs the models were logged in: no model loads."""
    from interestkit import tracking
    from support import register_fakes

    register_fakes()
    (tmp_path / "ads.yaml").write_text("- {ad_id: a, title: A, interests: [Golff]}\n")

    def loaded(uri):
        raise AssertionError(f"{uri} was loaded before the catalogue was checked")

    monkeypatch.setattr(tracking, "load_interest_model", loaded)
    result = CliRunner().invoke(cli, ["recommend", "--posts", str(workspace / "posts.jsonl"), "--ads",
                                      str(tmp_path / "ads.yaml")])
    assert result.exit_code == 2 and "unknown interest 'Golff' (did you mean 'Golf'" in result.stderr, result.output
