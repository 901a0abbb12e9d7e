#!/usr/bin/env bash
# Publish a finished mini study into the repository: each evaluation's results.json (per-problem counts, no
# samples) under recipes/mini/v1/results/<run>/, the training FLOPs of the equal-compute comparison
# (interplay-hf compute), then the reports (tables, paired changes, plots) and findings.json, both computed from
# the committed files only.
#   bash recipes/mini/v1/collect.sh [runs/mini]
set -euo pipefail
run=${1:-runs/mini}
out=recipes/mini/v1/results
declare -A evals=([base]=eval_base [rl_id]=eval_rl.id [rl_edge]=eval_rl.edge [rl_edge_mixed]=eval_rl.edge_mixed
                  [rl_edge_strict]=eval_rl.edge_strict [rl_id_strict]=eval_rl.id_strict [rl_edge_long]=eval_rl.edge_long
                  [mid_rl]=eval_mid
                  [ctx_b0]=eval_ctx.b0 [ctx_b10]=eval_ctx.b10)
for name in "${!evals[@]}"; do
  mkdir -p "$out/$name"
  cp "$run/${evals[$name]}/results.json" "$out/$name/results.json"
done
interplay-hf compute "$run/rl.edge" --output "$out/rl_edge/compute.json"
interplay-hf compute "$run/mid" "$run/rl_mid" --output "$out/mid_rl/compute.json"
runs=(base rl_id rl_edge rl_edge_mixed rl_edge_strict rl_id_strict rl_edge_long mid_rl)
labels=$(IFS=,; echo "${runs[*]}")
interplay-hf report "${runs[@]/#/$out/}" --labels "$labels" --output-dir "$out/report" --paired
interplay-hf report "$out"/{ctx_b0,ctx_b10} --labels ctx_b0,ctx_b10 --output-dir "$out/report_context" --paired
interplay-hf findings recipes/mini/v1/findings.yaml --output "$out/findings.json"
