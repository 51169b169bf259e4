"""``interestkit batch --engine local``: rank's answer, for JSONL, Parquet and CSV tables, as Parquet."""

import pandas as pd
import pytest

from batch_support import assert_same, from_parquet, invoke, posts_frame, ranked
from support import register_fakes, small_workspace


@pytest.fixture
def workspace(tmp_path):
    paths = small_workspace(tmp_path / "ws", users=6)
    return {**paths, "uris": register_fakes()}


@pytest.mark.parametrize("options", [
    [],
    ["--fusion", "rank_vote", "--last", "12", "--aggregation", "mean_log"],
    ["--mode", "text", "--aggregation", "votes", "--top-k", "3"],
    ["--fusion", "weighted", "--half-life", "3", "--no-calibration"],
])
def test_the_local_engine_gives_what_rank_gives(workspace, tmp_path, options):
    posts = workspace["posts"]
    out = tmp_path / "out"
    result = invoke("batch", "--posts", posts, "--out", out, *options)
    assert result.exit_code == 0, result.output
    assert "rows for 6 users from 120 posts (local" in result.stdout
    assert_same(ranked(posts, *options), from_parquet(out), "batch --engine local")


def test_parquet_with_photo_bytes_and_csv_give_the_same_answer(workspace, tmp_path):
    posts = workspace["posts"]
    expected = ranked(posts)
    table = tmp_path / "posts.parquet"
    posts_frame(posts, with_bytes=True).to_parquet(table)
    assert invoke("batch", "--posts", table, "--out", tmp_path / "a").exit_code == 0
    assert_same(expected, from_parquet(tmp_path / "a"), "parquet with image_bytes")
    csv = posts.parent / "posts.csv"  # beside the media folder: photo paths resolve from there
    pd.read_json(posts, lines=True, dtype=False).to_csv(csv, index=False)
    result = invoke("batch", "--posts", csv, "--out", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert_same(expected, from_parquet(tmp_path / "b"), "csv")


def test_an_existing_output_is_kept_unless_overwrite(workspace, tmp_path):
    out = tmp_path / "out"
    assert invoke("batch", "--posts", workspace["posts"], "--out", out).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    again = invoke("batch", "--posts", workspace["posts"], "--out", out, "--top-k", "2")
    assert again.exit_code == 2 and "exists and is not empty; pass --overwrite" in again.stderr
    assert sorted(p.name for p in out.iterdir()) == before
    assert invoke("batch", "--posts", workspace["posts"], "--out", out, "--top-k", "2", "--overwrite").exit_code == 0
    assert pd.read_parquet(out)["rank"].max() == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder is left behind"


@pytest.mark.parametrize("args, message", [
    (["--posts", "{tmp}/missing.jsonl"], "missing.jsonl: file not found"),
    (["--posts", "{tmp}/posts.txt"], "posts must be .jsonl, .parquet"),
    (["--out", "{tmp}/file.txt"], "is a file; the output is a Parquet dataset"),
    (["--engine", "spark", "--allow-outside-paths"], "--allow-outside-paths is for the local engine"),
    (["--posts", "s3://bucket/posts.jsonl"], "the local engine reads and writes local files"),
    (["--top-k", "0"], "--top-k"),
    (["--posts-per-interest", "-1"], "--posts-per-interest"),
])
def test_bad_batch_input_is_one_line_naming_it(workspace, tmp_path, args, message):
    (tmp_path / "posts.txt").write_text("x")
    (tmp_path / "file.txt").write_text("x")
    given = dict(zip(args[::2], args[1::2]))
    defaults = {"--posts": str(workspace["posts"]), "--out": str(tmp_path / "out")}
    flags = [str(a).format(tmp=tmp_path) for a in args]
    for flag, value in defaults.items():
        if flag not in given:
            flags += [flag, value]
    result = invoke("batch", *flags)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_row_in_a_parquet_table_names_the_row(workspace, tmp_path):
    frame = pd.read_json(workspace["posts"], lines=True, dtype=False)
    frame.loc[3, "created_at"] = "yesterday"
    table = tmp_path / "posts.parquet"
    frame.to_parquet(table)
    result = invoke("batch", "--posts", table, "--out", tmp_path / "out", "--media-root", workspace["posts"].parent)
    assert result.exit_code == 2
    assert f"{table}: row 4: created_at 'yesterday' is not an ISO-8601 date-time" in result.stderr


def test_without_pyspark_the_spark_engine_says_what_to_install(workspace, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark raises ImportError
    result = invoke("batch", "--posts", workspace["posts"], "--out", tmp_path / "out", "--engine", "spark")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: the spark engine needs pyspark: pip install 'interestkit[spark]' "
                                     "(Java 17 must be installed too)")
