"""The REST API's request and response bodies (pydantic), mirroring the ``EvoMemory`` facade.

Types here are the shapes JSON can carry; what the facade checks beyond them (a namespace's form, reserved
metadata keys, timestamps, ...) it still checks, and its ``ValueError``/``TypeError`` becomes a 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..ranking import DEFAULT_K, DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE
from ..schema import AddResult
from .limits import MAX_IDS, MAX_K, MAX_MESSAGES, MAX_QUERY_CHARS

METADATA = Field(default=None, description="Flat: string, number or bool values (the facade checks them).")
NAMESPACE = Field(description="Any text of 1-256 characters (NFC), e.g. 'user:42' or 'thread/1'.")


class MessageIn(BaseModel):
    """A chat message, as ``EvoMemory.add_messages`` takes it."""

    content: str
    role: str = "user"
    name: str | None = None
    id: str | int | None = Field(default=None, description="Give ids to make retries safe (a resend is a no-op).")
    timestamp: str | float | None = Field(default=None, description="ISO 8601 or epoch seconds.")
    metadata: dict[str, Any] | None = METADATA


class Record(BaseModel):
    """A response read from the attributes of the facade's record (``Model.model_validate(record)``)."""

    model_config = ConfigDict(from_attributes=True)


class AddMessagesRequest(BaseModel):
    namespace: str = NAMESPACE
    messages: list[MessageIn] = Field(max_length=MAX_MESSAGES)


class AddTextRequest(BaseModel):
    namespace: str = NAMESPACE
    text: str
    metadata: dict[str, Any] | None = METADATA
    doc_id: str | None = None


class SearchRequest(BaseModel):
    namespace: str = NAMESPACE
    query: str = Field(max_length=MAX_QUERY_CHARS)
    k: int = Field(default=DEFAULT_K, le=MAX_K)
    where: dict[str, Any] | None = Field(default=None, description="A Chroma metadata filter.")
    time_range: tuple[str | float | None, str | float | None] | None = Field(
        default=None, description="(start, end), ISO 8601 or epoch seconds; either end may be null."
    )
    mode: str = Field(default=DEFAULT_MODE, description="hybrid, evolvable or lexical.")
    lexical_weight: float = Field(default=DEFAULT_LEXICAL_WEIGHT, description="The lexical share of hybrid.")
    exclude_roles: list[str] = Field(default_factory=list, description="Roles whose messages are left out.")
    exclude_latest: int = Field(default=0, ge=0, description="How many of the latest messages are left out.")


class IdsRequest(BaseModel):
    """A namespace and message ids (null: every message)."""

    namespace: str = NAMESPACE
    ids: list[str] | None = Field(default=None, max_length=MAX_IDS)


class AddResponse(BaseModel):
    ids: list[str]
    unchanged: list[str] = Field(description="Ids already stored with the same text and metadata, skipped.")

    @classmethod
    def of(cls, result: AddResult) -> AddResponse:
        return cls(ids=list(result), unchanged=result.unchanged)


class IdsResponse(BaseModel):
    ids: list[str]


class HitOut(Record):
    id: str
    text: str
    score: float
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    hits: list[HitOut]


class SegmentOut(Record):
    id: str
    part: int
    text: str
    metadata: dict[str, Any]


class GetResponse(BaseModel):
    segments: list[SegmentOut]


class DeleteResponse(Record):
    namespace: str
    existed: bool
    messages: int
    segments: int
    missing: list[str]


class NamespacesResponse(BaseModel):
    namespaces: list[str]


class StatsResponse(BaseModel):
    namespace: str
    segments: int
    messages: int
    memory_step: int
    memory_latents: int
    memory_capacity: int
    fingerprint: str


class ErrorResponse(BaseModel):
    error: str = Field(description="ValueError, TypeError, Unauthorized, Forbidden or PayloadTooLarge.")
    detail: str
