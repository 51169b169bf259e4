"""Class-to-interest maps: the math on a tiny fake embedder, the ImageNet names, taxonomy hints, GloVe."""

import re

import numpy as np
import pytest

from interestkit.errors import ConfigError
from interestkit.semantics.imagenet import imagenet_synsets
from interestkit.semantics import (class_index, default_embedder, embedder_names, imagenet_class_names, imagenet_map, map_classes,
                                   taxonomy_hints)
from interestkit.taxonomy import parse_taxonomy

VOCAB = ("golf", "ball", "club", "dog", "beagle", "pet", "car", "wheel", "fish", "tench", "sofa")


class BagOfWords:
    """A fake embedder: one dimension per known word."""

    name = "bag-of-words"

    def __call__(self, texts):
        out = np.zeros((len(texts), len(VOCAB)))
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if word in VOCAB:
                    out[row, VOCAB.index(word)] += 1
        return out


CLASSES = ("golf ball", "beagle", "car wheel", "tench", "sofa")
INTERESTS = ("Golf", "Pets", "Vehicle", "Furniture")
PROMPTS = {"Golf": "golf club and ball", "Pets": "a pet dog, a beagle", "Vehicle": ["car", "wheel"]}


def test_each_class_goes_to_the_interest_it_means():
    m = map_classes(CLASSES, INTERESTS, BagOfWords(), PROMPTS, temperature=0.05)
    assert m.embedder == "bag-of-words" and m.matrix.shape == (5, 4)
    np.testing.assert_allclose(m.matrix.sum(axis=1), 1, atol=1e-6)
    assert [INTERESTS[i] for i in m.matrix[:3].argmax(axis=1)] == ["Golf", "Pets", "Vehicle"]
    assert m.matrix[0, 0] > 0.99
    assert m.top_classes("Pets", 1) == [("beagle", pytest.approx(float(m.matrix[1, 1])))]
    # nothing says sofa except the sofa class, and the Furniture prompt is only its name
    assert m.unreachable == ("Furniture",) and m.reachable == ("Golf", "Pets", "Vehicle")
    assert "Furniture" in m.notes()[0] and "bag-of-words" in m.notes()[0]


def test_apply_turns_class_probabilities_into_interest_probabilities():
    m = map_classes(CLASSES, INTERESTS, BagOfWords(), PROMPTS, temperature=0.05)
    probs = m.apply(np.array([[0.9, 0.1, 0, 0, 0], [0, 0, 0.5, 0.5, 0]]))
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert probs[0].argmax() == 0 and probs[0, 0] == pytest.approx(0.9, abs=0.01)
    assert probs[1].argmax() == 2


def test_background_keeps_a_class_that_means_nothing_from_voting():
    plain = map_classes(CLASSES, INTERESTS, BagOfWords(), PROMPTS, temperature=0.05)
    gated = map_classes(CLASSES, INTERESTS, BagOfWords(), PROMPTS, temperature=0.05, background=0.3)
    tench = CLASSES.index("tench")
    assert plain.matrix[tench].sum() == pytest.approx(1)  # spread over all four
    assert gated.matrix[tench].sum() < 0.01  # given to 'none of these'
    assert gated.matrix[0, 0] > 0.99  # a class that means an interest keeps its weight


def test_overrides_replace_what_the_names_say():
    m = map_classes(CLASSES, INTERESTS, BagOfWords(), PROMPTS, overrides={"Furniture": (4,), "Pets": ()})
    assert INTERESTS[m.matrix[4].argmax()] == "Furniture" and m.matrix[1, 1] < 0.01
    assert m.unreachable == ("Pets",)


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ConfigError, match="at least one class"):
        map_classes((), INTERESTS, BagOfWords())
    with pytest.raises(ConfigError, match="temperature must be above 0"):
        map_classes(CLASSES, INTERESTS, BagOfWords(), temperature=0)
    with pytest.raises(ConfigError, match="shape"):
        map_classes(CLASSES, INTERESTS, lambda texts: np.zeros((2, 3)))


def test_imagenet_names_are_bundled_in_class_order():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby" and names[967] == "espresso"
    assert class_index("golf_ball") == class_index("Golf Ball") == names.index("golf ball") and class_index(5) == 5
    with pytest.raises(ConfigError, match="did you mean 'golf ball'"):
        class_index("golf bal")
    with pytest.raises(ConfigError, match="out of range"):
        class_index(1000)


def test_taxonomy_gives_prompts_and_overrides():
    prompts, overrides = taxonomy_hints(["Golf", "Not in the taxonomy"])
    assert prompts["Golf"][0].lower().count("golf") and "Not in the taxonomy" not in prompts and not overrides
    taxonomy = parse_taxonomy({"interests": [
        {"name": "Golf", "description": "golf", "imagenet_classes": ["golf_ball", 575]},
        {"name": "Pets", "description": "pets", "imagenet_classes": ["beagel"]}]}, source="mine.yaml")
    assert taxonomy_hints(["Golf"], taxonomy)[1] == {"Golf": (imagenet_class_names().index("golf ball"), 575)}
    with pytest.raises(ConfigError, match=r"mine.yaml.*interest #2.*imagenet_classes.*'beagel'.*'beagle'"):
        taxonomy_hints(["Pets"], taxonomy)


def test_imagenet_map_with_a_fake_embedder_reaches_the_obvious_interests():
    m = imagenet_map(["Golf", "Vehicle"], embedder=BagOfWords(), background=0.2)
    assert m.classes == imagenet_class_names()
    assert m.top_classes("Golf", 1)[0][0] == "golf ball" and "Golf" in m.reachable


def test_glove_embedder_knows_what_is_close():
    """The built-in embedder comes from the register_embedders hook, like any other."""
    assert "glove" in embedder_names()
    embed = default_embedder("glove")
    dog, puppy, car, nothing = embed(["dog", "a puppy", "car", "qqqzzz"])
    assert embed.name == "glove" and dog @ puppy > dog @ car
    assert np.linalg.norm(dog) == pytest.approx(1, abs=1e-5) and not nothing.any()


def test_bundled_names_are_keras_hubs():
    """The shipped list is a copy of keras-hub's, read from its source (importing keras-hub is slow)."""
    import ast
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("keras_hub")
    source = Path(spec.submodule_search_locations[0]) / "src" / "utils" / "imagenet" / "imagenet_utils.py"
    if not source.is_file():
        pytest.skip(f"this keras-hub keeps its ImageNet names elsewhere than {source}")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    table = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "IMAGENET_NAMES")
    assert imagenet_synsets() == tuple(tuple(table[i]) for i in range(1000))
