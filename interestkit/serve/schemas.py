"""The request and response models of the HTTP API (pydantic): what ``/openapi.json`` describes.

Requests are checked here for shape (an array of objects, each field's type); what a post
means (identifiers, one photo, times, limits, paths) is checked by the one post parser
(``data.posts``), so files, the hybrid and the server refuse the same posts with the same
messages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PostIn(BaseModel):
    """One post. ``user_id`` may be left out where the URL names the user."""

    model_config = ConfigDict(extra="ignore")

    user_id: str | int | None = Field(None, description="the posting user (the URL's user if absent)")
    post_id: str | int = Field(..., description="unique per user")
    text: str | None = Field(None, description="the caption")
    image: str | None = Field(None, description="a path under the server's --media-root, or a data:image/...;base64 URI")
    image_b64: str | None = Field(None, description="the photo's bytes in base64")
    created_at: str | None = Field(None, description="ISO-8601; without a zone: UTC")

    def record(self) -> dict:
        return self.model_dump(exclude_unset=True)


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
    message: str
    field: str | None = Field(None, description="the field at fault, e.g. body[0].created_at")


class ErrorAnswer(BaseModel):
    error: ErrorBody


ERRORS = {status: {"model": ErrorAnswer} for status in (400, 401, 404, 405, 408, 413, 415, 422, 503)}
