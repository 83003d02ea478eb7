"""The REST API's request and response bodies (pydantic), mirroring the ``EvoMemory`` facade.

Requests are strict, as the library is: an unknown field is refused with the accepted ones named (so a misspelt
``ids`` never reads as "none given"), and JSON values are not coerced (``"k": "5"``, ``5.0`` or ``true`` is not
a count). What the facade checks beyond the types (a namespace's form, reserved metadata keys, timestamps, ...) it
still checks, and its ``ValueError``/``TypeError`` becomes a 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import InvalidInputError
from ..schema import DEFAULT_K, DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE, AddResult, Hit, iso_time
from .limits import MAX_IDS, MAX_K, MAX_MESSAGES, MAX_QUERY_CHARS

METADATA = Field(default=None, description="Flat: string, number or bool values (the facade checks them).")
NAMESPACE = Field(description="Any text of 1-256 characters (NFC), e.g. 'user:42' or 'thread/1'.")


class Strict(BaseModel):
    """A request body: unknown fields refused (naming the accepted ones), JSON values taken as they are typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                accepted = ", ".join(cls.model_fields)
                raise InvalidInputError(f"unknown field {', '.join(map(repr, unknown))}; the fields are {accepted}")
        return data


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso_time(seconds)


class MessageIn(Strict):
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


class AddMessagesRequest(Strict):
    namespace: str = NAMESPACE
    messages: list[MessageIn] = Field(max_length=MAX_MESSAGES)
    idempotent: bool = Field(
        default=False, description="Ids of messages without one derive from their content: a resend stores nothing."
    )


class AddTextRequest(Strict):
    namespace: str = NAMESPACE
    text: str
    metadata: dict[str, Any] | None = METADATA
    doc_id: str | None = None


class SearchRequest(Strict):
    namespace: str = NAMESPACE
    query: str = Field(max_length=MAX_QUERY_CHARS)
    k: int = Field(default=DEFAULT_K, le=MAX_K)
    where: dict[str, Any] | None = Field(default=None, description="A Chroma metadata filter.")
    time_range: list[str | float | None] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="[start, end], ISO 8601 or epoch seconds; either end may be null.",
    )
    mode: str = Field(default=DEFAULT_MODE, description="hybrid, evolvable or lexical.")
    lexical_weight: float = Field(default=DEFAULT_LEXICAL_WEIGHT, description="The lexical share of hybrid.")
    exclude_roles: list[str] = Field(default_factory=list, description="Roles whose messages are left out.")
    exclude_latest: int = Field(default=0, ge=0, description="How many of the latest messages are left out.")
    min_score: float = Field(default=0.0, ge=0, le=1, description="Leave out hits whose calibrated score is lower.")


class GetRequest(Strict):
    """Stored segments of some messages (``ids``), or (``ids`` null) a page of every message in stream order."""

    namespace: str = NAMESPACE
    ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    limit: int | None = Field(default=None, ge=1, description="Messages on the page (null: all).")
    offset: int = Field(default=0, ge=0, description="Messages before the page.")


class DeleteRequest(Strict):
    """Messages to delete; a whole namespace is deleted with ``DELETE /v1/namespaces/{namespace}``."""

    namespace: str = NAMESPACE
    ids: list[str] = Field(max_length=MAX_IDS)


class AddResponse(BaseModel):
    ids: list[str]
    unchanged: list[str] = Field(description="Ids already stored with the same text and metadata, skipped.")

    @classmethod
    def of(cls, result: AddResult) -> AddResponse:
        return cls(ids=list(result), unchanged=result.unchanged)


class IdsResponse(BaseModel):
    ids: list[str]


class ScoresOut(BaseModel):
    evolvable: float | None = Field(description="Cosine similarity (null: not in the evolvable ranking).")
    lexical: float | None = Field(description="BM25 (null: not in the lexical ranking).")
    fused: float | None = Field(description="The fused reciprocal rank (hybrid mode).")


class HitOut(BaseModel):
    id: str
    text: str
    score: float = Field(description="Calibrated relevance, 0 to 1: comparable across queries, namespaces, modes.")
    scores: ScoresOut
    metadata: dict[str, Any]
    timestamp: str | None = Field(description="The message's timestamp, ISO 8601 UTC (null: it had none).")
    created_at: str | None = Field(description="When it was written, ISO 8601 UTC.")

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        metadata: dict[str, Any] = dict(hit.metadata)
        scores = ScoresOut(evolvable=hit.scores.evolvable, lexical=hit.scores.lexical, fused=hit.scores.fused)
        return cls(
            id=hit.id,
            text=hit.text,
            score=hit.score,
            scores=scores,
            metadata=metadata,
            timestamp=iso(metadata.get("timestamp")),
            created_at=iso(metadata.get("created_at")),
        )


class SearchResponse(BaseModel):
    hits: list[HitOut]


class SegmentOut(Record):
    id: str
    part: int
    text: str
    metadata: dict[str, Any]


class GetResponse(BaseModel):
    segments: list[SegmentOut]
    next_offset: int | None = Field(default=None, description="The offset of the next page (null: no more).")


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
