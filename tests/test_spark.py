"""The Spark engine on local[2]: rank's answer from spark_udf scoring and DataFrame operations.

Skipped, with the reason, where pyspark or Java is missing, except in CI (``.ci/run``
installs both and sets INTERESTKIT_CI=1), where a missing Spark is a failure.
"""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from batch_support import assert_same, from_parquet, invoke, posts_frame, ranked
from support import ADS, register_fakes, small_workspace

pytestmark = pytest.mark.integration  # a JVM per module: the integration tier


def _spark_or_skip():
    problem = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problem = "pyspark is not installed (pip install 'interestkit[spark]')"
    if problem is None and not shutil.which("java"):
        problem = "Java is not installed (Spark needs Java 17)"
    if problem and os.environ.get("INTERESTKIT_CI"):
        pytest.fail(f"CI must run the Spark tests: {problem}")
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module")
def spark_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("spark-logs")


@pytest.fixture(scope="module")
def spark(spark_logs):
    _spark_or_skip()
    from interestkit.spark import session

    spark = session("local[2]", spark_logs)
    yield spark
    spark.stop()


@pytest.fixture
def workspace(tmp_path, spark):
    paths = small_workspace(tmp_path / "ws", users=15)  # 300 posts
    return {**paths, "uris": register_fakes()}


@pytest.mark.parametrize("options", [
    [],
    ["--fusion", "rank_vote", "--last", "12", "--aggregation", "mean_log", "--half-life", "3", "--top-k", "3"],
    ["--fusion", "weighted", "--aggregation", "votes", "--no-calibration", "--posts-per-interest", "0"],
])
def test_the_spark_engine_gives_what_rank_gives(workspace, tmp_path, options):
    posts = workspace["posts"]
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "spark", *options)
    assert result.exit_code == 0, result.output
    assert "scored" in result.stderr and "with spark_udf" in result.stderr
    expected = ranked(posts, *[o for o in options if o not in ("--posts-per-interest", "0")])
    if "--posts-per-interest" in options:
        expected = {u: [(r, i, s, [], n) for r, i, s, _, n in rows] for u, rows in expected.items()}
    assert_same(expected, from_parquet(tmp_path / "out"), "batch --engine spark")


def test_spark_workers_score_through_the_export_on_one_thread_without_tensorflow(workspace, spark_logs, tmp_path):
    """Models with an export: each Python worker loads it on ONNX Runtime, one intra-op thread per task."""
    from runtime_support import exported_folder

    posts = workspace["posts"]
    models = ["--text-model", exported_folder(tmp_path / "text", "text"),
              "--image-model", exported_folder(tmp_path / "image", "image", size=8)]
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "spark", *models)
    assert result.exit_code == 0, result.output
    assert_same(ranked(posts, *models), from_parquet(tmp_path / "out"), "batch --engine spark on the export")
    loads = [line.split(": ", 1)[1] for line in (spark_logs / "spark.log").read_text().splitlines()
             if line.startswith("interestkit worker ")]
    for modality in ("text", "image"):
        assert f"{modality} model on onnxruntime-float32, intra-op threads: 1, tensorflow not imported" in loads, loads


def test_rank_users_takes_photos_as_bytes_from_binary_files(workspace, spark):
    """The documented recipe: photos read by Spark's binaryFile source, joined to the posts by path."""
    from pyspark.sql import functions as F

    from interestkit.spark import rank_users

    posts_path = workspace["posts"]
    media = posts_path.parent
    posts = spark.read.json(str(posts_path))
    photos = spark.read.format("binaryFile").load(str(media / "media")) \
        .select(F.regexp_extract("path", r"(media/[^/]+)$", 1).alias("image"), F.col("content").alias("image_bytes"))
    with_bytes = posts.join(photos, "image", "left").drop("image")
    frame = rank_users(with_bytes, text_model=workspace["uris"]["text"], image_model=workspace["uris"]["image"],
                       fusion="weighted", top_k=4).toPandas()
    got = {u: [(int(r.rank), r.interest, float(r.score), list(r.posts), int(r.n_posts))
               for r in g.sort_values("rank").itertuples()] for u, g in frame.groupby("user_id")}
    assert_same(ranked(posts_path, "--fusion", "weighted", "--top-k", "4"), got, "rank_users with image_bytes")


def test_rank_users_includes_the_ads_recommend_gives(workspace, spark, tmp_path):
    """Ads on Spark: each user's rows carry the ads ``interestkit recommend`` gives them."""
    from interestkit.ranking.options import RankingOptions
    from interestkit.spark import rank_users

    ads = tmp_path / "ads.yaml"
    ads.write_text(ADS)
    posts = workspace["posts"]
    frame = rank_users(spark.read.json(str(posts)), RankingOptions(top_n_ads=3, top_k=3), media_root=posts.parent,
                       ads=ads).toPandas()
    result = invoke("recommend", "--posts", posts, "--ads", ads, "--top-n", "3", "--top-k", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    expected = {u["user_id"]: [(a["ad_id"], a["interest"], a["score"]) for a in u["ads"]]
                for u in json.loads(result.stdout) if u["interests"]}
    got = {u: [(a["ad_id"], a["interest"], a["score"]) for a in g["ads"].iloc[0]] for u, g in frame.groupby("user_id")}
    assert expected.keys() == got.keys() and any(expected.values())
    for user, rows in expected.items():
        assert [r[:2] for r in rows] == [r[:2] for r in got[user]], user
        assert all(abs(a[2] - b[2]) <= 1e-6 for a, b in zip(rows, got[user])), user


def test_signature_frames_with_timestamps_are_accepted(workspace, spark):
    """created_at as Spark TimestampType (from pandas read_json's datetimes) ranks like ISO text."""
    from interestkit.spark import rank_users

    frame = posts_frame(workspace["posts"])
    assert str(frame["created_at"].dtype).startswith("datetime64")
    df = spark.createDataFrame(frame)
    assert dict(df.dtypes)["created_at"] == "timestamp"
    out = rank_users(df, media_root=workspace["posts"].parent, last=5, half_life_days=2.0).toPandas()
    got = {u: [(int(r.rank), r.interest, float(r.score), list(r.posts), int(r.n_posts))
               for r in g.sort_values("rank").itertuples()] for u, g in out.groupby("user_id")}
    assert_same(ranked(workspace["posts"], "--last", "5", "--half-life", "2"), got, "timestamps")


@pytest.mark.parametrize("change, message", [
    (lambda rows: rows[4].update(post_id=rows[3]["post_id"]), "duplicate post_id 'user0000-p03'"),
    (lambda rows: rows[2].update(created_at="next tuesday"),
     "post user0000-p02: created_at is not an ISO-8601 date-time (e.g. 2026-01-31T12:00:00Z) (got next tuesday)"),
    (lambda rows: rows[1].update(image="../../etc/passwd"), "post user0000-p01: image must be a path inside"),
    (lambda rows: rows[0].update(text=None, image=None), "post user0000-p00: has neither text nor a photo"),
    (lambda rows: rows[0].update(user_id=" "), "post user0000-p00: user_id must be a non-empty string"),
    (lambda rows: rows.clear(), "bad.jsonl: no posts (the table is empty)"),
])
def test_bad_posts_on_spark_are_one_line_naming_the_post(workspace, tmp_path, change, message):
    rows = [json.loads(line) for line in workspace["posts"].read_text().splitlines()]
    change(rows)
    posts = workspace["posts"].parent / "bad.jsonl"
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "spark")
    assert result.exit_code == 2, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and message in error[0], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_streaming_updates_users_batch_by_batch(workspace, spark, tmp_path):
    """Two files, two micro-batches: the current rankings equal rank over every post so far."""
    from interestkit.app.ranking import fusion_spec
    from interestkit.ranking.pipeline import RankingOptions
    from interestkit.spark import model_refs, streaming

    lines = workspace["posts"].read_text().splitlines()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    # the first file: every user's first 12 posts; the second: the rest, and one earlier post sent again
    first = [line for line in lines if int(json.loads(line)["post_id"][-2:]) < 12]
    second = [line for line in lines if line not in first]
    edited = json.loads(first[0])
    edited["text"] = "golf golf birdie fairway"
    second.append(json.dumps(edited))
    (incoming / "a.jsonl").write_text("\n".join(first) + "\n")
    (incoming / "b.jsonl").write_text("\n".join(second) + "\n")
    options = RankingOptions(last=10)
    out = tmp_path / "stream-out"
    refs = model_refs(workspace["uris"]["text"], workspace["uris"]["image"], "fused", tmp_path / "models")
    stream = streaming.read_stream(spark, incoming, max_files_per_trigger=1)
    query, ranker = streaming.start(spark, stream, out, refs, options, fusion_spec("score_sum"),
                                    media_root=workspace["posts"].parent, available_now=True)
    query.awaitTermination(180)
    assert [b["batch"] for b in ranker.batches] == [0, 1]
    assert (out / "current").resolve() == (out / "rankings" / "1").resolve()
    everything = workspace["posts"].parent / "all.jsonl"
    kept = [line for line in lines if json.loads(line)["post_id"] != edited["post_id"]] + [json.dumps(edited)]
    everything.write_text("\n".join(kept) + "\n")
    assert_same(ranked(everything, "--last", "10"), from_parquet(out / "current"), "streaming")


def test_a_missing_posts_path_on_spark_is_one_line(workspace, tmp_path):
    result = invoke("batch", "--posts", tmp_path / "nowhere.jsonl", "--out", tmp_path / "out", "--engine", "spark")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: {tmp_path / 'nowhere.jsonl'}: cannot read posts "
                                                              "as json ([PATH_NOT_FOUND] Path does not exist")


def test_the_cli_shows_one_line_per_stage_and_keeps_spark_logs_in_a_file(workspace, tmp_path):
    env = dict(os.environ, INTERESTKIT_PLUGINS="")
    logs = tmp_path / "logs"
    run = subprocess.run([sys.executable, "-m", "interestkit", "batch", "--posts", str(workspace["posts"]),
                          "--out", str(tmp_path / "out"), "--engine", "spark", "--master", "local[1]",
                          "--spark-logs", str(logs)], capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stderr
    stages = run.stderr.strip().splitlines()
    assert stages[0].startswith("spark: session on local[1] started in") and str(logs) in stages[0]
    assert any(s.startswith("scored ") for s in stages) and stages[-1].startswith("ranked users and wrote")
    assert len(stages) <= 8 and not [s for s in stages if "WARN" in s or "log4j" in s or "INFO" in s], stages
    assert (logs / "spark.log").exists()
    assert pd.read_parquet(tmp_path / "out")["user_id"].nunique() == 15


def test_the_batch_guide_python_snippets_run(spark, tmp_path, monkeypatch, capsys):
    """docs/batch.md: its Python blocks, in order, on a synthetic workspace with fake champions."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "batch.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    assert len(blocks) == 3
    small_workspace(tmp_path, users=4)
    register_fakes()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "a.jsonl").write_text((tmp_path / "users" / "posts.jsonl").read_text())
    # Spark reads relative paths from the folder its JVM started in (the module's session started
    # elsewhere): the blocks' Spark paths are made absolute; everything else runs as written
    blocks = [re.sub(r'"(users/|incoming/)', lambda m: f'"{tmp_path}/{m.group(1)}', b) for b in blocks]
    namespace: dict = {}
    exec(blocks[0], namespace)
    shown = capsys.readouterr().out
    assert "|user_id|rank|interest|" in shown.replace(" ", "") and "only showing top 6 rows" in shown
    exec(blocks[1], namespace)
    assert namespace["top"].count() == 12
    exec(blocks[2], namespace)
    assert pd.read_parquet(tmp_path / "stream-out" / "current")["user_id"].nunique() == 4
