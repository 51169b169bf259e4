"""The Spark engine on local[2]: rank's answer from spark_udf scoring and DataFrame operations.

Skipped, with the reason, where pyspark or Java is missing, except in CI (``.ci/run``
installs both and sets INTERESTKIT_CI=1), where a missing Spark is a failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from batch_support import assert_same, from_parquet, invoke, posts_frame, ranked
from support import ADS, register_fakes, small_workspace

# a JVM per module: the integration tier; with -n 2 --dist loadgroup (make test) the tests on a
# local session (these and test_audience.py's) run in one worker, so on one JVM
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("spark")]


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


def _jvm_log_file(spark) -> Path:
    """The spark.log this JVM writes: the one its first session configured (another test module's
    session may have started the JVM in this process, with its own log folder)."""
    configured = spark.sparkContext._jvm.java.lang.System.getProperty("log4j2.configurationFile")
    return Path(configured.removeprefix("file:")).with_suffix("").with_suffix(".log")


def test_spark_workers_score_through_the_export_on_one_thread_without_tensorflow(workspace, spark, tmp_path):
    """Models with an export: each Python worker loads it on ONNX Runtime, one intra-op thread per task."""
    from runtime_support import exported_folder

    posts = workspace["posts"]
    models = ["--text-model", exported_folder(tmp_path / "text", "text"),
              "--image-model", exported_folder(tmp_path / "image", "image", size=8)]
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "spark", *models)
    assert result.exit_code == 0, result.output
    assert_same(ranked(posts, *models), from_parquet(tmp_path / "out"), "batch --engine spark on the export")
    # every worker's line, wherever it starts (other processes write to the same log)
    loads = re.findall(r"interestkit worker \d+: (.*?tensorflow (?:not )?imported)", _jvm_log_file(spark).read_text())
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


def _bad_posts_cases():
    """``(name, suffix, rows or text)``: one bad field each, the kinds ``data.posts`` refuses."""
    good = [{"user_id": "u1", "post_id": f"p{i}", "text": f"caption {i}", "created_at": f"2026-01-0{i + 1}T10:00:00Z"}
            for i in range(4)]

    def changed(index, **fields):
        rows = [dict(r) for r in good]
        rows[index].update(fields)
        return rows

    png = "iVBORw0KGgo="
    cases = [
        ("user_id null", ".jsonl", changed(2, user_id=None)),
        ("user_id blank", ".jsonl", changed(1, user_id="  ")),
        ("post_id missing", ".jsonl", changed(3, post_id=None)),
        ("bad created_at", ".jsonl", changed(2, created_at="next tuesday")),
        ("impossible date", ".jsonl", changed(1, created_at="2026-02-30")),
        ("two photos", ".jsonl", changed(1, image="media/a.png", image_b64=png)),
        ("bad base64", ".jsonl", changed(2, image_b64="not base64!")),
        ("bad data URI", ".jsonl", changed(0, image="data:text/plain;base64,QUJD")),
        ("path out of the root", ".jsonl", changed(3, image="../../etc/passwd")),
        ("absolute path", ".jsonl", changed(1, image="/etc/passwd")),
        ("no text, no photo", ".jsonl", changed(2, text=None)),
        ("over-long text", ".jsonl", changed(3, text="x" * 101)),
        ("too large a photo", ".jsonl", changed(1, image_b64="QUJD" * 100)),
        ("duplicate post_id", ".jsonl", changed(3, post_id="p1")),
        ("blank lines before", ".jsonl", "\n" + "\n\n".join(json.dumps(r) for r in changed(2, user_id="")) + "\n"),
        ("csv blank user_id", ".csv", changed(2, user_id="")),
        ("csv caption over two lines", ".csv", changed(3, created_at="soon", text="two\nlines")),
        ("csv duplicate", ".csv", changed(2, post_id="p0")),
        ("parquet bad created_at", ".parquet", changed(2, created_at="yesterday")),
        ("parquet duplicate", ".parquet", changed(3, post_id="p2")),
    ]
    return cases


def test_bad_posts_on_spark_give_the_local_readers_error(spark, tmp_path):
    """Each kind of bad field: Spark's check says what ``data.posts.read_posts`` says, word for word
    (one test for every kind: one JVM)."""
    from interestkit.data.paths import MediaPolicy
    from interestkit.data.posts import RecordLimits, read_posts
    from interestkit.errors import DataError
    from interestkit.spark import posts as spark_posts

    limits = RecordLimits(max_text_chars=100, max_image_bytes=200)
    for name, suffix, rows in _bad_posts_cases():
        path = tmp_path / f"{name.replace(' ', '-')}{suffix}"
        if isinstance(rows, str):
            path.write_text(rows)
        elif suffix == ".jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif suffix == ".csv":
            pd.DataFrame(rows).to_csv(path, index=False)
        else:
            pd.DataFrame(rows).to_parquet(path)
        policy = MediaPolicy(path.parent)
        with pytest.raises(DataError) as local:
            read_posts(path, policy, limits)
        frame = spark_posts.normalized(spark_posts.read_posts(spark, str(path)), str(path))
        with pytest.raises(DataError) as on_spark:
            spark_posts.checked(frame, str(path), policy, limits)
        assert str(on_spark.value) == str(local.value), name
        assert on_spark.value.field == local.value.field, name


def test_bad_posts_on_spark_are_one_line_naming_the_post(workspace, spark, tmp_path):
    """From the command line: one line, the local reader's; and a DataFrame from elsewhere names the post."""
    from interestkit.data.posts import read_posts
    from interestkit.errors import DataError

    rows = [json.loads(line) for line in workspace["posts"].read_text().splitlines()]
    rows[2].update(created_at="next tuesday")
    posts = workspace["posts"].parent / "bad.jsonl"
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("batch", "--posts", posts, "--out", tmp_path / "out", "--engine", "spark")
    assert result.exit_code == 2, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    with pytest.raises(DataError) as local:
        read_posts(posts)
    assert error == [f"Error: {local.value}"], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
    from interestkit.ranking.options import RankingOptions
    from interestkit.spark import prepared_posts

    frame = spark.createDataFrame(pd.DataFrame(rows).drop(columns=["image"]))
    with pytest.raises(DataError, match=r"^frame: post 'user0000-p02' of user 'user0000': created_at 'next tuesday' "
                                        r"is not an ISO-8601"):
        prepared_posts(frame, RankingOptions(), "frame")


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
