#!/usr/bin/env bash
# Trains and evaluates the runs behind the "PointNav2D, the paper's setting" table
# of docs/results.md: MAML, pretrained and oracle (100 meta-iterations each) and
# the random initialisation (iterations=0), for seeds 0, 1 and 2, all with
# configs/pointnav2d_paper.yaml, then evaluates every run with the paper's
# protocol on the same 40 test goals (evaluation seed 0) and draws the curves.
# Usage, from the repository root with the venv active:
#   bash scripts/results_pointnav_paper.sh [OUT]      (default runs/pointnav-paper)
# A run that has finished is skipped; one that was stopped is resumed.
set -euo pipefail
out=${1:-runs/pointnav-paper}
mkdir -p "$out"

train() {  # name [overrides...]
  local name=$1; shift
  if [ -e "$out/$name/policy.json" ]; then return; fi
  if [ -d "$out/$name/checkpoints" ]; then
    metanav-train --resume "$out/$name" --quiet
  else
    metanav-train configs/pointnav2d_paper.yaml "$@" --out "$out/$name" --quiet
  fi
}

for seed in 0 1 2; do
  train "maml_s$seed" seed="$seed"
  train "pretrained_s$seed" algorithm=pretrained seed="$seed"
  train "oracle_s$seed" algorithm=oracle seed="$seed"
  train "random_s$seed" iterations=0 seed="$seed"
done
for run in "$out"/*_s?; do
  metanav-eval "$run" --protocol maml-paper --json "$run/eval_paper.json" \
    | tee "$run/eval_paper.txt"
done
# The later step sizes chosen on train goals (docs/results.md).
for run in "$out"/maml_s?; do
  metanav-eval "$run" --protocol maml-paper --step-sizes 0.5 0.1 \
    --json "$run/eval_tuned.json"
done
for run in "$out"/pretrained_s?; do
  metanav-eval "$run" --protocol maml-paper --step-sizes 0.05 0.025 \
    --json "$run/eval_tuned.json"
done
python scripts/results_table.py --group "$out"/*_s?/eval_paper.json
python scripts/results_table.py --group "$out"/*_s?/eval_tuned.json
metanav-plot "$out"/maml_s? "$out"/pretrained_s? "$out"/oracle_s? \
  "$out"/maml_s0/eval_paper.json "$out"/maml_s0/eval_tuned.json \
  "$out"/pretrained_s0/eval_tuned.json "$out"/random_s0/eval_paper.json \
  -o docs/img/pointnav2d-paper.png
