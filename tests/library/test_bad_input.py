"""Bad input raises ValueError or TypeError naming the problem and leaves the store exactly as it was."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from conftest import small_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evomem import EvoEncoder, EvoMemory, StoreCorruptedError
from evomem.model.config import CONFIG_NAME
from evomem.model.encoder import WEIGHTS_NAME

CHAT = [
    {"role": "user", "name": "Maya", "content": "I adopted a beagle called Pepper.", "id": "m1"},
    {"role": "assistant", "content": "Lovely!", "id": "m2", "timestamp": "2025-03-06T09:16:00Z"},
]
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CASES = {"tried": 0, "accepted": 0}
any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # control characters and lone surrogates too


@pytest.fixture(scope="module")
def memory(tmp_path_factory, tiny_bert_dir):
    memory = EvoMemory(tmp_path_factory.mktemp("bad") / "data", model=EvoEncoder(small_config(tiny_bert_dir)))
    memory.add_messages(CHAT, namespace="n")
    return memory


def snapshot(memory: EvoMemory) -> tuple:
    """Everything a caller or the disk could see: records (raw, committed or not), states, journals."""
    stored = [s for name in memory.store.collections() for s in memory.store.get(name)]
    records = sorted((s.record_id, s.text, sorted(s.metadata.items())) for s in stored)
    files = sorted(
        (path.name, hashlib.sha256(path.read_bytes()).hexdigest()) for path in memory.states.directory.iterdir()
    )
    return records, files, memory.namespaces()


def rejected(memory: EvoMemory, call, errors=(TypeError, ValueError)) -> BaseException:
    before = snapshot(memory)
    with pytest.raises(errors) as caught:
        call()
    assert snapshot(memory) == before
    return caught.value


BAD = [
    ("empty content", lambda m: m.add_messages([{"role": "user", "content": "  "}], "n"), ValueError, "empty"),
    ("None content", lambda m: m.add_messages([{"role": "user", "content": None}], "n"), ValueError, "None"),
    ("missing content", lambda m: m.add_messages([{"role": "user"}], "n"), ValueError, "no 'content'"),
    ("content not text", lambda m: m.add_messages([{"content": 42}], "n"), TypeError, "content must be a string"),
    ("not a dict", lambda m: m.add_messages(["just text"], "n"), TypeError, "a message must be a dict"),
    ("a number", lambda m: m.add_messages([7], "n"), TypeError, "a message must be a dict"),
    ("messages not a list", lambda m: m.add_messages({"content": "x"}, "n"), TypeError, "list of messages"),
    ("a bad message after good ones", lambda m: m.add_messages([CHAT[0], {"content": ""}], "n"), ValueError, "empty"),
    ("empty namespace", lambda m: m.add_messages([{"content": "x"}], ""), ValueError, "invalid namespace"),
    ("namespace of blanks", lambda m: m.add_messages([{"content": "x"}], " \u3000"), ValueError, "invalid namespace"),
    ("namespace newline", lambda m: m.add_messages([{"content": "x"}], "abc\n"), ValueError, "invalid namespace"),
    ("namespace C1 control", lambda m: m.add_messages([{"content": "x"}], "a\x85b"), ValueError, "invalid namespace"),
    ("namespace too long", lambda m: m.add_messages([{"content": "x"}], "a" * 257), ValueError, "invalid namespace"),
    ("namespace surrogate", lambda m: m.add_messages([{"content": "x"}], "a\ud800"), ValueError, "not valid Unicode"),
    ("namespace not text", lambda m: m.add_messages([{"content": "x"}], None), TypeError, "namespace must be"),
    ("k zero", lambda m: m.search("x", "n", k=0), ValueError, "k must be positive"),
    ("k negative", lambda m: m.search("x", "n", k=-3), ValueError, "k must be positive"),
    ("k not int", lambda m: m.search("x", "n", k=2.5), TypeError, "k must be an integer"),
    ("k bool", lambda m: m.search("x", "n", k=True), TypeError, "k must be an integer"),
    ("query not text", lambda m: m.search(42, "n"), TypeError, "query must be a string"),
    ("query empty", lambda m: m.search("", "n"), ValueError, "query is empty"),
    (
        "duplicate ids",
        lambda m: m.add_messages([{"content": "x", "id": "a"}, {"content": "y", "id": "a"}], "n"),
        ValueError,
        "duplicate message id 'a'",
    ),
    (
        "duplicate ids, int and str",
        lambda m: m.add_messages([{"content": "x", "id": 5}, {"content": "y", "id": "5"}], "n"),
        ValueError,
        "duplicate",
    ),
    ("bad timestamp", lambda m: m.add_messages([{"content": "x", "timestamp": "yesterday"}], "n"), ValueError, "time"),
    ("NaN timestamp", lambda m: m.add_messages([{"content": "x", "timestamp": math.nan}], "n"), ValueError, "finite"),
    ("huge timestamp", lambda m: m.add_messages([{"content": "x", "timestamp": 10**400}], "n"), ValueError, "range"),
    ("list timestamp", lambda m: m.add_messages([{"content": "x", "timestamp": [1]}], "n"), TypeError, "timestamp"),
    (
        "timestamp before year 1 in UTC",
        lambda m: m.add_messages([{"content": "x", "timestamp": "0001-01-01T00:00:00+14:00"}], "n"),
        ValueError,
        "years 1 to 9999",
    ),
    ("timestamp after 9999", lambda m: m.add_messages([{"content": "x", "timestamp": 1e15}], "n"), ValueError, "9999"),
    ("time range past 9999", lambda m: m.search("x", "n", time_range=(None, 1e15)), ValueError, "years 1 to 9999"),
    *(
        (
            f"role {role!r}",
            lambda m, role=role: m.add_messages([{"content": "x", "role": role}], "n"),
            TypeError,
            "role",
        )
        for role in ({}, [], 0, False)
    ),
    ("empty role", lambda m: m.add_messages([{"content": "x", "role": ""}], "n"), ValueError, "role is empty"),
    (
        "nested metadata",
        lambda m: m.add_messages([{"content": "x", "metadata": {"a": {"b": 1}}}], "n"),
        TypeError,
        "'a'",
    ),
    ("None metadata", lambda m: m.add_messages([{"content": "x", "metadata": {"a": None}}], "n"), TypeError, "'a'"),
    ("list metadata", lambda m: m.add_messages([{"content": "x", "metadata": {"a": [1]}}], "n"), TypeError, "'a'"),
    ("NaN metadata", lambda m: m.add_messages([{"content": "x", "metadata": {"a": math.inf}}], "n"), ValueError, "'a'"),
    ("int64 metadata", lambda m: m.add_messages([{"content": "x", "metadata": {"a": 2**63}}], "n"), ValueError, "64"),
    (
        "reserved key",
        lambda m: m.add_messages([{"content": "x", "metadata": {"position": 3}}], "n"),
        ValueError,
        "reserved",
    ),
    ("operator key", lambda m: m.add_messages([{"content": "x", "metadata": {"$and": 3}}], "n"), ValueError, "'$and'"),
    (
        "chroma key",
        lambda m: m.add_messages([{"content": "x", "metadata": {"chroma:document": 1}}], "n"),
        ValueError,
        "chroma",
    ),
    ("metadata not a dict", lambda m: m.add_messages([{"content": "x", "metadata": [1]}], "n"), TypeError, "metadata"),
    ("surrogate content", lambda m: m.add_messages([{"content": "a\ud800"}], "n"), ValueError, "surrogate"),
    ("id bool", lambda m: m.add_messages([{"content": "x", "id": True}], "n"), TypeError, "message id"),
    ("id control chars", lambda m: m.add_messages([{"content": "x", "id": "a\x00"}], "n"), ValueError, "control"),
    ("id too long", lambda m: m.add_messages([{"content": "x", "id": "i" * 600}], "n"), ValueError, "at most"),
    ("get ids as a string", lambda m: m.get("m1", "n"), TypeError, "ids must be a list"),
    ("delete ids as a string", lambda m: m.delete("n", ids="m1"), TypeError, "ids must be a list"),
    ("get id None", lambda m: m.get([None], "n"), TypeError, "message id"),
    ("bad where", lambda m: m.search("x", "n", where={"a": {"$bad": 1}}), ValueError, "where"),
    ("where not a dict", lambda m: m.search("x", "n", where="topic"), TypeError, "where"),
    ("time range shape", lambda m: m.search("x", "n", time_range=("2025",)), TypeError, "time_range"),
    (
        "time range order",
        lambda m: m.search("x", "n", time_range=("2026-01-01", "2025-01-01")),
        ValueError,
        "time_range",
    ),
    ("text None", lambda m: m.add_text(None, "n"), TypeError, "text must be a string"),
    ("text blank", lambda m: m.add_text("\n\n ", "n"), ValueError, "text is empty"),
    (
        "speaker name too long",
        lambda m: m.add_messages([{"content": "x", "name": "Bob " * 40}], "n"),
        ValueError,
        "name",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), BAD, ids=[case for case, *_ in BAD])
def test_each_bad_input_is_named_and_changes_nothing(memory, case, call, error, fragment):
    raised = rejected(memory, lambda: call(memory), error)
    assert fragment in str(raised), f"{case}: {raised}"


def test_a_very_long_message_is_split_not_refused(memory):
    content = " ".join(f"Sentence {i} about the bakery by the harbour." for i in range(60))
    assert memory.add_messages([{"content": content, "id": "long"}], namespace="long") == ["long"]
    parts = memory.get(["long"], namespace="long")
    assert len(parts) > 3 and {p.id for p in parts} == {"long"} and [p.part for p in parts] == list(range(len(parts)))


# ----- fuzzing the public API ----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.binary(max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
keys = st.sampled_from(["role", "content", "name", "id", "timestamp", "metadata", "type", "extra"])
printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=30)
valid_messages = st.fixed_dictionaries(
    {"content": printable},
    optional={
        "role": st.sampled_from(["user", "assistant", "tool"]),
        "name": st.text("abcdefgh XYZ", min_size=1, max_size=12).filter(str.strip),
        "id": st.one_of(printable, st.integers(-(10**6), 10**6)),
        "timestamp": st.one_of(st.integers(0, 2**37), st.datetimes().map(lambda d: d.isoformat())),
        "metadata": st.dictionaries(
            st.text("abcdef_", min_size=1, max_size=6).filter(lambda k: k not in ("name", "role", "part", "kind")),
            st.one_of(
                st.booleans(),
                st.integers(-(2**63), 2**63 - 1),
                st.floats(allow_nan=False, allow_infinity=False),
                printable,
            ),
            max_size=3,
        ),
    },
)
messages = st.one_of(
    valid_messages,
    valid_messages,
    st.dictionaries(keys, values, max_size=6),
    st.fixed_dictionaries(
        {"content": st.one_of(st.text(max_size=40), any_text)},
        optional={
            "role": st.one_of(st.sampled_from(["user", "assistant"]), values),
            "name": st.one_of(st.text(max_size=10), values),
            "id": st.one_of(st.text(max_size=10), st.integers(), any_text, values),
            "timestamp": st.one_of(
                st.sampled_from(["2025-03-06T09:15:00Z", "2025-03-06", "noon", ""]), st.floats(), values
            ),
            "metadata": st.one_of(
                st.dictionaries(st.one_of(st.text(max_size=8), any_text), scalars, max_size=3), values
            ),
        },
    ),
    values,
)


def _accepted_or_rejected(memory: EvoMemory, call) -> object:
    """Either the call succeeds, or it raises TypeError/ValueError and the store is unchanged."""
    CASES["tried"] += 1
    before = snapshot(memory)
    try:
        result = call()
    except (TypeError, ValueError) as error:
        assert str(error)
        assert snapshot(memory) == before
        return error
    CASES["accepted"] += 1
    return result


@settings(FUZZ, max_examples=120)
@given(st.one_of(st.lists(valid_messages, max_size=4), st.lists(messages, max_size=4)), st.sampled_from(["fuzz", "n"]))
def test_fuzz_add_messages(memory, batch, namespace):
    result = _accepted_or_rejected(memory, lambda: memory.add_messages(batch, namespace=namespace))
    if isinstance(result, list):
        assert len(result) == len(batch)
        stored = {s.id for s in memory.get(result, namespace=namespace)}
        assert stored == set(result)


@FUZZ
@given(st.one_of(st.text(max_size=140), any_text, values), st.one_of(values, st.dictionaries(any_text, scalars)))
def test_fuzz_namespaces_text_and_metadata(memory, namespace, metadata):
    result = _accepted_or_rejected(memory, lambda: memory.add_text("A note.", namespace=namespace, metadata=metadata))
    if isinstance(result, list):
        assert _valid_namespace(namespace)
        assert [s.text for s in memory.get(result, namespace=namespace)] == ["A note."]
    elif isinstance(namespace, str) and not _valid_namespace(namespace):
        assert "namespace" in str(result)


def _valid_namespace(name: str) -> bool:
    """The rule as documented: 1-256 characters after NFC, not only blanks, no control characters or surrogates."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return False
    name = unicodedata.normalize("NFC", name)
    return len(name.strip()) > 0 and len(name) <= 256 and not any(unicodedata.category(c) == "Cc" for c in name)


@FUZZ
@given(
    st.one_of(st.text(max_size=30), values),
    st.one_of(st.integers(-3, 30), values),
    st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["role", "topic", "$and", "$or", "name"]), values, max_size=2)
    ),
    st.one_of(st.none(), st.tuples(values, values), values),
)
def test_fuzz_search(memory, query, k, where, time_range):
    result = _accepted_or_rejected(
        memory, lambda: memory.search(query, namespace="n", k=k, where=where, time_range=time_range)
    )
    if isinstance(result, list):
        assert len(result) <= k and all(hit.metadata["namespace"] == "n" for hit in result)


@FUZZ
@given(st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(["m1", "m2"]), values), max_size=3), values))
def test_fuzz_get_and_delete(memory, ids):
    result = _accepted_or_rejected(memory, lambda: memory.get(ids, namespace="n"))
    if isinstance(result, list):
        assert ids is None or {s.id for s in result} <= {str(i) for i in ids}
        assert all(s.metadata["namespace"] == "n" for s in result)
    result = _accepted_or_rejected(memory, lambda: memory.delete("fuzz-deleted", ids=ids))
    assert isinstance(result, TypeError | ValueError) or (result.messages, result.existed) == (0, False)


def test_report_cases_tried():
    print(f"bad input: {CASES['tried']} fuzzed calls, {CASES['accepted']} accepted")


# ----- bad files and arguments given to EvoMemory ----------------------------------------------------------------


def _damaged_copy(source: Path, directory: Path, name: str, data: bytes) -> Path:
    copy = Path(shutil.copytree(source, directory))
    (copy / name).write_bytes(data)
    return copy


def test_bad_model_files_are_named(tmp_path, tiny_bert_dir, model_dir):
    weights = (tiny_bert_dir / "model.safetensors").read_bytes()
    for case, data in [("junk", b"junk" * 100), ("truncated", weights[: len(weights) // 2])]:
        backbone = _damaged_copy(tiny_bert_dir, tmp_path / case, "model.safetensors", data)
        with pytest.raises(ValueError, match=f"{backbone / 'model.safetensors'} is not a readable safetensors file"):
            EvoMemory(tmp_path / "data", model=str(backbone))
    pickled = _damaged_copy(model_dir, tmp_path / "pickled", WEIGHTS_NAME, pickle.dumps({"weights": [1.0]}))
    with pytest.raises(ValueError, match=f"{pickled / WEIGHTS_NAME} is not a readable safetensors file"):
        EvoMemory(tmp_path / "data", model=str(pickled))
    config = json.loads((model_dir / CONFIG_NAME).read_text())
    for case, data, expected in [
        ("list", [1, 2], "must hold a JSON object, got list"),
        ("dropout", {**config, "lora_dropout": "x"}, "lora_dropout must be of type float, got 'x'"),
        ("targets", {**config, "lora_targets": "query"}, "lora_targets must be of type"),
        ("retired", {**config, "extra": {"note": 1}}, "EvoConfig.extra is no longer a setting"),
        ("not json", "{", "is not valid JSON"),
    ]:
        text = data if isinstance(data, str) else json.dumps(data)
        broken = _damaged_copy(model_dir, tmp_path / case, CONFIG_NAME, text.encode())
        with pytest.raises(ValueError, match=re.escape(f"{broken / CONFIG_NAME}") + ".*" + re.escape(expected)):
            EvoMemory(tmp_path / "data", model=str(broken))


def test_bad_paths_clients_and_databases_are_named(tmp_path, tiny_bert_dir):
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    file = tmp_path / "a-file"
    file.write_text("notes")
    for path in (file, file / "data"):
        with pytest.raises(ValueError, match=f"path {path} cannot be a directory: {file} is a file"):
            EvoMemory(path, model=encoder)
    with pytest.raises(TypeError, match="client must be a Chroma client .* got object"):
        EvoMemory(tmp_path / "data", model=encoder, client=object())
    good = tmp_path / "good"
    EvoMemory(good, model=encoder).add_messages(CHAT, namespace="n")
    for case, damage in [("header", lambda data: b"x" * 100 + data[100:]), ("truncated", lambda data: data[:20000])]:
        copy = Path(shutil.copytree(good, tmp_path / case))
        database = copy / "chroma" / "chroma.sqlite3"
        database.write_bytes(damage(database.read_bytes()))
        with pytest.raises(StoreCorruptedError, match=f"{database} cannot be read .*restore {copy / 'chroma'}"):
            EvoMemory(copy, model=encoder)
    (good / "chroma.generation").write_bytes(b"\xff\xfe\x00 garbage")  # only a change token: read, never trusted
    assert EvoMemory(good, model=encoder).search("beagle", namespace="n")
