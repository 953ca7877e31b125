#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# net-server against nats-server with the same load generator (net-bench): routed messages
# in a ring (route, 64 B and 1 KiB) and a connection storm (storm: net-server with the
# directory and with --no-directory, nats-server with CONNECT + SUB + PING). The servers
# are started once, each on a free port, and stopped at the end. Rounds are interleaved
# and alternate which server goes first, so drift hits all alike. Prints every run, then
# the median of each and the ratios net-server / nats-server.
#
# usage: bench/race.sh [BUILD_DIR]          (default: $BUILD, else build/default)
# env:   ROUNDS (5), CLIENTS (16: route clients), WINDOW (64),
#        DURATION (3: seconds per route run), STORM (2000: storm clients),
#        THREADS (1: net-server --threads),
#        THREADS2 (0; 1 adds net-server --threads 2 as a third contestant),
#        NATS (nats-server, from PATH; skipped when missing), TIMEOUT (120: per run),
#        PLOT (a .png path: gnuplot draws net-server's speed relative to nats-server per
#        test, each round's ratio and the median; needs gnuplot-nox)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build=${1:-${BUILD:-build/default}}
bench=$build/apps/net-bench
server=$build/apps/net-server
rounds=${ROUNDS:-5}
clients=${CLIENTS:-16}
window=${WINDOW:-64}
seconds=${DURATION:-3}
storm=${STORM:-2000}
threads=${THREADS:-1}
threads2=${THREADS2:-0}
nats=${NATS:-nats-server}
limit=${TIMEOUT:-120}
plot=${PLOT:-}

for exe in "$bench" "$server"; do
    [ -x "$exe" ] || { echo "race.sh: $exe not built" >&2; exit 2; }
done
if [ -n "$plot" ] && ! command -v gnuplot > /dev/null; then
    echo "race.sh: PLOT needs gnuplot (apt-get install gnuplot-nox)" >&2
    exit 2
fi
if ! command -v "$nats" > /dev/null; then
    echo "race.sh: no $nats (apt-get install nats-server); racing net-server alone" >&2
    nats=""
fi
ulimit -n "$(ulimit -Hn)" # the storm needs a descriptor per client, in every process
tmp=$(mktemp -d)
pids=() # the servers
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

declare -A port
contestants=(libnet)
"$server" --port 0 --threads "$threads" --log-level warn > "$tmp/libnet.out" 2>&1 &
pids+=($!)
port[libnet]=$(await_match "$tmp/libnet.out" 's/^[^ ]*:\([0-9][0-9]*\)$/\1/p')
if [ "$threads2" = 1 ]; then
    contestants+=(libnet2)
    "$server" --port 0 --threads 2 --log-level warn > "$tmp/libnet2.out" 2>&1 &
    pids+=($!)
    port[libnet2]=$(await_match "$tmp/libnet2.out" 's/^[^ ]*:\([0-9][0-9]*\)$/\1/p')
fi
if [ -n "$nats" ]; then
    contestants+=(nats)
    "$nats" -a 127.0.0.1 -p -1 > "$tmp/nats.out" 2>&1 &
    pids+=($!)
    port[nats]=$(await_match "$tmp/nats.out" 's/.*client connections on .*:\([0-9][0-9]*\)$/\1/p')
fi

declare -A label=([libnet]="net-server --threads $threads" [libnet2]="net-server --threads 2"
                  [nats]="nats-server")
# Tests: name, metric key in net-bench's result line, unit, net-bench arguments.
tests=(route64 route1k storm storm-nodir)
declare -A metric=([route64]=msg_per_s [route1k]=msg_per_s [storm]=seconds
                   [storm-nodir]=seconds)
declare -A unit=([route64]=msg/s [route1k]=msg/s [storm]=s [storm-nodir]=s)
declare -A args=(
    [route64]="route --clients $clients --window $window --size 64 --seconds $seconds"
    [route1k]="route --clients $clients --window $window --size 1024 --seconds $seconds"
    [storm]="storm --clients $storm"
    [storm-nodir]="storm --clients $storm --no-directory")

# One run: prints the metric, or "fail" (with net-bench's complaint on stderr).
# $1: test, $2: contestant, $3: a unique client id prefix.
run_once() {
    local test=$1 who=$2 out=$tmp/run.out err=$tmp/run.err
    local a
    read -ra a <<< "${args[$test]}"
    a+=(--port "${port[$who]}" --timeout "$limit" --id-prefix "$3")
    if [ "$who" = nats ]; then
        [ "$test" = storm-nodir ] && { echo skip; return; } # NATS has no directory anyway
        a+=(--nats)
    fi
    if ! "$bench" "${a[@]}" > "$out" 2> "$err"; then
        grep -h '^net-bench:' "$err" | tail -1 | sed 's/^/    /' >&2
        echo fail
        return
    fi
    sed -n "s/.* ${metric[$test]}=\([^ ]*\).*/\1/p" "$out"
}

declare -A results
start=$SECONDS
for ((r = 1; r <= rounds; r++)); do
    order=("${contestants[@]}")
    if ((r % 2 == 0)); then # alternate who goes first
        order=()
        for ((i = ${#contestants[@]} - 1; i >= 0; i--)); do order+=("${contestants[$i]}"); done
    fi
    for test in "${tests[@]}"; do
        for who in "${order[@]}"; do
            for pid in "${pids[@]}"; do
                kill -0 "$pid" 2> /dev/null || fail "a server died" "$tmp"/*.out
            done
            value=$(run_once "$test" "$who" "r${r}${test//-/}${who}_")
            [ "$value" = skip ] && continue
            printf 'round %d  %-12s %-24s %12s %s\n' "$r" "$test" "${label[$who]}" "$value" \
                "${unit[$test]}"
            [ "$value" != fail ] && results[$test,$who]+="$value "
        done
    done
done

med() { echo "${results[$1,$2]:-}" | tr ' ' '\n' | { grep . || true; } | median; }

# Ratio of medians a / b, or "-".
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
                                     else printf "%.2f\n", a / b }'
}

echo
echo "Medians of $rounds rounds, $((SECONDS - start)) s in all (route: $clients clients," \
    "window $window, $seconds s; storm: $storm clients)."
if [ -n "$nats" ]; then
    echo "Ratios: net-server / nats-server; msg/s: higher is better for net-server, storm"
    echo "seconds: lower is better (storm-nodir is compared with nats-server's one storm)."
fi
printf '%-12s' test
for who in "${contestants[@]}"; do printf ' %24s' "${label[$who]}"; done
if [ -n "$nats" ]; then
    for who in "${contestants[@]}"; do
        [ "$who" = libnet ] && printf ' %10s' "t$threads/nats"
        [ "$who" = libnet2 ] && printf ' %10s' "t2/nats"
    done
fi
echo
for test in "${tests[@]}"; do
    printf '%-12s' "$test"
    theirs=$(med "${test/storm-nodir/storm}" nats)
    for who in "${contestants[@]}"; do
        value=$(med "$test" "$who")
        [ "$who" = nats ] && value=$theirs
        printf ' %24s' "$value ${unit[$test]}"
    done
    if [ -n "$nats" ]; then
        for who in "${contestants[@]}"; do
            [ "$who" != nats ] && printf ' %10s' "$(ratio "$(med "$test" "$who")" "$theirs")"
        done
    fi
    echo
done

[ -n "$plot" ] || exit 0
[ -n "$nats" ] || { echo "race.sh: PLOT: no nats-server to compare with" >&2; exit 2; }
# Speed relative to nats-server, higher is better for every test: msg/s over msg/s, and
# nats-server's storm seconds over net-server's. Each round is compared with the same round
# of nats-server (they ran side by side); the bar is the ratio of the medians.
speed() { # $1: test, $2: net-server's value, $3: nats-server's
    awk -v u="${unit[$1]}" -v a="$2" -v b="$3" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || a == 0 || b == 0) print "NaN";
        else printf "%.3f\n", u == "s" ? b / a : a / b }'
}
mine=(); for who in "${contestants[@]}"; do [ "$who" != nats ] && mine+=("$who"); done
{
    x=0
    for test in "${tests[@]}"; do
        theirs_all=(${results[${test/storm-nodir/storm},nats]:-})
        for who in "${mine[@]}"; do
            runs=(${results[$test,$who]:-})
            bar=$(speed "$test" "$(med "$test" "$who")" "$(med "${test/storm-nodir/storm}" nats)")
            for ((i = 0; i < ${#runs[@]}; i++)); do
                name=$test
                ((${#mine[@]} > 1)) && name="$test, ${label[$who]}"
                echo "$x $bar $(speed "$test" "${runs[$i]}" "${theirs_all[$i]:-}") \"$name\""
            done
            x=$((x + 1))
        done
        x=$((x + 1)) # a gap between tests
    done
} > "$tmp/plot.dat"
{
    echo "set terminal pngcairo size 900,480 noenhanced font 'sans,10'"
    echo "set output '$plot'"
    echo "set title 'net-server relative to nats-server, $rounds interleaved rounds (higher is better)'"
    echo "set ylabel 'speed relative to nats-server'"
    echo "set yrange [0:*]; set grid ytics; set key top left"
    echo "set boxwidth 0.8; set style fill solid 0.35 border"
    echo "set xtics rotate by -20 left; set bmargin 5; set rmargin 6"
    echo "f(x) = 1"
    echo "plot '$tmp/plot.dat' using 1:2:xtic(stringcolumn(4))" \
        "with boxes title 'median', '' using 1:3 with points pt 7 ps 0.8 title 'rounds'," \
        "1 with lines dt 2 lc rgb 'black' title 'nats-server'"
} > "$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "plot: $plot"
