# SPDX-License-Identifier: BSL-1.0
# Helpers shared by the benchmark scripts (sourced, not run).

# Prints "SCRIPT: $1" and the files named after it, indented, on stderr; exits 1.
fail() {
    echo "$(basename "$0"): $1" >&2
    shift
    for f in "$@"; do [ -f "$f" ] && sed 's/^/  | /' "$f" >&2; done
    exit 1
}

# Prints the first match of sed expression $2 in file $1, once there is one (20 s at most).
await_match() {
    for _ in $(seq 800); do
        local got
        got=$(sed -n "$2" "$1" 2>/dev/null | head -1)
        [ -n "$got" ] && { echo "$got"; return; }
        sleep 0.025
    done
    fail "no match for '$2' in time" "$1"
}

# The median of the numbers on stdin (the mean of the middle two for an even count), or "-".
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "-"
        else if (NR % 2) print v[(NR + 1) / 2]
        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A TCP port free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
