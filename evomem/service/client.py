"""``EvoMemoryClient``: the ``EvoMemory`` methods over HTTP, against ``evomem serve``.

Arguments are checked here as the library checks them (same ``ValueError``/``TypeError``, before any request);
what only the server can judge comes back as the same exceptions, raised from the server's error body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from typing_extensions import Unpack

from ..errors import (
    AccessDeniedError,
    EvoMemError,
    InvalidInputError,
    InvalidTypeError,
    JournalError,
    LexicalIndexError,
    MemoryClosedError,
    StateCorruptedError,
    StateDatabaseError,
    StateMissingError,
    StoreCorruptedError,
    StoreFullError,
)
from ..schema import (
    DEFAULT_K,
    AddResult,
    ChannelScores,
    DeleteResult,
    Hit,
    Message,
    SearchOptions,
    Segment,
    check_flag,
    check_ids,
    check_ids_to_delete,
    check_k,
    check_listed_namespace,
    check_metadata,
    check_namespace,
    check_page,
    check_text,
    parse_timestamp,
    search_options,
    to_messages,
)
from ..serial import SerialWorker, in_thread

# the server's error names -> what the client raises (an unknown name: ``EvoMemError``)
RAISED: dict[str, type[EvoMemError]] = {
    "ValueError": InvalidInputError,
    "TypeError": InvalidTypeError,
    "StateCorruptedError": StateCorruptedError,
    "StateMissingError": StateMissingError,
    "StoreCorruptedError": StoreCorruptedError,
    "JournalError": JournalError,
    "LexicalIndexError": LexicalIndexError,
    "StateDatabaseError": StateDatabaseError,
}


def _wire(message: Message) -> dict[str, Any]:
    """A validated message as the server's ``MessageIn`` (its timestamp already in epoch seconds)."""
    fields: dict[str, Any] = {"content": message.content, "role": message.role, "name": message.name, "id": message.id}
    fields |= {"timestamp": message.timestamp, "metadata": message.metadata or None}
    return {key: value for key, value in fields.items() if value is not None}


class EvoMemoryClient:
    """A remote ``EvoMemory``: ``EvoMemoryClient("http://127.0.0.1:8765", api_key="evo_...")``.

    Same methods and return types as ``EvoMemory`` (``add_messages`` -> ``AddResult``, ``search`` -> ``list[Hit]``,
    ``get`` -> ``list[Segment]``, ``delete`` and ``delete_namespace`` -> ``DeleteResult``, ``add_text``,
    ``namespaces``, ``stats``); a missing or wrong key, or another tenant's namespace, raises ``AccessDeniedError``
    (a ``PermissionError``). The async twins (``aadd_messages``, ``asearch``, ``aget``, ``adelete``, ...) run in
    worker threads, writes in the order they were awaited.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 120.0):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._writes = SerialWorker("evomem-client-write")  # the async writes' thread: they stay in order

    def close(self) -> None:
        self._writes.shutdown()
        self._http.close()

    def __enter__(self) -> EvoMemoryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **request)
        if response.is_success:
            return response.json()
        try:
            body = response.json()
            error, detail = body["error"], body["detail"]
        except (ValueError, KeyError, TypeError):
            response.raise_for_status()  # not one of the server's error bodies
            raise
        if response.status_code in (401, 403):
            raise AccessDeniedError(f"{self.url}: {detail}")
        if response.status_code == 507:
            raise StoreFullError(detail)
        raise RAISED.get(error, EvoMemError)(detail)

    def add_messages(self, messages: Iterable[Any], namespace: str, idempotent: bool = False) -> AddResult:
        namespace = check_namespace(namespace)
        body: dict[str, Any] = {
            "namespace": namespace,
            "messages": [_wire(message) for message in to_messages(messages)],
        }
        body["idempotent"] = check_flag(idempotent, "idempotent")
        added = self._call("POST", "/v1/messages", json=body)
        return AddResult(added["ids"], added["unchanged"])

    def add_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]:
        body: dict[str, Any] = {"namespace": check_namespace(namespace), "text": check_text(text, "text")}
        body |= {"metadata": check_metadata(metadata) or None, "doc_id": doc_id}
        return self._call("POST", "/v1/text", json=body)["ids"]

    def search(self, query: str, namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]) -> list[Hit]:
        check_text(query, "query")
        check_k(k)
        body = {"namespace": check_namespace(namespace), "query": query, "k": k, **search_options(options)}
        time_range = body["time_range"]
        if time_range is not None:
            if not isinstance(time_range, tuple | list) or len(time_range) != 2:
                raise InvalidTypeError("time_range must be a (start, end) pair")
            body["time_range"] = [parse_timestamp(end) if isinstance(end, datetime) else end for end in time_range]
        found = self._call("POST", "/v1/search", json=body)["hits"]
        return [Hit(h["id"], h["text"], h["score"], h["metadata"], ChannelScores(**h["scores"])) for h in found]

    def get(
        self,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Segment]:
        namespace = check_listed_namespace(namespace)
        limit, offset = check_page(limit, offset)
        body = {"namespace": namespace, "ids": check_ids(ids), "limit": limit, "offset": offset}
        found = self._call("POST", "/v1/get", json=body)["segments"]
        return [Segment(s["id"], s["part"], s["text"], s["metadata"]) for s in found]

    def delete(self, namespace: str, ids: Sequence[str] | None = None) -> DeleteResult:
        body = {"namespace": check_namespace(namespace), "ids": check_ids_to_delete(ids)}
        return DeleteResult(**self._call("POST", "/v1/delete", json=body))

    def delete_namespace(self, namespace: str) -> DeleteResult:
        path = f"/v1/namespaces/{quote(check_namespace(namespace), safe='')}"
        return DeleteResult(**self._call("DELETE", path))

    def namespaces(self) -> list[str]:
        return self._call("GET", "/v1/namespaces")["namespaces"]

    def stats(self, namespace: str) -> dict[str, Any]:
        return self._call("GET", "/v1/stats", params={"namespace": check_namespace(namespace)})

    def _check_open(self) -> None:
        if self._http.is_closed:
            raise MemoryClosedError(f"this EvoMemoryClient ({self.url}) is closed; open a new one")

    aadd_messages = in_thread(add_messages, writes=True)
    aadd_text = in_thread(add_text, writes=True)
    adelete = in_thread(delete, writes=True)
    adelete_namespace = in_thread(delete_namespace, writes=True)
    asearch = in_thread(search)
    aget = in_thread(get)
    anamespaces = in_thread(namespaces)
    astats = in_thread(stats)
