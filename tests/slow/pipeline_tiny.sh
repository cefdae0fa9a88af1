#!/usr/bin/env bash
# The whole embedded default, `r1 pipeline configs/tiny.textproto`, checked
# for what the README claims of it: RL raises held-out accuracy over the
# model it started from, and the distilled student keeps most of the
# teacher's accuracy. Labelled `slow` (about 12 minutes on 2 cores): run by
# hand with `ctest -L slow`, not in CI. Timing is recorded in README, never
# asserted here.
set -euo pipefail
bin="${1:?usage: pipeline_tiny.sh BIN_DIR SOURCE_ROOT}"
root="${2:?usage: pipeline_tiny.sh BIN_DIR SOURCE_ROOT}"
run_dir="$(mktemp -d /tmp/r1_pipeline_tiny.XXXXXX)"
trap 'rm -rf "$run_dir"' EXIT

start=$(date +%s)
"$bin/r1" pipeline "$root/configs/tiny.textproto" --run_dir "$run_dir/tiny"
echo "pipeline_tiny: the pipeline took $(( $(date +%s) - start )) s"

/usr/bin/python3 - "$run_dir/tiny/eval" <<'PY'
import json, sys
evals = {}
for name in ["pretrain", "cold_start_sft", "rl", "sft", "distill"]:
    with open(f"{sys.argv[1]}/{name}.json") as f:
        evals[name] = json.load(f)["avg_at_k"]
print("avg@k per stage:", evals)
before_rl = evals["cold_start_sft"]
assert evals["rl"] > before_rl, f"RL did not raise accuracy: {before_rl} -> {evals['rl']}"
teacher = evals["sft"]
assert evals["distill"] >= 0.8 * teacher, f"the student kept less than 80% of the teacher's {teacher}"
print("pipeline_tiny: RL raised avg@k", before_rl, "->", evals["rl"], "; student", evals["distill"],
      "against teacher", teacher)
PY
