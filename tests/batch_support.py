"""What the batch tests share: a workspace with fake champions, rank's answer, output comparison."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from interestkit.cli import cli

TOLERANCE = 1e-6


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def ranked(posts, *options) -> dict:
    """``interestkit rank``'s answer: {user_id: [(rank, interest, score, posts, n_posts)]}."""
    result = invoke("rank", "--posts", posts, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return {u["user_id"]: [(i["rank"], i["interest"], i["score"], i["posts"], u["posts_used"]) for i in u["interests"]]
            for u in json.loads(result.stdout) if u["interests"]}


def from_parquet(out) -> dict:
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["user_id", "rank", "interest", "score", "n_posts", "posts"]
    return {user: [(int(r.rank), r.interest, float(r.score), list(r.posts), int(r.n_posts)) for r in group.itertuples()]
            for user, group in frame.groupby("user_id", sort=False)}


def assert_same(expected: dict, actual: dict, where: str):
    """Same users, same top-k in the same order with the same contributing posts, scores within 1e-6."""
    assert expected.keys() == actual.keys(), where
    for user, rows in expected.items():
        got = actual[user]
        assert [(r, i, p, n) for r, i, _, p, n in rows] == [(r, i, p, n) for r, i, _, p, n in got], f"{where}: {user}"
        for a, b in zip(rows, got):
            assert abs(a[2] - b[2]) <= TOLERANCE, f"{where}: {user} {a[1]} scores {a[2]} and {b[2]}"


def posts_frame(posts_path, with_bytes: bool = False):
    """The posts file as a DataFrame (created_at parsed by pandas); ``with_bytes``: photos as bytes."""
    frame = pd.read_json(posts_path, lines=True)
    if with_bytes:
        root = posts_path.parent
        frame["image_bytes"] = [(root / p).read_bytes() if isinstance(p, str) else None for p in frame["image"]]
        frame = frame.drop(columns=["image"])
    return frame
