#!/usr/bin/env bash
# Starts K rollout workers (`r1 rollout serve`) on this host, waits until every
# one is serving, and writes an address file (one host:port per line) for the
# rollout pool. Stops them all again on Ctrl-C/SIGTERM, or later with --stop.
#
# Everything a run needs to be found again lives in --out: pids, port files,
# logs and the address file, so `--stop --out DIR` works from any shell.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<EOF
usage: scripts/launch_workers.sh --ckpt DIR --workers K [options] [-- extra serve flags]
       scripts/launch_workers.sh --stop [--out DIR]

Starts K rollout workers on this host, waits until each is serving, writes
OUT/addresses (one host:port per line, replaced atomically) and prints it.
By default the script then stays in the foreground and stops every worker on
Ctrl-C or SIGTERM, or when any worker exits; with --detach it returns once the
workers are serving and leaves them running until --stop.

options:
  --ckpt DIR        checkpoint (or Hugging Face folder) to serve (required)
  --workers K       number of workers (required, >= 1)
  --base_port P     worker i listens on port P+i; 0 = any free port (default 0)
  --address A       interface to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --advertise HOST  host written to the address file (default: A, or this
                    host's name when A is 0.0.0.0 or ::)
  --out DIR         pids, port files, logs and the address file
                    (default ./rollout_workers)
  --kv_slots N      KV slots per worker (default: r1's default)
  --threads T       intra-op threads per worker (default: cores / K, at least 1)
  --r1 PATH         the r1 binary (default \$R1_BIN, else build/bin/r1, else r1 on PATH)
  --timeout S       seconds to wait for every worker to serve (default 300)
  --detach          return once serving; stop later with --stop
  --stop            stop the workers recorded in --out and remove the address file
  -h, --help        this help

Flags after -- go to every \`r1 rollout serve\` unchanged.
EOF
}

die() { echo "launch_workers: $*" >&2; exit 1; }

ckpt="" workers="" base_port=0 address="127.0.0.1" advertise="" out="rollout_workers"
kv_slots="" threads="" r1="${R1_BIN:-}" timeout_s=300 detach=0 stop=0
extra=()
while (($# > 0)); do
  case "$1" in
    --ckpt) ckpt="${2:?--ckpt needs a value}"; shift 2 ;;
    --workers) workers="${2:?--workers needs a value}"; shift 2 ;;
    --base_port) base_port="${2:?--base_port needs a value}"; shift 2 ;;
    --address) address="${2:?--address needs a value}"; shift 2 ;;
    --advertise) advertise="${2:?--advertise needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --kv_slots) kv_slots="${2:?--kv_slots needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --r1) r1="${2:?--r1 needs a value}"; shift 2 ;;
    --timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
    --detach) detach=1; shift ;;
    --stop) stop=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# Check the arguments before touching anything.
if ((!stop)); then
  [[ -n "$ckpt" ]] || { usage >&2; die "--ckpt is required"; }
  [[ -n "$workers" ]] || { usage >&2; die "--workers is required"; }
  [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer, got '$workers'"
  if ! [[ "$base_port" =~ ^[0-9]+$ ]] || ((base_port != 0 && base_port + workers - 1 > 65535)); then
    die "--base_port must be 0 or a port with room for $workers workers, got '$base_port'"
  fi
  [[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout_s'"
  [[ -d "$ckpt" ]] || die "checkpoint $ckpt does not exist (or is not a directory)"
  [[ -f "$ckpt/config.json" ]] || die "$ckpt does not look like a checkpoint: no config.json in it"
  ckpt="$(cd "$ckpt" && pwd)"
elif [[ ! -d "$out" ]]; then
  echo "launch_workers: $out does not exist; nothing to stop" >&2
  exit 0
fi

# Absolute paths: --stop may run from another directory, and the pid check
# below matches the port file path in each worker's command line.
mkdir -p "$out" 2>/dev/null || die "cannot create --out $out"
out="$(cd "$out" && pwd)"
pid_file="$out/pids"
address_file="$out/addresses"

# True when PID is alive and is one of this --out's workers. Pids are reused by
# the kernel, so a bare `kill` on an old pid file could hit an unrelated process.
# (mapfile, a builtin: no helper process whose own command line could match.)
is_our_worker() {
  local pid="$1" args
  mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [[ " ${args[*]} " == *" rollout serve "* && " ${args[*]} " == *" --port_file $out/worker_"* ]]
}

# This --out's workers: the recorded pids, plus any process that names a port
# file here (a worker started just as a signal arrived, before its pid was
# written down, or one whose pid file was lost).
our_workers() {
  local pid dir
  if [[ -f "$pid_file" ]]; then
    while read -r pid; do
      if [[ -n "$pid" ]] && is_our_worker "$pid"; then echo "$pid"; fi
    done <"$pid_file"
  fi
  for dir in /proc/[0-9]*; do
    if is_our_worker "${dir#/proc/}"; then echo "${dir#/proc/}"; fi
  done
}

# SIGTERM every worker (they stop cleanly on it), wait up to 20 s, then
# SIGKILL whatever is left; remove the address file so no pool dials workers
# that are gone.
stop_workers() {
  rm -f "$address_file"
  local pids=() pid
  mapfile -t pids < <(our_workers | sort -un)
  if ((${#pids[@]} > 0)); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 200); do
      local alive=()
      for pid in "${pids[@]}"; do
        if is_our_worker "$pid"; then alive+=("$pid"); fi
      done
      if ((${#alive[@]} == 0)); then break; fi
      sleep 0.1
    done
    for pid in "${pids[@]}"; do
      if is_our_worker "$pid"; then
        echo "launch_workers: worker $pid ignored SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    # Reap the ones that are our own children (foreground mode); no-op otherwise.
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  echo "launch_workers: stopped ${#pids[@]} worker(s) in $out" >&2
}

if ((stop)); then
  stop_workers
  exit 0
fi

if [[ -z "$r1" ]]; then
  if [[ -x "${R1_BUILD_DIR:-$root/build}/bin/r1" ]]; then r1="${R1_BUILD_DIR:-$root/build}/bin/r1"
  elif command -v r1 >/dev/null; then r1="$(command -v r1)"
  else die "no r1 binary: build it (scripts/setup.sh), or pass --r1 PATH or set R1_BIN"
  fi
fi
[[ -x "$r1" ]] || die "r1 binary $r1 is not executable"

if [[ -z "$threads" ]]; then
  # Each worker defaults to every core; K of them would oversubscribe the host.
  threads=$(($(nproc) / workers))
  if ((threads < 1)); then threads=1; fi
fi
if [[ -z "$advertise" ]]; then
  case "$address" in
    0.0.0.0|::|"[::]") advertise="$(hostname -f 2>/dev/null || hostname)" ;;
    *) advertise="$address" ;;
  esac
fi
if [[ "$advertise" == *:* && "$advertise" != \[* ]]; then advertise="[$advertise]"; fi  # IPv6 literal

# Refuse to start over a live set: their pid file would be lost and they would
# become orphans nobody can --stop.
running="$(our_workers | sort -un | tr '\n' ' ')"
if [[ -n "$running" ]]; then
  die "workers from an earlier launch still run in $out (pids ${running% }); run --stop --out $out first"
fi
rm -f "$pid_file"
rm -f "$address_file" "$out"/worker_*.port

# Until the workers are handed over (--detach) every exit path stops them:
# an error, Ctrl-C or SIGTERM while waiting must not leave orphans behind.
handed_over=0
# shellcheck disable=SC2317  # invoked by the trap
on_exit() { ((handed_over)) || stop_workers; }
trap on_exit EXIT
trap 'echo "launch_workers: interrupted" >&2; exit 130' INT
trap 'echo "launch_workers: terminated" >&2; exit 143' TERM

pids=()
for ((i = 0; i < workers; i++)); do
  port=0
  if ((base_port != 0)); then port=$((base_port + i)); fi
  args=(rollout serve --ckpt "$ckpt" --address "$address" --port "$port"
        --port_file "$out/worker_$i.port" --threads "$threads" --version 0)
  if [[ -n "$kv_slots" ]]; then args+=(--kv_slots "$kv_slots"); fi
  # setsid: a Ctrl-C in this terminal reaches the script (which stops the
  # workers in order) rather than every worker at once, and --detach'ed
  # workers survive the terminal closing.
  setsid "$r1" "${args[@]}" ${extra[@]+"${extra[@]}"} </dev/null >"$out/worker_$i.log" 2>&1 &
  pids+=($!)
  echo "$!" >>"$pid_file"
done

# A worker writes its port file (atomically) once it serves; a worker that
# exits first failed (bad checkpoint, port in use): show why and give up.
deadline=$((SECONDS + timeout_s))
for ((i = 0; i < workers; i++)); do
  while [[ ! -s "$out/worker_$i.port" ]]; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "launch_workers: worker $i exited before serving; its log ($out/worker_$i.log):" >&2
      tail -n 20 "$out/worker_$i.log" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then die "worker $i not serving after ${timeout_s}s; see $out/worker_$i.log"; fi
    sleep 0.1
  done
done

tmp="$(mktemp "$out/.addresses.XXXXXX")"
for ((i = 0; i < workers; i++)); do
  echo "$advertise:$(tr -d '[:space:]' <"$out/worker_$i.port")" >>"$tmp"
done
mv -f "$tmp" "$address_file"  # atomic: the pool never reads half a file
echo "launch_workers: $workers worker(s) serving; address file $address_file" >&2
cat "$address_file"

if ((detach)); then
  handed_over=1
  echo "launch_workers: detached; stop with: $0 --stop --out $out" >&2
  exit 0
fi

# Foreground: stay until a signal (the traps above stop everything) or until
# any worker exits, which leaves the pool short, so stop the rest too.
echo "launch_workers: Ctrl-C or SIGTERM stops them" >&2
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "launch_workers: a worker exited (status $status); stopping the others" >&2
exit 1
