#!/usr/bin/env bash
# A throwaway 3-master Redis Cluster on loopback for the cluster test suites.
#
#   bash .ci/cluster.sh start    # prints one line: KEYDB_CLUSTER_NODES=127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
#   bash .ci/cluster.sh status   # prints the same line and exits 0 when the cluster answers, else exits 1
#   bash .ci/cluster.sh stop     # kills the nodes by pid and removes the state dir
#
# Only the KEYDB_CLUSTER_NODES line goes to stdout (so `eval "$(bash .ci/cluster.sh start)"` or
# `export "$(bash .ci/cluster.sh start)"` work); progress goes to stderr.
#
# Env: FASTKEY_CLUSTER_DIR (state dir, default .ci/tmp/cluster of this clone),
#      FASTKEY_CLUSTER_PORTS ("7100-7999": the range searched for free ports).
# Each clone has its own state dir, so two clones on one machine get two clusters on different ports.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${FASTKEY_CLUSTER_DIR:-$SCRIPT_DIR/tmp/cluster}
RANGE=${FASTKEY_CLUSTER_PORTS:-7100-7999}
RANGE_LO=${RANGE%-*}
RANGE_HI=${RANGE#*-}
NODES=3
READY_TIMEOUT_S=30

log() { echo "[cluster] $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

command -v redis-server >/dev/null || die "redis-server not found on PATH"
command -v redis-cli >/dev/null || die "redis-cli not found on PATH"

# A port is free when nothing listens on it, nor on its cluster bus port (port + 10000).
port_free() {
  local p=$1
  [ -z "$(ss -Hltn "( sport = :$p or sport = :$((p + 10000)) )" 2>/dev/null)" ] || return 1
  ! redis-cli -p "$p" --no-raw ping >/dev/null 2>&1
}

# Picks $NODES consecutive free ports from a random start, so parallel clones rarely collide.
pick_ports() {
  local span=$((RANGE_HI - RANGE_LO - NODES + 1)) tries=0 base p ok
  while [ $tries -lt 50 ]; do
    tries=$((tries + 1))
    base=$((RANGE_LO + RANDOM % span))
    ok=1
    for ((p = base; p < base + NODES; p++)); do
      port_free "$p" || {
        ok=0
        break
      }
    done
    if [ $ok -eq 1 ]; then
      seq "$base" $((base + NODES - 1)) | tr '\n' ' '
      return 0
    fi
  done
  return 1
}

ports() { cat "$DIR/ports" 2>/dev/null || true; }

nodes_line() {
  local p list=()
  for p in $(ports); do list+=("127.0.0.1:$p"); done
  local IFS=,
  echo "KEYDB_CLUSTER_NODES=${list[*]}"
}

node_ok() {
  local info
  info=$(redis-cli -p "$1" cluster info 2>/dev/null) || return 1
  grep -q '^cluster_state:ok' <<<"$info" &&
    grep -q '^cluster_slots_assigned:16384' <<<"$info" &&
    grep -q "^cluster_known_nodes:$NODES" <<<"$info"
}

cluster_ok() {
  local p
  [ -n "$(ports)" ] || return 1
  for p in $(ports); do node_ok "$p" || return 1; done
}

# A killed daemon can linger as a zombie until something reaps it; that counts as gone.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

stop_cluster() {
  [ -d "$DIR" ] || return 0
  local f pid
  for f in "$DIR"/redis-*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    # Only kill a pid that is still a redis-server, in case the pid was reused since.
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

start_node() {
  local p=$1
  redis-server --port "$p" --bind 127.0.0.1 \
    --cluster-enabled yes --cluster-config-file "$DIR/nodes-$p.conf" --cluster-node-timeout 5000 \
    --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis-$p.pid" --logfile "$DIR/redis-$p.log" >/dev/null
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

ping_all() {
  local p
  for p in $(ports); do
    [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] || return 1
  done
}

start_once() {
  local list p
  list=$(pick_ports) || die "no $NODES free consecutive ports in $RANGE"
  mkdir -p "$DIR"
  echo "$list" >"$DIR/ports"
  for p in $list; do start_node "$p" || return 1; done
  wait_for "nodes answer on ports $list" ping_all || return 1
  local seeds=()
  for p in $list; do seeds+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 || {
    log "cluster create failed:"
    cat "$DIR/create.log" >&2
    return 1
  }
  wait_for "cluster_state:ok on every node" cluster_ok || return 1
}

start_cluster() {
  # A cluster left by an earlier run (crashed CI, interrupted shell) is replaced, not reused.
  stop_cluster
  local attempt
  for attempt in 1 2 3; do
    if start_once; then
      nodes_line
      return 0
    fi
    # Most likely another process took one of the ports between the check and the bind.
    log "attempt $attempt failed; logs:"
    tail -n 5 "$DIR"/redis-*.log >&2 2>/dev/null || true
    stop_cluster
  done
  die "could not start the cluster"
}

case "${1:-}" in
start) start_cluster ;;
stop)
  # Finish the clean-up even when the caller's process group is being terminated.
  trap '' INT TERM HUP
  stop_cluster
  ;;
status)
  if cluster_ok; then
    nodes_line
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
