#!/usr/bin/env bash
# Trained memory-shape ablations (issue 12; paper Table 5): memory length L (queue steps) and latents per step K,
# each a fresh model from the base on the same data, seed and schedule, scored on the late copy of the selection
# set (where the memory's length matters: questions at their stream's end) and the probe at 150 conversations.
# Usage: scripts/ablations_memory.sh [VARIANT ...]   (run from the repository, with runs/ holding data8 and data5;
#        a variant is LxK, e.g. 16x4; default: all). Resumable: a variant with a final model is skipped, a
#        stopped one goes on from its checkpoint.
# Writes runs/ablation-memory/<LxK>/ and results/ablation/memory/<LxK>/ (log, late-copy eval, probe).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(32x4 8x4 16x4 64x4 32x2 32x8)
for variant in "${variants[@]}"; do
    steps=${variant%x*} tokens=${variant#*x}
    out=runs/ablation-memory/$variant results=results/ablation/memory/$variant
    if [ ! -f "$out/final/evomem_config.json" ]; then
        evomem train --data runs/data8/train.jsonl --dev-data runs/data5/dev.jsonl --dev-samples 60 --output "$out" \
            --queue-steps "$steps" --query-tokens "$tokens" --steps 40 --batch-size 4 --max-questions 3 \
            --grad-window 16 --lr 2e-4 --warmup-steps 8 --checkpoint-every 5 --eval-every 40
    fi
    mkdir -p "$results"
    cp "$out/log.jsonl" "$results/log.jsonl"
    [ -f "$results/eval-dev-late.json" ] || evomem --model "$out/final" eval records runs/data5/dev-late.jsonl \
        --systems evomem --limit 120 --output-dir "$results"
    [ -f "$results/probe.md" ] || evomem --model "$out/final" probe --count 150 > "$results/probe.md"
done
