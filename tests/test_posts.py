"""Posts and user labels: loading, validation errors, and each user's last N posts."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from interestkit.cli import cli
from interestkit.errors import DataError
from interestkit.data.labels import load_labels
from interestkit.data.paths import MediaPolicy
from interestkit.data.posts import last_n, load_posts


def write_posts(folder: Path, rows, name="posts.jsonl") -> Path:
    """A posts file; rows are dicts (written as JSON) or raw strings (written as they are)."""
    (folder / "media").mkdir(parents=True, exist_ok=True)
    (folder / "media" / "a.png").write_bytes(b"not decoded while loading posts")
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def post(user="u1", pid="p1", text="Birdie on 18!", image=None, created_at="2026-01-01T12:00:00Z"):
    return {"user_id": user, "post_id": pid, "text": text, "image": image, "created_at": created_at}


def test_loads_posts_in_file_order(tmp_path):
    path = write_posts(tmp_path, [
        post(pid="p1", image="media/a.png"),
        post(pid="p2", text=None, image="media/a.png", created_at="2026-01-02T08:00:00+02:00"),
        post(user="u2", pid="p3", created_at=None),
        {"user_id": 7, "post_id": "p4", "text": "no date key at all"},
        post(pid="p5", created_at="2026-01-03T09:30:00"),
    ])
    posts = load_posts(path)
    assert [p.post_id for p in posts] == ["p1", "p2", "p3", "p4", "p5"]
    assert [p.line for p in posts] == [1, 2, 3, 4, 5]
    assert posts[0].image == tmp_path / "media" / "a.png" and posts[0].text == "Birdie on 18!"
    assert posts[1].text is None
    assert posts[1].created_at == datetime(2026, 1, 2, 6, 0, tzinfo=timezone.utc)
    assert posts[2].created_at is None and posts[3].created_at is None and posts[3].user_id == "7"
    assert posts[4].created_at == datetime(2026, 1, 3, 9, 30, tzinfo=timezone.utc)  # no zone: UTC


def test_allow_outside_accepts_parent_and_absolute_paths(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "up.png").write_bytes(b"x")
    path = write_posts(inner, [post(pid="p1", image="../up.png"), post(pid="p2", image=str(tmp_path / "up.png"))])
    posts = load_posts(path, MediaPolicy(inner, allow_outside=True))
    assert posts[0].image.resolve() == posts[1].image == tmp_path / "up.png"


BAD_POSTS = [
    ("malformed-json", ['{"user_id": "u1", "post_id": "p1", "text": "ok"}', '{"user_id": "u1", "post_id": '],
     "posts.jsonl:2: invalid JSON"),
    ("missing-user", [{"post_id": "p1", "text": "hi"}], "posts.jsonl:1: missing column 'user_id'"),
    ("missing-post-id", [post(pid="p1"), {"user_id": "u1", "text": "hi"}], "posts.jsonl:2: missing column 'post_id'"),
    ("empty-user", [post(user=" ")], "posts.jsonl:1: user_id must be a non-empty string"),
    ("duplicate", [post(pid="p1"), post(pid="p2"), post(pid="p1")],
     "posts.jsonl:3: duplicate post_id 'p1' (first on line 1)"),
    ("image-escapes", [post(image="../a.png")], "posts.jsonl:1: column 'image' must be a path inside"),
    ("image-absolute", [post(image="/etc/hostname")], "absolute paths and '..' are refused"),
    ("bad-date", [post(created_at="2026-13-01")], "posts.jsonl:1: created_at '2026-13-01' is not an ISO-8601 date-time"),
    ("date-not-string", [post(created_at=20260101)], "posts.jsonl:1: created_at must be an ISO-8601 string"),
    ("empty-post", [post(pid="p1"), post(pid="p2", text="  ", image=None)],
     "posts.jsonl:2: post 'p2' has neither text nor image"),
    ("text-not-string", [post(text=["a"])], "posts.jsonl:1: text must be a string or null"),
    ("not-an-object", ['["u1", "p1"]'], "posts.jsonl:1: expected a JSON object"),
]


@pytest.mark.parametrize("rows, message", [case[1:] for case in BAD_POSTS], ids=[case[0] for case in BAD_POSTS])
def test_bad_posts_are_one_line_errors(tmp_path, rows, message):
    path = write_posts(tmp_path, rows)
    with pytest.raises(DataError) as error:
        load_posts(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    result = CliRunner().invoke(cli, ["rank", "--posts", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == \
        [line for line in result.output.splitlines() if "Error" in line]


def test_refused_paths_say_how_to_widen_the_policy_and_links_cannot_escape(tmp_path):
    path = write_posts(tmp_path, [post(image="/etc/hostname")])
    result = CliRunner().invoke(cli, ["rank", "--posts", str(path)])
    assert result.exit_code == 2 and "(pass --allow-outside-paths to accept them)" in result.output
    (tmp_path / "media" / "escape.png").symlink_to("/etc/hostname")
    path = write_posts(tmp_path, [post(image="media/escape.png")])
    with pytest.raises(DataError, match="posts.jsonl:1: column 'image': 'media/escape.png' leads out of .* through a link"):
        load_posts(path)


def test_posts_file_must_be_a_known_table_and_exist(tmp_path):
    with pytest.raises(DataError, match=r"posts must be .jsonl, .parquet or .csv \(got '.txt'\)"):
        load_posts(tmp_path / "posts.txt")
    with pytest.raises(DataError, match="missing.jsonl: file not found"):
        load_posts(tmp_path / "missing.jsonl")


# --- last n ---------------------------------------------------------------------------------


def test_last_n_keeps_most_recent_and_warns_for_short_users(tmp_path):
    path = write_posts(tmp_path, [
        post(pid="a1", created_at="2026-01-05T00:00:00Z"),
        post(pid="a2", created_at="2026-01-01T00:00:00Z"),
        post(pid="a3", created_at=None),  # undated: older than any dated post
        post(pid="a4", created_at="2026-01-05T00:00:00Z"),  # same time as a1, later line: more recent
        post(pid="a5", created_at="2026-01-03T00:00:00Z"),
        post(user="u2", pid="b1"),
    ])
    kept, warnings = last_n(load_posts(path), 3)
    assert [p.post_id for p in kept] == ["a5", "a1", "a4", "b1"]  # grouped by user, oldest first
    assert list(warnings) == ["u2"] and "only 1 posts" in warnings["u2"]
    kept, warnings = last_n(load_posts(path), 0)
    assert [p.post_id for p in kept] == ["a3", "a2", "a5", "a1", "a4", "b1"] and warnings == {}
    kept, _ = last_n(load_posts(path), 5)
    assert {p.post_id for p in kept} == {"a1", "a2", "a3", "a4", "a5", "b1"}


# --- labels ---------------------------------------------------------------------------------


def write_labels(folder: Path, text: str) -> Path:
    path = folder / "labels.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_labels_with_optional_others(tmp_path):
    posts = load_posts(write_posts(tmp_path, [post(user="u1", pid="p1"), post(user="u2", pid="p2")]))
    path = write_labels(tmp_path, "user_id\tinterest\tother_interests\nu1\tGolf\tArt, Pets,,Art\nu2\tPets\t\n")
    labels = load_labels(path, posts)
    assert labels["u1"].interest == "Golf" and labels["u1"].others == ("Art", "Pets")
    assert labels["u2"].others == ()
    no_others = write_labels(tmp_path, "user_id\tinterest\nu1\tGolf\n")
    assert load_labels(no_others, posts)["u1"].others == ()


BAD_LABELS = [
    ("no-posts", "user_id\tinterest\nu1\tGolf\nu9\tPets\n", "labels.tsv:3: user 'u9' has no posts in"),
    ("missing-interest", "user_id\tother_interests\nu1\tGolf\n", "labels.tsv:1: missing column 'interest'"),
    ("empty-interest", "user_id\tinterest\nu1\t\n", "labels.tsv:2: interest must be a non-empty string"),
    ("twice", "user_id\tinterest\nu1\tGolf\nu1\tPets\n", "labels.tsv:3: user 'u1' is labelled twice (first on line 2)"),
    ("fields", "user_id\tinterest\nu1\tGolf\textra\n", "labels.tsv:2: expected 2 fields"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in BAD_LABELS], ids=[case[0] for case in BAD_LABELS])
def test_bad_labels_are_one_line_errors(tmp_path, text, message):
    posts_path = write_posts(tmp_path, [post(user="u1", pid="p1")])
    path = write_labels(tmp_path, text)
    with pytest.raises(DataError) as error:
        load_labels(path, load_posts(posts_path), posts_source=str(posts_path))
    assert message in str(error.value) and "\n" not in str(error.value)
    for command in (["evaluate", "--strict"], ["fusion", "fit", "--strict"]):
        result = CliRunner().invoke(cli, [*command, "--posts", str(posts_path), "--labels", str(path)])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
