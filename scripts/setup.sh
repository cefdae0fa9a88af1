#!/usr/bin/env bash
# Installs every Debian package r1cpp needs (scripts/packages.txt), then
# configures and builds it in build/ (or $R1_BUILD_DIR). Safe to rerun: apt is
# touched only when a package is missing, and the build is incremental.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${R1_BUILD_DIR:-$root/build}"

mapfile -t packages < <(grep -v '^\s*#' "$root/scripts/packages.txt" | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install packages" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# LibTorch calls the generic libblas.so.3; make sure it resolves to OpenBLAS
# (16x the reference BLAS on these machines, DESIGN.md §6).
if command -v update-alternatives >/dev/null; then
  blas="$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -m1 openblas || true)"
  if [[ -n "$blas" ]]; then
    current="$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)"
    if [[ "$current" != "$(readlink -f "$blas")" && $(id -u) -eq 0 ]]; then
      update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas" >/dev/null
    fi
  fi
fi

start=$(date +%s)
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
echo "setup: build ready in $build_dir ($(( $(date +%s) - start )) s)"
