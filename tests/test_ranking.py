"""Ranking on hand-made probabilities: fake models stand in for trained ones (fast, exact)."""

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from interestkit.errors import ConfigError, DataError
from interestkit.data.labels import UserLabel
from interestkit.data.posts import Post
from interestkit_plugins.fusion import RankVoteFusion, ScoreSumFusion, WeightedFusion
from interestkit.app.ranking import fusion_spec
from interestkit.ranking.aggregation import aggregate
from interestkit.ranking.evaluation import evaluate, fit_fusion
from interestkit.ranking.options import RankingOptions
from interestkit.ranking.order import combine, order
from interestkit.ranking.scoring import score_posts
from interestkit.ranking.users import UserLevel, from_scored, rank_user, recency_weights


def all_user_scores(posts, scored, method="mean", half_life_days=None):
    level = UserLevel(RankingOptions(aggregation=method, half_life_days=half_life_days, last=0), modalities=tuple(scored.scores))
    return {user: level.scores(user_posts) for user, user_posts in from_scored(posts, scored).items()}


def rank_users(posts, scored, mode="fused", fusion=None, top_k=5, last=0):
    """Every user's ranking through the one user-level function (users in order of first post)."""
    options = RankingOptions(mode=mode, top_k=top_k, last=last)
    return [rank_user(user, user_posts, options, fusion, modalities=tuple(scored.scores))
            for user, user_posts in from_scored(posts, scored).items()]


def rankings(scores_by_user, mode, fusion=None):
    return {user: order(combine(scores, mode, fusion)) for user, scores in scores_by_user.items()}

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_post(user, pid, text=None, image=None, day=None, line=0):
    created = T0 + timedelta(days=day) if day is not None else None
    return Post(user, pid, text, Path(image) if image else None, created, line)


class FakeTextModel:
    """Looks captions up in a table of probabilities; records each call."""

    modality = "text"

    def __init__(self, labels, table):
        self.labels, self.table, self.calls = list(labels), table, []

    def predict_texts(self, texts, calibrated=True):
        self.calls.append(list(texts))
        return np.array([self.table[text] for text in texts], dtype=np.float32)


class FakeImageModel:
    """Looks photos up by file name; names containing 'broken' fail like unreadable files."""

    modality = "image"

    def __init__(self, labels, table):
        self.labels, self.table, self.calls = list(labels), table, []

    def predict_images(self, sources, cache=None, on_error="skip", log=None, calibrated=True):
        self.calls.append((list(sources), cache, on_error))
        kept = [i for i, s in enumerate(sources) if "broken" not in Path(s).name]
        failures = [(s, f"{s}: not an image") for s in sources if "broken" in Path(s).name]
        probs = np.array([self.table[Path(sources[i]).name] for i in kept], dtype=np.float32).reshape(len(kept), -1)
        return probs, kept, failures


# text knows Golf, Pets; image knows Pets, Travel: scores live on the union
TEXT = FakeTextModel(["Golf", "Pets"], {"golf!": [0.9, 0.1], "dog": [0.2, 0.8], "meh": [0.5, 0.5]})
IMAGE = FakeImageModel(["Pets", "Travel"], {"dog.png": [0.7, 0.3], "beach.png": [0.1, 0.9]})


def posts_fixture():
    return [
        make_post("u1", "p1", text="golf!", image="media/dog.png", day=0, line=1),
        make_post("u1", "p2", text="dog", day=10, line=2),
        make_post("u1", "p3", image="media/beach.png", day=20, line=3),
        make_post("u2", "q1", text="meh", day=1, line=4),  # u2 has captions only
        make_post("u3", "r1", image="media/broken.png", text="dog", day=2, line=5),
    ]


@pytest.fixture
def models():
    TEXT.calls.clear()
    IMAGE.calls.clear()
    return {"text": TEXT, "image": IMAGE}


def test_scores_are_batched_and_live_on_the_union_of_labels(models):
    cache = object()
    scored = score_posts(posts_fixture(), models, cache=cache)
    assert TEXT.calls == [["golf!", "dog", "meh", "dog"]]  # one call for every caption
    assert len(IMAGE.calls) == 1 and IMAGE.calls[0][1] is cache  # one call, with the cache
    assert scored.scores["text"]["p1"] == pytest.approx({"Golf": 0.9, "Pets": 0.1})
    assert "Travel" not in scored.scores["text"]["p1"]  # unknown to text: absent, not 0
    assert scored.scores["image"]["p1"] == pytest.approx({"Pets": 0.7, "Travel": 0.3})
    assert "Golf" not in scored.scores["image"]["p1"]
    assert set(scored.scores["image"]) == {"p1", "p3"}
    assert list(scored.failures) == ["r1"] and "not an image" in scored.failures["r1"]

    users = all_user_scores(posts_fixture(), scored)
    u1 = users["u1"]
    assert u1["text"] == pytest.approx({"Golf": (0.9 + 0.2) / 2, "Pets": (0.1 + 0.8) / 2})
    assert u1["image"] == pytest.approx({"Pets": (0.7 + 0.1) / 2, "Travel": (0.3 + 0.9) / 2})
    fused = combine(u1, "fused", ScoreSumFusion())
    assert fused == pytest.approx({"Golf": 0.55, "Pets": 0.45 + 0.4, "Travel": 0.6})
    assert rankings(users, "fused", ScoreSumFusion())["u1"] == ["Pets", "Travel", "Golf"]


def test_one_modality_users_and_warnings(models):
    posts = posts_fixture()
    scored = score_posts(posts, models)
    fused = {u.user_id: u for u in rank_users(posts, scored, "fused", ScoreSumFusion(), top_k=2)}
    # u2 has captions only: ranked by text alone (Golf and Pets tie at 0.5: by name)
    assert [i.interest for i in fused["u2"].interests] == ["Golf", "Pets"]
    assert fused["u2"].interests[0].score == pytest.approx(0.5)
    assert fused["u2"].warnings == ["no photos to score: ranked by text only"]
    # u3's only photo is unreadable: the caption still counts, and the user is told
    assert fused["u3"].posts_used == 1 and [i.interest for i in fused["u3"].interests] == ["Pets", "Golf"]
    assert fused["u3"].skipped == [{"post_id": "r1", "reason": "not an image"}]  # reported, never dropped
    images = {u.user_id: u for u in rank_users(posts, scored, "image", top_k=5)}
    assert images["u2"].interests == [] and images["u2"].posts_used == 0
    assert "no photos to score: not ranked in image mode" in images["u2"].warnings
    assert [i.interest for i in images["u1"].interests] == ["Travel", "Pets"]  # image knows two interests


def test_top_k_ranks_and_contributing_posts(models):
    posts = posts_fixture()
    scored = score_posts(posts, models)
    (u1, *_) = rank_users(posts, scored, "fused", ScoreSumFusion(), top_k=2, last=20)
    assert [(i.rank, i.interest) for i in u1.interests] == [(1, "Pets"), (2, "Travel")]
    assert u1.order == ["Pets", "Travel", "Golf"] and u1.posts_used == 3
    # Pets: p2 0.8 (text), p1 0.1 + 0.7 = 0.8 (tie: more recent first), p3 0.1
    assert u1.interests[0].posts == ["p2", "p1", "p3"]
    assert u1.interests[1].posts == ["p3", "p1"]  # p2 has no photo and text does not know Travel
    assert u1.warnings == ["only 3 posts (fewer than the last 20 asked for); all were used"]
    as_dict = u1.as_dict()
    assert set(as_dict) == {"user_id", "interests", "ads", "posts_used", "window", "skipped", "warnings"}
    assert as_dict["window"] == ["p3", "p2", "p1"]  # most recent first
    assert as_dict["interests"][0] == {"interest": "Pets", "score": pytest.approx(0.85), "rank": 1,
                                       "posts": ["p2", "p1", "p3"]}
    text_only = rank_users(posts, scored, "text", top_k=1)[0]
    assert text_only.interests[0].interest == "Golf" and text_only.interests[0].posts == ["p1", "p2"]
    with pytest.raises(ConfigError, match="top_k: must be at least 1"):
        rank_users(posts, scored, "text", top_k=0)


# --- aggregation ---------------------------------------------------------------------------


POSTS_SCORES = [{"A": 0.6, "B": 0.3, "C": 0.1}, {"A": 0.2, "B": 0.7, "C": 0.1}, {"A": 0.5, "B": 0.5, "C": 0.0}]


def test_mean_aggregation():
    assert aggregate(POSTS_SCORES, [1, 1, 1], "mean") == pytest.approx({"A": 1.3 / 3, "B": 0.5, "C": 0.2 / 3})
    weighted = aggregate(POSTS_SCORES, [1, 2, 1], "mean")
    assert weighted == pytest.approx({"A": (0.6 + 0.4 + 0.5) / 4, "B": (0.3 + 1.4 + 0.5) / 4, "C": 0.3 / 4})
    assert aggregate([], [], "mean") == {}


def test_mean_log_is_a_normalised_geometric_mean():
    scores = aggregate(POSTS_SCORES[:2], [1, 1], "mean_log")
    geometric = {"A": math.sqrt(0.6 * 0.2), "B": math.sqrt(0.3 * 0.7), "C": 0.1}
    total = sum(geometric.values())
    assert scores == pytest.approx({k: v / total for k, v in geometric.items()})
    # a zero probability is clipped, not -inf: the interest gets a tiny score
    assert 0 < aggregate(POSTS_SCORES, [1, 1, 1], "mean_log")["C"] < 1e-3


def test_votes_count_top1_with_ties_by_name():
    # post 3 ties A and B at 0.5: the vote goes to A (first by name)
    assert aggregate(POSTS_SCORES, [1, 1, 1], "votes") == pytest.approx({"A": 2 / 3, "B": 1 / 3, "C": 0.0})
    assert aggregate(POSTS_SCORES, [1, 3, 0], "votes") == pytest.approx({"A": 0.25, "B": 0.75, "C": 0.0})


def test_unknown_aggregation():
    with pytest.raises(ConfigError, match="unknown aggregation 'median'; choose from: mean, mean_log, votes"):
        aggregate(POSTS_SCORES, [1, 1, 1], "median")


def test_recency_weights_halve_every_half_life():
    posts = [make_post("u1", "a", "x", day=0), make_post("u1", "b", "x", day=10), make_post("u1", "c", "x", day=20),
             make_post("u1", "d", "x", day=None),  # undated: as much as the oldest
             make_post("u2", "e", "x", day=3), make_post("u3", "f", "x")]
    users = from_scored(posts, score_posts([], {}))
    weights = {k: v for user_posts in users.values() for k, v in recency_weights(user_posts, 10).items()}
    assert weights == pytest.approx({"a": 0.25, "b": 0.5, "c": 1.0, "d": 0.25, "e": 1.0, "f": 1.0})
    assert recency_weights(users["u1"], None) == dict.fromkeys("abcd", 1.0)
    with pytest.raises(ConfigError, match="half-life must be a positive number"):
        recency_weights(users["u1"], half_life_days=0)


def test_recency_weighting_changes_the_ranking():
    # old posts say Golf, the newest says Pets
    table = {"old": [0.9, 0.1], "new": [0.2, 0.8]}
    model = FakeTextModel(["Golf", "Pets"], table)
    posts = [make_post("u1", "p1", "old", day=0), make_post("u1", "p2", "old", day=1), make_post("u1", "p3", "new", day=30)]
    scored = score_posts(posts, {"text": model})
    plain = all_user_scores(posts, scored)["u1"]["text"]
    assert plain == pytest.approx({"Golf": 2.0 / 3, "Pets": 1.0 / 3})
    recent = all_user_scores(posts, scored, half_life_days=7)["u1"]["text"]
    w = [0.5 ** (30 / 7), 0.5 ** (29 / 7), 1.0]
    assert recent["Pets"] == pytest.approx((0.1 * w[0] + 0.1 * w[1] + 0.8 * w[2]) / sum(w))
    assert rankings({"u1": {"text": recent}}, "text")["u1"] == ["Pets", "Golf"]


def test_modes_and_fusions():
    scores = {"text": {"A": 0.6, "B": 0.4}, "image": {"B": 0.5, "C": 0.5}}
    assert combine(scores, "text") == {"A": 0.6, "B": 0.4}
    assert combine(scores, "image") == {"B": 0.5, "C": 0.5}
    assert combine({"text": scores["text"]}, "image") == {}
    assert combine(scores, "fused", RankVoteFusion()) == pytest.approx(RankVoteFusion().fuse(scores))
    assert combine({"text": scores["text"], "image": {}}, "fused", WeightedFusion(weights={"text": 0, "image": 1})) \
        == pytest.approx({"A": 0.6, "B": 0.4})  # the user's only modality ranks them
    with pytest.raises(ConfigError, match="unknown mode 'both'"):
        combine(scores, "both")


# --- evaluation and fitted weights -------------------------------------------------------------


LABELS = {"u1": UserLabel("u1", "A", ("B",)), "u2": UserLabel("u2", "C"), "u3": UserLabel("u3", "B")}


def test_evaluate_shape_and_values():
    ranked = {"u1": ["A", "C", "B"], "u2": ["A", "B", "C", "D", "E", "F"], "u3": []}
    result = evaluate(ranked, LABELS, bootstrap=200)
    assert list(result) == ["users", "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5",
                            "hit_at_1_ci", "hit_at_5_ci"]
    assert result["users"] == 3
    assert result["hit_at_1"] == pytest.approx(1 / 3) and result["hit_at_3"] == pytest.approx(2 / 3)
    assert result["mrr"] == pytest.approx((1 + 1 / 3) / 3)
    assert result["ndcg_at_5"] == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert result["recall_at_5"] == pytest.approx((1 + 1 + 0) / 3)  # u3 (not ranked) is a miss
    low, high = result["hit_at_5_ci"]
    assert 0 <= low <= result["hit_at_5"] <= high <= 1
    no_others = {u: UserLabel(u, label.interest) for u, label in LABELS.items()}
    assert evaluate(ranked, no_others)["recall_at_5"] is None


def test_fitting_the_weighted_fusion_prefers_the_modality_that_is_right():
    scores = {
        "u1": {"text": {"A": 0.2, "B": 0.8}, "image": {"A": 0.7, "B": 0.3}},
        "u2": {"text": {"A": 0.9, "B": 0.1}, "image": {"A": 0.4, "B": 0.6}},
        "u3": {"text": {"A": 0.5, "B": 0.5}},
    }
    labels = {"u1": UserLabel("u1", "A"), "u2": UserLabel("u2", "B"), "u3": UserLabel("u3", "A"),
              "u4": UserLabel("u4", "A")}  # u4 has no scores: left out
    fusion = WeightedFusion()
    report, users = fit_fusion(fusion, scores, labels)
    assert users == 3 and fusion.params()["weights"]["image"] > 0.5
    assert report == {"mrr": pytest.approx(1.0)}
    with pytest.raises(DataError, match="nothing to fit"):
        fit_fusion(WeightedFusion(), {}, labels)


@pytest.mark.parametrize("name", ["weights.json", "weights.yaml"])
def test_fusion_parameters_from_a_file(tmp_path, name):
    path = tmp_path / name
    document = {"fusion": "weighted", "params": {"weights": {"text": 0.3, "image": 0.7}}}
    if name.endswith(".json"):
        path.write_text(json.dumps(document))
    else:
        import yaml

        path.write_text(yaml.safe_dump(document))
    spec = fusion_spec("weighted", str(path))
    assert spec.params == {"weights": {"text": 0.3, "image": 0.7}} and spec.source == str(path)
    with pytest.raises(ConfigError, match="not of 'score_sum'; pass --fusion weighted"):
        fusion_spec("score_sum", str(path))
    assert fusion_spec(None, str(path)).name == "weighted"  # --fusion all: the parameters' own fusion


def test_fusion_lookup_and_broken_parameter_files(tmp_path):
    from interestkit.errors import PluginError
    from interestkit.ranking.pipeline import RankingPipeline, FusionSpec

    assert fusion_spec("rank_vote").params == {}
    with pytest.raises(PluginError, match="unknown fusion 'scoresum' \\(did you mean 'score_sum'"):
        fusion_spec("scoresum")
    with pytest.raises(DataError, match="fusion parameters file not found"):
        fusion_spec("weighted", str(tmp_path / "none.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json: cannot read fusion parameters"):
        fusion_spec("weighted", str(broken))
    broken.write_text('{"weights": 1}')
    with pytest.raises(DataError, match="not a fitted fusion"):
        fusion_spec("weighted", str(broken))
    broken.write_text('{"fusion": "weighted", "params": {"weights": {"text": -1}}}')
    with pytest.raises(ConfigError, match="broken.json.*must be a finite non-negative number"):
        fusion_spec("weighted", str(broken))  # before any model loads
    with pytest.raises(ConfigError, match="broken.json.*must be a finite non-negative number"):
        RankingPipeline({"text": TEXT}, FusionSpec("weighted", {"weights": {"text": -1}}, str(broken)))
    assert RankingPipeline({"text": TEXT}, FusionSpec("weighted")).rankings({"u": {"text": {"Golf": 1.0}}}) \
        == {"u": ["Golf"]}


def test_the_user_level_is_plain_data_in_and_out_and_travels_pickled():
    """What Spark ships to its workers: a UserLevel ranks the same after a pickle round trip,
    and builds its fusion there (the built one stays behind)."""
    import pickle

    from interestkit.ranking.options import FusionSpec
    from interestkit.ranking.users import ScoredPost, UserLevel
    from interestkit.recommend import Ad

    posts = [ScoredPost("a", T0, 1, {"text": {"Golf": 0.9, "Pets": 0.1}, "image": {"Golf": 0.6, "Pets": 0.4}}),
             ScoredPost("b", T0 + timedelta(days=1), 2, {"text": {"Golf": 0.2, "Pets": 0.8}}, skipped="unreadable")]
    level = UserLevel(RankingOptions(top_k=2, half_life_days=1.0), FusionSpec("score_sum"),
                      (Ad("clubs", "Golf clubs", ("Golf",)),))
    before = level.rank("u1", posts)
    assert level.fuser is not None
    copy = pickle.loads(pickle.dumps(level))
    assert "fuser" not in copy.__dict__ and copy.rank("u1", posts) == before
    assert [i.interest for i in before.interests] == ["Golf", "Pets"] and before.ads[0]["ad_id"] == "clubs"
    assert before.window == ["b", "a"] and before.skipped == [{"post_id": "b", "reason": "unreadable"}]
