#!/usr/bin/env bash
# A throwaway Redis Sentinel setup on loopback for the Sentinel test suites: one master, one replica
# and one sentinel (quorum 1) watching them under the master name "fastkey".
#
#   bash .ci/sentinel.sh start    # prints two lines: KEYDB_SENTINELS=127.0.0.1:<port> and KEYDB_SENTINEL_NAME=fastkey
#   bash .ci/sentinel.sh status   # prints the same lines and exits 0 when the sentinel answers and names a master
#                                 # (right after a failover the replica may still be resynchronising)
#   bash .ci/sentinel.sh stop     # kills the three servers by pid and removes the state dir
#
# Only the two KEY=value lines go to stdout (`export $(bash .ci/sentinel.sh start)` works); progress
# goes to stderr. Tests fail the master over (SENTINEL FAILOVER), so which of the two data servers is
# the master changes during a run; ask the sentinel (SENTINEL GET-MASTER-ADDR-BY-NAME), never assume.
#
# The sentinel is `redis-server --sentinel` (Debian's redis-sentinel package is the same binary).
#
# Env: FASTKEY_SENTINEL_DIR (state dir, default .ci/tmp/sentinel of this clone),
#      FASTKEY_SENTINEL_PORTS ("26400-26999": the range searched for 3 free consecutive ports).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${FASTKEY_SENTINEL_DIR:-$SCRIPT_DIR/tmp/sentinel}
RANGE=${FASTKEY_SENTINEL_PORTS:-26400-26999}
RANGE_LO=${RANGE%-*}
RANGE_HI=${RANGE#*-}
NAME=fastkey
READY_TIMEOUT_S=30

log() { echo "[sentinel] $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

command -v redis-server >/dev/null || die "redis-server not found on PATH"
command -v redis-cli >/dev/null || die "redis-cli not found on PATH"

port_free() {
  [ -z "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ] || return 1
  ! redis-cli -p "$1" --no-raw ping >/dev/null 2>&1
}

# Three consecutive free ports from a random start: master, replica, sentinel.
pick_ports() {
  local span=$((RANGE_HI - RANGE_LO - 2)) tries=0 base
  while [ $tries -lt 50 ]; do
    tries=$((tries + 1))
    base=$((RANGE_LO + RANDOM % span))
    if port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)); then
      echo "$base $((base + 1)) $((base + 2))"
      return 0
    fi
  done
  return 1
}

sentinel_port() { awk '{print $3}' "$DIR/ports" 2>/dev/null || true; }

lines() {
  echo "KEYDB_SENTINELS=127.0.0.1:$(sentinel_port)"
  echo "KEYDB_SENTINEL_NAME=$NAME"
}

scli() { redis-cli -p "$(sentinel_port)" "$@" 2>/dev/null; }

# The sentinel names a master that answers as master, and sees one replica that is neither down nor
# disconnected and whose link to the master is up: a failover can be asked for.
healthy() {
  [ -n "$(sentinel_port)" ] || return 1
  local addr port replicas
  addr=$(scli sentinel get-master-addr-by-name "$NAME") || return 1
  port=$(sed -n 2p <<<"$addr")
  [ -n "$port" ] || return 1
  redis-cli -p "$port" role 2>/dev/null | head -1 | grep -qx master || return 1
  replicas=$(scli sentinel replicas "$NAME") || return 1
  grep -qx 'slave' <<<"$replicas" || return 1
  grep -A1 -x 'master-link-status' <<<"$replicas" | grep -qx ok
}

running() {
  [ -n "$(sentinel_port)" ] && [ -n "$(scli sentinel get-master-addr-by-name "$NAME" | sed -n 2p)" ]
}

alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

stop_all() {
  [ -d "$DIR" ] || return 0
  local f pid
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    # Only kill a pid that is still a redis-server (the sentinel's comm is redis-server too).
    if [ -n "$pid" ] && grep -q redis-server "/proc/$pid/comm" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        alive "$pid" || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
  log "stopped"
}

start_data_server() {
  local port=$1
  shift
  mkdir -p "$DIR/$port"
  # No 5 s diskless-sync delay: after a failover the old master resynchronises at once.
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --repl-diskless-sync-delay 0 \
    --dir "$DIR/$port" --daemonize yes --pidfile "$DIR/redis-$port.pid" --logfile "$DIR/redis-$port.log" "$@" >/dev/null
}

start_sentinel() {
  local port=$1 master=$2
  # Sentinel rewrites its config file (it must be writable): one per run, in the state dir.
  cat >"$DIR/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
protected-mode no
daemonize yes
pidfile $DIR/sentinel-$port.pid
logfile $DIR/sentinel-$port.log
dir $DIR
sentinel monitor $NAME 127.0.0.1 $master 1
sentinel down-after-milliseconds $NAME 1000
sentinel failover-timeout $NAME 10000
sentinel parallel-syncs $NAME 1
EOF
  redis-server "$DIR/sentinel.conf" --sentinel >/dev/null
}

wait_for() {
  local what=$1 deadline=$((SECONDS + READY_TIMEOUT_S))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  log "$what"
}

start_once() {
  local ports master replica sentinel
  ports=$(pick_ports) || die "no 3 free consecutive ports in $RANGE"
  read -r master replica sentinel <<<"$ports"
  mkdir -p "$DIR"
  echo "$ports" >"$DIR/ports"
  start_data_server "$master" || return 1
  start_data_server "$replica" --replicaof 127.0.0.1 "$master" || return 1
  start_sentinel "$sentinel" "$master" || return 1
  wait_for "master $master, replica $replica, sentinel $sentinel: replica in sync, sentinel sees both" healthy
}

start() {
  # A setup left by an earlier run (crashed CI, interrupted shell) is replaced, not reused.
  stop_all
  local attempt
  for attempt in 1 2 3; do
    if start_once; then
      lines
      return 0
    fi
    log "attempt $attempt failed; logs:"
    tail -n 5 "$DIR"/*.log >&2 2>/dev/null || true
    stop_all
  done
  die "could not start master, replica and sentinel"
}

case "${1:-}" in
start) start ;;
stop)
  trap '' INT TERM HUP
  stop_all
  ;;
status)
  if running; then
    lines
  else
    log "not running (state dir $DIR)"
    exit 1
  fi
  ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
