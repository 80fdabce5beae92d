#!/usr/bin/env bash
# Trains and evaluates the runs behind docs/results.md: MAML on GoalGrid against
# the pretrained baseline and the random initialisation (3 seeds for MAML and
# pretrained), and one MAML run per other preset. About 40 minutes on a 2-core
# CPU. Usage, from the repository root with the venv active:
#   bash scripts/results_issue3.sh [OUT]        (default runs/results)
set -euo pipefail
out=${1:-runs/results}
mkdir -p "$out"

train_eval() {  # name seed preset [overrides...]
  local name=$1 seed=$2 preset=$3; shift 3
  metanav-train "configs/$preset.yaml" seed="$seed" "$@" --out "$out/$name" --quiet
  metanav-eval "$out/$name" --seed "$seed" --json "$out/$name/eval.json" \
    | tee "$out/$name/eval.txt"
}

train_eval goalgrid-maml 0 goalgrid
train_eval goalgrid-pretrained 0 goalgrid algorithm=pretrained
train_eval goalgrid-random 0 goalgrid iterations=0
for s in 1 2; do
  train_eval "goalgrid-maml-s$s" "$s" goalgrid
  train_eval "goalgrid-pretrained-s$s" "$s" goalgrid algorithm=pretrained
done
for preset in mazegrid fourrooms permutedgrid pointnav2d; do
  train_eval "$preset-maml" 0 "$preset"
done

metanav-plot "$out"/goalgrid-maml* "$out"/goalgrid-pretrained* \
  "$out/goalgrid-maml/eval.json" "$out/goalgrid-pretrained/eval.json" \
  "$out/goalgrid-random/eval.json" -o "$out/goalgrid.png"
metanav-plot --trajectory "$out/goalgrid-maml" -o "$out/goalgrid-trajectory.png"
python scripts/results_table.py "$out"/*/eval.json
