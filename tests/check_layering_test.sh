#!/usr/bin/env bash
# scripts/check_layering.sh finds each kind of broken include in a made-up
# tree, and passes a tree that keeps the rules.
set -euo pipefail
check="$1"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT

mkdir -p "$tree"/{common,model,reward,rl,rollout,eval,sft}
printf '#include "common/status.h"\n#include <absl/strings/str_cat.h>\n' >"$tree/common/ok.cc"
printf '#include "common/status.h"\n#include "proto/config.pb.h"\n#include <torch/torch.h>\n' >"$tree/model/ok.cc"
printf '#include "model/causal_lm.h"\n#include "rollout/client.h"\n#include "reward/client.h"\n' >"$tree/rl/ok.cc"
printf '#include "rl/learner.h"\n' >"$tree/model/model_test.cc"  # tests are not checked
if ! out="$(bash "$check" "$tree" 2>&1)"; then
  echo "FAIL: a tree that keeps the rules was refused:"; echo "$out"; exit 1
fi

printf '#include "model/causal_lm.h"\n' >"$tree/common/up.h"                 # common above itself
printf '// why\n#include <torch/torch.h>\n' >"$tree/reward/torch.cc"          # torch in reward
printf '#include "model/kv_cache.h"\n' >"$tree/reward/model.cc"               # model in reward
printf '#include "rollout/worker.h"\n' >"$tree/rl/server.cc"                  # a server in rl
printf '#include "eval/accuracy.h"\n' >"$tree/rollout/same_layer.cc"          # same layer
printf '#  include "sft/pretrain.h"\n' >"$tree/eval/spaced.h"                 # spaced directive, upward
if out="$(bash "$check" "$tree" 2>&1)"; then
  echo "FAIL: broken includes passed:"; echo "$out"; exit 1
fi
for expected in \
  "common/up.h:1: common/ (layer 1) must not include model/causal_lm.h (layer 2)" \
  "reward/torch.cc:2: reward/ must not include LibTorch (<torch/torch.h>)" \
  "reward/model.cc:1: reward/ is torch-free and must not include model/kv_cache.h" \
  "rl/server.cc:1: rl/ uses clients only and must not include the server header rollout/worker.h" \
  "rollout/same_layer.cc:1: rollout/ (layer 3) must not include eval/accuracy.h (layer 3)" \
  "eval/spaced.h:1: eval/ (layer 3) must not include sft/pretrain.h (layer 4)" \
  "check_layering: 6 include(s) break"; do
  if [[ "$out" != *"$expected"* ]]; then
    echo "FAIL: expected \"$expected\" in:"; echo "$out"; exit 1
  fi
done
echo "check_layering_test: ok"
