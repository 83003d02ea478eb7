"""``evomem mcp``: the memory as MCP tools (official ``mcp`` SDK), over stdio or streamable HTTP.

Tools: ``remember``, ``recall``, ``forget``, ``list_namespaces``, ``stats``. The namespace is fixed by the server
(``--namespace``) or named in each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..ranking import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE
from ..schema import check_namespace
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
    "metadata (flat)}. Give ids to make a resend harmless."
)
MODE = "hybrid (default: meaning and words), evolvable (meaning, read with the conversation so far) or lexical."
WHERE = "A metadata filter, e.g. {'role': 'user'} or {'name': {'$in': ['Maya', 'Joe']}}."


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The library's bad-input errors, as tool errors the caller reads (not server crashes)."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise ToolError(f"{type(error).__name__}: {error}") from None


def create_mcp(memory: EvoMemory, namespace: str | None = None) -> MCPServer:
    """An MCP server over ``memory``; with ``namespace`` every tool works on that namespace only."""
    fixed = check_namespace(namespace) if namespace is not None else None
    server = MCPServer("evomem", instructions=INSTRUCTIONS)

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
                return AddResponse(ids=memory.add_text(text, name, metadata), unchanged=[])
            added = memory.add_messages([m.model_dump(exclude_none=True) for m in messages or []], name)
            return AddResponse.of(added)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def recall(
        query: Annotated[str, Field(description="What to look up, in natural language: 'What is the dog called?'")],
        k: Annotated[int, Field(ge=1, le=100, description="How many messages to return, best first.")] = 5,
        mode: Annotated[Literal["hybrid", "evolvable", "lexical"], Field(description=MODE)] = DEFAULT_MODE,
        where: Annotated[dict[str, Any] | None, Field(description=WHERE)] = None,
        since: Annotated[str | float | None, Field(description="Only messages from then on (ISO 8601).")] = None,
        until: Annotated[str | float | None, Field(description="Only messages up to then (ISO 8601).")] = None,
        namespace: Namespace = None,
    ) -> SearchResponse:
        """Search long-term memory: the stored messages most relevant to `query`, best first, each with its id,
        text, score and metadata (role, name, timestamp, position in the stream). An unknown namespace has
        no hits."""
        name = resolve(namespace)
        time_range = (since, until) if since is not None or until is not None else None
        with _tool_errors():
            hits = memory.search(
                query, name, k, where=where, time_range=time_range, mode=mode, lexical_weight=DEFAULT_LEXICAL_WEIGHT
            )
        return SearchResponse(hits=[HitOut.model_validate(hit) for hit in hits])

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def forget(
        ids: Annotated[list[str] | None, Field(description="Message ids; none: the WHOLE namespace.")] = None,
        namespace: Namespace = None,
    ) -> DeleteResponse:
        """Delete messages from long-term memory by id (as `recall` returns them), or, without ids, everything
        in the namespace. Reports what was deleted and which ids were not found."""
        name = resolve(namespace)
        with _tool_errors():
            return DeleteResponse.model_validate(memory.delete(name, ids))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_namespaces() -> NamespacesResponse:
        """The namespaces that hold memories."""
        names = memory.namespaces()
        return NamespacesResponse(namespaces=[n for n in names if fixed is None or n == fixed])

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def stats(namespace: Namespace = None) -> StatsResponse:
        """How much a namespace holds: messages, segments and the state of its evolving memory."""
        name = resolve(namespace)
        with _tool_errors():
            return StatsResponse(**memory.stats(name))

    return server
