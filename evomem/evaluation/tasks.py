"""Retrieval tasks in one shape: ordered streams of segments (groups) and queries ranked within one group.

Loaders: LoCoMo, REALTALK, LongMemEval (``_s``/``_oracle``), the LMEB/BEIR layout, and evomem's own stream
records (``evomem data build``; e.g. the dev parts of the training sources, each source a category).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..datasets.locomo import CATEGORY_NAMES, Conversation, load_locomo, load_realtalk
from ..errors import InvalidInputError

FORMATS = ("locomo", "realtalk", "longmemeval", "beir", "records")


@dataclass(frozen=True)
class Group:
    """One conversation or document, read in order."""

    id: str
    segment_ids: tuple[str, ...]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    id: str
    group: str
    text: str
    relevant: frozenset[str]
    category: str
    at: int | None = None  # segments read when it is asked (None: the whole group)


@dataclass
class Task:
    name: str
    groups: list[Group]
    queries: list[Query]
    headline_excludes: frozenset[str] = field(default_factory=frozenset)
    category_names: dict[str, str] = field(default_factory=dict)  # a label for a numbered category

    def first(self, count: int) -> Task:
        """The task on its first ``count`` groups."""
        groups = self.groups[:count]
        kept = {group.id for group in groups}
        queries = [query for query in self.queries if query.group in kept]
        return Task(self.name, groups, queries, self.headline_excludes, self.category_names)


def _from_conversations(name: str, conversations: list[Conversation], excludes: frozenset[str]) -> Task:
    groups, queries = [], []
    for conversation in conversations:
        ids = tuple(turn.dia_id for turn in conversation.turns)
        texts = tuple(f"{turn.speaker}: {turn.content}" for turn in conversation.turns)
        groups.append(Group(conversation.sample_id, ids, texts))
        known = set(ids)
        for number, question in enumerate(conversation.questions):
            relevant = frozenset(e for e in question.evidence if e in known)
            if relevant:
                query_id = f"{conversation.sample_id}/q{number}"
                queries.append(
                    Query(query_id, conversation.sample_id, question.question, relevant, str(question.category))
                )
    return Task(name, groups, queries, excludes)


def load_longmemeval(path: Path) -> Task:
    """LongMemEval: every question has its own haystack of sessions; evidence = turns marked ``has_answer``."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    groups, queries = [], []
    for entry in entries:
        qid = str(entry["question_id"])
        ids, texts, relevant = [], [], set()
        sessions = zip(entry["haystack_session_ids"], entry["haystack_sessions"], strict=True)
        for session_id, session in sessions:
            for index, turn in enumerate(session):
                turn_id = f"{session_id}:{index}"
                ids.append(turn_id)
                texts.append(f"{turn['role']}: {turn['content']}")
                if turn.get("has_answer"):
                    relevant.add(turn_id)
        groups.append(Group(qid, tuple(ids), tuple(texts)))
        if relevant:
            queries.append(Query(qid, qid, entry["question"], frozenset(relevant), str(entry.get("question_type", ""))))
    return Task("longmemeval", groups, queries)


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_beir(directory: Path) -> Task:
    """LMEB/BEIR layout: corpus.jsonl, queries.jsonl, qrels.tsv (or qrels/test.tsv), optional candidates.jsonl.

    Without candidates the whole corpus is one stream in file order; with them, each distinct candidate list
    (a conversation or document) is its own stream and a query is ranked within its list.
    """
    corpus = {
        str(doc["_id"]): " ".join(filter(None, [doc.get("title"), doc["text"]]))
        for doc in _jsonl(directory / "corpus.jsonl")
    }
    qrels_path = directory / "qrels.tsv" if (directory / "qrels.tsv").exists() else directory / "qrels" / "test.tsv"
    relevant: dict[str, set[str]] = defaultdict(set)
    with open(qrels_path, encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) >= 3 and row[0] != "query-id" and float(row[2]) > 0:
                relevant[row[0]].add(row[1])
    candidates_path = directory / "candidates.jsonl"
    candidates: dict[str, tuple[str, ...]] = {}
    if candidates_path.exists():
        for entry in _jsonl(candidates_path):
            candidates[str(entry["query_id"])] = tuple(
                str(c) for c in entry.get("candidates", entry.get("corpus_ids", []))
            )
    groups: dict[tuple[str, ...], Group] = {}
    queries = []
    for query in _jsonl(directory / "queries.jsonl"):
        qid = str(query["_id"])
        if qid not in relevant:
            continue
        members = candidates.get(qid, tuple(corpus))
        key = members
        if key not in groups:
            missing = [m for m in members if m not in corpus]
            if missing:
                raise InvalidInputError(f"{candidates_path}: query {qid} names unknown corpus ids {missing[:3]}")
            groups[key] = Group(f"g{len(groups)}", members, tuple(corpus[m] for m in members))
        category = str(query.get("category", query.get("metadata", {}).get("category", "all")))
        queries.append(Query(qid, groups[key].id, query["text"], frozenset(relevant[qid] & set(members)), category))
    return Task(directory.name, list(groups.values()), [q for q in queries if q.relevant])


def load_records(path: Path) -> Task:
    """Stream records: a stream is a group (segment ids ``"0"``, ``"1"``, ...), a question is a query asked at
    its point, and its source (``friendsqa``, ``qmsum``, ...) is its category."""
    from ..datasets.records import parse_record, source_name

    groups, queries = [], []
    for number, record in enumerate(_jsonl(path)):
        stream = parse_record(record, f"{path}, record {number + 1}")
        group = Group(f"r{number}", tuple(str(i) for i in range(len(stream.segments))), tuple(stream.segments))
        groups.append(group)
        for index, question in enumerate(stream.questions):
            relevant = frozenset(str(i) for i in question.evidence)
            queries.append(
                Query(f"r{number}/q{index}", group.id, question.query, relevant, source_name(stream), question.at)
            )
    return Task(path.stem, groups, queries)


def load_task(kind: str, path: str | Path) -> Task:
    """One of FORMATS from a file (locomo, longmemeval, records) or folder (realtalk, beir)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if kind == "locomo":
        task = _from_conversations("locomo", load_locomo(path), frozenset({"5"}))
        return replace(task, category_names={str(number): name for number, name in CATEGORY_NAMES.items()})
    if kind == "realtalk":
        return _from_conversations("realtalk", load_realtalk(path), frozenset())
    if kind == "longmemeval":
        return load_longmemeval(path)
    if kind == "beir":
        return load_beir(path)
    if kind == "records":
        return load_records(path)
    raise InvalidInputError(f"unknown task format {kind!r}; choose one of {', '.join(FORMATS)}")
