"""Ranking and classification metrics on hand-computed examples."""

import math

import numpy as np
import pytest

from interestkit.modeling.metrics import confusion_matrix, top_k_accuracy
from interestkit.ranking.metrics import evaluate_rankings, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank

# Four users, primary interest A for all (ranks are 0-based):
#   u1: A at rank 0    hit@1 1, hit@3 1, hit@5 1, RR 1,   nDCG@5 1/log2(2) = 1
#   u2: A at rank 2    hit@1 0, hit@3 1, hit@5 1, RR 1/3, nDCG@5 1/log2(4) = .5
#   u3: A at rank 5    hit@1 0, hit@3 0, hit@5 0, RR 1/6, nDCG@5 0
#   u4: no ranking     counts as a miss everywhere
# Means: hit@1 1/4, hit@3 2/4, hit@5 2/4, MRR (1 + 1/3 + 1/6 + 0)/4 = .375,
#        nDCG@5 (1 + .5)/4 = .375
# Other interests: u1 {B, Z} -> {A, B, Z}, top 5 holds A, B: 2/3
#                  u2 {D}    -> {A, D}, both in the top 5: 1
#                  u3 none   -> {A}: 0;  u4 {C} -> {A, C}: 0
# recall@5 = (2/3 + 1 + 0 + 0)/4 = 5/12
RANKINGS = {
    "u1": ["A", "B", "C", "D", "E", "F"],
    "u2": ["B", "C", "A", "D", "E"],
    "u3": ["B", "C", "D", "E", "F", "A"],
}
PRIMARY = {"u1": "A", "u2": "A", "u3": "A", "u4": "A"}
OTHERS = {"u1": {"B", "Z"}, "u2": {"D"}, "u4": {"C"}}


def test_single_ranking_metrics():
    r = RANKINGS["u2"]
    assert [hit_at_k(r, "A", k) for k in (1, 2, 3)] == [0.0, 0.0, 1.0]
    assert reciprocal_rank(r, "A") == pytest.approx(1 / 3)
    assert reciprocal_rank(r, "Q") == 0.0
    assert ndcg_at_k(r, "A", 5) == pytest.approx(0.5)
    assert ndcg_at_k(r, "C", 5) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(r, "A", 2) == 0.0
    assert ndcg_at_k(r, "B", 1) == 1.0
    assert recall_at_k(r, {"A", "D", "Z"}, 3) == pytest.approx(1 / 3)
    assert recall_at_k(r, set(), 3) is None
    assert hit_at_k([], "A", 5) == 0.0


def test_evaluate_rankings():
    result = evaluate_rankings(RANKINGS, PRIMARY, OTHERS, k=5, bootstrap=200, seed=0)
    assert result["users"] == 4
    assert result["missing"] == 1
    assert result["hit_at_1"] == pytest.approx(0.25)
    assert result["hit_at_3"] == pytest.approx(0.5)
    assert result["hit_at_5"] == pytest.approx(0.5)
    assert result["mrr"] == pytest.approx(0.375)
    assert result["ndcg_at_5"] == pytest.approx(0.375)
    assert result["recall_at_5"] == pytest.approx(5 / 12)


def test_recall_is_none_without_other_interests():
    assert evaluate_rankings(RANKINGS, PRIMARY, None, bootstrap=0)["recall_at_5"] is None
    assert evaluate_rankings(RANKINGS, PRIMARY, {"u1": set()}, bootstrap=0)["recall_at_5"] is None


def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    first = evaluate_rankings(RANKINGS, PRIMARY, OTHERS, bootstrap=500, seed=7)
    shuffled = dict(reversed(RANKINGS.items())), dict(reversed(PRIMARY.items()))
    assert evaluate_rankings(*shuffled, OTHERS, bootstrap=500, seed=7) == first  # dict order does not matter
    for key in ("hit_at_1", "hit_at_5"):
        low, high = first[f"{key}_ci"]
        assert 0.0 <= low <= first[key] <= high <= 1.0
    assert evaluate_rankings(RANKINGS, PRIMARY, bootstrap=0)["hit_at_1_ci"] is None


def test_all_hits_give_a_degenerate_ci():
    rankings = {u: ["A", "B"] for u in ("a", "b", "c")}
    result = evaluate_rankings(rankings, {u: "A" for u in rankings}, bootstrap=100)
    assert result["hit_at_1"] == 1.0
    assert result["hit_at_1_ci"] == (1.0, 1.0)
    assert result["hit_at_5_ci"] == (1.0, 1.0)


def test_other_k_and_no_users():
    result = evaluate_rankings(RANKINGS, PRIMARY, k=2, bootstrap=10)
    assert result["hit_at_2"] == pytest.approx(0.25)  # only u1
    assert result["ndcg_at_2"] == pytest.approx(0.25)
    assert "hit_at_2_ci" in result
    empty = evaluate_rankings({}, {})
    assert empty["users"] == 0
    assert empty["hit_at_1"] is None and empty["mrr"] is None and empty["hit_at_5_ci"] is None


def test_top_k_accuracy():
    # row 0: order 1, 2, 0 -> label 2 at rank 1
    # row 1: order 0, 2, 1 -> label 0 at rank 0
    # row 2: order 2, 0, 1 (0 and 1 tie; lower index first) -> label 1 at rank 2
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6]])
    y = np.array([2, 0, 1])
    assert top_k_accuracy(probs, y, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(probs, y, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(probs, y, 3) == 1.0
    assert top_k_accuracy(np.zeros((0, 3)), np.zeros(0), 1) is None


def test_confusion_matrix():
    matrix = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert matrix.dtype.kind == "i"
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 3)
