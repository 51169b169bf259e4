"""Ranking users' interests: posts -> per-post scores -> per-user scores -> top-k.

The steps, each a small function with plain data between them:

1. ``score_posts``: every caption through the text model (one ``predict_texts`` call,
   which splits sentences and aggregates them) and every photo through the image model
   (one ``predict_images`` call, frozen features read from the ``FeatureCache``). The
   result is ``{modality: {post_id: {interest: probability}}}``. A model only scores the
   interests it knows: an interest it does not know is *absent* from its dicts (not 0),
   so scores live on the union of both models' labels.
2. ``post_weights``: 1 for every post, or recency weights (see below).
3. ``aggregate``: a user's posts of one modality -> ``{interest: score}``:

   * ``mean`` (default): weighted mean probability;
   * ``mean_log``: softmax of the weighted mean log-probability, i.e. the normalised
     geometric mean of the probabilities. It ranks like the mean log-probability (one
     confident post counts less, consistent evidence more) while its scores stay
     non-negative and sum to 1 like probabilities, so the fusions' convention that an
     unknown interest contributes 0 keeps meaning "no evidence";
   * ``votes``: weighted share of posts whose most probable interest it is (ties in a
     post's top probability go to the interest first by name).

4. ``combine``: mode ``text`` or ``image`` ranks by that modality's scores; mode
   ``fused`` passes the modalities the user has through a fusion plugin
   (``fusion.fuse({modality: {interest: score}})``). A user with posts of only one
   modality is therefore ranked by that modality.
5. ``rank_users``: the ordered interests (``interestkit_plugins.fusion.ranking``: by
   score, ties by name), the top k, and for each of them the posts that contributed
   most to it.

Recency weighting (``half_life_days``): a post ``d`` days older than the user's most
recent dated post weighs ``0.5 ** (d / half_life_days)``; posts without ``created_at``
weigh as much as the user's oldest dated post (as in ``last_n``, undated counts as
oldest), and a user with no dated post has every weight 1. Measuring age from the
user's own newest post keeps the weights independent of when the ranking is run.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError
from .posts import by_user, recency_key

MODES = ("text", "image", "fused")
AGGREGATIONS = ("mean", "mean_log", "votes")
DEFAULT_FUSION = "score_sum"
WEIGHTS_FILE = Path("fusion") / "weighted.json"

Scores = dict[str, float]  # {interest: score}


# --- 1. per-post scores ----------------------------------------------------------------


@dataclass
class ScoredPosts:
    """Per-post probabilities by modality, and the posts whose photo could not be read."""

    scores: dict[str, dict[str, Scores]] = field(default_factory=dict)  # {modality: {post_id: {interest: p}}}
    failures: dict[str, str] = field(default_factory=dict)  # {post_id: why its photo was skipped}


def score_posts(posts, models: dict, cache=None, log=None) -> ScoredPosts:
    """Score every post with each given model (``{"text": model, "image": model}``)."""
    scored = ScoredPosts()
    if "text" in models:
        scored.scores["text"] = score_texts(posts, models["text"], log)
    if "image" in models:
        scored.scores["image"], scored.failures = score_images(posts, models["image"], cache, log)
    return scored


def score_texts(posts, model, log=None) -> dict[str, Scores]:
    """``{post_id: {interest: p}}`` for posts with a caption: one batched ``predict_texts``."""
    with_text = [post for post in posts if post.text is not None]
    if log:
        log(f"text: scoring {len(with_text)} captions")
    probs = model.predict_texts([post.text for post in with_text]) if with_text else np.zeros((0, 0))
    return {post.post_id: _as_dict(model.labels, row) for post, row in zip(with_text, probs) if _finite(row)}


def score_images(posts, model, cache=None, log=None) -> tuple[dict[str, Scores], dict[str, str]]:
    """``({post_id: {interest: p}}, {post_id: error})``: one batched ``predict_images``.

    Unreadable photos are skipped (the post keeps its caption's score) and reported.
    """
    with_image = [post for post in posts if post.image is not None]
    if log:
        log(f"image: scoring {len(with_image)} photos")
    if not with_image:
        return {}, {}
    probs, kept, failures = model.predict_images([post.image for post in with_image], cache=cache,
                                                 on_error="skip", log=log)
    scores = {with_image[i].post_id: _as_dict(model.labels, row) for i, row in zip(kept, probs) if _finite(row)}
    failed_paths = {str(source): message for source, message in failures}
    failed = {post.post_id: failed_paths[str(post.image)] for post in with_image if str(post.image) in failed_paths}
    return scores, failed


def _as_dict(labels, row) -> Scores:
    return {label: float(value) for label, value in zip(labels, row)}


def _finite(row) -> bool:
    return bool(np.all(np.isfinite(row)))


# --- 2. post weights ---------------------------------------------------------------------


def post_weights(posts, half_life_days: float | None = None) -> dict[str, float]:
    """``{post_id: weight}``: 1 each, or recency weights per user (module docstring)."""
    if half_life_days is None:
        return {post.post_id: 1.0 for post in posts}
    if not half_life_days > 0:
        raise ConfigError(f"half-life must be a positive number of days, got {half_life_days!r}")
    weights: dict[str, float] = {}
    for user_posts in by_user(posts).values():
        dated = [post for post in user_posts if post.created_at is not None]
        newest = max((post.created_at for post in dated), default=None)
        for post in dated:
            age_days = (newest - post.created_at).total_seconds() / 86400.0
            weights[post.post_id] = 0.5 ** (age_days / half_life_days)
        oldest = min((weights[post.post_id] for post in dated), default=1.0)
        for post in user_posts:
            weights.setdefault(post.post_id, oldest)
    return weights


# --- 3. per-user scores ------------------------------------------------------------------


def aggregate(post_scores: list[Scores], weights: list[float], method: str = "mean") -> Scores:
    """One modality's scores for one user from its posts' scores (module docstring).

    Every interest of ``post_scores`` gets a score; no posts give ``{}``.
    """
    if method not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {method!r}; choose from: {', '.join(AGGREGATIONS)}")
    if not post_scores:
        return {}
    interests = sorted({interest for scores in post_scores for interest in scores})
    matrix = np.array([[scores.get(i, 0.0) for i in interests] for scores in post_scores], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    if method == "mean":
        values = w @ matrix
    elif method == "mean_log":
        logs = w @ np.log(np.clip(matrix, 1e-12, 1.0))
        exp = np.exp(logs - logs.max())
        values = exp / exp.sum()
    else:
        values = w @ _top1_indicator(matrix)
    return {interest: float(value) for interest, value in zip(interests, values)}


def _top1_indicator(matrix: np.ndarray) -> np.ndarray:
    """1 at each row's most probable column (ties: the first column; columns are sorted by name)."""
    onehot = np.zeros_like(matrix)
    onehot[np.arange(len(matrix)), np.argmax(matrix, axis=1)] = 1.0
    return onehot


def user_scores(user_posts, scored: ScoredPosts, weights: dict[str, float], method: str = "mean") -> dict[str, Scores]:
    """``{modality: {interest: score}}`` for one user; a modality without posts is absent."""
    result = {}
    for modality, by_post in scored.scores.items():
        present = [post for post in user_posts if post.post_id in by_post]
        if present:
            result[modality] = aggregate([by_post[p.post_id] for p in present],
                                         [weights.get(p.post_id, 1.0) for p in present], method)
    return result


def all_user_scores(posts, scored: ScoredPosts, method: str = "mean",
                    half_life_days: float | None = None) -> dict[str, dict[str, Scores]]:
    """``{user_id: {modality: {interest: score}}}`` for every user of ``posts``."""
    weights = post_weights(posts, half_life_days)
    return {user_id: user_scores(user_posts, scored, weights, method)
            for user_id, user_posts in by_user(posts).items()}


# --- 4. modes and fusion -----------------------------------------------------------------


def combine(scores: dict[str, Scores], mode: str, fusion=None) -> Scores:
    """One ``{interest: score}`` for a user: one modality's scores, or fused ones."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose from: {', '.join(MODES)}")
    if mode != "fused":
        return dict(scores.get(mode, {}))
    if fusion is None:
        raise ConfigError("mode 'fused' needs a fusion")
    present = {modality: s for modality, s in scores.items() if s}
    return fusion.fuse(present) if present else {}


def order(combined: Scores) -> list[str]:
    """Interests best first (by score, ties by name), as every fusion orders them."""
    from interestkit_plugins.fusion import ranking

    return ranking(combined)


def rankings(scores_by_user: dict[str, dict[str, Scores]], mode: str, fusion=None) -> dict[str, list[str]]:
    """``{user_id: [interest, ...]}`` best first, for evaluation (full rankings)."""
    return {user_id: order(combine(scores, mode, fusion)) for user_id, scores in scores_by_user.items()}


def make_fusion(name: str, weights_file=None):
    """A fusion plugin instance and a note saying which weights it uses (None for other fusions).

    ``weighted`` reuses the weights saved by ``fusion fit`` (``weights_file``, default
    ``saved_weights_path()``) when that file exists, else its default weights.
    """
    from . import plugins

    info = plugins.get("fusion", name)
    if name != "weighted":
        return info.cls(), None
    path = Path(weights_file) if weights_file else saved_weights_path()
    if not path.is_file():
        if weights_file:
            raise DataError(f"{path}: fusion weights file not found (write one with 'interestkit fusion fit')")
        fusion = info.cls()
        return fusion, f"fusion weighted: no fitted weights in {path}, using the defaults {fusion.params()['weights']}"
    saved = load_fusion_weights(path)
    try:
        fusion = info.cls(**saved["params"])
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return fusion, f"fusion weighted: using weights {fusion.params()['weights']} fitted by 'fusion fit' ({path})"


# --- 5. top-k with contributing posts ------------------------------------------------------


@dataclass
class RankedInterest:
    """One of a user's top interests: ``rank`` counts from 1; ``posts`` contributed most."""

    interest: str
    score: float
    rank: int
    posts: list[str]


@dataclass
class UserRanking:
    """A user's top-k interests, the full order, how many posts were used, and warnings."""

    user_id: str
    interests: list[RankedInterest]
    order: list[str]
    posts_used: int
    warnings: list[str]

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "interests": [asdict(i) for i in self.interests],
                "posts_used": self.posts_used, "warnings": list(self.warnings)}


def contributing_posts(interest: str, user_posts, scored: ScoredPosts, weights: dict[str, float],
                       modalities, limit: int = 3) -> list[str]:
    """The ``limit`` posts with the largest weighted probability of ``interest``.

    A post's contribution is the sum, over ``modalities``, of its weight times the
    probability its caption or photo gives ``interest``; ties go to the more recent post.
    Posts contributing nothing are left out.
    """
    contributions = []
    for post in user_posts:
        value = sum(scored.scores.get(m, {}).get(post.post_id, {}).get(interest, 0.0) for m in modalities)
        value *= weights.get(post.post_id, 1.0)
        if value > 0:
            contributions.append((value, recency_key(post), post.post_id))
    contributions.sort(reverse=True)
    return [post_id for _, _, post_id in contributions[:limit]]


def rank_users(posts, scored: ScoredPosts, mode: str = "fused", fusion=None, top_k: int = 5,
               aggregation: str = "mean", half_life_days: float | None = None,
               warnings: dict[str, str] | None = None, posts_per_interest: int = 3) -> list[UserRanking]:
    """Every user's top ``top_k`` interests in ``mode``, users in order of first post."""
    if top_k < 1:
        raise ConfigError(f"top-k must be at least 1, got {top_k}")
    weights = post_weights(posts, half_life_days)
    modalities = [m for m in scored.scores if mode in ("fused", m)]
    result = []
    for user_id, user_posts in by_user(posts).items():
        scores = user_scores(user_posts, scored, weights, aggregation)
        combined = combine(scores, mode, fusion)
        ordered = order(combined)
        top = [RankedInterest(interest, combined[interest], rank,
                              contributing_posts(interest, user_posts, scored, weights, modalities, posts_per_interest))
               for rank, interest in enumerate(ordered[:top_k], 1)]
        used = sum(1 for post in user_posts if any(post.post_id in scored.scores[m] for m in modalities))
        notes = _user_warnings(user_id, user_posts, scored, scores, mode, (warnings or {}).get(user_id))
        result.append(UserRanking(user_id, top, ordered, used, notes))
    return result


def _user_warnings(user_id, user_posts, scored: ScoredPosts, scores, mode, extra) -> list[str]:
    notes = [extra] if extra else []
    for post in user_posts:
        if post.post_id in scored.failures:
            notes.append(f"photo of post {post.post_id} skipped: {scored.failures[post.post_id]}")
    missing = [m for m in scored.scores if m not in scores and mode in ("fused", m)]
    what = {"text": "captions", "image": "photos"}
    if mode != "fused" and missing:
        notes.append(f"no {what[mode]} to score: not ranked in {mode} mode")
    elif missing and len(missing) < len(scored.scores):
        present = next(m for m in scored.scores if m in scores)
        notes.append(f"no {what[missing[0]]} to score: ranked by {present} only")
    elif missing:
        notes.append("no post could be scored: not ranked")
    return notes


# --- evaluation ----------------------------------------------------------------------------

METRIC_KEYS = ("users", "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5",
               "hit_at_1_ci", "hit_at_5_ci")


def evaluate(rankings_by_user: dict[str, list[str]], labels, bootstrap: int = 1000, seed: int = 0) -> dict:
    """Ranking metrics of one mode over the labelled users (``{user_id: UserLabel}``).

    Returns the ``METRIC_KEYS``: fractions in [0, 1], ``recall_at_5`` None when no user
    has other interests, and 95% bootstrap intervals ``[low, high]`` for hit@1 and hit@5.
    A labelled user with no ranking in this mode (e.g. no captions in text mode) counts
    as a miss, as in the paper.
    """
    from .metrics import evaluate_rankings

    primary = {user_id: label.interest for user_id, label in labels.items()}
    others = {user_id: set(label.others) for user_id, label in labels.items()}
    rankings_by_user = {user_id: r for user_id, r in rankings_by_user.items() if r}
    result = evaluate_rankings(rankings_by_user, primary, others, k=5, bootstrap=bootstrap, seed=seed)
    table = {key: result.get(key) for key in METRIC_KEYS}
    for key in ("hit_at_1_ci", "hit_at_5_ci"):
        table[key] = list(table[key]) if table[key] is not None else None
    return table


def fit_weighted(scores_by_user: dict[str, dict[str, Scores]], labels):
    """A ``weighted`` fusion fitted on the labelled users that have scores (grid search, MRR)."""
    from . import plugins

    examples = [(scores_by_user[user_id], label.interest) for user_id, label in labels.items()
                if scores_by_user.get(user_id)]
    if not examples:
        raise DataError("no labelled user has a scored post: nothing to fit the fusion weights on")
    fusion = plugins.get("fusion", "weighted").cls()
    fusion.fit(examples)
    return fusion, len(examples)


# --- saved fusion weights ---------------------------------------------------------------------


def saved_weights_path() -> Path:
    """Where ``fusion fit`` saves weights by default: ``<store>/fusion/weighted.json``."""
    from .tracking import store_dir

    return store_dir() / WEIGHTS_FILE


def save_fusion_weights(path, fusion, details: dict) -> Path:
    """Write ``{"fusion", "params", **details}`` as JSON (or YAML for .yaml/.yml), atomically."""
    path = Path(path)
    document = {"fusion": "weighted", "params": fusion.params(), **details}
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(document, sort_keys=False)
    else:
        text = json.dumps(document, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


def load_fusion_weights(path) -> dict:
    """Read a file written by ``save_fusion_weights``; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as error:  # unreadable, not UTF-8, invalid JSON or YAML
        raise DataError(f"{path}: cannot read fusion weights ({' '.join(str(error).split())})") from None
    params = document.get("params") if isinstance(document, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("weights"), dict):
        raise DataError(f"{path}: not a fusion weights file (expected 'params: {{weights: {{text: .., image: ..}}}}')")
    return document
