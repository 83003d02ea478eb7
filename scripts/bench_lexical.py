"""The lexical index's query time at 100K segments: distinct real text against copies of 300 segments.

``evomem bench`` grows a namespace to 100K segments with copies of 300 real turns, so every query word that
matches one row matches one row in 300; FTS5 scores every matching row, and the lexical half of a hybrid search
looks slower than it is on a real history. This measures ``LexicalIndex.search`` (the product's own query, 50
rows as a hybrid search asks) on both corpora, with the questions of the records the text comes from (for the
copies, those of the records their 300 segments come from, as ``evomem bench`` asks about its one conversation).

Usage: python scripts/bench_lexical.py RECORDS.jsonl [RECORDS.jsonl ...] [--size 100000] [--queries 200]
  e.g. python scripts/bench_lexical.py runs/data5/train.jsonl runs/data5/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from evomem.lexical import LexicalIndex, LexicalRow
from evomem.ranking import FUSION_DEPTH


def read(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def corpus(records: list[dict]) -> tuple[list[str], list[str]]:
    """The distinct segments and the distinct questions of ``records``, in file order."""
    segments = dict.fromkeys(s for record in records for s in record["segments"])
    questions = dict.fromkeys(q["query"] for record in records for q in record.get("queries", [record]))
    return list(segments), list(questions)


def query_ms(texts: list[str], questions: list[str]) -> list[float]:
    with tempfile.TemporaryDirectory() as scratch:
        index = LexicalIndex(Path(scratch))
        rows = [LexicalRow(position, f"m{position}", text) for position, text in enumerate(texts)]
        index.add("bench", rows, through_step=len(rows))
        index.search("bench", questions[0], FUSION_DEPTH, len(rows))  # warm-up
        times = []
        for question in questions:
            start = time.perf_counter()
            index.search("bench", question, FUSION_DEPTH, len(rows))
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records", type=Path, nargs="+")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    records = read(args.records)
    segments, questions = corpus(records)
    if len(segments) < args.size:
        raise SystemExit(f"the records hold {len(segments)} distinct segments, fewer than --size {args.size}")
    first = next(n for n in range(1, len(records) + 1) if len(corpus(records[:n])[0]) >= 300)
    few, few_questions = corpus(records[:first])  # as evomem bench: one history, and questions about it
    step = max(1, len(questions) // args.queries)
    corpora = {
        f"{args.size} distinct segments": (segments[: args.size], questions[::step][: args.queries]),
        f"{args.size} copies of {len(few[:300])} segments": (
            (few[:300] * (args.size // 300 + 1))[: args.size],
            few_questions[: args.queries],
        ),
    }
    for name, (texts, asked) in corpora.items():
        times = sorted(query_ms(texts, asked))
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{name}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms ({len(times)} queries)")


if __name__ == "__main__":
    main()
