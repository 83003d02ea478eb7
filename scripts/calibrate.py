"""Fit and check the calibrated relevance of ``evomem.search.calibration`` on stream records (the training sources' dev
parts, never a benchmark).

    python scripts/calibrate.py collect runs/data5/dev.jsonl runs/calibration/dev.jsonl --limit 80
    python scripts/calibrate.py fit runs/calibration/dev.jsonl runs/calibration/dev-late.jsonl

``collect`` runs the product's search (``EvoMemory.search``, the model of ``--model``) at each question's point, in
evolvable, lexical and hybrid mode (50 hits each), and writes one line per question: its evidence and the hits with
their channel scores. ``fit`` fits one logistic model per mode on the even streams and reports on the odd ones: the
fitted weights, R@10 of the mode's own order and of the calibrated order, and precision and recall of thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

DEPTH = 50
MODES = ("evolvable", "lexical", "hybrid")
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def collect(records: Path, output: Path, limit: int | None, model: str | None) -> None:
    from tqdm import tqdm

    from evomem import EvoMemory
    from evomem.evaluation.systems import as_message
    from evomem.evaluation.tasks import load_records

    task = load_records(records)
    if limit:
        task = task.first(limit)
    asked: dict[str, dict[int, list]] = {}
    for query in task.queries:
        asked.setdefault(query.group, {}).setdefault(query.at or 0, []).append(query)
    output.parent.mkdir(parents=True, exist_ok=True)
    previous = None  # the stream before, kept to ask each question where its evidence is not ("foreign")
    with tempfile.TemporaryDirectory() as scratch, EvoMemory(scratch, model=model) as memory, output.open("w") as out:
        for group in tqdm(task.groups, desc=records.name, unit="stream"):
            namespace, read = group.id, 0
            for at, queries in sorted(asked.get(group.id, {}).items()):
                at = at or len(group.texts)
                if at > read:
                    ids, texts = group.segment_ids[read:at], group.texts[read:at]
                    memory.add_messages([as_message(i, t) for i, t in zip(ids, texts, strict=True)], namespace)
                    read = at
                for query in queries:
                    line = {"stream": group.id, "source": query.category, "relevant": sorted(query.relevant)}
                    for mode in MODES:
                        line[mode] = _hits(memory, query.text, namespace, min(at, DEPTH), mode)
                        if previous is not None:
                            line[f"foreign-{mode}"] = _hits(memory, query.text, previous, DEPTH, mode)
                    out.write(json.dumps(line) + "\n")
            if previous is not None:
                memory.delete_namespace(previous)
            previous = namespace


def _hits(memory, query: str, namespace: str, k: int, mode: str) -> list:
    hits = memory.search(query, namespace, k=k, mode=mode)
    return [[h.id, h.scores.evolvable, h.scores.lexical, h.scores.fused] for h in hits]


def _features(line: dict, mode: str, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The features of ``evomem.search.calibration`` for each hit of ``mode`` (of the ``foreign-`` searches with that
    ``prefix``), missing channels filled as ``evomem.search`` fills them; and whether each is evidence."""
    cosines = [h[1] for h in line[prefix + "evolvable"]]
    bm25s = [h[2] for h in line[prefix + "lexical"]]
    floor_cosine = min(cosines, default=0.0)
    floor_bm25 = min(bm25s, default=0.0) if len(bm25s) >= DEPTH else 0.0
    top_cosine = max(cosines, default=0.0)
    top_words = math.log1p(max(max(bm25s, default=0.0), 0.0))
    rows = []
    for _, cosine, bm25, _ in line[prefix + mode]:
        cosine = floor_cosine if cosine is None else cosine
        words = math.log1p(max(floor_bm25 if bm25 is None else bm25, 0.0))
        rows.append((cosine, words, top_cosine - cosine, top_words - words))
    labels = [not prefix and h[0] in set(line["relevant"]) for h in line[prefix + mode]]
    return np.array(rows, dtype=float).reshape(-1, 4), np.array(labels, dtype=float)


FEATURES = ("evolvable", "lexical", "evolvable_gap", "lexical_gap")


def _columns(mode: str) -> list[int]:
    return {"evolvable": [0, 2], "lexical": [1, 3], "hybrid": [0, 1, 2, 3]}[mode]


def _fit(x: np.ndarray, y: np.ndarray, steps: int = 200) -> np.ndarray:
    """Logistic regression by Newton's method (a tiny ridge keeps it finite): [bias, weights...]."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + 1e-3 * w
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-3 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def _predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(w[0] + x @ w[1:])))


def _recall_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def _ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    gain = sum(1 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return gain / ideal if ideal else 0.0


def _ranking_figures(ranked: list[str], relevant: set[str]) -> tuple[float, float, float]:
    """R@10, R@1 and nDCG@10 of a ranking of the ``k = 10`` hits a search returns."""
    top = ranked[:10]
    return _recall_at(top, relevant), _recall_at(top, relevant, 1), _ndcg_at(top, relevant)


def _means(rows: list[tuple[float, float, float]]) -> list[float]:
    return [round(100 * float(value), 2) for value in np.mean(np.array(rows).reshape(-1, 3), axis=0)]


def fit(files: list[Path]) -> dict:
    lines = [json.loads(raw) for file in files for raw in file.read_text().splitlines()]
    train = [line for line in lines if int(line["stream"][1:]) % 2 == 0]
    test = [line for line in lines if int(line["stream"][1:]) % 2 == 1]
    report: dict = {"questions": {"fit": len(train), "test": len(test)}}
    foreign_train = [line for line in train if "foreign-hybrid" in line]
    foreign_test = [line for line in test if "foreign-hybrid" in line]
    report["questions"] |= {"foreign fit": len(foreign_train), "foreign test": len(foreign_test)}
    for mode in MODES:
        columns = _columns(mode)
        parts = [_features(line, mode) for line in train] + [
            _features(line, mode, "foreign-") for line in foreign_train
        ]
        x = np.vstack([p[0] for p in parts])[:, columns]
        y = np.concatenate([p[1] for p in parts])
        w = _fit(x, y)
        own, calibrated, scored, own_tops = [], [], [], []
        for line in test:
            features, labels = _features(line, mode)
            probability = _predict(w, features[:, columns]) if len(labels) else np.zeros(0)
            ids = [h[0] for h in line[mode]]
            relevant = set(line["relevant"])
            fused = [h[3] for h in line[mode]]
            own_order = sorted(range(len(ids)), key=lambda i: -fused[i]) if mode == "hybrid" else range(len(ids))
            own_ranked = [ids[i] for i in own_order]
            own.append(_ranking_figures(own_ranked, relevant))
            # a search of k = 10 returns the mode's 10 best, ordered by the calibrated score
            top10 = own_ranked[:10]
            calibrated.append(_ranking_figures(sorted(top10, key=lambda i: -probability[ids.index(i)]), relevant))
            order = sorted(range(len(ids)), key=lambda i: -probability[i])
            scored += [(float(probability[i]), bool(labels[i]), rank) for rank, i in enumerate(order)]
            own_tops.append(
                (
                    float(probability.max()) if len(labels) else 0.0,
                    max((float(p) for p, label in zip(probability, labels, strict=True) if label), default=0.0),
                )
            )
        foreign_tops = []
        for line in foreign_test:
            features, _ = _features(line, mode, "foreign-")
            foreign_tops.append(float(_predict(w, features[:, columns]).max()) if len(features) else 0.0)
        cuts = {}
        evidence = sum(label for _, label, _ in scored)
        evidence_top10 = sum(label for _, label, rank in scored if rank < 10)
        for threshold in THRESHOLDS:
            kept = [(label, rank) for p, label, rank in scored if p >= threshold]
            kept10 = [label for label, rank in kept if rank < 10]
            cuts[str(threshold)] = {
                "precision": round(100 * sum(label for label, _ in kept) / max(len(kept), 1), 1),
                "recall_of_evidence_in_top50": round(100 * sum(label for label, _ in kept) / max(evidence, 1), 1),
                "recall_of_evidence_in_top10": round(100 * sum(kept10) / max(evidence_top10, 1), 1),
                "hits_kept_per_question_top10": round(len(kept10) / max(len(test), 1), 2),
                "questions_with_evidence_kept": round(
                    100 * sum(best >= threshold for _, best in own_tops) / max(len(own_tops), 1), 1
                ),
                "questions_answered_nothing": round(
                    100 * sum(top < threshold for top, _ in own_tops) / max(len(own_tops), 1), 1
                ),
                "foreign_questions_answered_nothing": round(
                    100 * sum(top < threshold for top in foreign_tops) / max(len(foreign_tops), 1), 1
                ),
            }
        report[mode] = {
            "weights": {
                "bias": round(float(w[0]), 3),
                **{n: round(float(v), 3) for n, v in zip([FEATURES[c] for c in columns], w[1:], strict=True)},
            },
            "R@10, R@1, nDCG@10 of the top 10 in the mode's own order": _means(own),
            "the same top 10 by calibrated score (what search returns)": _means(calibrated),
            "thresholds": cuts,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    collecting = commands.add_parser("collect")
    collecting.add_argument("records", type=Path)
    collecting.add_argument("output", type=Path)
    collecting.add_argument("--limit", type=int, default=None, help="The first N streams only.")
    collecting.add_argument("--model", default=None, help="A model directory (default: the shipped default).")
    fitting = commands.add_parser("fit")
    fitting.add_argument("collected", type=Path, nargs="+")
    arguments = parser.parse_args()
    if arguments.command == "collect":
        collect(arguments.records, arguments.output, arguments.limit, arguments.model)
    else:
        json.dump(fit(arguments.collected), sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
