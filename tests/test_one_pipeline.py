"""The same posts with the same options give the same answer through every entry point."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from interestkit.cli import cli
from support import ADS, register_fakes, serving, small_workspace

TOLERANCE = 1e-6


def cli_json(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def interests_of(users):
    """{user_id: [(interest, rank, score), ...]} from a list of user answers."""
    return {u["user_id"]: [(i["interest"], i["rank"], i["score"]) for i in u["interests"]] for u in users}


def assert_same(expected, actual, where):
    assert expected.keys() == actual.keys(), where
    for user, rows in expected.items():
        got = actual[user]
        assert [(i, r) for i, r, _ in rows] == [(i, r) for i, r, _ in got], f"{where}: {user}"
        for (_, _, a), (_, _, b) in zip(rows, got):
            assert abs(a - b) <= TOLERANCE, f"{where}: {user} scores {a} and {b}"


@pytest.fixture
def workspace(tmp_path):
    paths = small_workspace(tmp_path / "ws")
    (tmp_path / "ads.yaml").write_text(ADS)
    return {**paths, "ads": tmp_path / "ads.yaml", "uris": register_fakes()}


@pytest.mark.parametrize("fusion, options", [
    ("score_sum", []),
    ("rank_vote", ["--last", "12", "--aggregation", "mean_log"]),
    ("weighted", ["--half-life", "3", "--no-calibration", "--top-k", "3"]),
])
def test_rank_recommend_hybrid_and_serve_agree(workspace, fusion, options):
    import mlflow

    from interestkit import tracking
    from interestkit.serve.service import InterestService

    posts = str(workspace["posts"])
    weights = []
    if fusion == "weighted":  # fitted parameters travel through MLflow to every entry point
        fit = CliRunner().invoke(cli, ["fusion", "fit", "--posts", posts, "--labels", str(workspace["labels"])],
                                 catch_exceptions=False)
        weights = ["--fusion-weights", fit.stdout.splitlines()[1]]
    ranked = interests_of(cli_json("rank", "--posts", posts, "--fusion", fusion, *weights, *options, "--format", "json"))
    recommended = cli_json("recommend", "--posts", posts, "--ads", str(workspace["ads"]), "--fusion", fusion,
                           *weights, *options, "--format", "json")
    assert_same(ranked, interests_of(recommended), "recommend")
    assert any(u["ads"] for u in recommended)

    built = CliRunner().invoke(cli, ["models", "build-hybrid", "--fusion", fusion, *weights, *options,
                                     "--ads", str(workspace["ads"]), "--media-root", str(workspace["posts"].parent)],
                               catch_exceptions=False)
    assert built.exit_code == 0, built.output
    records = [json.loads(line) for line in workspace["posts"].read_text().splitlines()]
    tracking.configure()
    hybrid = mlflow.pyfunc.load_model("models:/interestkit-hybrid@champion")
    out = hybrid.predict(pd.DataFrame(records))
    from_hybrid = {row.user_id: [(i["interest"], i["rank"], i["score"]) for i in json.loads(row.interests)]
                   for row in out.itertuples()}
    assert_same(ranked, from_hybrid, "hybrid pyfunc")

    service = InterestService(lambda: tracking.load_hybrid(), workspace["posts"].parent / "serving.db")
    with serving(service) as url:
        from support import http

        status, body = http("POST", f"{url}/rank", records)
    assert status == 200, body
    assert_same(ranked, interests_of(body["users"]), "serve POST /rank")
