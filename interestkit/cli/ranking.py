"""``interestkit rank`` and ``interestkit recommend``: each user's interests, and the ads they earn.

Both build the same pipeline from the same options (``app.ranking.prepare``), so one user
gets the same interests from either. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import csv
import io
import json
import time

import click

from ..app.ranking import prepare
from .adtech import openrtb_lines, segment_options, segment_settings
from .options import SCORING, fusion_options, ranking_flags, ranking_options
from .output import echo_err, table_text


def rank_posts(prepared):
    """Run the prepared pipeline over its posts, with progress and notes on stderr."""
    started = time.perf_counter()
    users = prepared.pipeline.rank(prepared.posts, log=echo_err)
    echo_err(f"ranked {len(users)} users in {time.perf_counter() - started:.1f}s")
    skipped = sum(len(user.skipped) for user in users)
    if skipped:
        echo_err(f"note: {skipped} photos could not be read; each user's 'skipped' lists them")
    return users


def print_warnings(users):
    for user in users:
        for warning in user.warnings:
            echo_err(f"warning: {user.user_id}: {warning}")
        for item in user.skipped:
            echo_err(f"warning: {user.user_id}: photo of post {item['post_id']} skipped: {item['reason']}")


POSTS_HELP = "Posts table (.jsonl, .parquet or .csv): user_id, post_id, text, image, created_at."


@click.command()
@click.option("--posts", "posts_path", required=True, type=click.Path(), help=POSTS_HELP)
@ranking_flags("top_k", "mode", *SCORING, "posts_per_interest")
@fusion_options
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "openrtb"]), default="table",
              show_default=True, help="openrtb: one OpenRTB 2.6 User object per line (IAB Audience Taxonomy segments).")
@segment_options
def rank(posts_path, options, fusion, fusion_weights, fmt, text_model, image_model, media_root, allow_outside_paths,
         **segment_values):
    """Rank each user's interests from their posts' captions and photos."""
    segments, rules = segment_settings(segment_values)
    prepared = prepare(posts_path, options, text_model=text_model, image_model=image_model, fusion=fusion,
                       fusion_weights=fusion_weights, media_root=media_root, allow_outside=allow_outside_paths,
                       log=echo_err)
    users = rank_posts(prepared)
    used = prepared.pipeline.fusion.name if options.mode == "fused" else None
    if used:
        echo_err(f"fused with {fusion_note(prepared.pipeline)}")
    if fmt == "openrtb":
        click.echo(openrtb_lines(users, segments, rules), nl=False)
        return
    click.echo(format_rankings(users, fmt, used), nl=fmt != "csv")
    if fmt == "table":
        print_warnings(users)


def fusion_note(pipeline) -> str:
    """``NAME (where its parameters came from)``, and its distribution when it is not a built-in."""
    described = pipeline.fusion.as_dict()
    origin = "" if described["package"] == "interestkit" else \
        f" from {described['package']} {described['package_version']}"
    return f"{described['name']} ({described['source']}){origin}"


def as_json(users, fusion: str | None) -> str:
    """The JSON list of user answers; each names the fusion that ranked it (null: one modality)."""
    return json.dumps([dict(rounded(user.as_dict()), fusion=fusion) for user in users], indent=2, ensure_ascii=False)


def format_rankings(users, fmt: str, fusion: str | None = None) -> str:
    """Rankings as a table, a JSON list or CSV rows (one per user and rank)."""
    if fmt == "json":
        return as_json(users, fusion)
    rows = [(user.user_id, item.rank, item.interest, f"{item.score:.4f}", " ".join(item.posts))
            for user in users for item in user.interests]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["user_id", "rank", "interest", "score", "posts"])
        writer.writerows(rows)
        return buffer.getvalue()
    return table_text(("user", "rank", "interest", "score", "posts"), rows)


def rounded(user: dict) -> dict:
    """Scores to 6 decimals, for printing."""
    for item in user["interests"]:
        item["score"] = round(item["score"], 6)
    for ad in user.get("ads", []):
        ad["score"] = round(ad["score"], 6)
    return user


@click.command()
@click.option("--posts", "posts_path", required=True, type=click.Path(), help=POSTS_HELP)
@click.option("--ads", "ads_path", required=True, type=click.Path(), help="Ad catalogue (.yaml/.csv).")
@ranking_flags("top_n_ads", "top_k", "mode", *SCORING, "posts_per_interest")
@fusion_options
@ranking_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def recommend(posts_path, ads_path, options, fusion, fusion_weights, fmt, text_model, image_model, media_root,
              allow_outside_paths):
    """Interest-based, ranked-order ad recommendations per user."""
    prepared = prepare(posts_path, options, text_model=text_model, image_model=image_model, fusion=fusion,
                       fusion_weights=fusion_weights, ads_path=ads_path, media_root=media_root,
                       allow_outside=allow_outside_paths, log=echo_err)
    users = rank_posts(prepared)
    used = prepared.pipeline.fusion.name if options.mode == "fused" else None
    if used:
        echo_err(f"fused with {fusion_note(prepared.pipeline)}")
    if fmt == "json":
        click.echo(as_json(users, used))
        return
    for user in users:
        top = ", ".join(f"{i.interest} {i.score:.2f}" for i in user.interests)
        click.echo(f"{user.user_id}  interests: {top}")
        for position, ad in enumerate(user.ads, 1):
            click.echo(f"  {position:>2}. {ad['ad_id']}  {ad['title']}  score {ad['score']:.3f}  (for {ad['interest']})")
        if not user.ads:
            click.echo("   no active ad matches these interests")
    print_warnings(users)
