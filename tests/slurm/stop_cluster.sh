#!/usr/bin/env bash
# Stops a cluster started by start_cluster.sh DIR: scontrol shutdown (slurmctld and slurmd),
# then munged. Safe to call twice or on a half-started cluster.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: stop_cluster.sh DIR" >&2; exit 2; }
DIR=$1
export PATH="$PATH:/usr/sbin"

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
read_pid() { [ -f "$1" ] && cat "$1" 2>/dev/null; }
wait_gone() {  # pid, seconds; then SIGKILL
  local pid=$1 n=$(( $2 * 10 ))
  while pid_alive "$pid" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
  if pid_alive "$pid"; then kill -9 "$pid" 2>/dev/null; fi
}

ctld=$(read_pid "$DIR/run/slurmctld.pid")
sd=$(read_pid "$DIR/run/slurmd.pid")
if [ -f "$DIR/slurm.conf" ] && { pid_alive "$ctld" || pid_alive "$sd"; }; then
  SLURM_CONF="$DIR/slurm.conf" timeout 15 scontrol shutdown >/dev/null 2>&1 || true
fi
for pid in $ctld $sd; do
  if pid_alive "$pid"; then
    wait_gone "$pid" 10
    pid_alive "$pid" || true
  fi
done
# slurmd may not have got the shutdown request if slurmctld was already gone.
for pid in $ctld $sd; do pid_alive "$pid" && kill "$pid" 2>/dev/null && wait_gone "$pid" 5; done

munge_pid=$(read_pid "$DIR/munge/munged.pid")
if pid_alive "$munge_pid"; then
  kill "$munge_pid" 2>/dev/null
  wait_gone "$munge_pid" 5
fi
exit 0
