"""The ``learned`` fusion: temperatures and weights, cross-validated over users."""

import json
import math

import pytest
from click.testing import CliRunner

from interestkit import tracking
from interestkit.cli.main import cli
from interestkit.errors import ConfigError
from interestkit.testing import check_fusion
from interestkit_plugins.fusion import LearnedFusion, WeightedFusion
from support import register_fakes, small_workspace


def test_learned_fuse_applies_temperatures_then_weights():
    scores = {"text": {"A": 0.6, "B": 0.4}, "image": {"B": 0.8, "C": 0.2}}
    fused = LearnedFusion(weights={"text": 0.25, "image": 0.75}, temperatures={"text": 0.5, "image": 2.0}).fuse(scores)
    sharp_text = {"A": 0.36 / 0.52, "B": 0.16 / 0.52}  # s^(1/0.5), renormalised
    flat_image = {"B": math.sqrt(0.8) / (math.sqrt(0.8) + math.sqrt(0.2)),
                  "C": math.sqrt(0.2) / (math.sqrt(0.8) + math.sqrt(0.2))}
    expected = {"A": 0.25 * sharp_text["A"], "B": 0.25 * sharp_text["B"] + 0.75 * flat_image["B"],
                "C": 0.75 * flat_image["C"]}
    assert fused == pytest.approx(expected, abs=1e-12)
    # temperature 1 everywhere is the weighted fusion
    plain = LearnedFusion(weights={"text": 0.3, "image": 0.7})
    assert plain.fuse(scores) == pytest.approx(WeightedFusion(weights={"text": 0.3, "image": 0.7}).fuse(scores))


def test_learned_keeps_the_fusion_contract_and_rejects_bad_options():
    check_fusion(LearnedFusion)
    with pytest.raises(ConfigError, match="temperatures: value of 'text'"):
        LearnedFusion(temperatures={"text": 0})
    with pytest.raises(ConfigError, match="weights: value of 'image'"):
        LearnedFusion(weights={"image": -1})


def _users(n, informative="image"):
    """Users whose truth the ``informative`` modality ranks first; the other modality is noise."""
    examples = []
    for k in range(n):
        truth, other = ("A", "B") if k % 2 else ("B", "A")
        good = {truth: 0.55, other: 0.45}
        bad = {other: 0.9, truth: 0.1} if k % 3 else {truth: 0.6, other: 0.4}
        scores = {informative: good, ("text" if informative == "image" else "image"): bad}
        examples.append((scores, truth))
    return examples


def test_fit_learns_to_trust_the_informative_modality_and_reports_held_out_folds():
    fuser = LearnedFusion(folds=3)
    report = fuser.fit(_users(12))
    assert fuser.options["weights"]["image"] > fuser.options["weights"]["text"]
    assert report["mrr"] == 1.0 and report["hit_at_1"] == 1.0
    assert 0 <= report["cv_mrr"] <= 1 and report["cv_folds"] == 3
    # the refit on every user is what params() returns, in the form __init__ takes
    rebuilt = LearnedFusion(**fuser.params())
    assert rebuilt.params() == fuser.params()


def test_cv_scores_each_user_only_with_parameters_fitted_without_them():
    # two users who contradict each other: fitted on one, the other is ranked wrong, so the
    # held-out hit@1 is 0 while fitting on both gets one of them right
    one = ({"text": {"A": 0.1, "B": 0.9}, "image": {"A": 0.55, "B": 0.45}}, "A")
    two = ({"text": {"A": 0.55, "B": 0.45}, "image": {"A": 0.1, "B": 0.9}}, "A")
    report = LearnedFusion(folds=2).fit([one, two])
    assert report["cv_folds"] == 2
    assert report["cv_hit_at_1"] == 0.0 and report["cv_mrr"] == 0.5
    assert report["hit_at_1"] == 0.5 and report["mrr"] == 0.75


def test_fusion_fit_learned_logs_fusion_json_that_rank_reads(tmp_path):
    users = small_workspace(tmp_path, users=6)["posts"].parent
    register_fakes()
    posts, labels = users / "posts.jsonl", users / "labels.tsv"
    result = CliRunner().invoke(cli, ["fusion", "fit", "--posts", str(posts), "--labels", str(labels),
                                      "--fusion", "learned"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "cv_mrr" in result.output
    uri = next(line for line in result.output.splitlines() if line.startswith("runs:/"))
    document = tracking.load_fusion_document(uri)
    assert document["fusion"] == "learned" and set(document["params"]) == {"weights", "temperatures"}
    assert document["fitted_on"]["sha256"] and "cv_mrr" in document["fit"]
    ranked = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--fusion", "learned", "--fusion-weights", uri,
                                      "--format", "json"], catch_exceptions=False)
    assert ranked.exit_code == 0, ranked.output
    assert json.loads(ranked.stdout)[0]["interests"]
