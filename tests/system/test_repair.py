"""Repair of a collection whose vector index lost records: a rebuild into a new collection, then a swap.

The damage is made as two processes on one directory made it with evomem before its lock: the persisted HNSW
index files of an earlier state over a later one, with the later id mapping. Search then misses the later records
and Chroma cannot read their vectors, while ``get`` returns them.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import torch
from chromadb.errors import InternalError
from click.testing import CliRunner
from workers import forkserver, received, repair_crash_at, start

from evomem import EvoMemory
from evomem.cli import main
from evomem.maintenance.repair import SERVER_REFUSED
from evomem.storage.swap import marker_path

pytestmark = pytest.mark.system

ID_MAPPING = "index_metadata.pickle"  # the HNSW segment's id -> label mapping, kept from the later state


def _long_messages(prefix: str, count: int) -> list[dict]:
    """Messages of about ten parts each, over 1,000 records: Chroma persists its index every 1,000 records."""
    clauses = [f"{prefix} note {{m}} clause {c}: the ferry leaves pier {{pier}}." for c in range(18)]
    return [
        {
            "role": "user",
            "id": f"{prefix}{m}",
            "content": " ".join(t.format(m=m, pier=31 * m + c) for c, t in enumerate(clauses)),
        }
        for m in range(count)
    ]


EARLIER = _long_messages("early", 130)
LATER = _long_messages("late", 130)
# written after the later index flush, so still in Chroma's log: undamaged
SMALL = [{"role": "assistant", "content": f"small {i}: the bakery sells rye {i}", "id": f"s{i}"} for i in range(12)]


def _index_directory(memory: EvoMemory, namespace: str) -> Path:
    """The directory of the HNSW index of a namespace's collection."""
    query = "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = ?"
    with closing(sqlite3.connect(memory.path / "chroma" / "chroma.sqlite3")) as db:
        (segment,) = db.execute(query, (memory.store.name(namespace), "VECTOR")).fetchone()
    return memory.path / "chroma" / segment


def _persisted(memory: EvoMemory) -> Path:
    """Close Chroma (it writes its index files) and return the index directory of namespace "big"."""
    memory.store.connection.discard()
    return _index_directory(memory, "big")


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, encoder) -> Path:
    path = tmp_path_factory.mktemp("damaged") / "data"
    memory = EvoMemory(path, model=encoder)
    memory.add_messages(EARLIER, namespace="big")
    index = _persisted(memory)
    earlier = {file.name: file.read_bytes() for file in index.iterdir() if file.name != ID_MAPPING}
    memory.add_messages(LATER, namespace="big")
    memory.add_messages(SMALL, namespace="small")
    _persisted(memory)
    for name, data in earlier.items():
        (index / name).write_bytes(data)
    return path


@pytest.fixture
def store(tmp_path, damaged) -> Path:
    """A copy of the damaged store for one test."""
    return Path(shutil.copytree(damaged, tmp_path / "data"))


def _snapshot(memory: EvoMemory) -> dict:
    """What a user can read of every namespace: segments, memory steps."""
    return {
        name: ([(s.id, s.part, s.text, s.metadata) for s in memory.get(None, namespace=name)], memory.stats(name))
        for name in ("big", "small")
    }


def _readable(memory: EvoMemory, record_ids: list[str]) -> dict[str, list[float]]:
    return {record.record_id: record.embedding for record in memory.store.fetch(record_ids)}


def assert_repaired(memory: EvoMemory, before: dict) -> None:
    """Every record kept as it was, nothing unsearchable (``check`` asks Chroma for every record), and every
    seventh message, early and late ones alike, found by a search with its own text."""
    assert _snapshot(memory) == before
    assert memory.check().unsearchable == {"big": [], "small": []}
    for name in ("big", "small"):
        for message in list({s.id: s for s in memory.get(None, namespace=name)}.values())[::7]:
            assert message.id in [hit.id for hit in memory.search(message.text, namespace=name, k=3, mode="evolvable")]


def test_repair_rebuilds_a_damaged_collection_keeping_every_record(store, encoder):
    memory = EvoMemory(store, model=encoder)
    before = _snapshot(memory)
    lost = memory.check().unsearchable
    later = {s.record_id for s in memory.store.get("big") if s.metadata["message_id"].startswith("late")}
    assert set(lost["big"]) == later and len(later) >= 1000 and lost["small"] == []  # the later index flush lost
    with pytest.raises(InternalError, match="Error getting embedding"):
        memory.store.fetch(lost["big"][:1])  # the vector itself is gone, not only its index entry
    kept = [s.record_id for name in ("big", "small") for s in memory.store.get(name) if s.record_id not in lost[name]]
    vectors = _readable(memory, kept)
    report = memory.repair()
    assert report.rebuilt and report.unsearchable == 0
    found = {n.namespace: (n.unsearchable_before, n.unsearchable_after, n.reencoded) for n in report.namespaces}
    assert found == {name: (len(ids), 0, len(ids)) for name, ids in lost.items()}
    assert report.namespaces[0].deviation < 0.05  # the re-encoded stream reproduces the vectors Chroma still had
    copied = _readable(memory, kept)  # the vectors Chroma could read are copied (its cosine index normalises
    assert copied.keys() == vectors.keys()  # each vector it stores again: a float32 rounding step at most)
    assert max(float((torch.tensor(copied[i]) - torch.tensor(vectors[i])).abs().max()) for i in kept) < 1e-6
    assert_repaired(memory, before)
    assert_repaired(EvoMemory(store, model=encoder), before)
    again = memory.repair()
    assert not again.rebuilt and again.lines()[0] == "nothing unsearchable: no repair"
    assert not marker_path(store / "chroma", memory.fingerprint, "big").exists()


def test_repair_of_a_healthy_store_changes_nothing(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    memory.add_messages(SMALL, namespace="small")
    identity = memory.store.collections()["small"].id
    report = memory.repair()
    assert not report.rebuilt and [(n.namespace, n.records, n.unsearchable_after) for n in report.namespaces] == [
        ("small", len(SMALL), 0)
    ]
    assert memory.store.collections()["small"].id == identity


@pytest.mark.parametrize(
    ("point", "swapped"),
    [
        ("mid_build", False),
        ("before_swap", False),
        ("before_delete", True),
        ("before_rename", True),
        ("before_marker_removed", True),
    ],
)
def test_a_repair_killed_at_each_step_loses_nothing_and_runs_again(store, model_dir, encoder, point, swapped):
    reader = EvoMemory(store, model=encoder)  # open all along, as a long-lived reader process would be
    before = _snapshot(reader)
    lost = reader.check().unsearchable
    process, receiver = start(forkserver(), repair_crash_at, str(store), str(model_dir), point)
    process.join(600)  # a loaded machine (two test workers and a training run) took over 120 s
    assert process.exitcode == -9 and ("survived", point) not in received(receiver)
    assert _snapshot(reader) == before  # no record lost at any point, even to a reader open during the crash
    reopened = EvoMemory(store, model=encoder)  # a swap in progress is finished on opening
    assert _snapshot(reopened) == before
    assert reopened.check().unsearchable == ({"big": [], "small": []} if swapped else lost)
    report = reopened.repair()
    assert report.rebuilt != swapped and report.unsearchable == 0
    assert_repaired(reopened, before)
    assert _snapshot(reader) == before and reader.check().unsearchable == {
        "big": [],
        "small": [],
    }  # reads the new collection
    assert not marker_path(store / "chroma", reopened.fingerprint, "big").exists()


def test_check_repair_on_the_command_line(store, model_dir, encoder):
    memory = EvoMemory(store, model=encoder)
    lost, records = len(memory.check().unsearchable["big"]), memory.store.count("big")

    def run(*args):
        return CliRunner().invoke(main, ["--path", str(store), "--model", str(model_dir), "check", *args])

    assert run("--repair", "-n", "big").exit_code == 2
    damaged = run()
    assert damaged.exit_code == 1 and f"namespace big: unsearchable: {lost} segments not searchable" in damaged.output
    repaired = run("--repair")
    assert repaired.exit_code == 0, repaired.output
    lines = repaired.stdout.splitlines()  # progress bars go to stderr
    assert lines[0].startswith("rebuilt 1 of 2 namespace collections in ")
    assert lines[1].startswith(f"namespace big: {records} records, unsearchable {lost} -> 0, {lost} re-encoded")
    assert lines[2] == f"namespace small: {len(SMALL)} records, unsearchable 0 -> 0, 0 re-encoded from the stored text"
    assert lines[3:] == ["namespace big: ok", "namespace small: ok"]  # checked again
    assert run().output == "namespace big: ok\nnamespace small: ok\n"
    assert run("--repair").output == "namespace big: ok\nnamespace small: ok\n"  # nothing to repair


@pytest.mark.server
def test_repair_against_a_chroma_server_is_refused_with_the_way_to_do_it(chroma_server, tmp_path, encoder):
    host, port = chroma_server
    memory = EvoMemory(tmp_path / "data", model=encoder, chroma_host=host, chroma_port=port)
    with pytest.raises(ValueError, match="embedded store only") as error:
        memory.repair()
    assert str(error.value) == SERVER_REFUSED and "check --repair" in SERVER_REFUSED
