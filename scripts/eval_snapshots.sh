#!/usr/bin/env bash
# LoCoMo dev (evomem only) and the temporal probe for every weights snapshot of a training run, for the model card.
# Usage: scripts/eval_snapshots.sh RUN_DIR LOCOMO.json OUT_DIR
set -euo pipefail
run=$1 locomo=$2 out=$3
for snapshot in "$run"/steps/step-*; do
    name=$(basename "$snapshot")
    mkdir -p "$out/$name"
    [ -f "$out/$name/locomo.md" ] || evomem --model "$snapshot" eval locomo "$locomo" --systems evomem \
        --output-dir "$out/$name" > "$out/$name/locomo.md"
    [ -f "$out/$name/probe.md" ] || evomem --model "$snapshot" probe > "$out/$name/probe.md"
    echo "$name $(grep '^| evomem | 760' "$out/$name/locomo.md") $(grep '^| evomem' "$out/$name/probe.md")"
done
