"""The hybrid ranker: both champions + a fusion + labels (+ ads) as one saved, servable unit.

``HybridRanker`` takes posts (dicts with the posts-file fields), scores them with the text
and image models, ranks each user's interests with the fusion and, when a catalogue is
attached, recommends ads. Saved as a folder (``text/``, ``image/``, ``hybrid.json``), it is
the artefact of the MLflow pyfunc model ``interestkit-hybrid`` (see ``tracking``), which
``mlflow models serve`` and ``mlflow.pyfunc.spark_udf`` use unchanged.

Images in records: a ``data:image/...;base64,...`` URI (the photo's bytes), or a file
path. Paths are refused unless ``media_root`` is given, and must stay inside it; with
``allow_paths_anywhere`` (trusted batch callers, e.g. Spark) any readable path is used.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from pathlib import Path

from . import ranking
from .errors import DataError
from .model import InterestModel
from .posts import Post, identifier, optional_string, last_n, parse_created_at
from .recommend import Ad, recommend

DEFAULT_OPTIONS = {"top_k": 5, "last": 20, "aggregation": "mean", "half_life_days": None, "top_n_ads": 10}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_TEXT_CHARS = 10_000


def decode_image(value: str, where: str, media_root=None, allow_paths_anywhere=False):
    """Bytes of a data URI, or a checked path."""
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        if ";base64" not in header or not header.startswith("data:image/"):
            raise DataError(f"{where}: image data URI must look like data:image/jpeg;base64,...")
        if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
            raise DataError(f"{where}: image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise DataError(f"{where}: image is not valid base64") from None
    path = Path(value)
    if allow_paths_anywhere:
        return path
    if media_root is None:
        raise DataError(f"{where}: image must be a data:image/...;base64 URI (file paths are not accepted here)")
    if path.is_absolute() or ".." in path.parts:
        raise DataError(f"{where}: image path must be relative to the media folder, without '..' (got {value!r})")
    file = Path(media_root) / path
    if not file.is_file():
        raise DataError(f"{where}: image {value!r} not found in the media folder")
    return file


def posts_from_records(records, source="input", media_root=None, allow_paths_anywhere=False,
                       default_user=None, max_posts=None) -> list[Post]:
    """Validated ``Post``s from dicts with the posts-file fields; errors name the record."""
    if not isinstance(records, list):
        raise DataError(f"{source}: expected a JSON array of posts, got {type(records).__name__}")
    if max_posts is not None and len(records) > max_posts:
        raise DataError(f"{source}: {len(records)} posts in one request; at most {max_posts} are accepted")
    posts, seen = [], set()
    for index, record in enumerate(records):
        where = f"{source}[{index}]"
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object with the posts-file fields")
        if default_user is not None:
            given = record.get("user_id", default_user)
            if str(given) != str(default_user):
                raise DataError(f"{where}: user_id {given!r} does not match the URL's {default_user!r}")
            record = dict(record, user_id=default_user)
        user_id = identifier(source, index, record, "user_id")
        post_id = identifier(source, index, record, "post_id")
        if (user_id, post_id) in seen:
            raise DataError(f"{where}: duplicate post_id {post_id!r}")
        seen.add((user_id, post_id))
        text = optional_string(source, index, record, "text")
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise DataError(f"{where}: text is longer than {MAX_TEXT_CHARS} characters")
        image_value = optional_string(source, index, record, "image")
        if text is None and image_value is None:
            raise DataError(f"{where}: post {post_id!r} has neither text nor image; a post needs at least one")
        image = decode_image(image_value, f"{where}.image", media_root, allow_paths_anywhere) if image_value else None
        created = record.get("created_at")
        if isinstance(created, (dt.datetime, dt.date)):
            created = created.isoformat()
        posts.append(Post(user_id, post_id, text, image, parse_created_at(source, index, created), index))
    return posts


def ad_to_dict(ad: Ad) -> dict:
    return {"ad_id": ad.ad_id, "title": ad.title, "interests": list(ad.interests), "weight": ad.weight,
            "starts": ad.starts.isoformat() if ad.starts else None, "ends": ad.ends.isoformat() if ad.ends else None}


def ad_from_dict(row: dict) -> Ad:
    date = lambda v: dt.date.fromisoformat(v) if v else None  # noqa: E731
    return Ad(row["ad_id"], row["title"], tuple(row["interests"]), float(row["weight"]), date(row["starts"]),
              date(row["ends"]))


class HybridRanker:
    """Text and image models, a fusion and options; optionally an ad catalogue."""

    def __init__(self, models: dict, fusion_name="score_sum", fusion_params=None, ads=None, options=None,
                 versions=None):
        from . import plugins

        self.models = dict(models)
        self.fusion_name = fusion_name
        self.fusion_params = dict(fusion_params or {})
        self.fusion = plugins.get("fusion", fusion_name).cls(**self.fusion_params)
        self.ads = list(ads or [])
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self.versions = dict(versions or {})

    @property
    def labels(self) -> list[str]:
        return sorted({label for model in self.models.values() for label in model.labels})

    def score(self, posts, cache=None) -> ranking.ScoredPosts:
        """Per-post probabilities of every model (batched)."""
        return ranking.score_posts(posts, self.models, cache=cache)

    def rank_scored(self, posts, scored, mode="fused", today=None) -> list[dict]:
        """Ranked interests (and ads) per user from already-scored posts."""
        users = ranking.rank_users(posts, scored, mode, self.fusion if mode == "fused" else None,
                                   top_k=self.options["top_k"], aggregation=self.options["aggregation"],
                                   half_life_days=self.options["half_life_days"])
        out = []
        for user in users:
            interests = [{"interest": i.interest, "score": i.score, "rank": i.rank, "posts": i.posts}
                         for i in user.interests]
            row = {"user_id": user.user_id, "interests": interests, "ads": [], "posts_used": user.posts_used,
                   "warnings": user.warnings}
            if self.ads:
                row["ads"] = recommend(interests, self.ads, self.options["top_n_ads"], today)
            out.append(row)
        return out

    def rank(self, posts, cache=None, mode="fused", today=None) -> list[dict]:
        """Each user's last ``options['last']`` posts -> top interests and ads."""
        posts, _ = last_n(posts, self.options["last"])
        return self.rank_scored(posts, self.score(posts, cache), mode, today)

    # --- persistence ------------------------------------------------------------------

    def save(self, directory) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for modality, model in self.models.items():
            model.save(directory / modality)
        spec = {"fusion": self.fusion_name, "fusion_params": self.fusion_params, "options": self.options,
                "labels": self.labels, "modalities": sorted(self.models), "versions": self.versions,
                "ads": [ad_to_dict(ad) for ad in self.ads]}
        (directory / "hybrid.json").write_text(json.dumps(spec, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory) -> "HybridRanker":
        directory = Path(directory)
        spec = json.loads((directory / "hybrid.json").read_text())
        models = {m: InterestModel.load(directory / m) for m in spec["modalities"]}
        return cls(models, spec["fusion"], spec["fusion_params"], [ad_from_dict(a) for a in spec["ads"]],
                   spec["options"], spec.get("versions"))
