"""The IAB Tech Lab Audience Taxonomy 1.1, shipped unchanged as ``audience_taxonomy_1.1.tsv``.

The file is IAB Tech Lab's, published under the Creative Commons Attribution 3.0 licence
(see ``ATTRIBUTION.md`` beside it). Each row is a segment: a numeric ``Unique ID``, its
``Parent ID``, a condensed name such as ``Interest | Sports | Golf`` and its tiers. In
OpenRTB the taxonomy is ``segtax`` 4, and a segment's ``id`` is its ``Unique ID`` as text.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError

FILE = Path(__file__).with_name("audience_taxonomy_1.1.tsv")
#: the Audience Taxonomy 1.1 in the IAB's segment-taxonomy list (OpenRTB ``data.ext.segtax``)
SEGTAX = 4
NAME = "IAB Tech Lab Audience Taxonomy 1.1"
#: the branch interest segments come from (Tier 1)
INTEREST_BRANCH = "Interest"


@dataclass(frozen=True)
class Segment:
    """One node of the taxonomy: ``id`` (text, as OpenRTB carries it), ``parent`` id, ``name``, Tier 1."""

    id: str
    parent: str | None
    name: str
    tier1: str


@lru_cache(maxsize=1)
def audience_segments() -> dict:
    """``{id: Segment}`` for every row of the shipped file, in file order."""
    segments = {}
    with FILE.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows)
        columns = {name.strip(): i for i, name in enumerate(header)}
        need = ("Unique ID", "Parent ID", "Condensed Name (1st, 2nd, Last Tier)", "Tier 1")
        missing = [name for name in need if name not in columns]
        if missing:
            raise ConfigError(f"{FILE}: columns {missing} missing from the Audience Taxonomy file")
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            ident = row[columns["Unique ID"]].strip()
            name = row[columns["Condensed Name (1st, 2nd, Last Tier)"]].strip().rstrip("|").strip()
            parent = row[columns["Parent ID"]].strip() or None
            segments[ident] = Segment(ident, parent, name, row[columns["Tier 1"]].strip())
    return segments


def segment_id(value) -> str:
    """An id as written in a taxonomy file (``644`` or ``"644"``) as OpenRTB's text form; ValueError if neither."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a segment id (a number such as 644), got {value!r}")
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"expected a segment id (a number such as 644), got {value!r}")
    return str(int(text))


def check_interest_segment(value) -> str:
    """The id of an ``Interest`` segment, or ValueError saying what it is instead."""
    ident = segment_id(value)
    segment = audience_segments().get(ident)
    if segment is None:
        raise ValueError(f"segment id {ident} is not in the {NAME}")
    if segment.tier1 != INTEREST_BRANCH:
        raise ValueError(f"segment id {ident} is {segment.name!r}, not in the {INTEREST_BRANCH!r} branch")
    return ident


def segment_name(ident: str) -> str:
    """The condensed name of a segment id (``Interest | Sports | Golf``)."""
    segment = audience_segments().get(str(ident))
    return segment.name if segment is not None else "?"
