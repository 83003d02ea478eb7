"""The lexical index's query time at 100K segments: distinct real text against copies of 300 segments.

``evomem bench`` grows a namespace to 100K segments with copies of 300 real turns, so every query word that
matches one row matches one row in 300; FTS5 scores every matching row, and the lexical half of a hybrid search
looks slower than it is on a real history. This measures ``LexicalIndex.search`` (the product's own query, 50
rows as a hybrid search asks) on both corpora, with the questions of the records the text comes from (for the
copies, those of the records their 300 segments come from, as ``evomem bench`` asks about its one conversation).

With ``--locomo FILE`` the copies are of the 300 'name: content' turns of ``evomem bench`` instead, with their
questions (every turn starts with one of two speakers' names).

Usage: python scripts/bench_lexical.py RECORDS.jsonl [RECORDS.jsonl ...] [--size 100000] [--queries 200] [--locomo FILE]
  e.g. python scripts/bench_lexical.py runs/data5/train.jsonl runs/data5/dev.jsonl
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from evomem.bench import latency_figures, locomo_texts
from evomem.datasets.records import Stream
from evomem.search.ranking import FUSION_DEPTH
from evomem.storage.lexical import LexicalIndex, LexicalRow
from evomem.training.stats import read_streams


def corpus(streams: list[Stream]) -> tuple[list[str], list[str]]:
    """The distinct segments and the distinct questions of ``streams``, in file order."""
    segments = dict.fromkeys(segment for stream in streams for segment in stream.segments)
    questions = dict.fromkeys(question.query for stream in streams for question in stream.questions)
    return list(segments), list(questions)


def first_history(streams: list[Stream], size: int = 300) -> list[Stream]:
    """The first streams that hold ``size`` distinct segments between them (one history, as ``evomem bench``)."""
    seen: set[str] = set()
    for count, stream in enumerate(streams, start=1):
        seen.update(stream.segments)
        if len(seen) >= size:
            return streams[:count]
    return streams


def query_figures(texts: list[str], questions: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        index = LexicalIndex(Path(scratch))
        rows = [LexicalRow(position, f"m{position}", text) for position, text in enumerate(texts)]
        index.add("bench", rows, through_step=len(rows))
        return latency_figures(lambda question: index.search("bench", question, FUSION_DEPTH, len(rows)), questions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records", type=Path, nargs="+")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--locomo", type=Path, help="copy the first 300 turns of this LoCoMo file (as evomem bench)")
    args = parser.parse_args()
    streams = [stream for path in args.records for stream in read_streams(path)]
    segments, questions = corpus(streams)
    if len(segments) < args.size:
        raise SystemExit(f"the records hold {len(segments)} distinct segments, fewer than --size {args.size}")
    if args.locomo:
        few, few_questions = locomo_texts(args.locomo, 300)
    else:
        few, few_questions = corpus(first_history(streams))  # as evomem bench: one history, and questions about it
    step = max(1, len(questions) // args.queries)
    corpora = {
        f"{args.size} distinct segments": (segments[: args.size], questions[::step][: args.queries]),
        f"{args.size} copies of {len(few[:300])} segments": (
            (few[:300] * (args.size // 300 + 1))[: args.size],
            few_questions[: args.queries],
        ),
    }
    for name, (texts, asked) in corpora.items():
        figures = query_figures(texts, asked)
        print(f"{name}: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms ({figures['queries']} queries)")


if __name__ == "__main__":
    main()
