#!/usr/bin/env bash
# Several nodes on PostgreSQL, measured in one run beside SQLite and nginx
# (issue 10). Builds the release binary, starts a throwaway PostgreSQL cluster
# (tests/pg/pgcluster.py), nginx (the fixed reply of run.sh), one Tessera node
# on SQLite and three on one PostgreSQL database, then measures:
#   1. token checks (GET /tokens/v2 with an sk) per node: SQLite vs a
#      PostgreSQL node vs nginx (checks read no storage on either driver);
#   2. revocation propagation: for N revocations spread over the 3 nodes, the
#      time from the revoke's commit (change_log.at, the database clock) until
#      every node refuses the token, and how long the DELETE took;
#   3. token creations per second through the 3 nodes at once (and through the
#      SQLite node alone, for reference).
# Never part of the test suite.
#
#   bench/pg.sh                       # 3 x 5 s per check scenario, 1,000 revocations
#   REPS=5 DURATION=5 REVOCATIONS=2000 bench/pg.sh
#   SKIP_BUILD=1 bench/pg.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
REPS=${REPS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
REVOCATIONS=${REVOCATIONS:-1000}
NGINX=${NGINX:-/usr/sbin/nginx}

"$ROOT/scripts/deps.sh" bench
for tool in wrk curl python3 "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null &&
        cmake --build --preset release -j2 --target tessera >/dev/null)
fi
BIN=$ROOT/build/release/tessera

TMP=$(mktemp -d /tmp/tessera-bench-pg.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    python3 "$ROOT/tests/pg/pgcluster.py" stop "$TMP/pg" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- PostgreSQL, nginx ---------------------------------------------------------
ADMIN_URL=$(python3 "$ROOT/tests/pg/pgcluster.py" start "$TMP/pg")
psql -X -q "$ADMIN_URL" -c 'CREATE DATABASE bench'
DB_URL=${ADMIN_URL%/postgres}/bench
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
sed -e "s|@PREFIX@|$TMP/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@PORT_LOG@|$(free_port)|g" \
    "$BENCH/nginx.conf.in" >"$TMP/nginx/nginx.conf"
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/nginx-error.log" &
PIDS+=($!)

# ---- Tessera: one node on SQLite, three on PostgreSQL -----------------------------
start_node() { # VAR name [--database-url URL]: sets VAR to the node's base URL
    local var=$1 name=$2
    shift 2
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/$name" --port-file "$TMP/$name.port" \
        --threads 1 --login-rate-account 0 --login-rate-account-hourly 0 --login-rate-addr 0 --token-api-rate 0 \
        --node-name "$name" "$@" >/dev/null 2>"$TMP/$name.log" &
    PIDS+=($!)
    for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
    [ -s "$TMP/$name.port" ] || { echo "bench: node $name did not start" >&2; cat "$TMP/$name.log" >&2; exit 1; }
    printf -v "$var" 'http://127.0.0.1:%s' "$(cat "$TMP/$name.port")"
}
"$BIN" migrate --database-url "$DB_URL" --data-dir "$TMP/migrate" >/dev/null
start_node SQ sqlite
start_node PA pgA --database-url "$DB_URL"
start_node PB pgB --database-url "$DB_URL"
start_node PC pgC --database-url "$DB_URL"
N="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 100); do curl -fs "$N/" >/dev/null && break; sleep 0.05; done

# An account and an sk on each store (the PostgreSQL one through node A).
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
seed() { # base-url -> "username access sk"
    local email=bench$RANDOM@example.com password='bench-password-42'
    curl -fsS -X POST "$1/api/v1/account/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" >"$TMP/acc.json"
    local user access sk
    user=$(json '["username"]' <"$TMP/acc.json")
    access=$(curl -fsS -X POST "$1/api/v1/token/pair" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json '["access"]')
    sk=$(curl -fsS -X POST "$1/tokens/v2/$user" -H "Authorization: Bearer $access" \
        -H 'Content-Type: application/json' \
        -d '{"scopes":["tokens:read","tokens:write","stac"],"note":"bench sk"}' | json '["token"]')
    echo "$user $access $sk"
}
read -r SQ_USER SQ_ACCESS SQ_SK < <(seed "$SQ")
read -r PG_USER PG_ACCESS PG_SK < <(seed "$PA")
for url in "$PB" "$PC"; do
    code=$(curl -fsS "$url/tokens/v2" -H "Authorization: Bearer $PG_SK" | json '["code"]')
    [ "$code" = TokenValid ] || { echo "bench: token minted on A is $code on $url" >&2; exit 1; }
done

# ---- 1. checks per node ----------------------------------------------------------
wrk_once() { # name url token
    BENCH_TOKEN=$3 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH/auth.lua" "$2" |
        awk '/^RESULT/ {print $2, $3, $4, $5}' >>"$TMP/res.$1"
}
echo "bench: $(nproc) cores; checks: wrk -t1 -c$CONNS, ${REPS}x${DURATION}s, medians" >&2
for _ in $(seq "$REPS"); do
    wrk_once nginx "$N/tokens/v2" ""
    wrk_once sqlite "$SQ/tokens/v2" "$SQ_SK"
    wrk_once pg "$PB/tokens/v2" "$PG_SK"
done
median() { python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = list(zip(*rows))
print(" ".join("%.0f" % statistics.median(c) for c in cols[:3]), int(sum(cols[3])))' "$TMP/res.$1"; }
read -r NG_RPS NG_P50 NG_P99 NG_ERR < <(median nginx)
read -r SQ_RPS SQ_P50 SQ_P99 SQ_ERR < <(median sqlite)
read -r PG_RPS PG_P50 PG_P99 PG_ERR < <(median pg)

# ---- 2. revocation propagation, 3. creations ---------------------------------------
python3 "$BENCH/pg_revoke.py" --nodes "$PA" "$PB" "$PC" --user "$PG_USER" --access "$PG_ACCESS" \
    --db "$DB_URL" --count "$REVOCATIONS" >"$TMP/revoke.txt"
create_rate() { # label access user url...
    local label=$1 access=$2 user=$3
    shift 3
    local files=()
    for url in "$@"; do
        local f="$TMP/create.$label.$RANDOM"
        BENCH_TOKEN=$access BENCH_BODY='{"scopes":["stac"],"note":"bench"}' \
            wrk -t1 -c16 -d"${DURATION}s" --latency -s "$BENCH/create.lua" "$url/tokens/v2/$user" \
            | awk '/^RESULT/ {print $2, $3, $4, $5}' >"$f" &
        files+=("$f")
    done
    wait
    python3 -c '
import sys
rows = [list(map(float, open(f).read().split())) for f in sys.argv[1:]]
print("%.0f %.1f %d" % (sum(r[0] for r in rows), max(r[2] for r in rows) / 1000, sum(r[3] for r in rows)))' "${files[@]}"
}
read -r CR_SQ CR_SQ_P99 CR_SQ_ERR < <(create_rate sqlite "$SQ_ACCESS" "$SQ_USER" "$SQ")
read -r CR_PG CR_PG_P99 CR_PG_ERR < <(create_rate pg "$PG_ACCESS" "$PG_USER" "$PA" "$PB" "$PC")

# ---- report ------------------------------------------------------------------------
printf '\n%-46s %10s %8s %8s %9s %7s\n' "token checks (GET /tokens/v2, sk)" "req/s" "p50 ms" "p99 ms" "vs nginx" errors
line() { # label rps p50 p99 err
    printf '%-46s %10s %8.3f %8.3f %8.2fx %7s\n' "$1" "$2" "$(python3 -c "print($3/1000)")" \
        "$(python3 -c "print($4/1000)")" "$(python3 -c "print($2/$NG_RPS)")" "$5"
}
line "nginx fixed JSON" "$NG_RPS" "$NG_P50" "$NG_P99" "$NG_ERR"
line "one node, SQLite" "$SQ_RPS" "$SQ_P50" "$SQ_P99" "$SQ_ERR"
line "node B of 3, PostgreSQL" "$PG_RPS" "$PG_P50" "$PG_P99" "$PG_ERR"
python3 -c "print('  PostgreSQL node / SQLite node: %.2f' % ($PG_RPS / $SQ_RPS))"
echo
cat "$TMP/revoke.txt"
echo
printf '%-46s %10s %8s %7s\n' "token creations (POST /tokens/v2/{user})" "per s" "p99 ms" errors
printf '%-46s %10s %8s %7s\n' "one node, SQLite (16 connections)" "$CR_SQ" "$CR_SQ_P99" "$CR_SQ_ERR"
printf '%-46s %10s %8s %7s\n' "3 nodes, PostgreSQL (16 connections each)" "$CR_PG" "$CR_PG_P99" "$CR_PG_ERR"
for name in sqlite pgA pgB pgC; do
    if grep -q ' error ' "$TMP/$name.log"; then
        echo "bench: node $name logged errors:" >&2
        grep ' error ' "$TMP/$name.log" | head -3 >&2
    fi
done
