#!/usr/bin/env bash
# Issue 12's selection table: each candidate on the whole data5 dev file (the selection set, fixed before scoring)
# and, from the seventh session on, on its late copy (the same streams, the MSC/QMSum/FriendsQA questions asked at
# their stream's end: docs/training.md, "Late questions").
# usage: scripts/select_candidates.sh NAME=MODEL_DIR ...   (run from the repository, with runs/ holding data5)
# The baselines (static, BM25) come with the first candidate of each file: scripts/select_candidates.sh v4=evomem/weights/default
# Outputs already written (runs/select/NAME/eval-dev.json, eval-dev-late.json) are kept.
set -euo pipefail
export OMP_NUM_THREADS=1
for dev in ${DEV_FILES:-dev dev-late}; do
  systems=evomem,static,bm25
  for candidate in "$@"; do
    name=${candidate%%=*} model=${candidate#*=}
    if [ ! -f "runs/select/$name/eval-$dev.json" ]; then
      evomem --model "$model" eval records "runs/data5/$dev.jsonl" --systems "$systems" --output-dir "runs/select/$name"
    fi
    systems=evomem
  done
done
