#!/usr/bin/env bash
# Durable commits with 64 clients on the GPU machine's 16 cores, then pinned to
# 2 of them (taskset), the bridge benchmark's durable figures without this
# development machine's noisy neighbours: the C libzmq echo, the raw zeromq.js
# echo, the bridge (fsync always) on its native and zeromq.js request sockets,
# and Redis (appendfsync always, redis-benchmark -c 64). Staged by
# tools/gpu/stage-bridge.sh; run from the checkout's root on the GPU machine.
set -u
stage="$(cd "$(dirname "$0")/../.." && pwd)/.device/bridge"
work=$(mktemp -d /tmp/bridge-XXXX)
xz -dc "$stage/node.xz" >"$work/node" && chmod +x "$work/node"
export LD_LIBRARY_PATH="$stage/lib"
seconds=${SECS:-5}
echo "cores: $(nproc)"
# Starts a server, waits for its "ready", runs the load, stops the server.
measure() {
  local name="$1" load="$2"
  shift 2
  $pin "$@" >"$work/ready" &
  local server=$!
  for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
  echo "$name $($pin $load)"
  kill "$server"
  wait "$server" 2>/dev/null
}
for pin in "" "taskset -c 0,1"; do
  for round in 1 2; do
    echo "== ${pin:-all cores}, round $round"
    measure c-echo "$stage/bin/commit-load ipc://$work/c.ipc 64 $seconds 64 echo" "$stage/bin/zmq-echo" "ipc://$work/c.ipc"
    measure zeromqjs-echo "$stage/bin/commit-load ipc://$work/j.ipc 64 $seconds 64 echo" "$work/node" "$stage/peer.mjs" echo "ipc://$work/j.ipc"
    for transport in native zeromq; do
      rm -rf "$work/data"
      measure "bridge-$transport" "$stage/bin/commit-load ipc://$work/b-$transport.ipc 64 $seconds 64 bridge" \
        "$work/node" "$stage/peer.mjs" serve "ipc://$work/b-$transport.ipc" "$work/data" "$transport"
    done
    rm -rf "$work/redis" && mkdir "$work/redis"
    $pin "$stage/bin/redis-server" --port 6399 --dir "$work/redis" --appendonly yes --appendfsync always --save '' >/dev/null &
    redis=$!
    sleep 1
    echo "redis $($pin "$stage/bin/redis-benchmark" -p 6399 -c 64 -t set -d 64 -n $((seconds * 60000)) -q 2>/dev/null |
      tr '\r' '\n' | grep 'per second' | tail -1)"
    kill "$redis"
    wait "$redis" 2>/dev/null
  done
done
rm -rf "$work"
