"""How a second channel mixed into the evolvable score ranks (issue 12). For each query the score of a segment is
``cos(evo_q, evo_s) + beta * second``, where ``second`` is, with ``--second static``, ``cos(static_q, static_s)``
(one vector per text ``[evo; sqrt(beta) * static]``), and with ``--second empty-memory``, ``cos(evo0_q, evo_s)``:
the query read with an empty memory, beside the same evolvable segment vectors (a query read twice).

usage: python scripts/static_mix.py RECORDS.jsonl OUT.json [--second static|empty-memory] [--model DIR]
       [--limit N] [--betas 0,0.25,0.5,1] (records of `evomem data build`; every beta on the same vectors, per source).
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
from tqdm import tqdm

from evomem.evaluation.metrics import score_ranking
from evomem.evaluation.tasks import load_records
from evomem.model.loading import load_encoder
from evomem.model.stream import encode_stream

parser = argparse.ArgumentParser()
parser.add_argument("records")
parser.add_argument("output")
parser.add_argument("--model", default=None)
parser.add_argument("--limit", type=int, default=None)
parser.add_argument("--betas", default="0,0.25,0.5,0.75,1,1.5")
parser.add_argument("--second", choices=("static", "empty-memory"), default="static")
args = parser.parse_args()

betas = [float(b) for b in args.betas.split(",")]
encoder = load_encoder(args.model)
task = load_records(Path(args.records))
if args.limit:
    task = task.first(args.limit)
queries_of = defaultdict(list)
for query in task.queries:
    queries_of[query.group].append(query)
scores: dict[float, dict[str, list[dict[str, float]]]] = {beta: defaultdict(list) for beta in betas}
with torch.inference_mode():
    for group in tqdm(task.groups, desc="streams"):
        asked = sorted(queries_of[group.id], key=lambda q: q.at)
        queue = encoder.new_queue()
        texts = list(group.texts[: max(q.at for q in asked)])
        token_ids = encoder.tokenize(texts)
        static = encoder.embed_static(texts) if args.second == "static" else None
        evolvable, read = [], 0
        for at in sorted({q.at for q in asked}):
            evolvable.append(encode_stream(encoder, queue, token_ids[read:at]))
            read = at
            here = [q for q in asked if q.at == at]
            questions = [q.text for q in here]
            segments = torch.cat(evolvable)[:at]
            evo_similarity = encoder.encode_queries(queue, questions) @ segments.T
            if static is None:
                second = encoder.encode_queries(encoder.new_queue(), questions) @ segments.T
            else:
                second = encoder.embed_static(questions) @ static[:at].T
            for beta in betas:
                order = torch.argsort(evo_similarity + beta * second, dim=1, descending=True, stable=True)
                for query, row in zip(here, order.tolist(), strict=True):
                    ranking = [group.segment_ids[i] for i in row]
                    scores[beta][query.category].append(score_ranking(ranking, set(query.relevant)))
summary = {}
for beta in betas:
    rows = dict(scores[beta])
    rows["all"] = [value for values in scores[beta].values() for value in values]
    summary[str(beta)] = {
        source: {metric: 100 * sum(v[metric] for v in values) / len(values) for metric in ("recall@10", "ndcg@10")}
        | {"count": len(values)}
        for source, values in rows.items()
    }
    line = "  ".join(f"{s} {m['recall@10']:.1f}/{m['ndcg@10']:.1f}" for s, m in sorted(summary[str(beta)].items()))
    print(f"beta {beta}: {line}")
Path(args.output).write_text(json.dumps(summary, indent=1))
