#!/usr/bin/env bash
# Set-up plus the main job: the whole staged run of the embedded default,
# `r1 pipeline configs/tiny.textproto` (pretraining of the tiny policy and
# its student base, cold-start SFT, R1-Zero GRPO, rejection sampling, SFT,
# distillation into the dense student, export to Hugging Face and GGUF, eval
# of every stage), about 12 minutes on 2 cores; then samples from the
# exported student. Artifacts go to runs/quickstart/tiny (or <first
# argument>/tiny); the report is report.html there. Rerunning skips the
# stages that finished and resumes an interrupted one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${R1_BUILD_DIR:-$root/build}"
out="${1:-$root/runs/quickstart}"

"$root/scripts/setup.sh"
r1="$build_dir/bin/r1"
mkdir -p "$out"

echo "== config"
"$r1" config check "$root/configs/tiny.textproto"

echo "== the staged pipeline (configs/tiny.textproto)"
"$r1" pipeline "$root/configs/tiny.textproto" --run_dir "$out/tiny"

student="$out/tiny/export"
echo "== samples from the exported student ($student)"
"$r1" generate --ckpt "$student" --prompt "What is 23 + 45?" --n 3 --max_new_tokens 160 --seed 1
echo "done: report in $out/tiny/report.html, student in $student (Hugging Face + GGUF)"
