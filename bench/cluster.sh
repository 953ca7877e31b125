#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# net-server clusters on NATS against a single net-server, with the same load generator
# (net-bench): routed 64 B messages in a ring whose every hop crosses nodes (route: odd
# clients on the second node, --port2), and a registration storm spread over two nodes
# (storm: every registration is a claim in the cluster's JetStream bucket, and every
# client waits for the whole directory). Clusters on one nats-server and on three (a
# JetStream cluster, the bucket replicated 3 times). Rounds are interleaved. Prints every
# run, then medians and ratios to the single server.
#
# usage: bench/cluster.sh [BUILD_DIR]        (default: $BUILD, else build/default)
# env:   ROUNDS (3), CLIENTS (16: route clients), WINDOW (64), DURATION (3: s per route
#        run), STORM (1000: storm clients), TIMEOUT (120: per run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=${1:-${BUILD:-build/default}}
bench=$build/apps/net-bench
server=$build/apps/net-server
rounds=${ROUNDS:-3}
clients=${CLIENTS:-16}
window=${WINDOW:-64}
seconds=${DURATION:-3}
storm=${STORM:-1000}
limit=${TIMEOUT:-120}

for exe in "$bench" "$server"; do
    [ -x "$exe" ] || { echo "cluster.sh: $exe not built" >&2; exit 2; }
done
command -v nats-server > /dev/null || { echo "cluster.sh: no nats-server" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Starts a net-server and records its pid (not in a subshell: the pids must reach the
# trap). $1: name, then its extra arguments. Its port: port_of NAME.
start_server() {
    local name=$1
    shift
    "$server" --port 0 --log-level warn "$@" > "$tmp/$name.out" 2>&1 &
    pids+=($!)
}
port_of() {
    await_match "$tmp/$1.out" 's/^[^ ]*:\([0-9][0-9]*\)$/\1/p'
}

# One nats-server with JetStream; sets nats1 to its URL.
one_nats() {
    local p
    p=$(free_port)
    nats-server -js -a 127.0.0.1 -p "$p" -sd "$tmp/js1" > "$tmp/nats1.log" 2>&1 &
    pids+=($!)
    await_match "$tmp/nats1.log" 's/.*\(Server is ready\).*/\1/p' > /dev/null
    nats1="nats://127.0.0.1:$p"
}

# Three nats-servers in a JetStream cluster; sets nats3 to their URLs, comma-separated.
three_nats() {
    local client=() route=() http=() routes="" urls="" i
    for i in 0 1 2; do
        client+=("$(free_port)") route+=("$(free_port)") http+=("$(free_port)")
        routes+="${routes:+, }nats://127.0.0.1:${route[$i]}"
        urls+="${urls:+,}nats://127.0.0.1:${client[$i]}"
    done
    for i in 0 1 2; do
        cat > "$tmp/n$i.conf" << EOF
server_name: n$i
listen: 127.0.0.1:${client[$i]}
http: 127.0.0.1:${http[$i]}
jetstream { store_dir: "$tmp/js3-$i" }
cluster { name: bench, listen: 127.0.0.1:${route[$i]}, routes: [$routes] }
EOF
        nats-server -c "$tmp/n$i.conf" > "$tmp/n$i.log" 2>&1 &
        pids+=($!)
    done
    for i in 0 1 2; do # the meta leader elected
        for _ in $(seq 800); do
            python3 -c 'import sys, urllib.request; sys.exit(b"\"leader\"" not in
                urllib.request.urlopen(sys.argv[1], timeout=1).read())' \
                "http://127.0.0.1:${http[$i]}/jsz" 2> /dev/null && break
            sleep 0.025
        done
    done
    nats3=$urls
}

declare -A args label
one_nats
three_nats
start_server single
start_server a1 --cluster "$nats1" --cluster-name bench1 --node-id a
start_server b1 --cluster "$nats1" --cluster-name bench1 --node-id b
start_server a3 --cluster "$nats3" --cluster-name bench3 --node-id a
start_server b3 --cluster "$nats3" --cluster-name bench3 --node-id b
single=$(port_of single) a1=$(port_of a1) b1=$(port_of b1) a3=$(port_of a3) b3=$(port_of b3)

contestants=(single cluster1 cluster3)
label=([single]="one net-server" [cluster1]="2 nodes, 1 NATS" [cluster3]="2 nodes, 3 NATS")
declare -A ports=([single]="--port $single" [cluster1]="--port $a1 --port2 $b1"
                  [cluster3]="--port $a3 --port2 $b3")
tests=(route64 storm)
declare -A metric=([route64]=msg_per_s [storm]=seconds)
declare -A unit=([route64]=msg/s [storm]=s)
declare -A targs=([route64]="route --clients $clients --window $window --size 64 --seconds $seconds"
                  [storm]="storm --clients $storm")

run_once() { # $1 test, $2 contestant, $3 id prefix
    local a out=$tmp/run.out err=$tmp/run.err
    read -ra a <<< "${targs[$1]} ${ports[$2]}"
    a+=(--timeout "$limit" --id-prefix "$3")
    if ! "$bench" "${a[@]}" > "$out" 2> "$err"; then
        grep -h '^net-bench:' "$err" | tail -1 | sed 's/^/    /' >&2
        echo fail
        return
    fi
    sed -n "s/.* ${metric[$1]}=\([^ ]*\).*/\1/p" "$out"
}

declare -A results
for ((r = 1; r <= rounds; r++)); do
    for test in "${tests[@]}"; do
        for who in "${contestants[@]}"; do
            for pid in "${pids[@]}"; do
                kill -0 "$pid" 2> /dev/null || fail "a server died" "$tmp"/*.out
            done
            value=$(run_once "$test" "$who" "r${r}${test}${who}_")
            printf 'round %d  %-8s %-18s %12s %s\n' "$r" "$test" "${label[$who]}" "$value" \
                "${unit[$test]}"
            [ "$value" != fail ] && results[$test,$who]+="$value "
        done
    done
done

med() { echo "${results[$1,$2]:-}" | tr ' ' '\n' | { grep . || true; } | median; }

echo
echo "Medians of $rounds rounds (route: $clients clients, window $window, $seconds s, every hop"
echo "across nodes in a cluster; storm: $storm clients over the nodes, registrations/s"
echo "= clients / seconds until every client holds the whole directory)."
printf '%-18s %16s %16s %10s\n' "" "route64 msg/s" "storm regs/s" "route %"
base=$(med route64 single)
for who in "${contestants[@]}"; do
    msgs=$(med route64 "$who")
    secs=$(med storm "$who")
    awk -v l="${label[$who]}" -v m="$msgs" -v s="$secs" -v n="$storm" -v b="$base" 'BEGIN {
        regs = (s == "-" || s == 0) ? "-" : sprintf("%.0f", n / s)
        pct = (m == "-" || b == "-" || b == 0) ? "-" : sprintf("%.0f", 100 * m / b)
        printf "%-18s %16s %16s %10s\n", l, m, regs, pct }'
done
