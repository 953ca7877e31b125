#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the cluster example against a nats-server with JetStream started for it on a free
# port, and stops that nats-server afterwards.
# usage: examples/cluster.sh [PATH_TO_libnet-cluster]   (default: build/default/examples/...)
set -euo pipefail

example=${1:-build/default/examples/libnet-cluster}
command -v nats-server > /dev/null || { echo "cluster.sh: no nats-server (scripts/bootstrap)" >&2; exit 1; }
tmp=$(mktemp -d)
nats-server -js -a 127.0.0.1 -p -1 -sd "$tmp/js" > "$tmp/nats.log" 2>&1 &
nats=$!
trap 'kill $nats 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

port=""
for _ in $(seq 400); do
    port=$(sed -n 's/.*client connections on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/nats.log" | head -1)
    grep -q "Server is ready" "$tmp/nats.log" && [ -n "$port" ] && break
    sleep 0.025
done
[ -n "$port" ] || { echo "cluster.sh: nats-server did not start" >&2; cat "$tmp/nats.log" >&2; exit 1; }
"$example" "nats://127.0.0.1:$port"
