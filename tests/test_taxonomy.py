"""Taxonomy files: the default's 36 interests, every validation rule, and `taxonomy show`."""

import json

import pytest
from click.testing import CliRunner

from interestkit.cli.main import cli
from interestkit.errors import ConfigError
from interestkit.taxonomy import INTERESTS, load_taxonomy

PAPER = ("Dance", "AI", "Comics", "Smartphone", "Nutrition", "Camping", "Clothes", "Hair", "Gardening", "Fishing",
         "Pets", "Hunting", "Vehicle", "Baseball", "Art", "Golf", "Book", "Laptop", "Basketball", "Skincare", "Spa",
         "Renovation", "Cooking", "Furniture", "Ski", "Travel", "Disability", "Football", "Fitness", "Electronics",
         "Movie", "Tattoo", "Food", "Swim", "Music", "Jewelry")


def write(tmp_path, text, name="interests.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_taxonomy_is_the_papers_36_with_descriptions():
    taxonomy = load_taxonomy()
    assert INTERESTS == PAPER == taxonomy.names
    for interest in taxonomy.interests:
        assert len(interest.description.split()) >= 6, interest.name
        assert interest.keywords and interest.parent
    assert "Sports" in taxonomy.groups


def test_a_small_file_with_examples_and_parents(tmp_path):
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "trail.jpg").write_bytes(b"not read at load")
    path = write(tmp_path, """interests:
  - name: Outdoors
    description: Being outside.
  - name: Trail running
    description: Running on   mountain trails.
    keywords: [trail, ultra]
    parent: Outdoors
    examples: ["Twenty miles of mud.", {text: Roots everywhere}, {image: shots/trail.jpg}]
    imagenet_classes: [alp, 970]
""")
    taxonomy = load_taxonomy(path)
    trail = taxonomy.get("Trail running")
    assert trail.description == "Running on mountain trails."  # whitespace collapsed
    assert trail.prompts == ["Running on mountain trails.", "trail", "ultra"]
    assert trail.captions == ["Twenty miles of mud.", "Roots everywhere"]
    assert trail.photos == [tmp_path / "shots" / "trail.jpg"]
    assert trail.imagenet_classes == ("alp", 970)
    assert taxonomy.groups == () and taxonomy.n_examples == {"text": 2, "image": 1}
    again = write(tmp_path, taxonomy.to_yaml(), "again.yaml")
    assert load_taxonomy(again).fingerprint() == taxonomy.fingerprint()


@pytest.mark.parametrize("body, message", [
    ("interest: []", r"interests\.yaml: unknown key 'interest' \(did you mean 'interests'\?\)"),
    ("interests: []", "'interests' must be a non-empty list"),
    ("interests:\n  - {name: A, description: a}", "1 interests; between 2"),
    ("interests:\n  - {name: A, description: a}\n  - {name: B, descripton: b}",
     r"interests\.yaml:3: interest #2 \(B\): unknown key 'descripton' \(did you mean 'description'\?\)"),
    ("interests:\n  - {name: A, description: a}\n  - {name: B, description: '  '}",
     r"interests\.yaml:3: interest #2 \(B\): 'description' must be a non-empty text"),
    ("interests:\n  - {name: A, description: a}\n  - {name: B}", r":3: interest #2 \(B\): 'description' must"),
    ("interests:\n  - {name: A, description: a}\n  - {description: b}", r":3: interest #2: 'name' must"),
    ("interests:\n  - {name: Golf, description: a}\n  - {name: Golf, description: b}",
     r":3: interest #2 \(Golf\): duplicate interest \(first at .*interests\.yaml:2"),
    ("interests:\n  - {name: Golf, description: a}\n  - {name: golf, description: b}",
     r"interest #2 \(golf\): interest differs only in case from 'Golf'"),
    ("interests:\n  - {name: A, description: a, keywords: x}\n  - {name: B, description: b}",
     "'keywords' must be a list of texts"),
    ("interests:\n  - {name: A, description: a, keywords: [x, X]}\n  - {name: B, description: b}",
     "duplicate keyword 'X'"),
    ("interests:\n  - {name: A, description: a, parent: b}\n  - {name: B, description: b}",
     "parent 'b' differs only in case from the interest 'B'"),
    ("interests:\n  - {name: A, description: a, parent: B}\n  - {name: B, description: b, parent: A}",
     "parents form a cycle: A -> B -> A"),
    ("interests:\n  - {name: A, description: a, examples: [{photo: x.jpg}]}\n  - {name: B, description: b}",
     r"example #1: unknown key 'photo' \(choose from: image, text\)"),
    ("interests:\n  - {name: A, description: a, examples: [{image: ../x.jpg}]}\n  - {name: B, description: b}",
     "must be a path inside"),
    ("interests:\n  - {name: A, description: a, examples: [{image: x.jpg}]}\n  - {name: B, description: b}",
     "photo 'x.jpg' not found"),
    ("interests:\n  - {name: A, description: a, imagenet_classes: alp}\n  - {name: B, description: b}",
     "'imagenet_classes' must be a list"),
    ("interests: [a, b", "invalid YAML"),
])
def test_mistakes_are_one_line_errors_naming_file_and_entry(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as caught:
        load_taxonomy(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ConfigError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_taxonomy(tmp_path)


def test_taxonomy_show(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["taxonomy", "show"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("paper-36: 36 interests") and "Golf" in result.output
    result = runner.invoke(cli, ["taxonomy", "show", "--format", "yaml"])
    assert load_taxonomy(write(tmp_path, result.output)).names == PAPER
    path = write(tmp_path, "interests:\n  - {name: A, description: a}\n  - {name: B, description: b}\n", "two.yaml")
    result = runner.invoke(cli, ["taxonomy", "show", "--taxonomy", str(path), "--format", "json"])
    assert [i["name"] for i in json.loads(result.output)["interests"]] == ["A", "B"]
    result = runner.invoke(cli, ["taxonomy", "show", "--taxonomy", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "Error: " in result.output and "taxonomy file not found" in result.output
