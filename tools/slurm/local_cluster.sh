#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and CI (run as root).
#
#   bash tools/slurm/local_cluster.sh start    # write slurm.conf, start munged, slurmctld, slurmd
#   bash tools/slurm/local_cluster.sh status   # sinfo of the cluster (exit 1 when it is down)
#   bash tools/slurm/local_cluster.sh stop     # stop the daemons this script started (by pid)
#   eval "$(bash tools/slurm/local_cluster.sh env)"   # SLURM_CONF for sbatch / squeue / srun
#
# Everything lives in $BOCB_SLURM_DIR (default /tmp/bocb_slurm): slurm.conf, state, spool, logs,
# pid files. The node is this host with all its cores (proctrack/linuxproc, task/none: no
# cgroups needed), in one partition named $BOCB_SLURM_PARTITION (default "debug"); accounting
# is off. Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge).
set -euo pipefail
DIR=${BOCB_SLURM_DIR:-/tmp/bocb_slurm}
PARTITION=${BOCB_SLURM_PARTITION:-debug}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)
export SLURM_CONF=$CONF

die() { echo "local_cluster: $*" >&2; exit 1; }

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  cat > "$CONF" <<CONF
ClusterName=bocb
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits for its credential to expire (default 120 s) before it starts again
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=10
MinJobAge=300
NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  alive "$DIR/munged.pid" && return
  [ -f /etc/munge/munge.key ] || die "no /etc/munge/munge.key (apt-get install munge)"
  mkdir -p /run/munge && chown munge:munge /run/munge "$DIR/munge"
  runuser -u munge -- munged --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log"
  cp "$DIR/munge/munged.pid" "$DIR/munged.pid"
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && return; sleep 0.1; done
  die "munged did not come up (log: $DIR/munge/munged.log)"
}

wait_idle() {
  local state
  for _ in $(seq 300); do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
    case $state in idle|mix|alloc) return 0;; esac
    sleep 0.2
  done
  die "the node did not become idle (state '${state:-none}'; logs: $DIR/slurmctld.log, $DIR/slurmd.log)"
}

case ${1:-} in
  start)
    [ "$(id -u)" = 0 ] || die "start needs root (munged, slurmctld and slurmd)"
    command -v slurmctld >/dev/null || die "slurmctld not found (apt-get install slurm-wlm munge)"
    if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
      wait_idle; echo "local_cluster: already running ($CONF)"; exit 0
    fi
    write_conf
    start_munge
    alive "$DIR/slurmctld.pid" || slurmctld -i
    alive "$DIR/slurmd.pid" || slurmd
    wait_idle
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    echo "local_cluster: up, partition $PARTITION on $HOST ($CONF)";;
  stop)
    for name in slurmd slurmctld munged; do
      if alive "$DIR/$name.pid"; then
        pid=$(cat "$DIR/$name.pid"); kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      rm -f "$DIR/$name.pid"
    done
    echo "local_cluster: stopped";;
  status)
    alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" || die "down ($DIR)"
    sinfo;;
  env)
    echo "export SLURM_CONF=$CONF";;
  *)
    echo "usage: $0 start|stop|status|env" >&2; exit 2;;
esac
