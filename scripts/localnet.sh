#!/usr/bin/env bash
# A 4-validator healthd network on loopback, plus a vault beside node0.
#
#   scripts/localnet.sh start    # build it (first time) and start every node and the vault in the background
#   scripts/localnet.sh stop     # stop them (SIGTERM, then SIGKILL after 20 s)
#   scripts/localnet.sh status   # height, app hash and peers of each node
#   scripts/localnet.sh reset    # stop and delete the network
#
# LOCALNET4_HOME (default .localnet-4) holds node0..node3, their logs and pids.
# Ports: node i has RPC 26657+10i, P2P 26656+10i, metrics 26660+10i, REST 1317+i,
# gRPC 9090+i; the vault listens on 127.0.0.1:8800. It cannot run beside
# `make localnet` (same ports for node0).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${LOCALNET4_HOME:-.localnet-4}
N=4
BIN=build/healthd

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

height() { # height NODE: the node's latest height, or nothing
  "$BIN" status --node "tcp://127.0.0.1:$((26657 + 10 * $1))" 2>/dev/null |
    grep -o '"latest_block_height":"[0-9]*"' | grep -o '[0-9]*' || true
}

start() {
  [[ -x "$BIN" && -x build/localnet ]] || { echo "run make build first" >&2; exit 1; }
  build/localnet -validators "$N" -home "$DIR" -snapshot-interval 100 init
  for ((i = 0; i < N; i++)); do
    if running "$DIR/node$i.pid"; then echo "node$i already running"; continue; fi
    "$BIN" start --home "$DIR/node$i" >>"$DIR/node$i.log" 2>&1 &
    echo $! >"$DIR/node$i.pid"
  done
  for _ in $(seq 60); do [[ -n "$(height 0)" && "$(height 0)" -ge 2 ]] && break; sleep 1; done
  [[ -n "$(height 0)" ]] || { echo "node0 did not start: see $DIR/node0.log" >&2; exit 1; }
  if ! running "$DIR/vault.pid"; then
    "$BIN" vault start --home "$DIR/node0" --chain-grpc 127.0.0.1:9090 --listen 127.0.0.1:8800 >>"$DIR/vault.log" 2>&1 &
    echo $! >"$DIR/vault.pid"
  fi
  status
  echo "logs: $DIR/node*.log, $DIR/vault.log; keys: --home $DIR/node0; stop: scripts/localnet.sh stop"
}

stop() {
  local pids=()
  for f in "$DIR"/vault.pid "$DIR"/node*.pid; do
    [[ -f "$f" ]] || continue
    if running "$f"; then kill -TERM "$(cat "$f")" && pids+=("$(cat "$f")"); fi
    rm -f "$f"
  done
  for _ in $(seq 20); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  echo "stopped"
}

status() {
  local common="" hashes=()
  printf '%-6s %-8s %-8s %s\n' node state height latest_app_hash
  for ((i = 0; i < N; i++)); do
    local state=stopped s h hash
    running "$DIR/node$i.pid" && state=running
    s=$("$BIN" status --node "tcp://127.0.0.1:$((26657 + 10 * i))" 2>/dev/null || true)
    h=$(grep -o '"latest_block_height":"[0-9]*"' <<<"$s" | grep -o '[0-9]*' || true)
    hash=$(grep -o '"latest_app_hash":"[0-9A-F]*"' <<<"$s" | grep -o '[0-9A-F]\{16,\}' || true)
    printf '%-6s %-8s %-8s %s\n' "node$i" "$state" "${h:--}" "${hash:--}"
    [[ -n "$h" ]] && { [[ -z "$common" || "$h" -lt "$common" ]] && common=$h; }
  done
  if [[ -n "$common" ]]; then
    for ((i = 0; i < N; i++)); do
      hashes+=("$("$BIN" query block --type=height "$common" --node "tcp://127.0.0.1:$((26657 + 10 * i))" -o json 2>/dev/null |
        grep -o '"app_hash":"[^"]*"' || echo unreachable)")
    done
    if [[ $(printf '%s\n' "${hashes[@]}" | sort -u | wc -l) -eq 1 && "${hashes[0]}" != unreachable ]]; then
      echo "block $common: the same app hash on all $N nodes"
    else
      echo "block $common: app hashes differ or a node is unreachable: ${hashes[*]}"
    fi
  fi
  if running "$DIR/vault.pid"; then echo "vault  running  http://127.0.0.1:8800"; else echo "vault  stopped"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DIR"; echo "removed $DIR" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
