"""The user level on Spark: the one user-level function (``ranking.users``) in a grouped map.

Spark windows the posts (a SQL window function, ``spark.posts.windowed``) and scores them
(``mlflow.pyfunc.spark_udf``, ``spark.scoring``); each user's windowed posts and their
probability vectors then go, as one group, to ``UserLevel.rank``: the function
``interestkit rank``, ``serve`` and the streaming ranker call. Recency weights,
aggregation, fusion, top-k, contributing posts and ads are therefore the same code on
every engine. A user's group is their window (at most ``last`` posts, 2 x 36 numbers a
post): no model is loaded there, and the fusion plugin is built once per Python worker.

The output has the rows of ``ranking.users.table_rows``: ``TABLE_COLUMNS``, and the
user's ads on each row when a catalogue is given.
"""

from __future__ import annotations

import datetime as dt

from ..ranking.users import AD_FIELDS, ADS_COLUMN, TABLE_COLUMNS, ScoredPost, UserLevel, table_rows

TABLE_SCHEMA = "user_id string, rank int, interest string, score double, n_posts int, posts array<string>"
ADS_SCHEMA = (f"{ADS_COLUMN} array<struct<ad_id:string,title:string,score:double,interest:string,"
              "interest_rank:int,weight:double>>")
GROUP_COLUMNS = ("user_id", "post_id", "created_at", "_order", "modality", "p")


def output_schema(with_ads: bool) -> str:
    return f"{TABLE_SCHEMA}, {ADS_SCHEMA}" if with_ads else TABLE_SCHEMA


def user_groups(window, scored):
    """One row per windowed post (``modality`` null: it may have no score) and per score
    (``scored``: scores of the window's posts only)."""
    from pyspark.sql import functions as F

    posts = window.select("user_id", "post_id", "created_at", "_order", F.lit(None).cast("string").alias("modality"),
                          F.lit(None).cast("array<double>").alias("p"))
    scores = scored.select(
        "user_id", "post_id", F.lit(None).cast("timestamp").alias("created_at"), F.lit(None).cast("long").alias("_order"),
        "modality", "p")
    return posts.unionByName(scores)


def ranked(window, scored, labels: dict, level: UserLevel):
    """The output table: every user of ``window`` ranked by ``level`` from ``scored``
    (``user_id, post_id, modality, p``; ``labels``: each modality's labels in ``p``'s order)."""
    with_ads = bool(level.ads)
    columns = list(TABLE_COLUMNS) + ([ADS_COLUMN] if with_ads else [])
    labels = {m: tuple(names) for m, names in labels.items()}

    def rank_group(frame):
        import pandas as pd

        user = rank_frame(frame, labels, level)
        rows = table_rows(user, with_ads) if user is not None else []
        return pd.DataFrame(rows, columns=columns)

    return user_groups(window, scored).groupBy("user_id").applyInPandas(rank_group, output_schema(with_ads))


def rank_frame(frame, labels: dict, level: UserLevel):
    """One user's ``UserRanking`` from their group (``GROUP_COLUMNS``); None for an empty group."""
    if frame.empty:
        return None
    posts: dict = {}
    for post_id, created, order, modality, p in zip(*(frame[c] for c in GROUP_COLUMNS[1:])):
        entry = posts.setdefault(post_id, {"created_at": None, "line": None, "scores": {}})
        if modality is None or not isinstance(modality, str):
            entry["created_at"], entry["line"] = _moment(created), int(order)
        else:
            entry["scores"][modality] = {label: float(v) for label, v in zip(labels[modality], p)}
    scored = [ScoredPost(post_id, e["created_at"], e["line"], e["scores"]) for post_id, e in posts.items()
              if e["line"] is not None]
    return level.rank(str(frame["user_id"].iloc[0]), scored)


def _moment(value) -> dt.datetime | None:
    """A pandas timestamp in the session's time zone (UTC) as an aware datetime; NaT: None."""
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    moment = pd.Timestamp(value).to_pydatetime()
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


__all__ = ["AD_FIELDS", "output_schema", "ranked", "rank_frame", "user_groups"]
