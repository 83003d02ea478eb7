"""The records evomem takes and returns, and the validation of what callers pass in."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from typing_extensions import NotRequired, TypedDict

from .errors import InvalidInputError, InvalidTypeError

__all__ = [
    "DEFAULT_K",
    "DEFAULT_LEXICAL_WEIGHT",
    "DEFAULT_MODE",
    "DEFAULT_MAX_MESSAGE_CHARS",
    "DEFAULT_NAMESPACE",
    "MESSAGE_KEYS",
    "MODES",
    "RESERVED_METADATA",
    "AddResult",
    "Candidate",
    "ChannelScores",
    "DeleteResult",
    "Hit",
    "HitMetadata",
    "Message",
    "SearchOptions",
    "Segment",
    "StoredSegment",
    "check_count",
    "check_ids",
    "check_metadata",
    "check_min_score",
    "check_mode",
    "check_namespace",
    "check_roles",
    "check_text",
    "check_texts",
    "iso_time",
    "parse_timestamp",
    "to_message",
    "to_messages",
]

MAX_NAMESPACE_CHARS = 256
DEFAULT_NAMESPACE = "default"  # the stream of an embedder (``StreamEmbedder``) given no namespace
RESERVED_METADATA = frozenset(
    {
        "namespace",
        "position",
        "message_id",
        "part",
        "role",
        "name",
        "timestamp",
        "fingerprint",
        "kind",
        "created_at",
        "time",
        "doc_id",
    }
)
MESSAGE_KEYS = ("content", "role", "name", "id", "timestamp", "metadata")  # what a message dict may hold
MAX_ID_CHARS = 512
# a message's content, by default (``EvoMemory(max_message_chars=...)``, ``evomem --max-message-chars``): a longer
# text is a document, which ``add_text`` splits into passages; one huge message would hold a namespace's writer
DEFAULT_MAX_MESSAGE_CHARS = 20_000
MAX_KEY_CHARS = 256
INT64 = (-(2**63), 2**63 - 1)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
Scalar = str | int | float | bool
MODES = ("evolvable", "lexical", "hybrid")
DEFAULT_MODE: Final = "hybrid"
DEFAULT_K = 10  # hits a search returns unless asked for another number
DEFAULT_LEXICAL_WEIGHT = 0.1  # the lexical ranking's share; chosen on the training sources' dev parts (docs/search.md)


@dataclass(frozen=True)
class Message:
    """One validated chat message or document chunk."""

    content: str
    role: str = "user"
    name: str | None = None
    id: str | None = None
    timestamp: float | None = None
    metadata: dict[str, Scalar] = field(default_factory=dict)

    @property
    def speaker(self) -> str:
        return self.name or self.role


# A stored segment's metadata: the keys evomem sets, and the message's own (``metadata=``) beside them. (Functional
# syntax: this module's postponed annotations would hide ``NotRequired`` from ``TypedDict``.)
# (mypy does not know PEP 728's ``extra_items`` and reads this TypedDict without its keys.)
HitMetadata = TypedDict(  # type: ignore[misc]  # noqa: UP013
    "HitMetadata",
    {
        "namespace": str,
        "position": int,  # the segment's place in the namespace's stream
        "message_id": str,
        "part": int,  # which part of a long message (0 for the first)
        "role": str,  # a message's role; "document" for ``add_text`` chunks
        "kind": str,  # "message" or "document"
        "fingerprint": str,  # the model that wrote the vector
        "created_at": NotRequired[float],  # when evomem wrote it (epoch seconds, UTC); absent before 0.2
        "time": NotRequired[float],  # ``timestamp`` when the message had one, else ``created_at``
        "name": NotRequired[str],
        "timestamp": NotRequired[float],  # epoch seconds, as the message gave it
        "doc_id": NotRequired[str],  # the document of an ``add_text`` chunk
    },
    extra_items=Scalar,
)


class SearchOptions(TypedDict, total=False):
    """``EvoMemory.search``'s keyword options, every one optional (see ``search`` for what each does)."""

    where: dict[str, Any] | None
    time_range: tuple[Any, Any] | None
    mode: str
    lexical_weight: float
    exclude_roles: Sequence[str]
    exclude_latest: int
    min_score: float


@dataclass(frozen=True)
class ChannelScores:
    """What each ranking said of a hit before calibration (None: that ranking did not place it)."""

    evolvable: float | None = None  # cosine similarity of the query and segment vectors
    lexical: float | None = None  # BM25 over the stored words (0 for no shared word)
    fused: float | None = None  # weighted reciprocal-rank fusion of the two rankings (hybrid mode)


@dataclass(frozen=True)
class Hit:
    """A search result: the best-scoring segment of one message.

    ``score`` is a calibrated relevance from 0 to 1 (higher is more relevant), comparable across queries,
    namespaces and modes, so a caller can threshold it (``min_score``); ``scores`` keeps the raw channel scores.
    """

    id: str
    text: str
    score: float
    metadata: HitMetadata
    scores: ChannelScores = field(default_factory=ChannelScores)


class AddResult(list[str]):
    """What ``add_messages`` returns: the message ids in order (a plain list to compare and iterate), and which of
    them were ``unchanged``, already stored with the same text and metadata, so skipped (a retried write)."""

    def __init__(self, ids: Iterable[str], unchanged: Iterable[str] = ()):
        super().__init__(ids)
        skipped = set(unchanged)
        self.unchanged: list[str] = [message_id for message_id in self if message_id in skipped]

    @property
    def stored(self) -> list[str]:
        """The ids of the messages this call wrote (new ones and updates)."""
        skipped = set(self.unchanged)
        return [message_id for message_id in self if message_id not in skipped]


@dataclass(frozen=True)
class DeleteResult:
    """What ``delete`` removed: ``messages`` and their ``segments`` (parts); ``existed``, whether the namespace
    had any record or memory state; ``missing``, the requested ids it does not hold."""

    namespace: str
    existed: bool
    messages: int
    segments: int
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Segment:
    """A stored segment: one message, or one part of a long message."""

    id: str
    part: int
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StoredSegment:
    """A segment as the store holds it: its record id, text and metadata (evomem's keys and the message's own)."""

    record_id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    """A segment that a ranking placed: its record, its message and its score (higher is better)."""

    record_id: str
    message_id: str
    score: float
    segment: StoredSegment | None = None  # its text and metadata, when the search read them already
    channels: ChannelScores | None = None  # each ranking's score, when two rankings were fused


def check_namespace(namespace: Any) -> str:
    """A namespace in its canonical form: any text of 1-256 characters, not only blanks, without control
    characters, normalised to Unicode NFC (case kept). File and collection names are derived from it by hashing."""
    if not isinstance(namespace, str):
        raise InvalidTypeError(f"namespace must be a string, got {type(namespace).__name__}")
    name = unicodedata.normalize("NFC", _check_unicode(namespace, "namespace"))
    if not name.strip() or len(name) > MAX_NAMESPACE_CHARS:
        limit = MAX_NAMESPACE_CHARS
        raise InvalidInputError(f"invalid namespace {namespace[:40]!r}: use 1-{limit} characters, not only blanks")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidInputError(f"invalid namespace {namespace[:40]!r}: it holds control characters")
    return name


def check_mode(mode: str, lexical_weight: float) -> None:
    if mode not in MODES:
        raise InvalidInputError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if isinstance(lexical_weight, bool) or not isinstance(lexical_weight, int | float) or not 0 <= lexical_weight <= 1:
        raise InvalidInputError(f"lexical_weight must be a number from 0 to 1, got {lexical_weight!r}")


def check_roles(roles: Any) -> list[str]:
    """Roles to leave out of a search: a list of role names; a lone string is refused (it reads as characters)."""
    return [check_text(role, "role") for role in _as_list(roles, "exclude_roles must be a list of roles")]


def check_count(value: Any, what: str) -> int:
    """A whole number of at least 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise InvalidInputError(f"{what} must be 0 or more, got {value}")
    return value


def search_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``SearchOptions`` checked (``where`` and ``time_range`` by whoever uses them), with the defaults filled in."""
    unknown = set(options) - SearchOptions.__optional_keys__
    if unknown:
        known = sorted(SearchOptions.__optional_keys__)
        raise InvalidTypeError(f"unexpected search options {sorted(unknown)}; the options are {known}")
    defaults = {"where": None, "time_range": None, "mode": DEFAULT_MODE, "lexical_weight": DEFAULT_LEXICAL_WEIGHT}
    checked = {**defaults, "exclude_roles": (), "exclude_latest": 0, "min_score": 0.0, **options}
    check_mode(checked["mode"], checked["lexical_weight"])
    checked["exclude_roles"] = check_roles(checked["exclude_roles"])
    check_count(checked["exclude_latest"], "exclude_latest")
    checked["min_score"] = check_min_score(checked["min_score"])
    return checked


def check_min_score(value: Any) -> float:
    """A threshold on the calibrated score: a number from 0 to 1 (0 keeps every hit)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTypeError(f"min_score must be a number from 0 to 1, got {type(value).__name__}")
    if not 0 <= value <= 1:
        raise InvalidInputError(f"min_score must be from 0 to 1, got {value!r}")
    return float(value)


def check_page(limit: Any, offset: Any) -> tuple[int | None, int]:
    """A page of a listing: ``limit`` messages (None: all) after the first ``offset``."""
    if limit is not None and check_count(limit, "limit") == 0:
        raise InvalidInputError("limit must be positive (or None for all)")
    return limit, check_count(offset, "offset")


def check_listed_namespace(namespace: Any) -> str:
    """``get``'s namespace, a keyword there (``get(namespace=...)``) but never optional."""
    if namespace is None:
        raise InvalidTypeError("get() needs the namespace: get(namespace='maya'), or get(ids, namespace)")
    return check_namespace(namespace)


def check_ids_to_delete(ids: Any) -> list[str]:
    """``delete``'s ids: required, so that a missing or misspelt argument never reads as "the whole namespace"."""
    if ids is None:
        raise InvalidTypeError(
            "delete() needs the ids to delete; to delete the whole namespace, use delete_namespace()"
        )
    return check_ids(ids) or []


def check_flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidTypeError(f"k must be an integer, got {type(k).__name__}")
    if k <= 0:
        raise InvalidInputError(f"k must be positive, got {k}")
    return k


def _check_unicode(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def check_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidTypeError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError(f"{what} is empty")
    return _check_unicode(value, what)


def check_message_id(value: Any) -> str:
    """A caller's message id: a non-empty string (or an integer) of printable characters, at most 512."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidTypeError(f"message id must be a string or integer, got {type(value).__name__}")
    value = check_text(str(value), "message id")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(f"message id is {len(value)} characters long; at most {MAX_ID_CHARS} are allowed")
    if CONTROL.search(value):
        raise InvalidInputError(f"message id {value!r} holds control characters")
    return value


def _as_list(values: Any, expected: str) -> list:
    """Any iterable but a lone string, bytes or a mapping (each would be read item by item), as a list."""
    if isinstance(values, str | bytes | Mapping) or not hasattr(values, "__iter__"):
        raise InvalidTypeError(f"{expected}, got {type(values).__name__}")
    return list(values)


def check_ids(ids: Any) -> list[str] | None:
    """None (all) or a list of message ids; a lone string is refused (it would be read as characters)."""
    if ids is None:
        return None
    return [check_message_id(value) for value in _as_list(ids, "ids must be a list of message ids or None")]


def check_texts(texts: Any) -> list[str]:
    """A list of texts to embed; a lone string is refused (it would be read as one text per character)."""
    texts = _as_list(texts, "texts must be a list of strings (wrap a single text in a list)")
    for text in texts:
        if not isinstance(text, str):
            raise InvalidTypeError(f"texts must be strings, got {type(text).__name__}")
    return texts


def parse_timestamp(value: Any) -> float | None:
    """ISO 8601 string, epoch seconds or datetime -> epoch seconds (naive times are taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise InvalidTypeError("timestamp must be ISO 8601 text, epoch seconds or a datetime, got bool")
    elif isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise InvalidInputError(f"timestamp {value!r} is out of range") from None
        if not math.isfinite(seconds):
            raise InvalidInputError(f"timestamp {value!r} is not a finite number")
        return _datable(seconds, value)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInputError(f"unparsable timestamp {value!r}: expected ISO 8601 or epoch seconds") from None
    else:
        raise InvalidTypeError(
            f"timestamp must be ISO 8601 text, epoch seconds or a datetime, got {type(value).__name__}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _datable(moment.timestamp(), value)


def iso_time(seconds: float) -> str:
    """Epoch seconds as ISO 8601 in UTC: ``2025-03-06T09:15:00Z``."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _datable(seconds: float, value: Any) -> float:
    """Epoch seconds that readers can turn back into a date: years 1 to 9999 in UTC."""
    try:
        datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise InvalidInputError(f"timestamp {value!r} is out of range: it must fall in years 1 to 9999 (UTC)") from None
    return seconds


def check_metadata(metadata: Any) -> dict[str, Scalar]:
    """Flat scalar metadata whose keys do not clash with evomem's own."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidTypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    checked = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise InvalidTypeError(f"metadata keys must be strings, got {type(key).__name__}")
        if not key.strip():
            raise InvalidInputError("metadata keys must be non-empty")
        _check_unicode(key, "metadata key")
        if len(key) > MAX_KEY_CHARS or CONTROL.search(key) or key[0] in "$#" or key.startswith("chroma:"):
            raise InvalidInputError(
                f"metadata key {key[:40]!r} is not allowed: keys have at most {MAX_KEY_CHARS} printable characters "
                "and do not start with '$', '#' or 'chroma:'"
            )
        if key in RESERVED_METADATA:
            raise InvalidInputError(
                f"metadata key {key!r} is reserved by evomem; reserved: {sorted(RESERVED_METADATA)}"
            )
        if value is None or not isinstance(value, str | int | float | bool):
            raise InvalidTypeError(
                f"metadata value for {key!r} must be a string, number or bool, got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"metadata value for {key!r} is not finite: {value}")
        if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            raise InvalidInputError(f"metadata value for {key!r} does not fit a 64-bit integer: {value}")
        if isinstance(value, str):
            _check_unicode(value, f"metadata value for {key!r}")
        checked[key] = value
    return checked


def _field(message: Any, name: str, default: Any = None) -> Any:
    if isinstance(message, Mapping):
        return message.get(name, default)
    return getattr(message, name, default)


def to_message(message: Any) -> Message:
    """Validate a dict (or an object with ``content`` and ``role``/``type``) into a Message. A dict holds only
    ``MESSAGE_KEYS``: any other key is refused, so a misspelt one (``"timestmp"``) is never silently dropped."""
    if not isinstance(message, Mapping) and not hasattr(message, "content"):
        raise InvalidTypeError(f"a message must be a dict with 'content' (and 'role'), got {type(message).__name__}")
    if isinstance(message, Mapping):
        unknown = [key for key in message if key not in MESSAGE_KEYS]
        if unknown:
            shown = ", ".join(repr(key) for key in unknown[:5])
            raise InvalidInputError(f"unknown message key {shown}; a message has the keys {', '.join(MESSAGE_KEYS)}")
        if "content" not in message:
            raise InvalidInputError("message has no 'content'")
    if _field(message, "content") is None:
        raise InvalidInputError("message content is None")
    content = check_text(_field(message, "content"), "message content")
    role = _field(message, "role")
    if role is None and not isinstance(message, Mapping):
        role = _field(message, "type")  # a LangChain message object's kind
    role = "user" if role is None else role
    role = getattr(role, "value", role)  # enums such as LlamaIndex's MessageRole
    role = check_text(role, "message role")
    name = _field(message, "name")
    if name is not None:
        name = check_text(name, "message name")
    message_id = _field(message, "id")
    if message_id is not None:
        message_id = check_message_id(message_id)
    return Message(
        content=content,
        role=role,
        name=name,
        id=message_id,
        timestamp=parse_timestamp(_field(message, "timestamp")),
        metadata=check_metadata(_field(message, "metadata")),
    )


def check_max_chars(value: Any) -> int | None:
    """A size cap: a positive whole number of characters, or None for none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"max_message_chars must be a whole number or None, got {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"max_message_chars must be at least 1, got {value}")
    return value


def to_messages(messages: Any, max_chars: int | None = None) -> list[Message]:
    """Validate a batch; duplicate ids within it are an error, and so is a message longer than ``max_chars``."""
    batch = [to_message(message) for message in _as_list(messages, "messages must be a list of messages")]
    for index, message in enumerate(batch):
        if max_chars is not None and len(message.content) > max_chars:
            raise InvalidInputError(
                f"message {index}{f' ({message.id})' if message.id else ''} has {len(message.content):,} characters, "
                f"over the limit of {max_chars:,} (max_message_chars): store a long text with add_text, which "
                "splits it into passages, or raise the limit"
            )
    seen: set[str] = set()
    for message in batch:
        if message.id is not None:
            if message.id in seen:
                raise InvalidInputError(f"duplicate message id {message.id!r} in one batch")
            seen.add(message.id)
    return batch
