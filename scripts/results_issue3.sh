#!/usr/bin/env bash
# Trains and evaluates the runs behind docs/results.md (GoalGrid MAML against the
# pretrained baseline, and one MAML row per other preset). About 20 minutes on a
# 2-core CPU. Usage: bash scripts/results_issue3.sh [OUT]   (default runs/results)
set -euo pipefail
out=${1:-runs/results}
mkdir -p "$out"
bin=$(dirname "$(command -v python)")

train_eval() {  # name preset [overrides...]
  local name=$1 preset=$2; shift 2
  "$bin/metanav-train" "configs/$preset.yaml" "$@" --out "$out/$name" --quiet
  "$bin/metanav-eval" "$out/$name" --json "$out/$name/eval.json" | tee "$out/$name/eval.txt"
}

train_eval goalgrid-maml goalgrid
train_eval goalgrid-pretrained goalgrid algorithm=pretrained
train_eval goalgrid-random goalgrid iterations=0
for preset in mazegrid fourrooms permutedgrid pointnav2d; do
  train_eval "$preset-maml" "$preset"
done

"$bin/metanav-plot" "$out/goalgrid-maml" "$out/goalgrid-pretrained" \
  "$out/goalgrid-maml/eval.json" "$out/goalgrid-pretrained/eval.json" \
  "$out/goalgrid-random/eval.json" -o "$out/goalgrid.png"
"$bin/metanav-plot" --trajectory "$out/goalgrid-maml" -o "$out/goalgrid-trajectory.png"
