#!/usr/bin/env bash
# The layering rules of DESIGN.md section 7, checked on every #include.
#
#   layer 0  proto (the messages; generated headers proto/*.pb.h)
#   layer 1  common
#   layer 2  tasks rpc sandbox model
#   layer 3  train rollout reward eval report
#   layer 4  sft rl
#   layer 5  distill
#   layer 6  cli
#
# A folder includes its own headers and those of lower layers, never of its
# own layer or above. Besides:
#   - common, proto, tasks, rpc, sandbox and reward never include LibTorch
#     (<torch/...>, <ATen/...>, <c10/...>) nor model/;
#   - sft, rl and distill use the rollout and reward clients, never their
#     servers (rollout/worker.h, rollout/engine.h, reward/server.h,
#     reward/scorer.h, rpc/server.h).
# Tests (*_test.cc and the files they alone use, under tests/) and bench/
# sit above everything and are not checked.
#
# Usage: scripts/check_layering.sh [ROOT]   (ROOT defaults to the repository)
# Prints each broken rule as FILE:LINE: message and exits 1 if there is one.
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"

declare -A layer=(
  [proto]=0
  [common]=1
  [tasks]=2 [rpc]=2 [sandbox]=2 [model]=2
  [train]=3 [rollout]=3 [reward]=3 [eval]=3 [report]=3
  [sft]=4 [rl]=4
  [distill]=5
  [cli]=6
)
torch_free=" common proto tasks rpc sandbox reward "
client_only=" sft rl distill "
server_headers=" rollout/worker.h rollout/engine.h reward/server.h reward/scorer.h rpc/server.h "

violations=0
report() {
  echo "$1: $2"
  violations=$((violations + 1))
}

for folder in "${!layer[@]}"; do
  [[ -d "$folder" ]] || continue
  while IFS= read -r file; do
    [[ "$file" == *_test.cc ]] && continue
    line_number=0
    while IFS= read -r line; do
      line_number=$((line_number + 1))
      [[ "$line" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\"\<])([^\"\>]+)[\"\>] ]] || continue
      included="${BASH_REMATCH[2]}"
      where="$file:$line_number"
      if [[ "${BASH_REMATCH[1]}" == "<" ]]; then
        if [[ "$torch_free" == *" $folder "* && "$included" =~ ^(torch|ATen|c10|caffe2)/ ]]; then
          report "$where" "$folder/ must not include LibTorch (<$included>)"
        fi
        continue
      fi
      target="${included%%/*}"
      [[ "$included" == */* && -n "${layer[$target]+x}" ]] || continue
      [[ "$target" == "$folder" ]] && continue
      if ((layer[$target] >= layer[$folder])); then
        report "$where" "$folder/ (layer ${layer[$folder]}) must not include $included (layer ${layer[$target]})"
      elif [[ "$torch_free" == *" $folder "* && "$target" == "model" ]]; then
        report "$where" "$folder/ is torch-free and must not include $included"
      elif [[ "$client_only" == *" $folder "* && "$server_headers" == *" $included "* ]]; then
        report "$where" "$folder/ uses clients only and must not include the server header $included"
      fi
    done <"$file"
  done < <(find "$folder" -type f \( -name '*.h' -o -name '*.cc' \) | sort)
done

if ((violations > 0)); then
  echo "check_layering: $violations include(s) break DESIGN.md section 7" >&2
  exit 1
fi
echo "check_layering: every include follows DESIGN.md section 7"
