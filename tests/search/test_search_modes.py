"""Search modes: evolvable, lexical (BM25 in SQLite FTS5) and hybrid (their reciprocal-rank fusion), and the
lexical index kept in step with the vector store through appends, updates, deletes, rebuilds and old stores."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from contextlib import closing

import pytest

from evomem import EvoMemory
from evomem.errors import LexicalIndexError
from evomem.schema import MODES
from evomem.search.ranking import FUSION_DEPTH, reciprocal_rank_fusion
from evomem.storage import store
from evomem.storage.lexical import (
    LexicalIndex,
    LexicalRow,
    _informative,
    _ranked,
    match_expression,
    query_words,
)
from evomem.storage.store import record_id

NS = "modes"
CHAT = [
    ("m0", "Ann", "I adopted a beagle named Biscuit last week."),
    ("m1", "Ben", "My sister moved to Reykjavik in March."),
    ("m2", "Ann", "We are planning a trip to Lisbon in May."),
    ("m3", "Ben", "Work at the harbour office has been stressful."),
    ("m4", "Ann", "I started learning the cello, and the cello is hard."),
    ("m5", "Ben", "The sourdough from the corner bakery is the best."),
]


def _chat(**extra):
    return [{"role": "user", "name": name, "content": text, "id": i, **extra} for i, name, text in CHAT]


@pytest.fixture
def memory(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    memory.add_messages(_chat(), namespace=NS)
    return memory


def _rows(memory: EvoMemory, namespace: str = NS) -> list[int]:
    return memory.store.lexical.positions(namespace, below=1 << 62)


def test_lexical_mode_ranks_by_bm25_over_the_words(memory):
    hits = memory.search("Who lives in Reykjavik?", namespace=NS, k=3, mode="lexical")
    assert [h.id for h in hits] == ["m1"]  # no other message shares a word (stop words left out)
    hits = memory.search("cello bakery", namespace=NS, k=6, mode="lexical")
    assert [h.id for h in hits] == ["m4", "m5"] or [h.id for h in hits] == ["m5", "m4"]
    assert hits[0].score >= hits[1].score > 0
    assert memory.search("the of and", namespace=NS, k=3, mode="lexical") == []  # only stop words
    assert memory.search('"cello" OR NEAR(', namespace=NS, k=3, mode="lexical")[0].id == "m4"  # not FTS5 syntax


def test_hybrid_is_the_weighted_reciprocal_rank_fusion_of_both_rankings(memory):
    query = "the cello and the trip"
    depth = max(3, FUSION_DEPTH)
    evolvable = [h.id for h in memory.search(query, namespace=NS, k=depth, mode="evolvable")]
    lexical = [h.id for h in memory.search(query, namespace=NS, k=depth, mode="lexical")]
    for weight in (0.25, 0.5, 0.9):
        expected = reciprocal_rank_fusion([evolvable, lexical], [1 - weight, weight])
        hits = memory.search(query, namespace=NS, k=4, mode="hybrid", lexical_weight=weight)
        # the fusion chooses the k hits; they come best first by their calibrated score, each with its fused one
        assert sorted(h.id for h in hits) == sorted(list(expected)[:4])
        assert {h.id: h.scores.fused for h in hits} == pytest.approx({m: expected[m] for m in list(expected)[:4]})
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    fused_alone = memory.search(query, namespace=NS, k=6, mode="hybrid", lexical_weight=0)
    assert sorted(h.id for h in fused_alone) == sorted(evolvable)
    assert sorted(h.id for h in memory.search(query, namespace=NS, k=2, mode="hybrid", lexical_weight=1)) == sorted(
        lexical[:2]
    )


def test_a_hybrid_search_runs_its_lexical_half_while_the_query_is_encoded(memory, monkeypatch):
    """The BM25 half runs in another thread, and the encode starts before it ends: a lexical search that waits
    for the encode to begin finishes (it would time out if the two ran one after the other)."""
    encoding, threads = threading.Event(), []
    lexical_search, encode_queries = memory.store.lexical.search, memory.encoder.encode_queries

    def waiting_search(*args, **kwargs):
        threads.append(threading.current_thread())
        assert encoding.wait(timeout=30), "the query encode did not start while the lexical half ran"
        return lexical_search(*args, **kwargs)

    def signalling_encode(*args, **kwargs):
        encoding.set()
        return encode_queries(*args, **kwargs)

    expected = [h.id for h in memory.search("the cello and the trip", namespace=NS, k=4)]
    monkeypatch.setattr(memory.store.lexical, "search", waiting_search)
    monkeypatch.setattr(memory.encoder, "encode_queries", signalling_encode)
    assert [h.id for h in memory.search("the cello and the trip", namespace=NS, k=4)] == expected
    assert threads and threads[0] is not threading.current_thread()


def test_an_error_in_the_lexical_half_of_a_hybrid_search_reaches_the_caller(memory, monkeypatch):
    def broken(*args, **kwargs):
        raise LexicalIndexError("lexical index is unreadable")

    monkeypatch.setattr(memory.store.lexical, "search", broken)
    with pytest.raises(LexicalIndexError, match="unreadable"):
        memory.search("cello", namespace=NS, mode="hybrid")
    assert memory.search("cello", namespace=NS, mode="evolvable")  # the vector half alone does not read it


@pytest.mark.parametrize("bad", ["dense", "", None, "HYBRID"])
def test_an_unknown_mode_is_refused(memory, bad):
    with pytest.raises(ValueError, match="unknown search mode"):
        memory.search("cello", namespace=NS, mode=bad)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", True, float("nan")])
def test_a_lexical_weight_outside_0_to_1_is_refused(memory, bad):
    with pytest.raises(ValueError, match="lexical_weight"):
        memory.search("cello", namespace=NS, mode="hybrid", lexical_weight=bad)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_honours_where_time_range_and_one_hit_per_message(tmp_path, encoder, mode):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    long_text = " ".join(f"cello practice {i} with the quartet" for i in range(80))  # several parts
    chat = [
        {"content": long_text, "id": "long", "timestamp": 100, "metadata": {"topic": "music"}},
        {"content": "cello strings are expensive", "id": "short", "timestamp": 200, "metadata": {"topic": "music"}},
        {"content": "a cello concert downtown", "id": "other", "timestamp": 300, "metadata": {"topic": "events"}},
    ]
    memory.add_messages(chat, namespace=NS)
    assert len(memory.get(["long"], namespace=NS)) > 1
    hits = memory.search("cello practice quartet", namespace=NS, k=10, mode=mode)
    assert sorted(h.id for h in hits) == ["long", "other", "short"]  # the long message once
    hits = memory.search("cello", namespace=NS, k=10, mode=mode, where={"topic": "music"})
    assert sorted(h.id for h in hits) == ["long", "short"]
    hits = memory.search("cello", namespace=NS, k=10, mode=mode, time_range=(150, None))
    assert sorted(h.id for h in hits) == ["other", "short"]
    assert memory.search("cello", namespace=NS, k=10, mode=mode, where={"topic": "none"}) == []
    with pytest.raises(ValueError, match="filter"):
        memory.search("cello", namespace=NS, mode=mode, where={"topic": {"$regex": "x"}})


@pytest.mark.parametrize("rare", [False, True])
def test_a_lexical_search_with_a_filter_ranks_the_matches_that_pass(tmp_path, encoder, monkeypatch, rare):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    kinds = ["b" if i % 2 and not rare else "a" for i in range(40)]  # rare: only the two below are "b"
    chat = [{"content": "cello cello cello lesson", "id": f"a{i}", "metadata": {"kind2": kinds[i]}} for i in range(40)]
    chat.append({"content": "one cello", "id": "rare", "metadata": {"kind2": "b"}})  # ranks last lexically
    chat.append({"content": "no such word", "id": "other", "metadata": {"kind2": "b"}})
    memory.add_messages(chat, namespace=NS)
    ranked_among = []
    search = memory.store.lexical.search
    monkeypatch.setattr(memory.store.lexical, "search", lambda *a, **o: ranked_among.append(o) or search(*a, **o))
    hits = memory.search("cello", namespace=NS, k=1 if rare else 3, mode="lexical", where={"kind2": "b"})
    within = [sorted(o["within"]) for o in ranked_among if o.get("within") is not None]
    if rare:  # none of the best matches pass: Chroma lists the segments that pass, the lexical index ranks those
        assert [h.id for h in hits] == ["rare"] and within == [[40, 41]]
        unfiltered = {h.id: h.score for h in memory.search("cello", namespace=NS, k=50, mode="lexical")}
        assert hits[0].score == pytest.approx(unfiltered["rare"])  # ranked among fewer rows, scored as among all
    else:
        assert len(hits) == 3 and all(int(h.id[1:]) % 2 for h in hits) and within == []


@pytest.mark.parametrize(
    ("passing", "scan", "inside"),
    [(slice(1, None, 3), 4096, False), (slice(1, None, 3), 4, True), (slice(30, 33), 4096, True)],
    ids=["a third pass", "a third pass, scan of 4", "none of the nearest pass"],
)
def test_a_vector_search_with_a_filter_finds_the_nearest_that_pass(
    tmp_path, encoder, monkeypatch, passing, scan, inside
):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    chat = [{"content": f"note {i} about the harbour", "id": f"n{i}", "metadata": {"idx": i}} for i in range(40)]
    memory.add_messages(chat, namespace=NS)
    ranked = [h.id for h in memory.search("harbour", namespace=NS, k=40, mode="evolvable")]
    chosen = ranked[passing]
    filtered_inside = []
    inside_search = memory.store._query_in_chroma  # where (its 4th argument) inside Chroma's search
    monkeypatch.setattr(memory.store, "_query_in_chroma", lambda *a: filtered_inside.append(a[3]) or inside_search(*a))
    monkeypatch.setattr(store, "FILTER_SCAN", scan)  # past it, Chroma filters inside its search
    where = {"idx": {"$in": [int(m[1:]) for m in chosen]}}
    hits = memory.search("harbour", namespace=NS, k=3, mode="evolvable", where=where)
    assert [h.id for h in hits] == chosen[:3]
    assert bool(filtered_inside) == inside


def test_a_vector_search_reads_its_hits_in_one_chroma_call(memory, monkeypatch):
    calls = []
    call = memory.store._call
    monkeypatch.setattr(memory.store, "_call", lambda *a, **kw: calls.append(1) or call(*a, **kw))
    hits = memory.search("Where did my sister move?", namespace=NS, k=3, mode="evolvable")
    assert len(calls) == 1
    written = {i: f"{name}: {text}" for i, name, text in CHAT}
    assert len(hits) == 3 and [h.text for h in hits] == [written[h.id] for h in hits]


def test_an_append_indexes_its_batch_only(memory, monkeypatch):
    def no_rebuild(*args, **kwargs):
        raise AssertionError("an append rebuilt the lexical index")

    monkeypatch.setattr(LexicalIndex, "replace", no_rebuild)
    assert _rows(memory) == list(range(len(CHAT)))
    memory.add_messages([{"content": "a new note on the cello", "id": "m6"}], namespace=NS)
    assert _rows(memory) == list(range(len(CHAT) + 1))
    assert memory.search("note", namespace=NS, mode="lexical")[0].id == "m6"


def test_the_lexical_index_follows_updates_and_deletes(memory):
    memory.add_messages([{"role": "user", "name": "Ben", "content": "My sister moved to Oslo.", "id": "m1"}], NS)
    assert memory.search("Reykjavik", namespace=NS, mode="lexical") == []  # the superseded text is gone
    hits = memory.search("Oslo", namespace=NS, mode="lexical")
    assert [(h.id, h.text) for h in hits] == [("m1", "Ben: My sister moved to Oslo.")]
    memory.delete(NS, ids=["m4"])
    assert memory.search("cello", namespace=NS, mode="lexical") == []
    assert len(_rows(memory)) == len(CHAT) - 1
    assert memory.check(NS).unsearchable == {NS: []}
    memory.delete_namespace(NS)
    assert _rows(memory) == [] and memory.search("Oslo", namespace=NS, mode="lexical") == []
    memory.add_messages(_chat(), namespace=NS)  # the namespace starts again, its index with it
    assert _rows(memory) == list(range(len(CHAT)))


def test_a_store_without_lexical_indexes_is_indexed_once_from_its_text(memory, encoder):
    """A store written before lexical indexes existed (or one whose index file was lost)."""
    path = memory.store.lexical.path(NS)
    path.unlink()
    reopened = EvoMemory(memory.path, model=encoder)
    assert [h.id for h in reopened.search("Reykjavik", namespace=NS, mode="lexical")] == ["m1"]
    assert path.exists() and _rows(reopened) == list(range(len(CHAT)))
    path.unlink()  # the writer's path: indexes the old segments before its batch
    reopened.add_messages([{"content": "violin now", "id": "m6"}], namespace=NS)
    assert _rows(reopened) == list(range(len(CHAT) + 1))
    assert reopened.check(NS).unsearchable == {NS: []}


def test_an_index_file_killed_between_its_two_creates_is_written_and_read_again(memory, encoder):
    """A process killed between SQLite's CREATE TABLE statements left a file with ``meta`` and no ``segments``;
    the next writer's delete (a journal's reconciliation) failed on it. Schema and change are now one transaction."""
    path = memory.store.lexical.path(NS)
    path.unlink()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    memory.store.lexical.delete(NS, [1])  # what a reconciliation does first
    memory.store.lexical.delete_messages(NS, ["m1"])
    reopened = EvoMemory(memory.path, model=encoder)
    assert [h.id for h in reopened.search("Reykjavik", namespace=NS, mode="lexical")] == ["m1"]  # rebuilt
    assert reopened.check(NS).unsearchable == {NS: []}


def test_check_finds_a_lexical_index_out_of_step_and_rebuild_repairs_it(memory):
    with sqlite3.connect(memory.store.lexical.path(NS)) as connection:
        connection.execute("DELETE FROM segments WHERE rowid IN (1, 3)")
    assert memory.check(NS).unsearchable == {NS: sorted([record_id(NS, 1), record_id(NS, 3)])}
    memory.rebuild(NS)
    assert memory.check(NS).unsearchable == {NS: []}
    assert [h.id for h in memory.search("harbour", namespace=NS, mode="lexical")] == ["m3"]


def test_a_lexical_index_copied_from_another_namespace_is_never_read(memory):
    memory.add_messages([{"content": "only in the other namespace: zeppelin", "id": "z"}], namespace="other")
    shutil.copyfile(memory.store.lexical.path("other"), memory.store.lexical.path(NS))
    assert memory.search("zeppelin", namespace=NS, mode="lexical") == []  # rebuilt from this namespace's text
    assert [h.id for h in memory.search("Reykjavik", namespace=NS, mode="lexical")] == ["m1"]
    assert memory.check().unsearchable == {NS: [], "other": []}


def test_match_expression_quotes_every_word():
    assert match_expression(query_words("Where's Émilie's cat?")) == '"émilie" OR "cat"'  # "where": a stop word
    assert query_words("a the of ? !") == [] and match_expression([]) is None


def _speaker_index(tmp_path) -> LexicalIndex:
    """A history of 40 turns, each prefixed by its speaker's name (Ann in 30): a word in most rows."""
    texts = [f"Ann: turn {i} about the weather" for i in range(30)] + [f"Ben: turn {i}" for i in range(30, 40)]
    texts[7] = "Ann: my cello lesson moved to Friday"
    texts[33] = "Ben: Ann said the cello is hers"
    index = LexicalIndex(tmp_path)
    index.add(NS, [LexicalRow(p, f"m{p}", text) for p, text in enumerate(texts)], through_step=len(texts))
    return index


def test_a_word_in_half_of_the_rows_or_more_is_left_out_of_the_match(tmp_path):
    index = _speaker_index(tmp_path)
    with closing(sqlite3.connect(index.path(NS))) as connection:
        assert _informative(connection, ["ann", "cello", "ben", "weather"]) == ["cello", "ben"]
        full = _ranked(connection, ["ann", "cello"], below=40, n=2)
    found = index.search(NS, "What did Ann say about the cello?", n=2, below=40)
    assert [m.position for m in found] == [m.position for m in full] == [7, 33]  # the scores differ by < 1e-5
    assert [m.score for m in found] == pytest.approx([m.score for m in full], abs=1e-5)


def test_the_whole_query_runs_when_the_informative_words_match_too_few_rows(tmp_path):
    found = _speaker_index(tmp_path).search(NS, "Ann and the cello", n=5, below=40)
    assert [m.position for m in found][:2] == [7, 33] and len(found) == 5  # then rows with "Ann" only


@pytest.mark.parametrize(
    "query", ['"', "*", "NOT cello", "cello AND", "^cello", "col:cello", "cello*", "(cello", "NEAR(cello harbour, 2)"]
)
def test_fts5_syntax_in_a_query_is_read_as_words(memory, query):
    for mode in ("lexical", "hybrid"):
        hits = memory.search(query, namespace=NS, k=3, mode=mode)
        assert all(h.id.startswith("m") for h in hits)
    if "cello" in query:
        assert memory.search(query, namespace=NS, k=1, mode="lexical")[0].id == "m4"
