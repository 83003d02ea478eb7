"""The REST server's error bodies and its request-size limit.

Every error is ``{"error": NAME, "detail": TEXT}``: the facade's ``ValueError``/``TypeError`` (and a body that
fails the request model) a 422, a missing or unknown key 401, another tenant's namespace 403, a body past the
limit 413, a full disk 507, a damaged store 500 naming the damage. ``EvoMemoryClient`` raises them back as the
library's exceptions.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import JournalError, StateCorruptedError, StoreCorruptedError, StoreFullError, wire_name

HTTP_NAMES = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 413: "PayloadTooLarge", 503: "Unavailable"}


def error_response(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _validation_detail(error: RequestValidationError) -> tuple[str, str]:
    """``TypeError`` when every problem is a wrong type (as the facade says it), else ``ValueError``."""
    problems = error.errors()
    if any(p["type"] == "json_invalid" for p in problems):
        return "ValueError", "the request body is not valid JSON"
    kind = "TypeError" if all(p["type"].endswith("_type") for p in problems) else "ValueError"
    where = (".".join(str(part) for part in p["loc"] if part != "body") or "body" for p in problems)
    return kind, "; ".join(f"{place}: {p['msg']}" for place, p in zip(where, problems, strict=True))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, *_validation_detail(error))

    @app.exception_handler(ValueError)
    @app.exception_handler(TypeError)
    async def bad_input(request: Request, error: Exception) -> JSONResponse:
        return error_response(422, "TypeError" if isinstance(error, TypeError) else "ValueError", str(error))

    @app.exception_handler(StoreFullError)
    async def disk_full(request: Request, error: StoreFullError) -> JSONResponse:
        return error_response(507, "StoreFullError", error.strerror or str(error))

    @app.exception_handler(StateCorruptedError)
    @app.exception_handler(JournalError)
    @app.exception_handler(StoreCorruptedError)
    async def damaged(request: Request, error: Exception) -> JSONResponse:
        return error_response(500, wire_name(error), str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        name = HTTP_NAMES.get(error.status_code, "HTTPError")
        return error_response(error.status_code, name, str(error.detail), dict(error.headers or {}))


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, by its Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._refuse(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body over {self.limit} bytes; send fewer messages or shorter text per request"
        await error_response(413, "PayloadTooLarge", detail)(scope, receive, send)
