#!/usr/bin/env bash
# Set-up plus the whole test suite (everything not labelled `slow`). This is
# what CI runs (.ci/run). Extra arguments go to ctest, e.g. `-L unit`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${R1_BUILD_DIR:-$root/build}"

"$root/scripts/setup.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j "$(nproc)" -LE slow "$@"
