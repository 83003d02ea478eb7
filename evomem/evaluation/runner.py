"""Run every system on every group of a task; aggregate per category and overall; write table, JSON, plot."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ..model.encoder import EvoEncoder
from ..search.ranking import reciprocal_rank_fusion
from .metrics import RECALL_AT, score_ranking
from .resume import GroupLog, GroupRows, run_digest
from .systems import FUSED_SYSTEMS, build_rankers
from .tasks import Group, Query, Task

METRICS = (*(f"recall@{k}" for k in RECALL_AT), "ndcg@10", "mrr")


def evaluate(
    task: Task,
    encoder: EvoEncoder,
    systems: Sequence[str],
    segment_batching: bool = True,
    show_progress: bool = True,
    resume_dir: Path | None = None,
) -> dict:
    """Per-query scores of each system and their means per category and overall (headline categories).

    With ``resume_dir``, each group's scores are logged there as it finishes (``resume.GroupLog``); a run
    stopped part way resumes from the log and removes it once the results are complete."""
    rankers = build_rankers(systems, encoder, segment_batching)
    queries_by_group = defaultdict(list)
    for query in task.queries:
        queries_by_group[query.group].append(query)
    fingerprint = encoder.fingerprint()  # hashes the backbone's files and the weights: once a run
    log = None
    if resume_dir is not None:
        log = GroupLog(resume_dir, task.name, run_digest(task, fingerprint, systems, segment_batching))
    done = log.read() if log else {}
    per_query: dict[str, list[dict]] = {name: [] for name in systems}
    progress = tqdm(task.groups, desc=f"eval {task.name}", unit="group", disable=not show_progress)
    if done:
        assert log is not None  # ``done`` comes from the log
        progress.write(f"resuming: {len(done)} of {len(task.groups)} groups scored by an earlier run ({log.path})")
    for group in progress:
        queries = queries_by_group.get(group.id)
        if not queries:
            continue
        rows = done.get(group.id)
        if rows is None:
            rows = _score_group(group, queries, rankers, systems)
            if log:
                log.append(group.id, rows)
        for name in systems:
            per_query[name] += rows[name]
    results = {
        "task": task.name,
        "fingerprint": fingerprint,
        "headline_excludes": sorted(task.headline_excludes),
        "category_names": task.category_names,
        "systems": {name: _aggregate(rows, task.headline_excludes) for name, rows in per_query.items()},
        "per_query": per_query,
    }
    if log:
        log.remove()
    return results


def _score_group(group: Group, queries: list[Query], rankers: dict, systems: Sequence[str]) -> GroupRows:
    """Each system's score rows for the group's queries, each query ranked at its point."""
    queries = sorted(queries, key=lambda q: len(group.texts) if q.at is None else q.at)  # stable: file order
    points: dict[int, list[str]] = defaultdict(list)
    for query in queries:
        points[len(group.texts) if query.at is None else query.at].append(query.text)
    rankings = {}
    for name, ranker in rankers.items():
        by_point = ranker.rank_points(group, points)
        rankings[name] = [ranking for at in points for ranking in by_point[at]]
    rows: GroupRows = {}
    for name in systems:
        if name in FUSED_SYSTEMS:
            parts = [rankings[base] for base in FUSED_SYSTEMS[name]]
            ranked = [list(reciprocal_rank_fusion(list(pair))) for pair in zip(*parts, strict=True)]
        else:
            ranked = rankings[name]
        rows[name] = [
            {"query": query.id, "category": query.category, **score_ranking(ranking, set(query.relevant))}
            for query, ranking in zip(queries, ranked, strict=True)
        ]
    return rows


def _mean(rows: list[dict]) -> dict[str, float]:
    return {metric: 100 * sum(row[metric] for row in rows) / len(rows) for metric in METRICS} | {"n": len(rows)}


def _aggregate(rows: list[dict], excludes: frozenset[str]) -> dict:
    by_category = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    headline = [row for row in rows if row["category"] not in excludes]
    return {
        "overall": _mean(headline) if headline else {},
        "categories": {category: _mean(items) for category, items in sorted(by_category.items())},
    }


def category_labels(results: dict) -> dict[str, str]:
    """Each category of the results, in order, with its label: ``multi-hop (1)`` where it has a name."""
    names = results.get("category_names", {})
    categories = sorted({c for result in results["systems"].values() for c in result["categories"]})
    return {c: f"{names[c]} ({c})" if c in names else f"cat {c}" for c in categories}


def markdown_table(results: dict) -> str:
    """Overall metrics per system, then R@10 per category."""
    systems = results["systems"]
    lines = [
        f"Task {results['task']} (model {results['fingerprint']}); overall leaves out categories "
        f"{results['headline_excludes'] or 'none'}",
        "",
        "| system | n | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for name, result in systems.items():
        overall = result["overall"]
        cells = " | ".join(f"{overall[m]:.1f}" for m in METRICS)
        lines.append(f"| {name} | {overall['n']} | {cells} |")
    labels = category_labels(results)
    categories = list(labels)
    lines += ["", "| system (R@10) | " + " | ".join(labels.values()) + " |"]
    lines.append("|---|" + "---|" * len(categories))
    for name, result in systems.items():
        cells = " | ".join(
            f"{result['categories'][c]['recall@10']:.1f} (n={result['categories'][c]['n']})"
            if c in result["categories"]
            else "-"
            for c in categories
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """Recall@k curves per system and a per-category R@10 bar chart, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = results["systems"]
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, result in systems.items():
        curves.plot(RECALL_AT, [result["overall"][f"recall@{k}"] for k in RECALL_AT], marker="o", label=name)
    curves.set(xlabel="k", ylabel="recall@k (%)", title=f"{results['task']}: recall@k", xticks=list(RECALL_AT))
    curves.legend()
    labels = category_labels(results)
    categories = list(labels)
    width = 0.8 / max(1, len(systems))
    for i, (name, result) in enumerate(systems.items()):
        values = [result["categories"].get(c, {}).get("recall@10", 0.0) for c in categories]
        bars.bar([x + i * width for x in range(len(categories))], values, width, label=name)
    bars.set_xticks([x + 0.4 - width / 2 for x in range(len(categories))], list(labels.values()))
    bars.set(ylabel="recall@10 (%)", title="recall@10 per category")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_outputs(results: dict, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / f"eval-{results['task']}.json", "plot": directory / f"eval-{results['task']}.png"}
    paths["json"].write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    plot(results, paths["plot"])
    return paths
