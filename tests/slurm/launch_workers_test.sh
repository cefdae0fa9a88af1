#!/usr/bin/env bash
# Tests scripts/launch_workers.sh against the real `r1 rollout serve`:
#   - argument errors (missing checkpoint) fail with a message, --help works;
#   - --detach: 2 workers serve (gRPC health check), the address file lists
#     them, --stop stops every recorded pid and removes the address file;
#   - foreground with --base_port: SIGTERM to the launcher stops its workers;
#
#   bash tests/slurm/launch_workers_test.sh BUILD_BIN_DIR
#
# Everything lives in one temp dir and workers use free ports, so it runs
# beside other tests; the trap stops whatever it started, pass or fail.
set -euo pipefail

bin_dir="${1:?usage: launch_workers_test.sh BUILD_BIN_DIR}"
bin_dir="$(cd "$bin_dir" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
launch="$root/scripts/launch_workers.sh"
r1="$bin_dir/r1"
py=/usr/bin/python3  # Debian's interpreter: the one with python3-grpcio (DESIGN.md §6)

log() { echo "[launch_workers_test $(date +%T)] $*"; }
fail() { echo "[launch_workers_test] FAIL: $*" >&2; exit 1; }

[[ -x "$r1" ]] || fail "$r1 not built"
"$py" -c 'import grpc' 2>/dev/null || fail "$py lacks grpc: install python3-grpcio"

tmp="$(mktemp -d /tmp/r1_launch_test.XXXXXX)"
launcher=""

# Pids of processes whose command line names our temp dir (the workers), read
# with builtins so no helper of ours matches itself.
our_processes() {
  local dir args
  for dir in /proc/[0-9]*; do
    if mapfile -d '' args 2>/dev/null <"$dir/cmdline" && [[ "${args[*]}" == *"$tmp/"* ]]; then
      echo "${dir#/proc/}"
    fi
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((status != 0)); then
    for f in "$tmp"/*/worker_*.log "$tmp"/launcher.out; do
      [[ -s "$f" ]] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  if [[ -n "$launcher" ]]; then kill -TERM "$launcher" 2>/dev/null; wait "$launcher" 2>/dev/null; fi
  for out in "$tmp"/detached "$tmp"/foreground; do
    [[ -d "$out" ]] && "$launch" --stop --out "$out" >/dev/null 2>&1
  done
  local left=()
  mapfile -t left < <(our_processes)
  if ((${#left[@]} > 0)); then
    log "killing leftover processes: ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# grpc.health.v1.Health/Check with an empty request answers SERVING (08 01).
health() { "$py" "$root/tests/slurm/grpc_health.py" "$@"; }

# True while any of the given pids is alive (a zombie counts as gone).
any_alive() {
  local pid
  for pid in "$@"; do
    if [[ -r "/proc/$pid/stat" ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

wait_gone() {
  for _ in $(seq 100); do
    any_alive "$@" || return 0
    sleep 0.1
  done
  fail "processes still alive: $*"
}

start=$SECONDS

# ---- a small checkpoint, built fresh ------------------------------------------
log "building a tiny checkpoint"
# threads=1: with every core (the config's 0) OpenMP's spinning threads make
# two training steps take 30-50 s instead of 1 s when other tests share the cores.
(cd "$root" && "$r1" pretrain configs/tiny.textproto --run_dir "$tmp/run" --set threads=1 \
  --set pretrain.corpus_examples=2000 --set pretrain.max_steps=2 --set pretrain.student_max_steps=0 \
  --quality_eval=false >"$tmp/pretrain.log" 2>&1) || { tail -n 20 "$tmp/pretrain.log" >&2; fail "pretrain failed"; }
ckpt="$(find "$tmp/run" -maxdepth 3 -type d -path '*/checkpoints/step_*' | sort | tail -n 1)"
[[ -f "$ckpt/config.json" ]] || fail "no checkpoint under $tmp/run"

# ---- argument errors --------------------------------------------------------
"$launch" --help | grep -q -- '--workers K' || fail "--help does not show the usage"
if "$launch" --ckpt "$tmp/missing" --workers 2 --out "$tmp/err" --r1 "$r1" 2>"$tmp/err.txt"; then
  fail "a missing checkpoint was accepted"
fi
grep -q "does not exist" "$tmp/err.txt" || fail "unclear error for a missing checkpoint: $(cat "$tmp/err.txt")"
if "$launch" --ckpt "$ckpt" --out "$tmp/err" --r1 "$r1" 2>"$tmp/err.txt"; then
  fail "a launch without --workers was accepted"
fi
grep -q -- "--workers is required" "$tmp/err.txt" || fail "unclear error without --workers"
[[ ! -e "$tmp/err" ]] || fail "a rejected launch created its --out dir"

# ---- --detach, then --stop ------------------------------------------------------
log "detached launch of 2 workers"
out="$tmp/detached"
"$launch" --ckpt "$ckpt" --workers 2 --out "$out" --r1 "$r1" --kv_slots 4 --threads 1 --timeout 120 \
  --detach >"$tmp/detached.stdout" 2>"$tmp/launcher.out" || fail "detached launch failed"
mapfile -t addresses <"$out/addresses"
((${#addresses[@]} == 2)) || fail "expected 2 addresses, got ${#addresses[@]}"
diff -q "$out/addresses" "$tmp/detached.stdout" >/dev/null || fail "printed addresses differ from the file"
mapfile -t pids <"$out/pids"
((${#pids[@]} == 2)) || fail "expected 2 recorded pids, got ${#pids[@]}"
for pid in "${pids[@]}"; do
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "rollout serve --ckpt $ckpt " ||
    fail "recorded pid $pid is not a worker"
done
health "${addresses[@]}" || fail "health check failed"

# A second launch into the same --out must refuse rather than orphan these.
if "$launch" --ckpt "$ckpt" --workers 1 --out "$out" --r1 "$r1" --detach 2>"$tmp/err.txt"; then
  fail "a second launch over running workers was accepted"
fi
grep -q "still run" "$tmp/err.txt" || fail "unclear error for a second launch: $(cat "$tmp/err.txt")"
any_alive "${pids[@]}" || fail "the refused launch stopped the running workers"

"$launch" --stop --out "$out" 2>/dev/null || fail "--stop failed"
wait_gone "${pids[@]}"
[[ ! -e "$out/addresses" ]] || fail "--stop left the address file"
if health "${addresses[0]}" >/dev/null 2>&1; then fail "${addresses[0]} still answers after --stop"; fi
log "detached workers stopped"

# ---- foreground, fixed ports, SIGTERM to the launcher ---------------------------
# Two consecutive free ports below the ephemeral range (32768+), where other
# tests' port-0 servers never land.
base_port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 12000))
  if "$py" -c 'import socket,sys
for port in (int(sys.argv[1]), int(sys.argv[1]) + 1):
    socket.socket().bind(("127.0.0.1", port))' "$p" 2>/dev/null; then
    base_port=$p; break
  fi
done
[[ -n "$base_port" ]] || fail "no free port pair found"

log "foreground launch of 2 workers on ports $base_port, $((base_port + 1))"
out="$tmp/foreground"
"$launch" --ckpt "$ckpt" --workers 2 --out "$out" --r1 "$r1" --kv_slots 4 --threads 1 --timeout 120 \
  --base_port "$base_port" >"$tmp/foreground.stdout" 2>"$tmp/launcher.out" &
launcher=$!
for _ in $(seq 1200); do
  [[ -f "$out/addresses" ]] && break
  kill -0 "$launcher" 2>/dev/null || fail "foreground launcher exited before serving"
  sleep 0.1
done
[[ -f "$out/addresses" ]] || fail "no address file after 120 s"
mapfile -t addresses <"$out/addresses"
[[ "${addresses[*]}" == "127.0.0.1:$base_port 127.0.0.1:$((base_port + 1))" ]] ||
  fail "unexpected addresses: ${addresses[*]}"
mapfile -t pids <"$out/pids"
health "${addresses[@]}" || fail "health check failed"

kill -TERM "$launcher"
set +e
wait "$launcher"
launcher_status=$?
set -e
launcher=""
((launcher_status == 143)) || fail "launcher exited with $launcher_status on SIGTERM, want 143"
wait_gone "${pids[@]}"
[[ ! -e "$out/addresses" ]] || fail "SIGTERM left the address file"
log "SIGTERM to the launcher stopped its workers"

remaining="$(our_processes | wc -l)"
((remaining == 0)) || fail "$remaining processes of this test still run"
log "PASS in $((SECONDS - start)) s"
