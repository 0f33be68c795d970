#!/usr/bin/env bash
# Tessera vs nginx on loopback, in one run: builds the release binary, starts
# nginx (fixed JSON reply, 1 worker) and Tessera (1 HTTP thread, like nginx's
# one worker; THREADS overrides) with a
# seeded store, drives each with wrk and prints requests/s, p50/p99 and the
# ratio to nginx. Never part of the test suite.
#
#   bench/run.sh                 # defaults: 3 repetitions x 5 s, 64 and 256 connections
#   REPS=5 DURATION=10 bench/run.sh
#   SKIP_BUILD=1 bench/run.sh    # reuse build/release
#   BIN=/path/to/tessera SCENARIOS="stac_new" bench/run.sh   # one binary, some rows
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-"64 256"}
STORM_CONNS=${STORM_CONNS:-16}
THREADS=${THREADS:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
# Rows to measure (nginx is always measured: the ratios need it).
ROWS="nginx_log nginx_same healthz sk sk_bound tk session stac nginx_page stac_new stac_new_coll"
ROWS+=" stac_new_bound storm"
SCENARIOS=$(echo ${SCENARIOS:-$ROWS}) # one line, one space between names: want() matches words
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
for name in $SCENARIOS; do
    [[ " $ROWS " == *" $name "* ]] || { echo "bench: no row $name (rows: $ROWS)" >&2; exit 2; }
done

"$ROOT/scripts/deps.sh" bench
for tool in wrk curl python3 "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ] && [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 --target tessera >/dev/null)
fi
BIN=${BIN:-$ROOT/build/release/tessera}

TMP=$(mktemp -d /tmp/tessera-bench.XXXXXX)
NGINX_PID=""
TESSERA_PID=""
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    [ -n "$TESSERA_PID" ] && kill "$TESSERA_PID" 2>/dev/null && wait "$TESSERA_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- Tessera ---------------------------------------------------------------
# The sample catalog, for the STAC search page (201 items, 10 a page).
"$BIN" stac import "$ROOT/catalog/sample/public" --visibility Public --data-dir "$TMP/data" >/dev/null
"$BIN" stac import "$ROOT/catalog/sample/partners" --visibility Partners --data-dir "$TMP/data" >/dev/null
# Sign-in throttles off: the login storm must reach Argon2id, not a 429.
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$TMP/port" --threads "$THREADS" \
    --login-rate-account 0 --login-rate-account-hourly 0 --login-rate-addr 0 2>"$TMP/tessera.log" &
TESSERA_PID=$!
for _ in $(seq 200); do
    [ -s "$TMP/port" ] && break
    sleep 0.05
done
[ -s "$TMP/port" ] || { echo "bench: tessera did not start" >&2; cat "$TMP/tessera.log" >&2; exit 1; }
T="http://127.0.0.1:$(cat "$TMP/port")"
. "$BENCH/seed.sh"
seed_credentials "$T" "$TMP"

# ---- nginx -----------------------------------------------------------------
# Started after Tessera: the nginx_same reply carries the header lines of
# Tessera's own check reply beyond nginx's (X-Request-Id, CORS), copied here.
mkdir -p "$TMP/nginx"
curl -fsS -D - -o /dev/null "$T/tokens/v2" -H "Authorization: Bearer $SK" | tr -d '\r' |
    awk -F': ' '/^(X-Request-Id|Access-Control-[A-Za-z-]+): / {
        printf "add_header %s \"%s\" always;\n", $1, substr($0, length($1) + 3)}' \
    >"$TMP/nginx/check_headers.conf"
[ -s "$TMP/nginx/check_headers.conf" ] || { echo "bench: no header lines to copy" >&2; exit 1; }
NGINX_PORT=$(free_port)
NGINX_LOG_PORT=$(free_port)
NGINX_SAME_PORT=$(free_port)
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@PORT_LOG@|$NGINX_LOG_PORT|g" \
    -e "s|@PORT_SAME@|$NGINX_SAME_PORT|g" "$BENCH/nginx.conf.in" >"$TMP/nginx/nginx.conf"
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/nginx-error.log" &
NGINX_PID=$!
N="http://127.0.0.1:$NGINX_PORT"
NL="http://127.0.0.1:$NGINX_LOG_PORT"
NS="http://127.0.0.1:$NGINX_SAME_PORT"
for _ in $(seq 100); do curl -fs "$N/" >/dev/null && break; sleep 0.05; done

curl -fsS "$T/api/v1/stac/search?limit=10" -H "Authorization: Bearer $SK" -o "$TMP/nginx/page.json"
# Run as root, nginx reads it as its worker user (nobody): let that pass through.
chmod o+x "$TMP" "$TMP/nginx" && chmod o+r "$TMP/nginx/page.json"
curl -fsS "$N/page.json" | cmp -s - "$TMP/nginx/page.json" || { echo "bench: nginx does not serve the page" >&2; exit 1; }

# ---- measurements -----------------------------------------------------------
# The server's CPU time (user, then user + system, all threads) from /proc,
# in clock ticks.
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14, $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# CHILDREN_CPU: the CPU seconds (user + system) of this shell's reaped
# children. Called in this shell, not in $(...), whose children are its own.
children_cpu() {
    times >"$TMP/times"
    CHILDREN_CPU=$(awk 'NR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/)
                                 print u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$TMP/times")
}
# One wrk run appends "rps p50_us p99_us errors cpu_us user_us wrk_us bytes"
# (CPU per request: the server's, its user-space part, and wrk's own; bytes
# read per reply) to $TMP/res.NAME.CONNS.
wrk_once() { # name url conns token [unique-format (auth.lua)]
    local pid=$TESSERA_PID
    [[ "$1" == nginx* ]] && pid=$NGINX_WORKER
    local u0 t0 u1 t1 w0 w1
    read -r u0 t0 < <(cpu_ticks "$pid")
    children_cpu
    w0=$CHILDREN_CPU
    BENCH_TOKEN=$4 BENCH_UNIQUE=${5:-} wrk -t1 -c"$3" -d"${DURATION}s" --latency -s "$BENCH/auth.lua" "$2" |
        awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}' >"$TMP/one"
    children_cpu
    w1=$CHILDREN_CPU
    read -r u1 t1 < <(cpu_ticks "$pid")
    awk -v d=$((t1 - t0)) -v du=$((u1 - u0)) -v hz="$TICK" -v w="$w0" -v w1="$w1" \
        '{printf "%s %s %s %s %.2f %.2f %.2f %s\n", $1, $2, $3, $4, d * 1e6 / hz / $5, du * 1e6 / hz / $5,
                 (w1 - w) * 1e6 / $5, $6}' "$TMP/one" >>"$TMP/res.$1.$3"
}
declare -A RPS P50 P99 ERR CPU USER WRK BYTES STORM
# Medians over the repetitions of each column; errors are summed.
collect() { # name conns
    read -r RPS[$1/$2] P50[$1/$2] P99[$1/$2] ERR[$1/$2] CPU[$1/$2] USER[$1/$2] WRK[$1/$2] \
        BYTES[$1/$2] < <(python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = list(zip(*rows))
print(" ".join("%.0f" % statistics.median(c) for c in cols[:3]), int(sum(cols[3])),
      " ".join("%.2f" % statistics.median(c) for c in cols[4:7]), "%.0f" % statistics.median(cols[7]))' "$TMP/res.$1.$2")
}

# One run of a row by its name.
measure() { # name conns
    local url token="" unique=""
    # Every URL new (stac_new*): an end of the interval no item reaches, in nanoseconds.
    local new_url='&datetime=1900-01-01T00:00:00Z/2999-12-31T23:59:59.%09dZ'
    case $1 in
    nginx_log) url=$NL/tokens/v2 ;;
    nginx_same) url=$NS/tokens/v2 ;;
    nginx_page) url=$N/page.json ;;
    healthz) url=$T/healthz ;;
    sk) url=$T/tokens/v2 token=$SK ;;
    sk_bound) url=$T/tokens/v2 token=$SK_BOUND ;;
    tk) url=$T/tokens/v2 token=$TK ;;
    session) url=$T/api/v1/account/me token=$ACCESS ;;
    stac) url="$T/api/v1/stac/search?limit=10" token=$SK ;;
    stac_new) url="$T/api/v1/stac/search?limit=10" token=$SK unique=$new_url ;;
    # The bound sk's search finds what the unbound one finds naming its
    # collection: that pair isolates what the bounds cost.
    stac_new_coll) url="$T/api/v1/stac/search?limit=10&collections=l4a-ch4-mfa-v3a" token=$SK
        unique=$new_url ;;
    stac_new_bound) url="$T/api/v1/stac/search?limit=10" token=$SK_BOUND unique=$new_url ;;
    esac
    wrk_once "$1" "$url" "$2" "$token" "$unique"
}

echo "bench: $(nproc) cores, nginx 1 worker, tessera $THREADS HTTP thread(s); wrk -t1, ${REPS}x${DURATION}s, medians" >&2
for c in $CONNS; do
    echo "bench: $c connections ..." >&2
    # Interleaved, so background noise on a shared machine hits every
    # scenario alike instead of one of them.
    for _ in $(seq "$REPS"); do
        wrk_once nginx "$N/tokens/v2" "$c" ""
        # The other rows in a new order each repetition: whatever the run
        # before does to the next one (or the VM does at some point of the
        # cycle) lands on a different row each time.
        for name in $(shuf -e $SCENARIOS); do
            [ "$name" = storm ] || measure "$name" "$c"
        done
    done
    for name in nginx $SCENARIOS; do [ "$name" = storm ] || collect "$name" "$c"; done
    want storm || continue
    # Login storm: Argon2id sign-ins on the worker pool while checks run;
    # idle runs of the same scenario are interleaved with the storm runs.
    STORM_SECS=$((REPS * (DURATION + 1) + 2))
    BENCH_EMAIL=$EMAIL BENCH_PASSWORD=$PASSWORD wrk -t1 -c"$STORM_CONNS" -d"${STORM_SECS}s" \
        --latency -s "$BENCH/login.lua" "$T/api/v1/token/pair" >"$TMP/storm.$c.txt" &
    STORM_PID=$!
    sleep 1
    for _ in $(seq "$REPS"); do
        wrk_once storm "$T/tokens/v2" "$c" "$SK"
    done
    wait "$STORM_PID"
    STORM[$c]=$(awk '/^STORM/ {print $2, $5}' "$TMP/storm.$c.txt")
    collect storm "$c"
done

printf '\n%-42s %6s %10s %8s %8s %9s %15s %7s %7s %7s %7s %7s\n' scenario conns "req/s" "p50 ms" \
    "p99 ms" "vs nginx" "per repetition" errors "CPU us" "user us" "wrk us" "B/reply"
# Per repetition: each run's req/s over the nginx run of the same repetition
# (its first run), median and range. Slow drifts of a shared machine
# move both alike, so this ratio moves less than the one of medians.
paired() { # key conns
    [ "$1" = storm ] && { echo "-"; return; } # measured after the repetitions, not within
    python3 -c '
import sys, statistics
rps = lambda f: [float(l.split()[0]) for l in open(f) if l.strip()]
r = [a / b for a, b in zip(rps(sys.argv[1]), rps(sys.argv[2]))]
print("%.2fx (%.2f-%.2f)" % (statistics.median(r), min(r), max(r)))' "$TMP/res.$1.$2" "$TMP/res.nginx.$2"
}
row() { # label key conns ratio_base
    local k=$2/$3
    local ratio
    ratio=$(python3 -c "print('%.2fx' % (${RPS[$k]} / ${RPS[$4/$3]}))")
    # The storm's own wrk may be reaped within a storm row's run: no wrk figure there.
    local wrk=${WRK[$k]}
    [ "$2" = storm ] && wrk=-
    printf '%-42s %6s %10s %8.3f %8.3f %9s %15s %7s %7s %7s %7s %7s\n' "$1" "$3" "${RPS[$k]}" \
        "$(python3 -c "print(${P50[$k]}/1000)")" "$(python3 -c "print(${P99[$k]}/1000)")" "$ratio" \
        "$(paired "$2" "$3")" "${ERR[$k]}" "${CPU[$k]}" "${USER[$k]}" "$wrk" "${BYTES[$k]}"
}
for c in $CONNS; do
    row "nginx fixed JSON" nginx "$c" nginx
    want nginx_log && row "  the same, nginx access log on" nginx_log "$c" nginx
    want nginx_same && row "  the same, log and Tessera's header lines" nginx_same "$c" nginx
    want healthz && row "GET /healthz (Tessera's layer, no check)" healthz "$c" nginx
    want sk && row "GET /tokens/v2 (sk)" sk "$c" nginx
    want sk_bound && row "  the same, sk bound to one collection" sk_bound "$c" nginx
    want tk && row "GET /tokens/v2 (tk)" tk "$c" nginx
    want session && row "GET /api/v1/account/me (session)" session "$c" nginx
    want stac && row "GET /api/v1/stac/search (sk, limit=10)" stac "$c" nginx
    want nginx_page && row "  nginx serving that page as a static file" nginx_page "$c" nginx
    want stac_new && row "  the same, every URL new (cache misses)" stac_new "$c" nginx
    want stac_new_coll && row "  the same, collections=l4a-ch4-mfa-v3a" stac_new_coll "$c" nginx
    want stac_new_bound && row "  the same, sk bound to that collection" stac_new_bound "$c" nginx
    want nginx_log && for k in sk tk session; do
        want $k && python3 -c "print('  $k / nginx with its access log (the same work): %.2fx' % (${RPS[$k/$c]} / ${RPS[nginx_log/$c]}))"
    done
    want nginx_same && want sk &&
        python3 -c "print('  sk / nginx with its log and the same header lines (the same work and bytes): %.2fx' % (${RPS[sk/$c]} / ${RPS[nginx_same/$c]}))"
    want sk && want sk_bound &&
        python3 -c "print('  bound / unbound check: %.2f' % (${RPS[sk_bound/$c]} / ${RPS[sk/$c]}))"
    want stac_new_coll && want stac_new_bound &&
        python3 -c "print('  bound / unbound search of the same collection: %.2f' % (${RPS[stac_new_bound/$c]} / ${RPS[stac_new_coll/$c]}))"
    want storm || continue
    row "GET /tokens/v2 (sk), login storm" storm "$c" nginx
    read -r srps serr <<<"${STORM[$c]}"
    python3 -c "print('  login storm: %.1f sign-ins/s (%s non-2xx); checks at %.0f%% of idle' % ($srps, '$serr', 100.0 * ${RPS[storm/$c]} / ${RPS[sk/$c]}))"
done
echo "resident memory after the runs: nginx worker $(rss_kb "$NGINX_WORKER") kB, tessera $(rss_kb "$TESSERA_PID") kB" \
    "(peak $(awk '/^VmHWM/ {print $2}' "/proc/$TESSERA_PID/status") kB)"
grep -c ' error ' "$TMP/tessera.log" >/dev/null && echo "bench: tessera logged errors:" >&2 && grep ' error ' "$TMP/tessera.log" | head -5 >&2 || true
