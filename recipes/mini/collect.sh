#!/usr/bin/env bash
# Publish a finished mini study v2 into the repository: each evaluation's results.json (per-problem counts, no
# samples) under recipes/mini/results/<stage>/, the selection record, the training FLOPs of the equal-compute
# comparison (interplay-hf compute), then findings.json, computed from the committed files only.
#   bash recipes/mini/collect.sh [runs/mini2]
set -euo pipefail
run=${1:-runs/mini2}
out=recipes/mini/results
for dir in "$run"/eval_*; do
  [ -f "$dir/results.json" ] || continue
  mkdir -p "$out/$(basename "$dir")"
  cp "$dir/results.json" "$out/$(basename "$dir")/results.json"
done
mkdir -p "$out/select" "$out/compute"
cp "$run/select/selection.json" "$out/select/selection.json"
for seed in s0 s1; do
  interplay-hf compute "$run/rl.edge_$seed" --output "$out/compute/rl_edge_$seed.json"
  interplay-hf compute "$run/mid.full_$seed" --output "$out/compute/mid_full_$seed.json"
  interplay-hf compute "$run/mid.half_$seed" "$run/rl_mid.$seed" --output "$out/compute/mid_rl_$seed.json"
done
# every finished stage's wall time (from its .done marker), for the README's time table
python - "$run" "$out/stage_times.json" <<'PY'
import json, pathlib, sys
times = {p.parent.name: json.loads(p.read_text())["wall_s"] for p in sorted(pathlib.Path(sys.argv[1]).glob("*/.done"))}
pathlib.Path(sys.argv[2]).write_text(json.dumps({"wall_s": times, "total_s": round(sum(times.values()), 1)}, indent=1) + "\n")
PY
interplay-hf findings recipes/mini/findings.yaml --output "$out/findings.json"
