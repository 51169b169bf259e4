"""``predict``, ``test`` and ``ensemble`` on fake registered models (no TensorFlow)."""

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from interestkit import tracking
from interestkit.cli.main import cli
from interestkit.modeling.ensemble import EnsembleModel
from interestkit.modeling.model import load_model
from interestkit.testing import FakeInterestModel
from PIL import Image
from support import LABELS, register_fakes


def invoke(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_predict_a_caption_shows_each_sentences_contribution():
    register_fakes()
    result = invoke("predict", "Golf birdie on the fairway. Then my puppy slept!", "--format", "json", "--top-k", "3")
    [answer] = json.loads(result.stdout)
    assert answer["interests"][0]["interest"] == "Golf"
    first, second = answer["sentences"]
    assert first["sentence"].startswith("Golf birdie") and first["interests"][0]["interest"] == "Golf"
    assert second["interests"][0]["interest"] == "Pets"
    assert first["weight"] + second["weight"] == pytest.approx(1.0)
    # the contributions add up to the caption's score (the word-weighted mean)
    assert first["contributions"]["Golf"] + second["contributions"]["Golf"] == pytest.approx(
        answer["interests"][0]["score"], abs=1e-5)
    model, _ = tracking.load_interest_model("models:/interestkit-text@champion")
    whole = model.predict_texts(["Golf birdie on the fairway. Then my puppy slept!"])[0]
    assert answer["interests"][0]["score"] == pytest.approx(float(whole[model.labels.index("Golf")]), abs=1e-5)
    table = invoke("predict", "Golf birdie on the fairway. Then my puppy slept!").stdout
    assert "adds to Golf" in table and "Then my puppy slept!" in table


def test_predict_a_photo_and_a_file_in_every_format(tmp_path):
    uris = register_fakes()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "red.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    one = json.loads(invoke("predict", "--image", tmp_path / "red.png", "--model", uris["image"],
                            "--format", "json").stdout)
    assert one[0]["modality"] == "image" and len(one[0]["interests"]) == 5
    mismatch = invoke("predict", "golf", "--model", uris["image"], code=2)
    assert "an image model but the input has no photo" in mismatch.output
    bad = invoke("predict", "--image", tmp_path / "broken.jpg", code=2)
    assert "broken.jpg" in bad.output and "Traceback" not in bad.output
    items = tmp_path / "items.tsv"
    items.write_text("id\ttext\timage\nx\tmy puppy\tred.png\ny\tbirdie time\t\nz\t\tbroken.jpg\n")
    rows = list(csv.DictReader(io.StringIO(invoke("predict", "--file", items, "--format", "csv", "--top-k", "2").stdout)))
    assert [(r["item_id"], r["modality"]) for r in rows if r["rank"] == "1"] == [("x", "text"), ("x", "image"),
                                                                               ("y", "text")]
    assert [r["error"] for r in rows if r["item_id"] == "z"][0]  # the unreadable photo is reported, not dropped
    table = invoke("predict", "--file", items).stdout
    assert "error:" in table and "Pets" in table
    outside = tmp_path / "sub"
    outside.mkdir()
    (outside / "items.tsv").write_text("image\n../red.png\n")
    refused = invoke("predict", "--file", outside / "items.tsv", code=2)
    assert "items.tsv:2" in refused.output and "--allow-outside-paths" in refused.output


@pytest.mark.parametrize("args, message", [
    ((), "exactly one of CAPTION"),
    (("a caption", "--image", "x.png"), "exactly one of CAPTION"),
    (("   ",), "caption is empty"),
])
def test_predict_bad_input_is_one_line(args, message):
    register_fakes()
    result = invoke("predict", *args, code=2)
    assert message in result.output and "Traceback" not in result.output


def test_predict_file_errors_name_the_line(tmp_path):
    register_fakes()
    bad = tmp_path / "items.jsonl"
    bad.write_text('{"text": "golf"}\n{"id": 3}\n')
    assert "items.jsonl:2" in invoke("predict", "--file", bad, code=2).output
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("caption\nhello\n")
    assert "no 'text' or 'image' column" in invoke("predict", "--file", wrong, code=2).output


def _labelled(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("label\tsource\ttext\n"
                    "Golf\tr/golf\tbirdie on the fairway\nGolf\tr/golf\tgolf is fun\nGolf\tr/links\tcalm day\n"
                    "Pets\tr/dogs\tmy puppy\nPets\tr/dogs\tdog walk\nCooking\tr/food\tpasta\nSpa\tr/spa\tspa day\n")
    return path


def test_test_command_reports_metrics_groups_and_logs_a_linked_run(tmp_path):
    register_fakes()
    data = _labelled(tmp_path)
    result = json.loads(invoke("test", "--model", "models:/interestkit-text/1", "--data", data, "--group-by", "source",
                               "--format", "json").stdout)
    overall = result["overall"]
    assert overall["items"] == 7
    # fake model: keywords 'golf', 'birdie', 'fairway', 'puppy', 'dog' are recognised; Spa is unknown to it
    assert overall["top1"] == pytest.approx(4 / 7)
    assert overall["per_label"]["Golf"]["recall"] == pytest.approx(2 / 3)
    model, _ = tracking.load_interest_model("models:/interestkit-text/1")
    texts = [line.split("\t")[2] for line in data.read_text().splitlines()[1:]]
    predicted = [model.labels[i] for i in model.predict_texts(texts).argmax(axis=1)]
    truth = [line.split("\t")[0] for line in data.read_text().splitlines()[1:]]
    as_pets = [t for t, p in zip(truth, predicted) if p == "Pets"]
    assert overall["per_label"]["Pets"]["precision"] == pytest.approx(as_pets.count("Pets") / len(as_pets))
    assert overall["per_label"]["Spa"]["recall"] == 0.0 and 0 <= overall["ece"] <= 1
    assert set(result["groups"]) == {"r/golf", "r/links", "r/dogs", "r/food", "r/spa"}
    assert result["groups"]["r/golf"]["top1"] == 1.0 and result["groups"]["r/links"]["top1"] == 0.0
    assert any("Spa" in note for note in result["notes"])
    client = MlflowClient()
    run = client.get_run(result["run_id"])
    assert run.data.tags["interestkit.model_name"] == "interestkit-text"
    assert run.data.tags["interestkit.model_version"] == "1"
    assert run.data.metrics["group.r/golf.top1"] == 1.0
    artefacts = {a.path for a in client.list_artifacts(result["run_id"])}
    assert {"confusion_matrix.png", "reliability.png", "assessment.json"} <= artefacts
    version = client.get_model_version("interestkit-text", "1")
    assert version.tags["interestkit.last_test_run"] == result["run_id"]
    table = invoke("test", "--model", "models:/interestkit-text/1", "--data", data).stdout
    assert "macro-F1" in table and "ECE" in table


def test_test_command_errors(tmp_path):
    register_fakes()
    data = _labelled(tmp_path)
    missing = invoke("test", "--model", "models:/interestkit-text/1", "--data", data, "--group-by", "user", code=2)
    assert "no column 'user'" in missing.output
    nomodel = invoke("test", "--model", "models:/interestkit-text/9", "--data", data, code=2)
    assert "interestkit-text/9" in nomodel.output and "Traceback" not in nomodel.output


def test_ensemble_registers_one_version_that_ranking_loads(tmp_path):
    register_fakes()
    other = FakeInterestModel("text", list(reversed(LABELS)), keywords={"Golf": ["club"]}, temperature=0.7)
    tracking.register_interest_model(other)
    result = invoke("ensemble", "--models", "models:/interestkit-text/1,models:/interestkit-text/2",
                    "--weights", "3,1")
    assert "interestkit-text version 3" in result.stdout
    model, described = tracking.load_interest_model("models:/interestkit-text/3")
    assert isinstance(model, EnsembleModel) and described["version"] == 3
    a, _ = tracking.load_interest_model("models:/interestkit-text/1")
    texts = ["a club and a birdie. my dog", "pasta"]
    expected = 0.75 * a.predict_texts(texts) + 0.25 * other.predict_texts(texts)[:, [other.labels.index(label)
                                                                                   for label in a.labels]]
    np.testing.assert_allclose(model.predict_texts(texts), expected, atol=1e-5)
    reloaded = load_model(model.save(tmp_path / "saved"))
    np.testing.assert_allclose(reloaded.predict_texts(texts), expected, atol=1e-5)
    # rank loads it like any model
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"user_id": "u", "post_id": "p", "text": "birdie and a club"}) + "\n")
    ranked = json.loads(invoke("rank", "--posts", posts, "--mode", "text", "--text-model",
                               "models:/interestkit-text/3", "--format", "json").stdout)
    assert ranked[0]["interests"][0]["interest"] == "Golf"
    # promoted, it goes into the hybrid like any champion, members and all
    invoke("models", "promote", "--modality", "text", "--version", "3")
    invoke("models", "build-hybrid")
    pipeline, _ = tracking.load_hybrid()
    assert isinstance(pipeline.models["text"], EnsembleModel)
    np.testing.assert_allclose(pipeline.models["text"].predict_texts(texts), expected, atol=1e-5)


def test_ensemble_refuses_members_that_do_not_fit():
    uris = register_fakes()
    tracking.register_interest_model(FakeInterestModel("text", LABELS[:3]))
    different = invoke("ensemble", "--models", "models:/interestkit-text/1,models:/interestkit-text/2", code=2)
    assert "different interests" in different.output
    mixed = invoke("ensemble", "--models", f"{uris['text']},{uris['image']}", code=2)
    assert "one modality" in mixed.output
    weights = invoke("ensemble", "--models", "models:/interestkit-text/1,models:/interestkit-text/2",
                     "--weights", "1", code=2)
    assert "one per model" in weights.output
    assert "at least two" in invoke("ensemble", "--models", "models:/interestkit-text/1", code=2).output


def test_an_image_ensemble_averages_the_photos_every_member_read(tmp_path):
    Image.new("RGB", (20, 20), (10, 200, 30)).save(tmp_path / "green.png")
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    a, b = FakeInterestModel("image", LABELS[:4]), FakeInterestModel("image", LABELS[:4], temperature=2.0)
    ensemble = EnsembleModel([a, b], [1, 3])
    sources = [tmp_path / "broken.jpg", tmp_path / "green.png"]
    probs, kept, failures = ensemble.predict_images(sources)
    assert kept == [1] and len(failures) == 1 and "broken.jpg" in failures[0][1]
    expected = 0.25 * a.predict_images(sources[1:])[0] + 0.75 * b.predict_images(sources[1:])[0]
    np.testing.assert_allclose(probs, expected, atol=1e-6)
