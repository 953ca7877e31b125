#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Direct-link throughput: libnet's peer link against a plain Asio TCP stream (link_bench
# --baseline), 64 B and 4 KiB messages, both ends in one process and in two processes (libnet's
# two clients then register with a separate net-server). Prints every run, then the median
# msg/s of each setup, libnet's share of the baseline, and the CPU time spent per message.
#
# usage: bench/link_bench.sh [BUILD_DIR]           (default: build/bench)
# env:   RUNS (3), N64 (500000), N4K (200000), WINDOW (1024),
#        BATCH (0: one libnet operation per message; B: async_send_batch / async_receive_batch
#        of B messages), PLAIN_LINKS (0: libnet's links are TLS 1.3, the default; 1: plain)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=${1:-build/bench}
bench=$build/bench/link_bench
server=$build/apps/net-server
runs=${RUNS:-3}
n64=${N64:-500000}
n4k=${N4K:-200000}
window=${WINDOW:-1024}
batch=${BATCH:-0}
plain=${PLAIN_LINKS:-0}
limit=120 # seconds any one process may take

for exe in "$bench" "$server"; do
    [ -x "$exe" ] || { echo "link_bench.sh: $exe not built" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Prints the last field of the first line of file $1 matching $2, once there is one.
await_line() {
    for _ in $(seq 400); do
        local got
        got=$(awk -v re="$2" '$0 ~ re { print $NF; exit }' "$1" 2>/dev/null || true)
        [ -n "$got" ] && { echo "$got"; return; }
        sleep 0.025
    done
    fail "nothing matching '$2' in time" "$1"
}

# One run; sets `rate` to rx's msg/s and `cpu` to the CPU time (user + system) its link_bench
# processes used per message, in microseconds.
# $1: one|two (processes), $2: libnet|baseline, $3: size, $4: messages.
run_once() {
    local procs=$1 kind=$2 size=$3 n=$4
    local rx=$tmp/rx.out tx=$tmp/tx.out srv=$tmp/server.out
    local args=(--size "$size" --messages "$n" --window "$window")
    [ "$kind" = baseline ] && args+=(--baseline)
    [ "$kind" = libnet ] && [ "$batch" != 0 ] && args+=(--batch "$batch")
    [ "$kind" = libnet ] && [ "$plain" != 0 ] && args+=(--plain-links)
    rm -f "$rx" "$tx" "$srv"
    if [ "$procs" = one ]; then
        timeout $limit "$bench" "${args[@]}" > "$rx" 2>&1 || fail "link_bench failed" "$rx"
    else
        local rx_args=("${args[@]}" --role rx) tx_args=("${args[@]}" --role tx) server_pid=""
        if [ "$kind" = libnet ]; then
            # --expect 2: the server stops once rx and tx have both come and gone.
            timeout $limit "$server" --port 0 --log-level warn --expect 2 > "$srv" 2>&1 &
            server_pid=$!
            local at
            at=$(await_line "$srv" '^[^ ]+:[0-9]+$')
            rx_args+=(--server "$at")
            tx_args+=(--server "$at")
        else
            rx_args+=(--listen 0)
        fi
        timeout $limit "$bench" "${rx_args[@]}" > "$rx" 2>&1 &
        local rx_pid=$! peer
        peer=$(await_line "$rx" '^link_bench: ready ')
        [ "$kind" = baseline ] && tx_args+=(--connect "$peer")
        timeout $limit "$bench" "${tx_args[@]}" > "$tx" 2>&1 || fail "tx failed" "$tx" "$rx"
        wait $rx_pid || fail "rx failed" "$rx" "$tx" "$srv"
        if [ -n "$server_pid" ]; then wait $server_pid || fail "net-server failed" "$srv"; fi
    fi
    rate=$(awk '/^throughput:/ { print $7 }' "$rx")
    [ -n "$rate" ] || fail "no throughput line" "$rx"
    local files=("$rx")
    [ "$procs" = two ] && files+=("$tx")
    cpu=$(awk -v n="$n" '/^cpu:/ { s += $2 + $5 } END { printf "%.2f", s / n * 1e6 }' "${files[@]}")
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

declare -A result cpu_of
start=$SECONDS
for procs in one two; do
    for size in 64 4096; do
        n=$([ "$size" = 64 ] && echo "$n64" || echo "$n4k")
        declare -A rates=([libnet]="" [baseline]="") cpus=([libnet]="" [baseline]="")
        for ((i = 1; i <= runs; i++)); do
            for kind in libnet baseline; do # interleaved, so drift hits both alike
                run_once "$procs" "$kind" "$size" "$n"
                printf '%-13s %4s B  %-8s run %d: %8s msg/s, %6s us CPU/msg\n' \
                    "$([ "$procs" = one ] && echo "one process" || echo "two processes")" \
                    "$size" "$kind" "$i" "$rate" "$cpu" >&2
                rates[$kind]+="$rate "
                cpus[$kind]+="$cpu "
            done
        done
        for kind in libnet baseline; do
            result[$procs,$size,$kind]=$(echo "${rates[$kind]}" | tr ' ' '\n' | grep . | median)
            cpu_of[$procs,$size,$kind]=$(echo "${cpus[$kind]}" | tr ' ' '\n' | grep . | median)
        done
    done
done

echo
echo "Medians of $runs runs (window $window, libnet batch $batch; $n64 x 64 B, $n4k x 4096 B)," \
    "$((SECONDS - start)) s in all."
echo "CPU: user + system of the link_bench process(es) per message (not net-server's)."
printf '%-13s %6s %13s %15s %8s %14s %12s\n' \
    setup size "libnet msg/s" "baseline msg/s" libnet "libnet CPU/msg" "baseline CPU"
for procs in one two; do
    for size in 64 4096; do
        awk -v p="$procs" -v s="$size" -v l="${result[$procs,$size,libnet]}" \
            -v b="${result[$procs,$size,baseline]}" -v lc="${cpu_of[$procs,$size,libnet]}" \
            -v bc="${cpu_of[$procs,$size,baseline]}" \
            'BEGIN { printf "%-13s %4d B %13d %15d %7.1f%% %11.2f us %9.2f us\n",
                     (p == "one" ? "one process" : "two processes"), s, l, b, 100 * l / b, lc, bc }'
    done
done
