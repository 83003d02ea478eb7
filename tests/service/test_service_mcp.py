"""``evomem mcp`` over the real protocol with the MCP SDK's own client: a stdio subprocess and streamable HTTP."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from service_servers import child_env, evomem_command, free_port, start

from evomem import EvoMemory

pytestmark = pytest.mark.system

TOOLS = {"remember", "recall", "forget", "forget_namespace", "list_namespaces", "stats"}
CHAT = [
    {"content": "I adopted a beagle called Pepper.", "id": "m1", "name": "Maya", "timestamp": "2025-03-06T09:15:00"},
    {"content": "Pepper loves the beach.", "id": "m2", "role": "assistant"},
]


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text


def test_every_tool_over_stdio(model_dir, tmp_path):
    path = tmp_path / "store"
    command = evomem_command(model_dir, "mcp", "--path", str(path))
    parameters = StdioServerParameters(command=command[0], args=command[1:], env=child_env())

    async def session() -> list[str]:
        async with Client(parameters, read_timeout_seconds=120) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            assert all(len(tool.description) > 30 for tool in tools.values())
            assert tools["recall"].input_schema["required"] == ["query"]
            assert tools["forget"].annotations.destructive_hint and tools["recall"].annotations.read_only_hint
            stored = await call(client, "remember", namespace="user:42", messages=CHAT)
            assert stored == {"ids": ["m1", "m2"], "unchanged": []}
            assert (await call(client, "remember", namespace="user:42", messages=CHAT[:1]))["unchanged"] == ["m1"]
            notes = await call(client, "remember", namespace="user:42", text="Pepper was born in Porto.")
            assert len(notes["ids"]) == 1
            asked = {"namespace": "user:42", "query": "Where was the dog born?", "k": 3, "min_score": 0}
            hits = (await call(client, "recall", **asked))["hits"]
            expected = EvoMemory(path, model=model_dir).search("Where was the dog born?", "user:42", k=3)
            assert [(h["id"], h["text"], h["metadata"]) for h in hits] == [(h.id, h.text, h.metadata) for h in expected]
            lexical = await call(
                client, "recall", namespace="user:42", query="beagle", mode="lexical", k=1, min_score=0
            )
            assert [hit["id"] for hit in lexical["hits"]] == ["m1"]
            march = {"since": "2025-03-01", "until": "2025-03-31", "min_score": 0}
            since = await call(client, "recall", namespace="user:42", query="Pepper", **march)
            assert [hit["id"] for hit in since["hits"]] == ["m1"]  # the others were written now, without a timestamp
            assert (await call(client, "recall", namespace="nobody", query="dog"))["hits"] == []
            assert (await call(client, "list_namespaces")) == {"namespaces": ["user:42"]}
            assert (await call(client, "stats", namespace="user:42"))["messages"] == 3
            bad = {"content": "x", "metadata": {"role": "admin"}}
            assert "reserved" in await refused(client, "remember", namespace="user:42", messages=[bad])
            assert "either messages" in await refused(client, "remember", namespace="user:42")
            assert "name the namespace" in await refused(client, "recall", query="dog")
            assert "mode" in await refused(client, "recall", namespace="user:42", query="dog", mode="fuzzy")
            assert all(tool.input_schema["additionalProperties"] is False for tool in tools.values())
            typo = await refused(client, "forget", namespace="user:42", id=["m2"])  # `id` for `ids`: refused
            assert "unknown argument 'id'" in typo and "ids, namespace" in typo
            assert "unknown argument 'limit'" in await refused(
                client, "recall", namespace="user:42", query="x", limit=1
            )
            assert (await call(client, "stats", namespace="user:42"))["messages"] == 3
            beagle = {"namespace": "user:42", "query": "beagle", "mode": "lexical", "min_score": 0}
            lines = await client.call_tool("recall", beagle)
            assert (
                lines.content[0]
                .text.splitlines()[0]
                .endswith("2025-03-06 09:15 Maya: I adopted a beagle called Pepper. (id m1)")
            )
            forgot = await call(client, "forget", namespace="user:42", ids=["m2", "nope"])
            assert (forgot["messages"], forgot["missing"]) == (1, ["nope"])
            return notes["ids"]

    notes = asyncio.run(session())
    assert [s.id for s in EvoMemory(path, model=model_dir).get(None, "user:42")] == ["m1", *notes]


def test_a_fixed_namespace_over_streamable_http(model_dir, tmp_path):
    path, port = tmp_path / "store", free_port()
    command = evomem_command(model_dir, "mcp", "--path", str(path), "--transport", "http", "--port", str(port))
    server = start([*command, "--namespace", "maya"], f"http://127.0.0.1:{port}", "/mcp", tmp_path / "mcp.log")
    try:

        async def session() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
                assert (await call(client, "remember", messages=CHAT))["ids"] == ["m1", "m2"]
                hits = (await call(client, "recall", query="What is the dog called?", k=2, min_score=0))["hits"]
                assert {hit["id"] for hit in hits} == {"m1", "m2"}
                assert {hit["metadata"]["namespace"] for hit in hits} == {"maya"}
                assert "holds namespace 'maya' only" in await refused(client, "recall", namespace="joe", query="x")
                assert (await call(client, "list_namespaces")) == {"namespaces": ["maya"]}
                assert "ids" in await refused(client, "forget")  # never the whole namespace by a missing argument
                assert (await call(client, "forget_namespace", namespace="maya"))["existed"] is True
                assert (await call(client, "stats"))["messages"] == 0

        asyncio.run(session())
    finally:
        code = server.stop()
    assert code in (0, -signal.SIGTERM), server.output()
    assert EvoMemory(path, model=model_dir).namespaces() == []


def test_the_tools_are_listed_without_the_model_and_a_call_says_why_it_cannot_run(tmp_path):
    """The server answers ``initialize`` and ``list_tools`` while (here: although) the store cannot be opened: they
    never wait for the model. A tool call then names what went wrong, and the server stays up."""
    missing = tmp_path / "no-such-model"
    command = evomem_command(missing, "mcp", "--path", str(tmp_path / "store"))
    parameters = StdioServerParameters(command=command[0], args=command[1:], env=child_env())

    async def session() -> None:
        async with Client(parameters, read_timeout_seconds=120) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            for _ in range(2):
                why = await refused(client, "recall", namespace="maya", query="dog")
                assert "could not be opened" in why and "ModelNotFoundError" in why and str(missing) in why

    asyncio.run(session())


def test_remember_refuses_a_message_over_the_size_cap(tmp_path, model_dir):
    from evomem.service.mcp import create_mcp

    with EvoMemory(tmp_path / "store", model=model_dir, max_message_chars=50) as memory:

        async def session() -> str:
            async with Client(create_mcp(memory, "maya")) as client:
                return await refused(client, "remember", messages=[{"content": "w" * 51}])

        why = asyncio.run(session())
        assert "ValueError: message 0 has 51 characters, over the limit of 50" in why and "add_text" in why
        assert memory.namespaces() == []


@pytest.mark.parametrize("namespace", ["", "\x00"])
def test_a_bad_fixed_namespace_is_an_error_line(namespace, tmp_path):
    from click.testing import CliRunner

    from evomem.cli import main

    result = CliRunner().invoke(main, ["mcp", "--path", str(tmp_path), "--namespace", namespace])
    assert result.exit_code == 2 and result.output.startswith("Error: invalid namespace")


def test_recall_answers_nothing_relevant_below_its_default_threshold(tmp_path, default_encoder):
    """With the real default model in process (the SDK's in-memory transport): an unrelated question gets the
    "nothing relevant" line, a related one its evidence, and the structured result keeps every field."""
    from evomem.service.mcp import NOTHING, create_mcp

    with EvoMemory(tmp_path / "store", model=default_encoder) as memory:
        memory.add_messages(
            [
                {"content": "I adopted a beagle called Pepper.", "id": "m1", "name": "Maya"},
                {"content": "I am allergic to peanuts, so no satay for me.", "id": "m2", "name": "Maya"},
                {"content": "We moved to Lisbon in May.", "id": "m3", "name": "Maya"},
            ],
            "maya",
        )

        async def session() -> tuple[Any, Any]:
            async with Client(create_mcp(memory, "maya")) as client:
                found = await client.call_tool("recall", {"query": "What is the name of Maya's dog?"})
                unrelated = await client.call_tool("recall", {"query": "Which team won the 1998 football world cup?"})
                said = [{"content": "Remember: the vet is on Friday.", "name": "Maya"}]
                for _ in range(2):  # a language model that sends the same tool call twice stores it once
                    stored = await client.call_tool("remember", {"messages": said})
                assert stored.structured_content["unchanged"] == stored.structured_content["ids"]
                return found, unrelated

        found, unrelated = asyncio.run(session())
        assert memory.stats("maya")["messages"] == 4
    assert found.structured_content["hits"][0]["id"] == "m1" and "(id m1)" in found.content[0].text
    assert found.structured_content["hits"][0]["created_at"].endswith("Z")
    assert unrelated.content[0].text == NOTHING and unrelated.structured_content == {"hits": []}
