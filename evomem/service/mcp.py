"""``evomem mcp``: the memory as MCP tools (official ``mcp`` SDK), over stdio or streamable HTTP.

Tools: ``remember``, ``recall``, ``forget``, ``forget_namespace``, ``list_namespaces``, ``stats``. The namespace
is fixed by the server (``--namespace``) or named in each call. Every tool refuses an argument it does not know
(its schema says ``additionalProperties: false``, and the server checks it). ``recall`` answers a language model in
compact lines (score, date, speaker and text, id) and "nothing relevant" when no hit reaches ``min_score``, while
its structured output keeps every field for a program.

The tools' schemas are static, so the server answers ``initialize`` and ``list_tools`` before the model is loaded:
``evomem mcp`` opens the store in a background thread (``OpeningMemory``) and the first tool call waits for it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import InvalidInputError, wire_name
from ..schema import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE, check_namespace
from ..search.calibration import DEFAULT_RECALL_MIN_SCORE
from .models import (
    AddResponse,
    DeleteResponse,
    HitOut,
    MessageIn,
    NamespacesResponse,
    SearchResponse,
    StatsResponse,
)

if TYPE_CHECKING:  # torch loads with the store, when the server starts
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase

    from ..memory import EvoMemory

INSTRUCTIONS = """Long-term memory with evolvable embeddings. Store what the user says and what you learn with
`remember` (chat messages in order, or a document as text), and look it up later with `recall` (a question in
natural language). Each namespace (e.g. one per user or per conversation) is one ordered stream: recall reads a
query with what was stored before it, so it can resolve "she", "the last one", "what changed"."""

Namespace = Annotated[
    str | None,
    Field(description="The memory to use, e.g. 'user:42' (1-256 characters); leave out if the server has one."),
]
MESSAGES = (
    "Chat messages in the order they happened: {content, role (user/assistant/...), name, id, timestamp (ISO 8601), "
    "metadata (flat)}. A resend of the same messages is harmless (see idempotent)."
)
NOTHING = "nothing relevant"
MODE = "hybrid (default: meaning and words), evolvable (meaning, read with the conversation so far) or lexical."
WHERE = "A metadata filter, e.g. {'role': 'user'} or {'name': {'$in': ['Maya', 'Joe']}}."


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The library's bad-input errors, as tool errors the caller reads (not server crashes)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise ToolError(f"{wire_name(error)}: {error}") from None


class OpeningMemory:
    """A store being opened in a background thread (loading the model takes seconds); calling it waits for the
    store, and raises what opening it raised. A failure is also printed to stderr when it happens."""

    def __init__(self, open_store: Callable[[], EvoMemory]):
        self._opened: EvoMemory | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(open_store,), name="evomem-open", daemon=True)
        self._thread.start()

    def _open(self, open_store: Callable[[], EvoMemory]) -> None:
        try:
            self._opened = open_store()
        except BaseException as error:  # handed to every tool call
            self._error = error
            print(f"evomem mcp: the store could not be opened: {type(error).__name__}: {error}", file=sys.stderr)

    def __call__(self) -> EvoMemory:
        self._thread.join()
        if self._error is not None:
            raise ToolError(f"the store could not be opened: {type(self._error).__name__}: {self._error}")
        assert self._opened is not None
        return self._opened


def create_mcp(memory: EvoMemory | OpeningMemory, namespace: str | None = None) -> MCPServer:
    """An MCP server over ``memory`` (a store, or one being opened); with ``namespace`` every tool works on that
    namespace only."""
    fixed = check_namespace(namespace) if namespace is not None else None
    server = MCPServer("evomem", instructions=INSTRUCTIONS)
    store = memory if isinstance(memory, OpeningMemory) else lambda: memory

    def resolve(name: str | None) -> str:
        if name is None:
            if fixed is None:
                raise ToolError("name the namespace (the memory to use), e.g. 'user:42'")
            return fixed
        with _tool_errors():
            name = check_namespace(name)
        if fixed is not None and name != fixed:
            raise ToolError(f"this server holds namespace {fixed!r} only; leave namespace out")
        return name

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True))
    def remember(
        messages: Annotated[list[MessageIn] | None, Field(description=MESSAGES)] = None,
        text: Annotated[str | None, Field(description="A document to store (split into passages).")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="Flat metadata of a text document.")] = None,
        doc_id: Annotated[
            str | None, Field(description="The document's id: storing it again replaces the document.")
        ] = None,
        idempotent: Annotated[
            bool,
            Field(description="Messages without an id get one from their content, so a resend stores nothing new."),
        ] = True,
        namespace: Namespace = None,
    ) -> AddResponse:
        """Store chat messages or a document in long-term memory, after everything stored before in the
        namespace. Pass either `messages` or `text`. Returns the stored ids (messages already stored unchanged
        are listed as `unchanged` and not stored twice)."""
        name = resolve(namespace)
        if (messages is None) == (text is None):
            raise ToolError("pass either messages (a list) or text (a document), not both and not neither")
        with _tool_errors():
            if text is not None:
                return AddResponse(ids=store().add_text(text, name, metadata, doc_id), unchanged=[])
            if metadata is not None or doc_id is not None:
                raise ToolError("metadata and doc_id go with text; a message carries its own metadata")
            dumped = [m.model_dump(exclude_none=True) for m in messages or []]
            return AddResponse.of(store().add_messages(dumped, name, idempotent=idempotent))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def recall(
        query: Annotated[str, Field(description="What to look up, in natural language: 'What is the dog called?'")],
        k: Annotated[int, Field(ge=1, le=100, description="How many messages to return, best first.")] = 5,
        mode: Annotated[Literal["hybrid", "evolvable", "lexical"], Field(description=MODE)] = DEFAULT_MODE,
        where: Annotated[dict[str, Any] | None, Field(description=WHERE)] = None,
        since: Annotated[str | float | None, Field(description="Only messages from then on (ISO 8601).")] = None,
        until: Annotated[str | float | None, Field(description="Only messages up to then (ISO 8601).")] = None,
        min_score: Annotated[
            float,
            Field(ge=0, le=1, description="Leave out hits less relevant than this (0 to 1; 0 keeps every hit)."),
        ] = DEFAULT_RECALL_MIN_SCORE,
        namespace: Namespace = None,
    ) -> Annotated[CallToolResult, SearchResponse]:
        """Search long-term memory: the stored messages most relevant to `query`, best first, one line each
        (relevance 0-1, date, speaker: text, id), or "nothing relevant" when none reaches `min_score`. The
        structured result holds each hit's id, text, score, channel scores, metadata and ISO times."""
        name = resolve(namespace)
        time_range = (since, until) if since is not None or until is not None else None
        with _tool_errors():
            hits = store().search(
                query,
                name,
                k,
                where=where,
                time_range=time_range,
                mode=mode,
                lexical_weight=DEFAULT_LEXICAL_WEIGHT,
                min_score=min_score,
            )
        found = SearchResponse(hits=[HitOut.of(hit) for hit in hits])
        lines = "\n".join(_line(hit) for hit in found.hits) or NOTHING
        return CallToolResult(content=[TextContent(text=lines)], structured_content=found.model_dump(mode="json"))

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def forget(
        ids: Annotated[list[str], Field(description="Message ids, as `recall` returns them.")],
        namespace: Namespace = None,
    ) -> DeleteResponse:
        """Delete messages from long-term memory by id. Reports what was deleted and which ids were not found.
        To delete a whole namespace, use `forget_namespace`."""
        name = resolve(namespace)
        with _tool_errors():
            return DeleteResponse.model_validate(store().delete(name, ids))

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def forget_namespace(
        namespace: Annotated[
            str, Field(description="The namespace to delete, named in full (even on a server that holds one).")
        ],
    ) -> DeleteResponse:
        """Delete a WHOLE namespace: every message in it and its evolving memory. Cannot be undone."""
        name = resolve(namespace)
        with _tool_errors():
            return DeleteResponse.model_validate(store().delete_namespace(name))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_namespaces() -> NamespacesResponse:
        """The namespaces that hold memories."""
        names = store().namespaces()
        return NamespacesResponse(namespaces=[n for n in names if fixed is None or n == fixed])

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def stats(namespace: Namespace = None) -> StatsResponse:
        """How much a namespace holds: messages, segments and the state of its evolving memory."""
        name = resolve(namespace)
        with _tool_errors():
            return StatsResponse(**store().stats(name))

    _refuse_unknown_arguments(server)
    return server


def _line(hit: HitOut) -> str:
    """A hit as one line for a language model: ``[0.82] 2025-03-06 09:15 Maya: I adopted a beagle. (id m1)``."""
    moment = hit.timestamp or hit.created_at
    when = f"{moment[:10]} {moment[11:16]} " if moment else ""
    return f"[{hit.score:.2f}] {when}{' '.join(hit.text.split())} (id {hit.id})"


def _refuse_unknown_arguments(server: MCPServer) -> None:
    """Make every tool's arguments strict: its schema says ``additionalProperties: false`` and the server refuses
    an unknown argument naming the accepted ones (the SDK's argument models ignore unknown ones)."""
    for tool in server._tool_manager.list_tools():  # the SDK has no public way to configure the argument model
        loose = tool.fn_metadata.arg_model
        accepted = ", ".join(loose.model_fields)

        def known(cls: type[BaseModel], data: Any, accepted: str = accepted) -> Any:
            if isinstance(data, dict):
                unknown = [key for key in data if key not in cls.model_fields]
                if unknown:
                    raise InvalidInputError(
                        f"unknown argument {', '.join(map(repr, unknown))}; the arguments are {accepted}"
                    )
            return data

        strict = cast(
            "type[ArgModelBase]",
            type(
                loose.__name__,
                (loose,),
                {
                    "model_config": ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                    # pydantic's stubs take the function only; at run time it takes a classmethod too
                    "_known": model_validator(mode="before")(classmethod(known)),  # type: ignore[arg-type]
                },
            ),
        )
        tool.fn_metadata.arg_model = strict
        tool.parameters = strict.model_json_schema(by_alias=True)
