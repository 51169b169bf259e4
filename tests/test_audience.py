"""Audiences and segment exports of rankings: `audience`, `batch --format openrtb|segments`, locally and on Spark."""

import json
import os
import shutil

import pandas as pd
import pytest

from batch_support import invoke
from interestkit.adtech.openrtb import SegmentRules, segment_rows, user_object
from interestkit.adtech.tables import audience_frame, segments_frame
from interestkit.taxonomy import load_taxonomy
from store_snapshot import empty_store
from support import register_fakes, small_workspace

SEGMENTS = load_taxonomy().segments


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory, empty_store_template):
    """Posts, `rank --format json`'s answer and `batch`'s rankings dataset, on fake champions."""
    tmp = tmp_path_factory.mktemp("audience")
    paths = small_workspace(tmp / "ws", users=8)
    with pytest.MonkeyPatch.context() as mp:  # a store of its own: the tests' stores come after it
        mp.setenv("INTERESTKIT_REGISTRY", str(empty_store(empty_store_template, tmp / "registry")))
        mp.setenv("INTERESTKIT_CACHE_DIR", str(tmp / "cache"))
        register_fakes()
        ranked = invoke("rank", "--posts", paths["posts"], "--format", "json")
        assert ranked.exit_code == 0, ranked.output
        result = invoke("batch", "--posts", paths["posts"], "--out", tmp / "rankings")
        assert result.exit_code == 0, result.output
    return {"posts": paths["posts"], "rankings": tmp / "rankings", "users": json.loads(ranked.stdout), "tmp": tmp}


def test_audience_lists_the_users_of_an_interest_best_first(batch_out):
    rankings = pd.read_parquet(batch_out["rankings"])
    golf = rankings[rankings["interest"] == "Golf"].sort_values(["score", "user_id"], ascending=[False, True])
    assert len(golf) >= 2, "the fixture must give Golf to several users"
    threshold = float(golf["score"].iloc[1])
    result = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golf", "--format", "json",
                    "--min-score", threshold)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    expected = golf[golf["score"] >= threshold]
    assert [u["user_id"] for u in listed] == list(expected["user_id"])
    assert all(u["interest"] == "Golf" and u["score"] >= threshold for u in listed)
    top = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golf", "--top", "1")
    assert top.stdout.splitlines()[0] == "user_id,interest,score,rank"
    assert len(top.stdout.splitlines()) == 2 and top.stdout.splitlines()[1].startswith(golf["user_id"].iloc[0] + ",")
    out = batch_out["tmp"] / "golf"
    parquet = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golf", "--format", "parquet",
                     "--out", out)
    assert parquet.exit_code == 0, parquet.output
    assert list(pd.read_parquet(out)["user_id"]) == list(golf["user_id"])


def test_an_interest_nobody_has_is_empty_and_a_misspelt_one_is_named(batch_out):
    empty = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Jewelry")
    assert empty.exit_code == 0 and empty.stdout == "user_id,interest,score,rank\n"
    wrong = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golff")
    assert wrong.exit_code != 0 and "--interest 'Golff': no user of" in wrong.stderr and "Golf" in wrong.stderr
    missing = invoke("audience", "--rankings", batch_out["tmp"] / "nothing", "--interest", "Golf")
    assert missing.exit_code != 0 and "nothing: rankings dataset not found" in missing.stderr
    posts = invoke("audience", "--rankings", batch_out["posts"], "--interest", "Golf")
    assert posts.exit_code != 0 and "cannot read the rankings" in posts.stderr and "Traceback" not in posts.output
    bare = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golf", "--format", "parquet")
    assert bare.exit_code != 0 and "--format parquet writes a dataset folder: give it with --out" in bare.stderr


def test_batch_openrtb_and_segments_match_rank(batch_out):
    register_fakes()  # each test has its own model store; the fakes are deterministic
    tmp, users = batch_out["tmp"], batch_out["users"]
    rules = ["--min-score", "0.05", "--max-segments", "4", "--provider", "acme"]
    result = invoke("batch", "--posts", batch_out["posts"], "--out", tmp / "users.jsonl", "--format", "openrtb", *rules)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp / "users.jsonl").read_text().splitlines()]
    expected = sorted((user_object(u, SEGMENTS, SegmentRules("acme", 0.05, 4)) for u in users), key=lambda u: u["id"])
    assert len(lines) == len(users) == 8
    for got, want in zip(lines, expected):
        assert got["id"] == want["id"]
        assert [s["id"] for s in got["data"][0]["segment"]] == [s["id"] for s in want["data"][0]["segment"]]
        for a, b in zip(got["data"][0]["segment"], want["data"][0]["segment"]):
            assert abs(float(a["value"]) - float(b["value"])) <= 1e-4  # batch and rank agree to 1e-6
    result = invoke("batch", "--posts", batch_out["posts"], "--out", tmp / "segments", "--format", "segments", *rules)
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(tmp / "segments")
    assert list(table.columns) == ["user_id", "segtax", "segment_id", "interest", "score", "rank"]
    assert set(table["segtax"]) == {4}
    for user in users:
        rows = table[table["user_id"] == user["user_id"]]
        want = segment_rows(user, SEGMENTS, SegmentRules("acme", 0.05, 4))
        assert list(rows["segment_id"]) == [r["segment_id"] for r in want]
    again = invoke("batch", "--posts", batch_out["posts"], "--out", tmp / "users.jsonl", "--format", "openrtb")
    assert again.exit_code != 0 and "exists; pass --overwrite" in again.stderr
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")], "no staging folder is left behind"


def test_the_table_functions_agree_with_the_per_user_ones():
    frame = pd.DataFrame({"user_id": ["b", "a", "a", "b", "c"], "rank": [1, 2, 1, 2, 1],
                          "interest": ["Golf", "Golf", "Football", "Jewelry", "Golf"],
                          "score": [0.7, 0.4, 0.5, 0.2, 0.7]})
    table = segments_frame(frame, SEGMENTS)
    assert list(zip(table["user_id"], table["segment_id"], table["rank"])) == [
        ("a", "663", 1), ("a", "608", 1), ("a", "644", 2), ("b", "644", 1), ("c", "644", 1)]
    assert list(audience_frame(frame, "Golf", 0.5)["user_id"]) == ["b", "c"]
    assert list(audience_frame(frame, "Golf", top=2)["user_id"]) == ["b", "c"]


def _spark_or_skip():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problem = "pyspark is not installed (pip install 'interestkit[spark]')"
    else:
        problem = None if shutil.which("java") else "Java is not installed (Spark needs Java 17)"
    if problem and os.environ.get("INTERESTKIT_CI"):
        pytest.fail(f"CI must run the Spark tests: {problem}")
    if problem:
        pytest.skip(problem)


@pytest.mark.integration  # a JVM
@pytest.mark.xdist_group("spark")  # the JVM test_spark.py uses, with -n 2 --dist loadgroup
def test_spark_gives_the_same_audience_and_segments(batch_out, tmp_path):
    _spark_or_skip()
    from interestkit.app.audience import audience
    from interestkit.spark import audience as spark_audience
    from interestkit.spark import session

    local = audience(batch_out["rankings"], "Golf", min_score=0.01)
    on_spark = audience(batch_out["rankings"], "Golf", min_score=0.01, engine="spark")
    pd.testing.assert_frame_equal(local, on_spark)
    spark = session("local[2]", tmp_path / "logs")
    frame = spark.read.parquet(str(batch_out["rankings"]))
    rules = SegmentRules(max_segments=3)
    got = spark_audience.segments(frame, SEGMENTS, rules).toPandas().sort_values(["user_id", "rank", "segment_id"])
    want = segments_frame(pd.read_parquet(batch_out["rankings"]), SEGMENTS, rules)
    want = want.sort_values(["user_id", "rank", "segment_id"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    result = invoke("audience", "--rankings", batch_out["rankings"], "--interest", "Golff", "--engine", "spark")
    assert result.exit_code != 0 and "--interest 'Golff'" in result.stderr


def _with_consent(posts, tmp, value="true"):
    """The posts with an opted_out column: true on one post of user0001, false or absent elsewhere."""
    rows = [json.loads(line) for line in posts.read_text().splitlines()]
    for number, row in enumerate(rows):
        if row["user_id"] == "user0001" and number % 20 == 3:
            row["opted_out"] = value
        elif number % 3 == 0:
            row["opted_out"] = False
    path = posts.parent / "consent.jsonl"  # beside the media folder: photo paths resolve from there
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def test_opted_out_users_are_never_ranked_nor_emitted_locally(batch_out):
    register_fakes()
    tmp = batch_out["tmp"]
    path, rows = _with_consent(batch_out["posts"], tmp)
    assert any(r.get("opted_out") == "true" for r in rows)
    result = invoke("batch", "--posts", path, "--out", tmp / "consent-rankings")
    assert result.exit_code == 0, result.output
    users = set(pd.read_parquet(tmp / "consent-rankings")["user_id"])
    assert users == {f"user{k:04d}" for k in range(8)} - {"user0001"}
    result = invoke("batch", "--posts", path, "--out", tmp / "consent.jsonl", "--format", "openrtb")
    assert result.exit_code == 0, result.output
    assert "user0001" not in (tmp / "consent.jsonl").read_text()
    csv = path.with_suffix(".csv")
    pd.read_json(path, lines=True, dtype=False).to_csv(csv, index=False)
    result = invoke("batch", "--posts", csv, "--out", tmp / "consent-csv")
    assert result.exit_code == 0, result.output
    assert "user0001" not in set(pd.read_parquet(tmp / "consent-csv")["user_id"])
    bad, _ = _with_consent(batch_out["posts"], tmp, value="maybe")
    result = invoke("batch", "--posts", bad, "--out", tmp / "consent-bad")
    assert result.exit_code != 0 and "consent.jsonl:24: opted_out must be true or false" in result.stderr, result.output
    assert not (tmp / "consent-bad").exists()


@pytest.mark.integration  # a JVM
@pytest.mark.xdist_group("spark")  # the JVM test_spark.py uses, with -n 2 --dist loadgroup
def test_opted_out_users_are_never_ranked_on_spark_which_gives_the_segments_rank_gives(batch_out, tmp_path):
    _spark_or_skip()
    register_fakes()
    path, _ = _with_consent(batch_out["posts"], tmp_path)
    lines = {}
    for engine in ("local", "spark"):
        out = tmp_path / f"{engine}.jsonl"
        result = invoke("batch", "--posts", path, "--out", out, "--engine", engine, "--format", "openrtb")
        assert result.exit_code == 0, result.output
        lines[engine] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [u["id"] for u in lines["spark"]] == [f"user{k:04d}" for k in range(8) if k != 1]
    for local, spark in zip(lines["local"], lines["spark"], strict=True):
        assert local["id"] == spark["id"]
        got, want = spark["data"][0]["segment"], local["data"][0]["segment"]
        assert [s["id"] for s in got] == [s["id"] for s in want], local["id"]
        assert all(abs(float(a["value"]) - float(b["value"])) <= 1e-4 for a, b in zip(got, want))
