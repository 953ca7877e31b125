#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Routing over UDP against routing over TCP (docs/performance.md, "UDP"): one net-server
# (one thread) serves both; route_bench drives it over TCP and over UDP in interleaved
# rounds, and the medians give UDP's share of TCP's routed messages per second. The
# round-trip latencies of each run are printed as they come.
#
# usage: bench/udp.sh [BUILD_DIR]        (default: $BUILD, else build/default)
# env:   ROUNDS (5), CLIENTS (16), MESSAGES (20000), WINDOW (64), SIZE (64)
set -euo pipefail

build=${1:-${BUILD:-build/default}}
server=$build/apps/net-server
route=$build/bench/route_bench
rounds=${ROUNDS:-5}
clients=${CLIENTS:-16}
messages=${MESSAGES:-20000}
window=${WINDOW:-64}
size=${SIZE:-64}
for exe in "$server" "$route"; do
    [ -x "$exe" ] || { echo "udp.sh: $exe not built" >&2; exit 2; }
done
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$server" --port 0 --udp 0 --max-queue 67108864 --log-level warn > "$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 50); do
    grep -q '^udp ' "$tmp/out" 2>/dev/null && break
    sleep 0.1
done
tcp=$(head -1 "$tmp/out")
udp=$(awk '/^udp / {print $2}' "$tmp/out")
[ -n "$udp" ] || { echo "udp.sh: net-server did not start" >&2; exit 1; }

run() { # $1: server address; prints msg/s, then the latency line on stderr
    local out
    out=$("$route" --server "$1" --clients "$clients" --messages "$messages" \
        --window "$window" --size "$size")
    grep '^latency' <<< "$out" >&2
    sed -n 's/^throughput: .*: \([0-9]*\) msg\/s.*/\1/p' <<< "$out"
}
tcp_rates=() udp_rates=()
for r in $(seq "$rounds"); do
    t=$(run "$tcp")
    u=$(run "udp://$udp")
    echo "round $r: TCP $t msg/s, UDP $u msg/s"
    tcp_rates+=("$t")
    udp_rates+=("$u")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mt=$(median "${tcp_rates[@]}")
mu=$(median "${udp_rates[@]}")
awk -v t="$mt" -v u="$mu" 'BEGIN { printf "median: TCP %d msg/s, UDP %d msg/s: UDP at %.0f%% of TCP\n", t, u, 100 * u / t }'
