#!/usr/bin/env bash
# Issue 12's selection table: each candidate on the whole data5 dev file (the selection set, fixed before scoring).
# usage: scripts/select_candidates.sh NAME=MODEL_DIR ...   (run from the repository, with runs/ holding data5)
# The baselines (static, BM25) come with the first run: scripts/select_candidates.sh v4=evomem/weights/default
set -euo pipefail
export OMP_NUM_THREADS=1
systems=evomem,static,bm25
for candidate in "$@"; do
  name=${candidate%%=*} model=${candidate#*=}
  if [ ! -f "runs/select/$name/eval-dev.json" ]; then  # else done in an earlier session
    evomem --model "$model" eval records runs/data5/dev.jsonl --systems "$systems" --output-dir "runs/select/$name"
  fi
  systems=evomem
done
