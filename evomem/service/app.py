"""The REST API over one ``EvoMemory``: routes, auth and lifespan (``evomem serve``).

Namespaces travel in the JSON body (or the query string of a GET), so any namespace text works as sent. Each
request acts for the tenant of its bearer key and may only touch namespaces with that tenant's prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_swagger import patch_fastapi

from ..schema import check_namespace
from ..version import __version__
from .auth import UNRESTRICTED, KeyFile, Tenant
from .http import BodyLimit, install_error_handlers
from .limits import MAX_BODY_BYTES
from .models import (
    AddMessagesRequest,
    AddResponse,
    AddTextRequest,
    DeleteRequest,
    DeleteResponse,
    ErrorResponse,
    GetRequest,
    GetResponse,
    HitOut,
    IdsResponse,
    NamespacesResponse,
    SearchRequest,
    SearchResponse,
    SegmentOut,
    StatsResponse,
)
from .work import Workers

if TYPE_CHECKING:  # torch loads with the store, when the server starts
    from ..memory import EvoMemory

bearer = HTTPBearer(auto_error=False, description="An API key made with `evomem keys add`.")
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (401, 403, 413, 422)}


async def tenant(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Tenant:
    """The tenant of the request's bearer key (401 without a known one); everyone's without auth.

    Async, so that it runs on the event loop: a request reaches its namespace's write queue in arrival order.
    """
    keys: KeyFile | None = request.app.state.keys
    if keys is None:
        return UNRESTRICTED
    found = keys.tenant(credentials.credentials) if credentials is not None else None
    if found is None:
        detail = "an API key is required" if credentials is None else "unknown API key"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
    return found


Caller = Annotated[Tenant, Depends(tenant)]


def owned(caller: Tenant, namespace: str) -> str:
    """The namespace in canonical form, if the caller's tenant owns it (else 403)."""
    namespace = check_namespace(namespace)
    if not caller.owns(namespace):
        raise HTTPException(403, f"namespace {namespace[:40]!r} is outside this key's prefix {caller.prefix!r}")
    return namespace


def service(request: Request) -> tuple[EvoMemory, Workers]:
    return request.app.state.memory, request.app.state.work


def create_app(
    open_memory: Callable[[], EvoMemory],
    keys: KeyFile | None,
    workers: int = 2,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The server's app; ``keys=None`` serves without auth (the CLI allows that on loopback only); a body over
    ``max_body_bytes`` is refused with 413."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = Workers(workers)
        app.state.memory = await pool.read(open_memory)
        app.state.work = pool
        try:
            yield
        finally:  # uvicorn has let the requests in flight finish; their threads are done or about to be
            pool.close()

    app = FastAPI(
        title="evomem",
        version=__version__,
        lifespan=lifespan,
        responses=ERRORS,
        docs_url=None,  # served below from fastapi-swagger's copy of Swagger UI: /docs works offline
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    patch_fastapi(app, redirect_from_root_to_docs=False)
    app.state.keys = keys
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    install_error_handlers(app)

    @app.post("/v1/messages", response_model=AddResponse, tags=["write"])
    async def add_messages(body: AddMessagesRequest, caller: Caller, request: Request) -> AddResponse:
        """Append chat messages to a namespace's stream (one atomic batch), as ``EvoMemory.add_messages``."""
        memory, work = service(request)
        namespace = owned(caller, body.namespace)
        messages = [message.model_dump(exclude_none=True) for message in body.messages]
        added = await work.write(namespace, memory.add_messages, messages, namespace, idempotent=body.idempotent)
        return AddResponse.of(added)

    @app.post("/v1/text", response_model=IdsResponse, tags=["write"])
    async def add_text(body: AddTextRequest, caller: Caller, request: Request) -> IdsResponse:
        """Append a document, split by paragraphs and sentences; one id per chunk."""
        memory, work = service(request)
        namespace = owned(caller, body.namespace)
        ids = await work.write(namespace, memory.add_text, body.text, namespace, body.metadata, body.doc_id)
        return IdsResponse(ids=ids)

    @app.post("/v1/search", response_model=SearchResponse, tags=["read"])
    async def search(body: SearchRequest, caller: Caller, request: Request) -> SearchResponse:
        """The ``k`` best messages for a query (every mode and filter of ``EvoMemory.search``)."""
        memory, work = service(request)
        namespace = owned(caller, body.namespace)
        hits = await work.read(
            memory.search,
            body.query,
            namespace,
            k=body.k,
            where=body.where,
            time_range=None if body.time_range is None else tuple(body.time_range),
            mode=body.mode,
            lexical_weight=body.lexical_weight,
            exclude_roles=body.exclude_roles,
            exclude_latest=body.exclude_latest,
            min_score=body.min_score,
        )
        return SearchResponse(hits=[HitOut.of(hit) for hit in hits])

    @app.post("/v1/get", response_model=GetResponse, tags=["read"])
    async def get(body: GetRequest, caller: Caller, request: Request) -> GetResponse:
        """Stored segments of the given message ids, or (ids null) a page of every message (``limit`` messages
        after ``offset``), in stream order; ``next_offset`` is the next page's offset (null: no more)."""
        memory, work = service(request)
        namespace = owned(caller, body.namespace)
        asked = None if body.limit is None else body.limit + 1  # one more tells whether a next page exists
        segments = await work.read(memory.get, body.ids, namespace, limit=asked, offset=body.offset)
        messages = list(dict.fromkeys(segment.id for segment in segments))
        next_offset = None
        if body.limit is not None and len(messages) > body.limit:
            segments = [segment for segment in segments if segment.id != messages[-1]]
            next_offset = body.offset + body.limit
        return GetResponse(segments=[SegmentOut.model_validate(s) for s in segments], next_offset=next_offset)

    @app.post("/v1/delete", response_model=DeleteResponse, tags=["write"])
    async def delete(body: DeleteRequest, caller: Caller, request: Request) -> DeleteResponse:
        """Delete messages by id (``ids`` is required; a namespace is deleted with ``DELETE /v1/namespaces/...``)."""
        memory, work = service(request)
        namespace = owned(caller, body.namespace)
        return DeleteResponse.model_validate(await work.write(namespace, memory.delete, namespace, body.ids))

    @app.delete("/v1/namespaces/{namespace:path}", response_model=DeleteResponse, tags=["write"])
    async def delete_namespace(
        namespace: Annotated[str, Path(description="The namespace, URL-encoded")], caller: Caller, request: Request
    ) -> DeleteResponse:
        """Delete a whole namespace: every message and its memory state (``existed`` false: it held nothing)."""
        memory, work = service(request)
        namespace = owned(caller, namespace)
        return DeleteResponse.model_validate(await work.write(namespace, memory.delete_namespace, namespace))

    @app.get("/v1/namespaces", response_model=NamespacesResponse, tags=["read"])
    async def namespaces(caller: Caller, request: Request) -> NamespacesResponse:
        """The namespaces this key's tenant owns."""
        memory, work = service(request)
        names = await work.read(memory.namespaces)
        return NamespacesResponse(namespaces=[name for name in names if caller.owns(name)])

    @app.get("/v1/stats", response_model=StatsResponse, tags=["read"])
    async def stats(namespace: Annotated[str, Query()], caller: Caller, request: Request) -> StatsResponse:
        """Segments, messages and memory state of one namespace."""
        memory, work = service(request)
        return StatsResponse(**await work.read(memory.stats, owned(caller, namespace)))

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> dict[str, str | int]:
        """The store is open and the model loaded: requests are served; ``writes``: running or queued."""
        memory, work = service(request)
        return {"status": "ready", "fingerprint": memory.fingerprint, "writes": work.writes}

    return app
