#!/usr/bin/env bash
# Small-scale ablations (paper Table 5): the same data, seed, steps and schedule for every run; one switch each.
# Usage: scripts/ablations.sh TRAIN.jsonl DEV.jsonl LOCOMO.json [STEPS]
# Writes runs/ablation/<name>/ (checkpoints, log.jsonl) and results/ablation/<name>/ (LoCoMo eval, probe).
set -euo pipefail
train=$1 dev=$2 locomo=$3 steps=${4:-40}
common=(--data "$train" --dev-data "$dev" --steps "$steps" --warmup-steps 8 --lr 2e-4 --batch-size 8
        --checkpoint-every "$steps" --eval-every "$steps" --fresh)
declare -A switches=(
    [full]=""
    [no-queue]="--no-queue"
    [no-memory-loss]="--memory-loss-weight 0"
    [no-length-weighting]="--no-length-weighting"
    [no-segment-batching]="GLOBAL"
)
for name in full no-queue no-memory-loss no-length-weighting no-segment-batching; do
    out=runs/ablation/$name
    if [ -f "$out/final/evomem_config.json" ]; then
        echo "skip $name (done)"
    elif [ "${switches[$name]}" = GLOBAL ]; then
        evomem --no-segment-batching train "${common[@]}" --output "$out"
    else
        # shellcheck disable=SC2086
        evomem train "${common[@]}" --output "$out" ${switches[$name]}
    fi
    mkdir -p "results/ablation/$name"
    cp "$out/log.jsonl" "results/ablation/$name/log.jsonl"
    evomem --model "$out/final" eval locomo "$locomo" --systems evomem --output-dir "results/ablation/$name" \
        > "results/ablation/$name/locomo.md"
    evomem --model "$out/final" probe > "results/ablation/$name/probe.md"
done
