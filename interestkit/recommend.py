"""Ad catalogues and interest-based, ranked-order recommendations.

A catalogue is YAML (a list of ads, or ``{ads: [...]}``) or CSV (UTF-8) with columns
``ad_id`` (text or an integer), ``title``, ``interests`` (one or more labels; in CSV
separated by ``;`` or ``|``) and optional ``weight`` (bid or priority: a finite number
above 0, default 1), ``starts`` and ``ends`` (ISO dates, inclusive). Any other column
or key is an error, and so is a catalogue without ads.

Ranking formula: an active ad that targets any of a user's top-k interests scores

    score(ad) = max over the ad's matched interests i of  user_score(i) * weight(ad)

and the matched interest reaching that maximum is the one that "earned" the ad. Ads are
ordered by score, then by the rank of the earning interest, then by ``ad_id``. Ads outside
their ``starts``..``ends`` window are never shown.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from .data.tables import decode_text, parse_yaml, read_table
from .errors import DataError, suggest

COLUMNS = ("ad_id", "title", "interests", "weight", "starts", "ends")


@dataclass(frozen=True)
class Ad:
    ad_id: str
    title: str
    interests: tuple
    weight: float = 1.0
    starts: dt.date | None = None
    ends: dt.date | None = None
    where: str = field(default="", compare=False)  # file and line or number, for messages

    def active(self, today: dt.date) -> bool:
        return (self.starts is None or self.starts <= today) and (self.ends is None or today <= self.ends)


def _date(value, where):
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise DataError(f"{where}: expected an ISO date like 2026-01-31, got {value!r}") from None


def _rows(path: Path):
    if path.suffix.lower() in (".yaml", ".yml"):
        data = parse_yaml(decode_text(path), path)
        if isinstance(data, dict):
            unknown = [key for key in data if key != "ads"]
            if unknown:
                raise DataError(f"{path}: unknown key {unknown[0]!r}{suggest(unknown[0], ['ads'])}; "
                                "expected a list of ads, or a mapping with an 'ads' list")
        ads = data.get("ads") if isinstance(data, dict) else data
        if not isinstance(ads, list):
            raise DataError(f"{path}: expected a list of ads (or a mapping with an 'ads' list)")
        return [(f"{path}: ad #{i + 1}", row) for i, row in enumerate(ads)]
    if path.suffix.lower() == ".csv":
        rows = read_table(path, required=("ad_id", "title", "interests"))
        return [(f"{path}:{line}", row) for line, row in rows]
    raise DataError(f"{path}: unsupported catalogue type {path.suffix!r}; expected .yaml, .yml or .csv")


def _ad_id(value, where) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: 'ad_id' must be text or an integer, got {type(value).__name__} {value!r}")
    ad_id = str(value).strip()
    if not ad_id:
        raise DataError(f"{where}: missing 'ad_id'")
    return ad_id


def _weight(value, where) -> float:
    if value in (None, ""):
        return 1.0
    if isinstance(value, bool):
        raise DataError(f"{where}: 'weight' must be a number, got {value!r}")
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'weight' must be a number, got {value!r}") from None
    if not math.isfinite(weight):
        raise DataError(f"{where}: 'weight' must be a finite number, got {value!r}")
    if weight <= 0:
        raise DataError(f"{where}: 'weight' must be positive, got {weight}")
    return weight


def load_ads(path, known_interests=None) -> list[Ad]:
    """Read and validate a catalogue; with ``known_interests``, unknown ones are errors
    naming the ad (``check_interests`` does the same once the models are known)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected an ad catalogue (.yaml, .yml or .csv)")
    if not path.is_file():
        raise DataError(f"{path}: ad catalogue not found")
    ads, seen = [], {}
    for where, row in _rows(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a mapping with ad_id, title, interests")
        unknown = [key for key in row if key not in COLUMNS]
        if unknown:
            raise DataError(f"{where}: unknown {'column' if path.suffix.lower() == '.csv' else 'key'} "
                            f"{unknown[0]!r}{suggest(unknown[0], COLUMNS)}; accepted: {', '.join(COLUMNS)}")
        ad_id = _ad_id(row.get("ad_id"), where)
        where = f"{where} ({ad_id})"
        if ad_id in seen:
            raise DataError(f"{where}: duplicate ad_id, first at {seen[ad_id]}")
        seen[ad_id] = where
        title = row.get("title")
        if isinstance(title, (int, float)) and not isinstance(title, bool):
            title = str(title)
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"{where}: missing 'title'" if title in (None, "") else
                            f"{where}: 'title' must be text, got {title!r}")
        interests = row.get("interests")
        if isinstance(interests, str):
            interests = [p.strip() for p in interests.replace("|", ";").replace(",", ";").split(";")]
        if not interests or not isinstance(interests, list) or not all(isinstance(i, str) and i for i in interests):
            raise DataError(f"{where}: 'interests' must list one or more interest labels")
        weight = _weight(row.get("weight"), where)
        starts, ends = _date(row.get("starts"), f"{where} starts"), _date(row.get("ends"), f"{where} ends")
        if starts and ends and ends < starts:
            raise DataError(f"{where}: 'ends' ({ends}) is before 'starts' ({starts})")
        ads.append(Ad(ad_id, title.strip(), tuple(interests), weight, starts, ends, where))
    if not ads:
        raise DataError(f"{path}: no ads; a catalogue lists at least one ad (ad_id, title, interests)")
    if known_interests is not None:
        check_interests(ads, known_interests)
    return ads


def check_interests(ads, known_interests) -> None:
    """Every interest an ad targets must be known; the error names the ad and suggests."""
    known = set(known_interests)
    for ad in ads:
        for interest in ad.interests:
            if interest not in known:
                raise DataError(f"{ad.where or ad.ad_id}: unknown interest {interest!r}{suggest(interest, known)}")


def ad_to_dict(ad: Ad) -> dict:
    """An ad as JSON data (``ad_from_dict`` reads it back)."""
    return {"ad_id": ad.ad_id, "title": ad.title, "interests": list(ad.interests), "weight": ad.weight,
            "starts": ad.starts.isoformat() if ad.starts else None, "ends": ad.ends.isoformat() if ad.ends else None}


def ad_from_dict(row: dict) -> Ad:
    return Ad(row["ad_id"], row["title"], tuple(row["interests"]), float(row["weight"]), _date(row["starts"], "ad"),
              _date(row["ends"], "ad"))


def recommend(interests, ads, top_n: int, today=None) -> list[dict]:
    """Ads for one user from their ranked ``interests`` ([{interest, score, rank}, ...])."""
    today = today or dt.date.today()
    by_interest = {row["interest"]: row for row in interests}
    scored = []
    for ad in ads:
        if not ad.active(today):
            continue
        matched = [by_interest[i] for i in ad.interests if i in by_interest]
        if not matched:
            continue
        best = max(matched, key=lambda row: (row["score"] * ad.weight, -row["rank"]))
        scored.append({"ad_id": ad.ad_id, "title": ad.title, "score": best["score"] * ad.weight,
                       "interest": best["interest"], "interest_rank": best["rank"], "weight": ad.weight})
    scored.sort(key=lambda row: (-row["score"], row["interest_rank"], row["ad_id"]))
    return scored[:top_n]
