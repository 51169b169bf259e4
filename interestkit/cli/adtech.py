"""The options every ad-tech output shares (``--format openrtb`` of ``rank`` and ``batch``), and its lines."""

from __future__ import annotations

import json

import click

from ..adtech.openrtb import PROVIDER, SegmentRules, unmapped, user_object
from ..taxonomy import load_taxonomy
from .output import echo_err


def segment_options(function):
    """``--taxonomy``, ``--provider``, ``--min-score``, ``--max-segments``: which segments are emitted."""
    for option in reversed([
        click.option("--taxonomy", "segment_taxonomy", type=click.Path(dir_okay=False), default=None,
                     help="Taxonomy file whose iab_audience ids the interests map to (default: the built-in one)."),
        click.option("--provider", default=PROVIDER, show_default=True,
                     help="OpenRTB: the name of the Data object (the data provider)."),
        click.option("--min-score", type=click.FloatRange(0.0, None), default=0.0, show_default=True,
                     help="Segments of interests scoring below this are not emitted."),
        click.option("--max-segments", type=click.IntRange(1, 1000), default=20, show_default=True,
                     help="Segments emitted per user, at most."),
    ]):
        function = option(function)
    return function


def segment_settings(values: dict) -> tuple[dict, SegmentRules]:
    """``(segments by interest, rules)`` from the options of ``segment_options`` (removed from ``values``)."""
    taxonomy = load_taxonomy(values.pop("segment_taxonomy", None))
    rules = SegmentRules(provider=values.pop("provider"), min_score=values.pop("min_score"),
                         max_segments=values.pop("max_segments"))
    return taxonomy.segments, rules


def openrtb_lines(rankings, segments: dict, rules: SegmentRules) -> str:
    """One OpenRTB 2.6 ``User`` object per line, in the rankings' order; notes unmapped interests on stderr."""
    rankings = list(rankings)
    missing = unmapped(rankings, segments)
    if missing:
        echo_err(f"note: no IAB Audience Taxonomy segment for {', '.join(missing)}: not emitted")
    return "".join(json.dumps(user_object(r, segments, rules), ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in rankings)
