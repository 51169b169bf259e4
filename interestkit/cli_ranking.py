"""Commands that rank users' interests: ``rank``, ``evaluate``, ``fusion fit`` and ``demo``.

A thin click layer over ``interestkit.posts`` and ``interestkit.ranking``: progress goes
to stderr, results to stdout. TensorFlow and MLflow are imported inside the commands.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from .cli import cli, echo_err, print_table
from .errors import ConfigError, ModelError
from .pipeline import IMAGE_URI, TEXT_URI
from .ranking import AGGREGATIONS, DEFAULT_FUSION, MODES, ScoredPosts, saved_weights_path

DEFAULT_URIS = {"text": TEXT_URI, "image": IMAGE_URI}


# --- shared options ----------------------------------------------------------------------


def ranking_options(function):
    """The options shared by rank, evaluate and fusion fit: models, posts window, scoring."""
    options = [
        click.option("--text-model", default=DEFAULT_URIS["text"], show_default=True,
                     help="Text model URI (models:/NAME@ALIAS, models:/NAME/VERSION or runs:/...)."),
        click.option("--image-model", default=DEFAULT_URIS["image"], show_default=True, help="Image model URI."),
        click.option("--last", default=20, show_default=True, type=click.IntRange(min=0),
                     help="Use each user's N most recent posts (0: all)."),
        click.option("--aggregation", type=click.Choice(AGGREGATIONS), default="mean", show_default=True,
                     help="How a user's post scores combine: mean probability, mean log-probability, top-1 votes."),
        click.option("--half-life", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Weight posts by recency: a post this many days older than the user's newest counts half."),
        click.option("--no-calibration", is_flag=True,
                     help="Ignore the models' fitted softmax temperature (use temperature 1)."),
        click.option("--allow-outside-paths", is_flag=True,
                     help="Accept image paths that are absolute or leave the posts file's folder."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def fusion_weights_option(function):
    """--fusion-weights: a weights file for the weighted fusion other than the store's."""
    option = click.option("--fusion-weights", type=click.Path(dir_okay=False), default=None,
                          help="Weights file written by 'fusion fit --out' (default: the store's fusion/weighted.json).")
    return option(function)


# --- shared steps --------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything the commands share: the posts used, the models, and the per-post scores."""

    posts_path: Path
    posts: list
    warnings: dict
    models: dict = field(default_factory=dict)  # {modality: description}
    scored: ScoredPosts | None = None
    labels: dict | None = None  # {user_id: UserLabel}, when labels were given


def needed_modalities(mode: str) -> list[str]:
    return ["text", "image"] if mode in ("fused", "all") else [mode]


def read_posts(posts_path, last: int, allow_outside: bool):
    """(all posts, the last ``last`` per user, per-user warnings), with a progress line."""
    from .posts import by_user, last_n, load_posts

    posts = load_posts(posts_path, allow_outside=allow_outside)
    selected, warnings = last_n(posts, last)
    window = f"the last {last} posts" if last else "every post"
    echo_err(f"{posts_path}: {len(posts)} posts of {len(by_user(posts))} users; using {window} of each user")
    if warnings:
        echo_err(f"note: {len(warnings)} users have fewer than {last} posts; all of theirs were used")
    return posts, selected, warnings


def load_models(modalities, uris: dict, calibrated: bool, mode: str) -> tuple[dict, dict]:
    """``({modality: InterestModel}, {modality: description})``; errors say which model and what to do."""
    from . import tracking

    models, described = {}, {}
    for modality in modalities:
        uri = uris[modality]
        try:
            model, description = tracking.load_interest_model(uri)
        except ModelError as error:
            other = "image" if modality == "text" else "text"
            alternative = f"; or do without it: --mode {other}" if mode in ("fused", "all") else ""
            raise ModelError(f"{modality} model: {error}{alternative}") from None
        if model.modality != modality:
            raise ModelError(f"{uri!r} is a model of {model.modality}, but --{modality}-model needs a {modality} model")
        fitted = model.temperature
        if not calibrated:
            model.meta["temperature"] = 1.0
        description = {**description, "temperature": model.temperature, "fitted_temperature": fitted,
                       "labels": len(model.labels)}
        version = f"version {description['version']}, " if description.get("version") else ""
        echo_err(f"{modality} model: {uri} ({version}{len(model.labels)} interests, "
                 f"temperature {model.temperature:.3f})")
        models[modality], described[modality] = model, description
    return models, described


def prepare(posts_path, mode: str, options: dict, labels_path=None) -> Prepared:
    """Read posts (and labels), load the models ``mode`` needs and score every post once."""
    from .cache import FeatureCache
    from .posts import load_labels
    from .ranking import score_posts

    posts, selected, warnings = read_posts(posts_path, options["last"], options["allow_outside_paths"])
    labels = None
    if labels_path is not None:
        labels = load_labels(labels_path, posts, posts_source=str(posts_path))
        echo_err(f"{labels_path}: {len(labels)} labelled users")
    uris = {"text": options["text_model"], "image": options["image_model"]}
    models, described = load_models(needed_modalities(mode), uris, not options["no_calibration"], mode)
    started = time.perf_counter()
    scored = score_posts(selected, models, cache=FeatureCache(), log=echo_err)
    echo_err(f"scored {len(selected)} posts in {time.perf_counter() - started:.1f}s")
    if scored.failures:
        echo_err(f"note: {len(scored.failures)} photos could not be read and were skipped")
    return Prepared(Path(posts_path), selected, warnings, described, scored, labels)


def build_fusion(name: str, weights_file=None, evaluated_files=None):
    """The fusion plugin ``name`` (saved weights for ``weighted``), announced on stderr.

    ``evaluated_files`` (posts, labels): warn when saved weights were fitted on exactly
    these files, since evaluating on the fitting users flatters the weighted fusion.
    """
    from .ranking import load_fusion_weights, make_fusion

    fusion, note = make_fusion(name, weights_file)
    if note:
        echo_err(note)
    saved = Path(weights_file) if weights_file else saved_weights_path()
    if name == "weighted" and evaluated_files and saved.is_file():
        fitted_on = load_fusion_weights(saved).get("fitted_on") or {}
        if fitted_on.get("sha256") == _fingerprint(*evaluated_files):
            echo_err("note: these weights were fitted on these same users, so the weighted row is optimistic")
    return fusion


def _fingerprint(*paths) -> str:
    """SHA-256 over the bytes of the given files (which posts and labels a fit used)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _check_fusion_name(fusion: str, allow_all: bool):
    from . import plugins

    if fusion == "all" and not allow_all:
        raise ConfigError("--fusion all compares every fusion and only works with 'interestkit evaluate'")
    if fusion != "all":
        plugins.get("fusion", fusion)


# --- rank ----------------------------------------------------------------------------------


@cli.command()
@click.option("--posts", "posts_path", required=True, type=click.Path(dir_okay=False),
              help="Posts JSONL: user_id, post_id, text, image, created_at.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1), help="Interests per user.")
@click.option("--mode", type=click.Choice(MODES), default="fused", show_default=True,
              help="Rank by captions, photos, or both fused.")
@click.option("--fusion", default=DEFAULT_FUSION, show_default=True,
              help="Fusion plugin for --mode fused: score_sum, rank_vote, weighted or another installed one.")
@fusion_weights_option
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def rank(posts_path, top_k, mode, fusion, fusion_weights, fmt, **options):
    """Rank each user's interests from their posts' captions and photos."""
    from .ranking import rank_users

    _check_fusion_name(fusion, allow_all=False)
    prepared = prepare(posts_path, mode, options)
    fuser = build_fusion(fusion, fusion_weights) if mode == "fused" else None
    users = rank_users(prepared.posts, prepared.scored, mode, fuser, top_k, options["aggregation"],
                       options["half_life"], prepared.warnings)
    click.echo(format_rankings(users, fmt), nl=fmt != "csv")
    if fmt == "table":
        for user in users:
            for warning in user.warnings:
                echo_err(f"warning: {user.user_id}: {warning}")


def format_rankings(users, fmt: str) -> str:
    """Rankings as a table, a JSON list or CSV rows (one per user and rank)."""
    if fmt == "json":
        return json.dumps([_rounded(user.as_dict()) for user in users], indent=2, ensure_ascii=False)
    rows = [(user.user_id, item.rank, item.interest, f"{item.score:.4f}", " ".join(item.posts))
            for user in users for item in user.interests]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["user_id", "rank", "interest", "score", "posts"])
        writer.writerows(rows)
        return buffer.getvalue()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_table(("user", "rank", "interest", "score", "posts"), rows)
    return buffer.getvalue().rstrip("\n")


def _rounded(user: dict) -> dict:
    for item in user["interests"]:
        item["score"] = round(item["score"], 6)
    return user


# --- evaluate --------------------------------------------------------------------------------


@cli.command()
@click.option("--posts", "posts_path", required=True, type=click.Path(dir_okay=False), help="Posts JSONL.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False),
              help="User labels TSV: user_id, interest, other_interests.")
@click.option("--mode", type=click.Choice(("all",) + MODES), default="all", show_default=True,
              help="Evaluate every mode, or one (text or image need only that model).")
@click.option("--fusion", default=DEFAULT_FUSION, show_default=True,
              help="Fusion of the 'fused' row; 'all' adds one row per fusion plugin.")
@fusion_weights_option
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def evaluate(posts_path, labels_path, mode, fusion, fusion_weights, fmt, **options):
    """Measure how often each user's labelled interest is ranked first, in the top 3 and top 5."""
    _check_fusion_name(fusion, allow_all=True)
    prepared = prepare(posts_path, mode, options, labels_path)
    table, _ = run_evaluation(prepared, labels_path, mode, fusion, fusion_weights, options)
    click.echo(json.dumps(table, indent=2) if fmt == "json" else format_evaluation(table))


def run_evaluation(prepared: Prepared, labels_path, mode, fusion, fusion_weights, options):
    """Rank and evaluate every requested mode on scored posts; log the run to MLflow. (table, run id)"""
    from . import tracking
    from .ranking import all_user_scores, evaluate as evaluate_mode, rankings

    posts_path, labels = prepared.posts_path, prepared.labels
    scores = all_user_scores(prepared.posts, prepared.scored, options["aggregation"], options["half_life"])
    table, ranked = {}, {}
    for row, row_mode, fusion_name in evaluation_rows(mode, fusion):
        fuser = build_fusion(fusion_name, fusion_weights, (posts_path, labels_path)) if fusion_name else None
        ranked[row] = rankings(scores, row_mode, fuser)
        table[row] = evaluate_mode(ranked[row], labels)
    params = {
        "posts": str(posts_path), "labels": str(labels_path), "users": len(labels), "mode": mode,
        "fusion": fusion, "aggregation": options["aggregation"], "last": options["last"],
        "half_life_days": options["half_life"], "calibration": not options["no_calibration"],
    }
    for modality, description in prepared.models.items():
        params[f"{modality}_model"] = description["uri"]
        params[f"{modality}_model_version"] = description.get("version")
        params[f"{modality}_temperature"] = description["temperature"]
    top5 = {row: {user: r[:5] for user, r in by_user.items()} for row, by_user in ranked.items()}
    run_id = tracking.log_evaluation(table, params, {"rankings_top5.json": top5})
    echo_err(f"logged to MLflow run {run_id} (experiment {tracking.EVALUATION_EXPERIMENT}, "
             f"store {tracking.tracking_uri()})")
    return table, run_id


def evaluation_rows(mode: str, fusion: str):
    """(row name, mode, fusion name or None) for each row of the evaluation table."""
    from . import plugins

    rows = [(m, m, None) for m in ("text", "image") if mode in ("all", m)]
    if mode in ("all", "fused"):
        rows.append(("fused", "fused", DEFAULT_FUSION if fusion == "all" else fusion))
        if fusion == "all":
            rows.extend((name, "fused", name) for name in plugins.collect("fusion"))
    return rows


def format_evaluation(table: dict) -> str:
    """The evaluation as an aligned text table (fractions, 95% bootstrap intervals)."""
    headers = ("mode", "users", "hit@1", "hit@3", "hit@5", "MRR", "nDCG@5", "recall@5", "hit@1 95% CI", "hit@5 95% CI")
    keys = ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_5", "recall_at_5")
    rows = [[name, row["users"], *(_fraction(row[k]) for k in keys), _interval(row["hit_at_1_ci"]),
             _interval(row["hit_at_5_ci"])] for name, row in table.items()]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_table(headers, rows)
    return buffer.getvalue().rstrip("\n")


def _fraction(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _interval(value) -> str:
    return "-" if value is None else f"{value[0]:.2f}-{value[1]:.2f}"


# --- fusion fit ------------------------------------------------------------------------------


@cli.group(name="fusion")
def fusion_group():
    """Fit the parameters of fusions on labelled users."""


@fusion_group.command("fit")
@click.option("--posts", "posts_path", required=True, type=click.Path(dir_okay=False), help="Posts JSONL.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False), help="User labels TSV.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the weights (.json, .yaml); default: fusion/weighted.json in the store.")
@ranking_options
def fusion_fit(posts_path, labels_path, out, **options):
    """Fit the 'weighted' fusion's modality weights on labelled users and save them."""
    from . import tracking
    from .ranking import all_user_scores, fit_weighted, save_fusion_weights

    prepared = prepare(posts_path, "fused", options, labels_path)
    labels = prepared.labels
    scores = all_user_scores(prepared.posts, prepared.scored, options["aggregation"], options["half_life"])
    fusion, users = fit_weighted(scores, labels)
    details = {
        "fit_mrr": fusion.fit_mrr, "users": users,
        "fitted_on": {"posts": str(Path(posts_path).resolve()), "labels": str(Path(labels_path).resolve()),
                      "sha256": _fingerprint(posts_path, labels_path)},
        "models": {m: {k: d.get(k) for k in ("uri", "version", "temperature")} for m, d in prepared.models.items()},
        "aggregation": options["aggregation"], "last": options["last"], "half_life_days": options["half_life"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = save_fusion_weights(Path(out) if out else saved_weights_path(), fusion, details)
    run_id = tracking.log_summary_run(
        "fusion-fit-weighted", {"fusion": "weighted", "users": users, "weights_file": str(path)},
        {"fit_mrr": fusion.fit_mrr}, {"weighted.json": {"params": fusion.params(), **details}})
    echo_err(f"logged to MLflow run {run_id} (experiment {tracking.EVALUATION_EXPERIMENT})")
    weights = ", ".join(f"{m} {w:.2f}" for m, w in fusion.params()["weights"].items())
    click.echo(f"weighted fusion: {weights} (MRR {fusion.fit_mrr:.3f} on {users} labelled users)")
    use = "--fusion weighted" if not out else f"--fusion weighted --fusion-weights {path}"
    click.echo(f"saved to {path}; 'interestkit rank' and 'interestkit evaluate' use them with {use}")


# --- demo ------------------------------------------------------------------------------------

#: sizes of the demo's synthetic workspace: 12 interests make top-5 a real test (random
#: guessing finds the primary interest in the top 5 for 5/12 = 42% of users), and few
#: captions per interest keep the text model clearly weaker than the image model, as in
#: the paper's Table 5.
DEMO_WORKSPACE = {
    "interests": ("Golf", "Cooking", "Pets", "Travel", "Music", "Fitness", "Art", "Vehicle",
                  "Book", "Gardening", "Dance", "Camping"),
    "captions_per_interest": 30,
    "images_per_interest": 12,
    "users": 36,
    "posts_per_user": 20,
    "image_size": 64,
    "seed": 0,
}
DEMO_TEXT = ("gru", {"encoder": {"embedding_dim": 32, "units": 32},
                     "training": {"epochs": 8, "batch_size": 32}})
DEMO_IMAGE = ("efficientnet_lite0", {"encoder": {"image_size": 64},
                                     "training": {"epochs": 25, "batch_size": 32}})


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="interestkit-demo", show_default=True,
              help="Folder for the demo's synthetic data.")
def demo(directory):
    """Quick start: synthetic data, a text and an image model, ranked users and their evaluation."""
    from . import tracking
    from .synthetic import make_workspace

    started = time.perf_counter()
    root = Path(directory)
    echo_err(f"[1/5] writing a synthetic workspace (made-up captions, pictures and users) to {root}")
    paths = make_workspace(root, **DEMO_WORKSPACE)
    uris = {}
    steps = (("text", paths["text"], DEMO_TEXT), ("image", paths["images"], DEMO_IMAGE))
    for step, (modality, data, (plugin, overrides)) in enumerate(steps, 2):
        echo_err(f"[{step}/5] training a small {modality} model ({plugin}) on {data}")
        uris[modality] = _demo_train(data, plugin, overrides)
    options = {"text_model": uris["text"], "image_model": uris["image"], "last": 20, "aggregation": "mean",
               "half_life": None, "no_calibration": False, "allow_outside_paths": False}
    echo_err(f"[4/5] ranking the demo users' interests ({paths['posts']})")
    prepared = prepare(paths["posts"], "fused", options, paths["labels"])
    _demo_rank(prepared)
    echo_err(f"[5/5] evaluating against {paths['labels']} with every fusion")
    table, run_id = run_evaluation(prepared, paths["labels"], "all", "all", None, options)
    click.echo("")
    click.echo(format_evaluation(table))
    click.echo("")
    click.echo(_next_steps(paths, uris, run_id, tracking.tracking_uri(), time.perf_counter() - started))


def _demo_train(data, plugin, overrides) -> str:
    """Train one demo model; returns the exact version URI (not @champion, which may be older)."""
    from .pipeline import run_training

    overrides = {**overrides, "training": {**overrides["training"], "verbose": 2}}
    with contextlib.redirect_stdout(sys.stderr):  # Keras prints epochs on stdout
        summary = run_training(str(data), plugin, overrides=overrides, log=echo_err)
    if not summary.get("version"):
        raise ModelError(f"the demo's {plugin} model was not registered")
    uri = f"models:/{summary['registered_model']}/{summary['version']}"
    echo_err(f"  {uri}: validation top-1 {summary['val_accuracy']:.3f}, {summary['train_seconds']:.0f}s")
    return uri


def _demo_rank(prepared: Prepared, shown: int = 4, top_k: int = 3):
    """Rank the demo users and print the first few users' top interests."""
    from .ranking import rank_users

    users = rank_users(prepared.posts, prepared.scored, "fused", build_fusion(DEFAULT_FUSION), top_k)
    click.echo(f"Top {top_k} interests of the first {shown} of {len(users)} demo users (fused, {DEFAULT_FUSION}):")
    click.echo(format_rankings(users[:shown], "table"))


def _next_steps(paths, uris, run_id, store, seconds) -> str:
    posts, labels = paths["posts"], paths["labels"]
    return "\n".join([
        f"Demo finished in {seconds:.0f}s. Models: {uris['text']} and {uris['image']}; evaluation run {run_id}.",
        "Next:",
        f"  interestkit ui                      browse the runs, models and evaluations in {store}",
        f"  interestkit rank --posts {posts} --text-model {uris['text']} --image-model {uris['image']}",
        "  with your own data:",
        "    interestkit train --plugin bilstm --data captions.tsv",
        "    interestkit train --plugin efficientnet_lite0 --data photos/",
        "    interestkit rank --posts posts.jsonl",
        "    interestkit evaluate --posts posts.jsonl --labels labels.tsv --fusion all",
        f"  (labels for these demo users: {labels})",
    ])
