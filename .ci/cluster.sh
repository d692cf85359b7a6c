#!/usr/bin/env bash
# A throwaway 3-master Redis Cluster (or KeyDB cluster) on loopback for the cluster test suites.
#
#   bash .ci/cluster.sh start    # prints one line: KEYDB_CLUSTER_NODES=127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
#   bash .ci/cluster.sh status   # prints the same line and exits 0 when the cluster answers, else exits 1
#   bash .ci/cluster.sh stop     # kills the nodes by pid and removes the state dir
#
# Only the KEYDB_CLUSTER_NODES line goes to stdout (so `eval "$(bash .ci/cluster.sh start)"` or
# `export "$(bash .ci/cluster.sh start)"` work); progress goes to stderr.
#
# Env: FASTKEY_CLUSTER_DIR (state dir, default .ci/tmp/cluster of this clone),
#      FASTKEY_CLUSTER_PORTS ("7100-7999": the range searched for free ports),
#      REDIS_SERVER_BIN (the server binary, default redis-server; /path/keydb-server gives a KeyDB cluster),
#      REDIS_CLI_BIN (the CLI, default the `-cli` next to REDIS_SERVER_BIN when there is one, else redis-cli),
#      FASTKEY_CLUSTER_SERVER_ARGS (extra server arguments, split on spaces, e.g. "--server-threads 2").
# The cluster is formed with plain commands every Redis 6.2+ and KeyDB 6.3 server knows (CLUSTER
# ADDSLOTS, SET-CONFIG-EPOCH, MEET) rather than the CLI's `--cluster create` helper, so any CLI that
# can send a command will do and the wait below checks the result itself.
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

SERVER_BIN=${REDIS_SERVER_BIN:-redis-server}
# keydb-server comes with keydb-cli beside it; redis-server with redis-cli.
default_cli() {
  local sibling=${SERVER_BIN%-server}-cli
  if [[ $SERVER_BIN == *-server ]] && command -v "$sibling" >/dev/null; then
    echo "$sibling"
  else
    echo redis-cli
  fi
}
CLI_BIN=${REDIS_CLI_BIN:-$(default_cli)}
# The process name the pid files must point at before stop kills them (15 chars at most in comm).
SERVER_COMM=$(basename "$SERVER_BIN" | cut -c1-15)

command -v "$SERVER_BIN" >/dev/null || die "$SERVER_BIN not found (set REDIS_SERVER_BIN or put redis-server on PATH)"
command -v "$CLI_BIN" >/dev/null || die "$CLI_BIN not found (set REDIS_CLI_BIN or put redis-cli on PATH)"

cli() { "$CLI_BIN" "$@"; }

# A port is free when nothing listens on it, nor on its cluster bus port (port + 10000).
port_free() {
  local p=$1
  [ -z "$(ss -Hltn "( sport = :$p or sport = :$((p + 10000)) )" 2>/dev/null)" ] || return 1
  ! cli -p "$p" --no-raw ping >/dev/null 2>&1
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
  info=$(cli -p "$1" cluster info 2>/dev/null) || return 1
  grep -q '^cluster_state:ok' <<<"$info" &&
    grep -q '^cluster_slots_assigned:16384' <<<"$info" &&
    grep -q "^cluster_known_nodes:$NODES" <<<"$info"
}

# One node's view of the slot map: "ip:port slot-ranges" per master, sorted, so views compare as text.
# None of the nodes may be still in handshake, failing or without an address.
slot_map() {
  local nodes
  nodes=$(cli -p "$1" cluster nodes 2>/dev/null) || return 1
  awk '
    $3 ~ /handshake|fail|noaddr/ { bad = 1 }
    $3 ~ /master/ {
      addr = $2; sub(/@.*/, "", addr)
      line = addr
      for (i = 9; i <= NF; i++) line = line " " $i
      print line
    }
    END { exit bad }
  ' <<<"$nodes" | sort
}

cluster_ok() {
  local p first="" map
  [ -n "$(ports)" ] || return 1
  for p in $(ports); do
    node_ok "$p" || return 1
    map=$(slot_map "$p") || return 1
    # Every node must agree on who serves which slots, or a client can be redirected in circles.
    if [ -z "$first" ]; then
      first=$map
    elif [ "$map" != "$first" ]; then
      return 1
    fi
  done
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
    # Only kill a pid that is still the server we started, in case the pid was reused since. The
    # binary's name is kept in the state dir: stop may run with another REDIS_SERVER_BIN than start.
    if [ -n "$pid" ] && grep -qx -e "$(cat "$DIR/comm" 2>/dev/null || echo "$SERVER_COMM")" "/proc/$pid/comm" 2>/dev/null; then
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
  "$SERVER_BIN" --port "$p" --bind 127.0.0.1 \
    --cluster-enabled yes --cluster-config-file "$DIR/nodes-$p.conf" --cluster-node-timeout 5000 \
    --save '' --appendonly no --dir "$DIR" \
    --daemonize yes --pidfile "$DIR/redis-$p.pid" --logfile "$DIR/redis-$p.log" \
    ${FASTKEY_CLUSTER_SERVER_ARGS:-} >/dev/null
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
    [ "$(cli -p "$p" ping 2>/dev/null)" = PONG ] || return 1
  done
}

# Runs one command on a node and fails unless it answers OK.
node_cmd() {
  local p=$1 out
  shift
  out=$(cli -p "$p" "$@" 2>&1) || {
    echo "$p: $1 $2: $out" >>"$DIR/create.log"
    return 1
  }
  echo "$p: $1 $2: $out" >>"$DIR/create.log"
  [ "$out" = OK ]
}

# Node i of N serves slots [i*16384/N, (i+1)*16384/N - 1]; each gets its own config epoch (as
# `redis-cli --cluster create` does) so no epoch collision has to be resolved; then all meet the first.
form_cluster() {
  local list=($1) i p
  : >"$DIR/create.log"
  for i in "${!list[@]}"; do
    p=${list[$i]}
    node_cmd "$p" cluster addslots $(seq $((i * 16384 / NODES)) $(((i + 1) * 16384 / NODES - 1))) || return 1
    node_cmd "$p" cluster set-config-epoch $((i + 1)) || return 1
  done
  for p in "${list[@]:1}"; do
    node_cmd "$p" cluster meet 127.0.0.1 "${list[0]}" || return 1
  done
}

start_once() {
  local list p
  list=$(pick_ports) || die "no $NODES free consecutive ports in $RANGE"
  mkdir -p "$DIR"
  echo "$list" >"$DIR/ports"
  echo "$SERVER_COMM" >"$DIR/comm"
  for p in $list; do start_node "$p" || return 1; done
  wait_for "nodes answer on ports $list" ping_all || return 1
  form_cluster "$list" || {
    log "forming the cluster failed:"
    cat "$DIR/create.log" >&2
    return 1
  }
  wait_for "cluster_state:ok and one slot map on every node" cluster_ok || return 1
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
