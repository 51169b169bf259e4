"""``rank``, ``evaluate``, ``fusion fit`` and ``demo`` end to end, on small trained models.

Training happens once per module: the ``demo_store`` fixture first registers a tiny
text model (so a champion already exists), then runs ``interestkit demo``, which
trains a text and an image model on its synthetic workspace, ranks and evaluates.
The demo must use its own models, not the older champion; afterwards the fixture
makes the demo's models the champions so the other tests can use the default URIs.
Tests that use that store point ``INTERESTKIT_REGISTRY`` at it with ``use_store``.
"""

import json
import re
import shutil
import time

import pytest
from click.testing import CliRunner

from conftest import require_shared, write_captions
from interestkit.cli import cli

MODES = {"text", "image", "fused"}
METRICS = {"users", "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5", "hit_at_1_ci", "hit_at_5_ci"}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def mlflow_client():
    from mlflow import MlflowClient

    from interestkit import tracking

    tracking.configure()
    return MlflowClient()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """(demo result, seconds, workspace folder, store folder, cache folder)."""
    from interestkit import plugins

    root = tmp_path_factory.mktemp("demo")
    store, cache = root / "registry", root / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTERESTKIT_REGISTRY", str(store))
        patch.setenv("INTERESTKIT_CACHE_DIR", str(cache))
        plugins.reset()
        older = invoke("train", "--plugin", "gru", "--data", write_captions(root / "older.tsv", per_label=6),
                       "--epochs", "1")
        assert "version 1 (alias champion)" in older.output, older.output
        started = time.perf_counter()
        result = invoke("demo", "--dir", root / "workspace")
        seconds = time.perf_counter() - started
        if result.exit_code == 0:
            client = mlflow_client()
            for name in ("interestkit-text", "interestkit-image"):
                latest = max(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
                client.set_registered_model_alias(name, "champion", str(latest))
    return result, seconds, root / "workspace" / "users", store, cache


@pytest.fixture
def use_store(demo_store, monkeypatch):
    """Point the store and the feature cache at the module's trained ones; yield the users folder."""
    result, _, users, store, cache = demo_store
    assert result.exit_code == 0, result.output[-3000:]
    monkeypatch.setenv("INTERESTKIT_REGISTRY", str(store))
    monkeypatch.setenv("INTERESTKIT_CACHE_DIR", str(cache))
    yield users
    weights = store / "fusion" / "weighted.json"
    weights.unlink(missing_ok=True)  # tests do not see each other's fitted weights


def table_rows(output: str) -> dict:
    """{mode: [numbers...]} from an evaluation table in ``output``."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[1].isdigit() and re.fullmatch(r"[\d.]+", parts[2]):
            rows[parts[0]] = parts[1:]
    return rows


@pytest.mark.slow
def test_demo_runs_end_to_end(demo_store):
    result, seconds, users, _, _ = demo_store
    assert result.exit_code == 0, result.output[-3000:]
    out = result.output
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert step in out
    # a champion existed before: the demo still used (and names) the versions it trained
    assert "models:/interestkit-text/2" in out and "models:/interestkit-image/1" in out
    assert "Top 3 interests of the first 4 of 36 demo users" in out
    rows = table_rows(out)
    assert set(rows) == MODES | {"score_sum", "rank_vote", "weighted"}
    hit5 = {mode: float(values[3]) for mode, values in rows.items()}
    assert hit5["fused"] >= 0.8  # measured 0.97 with the demo's sizes
    assert min(hit5.values()) < 1.0  # not trivially perfect everywhere
    assert "interestkit ui" in out and "interestkit evaluate --posts posts.jsonl" in out
    assert seconds < 180


def test_rank_formats(use_store):
    posts = use_store / "posts.jsonl"
    result = invoke("rank", "--posts", posts, "--top-k", "3")
    assert result.exit_code == 0, result.output
    assert re.search(r"^user0000\s+1\s+\w+\s+0\.\d{4}\s+user0000-p\d\d", result.output, re.M)
    assert "fusion weighted" not in result.output

    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--format", "json", "--last", "25", "--top-k", "2"])
    assert result.exit_code == 0, result.output
    users = json.loads(result.stdout)
    assert len(users) == 36
    first = users[0]
    assert set(first) == {"user_id", "interests", "posts_used", "warnings"}
    assert [i["rank"] for i in first["interests"]] == [1, 2]
    assert set(first["interests"][0]) == {"interest", "score", "rank", "posts"}
    assert first["interests"][0]["score"] >= first["interests"][1]["score"]
    assert all(p.startswith(first["user_id"] + "-") for i in first["interests"] for p in i["posts"])
    assert first["posts_used"] == 20 and "only 20 posts" in first["warnings"][0]  # kept, with a warning

    # image mode does not need (or load) the text model
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--mode", "image", "--format", "csv",
                                      "--text-model", "models:/no-such-model/1", "--last", "5"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "user_id,rank,interest,score,posts" and len(lines) == 1 + 36 * 5
    assert lines[1].startswith("user0000,1,")


def test_unreadable_photo_is_skipped_with_a_warning(use_store, tmp_path):
    (tmp_path / "media").mkdir()
    shutil.copy(sorted((use_store / "media").iterdir())[0], tmp_path / "media" / "good.png")
    (tmp_path / "media" / "broken.png").write_bytes(b"not a png")
    rows = [{"user_id": "u1", "post_id": "a", "text": None, "image": "media/good.png"},
            {"user_id": "u1", "post_id": "b", "text": "golf swing on the green", "image": "media/broken.png"}]
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--format", "json"])
    assert result.exit_code == 0, result.output
    (user,) = json.loads(result.stdout)
    assert user["posts_used"] == 2 and len(user["interests"]) == 5
    assert any(w.startswith("photo of post b skipped: ") for w in user["warnings"])
    assert "only 2 posts" in user["warnings"][0]


def test_evaluate_json_fusion_all_and_its_mlflow_run(use_store):
    result = CliRunner().invoke(cli, ["evaluate", "--posts", str(use_store / "posts.jsonl"),
                                      "--labels", str(use_store / "labels.tsv"), "--fusion", "all", "--format", "json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)  # one JSON object, nothing else on stdout
    assert set(table) == MODES | {"score_sum", "rank_vote", "weighted"}
    for row in table.values():
        assert set(row) == METRICS and row["users"] == 36
        for key in METRICS - {"users", "hit_at_1_ci", "hit_at_5_ci"}:
            assert 0.0 <= row[key] <= 1.0
        assert row["hit_at_1_ci"][0] <= row["hit_at_1"] <= row["hit_at_1_ci"][1]
    assert table["fused"] == table["score_sum"]  # the default fusion

    run_id = re.search(r"logged to MLflow run (\w+)", result.output).group(1)
    client = mlflow_client()
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "interestkit-evaluation"
    assert run.data.metrics["fused.hit_at_5"] == pytest.approx(table["fused"]["hit_at_5"])
    assert run.data.params["text_model"] == "models:/interestkit-text@champion"
    assert run.data.params["text_model_version"] == "2" and run.data.params["fusion"] == "all"
    assert run.data.params["last"] == "20" and run.data.params["aggregation"] == "mean"
    logged = json.loads(open(client.download_artifacts(run_id, "evaluation.json")).read())
    assert logged == table


def test_fusion_fit_then_rank_reuses_the_weights(use_store, demo_store, tmp_path):
    posts, labels = use_store / "posts.jsonl", use_store / "labels.tsv"
    before = invoke("rank", "--posts", posts, "--fusion", "weighted", "--last", "3")
    assert before.exit_code == 0 and "no fitted weights" in before.output

    fitted = invoke("fusion", "fit", "--posts", posts, "--labels", labels)
    assert fitted.exit_code == 0, fitted.output
    saved = json.loads((demo_store[3] / "fusion" / "weighted.json").read_text())
    weights = saved["params"]["weights"]
    assert set(weights) == {"text", "image"} and sum(weights.values()) == pytest.approx(1.0)
    assert saved["users"] == 36 and saved["models"]["text"]["version"] == 2
    assert f"weighted fusion: text {weights['text']:.2f}, image {weights['image']:.2f}" in fitted.output

    after = invoke("rank", "--posts", posts, "--fusion", "weighted", "--last", "3")
    assert after.exit_code == 0
    assert f"using weights {weights} fitted by 'fusion fit'" in after.output

    out = tmp_path / "mine.yaml"
    other = invoke("fusion", "fit", "--posts", posts, "--labels", labels, "--out", out, "--aggregation", "votes")
    assert other.exit_code == 0 and out.is_file() and f"--fusion-weights {out}" in other.output


def test_evaluate_without_calibration(use_store):
    result = invoke("evaluate", "--posts", use_store / "posts.jsonl", "--labels", use_store / "labels.tsv",
                    "--mode", "fused", "--no-calibration", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "temperature 1.000" in result.output
    run_id = re.search(r"logged to MLflow run (\w+)", result.output).group(1)
    params = mlflow_client().get_run(run_id).data.params
    assert params["calibration"] == "False" and float(params["image_temperature"]) == 1.0


def test_missing_champion_is_a_clear_error(demo_store):
    # the per-test store is empty: no champion of either modality
    posts = demo_store[2] / "posts.jsonl"
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "text model: model 'models:/interestkit-text@champion' cannot be loaded" in error
    assert "train one with 'interestkit train'" in error and "--mode image" in error


def test_wrong_modality_and_bad_options(use_store):
    posts = use_store / "posts.jsonl"
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--mode", "text",
                                      "--text-model", "models:/interestkit-image/1"])
    assert result.exit_code == 2 and "is a model of image, but --text-model needs a text model" in result.output
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--fusion", "all"])
    assert result.exit_code == 2 and "only works with 'interestkit evaluate'" in result.output
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--fusion", "scoresum"])
    assert result.exit_code == 2 and "unknown fusion 'scoresum' (did you mean 'score_sum'" in result.output


@pytest.mark.realdata
@pytest.mark.slow
def test_real_users_fused_hit_at_5():
    """Real captions and photos: bilstm on 10,000 titles (3 epochs) and frozen Lite0 at 96 px
    on 1,200 photos, evaluated on the 40 real pseudo-users (their 20 most recent posts).

    Measured with these settings: fused hit@5 1.00 (95% CI 1.00-1.00), image 1.00, text
    0.63; with bilstm on 15,000 titles (4 epochs) and Lite0 at 128 px on every photo:
    fused 1.00, image 1.00, text 0.88 (the paper's Table 5: text 41%, image 93%, fused
    97% on 29 users). Floor 0.9 (at most 4 of 40 users missed) sits above what text alone
    reached in either setting, so it catches a fusion or image path that stopped
    contributing, without flaking on training noise.
    """
    captions = require_shared("text", "train.tsv")
    photos = require_shared("images", "train")
    users = require_shared("users")
    for data, plugin, extra in ((captions, "bilstm", ["--max-rows", "10000", "--epochs", "3"]),
                                (photos, "efficientnet_lite0", ["--max-rows", "1200", "--image-size", "96",
                                                                "--epochs", "30"])):
        trained = invoke("train", "--plugin", plugin, "--data", data, *extra)
        assert trained.exit_code == 0, trained.output[-2000:]
    result = CliRunner().invoke(cli, ["evaluate", "--posts", str(users / "posts.jsonl"),
                                      "--labels", str(users / "labels.tsv"), "--format", "json"])
    assert result.exit_code == 0, result.output[-2000:]
    table = json.loads(result.stdout)
    assert table["fused"]["users"] == 40
    assert table["fused"]["hit_at_5"] >= 0.9, table
