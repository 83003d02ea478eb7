"""``evomem serve`` as a real uvicorn process on 127.0.0.1, reached over real HTTP with ``EvoMemoryClient``."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langchain_evomem import EvoChatMessageHistory, EvoMemoryRetriever
from llama_index.core.base.llms.types import ChatMessage
from llama_index.memory.evomem import EvoMemoryBlock
from service_servers import child_env, serve

from evomem import AddResult, DeleteResult, EvoMemory, EvoMemoryClient, Hit, Segment
from evomem.cli import main
from evomem.service.limits import MAX_BODY_BYTES, MAX_K, MAX_MESSAGES, MAX_QUERY_CHARS

pytestmark = pytest.mark.system

A, B = "tenant-a:", "tenant-b:"
CHAT = [
    {"content": "I adopted a beagle called Pepper.", "id": "m1", "name": "Maya", "timestamp": "2025-03-06T09:15:00"},
    {"content": "Pepper loves the beach.", "id": "m2", "role": "assistant", "metadata": {"topic": "dog"}},
    {"content": "We moved to Lisbon in May.", "id": "m3", "timestamp": 1746000000},
]


def wait_for_a_write(url: str) -> None:
    """Until the server has a write running (its request arrived)."""
    deadline = time.monotonic() + 60
    while httpx.get(url + "/readyz").json()["writes"] == 0:
        assert time.monotonic() < deadline, "the write never reached the server"
        time.sleep(0.01)


def long_batch(prefix: str) -> list[dict]:
    """As many messages as a request may carry, long enough that writing them takes a while (seconds)."""
    text = "turn {}: we talked about the weather, the harbour, the bakery on the corner and the long run on Sunday"
    return [{"content": text.format(i), "id": f"{prefix}-{i}"} for i in range(MAX_MESSAGES)]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> dict[str, object]:
    """Two tenants' keys made with `evomem keys add`, and their file."""
    file = tmp_path_factory.mktemp("keys") / "keys.json"
    made: dict[str, object] = {"file": file}
    for prefix in (A, B):
        result = CliRunner().invoke(main, ["keys", "add", "--file", str(file), "--prefix", prefix])
        assert result.exit_code == 0, result.output
        made[prefix] = result.stdout.strip()
    return made


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("served") / "store"


@pytest.fixture(scope="module")
def server(model_dir, store, tokens):
    running = serve(model_dir, store, "--api-keys", str(tokens["file"]), "--workers", "2")
    yield running
    assert running.stop() == -signal.SIGTERM and "Application shutdown complete" in running.output()


@pytest.fixture(scope="module")
def alice(server, tokens):
    with EvoMemoryClient(server.url, api_key=tokens[A]) as client:
        yield client


@pytest.fixture(scope="module")
def bob(server, tokens):
    with EvoMemoryClient(server.url, api_key=tokens[B]) as client:
        yield client


@pytest.fixture(scope="module")
def library(server, store, model_dir):
    """The same store opened in this process, beside the server."""
    return EvoMemory(store, model=model_dir)


def test_a_message_over_the_size_cap_is_a_422_naming_it_and_the_client_raises_it(alice, server, tokens):
    namespace = A + "capped"
    with pytest.raises(ValueError, match="over the limit of 20,000 \\(max_message_chars\\)"):
        alice.add_messages([{"content": "q" * 20_001}], namespace)
    body = {"namespace": namespace, "messages": [{"content": "q" * 20_001}]}
    answer = httpx.post(f"{server.url}/v1/messages", json=body, headers={"Authorization": f"Bearer {tokens[A]}"})
    assert answer.status_code == 422 and answer.json()["error"] == "ValueError"
    assert "over the limit of 20,000" in answer.json()["detail"] and namespace not in alice.namespaces()


def test_a_key_is_printed_once_and_only_its_hash_is_stored(tokens):
    stored = json.loads(tokens["file"].read_text())
    assert [key["prefix"] for key in stored["keys"]] == [A, B]
    for prefix in (A, B):
        assert tokens[prefix].startswith("evo_") and tokens[prefix] not in tokens["file"].read_text()
    listed = CliRunner().invoke(main, ["keys", "list", "--file", str(tokens["file"])]).stdout
    assert "prefix='tenant-a:'" in listed and tokens[A] not in listed


def test_the_client_returns_what_the_library_returns_on_the_same_store(alice, library):
    namespace = A + "user:42"
    added = alice.add_messages(CHAT, namespace)
    assert isinstance(added, AddResult) and added == ["m1", "m2", "m3"] and added.unchanged == []
    again = alice.add_messages(CHAT[:1], namespace)
    assert (again, again.unchanged, again.stored) == (["m1"], ["m1"], [])
    assert alice.add_text("Pepper is two.\n\nShe was born in Porto.", namespace, {"source": "notes"}, "notes")
    found = 0
    for mode in ("hybrid", "evolvable", "lexical"):
        for options in ({}, {"where": {"topic": "dog"}}, {"time_range": ("2025-03-01", None)}):
            remote = alice.search("Where was the dog born?", namespace, k=4, mode=mode, **options)
            local = library.search("Where was the dog born?", namespace, k=4, mode=mode, **options)
            assert all(isinstance(hit, Hit) for hit in remote)
            assert [(h.id, h.text, h.metadata) for h in remote] == [(h.id, h.text, h.metadata) for h in local]
            assert [h.score for h in remote] == pytest.approx([h.score for h in local], abs=1e-5)
            found += len(remote)
    assert found >= 15
    segments = alice.get(None, namespace)
    assert all(isinstance(s, Segment) for s in segments) and segments == library.get(None, namespace)
    assert [s.id for s in alice.get(["m3", "m1"], namespace)] == ["m1", "m3"]
    assert alice.stats(namespace) == library.stats(namespace)
    assert alice.search("dog", A + "nobody") == []  # an unknown namespace: no hits, as in the library
    deleted = alice.delete(namespace, ["m2", "nope"])
    assert deleted == DeleteResult(namespace, True, 1, 1, ["nope"])
    assert "m2" not in {s.id for s in library.get(None, namespace)}


def test_namespaces_of_any_text_travel_as_sent(server, tokens, alice, library):
    headers = {"Authorization": f"Bearer {tokens[A]}"}
    decomposed = unicodedata.normalize("NFD", A + "Émilie")
    for namespace in (A + "thread/1", decomposed, A + "a b?c&d=e#f%2F"):
        body = {"namespace": namespace, "messages": [{"content": f"hello from {namespace}", "id": "x"}]}
        assert httpx.post(server.url + "/v1/messages", json=body, headers=headers).json()["ids"] == ["x"]
        stats = httpx.get(server.url + "/v1/stats", params={"namespace": namespace}, headers=headers).json()
        canonical = unicodedata.normalize("NFC", namespace)
        assert stats["namespace"] == canonical and stats["messages"] == 1
        assert library.get(None, canonical)[0].text == f"user: hello from {namespace}"
    assert {A + "thread/1", A + "Émilie", A + "a b?c&d=e#f%2F"} <= set(alice.namespaces())
    assert alice.delete_namespace(A + "thread/1").existed and A + "thread/1" not in alice.namespaces()


def test_requests_without_a_known_key_get_401(server, tokens):
    calls = [
        ("POST", "/v1/messages", {"namespace": A + "x", "messages": [{"content": "hi"}]}),
        ("POST", "/v1/text", {"namespace": A + "x", "text": "hi"}),
        ("POST", "/v1/search", {"namespace": A + "x", "query": "hi"}),
        ("POST", "/v1/get", {"namespace": A + "x"}),
        ("POST", "/v1/delete", {"namespace": A + "x"}),
        ("GET", "/v1/namespaces", None),
        ("GET", "/v1/stats?namespace=tenant-a%3Ax", None),
    ]
    for headers in ({}, {"Authorization": "Bearer evo_not-a-key"}, {"Authorization": f"Basic {tokens[A]}"}):
        for method, path, body in calls:
            response = httpx.request(method, server.url + path, json=body, headers=headers)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"] == "Unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
    with EvoMemoryClient(server.url) as anonymous, pytest.raises(PermissionError, match="API key is required"):
        anonymous.namespaces()
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").json()["status"] == "ready"
    docs = httpx.get(server.url + "/docs")
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert docs.status_code == 200 and any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:  # served by the server itself, no CDN: the page works offline
        assert asset.startswith(server.url + "/") and httpx.get(asset).status_code == 200, asset
    assert "/v1/search" in httpx.get(server.url + "/openapi.json").json()["paths"]


SUFFIXES = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=SUFFIXES, foreign=st.sampled_from([B, "", "tenant-", "tenant-ab:", "TENANT-A:", " tenant-a:"]))
def test_a_key_never_touches_another_tenants_namespace(alice, bob, suffix, foreign):
    secret = B + "secret"
    if not bob.get(None, secret):
        bob.add_messages([{"content": "the vault code is 1234", "id": "s"}], secret)
    before = bob.stats(secret)
    namespace = unicodedata.normalize("NFC", foreign + suffix)
    if namespace.startswith(A) or not namespace.strip():
        return
    attempts = [
        lambda: alice.search("vault code", namespace),
        lambda: alice.get(None, namespace),
        lambda: alice.stats(namespace),
        lambda: alice.add_messages([{"content": "overwrite"}], namespace),
        lambda: alice.add_text("overwrite", namespace),
        lambda: alice.delete_namespace(namespace),
        lambda: alice.delete(secret, ["s"]),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionError, match="outside this key's prefix"):
            attempt()
    assert bob.stats(secret) == before
    assert all(name.startswith(A) for name in alice.namespaces())
    assert bob.namespaces() == [secret]
    assert alice.search("vault code", A + "../" + secret) == []  # a namespace of A's own, empty


def test_bad_input_raises_what_the_library_raises_and_changes_nothing(alice, library, server, tokens):
    namespace = A + "bad"
    alice.add_messages([{"content": "a first message", "id": "ok"}], namespace)
    before = library.stats(namespace)
    bad = [
        lambda m: m.add_messages([{"content": ""}], namespace),
        lambda m: m.add_messages("hello", namespace),
        lambda m: m.add_messages([{"content": "x", "id": "d"}, {"content": "y", "id": "d"}], namespace),
        lambda m: m.add_messages([{"content": "x", "timestamp": "yesterday"}], namespace),
        lambda m: m.add_messages([{"content": "x", "metadata": {"role": "admin"}}], namespace),
        lambda m: m.add_messages([{"content": "x", "metadata": {"nested": {"a": 1}}}], namespace),
        lambda m: m.add_text("   ", namespace),
        lambda m: m.search("q", namespace, k=0),
        lambda m: m.search("q", namespace, mode="fuzzy"),
        lambda m: m.search("q", namespace, where={"$nope": 1}),
        lambda m: m.search("q", namespace, time_range=("2025-02-01", "2025-01-01")),
        lambda m: m.search("", namespace),
        lambda m: m.get("ok", namespace),
        lambda m: m.stats(A + "\x00"),
        lambda m: m.delete(namespace, ids=[""]),
    ]
    for call in bad:
        with pytest.raises((ValueError, TypeError)) as expected:
            call(library)
        with pytest.raises(type(expected.value)) as raised:
            call(alice)
        assert str(raised.value) == str(expected.value)
    # the same checks made by the server, for a caller that is not EvoMemoryClient
    headers = {"Authorization": f"Bearer {tokens[A]}"}
    raw = [
        ("/v1/messages", {"namespace": namespace, "messages": [{"content": "x", "metadata": {"role": "a"}}]}, "role"),
        ("/v1/messages", {"namespace": namespace, "messages": [{"content": "  "}]}, "empty"),
        ("/v1/messages", {"namespace": namespace, "messages": "hello"}, "messages"),
        ("/v1/search", {"namespace": namespace, "query": "q", "where": {"$nope": 1}}, "where"),
        ("/v1/search", {"namespace": namespace, "query": "q", "time_range": ["2025-02-01", "2025-01-01"]}, "after"),
        ("/v1/search", {"namespace": namespace, "query": "q", "mode": "fuzzy"}, "fuzzy"),
        ("/v1/search", {"namespace": "", "query": "q"}, "namespace"),
        ("/v1/get", {"namespace": namespace, "ids": "ok"}, "ids"),
    ]
    for path, body, named in raw:
        response = httpx.post(server.url + path, json=body, headers=headers)
        assert response.status_code == 422 and named in response.json()["detail"], response.text
    json_headers = {**headers, "Content-Type": "application/json"}
    response = httpx.post(server.url + "/v1/search", content=b"{not json", headers=json_headers)
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]
    assert library.stats(namespace) == before


def test_strict_bodies_explicit_namespace_deletes_paging_and_thresholds(server, tokens, alice, library):
    """The contract over real HTTP: an unknown or misspelt field is a 422 naming it (a delete with ``id`` for
    ``ids`` once emptied a namespace), values are not coerced, a namespace is deleted by its own route, a listing
    pages in stream order, and ``min_score`` cuts the calibrated scores."""
    headers = {"Authorization": f"Bearer {tokens[A]}"}
    namespace = A + "contract"
    alice.add_messages(CHAT, namespace)
    refused = [
        ("/v1/delete", {"namespace": namespace, "id": ["m1"]}, "'id'"),
        ("/v1/delete", {"namespace": namespace}, "ids"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "limit": 1}, "'limit'"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "wher": {"role": "user"}}, "'wher'"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "k": "5"}, "k"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "k": 5.0}, "k"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "k": True}, "k"),
        ("/v1/search", {"namespace": namespace, "query": "dog", "min_score": 2}, "min_score"),
        (
            "/v1/messages",
            {"namespace": namespace, "messages": [{"content": "x", "timestmp": "2025-01-01"}]},
            "timestmp",
        ),
        ("/v1/get", {"namespace": namespace, "limit": 0}, "limit"),
    ]
    for path, body, named in refused:
        response = httpx.post(server.url + path, json=body, headers=headers)
        assert response.status_code == 422 and named in response.json()["detail"], (body, response.text)
    assert (
        "the fields are namespace, ids"
        in httpx.post(server.url + "/v1/delete", json=refused[0][1], headers=headers).text
    )
    assert library.stats(namespace)["messages"] == 3  # nothing was deleted or written
    with pytest.raises(TypeError, match="delete_namespace"):
        alice.delete(namespace)
    # listing: pages of messages in stream order, with the next page's offset
    pages, offset = [], 0
    while offset is not None:
        body = {"namespace": namespace, "limit": 2, "offset": offset}
        page = httpx.post(server.url + "/v1/get", json=body, headers=headers).json()
        pages.append([segment["id"] for segment in page["segments"]])
        offset = page["next_offset"]
    assert pages == [["m1", "m2"], ["m3"]]
    assert [s.id for s in alice.get(namespace=namespace, limit=1, offset=1)] == ["m2"]
    # calibrated scores with their channels and ISO times; min_score as the library applies it
    hits = httpx.post(server.url + "/v1/search", json={"namespace": namespace, "query": "beagle"}, headers=headers)
    first = hits.json()["hits"][0]
    assert 0 <= first["score"] <= 1 and set(first["scores"]) == {"evolvable", "lexical", "fused"}
    assert first["created_at"].endswith("Z") and first["id"] == "m1" and first["timestamp"] == "2025-03-06T09:15:00Z"
    cut = library.search("beagle", namespace)[1].score
    remote = alice.search("beagle", namespace, min_score=cut)
    assert [h.id for h in remote] == [h.id for h in library.search("beagle", namespace, min_score=cut)]
    assert all(h.score >= cut for h in remote) and remote[0].scores == library.search("beagle", namespace)[0].scores
    # safe re-runs without ids, through the client
    chat = [{"content": "ok"}, {"content": "ok"}]
    assert alice.add_messages(chat, namespace, idempotent=True).unchanged == []
    assert len(alice.add_messages(chat, namespace, idempotent=True).unchanged) == 2
    # a document added again under its doc_id replaces all of its chunks
    long = "\n\n".join(f"Part {i}. " + "The harbour was quiet that morning. " * 12 for i in range(3))
    assert len(alice.add_text(long, namespace, doc_id="doc")) > 1
    assert alice.add_text("Short now.", namespace, doc_id="doc") == ["doc-0"]
    assert [s.text for s in library.get(namespace=namespace) if s.id.startswith("doc-")] == ["Short now."]
    # a whole namespace: its own route, URL-encoded
    odd = A + "a/b?c#d"
    alice.add_messages(CHAT[:1], odd)
    response = httpx.delete(server.url + "/v1/namespaces/" + quote(odd, safe=""), headers=headers)
    assert response.status_code == 200 and response.json()["existed"] is True and odd not in alice.namespaces()
    deleted = alice.delete_namespace(namespace)
    assert (deleted.existed, deleted.messages) == (True, 6) and not alice.delete_namespace(namespace).existed


def test_limits_give_413_and_422(server, tokens):
    headers = {"Authorization": f"Bearer {tokens[A]}"}
    namespace = A + "limits"
    big = {"namespace": namespace, "text": "word " * (MAX_BODY_BYTES // 5 + 10)}
    response = httpx.post(server.url + "/v1/text", json=big, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLarge"

    def chunks():  # no Content-Length: counted as it streams in
        yield b'{"namespace": "tenant-a:limits", "text": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = httpx.post(server.url + "/v1/text", content=chunks(), headers=headers)
    assert response.status_code == 413
    too_many = {"namespace": namespace, "messages": [{"content": "hi"}] * (MAX_MESSAGES + 1)}
    response = httpx.post(server.url + "/v1/messages", json=too_many, headers=headers)
    assert response.status_code == 422 and f"at most {MAX_MESSAGES}" in response.json()["detail"]
    response = httpx.post(server.url + "/v1/search", json={"namespace": namespace, "query": "q", "k": MAX_K + 1})
    assert response.status_code == 401  # auth first
    for body in ({"query": "q", "k": MAX_K + 1}, {"query": "q" * (MAX_QUERY_CHARS + 1)}):
        response = httpx.post(server.url + "/v1/search", json={"namespace": namespace, **body}, headers=headers)
        assert response.status_code == 422, response.text
    assert httpx.get(server.url + "/v1/stats", params={"namespace": namespace}, headers=headers).json()["segments"] == 0


def test_serve_refuses_no_auth_off_loopback_and_a_missing_key_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["serve", "--no-auth", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback" in result.output
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 2 and "--api-keys FILE" in result.output
    result = runner.invoke(main, ["serve", "--api-keys", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "no API keys in" in result.output
    result = runner.invoke(main, ["mcp", "--transport", "http", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback" in result.output


def test_langchain_history_and_retriever_over_a_live_server(alice):
    history = EvoChatMessageHistory(alice, session_id=A + "lc")
    history.add_messages([HumanMessage("I adopted a beagle called Pepper.", id="h1"), AIMessage("Lovely!", id="h2")])
    assert [(type(m), m.content, m.id) for m in history.messages] == [
        (HumanMessage, "I adopted a beagle called Pepper.", "h1"),
        (AIMessage, "Lovely!", "h2"),
    ]
    docs = EvoMemoryRetriever(memory=alice, namespace=A + "lc", k=1, mode="lexical").invoke("beagle")
    assert [(d.id, d.page_content, d.metadata["speaker"]) for d in docs] == [
        ("h1", "user: I adopted a beagle called Pepper.", "user")
    ]
    evolvable = EvoMemoryRetriever(memory=alice, namespace=A + "lc", k=2, mode="evolvable")
    assert [d.id for d in evolvable.invoke("beagle", exclude_latest=1)] == ["h1"]  # left out on the server
    assert [d.id for d in asyncio.run(evolvable.ainvoke("beagle", exclude_roles=["user"]))] == ["h2"]
    asyncio.run(history.aclear())
    assert asyncio.run(history.aget_messages()) == [] and A + "lc" not in alice.namespaces()


def test_llamaindex_memory_block_over_a_live_server(alice):
    block = EvoMemoryBlock(memory=alice, namespace=A + "li", k=1, mode="lexical")
    asyncio.run(block.aput([ChatMessage(role="user", content="My sister Ana lives in Porto.")]))
    recalled = asyncio.run(block.aget([ChatMessage(role="user", content="Where does Ana live?")]))
    assert recalled == "user: My sister Ana lives in Porto."


def test_service_help_and_refusals_load_no_server_or_model_library():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from evomem.cli import main\n"
        "runner = CliRunner()\n"
        "for args in (['serve', '--help'], ['mcp', '--help'], ['keys', 'add', '--help'], ['serve', '--no-auth', "
        "'--host', '0.0.0.0']):\n"
        "    assert runner.invoke(main, args).exit_code in (0, 2), args\n"
        "print(sorted({'torch', 'chromadb', 'fastapi', 'uvicorn', 'mcp', 'httpx'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env())
    assert result.stdout == "[]\n"


def test_writes_of_one_namespace_keep_arrival_order_and_reads_do_not_wait(server, tokens, alice):
    namespace = A + "ordered"
    alice.add_messages([{"content": "the first message, already stored", "id": "seed"}], namespace)
    big = long_batch("big")
    small = [[{"content": f"small batch {i} turn {j}", "id": f"b{i}-{j}"} for j in range(2)] for i in range(6)]
    done: dict[str, float] = {}
    clients = [EvoMemoryClient(server.url, api_key=tokens[A]) for _ in range(len(small) + 1)]

    def send(client: EvoMemoryClient, name: str, batch: list[dict], delay: float) -> None:
        time.sleep(delay)
        client.add_messages(batch, namespace)
        done[name] = time.monotonic()

    writers = [threading.Thread(target=send, args=(clients[0], "big", big, 0))]
    writers[0].start()
    wait_for_a_write(server.url)
    writers += [
        threading.Thread(target=send, args=(client, f"b{i}", b, 0.08 * i))
        for i, (client, b) in enumerate(zip(clients[1:], small, strict=True))
    ]
    for writer in writers[1:]:
        writer.start()
    during = alice.search("message", namespace, k=5)  # while the big batch is being written
    read_at = time.monotonic()
    for writer in writers:
        writer.join(timeout=120)
    for client in clients:
        client.close()
    assert read_at < done["big"], "the read waited for the write"
    assert [hit.id for hit in during] == ["seed"]  # readers see committed batches only
    order = [s.id for s in alice.get(None, namespace)]
    assert order == ["seed"] + [m["id"] for m in big] + [m["id"] for b in small for m in b]
    assert alice.stats(namespace)["memory_step"] == len(order)


def test_sigterm_during_a_write_finishes_the_batch_then_stops(server, tokens, store, model_dir):
    """Last in this file: it stops the module's server."""
    batch = long_batch("t")
    answer: dict[str, object] = {}

    def write() -> None:
        with EvoMemoryClient(server.url, api_key=tokens[A]) as client:
            answer["ids"] = client.add_messages(batch, A + "talk")
        answer["at"] = time.monotonic()

    writer = threading.Thread(target=write)
    writer.start()
    wait_for_a_write(server.url)
    terminated_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    writer.join(timeout=120)
    assert server.process.wait(timeout=60) == -signal.SIGTERM, server.output()  # uvicorn re-raises it when done
    assert "Application shutdown complete" in server.output()
    assert answer["at"] > terminated_at, "the batch was not in flight at SIGTERM"
    assert answer["ids"] == [m["id"] for m in batch]
    reopened = EvoMemory(store, model=model_dir)  # the store as the next server opens it
    assert [s.id for s in reopened.get(None, A + "talk")] == answer["ids"]
    assert reopened.stats(A + "talk")["memory_step"] == len(batch) and reopened.recovered == []


def test_keys_are_revoked_rotated_added_and_expire_while_the_server_keeps_running(model_dir, tmp_path):
    file = tmp_path / "keys.json"

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["keys", *args, "--file", str(file)])
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    gone, turned = cli("add", "--prefix", A, "--name", "gone"), cli("add", "--prefix", B, "--name", "turned")
    lapsed = cli("add", "--prefix", A, "--name", "lapsed", "--expires", "2020-01-01")
    running = serve(model_dir, tmp_path / "store", "--api-keys", str(file))
    try:

        def status(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.get(f"{running.url}/v1/namespaces", headers=headers, timeout=30).status_code

        assert (status(gone), status(turned), status(lapsed)) == (200, 200, 401)  # lapsed expired in 2020
        assert cli("revoke", "gone") == "revoked gone (prefix 'tenant-a:')"
        assert status(gone) == 401
        new = cli("rotate", "turned")
        assert (status(turned), status(new)) == (401, 200)
        added = cli("add", "--prefix", A, "--name", "later")
        assert status(added) == 200
        listed = cli("list")
        assert "gone" not in listed and "lapsed  prefix='tenant-a:'  expires=2020-01-01T00:00:00Z" in listed
        assert running.process.poll() is None  # the same process all along
        unknown = CliRunner().invoke(main, ["keys", "revoke", "nobody", "--file", str(file)])
        assert unknown.exit_code == 2 and "no key named 'nobody'; its keys: turned, lapsed, later" in unknown.output
    finally:
        running.stop()


def test_the_request_body_cap_is_configurable(model_dir, tmp_path):
    running = serve(model_dir, tmp_path / "store", "--no-auth", "--max-body-bytes", "2048")
    try:
        body = {"namespace": "n", "messages": [{"content": "word " * 500}]}  # about 2.5 KB
        answer = httpx.post(f"{running.url}/v1/messages", json=body, timeout=60)
        assert answer.status_code == 413 and "over 2048 bytes" in answer.json()["detail"]
        small = {"namespace": "n", "messages": [{"content": "word " * 100}]}
        assert httpx.post(f"{running.url}/v1/messages", json=small, timeout=120).status_code == 200
    finally:
        running.stop()
