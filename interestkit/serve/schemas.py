"""The request and response models of the HTTP API (pydantic): what ``/openapi.json`` describes.

Every rule the server enforces on a request's shape is declared here, so the document and
the server agree: identifiers' patterns and lengths, required fields, a caption's length,
a photo's form (a data URI, base64, or a path where a media root is set) and size, the
number of posts. The models are built per app from its ``Limits`` (``post_models``).
What a post means beyond its shape (a photo that cannot be decoded, a path that leads out
of the media root through a link) is checked by the one post parser (``data.posts``).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path

from ..data.paths import MAX_PATH_CHARS
from pydantic import (AfterValidator, BeforeValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError,
                      WithJsonSchema, model_validator)

USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, min_length=1, max_length=128,
                             description="1-128 letters, digits or _.:@-", examples=["user-42"])]

# a post or user id: no control character, not blank (the parser strips the ends)
IDENTIFIER_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
IDENTIFIER_CHARS = 256  # the store's column width
SAFE_INT = 2**53 - 1  # exact in every JSON parser
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tab, newline and return are the only controls
PATH_PATTERN = r"^(?!/)(?!data:)(?!(?:.*/)?\.\.(?:/|$))[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
_B64 = "[A-Za-z0-9+/]"



def _integral(value):
    """JSON Schema counts 1.0 as an integer: so does the API (it becomes 1)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, Field(ge=-SAFE_INT, le=SAFE_INT), BeforeValidator(_integral)]  # bounds first: then
# they are JSON Schema's minimum/maximum
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=IDENTIFIER_CHARS)] | Integer
PostUser = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN, max_length=128)] | Integer


_MOMENT = TypeAdapter(datetime | date, config=ConfigDict(strict=True))


def _moment(value: str) -> str:
    """An RFC 3339 date-time or date, as ISO-8601 text the post parser reads back."""
    try:
        return _MOMENT.validate_json(json.dumps(value)).isoformat()
    except ValidationError:
        raise ValueError("not an RFC 3339 date-time or date") from None


Moment = Annotated[str, AfterValidator(_moment),
                   WithJsonSchema({"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]})]


def base64_pattern() -> str:
    """Padded base64 of at least one byte (``base64_chars`` bounds its length)."""
    return rf"(?:{_B64}{{4}})*(?:{_B64}{{4}}|{_B64}{{2}}==|{_B64}{{3}}=)"


def base64_chars(max_bytes: int) -> int:
    """The longest base64 text the parser's size check lets through (a multiple of 4)."""
    return 4 * (max_bytes // 3) + 4


def post_models(limits, media_root: bool) -> tuple[type[BaseModel], type[BaseModel]]:
    """(``PostIn``, ``RankPostIn``): a post of an update (the URL names its user) and of ``POST /rank``."""
    b64, b64_chars = base64_pattern(), base64_chars(limits.max_image_bytes)
    data_uri = rf"data:image/[^,]{{0,64}};base64[^,]{{0,64}},{b64}"
    header = len("data:image/;base64,")  # the shortest: a longer one leaves less room for the photo
    image_pattern = rf"^(?:{data_uri})$|{PATH_PATTERN}" if media_root else rf"^{data_uri}$"
    image_chars = max(MAX_PATH_CHARS, b64_chars + header) if media_root else b64_chars + header
    image_says = ("a path relative to the server's --media-root (no '..', not absolute), or a "
                  "data:image/...;base64 URI" if media_root else
                  "a data:image/...;base64 URI (this server has no --media-root: paths are refused)")
    rules = {"anyOf": [{"required": ["text"], "properties": {"text": {"type": "string", "pattern": r"\S"}}},
                       {"required": ["image"], "properties": {"image": {"type": "string"}}},
                       {"required": ["image_b64"], "properties": {"image_b64": {"type": "string"}}}],
             "not": {"required": ["image", "image_b64"],
                     "properties": {"image": {"type": "string"}, "image_b64": {"type": "string"}}}}

    class PostIn(BaseModel):
        """One post: a caption, a photo (``image`` or ``image_b64``, not both) or both.

        ``user_id`` may be left out: the URL names the user (another user is a 409)."""

        model_config = ConfigDict(extra="ignore", strict=True, regex_engine="python-re", json_schema_extra=rules)

        user_id: PostUser | None = Field(None, description="the URL's user, if given")
        post_id: Identifier = Field(..., description="unique per user; repeated in one request: 409")
        text: Annotated[str, StringConstraints(max_length=limits.max_text_chars, pattern=TEXT_PATTERN)] | None = \
            Field(None, description="the caption")
        image: Annotated[str, StringConstraints(pattern=image_pattern, max_length=image_chars)] | None = \
            Field(None, description=image_says)
        image_b64: Annotated[str, StringConstraints(pattern=f"^{b64}$", max_length=b64_chars)] | None = \
            Field(None, description=f"the photo's bytes in base64 (at most {limits.max_image_bytes} bytes)")
        created_at: Moment | None = Field(None, description="RFC 3339 date-time or date; without a zone: UTC")

        @model_validator(mode="after")
        def _one_photo_or_caption(self):
            if self.image is not None and self.image_b64 is not None:
                raise ValueError("send one photo: image or image_b64, not both")
            if self.image is None and self.image_b64 is None and not (self.text or "").strip():
                raise ValueError("the post has neither text nor image; a post needs at least one")
            return self

        def record(self) -> dict:
            return self.model_dump(exclude_none=True)

    class RankPostIn(PostIn):
        """One post of ``POST /rank``: ``user_id`` is required (posts of many users may come together)."""

        model_config = ConfigDict(json_schema_extra=rules)
        user_id: PostUser = Field(..., description="the posting user: 1-128 letters, digits or _.:@-")

    return PostIn, RankPostIn


class Interest(BaseModel):
    interest: str
    score: float
    rank: int
    posts: list[str] = Field(default_factory=list, description="the posts that contributed most")


class Skipped(BaseModel):
    post_id: str
    reason: str


class UserAnswer(BaseModel):
    """A user's ranked interests and ads, the posts of the window (most recent first) and the skipped photos."""

    user_id: str
    interests: list[Interest]
    ads: list[dict[str, Any]]
    posts_used: int
    window: list[str] = Field(description="the post ids of the user's window, most recent first")
    skipped: list[Skipped] = Field(description="posts whose photo could not be read, and why")
    warnings: list[str]
    scored: int | None = Field(None, description="posts scored by this update (updates only)")


class RankAnswer(BaseModel):
    users: list[UserAnswer]


class Deleted(BaseModel):
    user_id: str
    deleted_posts: int


class Health(BaseModel):
    status: str
    model: dict[str, Any]
    pipeline: dict[str, Any]
    state: str = Field(description="the state store's URL, without its password")
    batching: dict[str, Any]
    limits: dict[str, Any]


class ErrorBody(BaseModel):
    code: int = Field(description="the HTTP status")
    message: str = Field(description="one line: what is wrong and what was expected")
    field: str | None = Field(None, description="the field at fault, e.g. body[0].created_at, user_id, Authorization")


class ErrorAnswer(BaseModel):
    """The one body of every 4xx and 5xx answer."""

    error: ErrorBody
