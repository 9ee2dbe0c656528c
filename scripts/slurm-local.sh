#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the sweep integration test (and for
# trying `pars sweep --backend slurm` without a cluster).
#
#   bash scripts/slurm-local.sh start    # install slurm-wlm + munge if missing, start the daemons
#   bash scripts/slurm-local.sh stop     # stop the daemons started by `start`
#   bash scripts/slurm-local.sh status   # sinfo / squeue
#
# Needs root (apt-get, daemons). Works without systemd and cgroups: process tracking by
# /proc (proctrack/linuxproc), no task plugin, no accounting database (so `sacct` has
# nothing to say; `squeue` and the run directories tell what happened). The node is
# `localhost` with this machine's CPUs and memory. State and logs go to
# /var/lib/pars-slurm; `stop` leaves them there for inspection.
set -euo pipefail

STATE=/var/lib/pars-slurm
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

log() { echo "slurm-local: $*"; }

install_packages() {
  local pkgs=(slurm-wlm munge) missing=()
  for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $SUDO apt-get update -qq
    # policy-rc.d 101: the packages' init scripts must not try to start anything
    local prc=/usr/sbin/policy-rc.d created_prc=0
    if [ ! -e "$prc" ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$prc" >/dev/null
      $SUDO chmod +x "$prc"
      created_prc=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
    if [ "$created_prc" = 1 ]; then $SUDO rm -f "$prc"; fi
  fi
}

write_config() {
  local cpus mem_mb
  cpus=$(nproc)
  # leave 10 % of the memory to the system
  mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  $SUDO mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$STATE/log"
  $SUDO tee "$CONF" >/dev/null <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster on localhost.
ClusterName=pars-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
KillWait=30
MinJobAge=300
MaxArraySize=10001
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  # cgroup.conf is read by slurmd even with the plugins above; keep it off cgroups
  $SUDO tee "$CONF_DIR/cgroup.conf" >/dev/null <<EOF
# Written by scripts/slurm-local.sh: no cgroups.
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
}

start_munge() {
  if pgrep -x munged >/dev/null; then
    return
  fi
  $SUDO mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then
      $SUDO mungekey --create --keyfile=/etc/munge/munge.key
    else
      $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  fi
  if id munge >/dev/null 2>&1; then
    $SUDO chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
    $SUDO chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    $SUDO chmod 0755 /run/munge
    $SUDO chmod 0400 /etc/munge/munge.key
    $SUDO runuser -u munge -- /usr/sbin/munged
  else
    $SUDO /usr/sbin/munged --force
  fi
  for _ in $(seq 50); do
    munge -n >/dev/null 2>&1 && return
    sleep 0.2
  done
  log "munged does not answer"
  exit 1
}

wait_idle() {
  for _ in $(seq 120); do
    state=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
    case "$state" in
      idle|mixed|allocated)
        log "node localhost is $state"
        return 0
        ;;
    esac
    sleep 0.5
  done
  log "the node did not become idle (sinfo: '${state:-no answer}'); logs in $STATE/log"
  tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" 2>/dev/null || true
  exit 1
}

start() {
  install_packages
  write_config
  start_munge
  if ! pgrep -x slurmctld >/dev/null; then
    # -c: a clean start (no jobs left from an earlier cluster on this machine)
    $SUDO slurmctld -c
  fi
  if ! pgrep -x slurmd >/dev/null; then
    $SUDO slurmd -N localhost
  fi
  # a node left DOWN by an earlier, unclean stop
  for _ in $(seq 20); do
    scontrol ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  wait_idle || true
  state=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
  if [ "$state" != idle ] && [ "$state" != mixed ] && [ "$state" != allocated ]; then
    $SUDO scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
    wait_idle
  fi
  sinfo
}

stop_daemon() {
  local name=$1 pidfile=$2 pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    $SUDO kill "$pid"
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.2
    done
    log "$name ($pid) did not stop; sending SIGKILL"
    $SUDO kill -9 "$pid" 2>/dev/null || true
  fi
}

stop() {
  stop_daemon slurmd "$STATE/slurmd.pid"
  stop_daemon slurmctld "$STATE/slurmctld.pid"
  stop_daemon munged /run/munge/munged.pid
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo; squeue ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
