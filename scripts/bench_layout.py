"""Query latency at 300/1K/10K/100K segments in one namespace and in one of 1,000 namespaces of 100 (issue 14).

usage: PYTHONPATH=<evomem tree> python scripts/bench_layout.py OUT.json (reads LoCoMo dev from ../shared)."""

import json
import sys
import time
from pathlib import Path

from evomem.bench import bench_many_namespaces, bench_query_scaling, locomo_texts
from evomem.model.loading import load_encoder

encoder = load_encoder(None)
texts, questions = locomo_texts(Path(__file__).resolve().parents[2] / "shared/data/locomo-dev/locomo_dev.json", 300)
began = time.time()
report = {**bench_query_scaling(encoder, texts, questions), **bench_many_namespaces(encoder, texts, questions)}
report["seconds"] = time.time() - began
Path(sys.argv[1]).write_text(json.dumps(report, indent=1))
print(json.dumps(report, indent=1))
