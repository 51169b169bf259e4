"""The synthetic workspace: caption tables, photo folders and users, in the data contracts' formats."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .captions import DEFAULT_INTERESTS, make_caption
from .pictures import make_image
from .streams import one_line, rng_for

TEXT_FORMATS = ("tsv", "csv", "jsonl")


# --------------------------------------------------------------------------- tables


def _caption_rows(interests, n_per_interest: int, seed: int) -> list[tuple[str, str]]:
    """``(label, text)`` rows, interest by interest, each from its own stream."""
    rows = []
    for label in interests:
        rng = rng_for(seed, "text", label)
        rows.extend((label, make_caption(label, rng)) for _ in range(n_per_interest))
    return rows


def _write_rows(path: Path, rows, fmt: str) -> None:
    """Write ``(label, text)`` rows as tsv (unquoted), csv (csv module) or jsonl."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        if fmt == "tsv":
            f.write("label\ttext\n")
            f.writelines(f"{one_line(label)}\t{one_line(text)}\n" for label, text in rows)
        elif fmt == "csv":
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["label", "text"])
            writer.writerows(rows)
        elif fmt == "jsonl":
            f.writelines(json.dumps({"label": label, "text": text}, ensure_ascii=False) + "\n"
                         for label, text in rows)
        else:
            raise ConfigError(f"text table format {fmt!r} unknown; choose from: {', '.join(TEXT_FORMATS)}")


def make_text_table(path, interests=DEFAULT_INTERESTS, n_per_interest: int = 10, seed: int = 0,
                    fmt: str = "tsv") -> Path:
    """Write a small labelled caption table in ``fmt`` ("tsv", "csv" or "jsonl").

    tsv: header ``label<TAB>text``, unquoted (like the real data); csv: csv module,
    header ``label,text``; jsonl: one ``{"label": ..., "text": ...}`` per line.
    Returns the path.
    """
    if fmt not in TEXT_FORMATS:
        raise ConfigError(f"text table format {fmt!r} unknown; choose from: {', '.join(TEXT_FORMATS)}")
    path = Path(path)
    _write_rows(path, _caption_rows(_check_labels(interests, "interests"), n_per_interest, seed), fmt)
    return path


def _write_image_folders(folder: Path, interests, n_per_interest: int, size: int, seed: int) -> None:
    """``folder/<Label>/<nnn>.png`` for each interest."""
    for label in interests:
        rng = rng_for(seed, "images", label)
        sub = folder / label
        sub.mkdir(parents=True, exist_ok=True)
        for k in range(n_per_interest):
            make_image(label, rng, size).save(sub / f"{k:03d}.png")


# --------------------------------------------------------------------------- users


def _post_topics(primary: str, others: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Interests of a user's ``n`` posts: ~40% primary, which is always the most frequent."""
    if n <= 0:
        return []
    p = max(1, round(0.4 * n))
    while others and p < n and p <= math.ceil((n - p) / len(others)):
        p += 1
    topics = [primary] * p + [others[k % len(others)] for k in range(n - p)] if others else [primary] * n
    return [topics[int(i)] for i in rng.permutation(n)]


def _user_plan(index: int, interests, rng: np.random.Generator) -> tuple[str, list[str]]:
    """A user's primary interest (interests in turn) and 2-3 secondary ones."""
    primary = interests[index % len(interests)]
    pool = [i for i in interests if i != primary]
    k = min(len(pool), int(rng.integers(2, 4)))
    others = [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)] if k else []
    return primary, others


def _post_modalities(topic: str, text_set, image_set, rng: np.random.Generator) -> tuple[bool, bool]:
    """Whether a post has a caption and a photo: ~10% lack each, never both.

    A post about an interest that a modality does not cover lacks that modality
    (as with real data), unless that would leave it empty.
    """
    has_text, has_image = topic in text_set, topic in image_set
    if not (has_text or has_image):
        return True, True
    if has_text and has_image:
        u = rng.random()
        return (u >= 0.1, u < 0.1 or u >= 0.2)  # [0, .1): no caption; [.1, .2): no photo
    return has_text, has_image


def _write_users(folder: Path, interests, text_set, image_set, users: int, posts_per_user: int,
                 size: int, seed: int) -> tuple[Path, Path]:
    """Write ``posts.jsonl``, ``labels.tsv`` and ``media/`` for synthetic users."""
    media = folder / "media"
    media.mkdir(parents=True, exist_ok=True)
    rng = rng_for(seed, "users")
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    posts, labels = [], []
    for u in range(users):
        user_id = f"user{u:04d}"
        primary, others = _user_plan(u, interests, rng)
        labels.append((user_id, primary, ",".join(others)))
        when = start + timedelta(hours=int(rng.integers(0, 72)))
        for j, topic in enumerate(_post_topics(primary, others, posts_per_user, rng)):
            post_id = f"{user_id}-p{j:02d}"
            has_text, has_image = _post_modalities(topic, text_set, image_set, rng)
            text = make_caption(topic, rng) if has_text else None
            image = None
            if has_image:
                image = f"media/{post_id}.png"
                make_image(topic, rng, size).save(folder / image)
            posts.append({"user_id": user_id, "post_id": post_id, "text": text, "image": image,
                          "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
            when += timedelta(hours=int(rng.integers(3, 24 * 5)), minutes=int(rng.integers(0, 60)))
    posts_path, labels_path = folder / "posts.jsonl", folder / "labels.tsv"
    with open(posts_path, "w", encoding="utf-8", newline="") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in posts)
    with open(labels_path, "w", encoding="utf-8", newline="") as f:
        f.write("user_id\tinterest\tother_interests\n")
        f.writelines("\t".join(row) + "\n" for row in labels)
    return posts_path, labels_path


# --------------------------------------------------------------------------- workspace


def _check_labels(labels, what: str) -> list[str]:
    """Labels must be distinct non-empty names usable as folder names."""
    labels = list(labels)
    if not labels:
        raise ConfigError(f"{what}: needs at least one interest")
    for label in labels:
        if not isinstance(label, str) or not label or label != one_line(label) or "/" in label \
                or "\\" in label or "," in label or label in (".", ".."):
            raise ConfigError(f"{what}: {label!r} is not a usable interest label")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{what}: interests repeat")
    return labels


def _subset(given, default, interests, what: str) -> list[str]:
    """Resolve ``image_interests``/``text_interests``: a subset of ``interests``."""
    if given is None:
        return default
    given = _check_labels(given, what)
    unknown = [g for g in given if g not in interests]
    if unknown:
        raise ConfigError(f"{what}: {unknown[0]!r} is not one of the interests ({', '.join(interests)})")
    return given


def make_workspace(root, *, interests=None, captions_per_interest: int = 40,
                   images_per_interest: int = 12, users: int = 8, posts_per_user: int = 20,
                   image_size: int = 64, seed: int = 0, image_interests=None,
                   text_interests=None) -> dict:
    """Write a synthetic workspace under ``root``; return its paths.

    ``interests`` defaults to ``DEFAULT_INTERESTS``. ``image_interests`` (default: all
    but the last interest) get photo folders, ``text_interests`` (default: all but the
    second to last) get captions, so the label sets differ in both directions.
    Returns ``{"text": train.tsv, "images": images/train, "posts": posts.jsonl,
    "labels": labels.tsv}`` (Paths). Same arguments, byte-identical files.
    """
    interests = _check_labels(DEFAULT_INTERESTS if interests is None else interests, "interests")
    for name, value in (("captions_per_interest", captions_per_interest),
                        ("images_per_interest", images_per_interest), ("users", users),
                        ("posts_per_user", posts_per_user), ("image_size", image_size), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name}: expected a non-negative int, got {value!r}")
    if image_size < 8:
        raise ConfigError(f"image_size: at least 8 pixels, got {image_size}")
    default_images = interests[:-1] if len(interests) > 1 else interests
    default_texts = interests[:-2] + interests[-1:] if len(interests) > 2 else interests
    image_set = _subset(image_interests, default_images, interests, "image_interests")
    text_set = _subset(text_interests, default_texts, interests, "text_interests")

    root = Path(root)
    paths = {"text": root / "text" / "train.tsv", "images": root / "images" / "train",
             "posts": root / "users" / "posts.jsonl", "labels": root / "users" / "labels.tsv"}
    _write_rows(paths["text"], _caption_rows(text_set, captions_per_interest, seed), "tsv")
    paths["images"].mkdir(parents=True, exist_ok=True)
    _write_image_folders(paths["images"], image_set, images_per_interest, image_size, seed)
    _write_users(root / "users", interests, set(text_set), set(image_set), users, posts_per_user,
                 image_size, seed)
    return paths
