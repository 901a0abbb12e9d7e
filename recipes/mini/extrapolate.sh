#!/usr/bin/env bash
# Exploratory probe for the mini study v2 (recipes/mini/README.md, "Can a base extrapolate one op without a
# tail?"): do bases trained on op 2 only solve any op-3 problem? Reuses a finished study run's data, tokenizer
# and phase-1 base (the 1M model); trains a ~5M model with the same recipe, data and token budget; evaluates
# both on the study's zoo op-2 and op-3 problems (100 each, n = 128) and copies the counts to the repository.
#   bash recipes/mini/extrapolate.sh [runs/mini2]
set -euo pipefail
run=${1:-runs/mini2}
[ -f "$run/pretrain/model.safetensors" ] || { echo "extrapolate.sh: $run has no finished phase-1 base (pretrain/model.safetensors); pass a mini study run folder, e.g. runs/mini2" >&2; exit 2; }
work=$run/extrapolate
out=recipes/mini/results/extrapolate
mkdir -p "$work" "$out"
if [ ! -f "$work/p1_5m/model.safetensors" ]; then
  # two DDP ranks, as the study ran phase 1: the same batch (2 x 4 x 512 tokens) and steps
  interplay-hf train sft --config recipes/quickstart/pretrain.yaml --num-processes 2 -- --output_dir "$work/p1_5m" \
    --dataset_path "$run/data/dataset" --tokenizer_name_or_path "$run/tokenizer" --bf16 false \
    --model_preset qwen2-5m
fi
for arm in p1_1m:"$run/pretrain" p1_5m:"$work/p1_5m"; do
  name=${arm%%:*} model=${arm#*:}
  interplay-hf eval --model "$model" --data "$run/data/dataset" --split 'eval_*' --ops 2-3 --contexts zoo \
    --regimes "ID=2,OOD-edge=3" --n 128 --k 1,8,32,128 --max-new-tokens 160 --seed 0 --no-inspect \
    --output-dir "$work/eval_$name"
  python recipes/mini/copy_results.py "$work/eval_$name/results.json" "$out/eval_$name/results.json" "$run/.."
done
