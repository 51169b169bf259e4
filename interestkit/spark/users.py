"""The user level on Spark: aggregation, fusion, top-k and contributing posts as DataFrame operations.

The same rules as ``ranking.aggregation`` and ``ranking.order``, so both engines agree
with ``interestkit rank`` to rounding:

* ``mean``: ``sum(w p) / sum(w)`` per user, modality and interest;
* ``mean_log``: the softmax, over a modality's interests, of ``sum(w log p) / sum(w)``
  (``p`` clipped to [1e-12, 1]);
* ``votes``: the weighted share of posts whose most probable interest it is (ties to the
  first by name).

Fusion calls the fusion plugin's own ``fuse`` (a plugin is Python, possibly a third
party's) in a grouped map over the per-user score table, 2 x 36 numbers a user: no model
is loaded there. Interests are then ordered by score, ties by name, with a window
function, and each top interest's contributing posts are the ``posts_per_interest``
posts of largest weighted probability (ties: the more recent post).
"""

from __future__ import annotations

from functools import lru_cache

from .. import hooks
from ..ranking.fusing import guarded_fusion

def long_scores(scored, labels: dict):
    """One row per post, modality and interest: ``p`` (each modality's labels in model order)."""
    from pyspark.sql import functions as F

    label_arrays = F.when(F.col("modality") == "text", F.array(*map(F.lit, labels.get("text", ())))) \
        .otherwise(F.array(*map(F.lit, labels.get("image", ()))))
    exploded = scored.withColumn("_labels", label_arrays).select(
        "user_id", "post_id", "created_at", "_order", "_w", "modality", "_labels", F.posexplode("p").alias("_i", "p"))
    return exploded.select("user_id", "post_id", "created_at", "_order", "_w", "modality",
                           F.element_at("_labels", F.col("_i") + 1).alias("interest"), "p")


def aggregated(long, method: str):
    """``(user_id, modality, interest, score)``: one modality's score of each interest per user."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = ["user_id", "modality", "interest"]
    if method == "votes":
        per_post = Window.partitionBy("user_id", "post_id", "modality").orderBy(F.col("p").desc(), F.col("interest"))
        long = long.withColumn("p", F.when(F.row_number().over(per_post) == 1, 1.0).otherwise(0.0))
    value = F.log(F.greatest(F.least(F.col("p"), F.lit(1.0)), F.lit(1e-12))) if method == "mean_log" else F.col("p")
    total = F.sum("_w")
    means = long.groupBy(*keys).agg(F.when(total > 0, F.sum(F.col("_w") * value) / total)
                                    .otherwise(F.avg(value)).alias("score"))
    if method != "mean_log":
        return means
    modality = Window.partitionBy("user_id", "modality")
    shifted = means.withColumn("_e", F.exp(F.col("score") - F.max("score").over(modality)))
    return shifted.select(*keys, (F.col("_e") / F.sum("_e").over(modality)).alias("score"))


@lru_cache(maxsize=8)
def _fuser(name: str, params_json: str):
    """The fusion, built once per Python worker (plugins are collected there like anywhere)."""
    import json

    return guarded_fusion(hooks.get("fusion", name), json.loads(params_json), "spark")


def combined(scores, mode: str, fusion_name: str, fusion_params: dict):
    """``(user_id, interest, score)``: one modality's scores, or the fusion's."""
    import json

    from pyspark.sql import functions as F

    if mode != "fused":
        return scores.filter(F.col("modality") == mode).select("user_id", "interest", "score")
    params_json = json.dumps(fusion_params, sort_keys=True)

    def fuse(frame):
        import pandas as pd

        per_modality: dict = {}
        for modality, interest, score in zip(frame["modality"], frame["interest"], frame["score"]):
            per_modality.setdefault(modality, {})[interest] = float(score)
        fused = _fuser(fusion_name, params_json).fuse(per_modality)
        user = frame["user_id"].iloc[0]
        return pd.DataFrame({"user_id": [user] * len(fused), "interest": list(fused),
                             "score": [float(v) for v in fused.values()]})

    return scores.groupBy("user_id").applyInPandas(fuse, "user_id string, interest string, score double")


def top_interests(combined_scores, top_k: int):
    """``(user_id, rank, interest, score)``: the ``top_k`` best, ties by interest name."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    best_first = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("interest"))
    return combined_scores.withColumn("rank", F.row_number().over(best_first)).filter(F.col("rank") <= top_k)


def ranked(long, top, posts_per_interest: int):
    """The output table: each top interest with the user's scored posts and its contributing posts."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    used = long.groupBy("user_id").agg(F.countDistinct("post_id").cast("int").alias("n_posts"))
    result = top.join(used, "user_id")
    if posts_per_interest <= 0:
        posts = F.array().cast("array<string>")
        return result.select("user_id", F.col("rank").cast("int"), "interest", "score", "n_posts", posts.alias("posts"))
    contribution = long.join(top.select("user_id", "interest"), ["user_id", "interest"]) \
        .groupBy("user_id", "interest", "post_id", "created_at", "_order") \
        .agg((F.sum("p") * F.first("_w")).alias("value")).filter(F.col("value") > 0)
    strongest = Window.partitionBy("user_id", "interest").orderBy(
        F.col("value").desc(), F.col("created_at").isNotNull().desc(), F.col("created_at").desc(),
        F.col("_order").desc(), F.col("post_id").desc())
    chosen = contribution.withColumn("_n", F.row_number().over(strongest)).filter(F.col("_n") <= posts_per_interest)
    listed = chosen.groupBy("user_id", "interest").agg(
        F.transform(F.array_sort(F.collect_list(F.struct("_n", "post_id"))), lambda s: s["post_id"]).alias("posts"))
    return result.join(listed, ["user_id", "interest"], "left").select(
        "user_id", F.col("rank").cast("int"), "interest", "score", "n_posts",
        F.coalesce("posts", F.array().cast("array<string>")).alias("posts"))
