"""EvoStore against the behaviour LangGraph documents for BaseStore, compared with LangGraph's InMemoryStore, and
used from a real LangGraph graph through get_store()."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TypedDict

import pytest
from langchain_evomem import EvoStore
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import GetOp, InvalidNamespaceError, ListNamespacesOp, PutOp, SearchItem, SearchOp
from langgraph.store.memory import InMemoryStore

from evomem import EvoMemory

MEMORIES = {
    ("users", "maya", "memories"): {
        "pet": {"text": "Maya adopted a beagle called Pepper.", "kind": "pet", "year": 2025},
        "race": {"text": "Maya ran a half marathon in Lisbon with her sister Ana.", "kind": "sport", "year": 2025},
        "job": {"text": "Maya works as a nurse at the city hospital.", "kind": "work", "year": 2021},
    },
    ("users", "leo", "memories"): {
        "job": {"text": "Leo quit the bakery and now works at a cafe by the harbour.", "kind": "work", "year": 2025},
        "plan": {"text": "Leo plans to open his own bakery near the harbour.", "kind": "work", "year": 2026},
    },
    ("docs", "manuals"): {"oven": {"text": "Preheat the oven to 220 degrees before baking sourdough."}},
}


def fill(store) -> None:
    store.batch([PutOp(namespace, key, value) for namespace, items in MEMORIES.items() for key, value in items.items()])


@pytest.fixture
def store(memory) -> EvoStore:
    store = EvoStore(memory, fields=["text"])
    fill(store)
    return store


def test_put_get_update_delete(store):
    item = store.get(("users", "maya", "memories"), "pet")
    assert item.value == MEMORIES[("users", "maya", "memories")]["pet"]
    assert item.key == "pet" and item.namespace == ("users", "maya", "memories")
    assert isinstance(item.created_at, datetime) and item.created_at.tzinfo is not None
    assert store.get(("users", "maya", "memories"), "missing") is None
    assert store.get(("users", "maya"), "pet") is None  # namespaces are exact for get
    store.put(("users", "maya", "memories"), "pet", {"text": "Pepper the beagle is four now.", "kind": "pet"})
    updated = store.get(("users", "maya", "memories"), "pet")
    assert updated.value["text"] == "Pepper the beagle is four now."
    assert updated.created_at == item.created_at and updated.updated_at > item.updated_at
    store.delete(("users", "maya", "memories"), "pet")
    assert store.get(("users", "maya", "memories"), "pet") is None
    keys = [hit.key for hit in store.search(("users", "maya"), query="the dog", limit=10)]
    assert "pet" not in keys and len(keys) == 2


def test_semantic_search_in_a_namespace(store):
    hits = store.search(("users", "maya", "memories"), query="What is the name of Maya's dog?", limit=2)
    assert [hit.key for hit in hits][0] == "pet" and len(hits) == 2
    assert all(isinstance(hit, SearchItem) and isinstance(hit.score, float) for hit in hits)
    assert hits[0].score >= hits[1].score


def test_search_merges_namespaces_under_a_prefix(store):
    hits = store.search(("users",), query="Who works at a cafe by the harbour?", limit=10)
    assert {hit.namespace for hit in hits} == {("users", "maya", "memories"), ("users", "leo", "memories")}
    assert len(hits) == 5 and (hits[0].namespace, hits[0].key) == (("users", "leo", "memories"), "job")
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(store.search((), query="sourdough", limit=100)) == 6


def test_filters_with_and_without_query(store):
    work = store.search(("users",), filter={"kind": "work"}, limit=10)
    assert {(hit.namespace[1], hit.key) for hit in work} == {("maya", "job"), ("leo", "job"), ("leo", "plan")}
    assert all(hit.score is None for hit in work)
    recent = store.search(("users",), query="bakery", filter={"kind": "work", "year": {"$gte": 2025}}, limit=10)
    assert {hit.key for hit in recent} == {"job", "plan"} and all(h.namespace[1] == "leo" for h in recent)
    assert store.search(("users",), filter={"year": {"$gt": 2025, "$lt": 2027}})[0].key == "plan"
    assert {h.key for h in store.search(("users", "maya"), filter={"kind": {"$ne": "pet"}})} == {"race", "job"}
    with pytest.raises(ValueError, match="unsupported filter operators"):
        store.search(("users",), filter={"year": {"$regex": "20"}})


def test_limit_offset_and_order(store):
    everything = store.search(("users",), query="Lisbon", limit=10)
    assert [h.key for h in store.search(("users",), query="Lisbon", limit=2, offset=1)] == [
        h.key for h in everything[1:3]
    ]
    newest_first = store.search(("users",), limit=10)
    assert [h.updated_at for h in newest_first] == sorted((h.updated_at for h in newest_first), reverse=True)


def test_search_mode_is_a_setting(memory):
    store = EvoStore(memory, fields=["text"], search_mode="lexical")
    store.put(("users", "u1"), "a", {"text": "likes the cello"})
    store.put(("users", "u1"), "b", {"text": "works at the harbour"})
    found = store.search(("users", "u1"), query="cello")
    assert [item.key for item in found if item.score is not None] == ["a"]  # only the item sharing a word
    with pytest.raises(ValueError, match="unknown search mode"):
        EvoStore(memory, search_mode="dense")


def test_index_options(memory):
    store = EvoStore(memory)  # default: the whole value is indexed as JSON
    store.put(("notes",), "a", {"text": "The beagle is called Pepper."})
    store.put(("notes",), "b", {"text": "Pepper likes the park.", "secret": "x"}, index=False)
    store.put(("notes",), "c", {"title": "Harbour cafe", "body": "Leo works here."}, index=["title"])
    hits = store.search(("notes",), query="What is the dog called?", limit=10)
    assert [h.key for h in hits[:2]] == ["a", "c"] or [h.key for h in hits[:2]] == ["c", "a"]
    assert hits[-1].key == "b" and hits[-1].score is None  # not indexed: after scored items, without a score
    assert store.get(("notes",), "b").value["secret"] == "x"
    stored = memory.get(None, store_namespace(("notes",)))
    assert [s.text for s in stored if s.id == "c"] == ["memory: Harbour cafe"]


def store_namespace(namespace):
    from langchain_evomem.store import evomem_namespace

    return evomem_namespace(namespace)


def test_list_namespaces_matches_inmemorystore(store):
    reference = InMemoryStore()
    fill(reference)
    cases = [
        {},
        {"prefix": ("users",)},
        {"suffix": ("memories",)},
        {"prefix": ("users", "*", "memories")},
        {"max_depth": 2},
        {"prefix": ("users",), "max_depth": 2, "limit": 1, "offset": 1},
    ]
    for case in cases:
        assert store.list_namespaces(**case) == reference.list_namespaces(**case), case
    for query in [{"filter": {"kind": "work"}}, {"filter": {"year": {"$lte": 2021}}}, {}]:
        ours = {(h.namespace, h.key) for h in store.search(("users",), limit=50, **query)}
        theirs = {(h.namespace, h.key) for h in reference.search(("users",), limit=50, **query)}
        assert ours == theirs, query


def test_batch_runs_in_order(store):
    ns = ("users", "ana", "memories")
    results = store.batch(
        [
            PutOp(ns, "k1", {"text": "Ana lives in Porto."}),
            GetOp(ns, "k1"),
            PutOp(ns, "k1", None),
            GetOp(ns, "k1"),
            PutOp(ns, "k2", {"text": "Ana is a violinist."}),
            SearchOp(("users", "ana"), query="music", limit=5),
            ListNamespacesOp(max_depth=1),
        ]
    )
    assert results[0] is None and results[1].value == {"text": "Ana lives in Porto."}
    assert results[3] is None
    assert [h.key for h in results[5]] == ["k2"]
    assert results[6] == [("docs",), ("users",)]


def test_async_api(store):
    async def run():
        await store.aput(("users", "maya", "memories"), "car", {"text": "Maya drives a red bicycle, not a car."})
        item = await store.aget(("users", "maya", "memories"), "car")
        hits = await store.asearch(("users", "maya"), query="Maya rides a red bicycle", limit=1)
        spaces = await store.alist_namespaces(prefix=("users",))
        await store.adelete(("users", "maya", "memories"), "car")
        return item, hits, spaces, await store.aget(("users", "maya", "memories"), "car")

    item, hits, spaces, gone = asyncio.run(run())
    assert item.value["text"].startswith("Maya drives") and hits[0].key == "car"
    assert spaces == [("users", "leo", "memories"), ("users", "maya", "memories")] and gone is None


def test_invalid_namespaces_are_rejected(store):
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"text": "no"})
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"text": "no"})
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"text": "no"})
    with pytest.raises(NotImplementedError):
        store.put(("notes",), "k", {"text": "no"}, ttl=5)


def test_reopening_keeps_items_and_search(store, evo_encoder):
    reopened = EvoStore(EvoMemory(store.memory.path, model=evo_encoder), fields=["text"])
    assert reopened.get(("docs", "manuals"), "oven").value == MEMORIES[("docs", "manuals")]["oven"]
    assert reopened.search(("docs",), query="baking temperature")[0].key == "oven"


class ChatState(TypedDict):
    user: str
    message: str
    recalled: list[str]


def remember_and_recall(state: ChatState) -> dict:
    store = get_store()
    namespace = ("users", state["user"], "memories")
    recalled = [hit.value["text"] for hit in store.search(namespace, query=state["message"], limit=2)]
    count = len(store.search(namespace, limit=100))
    store.put(namespace, f"m{count}", {"text": state["message"]})
    return {"recalled": recalled}


def test_used_from_a_langgraph_node(memory):
    store = EvoStore(memory, fields=["text"])
    builder = StateGraph(ChatState)
    builder.add_node("memory", remember_and_recall)
    builder.add_edge(START, "memory")
    builder.add_edge("memory", END)
    graph = builder.compile(store=store)
    for message in ["My dog is a beagle called Pepper.", "I work at a bakery.", "I love hiking in the Alps."]:
        graph.invoke({"user": "maya", "message": message, "recalled": []})
    result = graph.invoke({"user": "maya", "message": "What is my dog's name?", "recalled": []})
    assert result["recalled"][0] == "My dog is a beagle called Pepper."
    other = graph.invoke({"user": "leo", "message": "What is my dog's name?", "recalled": []})
    assert other["recalled"] == []  # per-user namespaces are isolated
    assert store.list_namespaces(prefix=("users",)) == [("users", "leo", "memories"), ("users", "maya", "memories")]
    assert asyncio.run(graph.ainvoke({"user": "leo", "message": "Hi", "recalled": []}))["recalled"] == [
        "What is my dog's name?"
    ]


def test_a_rejected_put_changes_nothing(store):
    namespace = ("users", "maya", "memories")

    def indexed_pet() -> list[tuple[str, bool]]:
        hits = store.search(namespace, query="Maya's dog", limit=10)
        return [(hit.value["text"], hit.score is not None) for hit in hits if hit.key == "pet"]

    before = indexed_pet()
    assert before == [(MEMORIES[namespace]["pet"]["text"], True)]
    with pytest.raises(TypeError, match="'pet'.*not JSON"):
        store.put(namespace, "pet", {"text": "Pepper turned four.", "when": datetime(2025, 3, 6)})
    with pytest.raises(ValueError, match="control characters"):
        store.batch([PutOp(namespace, "pet", {"text": "Pepper turned four."}), PutOp(namespace, "a\nb", {"text": "x"})])
    assert indexed_pet() == before and store.get(namespace, "a\nb") is None


def _readme_snippet(heading: str) -> str:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    return next(block for block in readme.split("```python\n")[1:] if block.startswith(heading)).split("```")[0]


@pytest.mark.parametrize("heading", ["# LangChain:", "# LangGraph:"])
def test_readme_snippet_runs_as_written(heading, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the snippet writes ./evomem-data, with the real default model
    scope = {"__name__": "readme"}
    exec(compile(_readme_snippet(heading), f"README.md {heading}", "exec"), scope)
    if heading == "# LangChain:":
        assert [doc.page_content for doc in scope["docs"]] == ["user: I adopted a beagle called Pepper."]
    if heading == "# LangGraph:":
        assert capsys.readouterr().out == "['Maya adopted a beagle called Pepper.']\n"
