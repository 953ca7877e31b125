#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# What TLS costs a net-server (docs/performance.md, "TLS"):
# 1. Handshakes: `openssl s_time -new` makes full handshakes (no resumption) against
#    net-server with an ECDSA P-256 certificate, then with an RSA-2048 one; the server's
#    CPU time (from /proc) per handshake gives handshakes per second per core, which the
#    client's own cost on this shared machine does not blur. `openssl s_server` with the
#    same ECDSA certificate, measured the same way, is the baseline.
# 2. Routing: route_bench against a plain and a TLS net-server (one thread each), rounds
#    interleaved; medians and the TLS/plain ratio.
#
# usage: bench/tls.sh [BUILD_DIR]        (default: $BUILD, else build/default)
# env:   ROUNDS (3), SECONDS_HS (5: s per s_time run), CLIENTS (16), MESSAGES (20000),
#        WINDOW (64), SIZE (64)
set -euo pipefail

build=${1:-${BUILD:-build/default}}
server=$build/apps/net-server
route=$build/bench/route_bench
rounds=${ROUNDS:-3}
hs_seconds=${SECONDS_HS:-5}
clients=${CLIENTS:-16}
messages=${MESSAGES:-20000}
window=${WINDOW:-64}
size=${SIZE:-64}
for exe in "$server" "$route"; do
    [ -x "$exe" ] || { echo "tls.sh: $exe not built" >&2; exit 2; }
done
command -v openssl > /dev/null || { echo "tls.sh: no openssl" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# A CA and two server certificates for 127.0.0.1: ECDSA P-256 and RSA-2048.
cd "$tmp"
quiet() { "$@" > /dev/null 2>&1; }
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -days 30 -subj "/CN=bench CA"
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
for kind in ec rsa; do
    if [ $kind = ec ]; then key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); else key=(-newkey rsa:2048); fi
    quiet openssl req "${key[@]}" -nodes -keyout $kind.key -out $kind.csr -subj "/CN=127.0.0.1"
    quiet openssl x509 -req -in $kind.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile san.ext -out $kind.pem
done
cd - > /dev/null

# Starts net-server; sets $port and $pid.
start() {
    local out=$tmp/server.$RANDOM
    "$server" --port 0 --log-level warn --max-queue 67108864 "$@" > "$out" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.05
    done
    port=$(head -1 "$out" | sed 's/.*://')
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== handshakes (openssl s_time -new, ${hs_seconds} s each)"
for kind in ec rsa s_server-ec; do
    if [ $kind = s_server-ec ]; then # the baseline: OpenSSL's own server, same certificate
        port=$(free_port)
        openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/ec.pem" -key "$tmp/ec.key" \
            -quiet -naccept 1000000 > /dev/null 2>&1 &
        pid=$!
        pids+=("$pid")
        for _ in $(seq 100); do
            (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
            sleep 0.05
        done
    else
        start --tls-cert "$tmp/$kind.pem" --tls-key "$tmp/$kind.key"
    fi
    before=$(cpu_ticks "$pid")
    out=$(openssl s_time -connect "127.0.0.1:$port" -new -time "$hs_seconds" \
          -CAfile "$tmp/ca.pem" 2>&1 || true)
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    n=$(echo "$out" | awk '/connections in/ && /real seconds/ {print $1; exit}')
    real=$(echo "$out" | awk '/connections in/ && /real seconds/ {print $4; exit}')
    ticks=$((after - before))
    hz=$(getconf CLK_TCK)
    awk -v k=$kind -v n="$n" -v r="$real" -v t=$ticks -v hz="$hz" 'BEGIN {
        cpu = t / hz;
        printf "%-11s %6d handshakes in %.1f s (%.0f/s with the client on the same machine); server CPU %.2f s: %.0f handshakes per server CPU second\n",
               k, n, r, n / r, cpu, (cpu > 0 ? n / cpu : 0) }'
done

echo "== routing: $clients clients x $messages messages of $size B, window $window"
plain=()
tls=()
for round in $(seq "$rounds"); do
    for mode in plain tls; do
        if [ $mode = plain ]; then
            start
            extra=()
        else
            start --tls-cert "$tmp/ec.pem" --tls-key "$tmp/ec.key"
            extra=(--tls-ca "$tmp/ca.pem")
        fi
        line=$("$route" --server "127.0.0.1:$port" --clients "$clients" --messages "$messages" \
               --window "$window" --size "$size" --round-trips 2000 "${extra[@]}" |
               grep -E '^(throughput|latency)' | tr '\n' ' ')
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        rate=$(echo "$line" | sed -E 's/.* s: ([0-9]+) msg\/s.*/\1/')
        p50=$(echo "$line" | sed -E 's/.*p50 ([0-9]+) us.*/\1/')
        echo "round $round $mode: $rate msg/s, round trip p50 $p50 us"
        if [ $mode = plain ]; then plain+=("$rate"); else tls+=("$rate"); fi
    done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${plain[@]}")
mt=$(median "${tls[@]}")
awk -v p="$mp" -v t="$mt" 'BEGIN { printf "median: plain %d msg/s, TLS %d msg/s: TLS at %.0f%% of plain\n", p, t, 100 * t / p }'
