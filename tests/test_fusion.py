"""Fusion strategies on small hand-computed examples."""

import pytest

from interestkit.errors import ConfigError
from interestkit_plugins import fusion
from interestkit.ranking.order import order as ranking
from interestkit_plugins.fusion import LearnedFusion, RankVoteFusion, ScoreSumFusion, WeightedFusion

# The running example. D is known to the image model only, A and C to the text model only.
#   text:  A .5, B .3, C .2
#   image: B .6, D .4
BOTH = {"text": {"A": 0.5, "B": 0.3, "C": 0.2}, "image": {"B": 0.6, "D": 0.4}}
IMAGE_ONLY = {"image": {"B": 0.6, "D": 0.4}}
ALL = [ScoreSumFusion, RankVoteFusion, WeightedFusion, LearnedFusion]


def approx(d):
    return pytest.approx(d, abs=1e-12)


def test_hook_registers_the_four_fusions():
    found = {}
    fusion.register_fusions(register=lambda name, cls: found.setdefault(name, cls))
    assert found == {"score_sum": ScoreSumFusion, "rank_vote": RankVoteFusion, "weighted": WeightedFusion,
                     "learned": LearnedFusion}


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("scores", [{}, {"text": {}}, {"text": {}, "image": {}}])
def test_empty_input_gives_empty_output(cls, scores):
    assert cls().fuse(scores) == {}


@pytest.mark.parametrize("cls", ALL)
def test_output_covers_the_union_of_interests(cls):
    assert list(cls().fuse(BOTH)) == ["A", "B", "C", "D"]


@pytest.mark.parametrize("cls", ALL)
def test_single_modality_user_is_ranked_by_that_modality(cls):
    assert ranking(cls().fuse(IMAGE_ONLY)) == ["B", "D"]
    assert ranking(cls().fuse({"text": BOTH["text"]})) == ["A", "B", "C"]


def test_ranking_breaks_ties_by_name():
    assert ranking({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


# --- score_sum ----------------------------------------------------------------


def test_score_sum():
    # A .5 | B .3 + .6 = .9 | C .2 | D .4 (image only)
    assert ScoreSumFusion().fuse(BOTH) == approx({"A": 0.5, "B": 0.9, "C": 0.2, "D": 0.4})


def test_score_sum_normalize():
    # image sums to .4: B .3/.4 = .75, D .1/.4 = .25; text sums to 1, unchanged
    scores = {"text": {"A": 0.5, "B": 0.3, "C": 0.2}, "image": {"B": 0.3, "D": 0.1}}
    assert ScoreSumFusion().fuse(scores) == approx({"A": 0.5, "B": 0.6, "C": 0.2, "D": 0.1})
    assert ScoreSumFusion(normalize=True).fuse(scores) == approx({"A": 0.5, "B": 1.05, "C": 0.2, "D": 0.25})
    # a modality summing to 0 is left as it is
    assert ScoreSumFusion(normalize=True).fuse({"text": {"A": 0.0}}) == {"A": 0.0}


def test_score_sum_rejects_bad_options():
    with pytest.raises(ConfigError, match="normalise"):
        ScoreSumFusion(normalise=True)
    with pytest.raises(ConfigError, match="normalize"):
        ScoreSumFusion(normalize="yes")


# --- rank_vote ----------------------------------------------------------------


def test_rank_vote_borda_points_and_tie_break():
    # text (n=3): A 3, B 2, C 1; image (n=2): B 2, D 1  ->  A 3, B 4, C 1, D 1
    # score sums: A .5, B .9, C .2, D .4; min .2, spread .7
    # tie term .001 * (S - .2) / .7: A .3/.7e3, B .001, C 0, D .2/.7e3
    fused = RankVoteFusion().fuse(BOTH)
    assert fused == approx({"A": 3 + 0.0003 / 0.7, "B": 4.001, "C": 1.0, "D": 1 + 0.0002 / 0.7})
    assert ranking(fused) == ["B", "A", "D", "C"]  # D beats C (1 point each) on score sum


def test_rank_vote_points_outweigh_score_sum():
    # text (n=2): A 2, B 1; image (n=3): B 3, C 2, A 1  ->  A 3, B 4, C 2
    # sums: A 1.0, B .4, C .2: A has the largest sum but B has more points
    scores = {"text": {"A": 0.9, "B": 0.1}, "image": {"B": 0.3, "C": 0.2, "A": 0.1}}
    fused = RankVoteFusion().fuse(scores)
    assert fused == approx({"A": 3.001, "B": 4 + 0.001 * 0.2 / 0.8, "C": 2.0})
    assert ranking(fused) == ["B", "A", "C"]


def test_rank_vote_tied_scores_share_points():
    # A and B tie for ranks 0 and 1 of 3: points (3 + 2) / 2 = 2.5 each; C gets 1
    # sums .4, .4, .2 -> tie term .001 for A and B, 0 for C
    fused = RankVoteFusion().fuse({"text": {"A": 0.4, "B": 0.4, "C": 0.2}})
    assert fused == approx({"A": 2.501, "B": 2.501, "C": 1.0})
    assert ranking(fused) == ["A", "B", "C"]
    # all tied: (3 + 2 + 1) / 3 = 2 points each, equal sums add nothing
    assert RankVoteFusion().fuse({"image": {"A": 0.1, "B": 0.1, "C": 0.1}}) == {"A": 2.0, "B": 2.0, "C": 2.0}


# --- weighted -----------------------------------------------------------------


def test_weighted_default_and_custom_weights():
    # .5/.5: A .25, B .15 + .3 = .45, C .1, D .2
    assert WeightedFusion().fuse(BOTH) == approx({"A": 0.25, "B": 0.45, "C": 0.1, "D": 0.2})
    # .2/.8: A .1, B .06 + .48 = .54, C .04, D .32
    fused = WeightedFusion(weights={"text": 0.2, "image": 0.8}).fuse(BOTH)
    assert fused == approx({"A": 0.1, "B": 0.54, "C": 0.04, "D": 0.32})


def test_weighted_zero_or_missing_weight():
    # image weight 0 (explicit or missing): image adds nothing, D stays in the union at 0
    expected = {"A": 0.5, "B": 0.3, "C": 0.2, "D": 0.0}
    assert WeightedFusion(weights={"text": 1.0, "image": 0.0}).fuse(BOTH) == approx(expected)
    assert WeightedFusion(weights={"text": 1}).fuse(BOTH) == approx(expected)
    # the only present modality has weight 0: fall back to its own scores
    assert WeightedFusion(weights={"text": 1.0, "image": 0.0}).fuse(IMAGE_ONLY) == approx({"B": 0.6, "D": 0.4})


def test_weighted_rejects_bad_weights():
    with pytest.raises(ConfigError, match="weights"):
        WeightedFusion(weights=[0.5, 0.5])
    with pytest.raises(ConfigError, match="image"):
        WeightedFusion(weights={"text": 0.5, "image": -1})
    with pytest.raises(ConfigError, match="text"):
        WeightedFusion(weights={"text": "high"})


# Two users on whom the text model is misleading.
#   u1: text X .9, Y .1; image X .2, Y .8; truth Y.
#       Y > X  <=>  .1w + .8(1-w) > .9w + .2(1-w)  <=>  .6 > 1.4w  <=>  w_text < .4286
#   u2: text P .6, Q .4; image P .3, Q .7; truth Q.
#       Q > P  <=>  .4 > .6w  <=>  w_text < .667
# MRR is 1 for w_text in 0 .. .40 and drops at .45 (u1 ranks Y second);
# of the best weights, .40 is the closest to .5.
IMAGE_RIGHT = [
    ({"text": {"X": 0.9, "Y": 0.1}, "image": {"X": 0.2, "Y": 0.8}}, "Y"),
    ({"text": {"P": 0.6, "Q": 0.4}, "image": {"P": 0.3, "Q": 0.7}}, "Q"),
]


def test_weighted_fit_recovers_the_better_weight():
    fused = WeightedFusion()
    assert ranking(fused.fuse(IMAGE_RIGHT[0][0]))[0] == "X"  # 0.5/0.5 gets u1 wrong
    fused.fit(IMAGE_RIGHT)
    assert fused.params() == {"weights": {"text": 0.4, "image": 0.6}}
    assert fused.options["weights"] == {"text": 0.4, "image": 0.6}
    assert fused.fit_mrr == 1.0
    assert ranking(fused.fuse(IMAGE_RIGHT[0][0]))[0] == "Y"


def test_weighted_fit_mirrored_prefers_text():
    # swap the modalities: now w_image < .4286, i.e. w_text >= .60 works; .60 is closest to .5
    mirrored = [({"text": s["image"], "image": s["text"]}, truth) for s, truth in IMAGE_RIGHT]
    fused = WeightedFusion()
    fused.fit(mirrored)
    assert fused.params() == {"weights": {"text": 0.6, "image": 0.4}}


def test_weighted_fit_ties_keep_equal_weights():
    # both modalities agree: every weight has MRR 1, keep .5/.5
    fused = WeightedFusion(weights={"text": 0.9, "image": 0.1})
    fused.fit([({"text": {"A": 0.9, "B": 0.1}, "image": {"A": 0.8, "B": 0.2}}, "A")])
    assert fused.params() == {"weights": {"text": 0.5, "image": 0.5}}


def test_weighted_fit_without_examples_keeps_weights():
    fused = WeightedFusion(weights={"text": 0.3, "image": 0.7})
    fused.fit([])
    assert fused.params() == {"weights": {"text": 0.3, "image": 0.7}}


def test_weighted_fit_with_a_third_modality():
    # fused B - A = (.1 + .9 wa) - .9 (1 - wa) > 0  <=>  wa > .444, so wa >= .45
    # closest to (1/3, 1/3, 1/3): wa = .45, text + image = .55 -> .25/.30 or .30/.25
    # (equally close); the smaller text weight is kept
    examples = [({"text": {"A": 0.9, "B": 0.1}, "image": {"A": 0.9, "B": 0.1}, "audio": {"A": 0.0, "B": 1.0}}, "B")]
    fused = WeightedFusion()
    fused.fit(examples)
    assert fused.params() == {"weights": {"text": 0.25, "image": 0.3, "audio": 0.45}}
