"""The cheap column tests Spark runs before the rules of ``data.posts`` (``spark.validation``)
flag every value those rules refuse: checked here in Python, without a JVM."""

import base64
import re

import pytest

from interestkit.data.paths import MediaPolicy
from interestkit.data.posts import RecordLimits, parse_created_at, parse_post, read_posts
from interestkit.errors import DataError
from interestkit.spark.validation import BASE64, DATA_URI, ISO_TIME

PAYLOADS = ["AAAA=", "AA===", "====", "AAAA==", "QUJD\n", "", "QQ==", "QUI=", "QUJD", "QQ", "QQ=", "Q===", "QUJD\n", " QUJD", "QU JD", "QUJD====", "QQ==QQ==",
            "QUJ-", "QUJ_", base64.b64encode(b"\x89PNG\r\n").decode(), "!!!!", "QUJDRA"]


def _accepted(payload: str) -> bool:
    try:
        base64.b64decode(payload, validate=True)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_base64_pattern_is_what_the_rules_accept(payload):
    assert bool(re.fullmatch(BASE64, payload)) == _accepted(payload)


@pytest.mark.parametrize("uri", ["data:image/png;base64,QUJD", "data:image/png;base64,QQ", "data:image/png,QUJD",
                                 "data:text/plain;base64,QUJD", "data:image/jpeg;base64", "data:image/x;base64,a,b",
                                 "data:;base64,QUJD", "data:image/png;charset=x;base64,QQ=="])
def test_the_data_uri_pattern_is_what_the_rules_accept(uri):
    try:
        parse_post({"user_id": "u", "post_id": "p", "image": uri}, "f:1", 1, MediaPolicy(None))
        accepted = True
    except DataError:
        accepted = False
    assert bool(re.fullmatch(DATA_URI, uri)) == accepted


@pytest.mark.parametrize("text", ["2026-01-31", "2026-01-31T12:00", "2026-01-31 12:00:59", "2026-01-31T12:00:00Z",
                                  "2026-01-31T12:00:00.123456+01:00", "2026-01-31T12:00:00-05:30", "2026-02-30",
                                  "2026-01-31T24:00:00", "next tuesday", "2026-1-5", "20260131T120000Z",
                                  "2026-01-31T12", "2026-01-31Z", "2026-01-31T12:00:00.1234567"])
def test_times_the_pattern_passes_are_read_by_the_rules(text):
    """A time Spark reads unflagged (it matches the pattern) is one the rules read; every
    other is handed to the rules, whose answer decides."""
    if re.fullmatch(ISO_TIME, text) and text not in ("2026-02-30", "2026-01-31T24:00:00"):
        assert parse_created_at("f:1", text) is not None
    else:
        assert re.fullmatch(ISO_TIME, text) is None or text in ("2026-02-30", "2026-01-31T24:00:00")


def test_read_posts_applies_record_limits(tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"user_id": "u", "post_id": "p1", "text": "short"}\n'
                     '{"user_id": "u", "post_id": "p2", "text": "far too long"}\n')
    assert len(read_posts(posts)) == 2
    with pytest.raises(DataError, match=r"posts.jsonl:2: text is 12 characters, longer than the limit of 5$"):
        read_posts(posts, limits=RecordLimits(max_text_chars=5))
