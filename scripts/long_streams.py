"""Join short training records into long streams with a question after each part, for throughput tests.

Each stream is cut to exactly ``--segments`` segments; a question asked past the cut is dropped.

Usage: python scripts/long_streams.py RECORDS.jsonl OUTPUT.jsonl --segments 300 --count 8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evomem.datasets.records import Stream
from evomem.training.data import join_streams, load_records


def cut(stream: Stream, segments: int) -> Stream:
    """The stream's first ``segments`` segments and the questions asked within them."""
    questions = [question for question in stream.questions if question.at <= segments]
    return Stream(stream.segments[:segments], questions, stream.source, stream.group).check()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--segments", type=int, default=300, help="Segments a stream.")
    parser.add_argument("--count", type=int, default=8, help="Streams to write.")
    args = parser.parse_args()
    records = iter(load_records(args.records))
    with open(args.output, "w", encoding="utf-8") as handle:
        for _ in range(args.count):
            parts, length = [], 0
            while length < args.segments:
                parts.append(next(records))
                length += len(parts[-1].segments)
            handle.write(json.dumps(cut(join_streams(parts), args.segments).to_json(), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
