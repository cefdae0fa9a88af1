#!/usr/bin/env bash
# End-to-end test of deploy/slurm/rollout_workers.sbatch on a real, throwaway,
# one-node Slurm cluster brought up on this machine (DESIGN.md §6): munged,
# slurmctld and slurmd from Debian's munge and slurm-wlm, all on loopback,
# with every key, config, state, log, pid and socket file in one temp dir.
#
#   bash tests/slurm/slurm_rollout_test.sh BUILD_BIN_DIR
#
# It submits the batch script with 2 tasks, waits for the address file, checks
# each worker answers a gRPC health check, scancels the job and checks the
# workers are gone. It installs nothing (scripts/setup.sh installs slurm-wlm
# and munge); it needs root, to run munged as user munge and slurmd as root.
# Unique ports and a unique temp dir let it run beside other tests.
set -euo pipefail

bin_dir="${1:?usage: slurm_rollout_test.sh BUILD_BIN_DIR}"
bin_dir="$(cd "$bin_dir" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
r1="$bin_dir/r1"
py=/usr/bin/python3  # Debian's interpreter: the one with python3-grpcio (DESIGN.md §6)

log() { echo "[slurm_rollout $(date +%T)] $*"; }
fail() { echo "[slurm_rollout] FAIL: $*" >&2; exit 1; }

# ---- prerequisites: report what is missing instead of failing obscurely -------
[[ $(id -u) -eq 0 ]] || fail "needs root (munged runs as user munge, slurmd as root)"
export PATH="$PATH:/usr/sbin:/sbin"  # the daemons live in /usr/sbin
for tool in munged slurmctld slurmd sbatch srun squeue scancel sinfo scontrol runuser; do
  command -v "$tool" >/dev/null || fail "$tool not found: install slurm-wlm and munge (scripts/setup.sh does)"
done
id munge >/dev/null 2>&1 || fail "no user munge: install the munge package"
[[ -x "$r1" ]] || fail "$r1 not built"
"$py" -c 'import grpc' 2>/dev/null || fail "$py lacks grpc: install python3-grpcio"

# The temp dir must be short (slurmd's step sockets live in it and Unix socket
# paths are capped at 108 bytes) and traversable by user munge.
tmp="$(mktemp -d /tmp/r1slurm.XXXXXX)"
chmod 755 "$tmp"
conf="$tmp/slurm/slurm.conf"

# ---- teardown: runs on every exit, pass or fail --------------------------------
# Order matters: cancel jobs while slurmctld still runs, then stop slurmd (its
# job steps are gone by then), slurmctld, munged, each by its pid file.
stop_by_pid_file() {
  local name="$1" file="$2" pid
  [[ -s "$file" ]] || return 0
  pid="$(tr -d '[:space:]' <"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Processes started by this test's cluster, found by id: every one of them
# (daemons, slurmstepd, job tasks, workers) carries SLURM_CONF=<our conf> in its
# environment or our temp dir in its command line. Nothing else on the machine
# can, so a parallel test or another cluster is never touched.
our_processes() {
  local dir pid entries
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    # Builtins only: a helper process forked here (tr, grep) would itself carry
    # SLURM_CONF and our path, and match.
    if mapfile -d '' entries 2>/dev/null <"$dir/environ" && ((${#entries[@]} > 0)) &&
       [[ " ${entries[*]} " == *" SLURM_CONF=$conf "* ]]; then
      echo "$pid"
    elif mapfile -d '' entries 2>/dev/null <"$dir/cmdline" && [[ "${entries[*]}" == *"$tmp/"* ]]; then
      echo "$pid"
    fi
  done
}

dump_logs() {
  local f
  for f in "$tmp"/slurm/log/* "$tmp"/munge/munged.log "$tmp"/shared/job.out; do
    [[ -s "$f" ]] || continue
    echo "---- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((status != 0)); then dump_logs; fi
  # (Only with slurmctld alive: against a dead one each command would wait
  # out its message timeout.)
  local ctld_pid
  ctld_pid="$(cat "$tmp/slurm/pid/slurmctld.pid" 2>/dev/null)"
  if [[ "$ctld_pid" =~ ^[0-9]+$ ]] && kill -0 "$ctld_pid" 2>/dev/null; then
    SLURM_CONF="$conf" scancel --quiet --user=root >/dev/null 2>&1
    for _ in $(seq 50); do
      [[ -z "$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)" ]] && break
      sleep 0.2
    done
  fi
  stop_by_pid_file slurmd "$tmp/slurm/pid/slurmd.pid"
  stop_by_pid_file slurmctld "$tmp/slurm/pid/slurmctld.pid"
  stop_by_pid_file munged "$tmp/munge/munged.pid"
  # Anything of ours still alive now (a crashed daemon's children) goes too.
  # (mapfile from a process substitution: a forked bash, no helper with our
  # SLURM_CONF in its environment that would match itself.)
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

# Ports for slurmctld and slurmd: below the kernel's ephemeral range (32768+),
# where the other tests' port-0 servers and clients never land, picked at
# random and checked free, so parallel runs do not collide.
pick_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 12000))
    # The wildcard address, as the daemons bind it.
    if "$py" -c 'import socket,sys; s=socket.socket(); s.bind(("", int(sys.argv[1])))' "$port" 2>/dev/null; then
      echo "$port"; return 0
    fi
  done
  fail "no free port found"
}
ctld_port="$(pick_port)"
slurmd_port="$(pick_port)"
while [[ "$slurmd_port" == "$ctld_port" ]]; do slurmd_port="$(pick_port)"; done

start=$SECONDS

# ---- a small checkpoint, built fresh (never depends on state in /tmp) --------
log "building a tiny checkpoint"
# threads=1: with every core (the config's 0) OpenMP's spinning threads make
# two training steps take 30-50 s instead of 1 s when other tests share the cores.
(cd "$root" && "$r1" pretrain configs/tiny.textproto --run_dir "$tmp/run" --set threads=1 \
  --set pretrain.corpus_examples=2000 --set pretrain.max_steps=2 --set pretrain.student_max_steps=0 \
  --quality_eval=false >"$tmp/pretrain.log" 2>&1) || { tail -n 20 "$tmp/pretrain.log" >&2; fail "pretrain failed"; }
ckpt="$(find "$tmp/run" -maxdepth 3 -type d -path '*/checkpoints/step_*' | sort | tail -n 1)"
[[ -f "$ckpt/config.json" ]] || fail "no checkpoint under $tmp/run"

# ---- munge: a fresh key, owned by munge, munged running as munge -------------
# munged refuses keys and directories other users could write, and wants its
# socket's directory searchable by all (every Slurm process talks to it), so
# its dir is munge's own, mode 755, with the key readable by munge alone.
log "starting munged"
mkdir -p "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chown -R munge: "$tmp/munge"
chmod 755 "$tmp/munge"
chmod 400 "$tmp/munge/munge.key"
munge_socket="$tmp/munge/munge.socket"
runuser -u munge -- munged --socket="$munge_socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
  --seed-file="$tmp/munge/munged.seed" || fail "munged did not start"
for _ in $(seq 50); do [[ -S "$munge_socket" ]] && break; sleep 0.1; done
[[ -S "$munge_socket" ]] || fail "munged socket $munge_socket did not appear"

# ---- slurm.conf: one node, this host, on loopback ---------------------------
host="$(hostname -s)"
mkdir -p "$tmp/slurm"/{state,spool,log,pid} "$tmp/shared"
cat >"$conf" <<EOF
ClusterName=r1test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$tmp/slurm/state
SlurmdSpoolDir=$tmp/slurm/spool
SlurmctldPidFile=$tmp/slurm/pid/slurmctld.pid
SlurmdPidFile=$tmp/slurm/pid/slurmd.pid
SlurmctldLogFile=$tmp/slurm/log/slurmctld.log
SlurmdLogFile=$tmp/slurm/log/slurmd.log
PlugStackConfig=$tmp/slurm/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# Fast turnaround for a test: SIGKILL 5 s after scancel's SIGTERM (the workers
# stop on SIGTERM well before), and scheduling passes 0.2 s apart, not 2 s.
KillWait=5
SchedulerParameters=sched_min_interval=200000
MailProg=/bin/true
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: >"$tmp/slurm/plugstack.conf"  # not /etc/slurm's: nothing outside the temp dir
export SLURM_CONF="$conf"

log "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port)"
slurmctld -f "$conf" || fail "slurmctld did not start"
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
scontrol ping >/dev/null 2>&1 || fail "slurmctld does not answer"
slurmd -f "$conf" || fail "slurmd did not start"
state=""
for _ in $(seq 150); do
  state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
  [[ "$state" == idle ]] && break
  sleep 0.2
done
[[ "$state" == idle ]] || fail "node $host is '$state', not idle"
log "cluster up after $((SECONDS - start)) s"

# ---- the job: 2 workers through the batch script -----------------------------
# The workers listen on loopback only (a test must not expose ports), on any
# free port (R1_PORT=0, reported through port files), so parallel runs and
# busy ports cannot collide.
address_file="$tmp/shared/addresses"
job="$(cd "$tmp/shared" && R1_BIN="$r1" R1_CKPT="$ckpt" R1_ADDRESS_FILE="$address_file" \
  R1_PORT=0 R1_BIND_ADDRESS=127.0.0.1 R1_KV_SLOTS=4 R1_STARTUP_TIMEOUT=60 \
  sbatch --parsable --ntasks=2 --cpus-per-task=1 --output="$tmp/shared/job.out" \
  "$root/deploy/slurm/rollout_workers.sbatch")" || fail "sbatch failed"
job="${job%%;*}"
log "submitted job $job"

deadline=$((SECONDS + 60))
while [[ ! -f "$address_file" ]]; do
  [[ -n "$(squeue -h -j "$job" -o %T 2>/dev/null || true)" ]] || fail "job $job ended before writing $address_file"
  ((SECONDS < deadline)) || fail "no address file after 60 s"
  sleep 0.1
done
mapfile -t addresses <"$address_file"
log "address file: ${addresses[*]}"
((${#addresses[@]} == 2)) || fail "expected 2 addresses, got ${#addresses[@]}"
[[ "${addresses[0]}" != "${addresses[1]}" ]] || fail "both workers report ${addresses[0]}"

# grpc.health.v1.Health/Check with an empty request (service "") answers
# HealthCheckResponse{status: SERVING}, serialized as 08 01.
health() { "$py" "$root/tests/slurm/grpc_health.py" "$@"; }
health "${addresses[@]}" || fail "health check failed"

# The workers really are the job's two tasks: two `r1 rollout serve` processes
# serving our checkpoint.
workers=()
for pid in $(our_processes); do
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "rollout serve --ckpt $ckpt "; then
    workers+=("$pid")
  fi
done
((${#workers[@]} == 2)) || fail "expected 2 worker processes, found ${#workers[@]}: ${workers[*]}"

# ---- scancel: the workers stop, the address file goes ------------------------
# Alive = exists and not a zombie (a zombie has exited; whether it is reaped
# depends on this machine's init, not on the test).
alive_of() {
  local pid
  for pid in "$@"; do
    if [[ -r "/proc/$pid/stat" ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
      echo "$pid"
    fi
  done
}
log "cancelling job $job (workers ${workers[*]})"
scancel "$job"
deadline=$((SECONDS + 15))
while true; do
  alive="$(alive_of "${workers[@]}")"
  [[ -z "$alive" && -z "$(squeue -h -j "$job" -o %i 2>/dev/null || true)" ]] && break
  ((SECONDS < deadline)) || break
  sleep 0.1
done
[[ -z "$alive" ]] || fail "workers still running 15 s after scancel: $alive"
[[ -z "$(squeue -h -j "$job" -o %i 2>/dev/null || true)" ]] || fail "job $job still in the queue"
[[ ! -e "$address_file" ]] || fail "address file left behind after the job ended"
[[ ! -e "$address_file.parts.$job" ]] || fail "the job's per-task files were left behind"
if health "${addresses[0]}" >/dev/null 2>&1; then fail "${addresses[0]} still answers after scancel"; fi

# ---- one job for a whole GRPO run: reward service, a worker, 2 learner ranks -----
# deploy/slurm/rl_job.sbatch: the ranks take rank, world size and the
# rendezvous host from srun's SLURM_* variables (no RANK/MASTER_ADDR set), meet
# on a c10d TCPStore and average gradients with Gloo; --check_weight_sync logs
# the largest weight difference between them after every step.
# The services require a token (R1_TOKEN_FILE), which the learners send.
rl_dir="$tmp/shared/rlrun"
master_port="$(pick_port)"
echo "slurm-test-token-$$" >"$tmp/shared/token"
job="$(cd "$root" && R1_TOKEN_FILE="$tmp/shared/token" R1_BIN="$r1" R1_CONFIG="$root/configs/tiny.textproto" R1_INIT="$ckpt"   R1_RUN_DIR="$rl_dir" R1_WORKERS=1 R1_LEARNERS=2 R1_BIND_ADDRESS=127.0.0.1 R1_STARTUP_TIMEOUT=60   MASTER_PORT="$master_port"   R1_RL_ARGS="--set rl.max_steps=2 --set rl.max_seconds=0 --set rl.prompts_per_step=2 --set rl.group_size=2
              --set rl.dynamic_sampling=false --set data.n_eval=2 --set rl.eval_samples=1
              --set rl.eval_greedy=false --set rl.sampling.max_new_tokens=16 --set rl.min_base_pass_at_k=0
              --check_weight_sync" \
  sbatch --parsable --ntasks=2 --cpus-per-task=1 --output="$tmp/shared/rl_job.out" \
  "$root/deploy/slurm/rl_job.sbatch")" || fail "sbatch of rl_job failed"
job="${job%%;*}"
log "submitted GRPO job $job (1 worker, 2 learner ranks)"
deadline=$((SECONDS + 240))
while [[ -n "$(squeue -h -j "$job" -o %i 2>/dev/null || true)" ]]; do
  ((SECONDS < deadline)) || { tail -n 30 "$tmp/shared/rl_job.out" >&2; fail "GRPO job $job still running after 240 s"; }
  sleep 0.5
done
grep -q "learners finished (status 0)" "$tmp/shared/rl_job.out" ||
  { tail -n 40 "$tmp/shared/rl_job.out" >&2; fail "GRPO job $job failed"; }
grep -q "2 ranks" "$tmp/shared/rl_job.out" || fail "the learners did not run as 2 ranks"
grep -q "rules, token)" "$tmp/shared/rl_job.out" || fail "the reward service did not require the token"
metrics="$rl_dir/rl/metrics.jsonl"
[[ -s "$metrics" ]] || fail "no $metrics"
steps="$(grep -c '"loss"' "$metrics" || true)"
((steps == 2)) || fail "expected 2 training steps in $metrics, found $steps"
if grep '"loss"' "$metrics" | grep -v '"weight_divergence":0,' >/dev/null; then
  fail "the ranks' weights differ after a step: $(grep -o '"weight_divergence":[^,]*' "$metrics" | tr '\n' ' ')"
fi
[[ -d "$rl_dir/rl/checkpoints/step_00000002" ]] || fail "no final checkpoint"
[[ ! -e "$rl_dir/slurm.$job" ]] || fail "the job's service files were left behind"
left="$(for pid in $(our_processes); do tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -E "r1(-reward)? (serve|rollout|rl)" || true; done)"
[[ -z "$left" ]] || fail "processes left after the GRPO job: $left"

log "PASS in $((SECONDS - start)) s"
