"""Tests of the synthetic workspace generator (``interestkit.testing.synthetic``)."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from interestkit.testing import synthetic
from interestkit.testing.synthetic import workspace as synthetic_workspace
from interestkit.errors import ConfigError
from interestkit.testing.synthetic import DEFAULT_INTERESTS, make_caption, make_image, make_text_table, make_workspace
from interestkit.taxonomy import INTERESTS


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The default workspace, built once for the module."""
    root = tmp_path_factory.mktemp("ws")
    return root, make_workspace(root)


def read_tsv(path):
    """Rows of an unquoted tab-separated file (like the real data): header, then rows."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[0], rows[1:]


def read_posts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ workspace layout


def test_returns_paths(workspace):
    root, paths = workspace
    assert set(paths) == {"text", "images", "posts", "labels"}
    assert all(isinstance(p, Path) for p in paths.values())
    assert paths["text"] == root / "text" / "train.tsv" and paths["text"].is_file()
    assert paths["images"] == root / "images" / "train" and paths["images"].is_dir()
    assert paths["posts"] == root / "users" / "posts.jsonl" and paths["posts"].is_file()
    assert paths["labels"] == root / "users" / "labels.tsv" and paths["labels"].is_file()


def test_default_workspace_stays_small(tmp_path):
    """The default workspace is what many tests build: its size, not a wall-clock limit on a
    shared machine, is what keeps them fast (about 200 files, under 2 MB)."""
    make_workspace(tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert 100 < len(files) <= 250
    assert sum(p.stat().st_size for p in files) < 2_500_000


def test_same_seed_gives_identical_bytes(tmp_path):
    a = make_workspace(tmp_path / "a", users=3, posts_per_user=6, images_per_interest=3)
    b = make_workspace(tmp_path / "b", users=3, posts_per_user=6, images_per_interest=3)
    files_a, files_b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert files_a == files_b and len(files_a) > 30
    assert {k: Path(v).relative_to(tmp_path / "a") for k, v in a.items()} == \
           {k: Path(v).relative_to(tmp_path / "b") for k, v in b.items()}
    make_workspace(tmp_path / "c", users=3, posts_per_user=6, images_per_interest=3, seed=1)
    assert all_files(tmp_path / "c") != files_a


# ------------------------------------------------------------------ captions


def test_train_tsv_parses(workspace):
    _, paths = workspace
    header, rows = read_tsv(paths["text"])
    assert header == ["label", "text"]
    assert all(len(row) == 2 and row[0] and row[1] for row in rows)
    counts = Counter(label for label, _ in rows)
    assert set(counts.values()) == {40}
    # the same with plain line splitting: unquoted, one row per line
    lines = paths["text"].read_text(encoding="utf-8").splitlines()
    assert [line.split("\t") for line in lines[1:]] == rows


def test_captions_exercise_decoding(workspace):
    _, paths = workspace
    texts = [text for _, text in read_tsv(paths["text"])[1]]
    assert any(any(ord(c) > 127 for c in t) for t in texts), "some captions hold non-ASCII text"
    assert any(t.startswith('"') for t in texts), "some captions start with a quote"
    assert any(". " in t or "! " in t or "? " in t for t in texts), "some captions are two sentences"


def test_captions_are_mostly_topical_with_some_ambiguous():
    """About 10% of captions hold filler only; most name a word of their interest."""
    for interest in DEFAULT_INTERESTS:
        rng = np.random.default_rng(7)
        words = [w.lower() for w in synthetic.TOPIC_WORDS[interest]]
        captions = [make_caption(interest, rng).lower() for _ in range(400)]
        topical = sum(any(w in c for w in words) for c in captions) / len(captions)
        assert 0.75 < topical < 0.97, (interest, topical)


def test_no_tabs_or_newlines_in_fields(workspace):
    _, paths = workspace
    for path in (paths["text"], paths["labels"]):
        header, rows = read_tsv(path)
        assert all(len(row) == len(header) for row in rows)
        assert all("\t" not in f and "\n" not in f and "\r" not in f for row in rows for f in row)
    for post in read_posts(paths["posts"]):
        for value in post.values():
            if isinstance(value, str):
                assert "\t" not in value and "\n" not in value and "\r" not in value
    rng = np.random.default_rng(0)
    for interest in INTERESTS:
        for _ in range(20):
            caption = make_caption(interest, rng)
            assert caption and caption == caption.strip() and "\t" not in caption and "\n" not in caption


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
def test_text_table_formats(tmp_path, fmt):
    interests = ["Golf", "Pets", "Music"]
    path = make_text_table(tmp_path / f"t.{fmt}", interests, 5, seed=3, fmt=fmt)
    assert path == tmp_path / f"t.{fmt}"
    with open(path, encoding="utf-8", newline="") as f:
        if fmt == "tsv":
            header, rows = read_tsv(path)
            assert header == ["label", "text"]
            rows = [tuple(r) for r in rows]
        elif fmt == "csv":
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["label", "text"]
            rows = [(r["label"], r["text"]) for r in reader]
        else:
            records = [json.loads(line) for line in f]
            assert all(set(r) == {"label", "text"} for r in records)
            rows = [(r["label"], r["text"]) for r in records]
    assert Counter(label for label, _ in rows) == {"Golf": 5, "Pets": 5, "Music": 5}
    # every format holds the same rows
    reference = make_text_table(tmp_path / "ref.jsonl", interests, 5, seed=3, fmt="jsonl")
    expected = [(r["label"], r["text"]) for r in map(json.loads, reference.read_text("utf-8").splitlines())]
    assert rows == expected


def test_text_table_rejects_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="xlsx"):
        make_text_table(tmp_path / "t.xlsx", ["Golf"], 2, seed=0, fmt="xlsx")


# ------------------------------------------------------------------ images


def test_image_folders(workspace):
    _, paths = workspace
    folders = sorted(p.name for p in paths["images"].iterdir())
    assert folders == sorted(DEFAULT_INTERESTS[:-1])
    for folder in paths["images"].iterdir():
        files = sorted(folder.iterdir())
        assert [f.name for f in files] == [f"{k:03d}.png" for k in range(12)]
        with Image.open(files[0]) as img:
            assert img.mode == "RGB" and img.size == (64, 64)


def test_make_image_size_and_variety():
    rng = np.random.default_rng(0)
    a, b = make_image("Golf", rng, 32), make_image("Golf", rng, 32)
    assert a.mode == "RGB" and a.size == (32, 32)
    assert a.tobytes() != b.tobytes()
    for interest in INTERESTS + ("Knitting",):  # every taxonomy label, and an unknown one
        assert make_image(interest, rng, 16).size == (16, 16)


def test_classes_separate_on_simple_colour_features():
    """Nearest centroid on mean colour already tells most default classes apart."""
    def features(img):
        x = np.asarray(img, dtype=np.float32) / 255
        return np.concatenate([x.mean((0, 1)), x.std((0, 1))])

    train, test = {}, []
    for interest in DEFAULT_INTERESTS:
        rng = np.random.default_rng([5, DEFAULT_INTERESTS.index(interest)])
        feats = [features(make_image(interest, rng, 32)) for _ in range(30)]
        train[interest] = np.mean(feats[:20], axis=0)
        test += [(interest, f) for f in feats[20:]]
    correct = sum(min(train, key=lambda k: np.linalg.norm(train[k] - f)) == label for label, f in test)
    assert correct / len(test) > 0.8


# ------------------------------------------------------------------ modalities


def test_label_sets_differ_between_modalities(workspace):
    _, paths = workspace
    text_labels = {label for label, _ in read_tsv(paths["text"])[1]}
    image_labels = {p.name for p in paths["images"].iterdir()}
    assert text_labels - image_labels == {DEFAULT_INTERESTS[-1]}
    assert image_labels - text_labels == {DEFAULT_INTERESTS[-2]}
    assert text_labels | image_labels == set(DEFAULT_INTERESTS)


def test_modality_sets_are_controllable(tmp_path):
    paths = make_workspace(tmp_path, interests=["Golf", "Pets", "Swim"], captions_per_interest=3,
                           images_per_interest=2, users=2, posts_per_user=5,
                           image_interests=["Swim"], text_interests=["Golf", "Pets", "Swim"])
    assert {p.name for p in paths["images"].iterdir()} == {"Swim"}
    assert {label for label, _ in read_tsv(paths["text"])[1]} == {"Golf", "Pets", "Swim"}


@pytest.mark.parametrize("kwargs, culprit", [
    ({"image_interests": ["Golf", "Ski"]}, "image_interests"),
    ({"text_interests": ["Nope"]}, "text_interests"),
    ({"interests": ["Golf", "Golf"]}, "interests"),
    ({"interests": ["a/b"]}, "interests"),
    ({"users": -1}, "users"),
])
def test_bad_arguments_name_the_culprit(tmp_path, kwargs, culprit):
    with pytest.raises(ConfigError, match=culprit):
        make_workspace(tmp_path, **kwargs)


# ------------------------------------------------------------------ users


def test_posts_format(workspace):
    _, paths = workspace
    posts = read_posts(paths["posts"])
    assert len(posts) == 8 * 20
    assert all(set(p) == {"user_id", "post_id", "text", "image", "created_at"} for p in posts)
    assert len({p["post_id"] for p in posts}) == len(posts)
    assert all(p["text"] is not None or p["image"] is not None for p in posts)
    assert any(p["text"] is None for p in posts) and any(p["image"] is None for p in posts)
    by_user = defaultdict(list)
    for p in posts:
        by_user[p["user_id"]].append(p["created_at"])
    for stamps in by_user.values():
        assert all(s.endswith("Z") for s in stamps)
        parsed = [time.strptime(s, "%Y-%m-%dT%H:%M:%SZ") for s in stamps]
        assert parsed == sorted(parsed) and len(set(parsed)) == len(parsed)


def test_post_images_exist_and_are_relative(workspace):
    _, paths = workspace
    folder = paths["posts"].parent
    images = [p["image"] for p in read_posts(paths["posts"]) if p["image"] is not None]
    assert images
    train_bytes = {f.read_bytes() for f in paths["images"].rglob("*.png")}
    for rel in images:
        pure = PurePosixPath(rel)
        assert not pure.is_absolute() and ".." not in pure.parts and pure.parts[0] == "media"
        file = folder / rel
        assert file.is_file()
        assert file.read_bytes() not in train_bytes, "users' photos are new samples"


def test_user_captions_are_new_samples(workspace):
    _, paths = workspace
    train = {text for _, text in read_tsv(paths["text"])[1]}
    captions = [p["text"] for p in read_posts(paths["posts"]) if p["text"] is not None]
    # short templates can repeat by chance; most captions must be fresh draws
    assert sum(c in train for c in captions) < 0.25 * len(captions)


def test_labels_file(workspace):
    _, paths = workspace
    header, rows = read_tsv(paths["labels"])
    assert header == ["user_id", "interest", "other_interests"]
    users = {p["user_id"] for p in read_posts(paths["posts"])}
    assert {r[0] for r in rows} == users
    for user_id, interest, others in rows:
        others = others.split(",")
        assert interest in DEFAULT_INTERESTS and 2 <= len(others) <= 3
        assert interest not in others and set(others) <= set(DEFAULT_INTERESTS)


def test_primary_interest_is_most_frequent(tmp_path, monkeypatch):
    seen = []
    original = synthetic_workspace._post_topics

    def record(primary, others, n, rng):
        topics = original(primary, others, n, rng)
        seen.append((primary, others, topics))
        return topics

    monkeypatch.setattr(synthetic_workspace, "_post_topics", record)
    paths = make_workspace(tmp_path)
    _, rows = read_tsv(paths["labels"])
    assert [(primary, ",".join(others)) for primary, others, _ in seen] == [(r[1], r[2]) for r in rows]
    for primary, others, topics in seen:
        counts = Counter(topics)
        assert set(counts) == {primary, *others}
        assert counts[primary] > max(counts[o] for o in others)
        assert 0.35 <= counts[primary] / len(topics) <= 0.5


@pytest.mark.parametrize("n", range(1, 31))
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_post_topics_primary_strictly_most_frequent(n, k):
    others = ["B", "C", "D"][:k]
    topics = synthetic_workspace._post_topics("A", others, n, np.random.default_rng(n))
    counts = Counter(topics)
    assert len(topics) == n
    assert counts["A"] > max((counts[o] for o in others), default=0)
