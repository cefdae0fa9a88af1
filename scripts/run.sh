#!/usr/bin/env bash
# Set-up plus the main job. Until the staged pipeline exists (issue: the
# staged pipeline), the main job is the most complete one there is: generate
# the embedded tasks' datasets, train a tokenizer and show it at work,
# pretrain the tiny policy of configs/tiny.textproto (about 8 minutes on 2
# cores, accuracy on held-out prompts at the end), then R1-Zero: GRPO from
# that base (about 8 minutes with its evals), sampling after each.
# Artifacts go to runs/quickstart/ (or the folder given as the first argument).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${R1_BUILD_DIR:-$root/build}"
out="${1:-$root/runs/quickstart}"

"$root/scripts/setup.sh"
r1="$build_dir/bin/r1"
mkdir -p "$out"

echo "== config"
"$r1" config check "$root/configs/tiny.textproto"

echo "== datasets (seeded: rerunning writes the same files)"
for task in arithmetic countdown linear_equation; do
  "$r1" data gen --task "$task" --n 2000 --seed 1 --out "$out/$task.train.jsonl"
  "$r1" data gen --task "$task" --n 200 --seed 2 --out "$out/$task.eval.jsonl"
done
"$r1" data gen --task arithmetic,countdown --n 1000 --seed 3 --format sft --out "$out/cold_start.sft.jsonl"
"$r1" data gen --task arithmetic,countdown --n 50000 --seed 4 --format text --error_rate 0.3 \
  --out "$out/corpus.txt"
"$r1" data check --kind sft "$out/cold_start.sft.jsonl"

echo "== tokenizer"
"$r1" tokenizer train --input "$out/corpus.txt" --vocab_size 128 --model_type bpe \
  --out "$out/tokenizer.model"
prompt="$(head -n 1 "$out/countdown.eval.jsonl" | sed 's/.*"prompt":"\([^"]*\)".*/\1/')"
echo "prompt:  $prompt"
ids="$("$r1" tokenizer encode --model "$out/tokenizer.model" --chat --text "$prompt")"
echo "ids:     $ids"
echo "pieces:  $("$r1" tokenizer encode --model "$out/tokenizer.model" --chat --pieces --text "$prompt")"
echo "decoded: $("$r1" tokenizer decode --model "$out/tokenizer.model" --ids "$ids")"

echo "== pretraining the tiny policy (configs/tiny.textproto)"
ckpt="$("$r1" pretrain "$root/configs/tiny.textproto" --run_dir "$out/tiny")"
echo "== samples from $ckpt"
"$r1" generate --ckpt "$ckpt" --prompt "What is 23 + 45?" --n 3 --max_new_tokens 160 --seed 1
echo "== R1-Zero: GRPO from the pretrained base (reward service and a rollout worker on loopback)"
rl_ckpt="$("$r1" rl "$root/configs/tiny.textproto" --run_dir "$out/tiny")"
echo "== samples from $rl_ckpt"
"$r1" generate --ckpt "$rl_ckpt" --prompt "What is 23 + 45?" --n 3 --max_new_tokens 160 --seed 1
echo "done: artifacts in $out (metrics: $out/tiny/pretrain/metrics.jsonl, $out/tiny/rl/metrics.jsonl)"
