"""Zero-shot and few-shot models: the prototype head, registration, and ranking with them, end to end.

A TensorFlow-free hashing encoder (``interestkit.testing.encoders``) stands in for MiniLM,
registered by a test distribution, so a taxonomy file becomes a registered model and
ranked users in well under a second of model work.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from interestkit import tracking
from interestkit.app.examples import gather
from interestkit.app.ranking import media_policy
from interestkit.cli import cli
from interestkit.errors import ConfigError, DataError, ModelError
from interestkit.modeling.fewshot import centroids, fit_head, leave_one_out_probs
from interestkit.modeling.model import load_model
from interestkit.modeling.prototypes import PrototypeModel
from interestkit.semantics import imagenet_class_names
from interestkit.taxonomy import load_taxonomy
from plugin_fixtures import add_distribution

PLUGIN = '''
"""The hashing and colour encoders, as a plugin."""
from interestkit import hookimpl
from interestkit.testing.encoders import ColourImageEncoder, HashingTextEncoder


@hookimpl
def register_encoders(register):
    register("hashing", HashingTextEncoder)
    register("colours", ColourImageEncoder)
'''
TAXONOMY = """name: outdoors
interests:
  - name: Golf
    description: golf course swing putt fairway birdie
    keywords: [golfer, tee]
  - name: Cooking
    description: cooking recipe kitchen oven pasta sauce
  - name: Pets
    description: pets dog cat puppy kitten
    keywords: [leash]
"""
KNITTING = """  - name: Knitting
    description: knitting yarn wool needles scarf sweater
"""


@pytest.fixture
def hashing(site, monkeypatch):
    add_distribution(site, "interestkit-hashing", "ik_test_hashing", source=PLUGIN)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-hashing")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --- the head -----------------------------------------------------------------------


def test_centroids_and_leave_one_out():
    features = np.array([[1, 0], [1, 0.2], [0, 1], [0.1, 1]], np.float32)
    y = np.array([0, 0, 1, 1])
    protos = centroids(features, y, 2)
    assert np.allclose(np.linalg.norm(protos, axis=1), 1) and protos[0, 0] > 0.9 and protos[1, 1] > 0.9
    probs = leave_one_out_probs(features, y, 2)
    assert (probs.argmax(axis=1) == y).all()
    # an example alone in its class has no evidence left when it is held out
    lonely = leave_one_out_probs(features[:3], y[:3], 2)
    assert lonely[2].argmax() == 0


def test_fit_head_calibrates_and_measures_on_held_out_examples():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    y = np.repeat(np.arange(3), 6)
    features = centres[y] + 2.0 * rng.normal(size=(18, 16))
    prior = centres + rng.normal(size=(3, 16))
    zero = fit_head(prior)
    assert zero.kind == "zero-shot" and zero.temperature == 1.0 and zero.metrics == {}
    calibrated = fit_head(prior, features, y, few_shot=False)
    assert calibrated.kind == "zero-shot" and np.allclose(calibrated.prototypes, zero.prototypes)
    few = fit_head(prior, features, y)
    assert few.kind == "few-shot" and few.examples == 18
    assert few.metrics["examples_top1"] >= calibrated.metrics["examples_top1"]
    assert 0 < few.metrics["examples_nll"] < np.log(3) + 1e-6  # calibrated: no worse than uniform
    assert "leave-one-out on 18 examples" in few.describe()


def test_prototype_model_saves_loads_and_checks_its_encoder(hashing, tmp_path):
    from interestkit import hooks
    from interestkit.modeling.prototypes import build_encoder, encoder_reference

    info = hooks.get("encoder", "hashing")
    encoder = info.cls(dim=16)
    reference = encoder_reference(info, encoder)
    assert reference["package"] == "interestkit-hashing"
    model = PrototypeModel("text", ["A", "B"], np.eye(2, 16), reference, meta={"temperature": 0.5})
    folder = model.save(tmp_path / "m")
    loaded = load_model(folder)
    assert isinstance(loaded, PrototypeModel) and loaded.labels == ["A", "B"] and loaded.temperature == 0.5
    texts = ["golf. dog!", "", "cat"]
    assert np.allclose(loaded.predict_texts(texts), model.predict_texts(texts), equal_nan=True)
    assert np.isnan(loaded.predict_texts(texts)[1]).all()
    changed = dict(reference, identity=dict(reference["identity"], options={"dim": 8}))
    with pytest.raises(ModelError, match="not the one the interests were computed with"):
        build_encoder(changed, "text")
    with pytest.raises(ModelError, match="comes from interestkit-nope 1.0, which is not installed here: pip install"):
        build_encoder(dict(reference, package="interestkit-nope"), "text")


# --- examples -----------------------------------------------------------------------


def test_examples_from_taxonomy_and_files(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(TAXONOMY.replace("    keywords: [leash]\n", "    examples: [my puppy, {text: a cat nap}]\n"))
    table = tmp_path / "more.tsv"
    table.write_text("label\ttext\nGolf\tbirdie on 7\nGolf\ttee time\nGolf\tpar three\nPets\tnew leash\n")
    found = gather(load_taxonomy(path), [table])
    assert found.labels["text"] == ["Pets", "Pets", "Golf", "Golf", "Golf", "Pets"]
    assert found.limit(2, seed=1).per_label("text") == {"Golf": 2, "Pets": 2}
    table.write_text("label\ttext\nGolff\tbirdie\n")
    with pytest.raises(DataError, match=r"more\.tsv:2: 'Golff' is not an interest of the taxonomy \(did you mean 'Golf'"):
        gather(load_taxonomy(path), [table])


# --- registration and ranking end to end --------------------------------------------


def _posts(path):
    rows = [{"user_id": "u1", "post_id": f"a{i}", "text": t, "created_at": f"2026-01-0{i + 1}"}
            for i, t in enumerate(["golf fairway today", "birdie on the golf course", "my dog"])]
    rows += [{"user_id": "u2", "post_id": f"b{i}", "text": t, "created_at": f"2026-01-0{i + 1}"}
             for i, t in enumerate(["yarn and wool", "knitting a scarf", "new needles for knitting"])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_yaml_to_registered_model_to_ranked_users_and_a_new_interest(hashing, tmp_path):
    taxonomy = tmp_path / "interests.yaml"
    taxonomy.write_text(TAXONOMY)
    posts = _posts(tmp_path / "posts.jsonl")
    result = invoke("zero-shot", "--taxonomy", taxonomy, "--modality", "text", "--text-encoder", "hashing",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)[0]
    assert (first["kind"], first["name"], first["version"], first["champion"]) == ("zero-shot", "interestkit-text", 1, True)

    result = invoke("rank", "--posts", posts, "--mode", "text", "--image-model", "", "--format", "json", "--top-k", "1")
    assert result.exit_code == 0, result.output
    ranked = {u["user_id"]: u["interests"][0]["interest"] for u in json.loads(result.stdout)}
    assert ranked["u1"] == "Golf" and ranked["u2"] != "Knitting"

    # a new interest in the file: a new version, promoted like any other, ranks with no training
    taxonomy.write_text(TAXONOMY + KNITTING)
    examples = tmp_path / "examples.tsv"
    examples.write_text("label\ttext\nKnitting\tknitting socks\nKnitting\twool sweater\nGolf\tgolf swing\nPets\tcat\n")
    result = invoke("zero-shot", "--taxonomy", taxonomy, "--examples", examples, "--modality", "text",
                    "--text-encoder", "hashing", "--format", "json")
    assert result.exit_code == 0, result.output
    second = json.loads(result.stdout)[0]
    assert (second["kind"], second["version"], second["champion"], second["examples"]) == ("few-shot", 2, False, 4)
    assert set(second["metrics"]) >= {"examples_top1", "examples_top5", "examples_nll"}
    assert invoke("models", "promote", "--modality", "text", "--version", "2").exit_code == 0
    result = invoke("rank", "--posts", posts, "--mode", "text", "--image-model", "", "--format", "json", "--top-k", "1")
    ranked = {u["user_id"]: u["interests"][0]["interest"] for u in json.loads(result.stdout)}
    assert ranked == {"u1": "Golf", "u2": "Knitting"}

    rows = [r for r in tracking.list_models() if r["name"] == "interestkit-text"]
    assert [(r["version"], r["kind"], r["aliases"]) for r in rows] == [(1, "zero-shot", []), (2, "few-shot", ["champion"])]
    assert "few-shot text model over 4 interests of taxonomy outdoors" in rows[1]["description"]
    assert "examples_top1" in rows[1]["metrics"]
    import mlflow

    tracking.configure()
    text = mlflow.artifacts.load_text(f"runs:/{second['run_id']}/taxonomy.yaml")
    assert load_taxonomy(_written(tmp_path, text)).names == ("Golf", "Cooking", "Pets", "Knitting")


def _written(tmp_path, text):
    path = tmp_path / "logged.yaml"
    path.write_text(text)
    return path


def test_zero_shot_mistakes_are_one_line_errors(hashing, tmp_path):
    taxonomy = tmp_path / "interests.yaml"
    taxonomy.write_text(TAXONOMY)
    result = CliRunner().invoke(cli, ["zero-shot", "--taxonomy", str(taxonomy), "--modality", "text", "--kind",
                                      "few-shot", "--text-encoder", "hashing"])
    assert result.exit_code == 2 and "few-shot text needs text examples" in result.output
    result = CliRunner().invoke(cli, ["zero-shot", "--taxonomy", str(taxonomy), "--modality", "text"])
    no_embedder = "no embedder plugin that names a frozen text encoder is installed"
    assert result.exit_code == 2 and no_embedder in result.output
    result = CliRunner().invoke(cli, ["zero-shot", "--taxonomy", str(taxonomy), "--modality", "image"])
    assert result.exit_code == 2 and no_embedder in result.output  # it maps ImageNet classes
    result = CliRunner().invoke(cli, ["zero-shot", "--taxonomy", str(taxonomy), "--modality", "image",
                                      "--text-encoder", "hashing", "--image-encoder", "hashing"])
    assert result.exit_code == 2 and "encoder 'hashing' is for text, but image was needed" in result.output
    with pytest.raises(ConfigError):
        load_taxonomy(tmp_path / "missing.yaml")


def test_the_user_guide_snippets_run(hashing, tmp_path, monkeypatch):
    """docs/zero-shot.md: its taxonomy file is valid and its commands run (the hashing encoder stands in for MiniLM)."""
    import re
    import shlex
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "zero-shot.md").read_text(encoding="utf-8")
    yaml_block = re.search(r"```yaml\n(.*?)```", guide, re.S).group(1)
    bash_block = re.search(r"## From the file to ranked users\n\n```bash\n(.*?)```", guide, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    Path("interests.yaml").write_text(yaml_block)
    rows = [{"user_id": "u1", "post_id": "p1", "text": "Finally a birdie on the fairway.", "created_at": "2026-01-01"},
            {"user_id": "u1", "post_id": "p2", "text": "golf with friends", "created_at": "2026-01-02"}]
    Path("posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    outputs = []
    for line in filter(None, bash_block.splitlines()):
        args = shlex.split(line)
        assert args[0] == "interestkit"
        if args[1] == "zero-shot" or args[1:3] == ["taxonomy", "mapping"]:
            args += ["--text-encoder", "hashing"]
        result = CliRunner().invoke(cli, args[1:])
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result.stdout)
    assert "outdoor-brands: 3 interests, 2 caption and 0 photo examples" in outputs[0]
    assert "few-shot" in outputs[1] and "interestkit-text v1 (champion)" in outputs[1]
    assert re.search(r"^u1\s+1\s+Golf\s", outputs[2], re.M)
    assert re.search(r"^Golf\s+yes\s+\d\.\d\d\s+hashing\s+golf", outputs[3], re.M)


# --- photos: the ImageNet classes mapped to the taxonomy ------------------------------

PHOTO_TAXONOMY = """interests:
  - name: Golf
    description: golf ball golf club golfcart
  - name: Pets
    description: tabby
  - name: Zyzzx
    description: qqqv wwwz
  - name: Sailing
    description: qqqv wwwz yyyx
    imagenet_classes: [catamaran, yawl, 780]
"""


def test_mapping_command_shows_classes_overrides_and_unreachable_interests(hashing, tmp_path):
    path = tmp_path / "interests.yaml"
    path.write_text(PHOTO_TAXONOMY)
    result = invoke("taxonomy", "mapping", "--taxonomy", path, "--text-encoder", "hashing", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    rows = {r["interest"]: r for r in shown["interests"]}
    assert shown["embedder"] == "hashing" and shown["unreachable"] == ["Zyzzx"]
    assert rows["Golf"]["reachable"] and rows["Golf"]["classes"][0]["class"] in ("golf ball", "golfcart")
    assert rows["Sailing"]["override"] and rows["Sailing"]["reachable"] and rows["Sailing"]["best_similarity"] == 1
    assert {c["class"] for c in rows["Sailing"]["classes"][:3]} == {"catamaran", "yawl", imagenet_class_names()[780]}
    result = CliRunner().invoke(cli, ["taxonomy", "mapping", "--taxonomy", str(path), "--text-encoder", "hashing"])
    assert "not reachable from photos without examples: Zyzzx" in result.output
    path.write_text(PHOTO_TAXONOMY.replace("[catamaran, yawl, 780]", "[catamaram]"))
    result = CliRunner().invoke(cli, ["taxonomy", "mapping", "--taxonomy", str(path), "--text-encoder", "hashing"])
    assert result.exit_code == 2 and "(Sailing): imagenet_classes: unknown ImageNet class 'catamaram'" in result.output


def test_zero_shot_photos_register_the_reachable_interests_and_rank(hashing, tmp_path):
    from PIL import Image

    path = tmp_path / "interests.yaml"
    path.write_text(PHOTO_TAXONOMY)
    result = invoke("zero-shot", "--taxonomy", path, "--modality", "image", "--image-encoder", "colours",
                    "--text-encoder", "hashing", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)[0]
    assert (summary["kind"], summary["name"], summary["interests"]) == ("zero-shot", "interestkit-image", 3)
    assert summary["unreachable"] == ["Zyzzx"]
    model, _ = tracking.load_interest_model("models:/interestkit-image/1")
    assert model.labels == ["Golf", "Pets", "Sailing"] and model.head == "mapped"
    assert "Not reachable from image (no example): Zyzzx" in tracking.list_models()[0]["description"]
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "red.png")
    probs, kept, failures = model.predict_images([tmp_path / "red.png"])
    assert kept == [0] and failures == [] and np.isclose(probs.sum(), 1, atol=1e-5)
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"user_id": "u", "post_id": "p", "image": "red.png", "created_at": "2026-01-01"}) + "\n")
    result = invoke("rank", "--posts", posts, "--mode", "image", "--text-model", "", "--format", "json")
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)[0]["interests"]
    assert {i["interest"] for i in ranked} == {"Golf", "Pets", "Sailing"}  # Zyzzx: no silent zero


def test_zero_shot_versions_serve_through_the_pyfunc_and_the_hybrid(hashing, tmp_path):
    """A zero-shot text and a zero-shot photo version: the plain pyfunc, and a hybrid built from both champions."""
    import mlflow
    import pandas as pd
    from PIL import Image

    path = tmp_path / "interests.yaml"
    path.write_text(PHOTO_TAXONOMY)
    result = invoke("zero-shot", "--taxonomy", path, "--image-encoder", "colours", "--text-encoder", "hashing")
    assert result.exit_code == 0, result.output
    assert "Zyzzx" in result.output  # reported unreachable from photos
    tracking.configure()
    served = mlflow.pyfunc.load_model("models:/interestkit-text@champion")
    frame = served.predict(pd.DataFrame({"text": ["golf ball on the green", ""]}))
    assert list(frame.columns) == ["Golf", "Pets", "Zyzzx", "Sailing"] and frame.iloc[0].idxmax() == "Golf"
    assert frame.iloc[1].isna().all()
    built = invoke("models", "build-hybrid")
    assert built.exit_code == 0, built.output
    Image.new("RGB", (20, 20), (20, 200, 30)).save(tmp_path / "green.png")
    pipeline, _ = tracking.load_hybrid(media=media_policy(tmp_path / "posts.jsonl"))
    posts = pipeline.parse_records([{"user_id": "u", "post_id": "p1", "text": "golf ball", "image": "green.png",
                                     "created_at": "2026-01-01"}], "test")
    ranked = pipeline.rank(posts)[0]
    assert ranked.skipped == [] and ranked.as_dict()["interests"][0]["interest"] == "Golf"


def test_few_shot_photos_from_an_examples_folder(hashing, tmp_path):
    from PIL import Image

    path = tmp_path / "interests.yaml"
    path.write_text(PHOTO_TAXONOMY)
    colours = {"Golf": (30, 200, 40), "Pets": (200, 120, 60)}
    for interest, colour in colours.items():
        (tmp_path / "photos" / interest).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (12, 12), tuple(min(255, c + 10 * i) for c in colour)).save(
                tmp_path / "photos" / interest / f"{i}.png")
    result = invoke("zero-shot", "--taxonomy", path, "--data", tmp_path / "photos", "--modality", "image",
                    "--image-encoder", "colours", "--text-encoder", "hashing", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)[0]
    assert (summary["kind"], summary["interests"], summary["examples"]) == ("few-shot", 2, 6)
    assert summary["unreachable"] == ["Zyzzx", "Sailing"] and summary["metrics"]["examples_top1"] == 1.0
    model, _ = tracking.load_interest_model("models:/interestkit-image/1")
    Image.new("RGB", (12, 12), (35, 205, 45)).save(tmp_path / "green.png")
    probs, kept, _ = model.predict_images([tmp_path / "green.png"])
    assert model.labels[int(probs[0].argmax())] == "Golf"
    (tmp_path / "photos" / "Golff").mkdir()
    Image.new("RGB", (12, 12)).save(tmp_path / "photos" / "Golff" / "x.png")
    result = CliRunner().invoke(cli, ["zero-shot", "--taxonomy", str(path), "--examples", str(tmp_path / "photos"),
                                      "--modality", "image", "--image-encoder", "colours", "--text-encoder", "hashing"])
    assert result.exit_code == 2 and "folder 'Golff': 'Golff' is not an interest of the taxonomy (did you mean 'Golf'" \
        in result.output


EMBEDDER_PLUGIN = PLUGIN + '''
import numpy as np
from interestkit.interfaces import TextEmbedder


class LetterEmbedder(TextEmbedder):
    """counts of the letters a-z: embeds like the hashing encoder, for these tests"""

    description = "counts of the letters a-z"
    priority = 5
    encoder = "hashing"

    def embed(self, texts):
        return np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], float)


@hookimpl
def register_embedders(register):
    register("letters", LetterEmbedder)
'''


def test_another_embedder_plugin_drives_zero_shot_and_the_mapping(site, monkeypatch, tmp_path):
    """Core names no embedder: a plugin's, of higher priority than the built-in glove, is used
    for auto, and its encoder becomes the zero-shot text encoder."""
    from interestkit.app.zeroshot import mapping_embedder, text_encoder_name
    from interestkit.semantics import embedder_names, preferred

    add_distribution(site, "interestkit-letters", "ik_test_letters", source=EMBEDDER_PLUGIN)
    monkeypatch.setenv("INTERESTKIT_PLUGINS", "interestkit-letters")
    assert embedder_names() == ["auto", "letters", "glove"] and preferred().name == "letters"
    assert text_encoder_name() == "hashing" and mapping_embedder().name == "letters"
    taxonomy = tmp_path / "interests.yaml"
    taxonomy.write_text(TAXONOMY)
    result = invoke("zero-shot", "--taxonomy", taxonomy, "--modality", "text", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["encoder"] == "hashing"
