"""Rankings datasets (``user_id, rank, interest, score, ...``) as segment tables, OpenRTB users and audiences.

Pure functions over pandas frames of the rankings ``interestkit batch`` writes. The
per-user ones call ``openrtb.segment_rows``/``openrtb.user_object``, so a frame gives the
same segments as the rankings it holds; Spark runs the same functions in a grouped map.
"""

from __future__ import annotations

from .openrtb import SegmentRules, segment_rows, user_object

#: the columns a rankings dataset must have for these outputs
RANKING_COLUMNS = ("user_id", "rank", "interest", "score")
#: a segments table, ready for a data-management platform
SEGMENT_COLUMNS = ("user_id", "segtax", "segment_id", "interest", "score", "rank")
AUDIENCE_COLUMNS = ("user_id", "interest", "score", "rank")


def users_of(frame):
    """``(user_id, [{"interest", "score", "rank"}, ...])`` per user, users sorted by id, interests by rank."""
    ordered = frame.sort_values(["user_id", "rank"], kind="stable")
    for user_id, rows in ordered.groupby("user_id", sort=True):
        yield str(user_id), [{"interest": r.interest, "score": float(r.score), "rank": int(r.rank)}
                             for r in rows.itertuples(index=False)]


def segment_schema():
    import pyarrow as pa

    return pa.schema([("user_id", pa.string()), ("segtax", pa.int32()), ("segment_id", pa.string()),
                      ("interest", pa.string()), ("score", pa.float64()), ("rank", pa.int32())])


def segments_frame(frame, segments: dict, rules: SegmentRules = SegmentRules()):
    """The segments table of a rankings frame: one row per user and emitted segment, users by id."""
    import pandas as pd

    rows = [row for user in users_of(frame) for row in segment_rows(user, segments, rules)]
    out = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    return out.astype({"user_id": str, "segtax": "int32", "segment_id": str, "interest": str, "score": "float64",
                       "rank": "int32"})


def openrtb_users(frame, segments: dict, rules: SegmentRules = SegmentRules()) -> list[dict]:
    """One OpenRTB 2.6 ``User`` object per user of a rankings frame, users by id."""
    return [user_object(user, segments, rules) for user in users_of(frame)]


def audience_frame(frame, interest: str, min_score: float = 0.0, top: int | None = None):
    """The users ranking ``interest`` with a score of at least ``min_score``: best score first (ties by
    user id), at most ``top`` of them."""
    chosen = frame[(frame["interest"] == interest) & (frame["score"] >= min_score)]
    chosen = chosen.sort_values(["score", "user_id"], ascending=[False, True], kind="stable")
    if top is not None:
        chosen = chosen.head(top)
    out = chosen[list(AUDIENCE_COLUMNS)].reset_index(drop=True)
    return out.astype({"user_id": str, "interest": str, "score": "float64", "rank": "int32"})
