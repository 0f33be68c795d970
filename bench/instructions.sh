#!/usr/bin/env bash
# Instructions per request in Tessera's own process (user space, counted by
# valgrind's callgrind), for the check routes: /healthz (the HTTP layer
# alone), GET /tokens/v2 with an sk and with a tk, and GET
# /api/v1/account/me with a session JWT. Deterministic, so it measures
# changes to the hot path on a machine too busy for wrk to tell them apart
# (the kernel's share, about two thirds of a check's CPU time, is not
# counted: bench/run.sh measures the whole). Each figure is the difference
# between runs of N1 and N2 keep-alive requests divided by N2 - N1, so
# start-up and shutdown cancel out. Never part of the test suite.
#
#   bench/instructions.sh                       # builds release, 200 and 1200 requests
#   BIN=/path/to/tessera bench/instructions.sh
#   BASE=/path/to/older/tessera bench/instructions.sh   # both, side by side
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
N1=${N1:-200}
N2=${N2:-1200}
"$ROOT/scripts/deps.sh" bench
for tool in valgrind callgrind_annotate curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null &&
        cmake --build --preset release -j2 --target tessera >/dev/null)
fi
BIN=${BIN:-$ROOT/build/release/tessera}

TMP=$(mktemp -d /tmp/tessera-bench-instr.XXXXXX)
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# One store, seeded by a normal run of BIN; every measured run serves it.
"$BIN" stac import "$ROOT/catalog/sample/public" --visibility Public --data-dir "$TMP/data" >/dev/null 2>&1
start() { # binary port-file [wrapper...]
    local bin=$1 port=$2
    shift 2
    "$@" "$bin" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$port" --threads 1 \
        --login-rate-account 0 --login-rate-account-hourly 0 --login-rate-addr 0 >/dev/null 2>>"$TMP/server.log" &
    SERVER=$!
    for _ in $(seq 600); do [ -s "$port" ] && return 0; sleep 0.1; done
    echo "bench: tessera did not start" >&2
    cat "$TMP/server.log" >&2
    return 1
}
stop() {
    kill -TERM "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}
start "$BIN" "$TMP/seed.port"
. "$BENCH/seed.sh"
seed_credentials "http://127.0.0.1:$(cat "$TMP/seed.port")" "$TMP"
stop

# Total instructions of a server run under callgrind that answered n requests.
count() { # binary kind n
    local port=$TMP/cg.port out=$TMP/cg.out path=/tokens/v2 token=""
    rm -f "$port" "$out"
    case $2 in
    healthz) path=/healthz ;;
    sk) token=$SK ;;
    tk) token=$TK ;;
    session) path=/api/v1/account/me token=$ACCESS ;;
    esac
    start "$1" "$port" valgrind --tool=callgrind --callgrind-out-file="$out"
    python3 - "$(cat "$port")" "$3" "$path" "$token" <<'PY'
import http.client, sys
port, n, path, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
    reply = conn.getresponse()
    reply.read()
    if reply.status != 200:
        sys.exit("bench: %s answered %d" % (path, reply.status))
PY
    stop
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
}
per_request() { # binary kind
    local a b
    a=$(count "$1" "$2" "$N1")
    b=$(count "$1" "$2" "$N2")
    echo $(((b - a) / (N2 - N1)))
}

printf '%-34s %12s' "instructions per request" "$(basename "$BIN")"
[ -n "${BASE:-}" ] && printf ' %12s %8s' "$(basename "$BASE")" "change"
printf '\n'
for kind in ${KINDS:-healthz sk tk session}; do
    now=$(per_request "$BIN" "$kind")
    printf '%-34s %12s' "$kind" "$now"
    if [ -n "${BASE:-}" ]; then
        before=$(per_request "$BASE" "$kind")
        printf ' %12s %7s%%' "$before" "$(python3 -c "print('%+.0f' % (100.0 * ($now - $before) / $before))")"
    fi
    printf '\n'
done
