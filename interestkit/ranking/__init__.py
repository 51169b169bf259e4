"""Ranking users' interests: per-post scores, per-user aggregation, fusion, top-k, evaluation.

``RankingPipeline`` (``ranking.pipeline``) is the one orchestration of these steps.
"""
