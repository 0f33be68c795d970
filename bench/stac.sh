#!/usr/bin/env bash
# STAC search at realistic size (issue 11), and the platform's catalog
# endpoints on it (issue 12): generates a 100,000-item catalog
# shaped like the platform's (scripts/gen_catalog.py, 10 years, many places),
# times its import, starts Tessera (1 HTTP thread) and nginx (fixed reply) and
# drives each search scenario with wrk at 1 connection with the page cache
# off (so every search is computed, as if every URL were new), printing
# p50/p99 latency and requests/s. Never part of the test suite.
#
#   bench/stac.sh                          # 100,000 items, 3 x 5 s per scenario
#   ITEMS=20000 REPS=5 DURATION=5 bench/stac.sh
#   ITEMS=300000 bench/stac.sh            # about 100,000 plumes (L4A items)
#   DATABASE_URL=postgresql://... bench/stac.sh   # the catalog on PostgreSQL
#   SKIP_BUILD=1 bench/stac.sh
#   BIN=/path/to/tessera SCENARIOS="cm_csv_1000" bench/stac.sh   # one binary, some rows
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
ITEMS=${ITEMS:-100000}
REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-1}
NGINX=${NGINX:-/usr/sbin/nginx}

"$ROOT/scripts/deps.sh" bench
for tool in wrk curl python3 "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null &&
        cmake --build --preset release -j2 --target tessera >/dev/null)
fi
BIN=${BIN:-$ROOT/build/release/tessera}

TMP=$(mktemp -d /tmp/tessera-bench-stac.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
DB_ARGS=()
[ -n "${DATABASE_URL:-}" ] && DB_ARGS=(--database-url "$DATABASE_URL")

# ---- catalog -----------------------------------------------------------------
python3 "$ROOT/scripts/gen_catalog.py" "$TMP/catalog" --items "$ITEMS" --no-assets \
    --years 2016-2025 2>"$TMP/gen.log"
t0=$(date +%s.%N)
"$BIN" stac import "$TMP/catalog/public" --visibility Public --data-dir "$TMP/data" "${DB_ARGS[@]}" >"$TMP/import.log"
"$BIN" stac import "$TMP/catalog/partners" --visibility Partners --data-dir "$TMP/data" "${DB_ARGS[@]}" >>"$TMP/import.log"
t1=$(date +%s.%N)
IMPORT_SECS=$(python3 -c "print('%.1f' % ($t1 - $t0))")
IMPORTED=$(awk '{n += $(NF-3)} END {print n}' "$TMP/import.log")
PLUMES=$(python3 -c '
import glob, json, sys
print(sum(len(json.load(open(f))["features"])
          for f in glob.glob(sys.argv[1] + "/*/l4a-*/items-*.json")))' "$TMP/catalog")

# ---- servers -----------------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@PORT_LOG@|$(free_port)|g" \
    "$BENCH/nginx.conf.in" >"$TMP/nginx/nginx.conf"
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/nginx-error.log" &
PIDS+=($!)
# The page cache is off: every search is computed, as with every URL new.
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" --port-file "$TMP/port" --threads 1 \
    --stac-cache-mb 0 \
    --login-rate-account 0 --login-rate-account-hourly 0 --login-rate-addr 0 "${DB_ARGS[@]}" >/dev/null 2>"$TMP/tessera.log" &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || { echo "bench: tessera did not start" >&2; cat "$TMP/tessera.log" >&2; exit 1; }
T="http://127.0.0.1:$(cat "$TMP/port")"
N="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 100); do curl -fs "$N/" >/dev/null && break; sleep 0.05; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -fsS -X POST "$T/api/v1/account/register" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password-42"}' >/dev/null
ACCESS=$(curl -fsS -X POST "$T/api/v1/token/pair" -H 'Content-Type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password-42"}' | json '["access"]')
SK=$(curl -fsS -X POST "$T/api/v1/account/tokens/create-stac" -H "Authorization: Bearer $ACCESS" \
    -H 'Content-Type: application/json' \
    -d "{\"expiration_date\":\"$(date -u -d '+30 days' +%F)\",\"name\":\"bench\"}" | json '["token_value"]')

# ---- scenarios ------------------------------------------------------------------
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
BBOX="bbox=-125,25,-95,45"
WHEN="datetime=2019-01-01T00:00:00Z/2022-12-31T23:59:59Z"
declare -A URLS=(
    [bbox_datetime]="/api/v1/stac/search?$BBOX&$WHEN&limit=10"
    [query]="/api/v1/stac/search?$BBOX&$WHEN&limit=10&query=$(enc '{"cm:emission":{"gt":1000}}')"
    [filter]="/api/v1/stac/search?$BBOX&$WHEN&limit=10&filter-lang=cql2-text&filter=$(enc '"cm:emission" > 1000 AND "cm:plume:quality" = '"'"'good'"'"'')"
    [sortby]="/api/v1/stac/search?collections=l4a-ch4-mfa-v3a&limit=10&sortby=$(enc '-properties.cm:emission')"
    [deep_page]="/api/v1/stac/search?limit=10&offset=5000"
    # The platform's catalog endpoints (issue 12) on the same catalog.
    [cm_annotated]="/api/v1/catalog/plumes/annotated?bbox=-125&bbox=25&bbox=-95&bbox=45&emission_min=1000&limit=100"
    [cm_csv_1000]="/api/v1/catalog/plume-csv?limit=1000&offset=2000"
)
ORDER=${SCENARIOS:-"bbox_datetime query filter sortby deep_page cm_annotated cm_csv_1000"}
for name in $ORDER; do
    code=$(curl -s -o "$TMP/check.json" -w '%{http_code}' "$T${URLS[$name]}" -H "Authorization: Bearer $SK")
    if [ "$code" != 200 ]; then
        echo "bench: scenario $name answers $code: $(head -c 200 "$TMP/check.json")" >&2
        ORDER=${ORDER/$name/}
    fi
done

wrk_once() { # name url token
    BENCH_TOKEN=$3 BENCH_UNIQUE=${4:-} wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH/auth.lua" "$2" |
        awk '/^RESULT/ {print $2, $3, $4, $5}' >>"$TMP/res.$1"
}
echo "bench: $IMPORTED items imported in ${IMPORT_SECS}s; wrk -t1 -c$CONNS, ${REPS}x${DURATION}s, medians, page cache off" >&2
for _ in $(seq "$REPS"); do
    wrk_once nginx "$N/" ""
    for name in $ORDER; do wrk_once "$name" "$T${URLS[$name]}" "$SK"; done
done
median() { python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = list(zip(*rows))
print(" ".join("%.0f" % statistics.median(c) for c in cols[:3]), int(sum(cols[3])))' "$TMP/res.$1"; }
read -r NG_RPS _ _ _ < <(median nginx)
printf '\n%s items, %s of them plumes (import %s s%s)\n' "$IMPORTED" "$PLUMES" "$IMPORT_SECS" \
    "${DATABASE_URL:+, PostgreSQL}"
printf '%-44s %9s %8s %8s %9s %6s\n' scenario "req/s" "p50 ms" "p99 ms" "vs nginx" errors
for name in nginx $ORDER; do
    read -r rps p50 p99 err < <(median "$name")
    printf '%-44s %9s %8.3f %8.3f %8.2fx %6s\n' "$name" "$rps" "$(python3 -c "print($p50/1000)")" \
        "$(python3 -c "print($p99/1000)")" "$(python3 -c "print($rps/$NG_RPS)")" "$err"
done
for name in $ORDER; do printf '  %-14s %s\n' "$name" "${URLS[$name]}"; done
