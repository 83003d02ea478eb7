"""Query latency of every search mode at 300, 1K, 10K and 100K segments, and the lexical index's size: the
scaling part of `evomem bench` on its own. Usage: python scripts/bench_search_modes.py LOCOMO.json OUT.json"""

import json
import sys
from pathlib import Path

from evomem.bench import bench_query_scaling, locomo_texts
from evomem.model.loading import load_encoder

encoder = load_encoder(None)
texts, questions = locomo_texts(Path(sys.argv[1]), 300)
report = bench_query_scaling(encoder, texts, questions, sizes=(300, 1000, 10000, 100000), queries=50)
Path(sys.argv[2]).write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=1))
