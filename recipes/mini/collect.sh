#!/usr/bin/env bash
# Publish a finished mini study v2 into the repository: each evaluation's results.json (per-problem counts, no
# samples) under recipes/mini/results/<stage>/, the selection record, the training FLOPs of the equal-compute
# comparison (interplay-hf compute), then findings.json, computed from the committed files only.
#   bash recipes/mini/collect.sh [runs/mini2]
# (the evaluation reports land in report_edge/, report_id/ and report_ctx_b*/, each against its base)
set -euo pipefail
run=${1:-runs/mini2}
out=recipes/mini/results
[ -f "$run/select/selection.json" ] || { echo "collect.sh: $run is not a finished mini study run (no select/selection.json); pass its folder, e.g. runs/mini2" >&2; exit 2; }
for dir in "$run"/eval_*; do
  [ -f "$dir/results.json" ] || continue
  # the model and data paths as the README's commands name them (runs/mini2/...), not this machine's
  python recipes/mini/copy_results.py "$dir/results.json" "$out/$(basename "$dir")/results.json" "$run/.."
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
# every arm side by side, from the committed counts: pass@k per regime with intervals, paired changes against the
# first run (the base before the step tested), error types per regime (naming vs reasoning failures)
arms="rl_edge rl_control rl_id rl_outcome rl_mixed mid_full rl_mid"
for s in edge id; do
  interplay-hf report "$out/eval_${s}_base" $(for a in $arms; do echo "$out/eval_$s.${a}_s0 $out/eval_$s.${a}_s1"; done) \
    --paired --output-dir "$out/report_$s"
done
for b in b0 b1 b10; do
  interplay-hf report "$out/eval_ctx.base_$b" "$out/eval_ctx.ctx_${b}_s0" "$out/eval_ctx.ctx_${b}_s1" \
    --paired --output-dir "$out/report_ctx_$b"
done
