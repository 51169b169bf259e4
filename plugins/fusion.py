"""Built-in fusion strategies: ``score_sum``, ``rank_vote``, ``weighted`` and ``learned``.

Every fusion takes ``{modality: {interest: score}}`` (per-user, per-modality scores such
as mean probabilities) and returns ``{interest: fused score}`` over the union of the
interests of the present modalities, higher meaning more interested. Conventions shared
by all four:

* a modality absent from the input (the user has no posts of that kind) contributes
  nothing, so a user with a single modality is ranked by that modality alone;
* an interest a modality does not know contributes nothing from that modality;
* empty input (or only empty modalities) gives ``{}``;
* the output's keys are sorted by interest name, so the result is deterministic.

Ordering a fused dict into a ranking (best first, ties by name) is core's job:
``interestkit.ranking.order.order``.
"""

from __future__ import annotations

import itertools
import math
import random

from interestkit import Option, hookimpl
from interestkit.errors import ConfigError
from interestkit.interfaces import MODALITIES, Fusion
from interestkit.ranking.order import order


@hookimpl
def register_fusions(register):
    register("score_sum", ScoreSumFusion)
    register("rank_vote", RankVoteFusion)
    register("weighted", WeightedFusion)
    register("learned", LearnedFusion)


def _union(scores) -> list[str]:
    return sorted({interest for per_modality in scores.values() for interest in per_modality})


def _plain_sum(scores) -> dict[str, float]:
    """``sum_m s_m(i)`` over the union of interests (absent entries count as 0)."""
    return {i: float(sum(s.get(i, 0.0) for s in scores.values())) for i in _union(scores)}


class ScoreSumFusion(Fusion):
    """Sum of the modality scores: ``F(i) = sum_m s_m(i)``.

    An interest a modality does not know contributes 0 from that modality. With
    ``normalize: true`` each modality's scores are first divided by their sum,
    ``s_m(i) / sum_j s_m(j)``, so each modality carries the same total mass; a modality
    whose scores sum to 0 is left as it is.
    """

    description = "sum of the per-modality scores (optionally normalised per modality)"
    defaults = {"normalize": False}

    def fuse(self, scores):
        if self.options["normalize"]:
            scores = {m: _normalized(s) for m, s in scores.items()}
        return _plain_sum(scores)


def _normalized(per_modality: dict[str, float]) -> dict[str, float]:
    total = sum(per_modality.values())
    if total == 0:
        return dict(per_modality)
    return {i: v / total for i, v in per_modality.items()}


class RankVoteFusion(Fusion):
    """Borda count over the modalities, with the score sum as a tie-breaker.

    In modality ``m``, which scores ``n_m`` interests, the interest at 0-based rank ``r``
    (by descending score) gets ``n_m - r`` points; interests with equal scores share the
    average of the points of the ranks they occupy (e.g. two interests tied for the top
    of three get 2.5 each, the last gets 1). Interests the modality does not know get 0
    points from it. With ``P(i)`` the total points and ``S(i) = sum_m s_m(i)`` the summed
    raw scores:

        F(i) = P(i) + 0.001 * (S(i) - min S) / (max S - min S)

    (the second term is 0 when all ``S`` are equal). Point totals are multiples of 0.5,
    so the term, which lies in [0, 0.001], never reorders different totals: it only
    orders interests with equal points, by higher score sum. Interests equal in both stay
    equal; ``order`` then orders them by name.
    """

    description = "Borda count of the per-modality rankings, ties broken by score sum"
    defaults = {}

    TIE_WEIGHT = 0.001

    def fuse(self, scores):
        interests = _union(scores)
        if not interests:
            return {}
        points = dict.fromkeys(interests, 0.0)
        for per_modality in scores.values():
            for interest, value in _borda(per_modality).items():
                points[interest] += value
        sums = _plain_sum(scores)
        low, high = min(sums.values()), max(sums.values())
        spread = high - low
        if spread <= 0:
            return points
        return {i: points[i] + self.TIE_WEIGHT * (sums[i] - low) / spread for i in interests}


def _borda(per_modality: dict[str, float]) -> dict[str, float]:
    """``n - r`` points at 0-based rank ``r``; tied scores share the average of their points."""
    n = len(per_modality)
    ordered = sorted(per_modality.items(), key=lambda item: -item[1])
    points = {}
    rank = 0
    for _, group in itertools.groupby(ordered, key=lambda item: item[1]):
        group = list(group)
        # ranks rank..rank+k-1 hold points n-rank .. n-rank-k+1; their mean:
        shared = n - rank - (len(group) - 1) / 2
        for interest, _ in group:
            points[interest] = shared
        rank += len(group)
    return points


class WeightedFusion(Fusion):
    """Weighted score sum: ``F(i) = sum_m w_m * s_m(i)``.

    ``weights`` maps modality to a non-negative weight (default text 0.5, image 0.5); a
    modality without a weight gets 0, and an absent modality contributes nothing. When
    every present modality has weight 0 (e.g. an image-only user with ``image: 0``) the
    plain sum ``sum_m s_m(i)`` is used instead, so such a user is still ranked by the
    modalities they have.

    ``fit(examples)``, with ``examples = [(scores, true_interest), ...]``, grid-searches
    weights that sum to 1 in steps of 0.05 (for text and image: ``w_text = 0, 0.05, ...,
    1`` and ``w_image = 1 - w_text``; with other modalities in the examples, the whole
    0.05 grid of the simplex over all of them), maximising the mean reciprocal rank of
    the true interest in ``order(F)``. Among equally good weights it keeps the one
    closest (Euclidean) to equal weights (0.5/0.5 for two modalities); if still tied,
    the one with the smallest weight on the first modality (text, image, then other
    modalities by name). The result is stored in ``options["weights"]``; ``params()``
    returns ``{"weights": ...}``; ``fit`` returns ``{"mrr": ...}``, the mean reciprocal
    rank reached (also kept in ``fit_mrr``).
    """

    description = "weighted sum of the per-modality scores; weights can be fitted (grid search, MRR)"
    defaults = {"weights": {"text": 0.5, "image": 0.5}}
    fittable = True

    STEPS = 20  # grid step 1/20 = 0.05

    def __init__(self, **options):
        super().__init__(**options)
        where = f"{self.name or type(self).__name__}.weights"
        for modality, weight in self.options["weights"].items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                    or weight < 0:
                raise ConfigError(f"{where}: weight of {modality!r} must be a finite non-negative number, "
                                  f"got {weight!r}")
        self.options["weights"] = {m: float(w) for m, w in self.options["weights"].items()}
        self.fit_mrr: float | None = None

    def fuse(self, scores):
        return _weighted(scores, self.options["weights"])

    def fit(self, examples) -> dict:
        examples = list(examples)
        if not examples:
            return {}
        seen = {m for scores, _ in examples for m in scores}
        modalities = list(MODALITIES) + sorted(seen - set(MODALITIES))
        uniform = 1 / len(modalities)
        best_key, best_weights = None, None
        for parts in _compositions(self.STEPS, len(modalities)):
            weights = {m: round(p / self.STEPS, 10) for m, p in zip(modalities, parts)}
            mrr = sum(_reciprocal_rank(_weighted(s, weights), truth) for s, truth in examples) / len(examples)
            distance = math.dist(weights.values(), [uniform] * len(modalities))
            # prefer higher MRR, then closer to uniform; enumeration order settles the rest
            key = (-round(mrr, 12), round(distance, 12))
            if best_key is None or key < best_key:
                best_key, best_weights = key, weights
        self.options["weights"] = best_weights
        self.fit_mrr = -best_key[0]
        return {"mrr": self.fit_mrr}

    def params(self) -> dict:
        return {"weights": dict(self.options["weights"])}


def _weighted(scores, weights) -> dict[str, float]:
    present = [m for m, s in scores.items() if s]
    if not any(weights.get(m, 0.0) > 0 for m in present):
        return _plain_sum(scores)
    return {
        i: float(sum(weights.get(m, 0.0) * s.get(i, 0.0) for m, s in scores.items())) for i in _union(scores)
    }


def _reciprocal_rank(fused, truth) -> float:
    ranked = order(fused)
    return 1.0 / (ranked.index(truth) + 1) if truth in fused else 0.0


def _compositions(total: int, parts: int):
    """All tuples of ``parts`` non-negative ints summing to ``total``, first element ascending."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


class LearnedFusion(Fusion):
    """Per-modality temperatures and weights, learnt on labelled users with cross-validation.

    Each modality's scores are sharpened or flattened by its temperature ``T_m`` and
    renormalised over the interests it knows, ``q_m(i) = s_m(i)^(1/T_m) / sum_j s_m(j)^(1/T_m)``
    (a softmax of ``log s / T``), then weighted: ``F(i) = sum_m w_m * q_m(i)``. As in
    ``weighted``, an absent modality contributes nothing and, when every present modality
    has weight 0, the plain sum of the ``q_m`` is used.

    ``fit(examples)`` searches temperatures in ``TEMPERATURES`` per modality and weights on
    the simplex in steps of 0.1, maximising the mean reciprocal rank of the true interest
    (ties: the higher mean log-probability of the truth under the normalised ``F``, then
    weights closest to uniform and temperatures closest to 1). It first does that on
    ``folds`` folds of the users (a fixed shuffle, ``seed``) and reports ``cv_mrr`` and
    ``cv_hit_at_1``: each user is scored only by parameters fitted without them. The
    parameters kept are then fitted on every user (``mrr`` and ``hit_at_1`` are theirs, on
    the users fitted on: optimistic by construction).
    """

    description = "learnt per-modality temperatures and weights (grid search, cross-validated over users)"
    defaults = {"weights": {"text": 0.5, "image": 0.5}, "temperatures": {"text": 1.0, "image": 1.0},
                "folds": Option(5, min=2, max=20), "seed": Option(0, min=0)}
    fittable = True

    TEMPERATURES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    STEPS = 10

    def __init__(self, **options):
        super().__init__(**options)
        where = self.name or type(self).__name__
        for key, low in (("weights", 0.0), ("temperatures", 1e-6)):
            for modality, value in self.options[key].items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
                    raise ConfigError(f"{where}.{key}: value of {modality!r} must be a number >= {low:g}, got {value!r}")
            self.options[key] = {m: float(v) for m, v in self.options[key].items()}

    def fuse(self, scores):
        return _learned(scores, self.options["weights"], self.options["temperatures"])

    def params(self) -> dict:
        return {"weights": dict(self.options["weights"]), "temperatures": dict(self.options["temperatures"])}

    def fit(self, examples) -> dict:
        examples = list(examples)
        if not examples:
            return {}
        modalities = list(MODALITIES) + sorted({m for s, _ in examples for m in s} - set(MODALITIES))
        candidates = [(dict(zip(modalities, (p / self.STEPS for p in parts))), dict(zip(modalities, temps)))
                      for parts in _compositions(self.STEPS, len(modalities))
                      for temps in itertools.product(self.TEMPERATURES, repeat=len(modalities))]
        # every modality's scores at every temperature, computed once
        examples = [({m: {t: _sharpened(s, t) for t in self.TEMPERATURES} for m, s in scores.items()}, truth)
                    for scores, truth in examples]
        report = {}
        folds = min(self.options["folds"], len(examples))
        if folds >= 2:
            order_ = list(range(len(examples)))
            random.Random(self.options["seed"]).shuffle(order_)
            held = [examples[i] for i in order_]
            reciprocal, hits = [], []
            for fold in range(folds):
                test = held[fold::folds]
                train = [e for n, e in enumerate(held) if n % folds != fold]
                weights, temps = _best(train, candidates)
                for sharp, truth in test:
                    rr = _reciprocal_rank(_combined(sharp, weights, temps), truth)
                    reciprocal.append(rr)
                    hits.append(1.0 if rr == 1.0 else 0.0)
            report.update(cv_mrr=sum(reciprocal) / len(reciprocal), cv_hit_at_1=sum(hits) / len(hits),
                          cv_folds=float(folds))
        weights, temps = _best(examples, candidates)
        self.options["weights"], self.options["temperatures"] = weights, temps
        ranks = [_reciprocal_rank(_combined(sharp, weights, temps), t) for sharp, t in examples]
        report.update(mrr=sum(ranks) / len(ranks), hit_at_1=sum(r == 1.0 for r in ranks) / len(ranks))
        return report


def _sharpened(per_modality: dict, temperature: float) -> dict:
    """``s^(1/T)`` renormalised over the modality's interests (zeros stay zero)."""
    powered = {i: (max(v, 0.0) ** (1.0 / temperature) if v > 0 else 0.0) for i, v in per_modality.items()}
    total = sum(powered.values())
    return {i: v / total for i, v in powered.items()} if total > 0 else dict(per_modality)


def _learned(scores, weights, temperatures) -> dict[str, float]:
    return _weighted({m: _sharpened(s, temperatures.get(m, 1.0)) for m, s in scores.items()}, weights)


def _combined(sharp, weights, temps) -> dict[str, float]:
    """``_learned`` from scores already sharpened at every temperature (``{m: {T: q_m}}``)."""
    return _weighted({m: by_t[temps.get(m, 1.0)] for m, by_t in sharp.items()}, weights)


def _best(examples, candidates):
    """The candidate ``(weights, temperatures)`` with the best (MRR, log-likelihood, closeness to
    defaults) on ``examples`` (``[(sharpened scores, truth)]``)."""
    best_key, best = None, None
    for weights, temps in candidates:
        reciprocal, loglik = 0.0, 0.0
        for sharp, truth in examples:
            fused = _combined(sharp, weights, temps)
            reciprocal += _reciprocal_rank(fused, truth)
            total = sum(fused.values())
            loglik += math.log(max(fused.get(truth, 0.0) / total, 1e-12)) if total > 0 else math.log(1e-12)
        uniform = 1 / len(weights)
        distance = math.dist(weights.values(), [uniform] * len(weights)) + \
            sum(abs(math.log(t)) for t in temps.values())
        key = (-round(reciprocal / len(examples), 12), -round(loglik / len(examples), 9), round(distance, 12))
        if best_key is None or key < best_key:
            best_key, best = key, ({m: round(w, 10) for m, w in weights.items()}, dict(temps))
    return best
