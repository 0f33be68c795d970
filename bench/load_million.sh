#!/usr/bin/env bash
# One million stored tokens: loads them through the store API
# (tessera_load_million), starts `tessera serve` on that data directory and
# reports start-up time (until the port file appears, i.e. the token index is
# loaded and the port bound) and resident memory (VmRSS from /proc).
#
#   bench/load_million.sh            # 1,000,000 tokens in a tmpfs data dir
#   COUNT=200000 bench/load_million.sh
#   DATA_DIR=/path KEEP=1 bench/load_million.sh   # reuse / keep a loaded dir
# The data directory defaults to /dev/shm: the loader commits each token in
# its own durable transaction (the store API has no bulk insert), which on a
# disk means one fsync per token.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=${COUNT:-1000000}
"$ROOT/scripts/deps.sh" bench
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null &&
        cmake --build --preset release -j2 --target tessera tessera_load_million >/dev/null)
fi
BIN=$ROOT/build/release/tessera
LOADER=$ROOT/build/release/tessera_load_million

OWN_DIR=""
if [ -z "${DATA_DIR:-}" ]; then
    DATA_DIR=$(mktemp -d /dev/shm/tessera-million.XXXXXX)
    OWN_DIR=1
fi
RUN=$(mktemp -d /tmp/tessera-million-run.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$RUN"
    [ -n "$OWN_DIR" ] && [ -z "${KEEP:-}" ] && rm -rf "$DATA_DIR"
    return 0
}
trap cleanup EXIT

if [ ! -s "$DATA_DIR/sample.token" ]; then
    echo "load_million: loading $COUNT tokens into $DATA_DIR ..." >&2
    "$LOADER" "$DATA_DIR" "$COUNT" >"$DATA_DIR/sample.token"
fi
SAMPLE=$(cat "$DATA_DIR/sample.token")
DB_MB=$(du -m "$DATA_DIR/tessera.db" | cut -f1)

start=$(date +%s.%N)
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA_DIR" --port-file "$RUN/port" 2>"$RUN/log" &
PID=$!
while [ ! -s "$RUN/port" ]; do
    kill -0 "$PID" 2>/dev/null || { cat "$RUN/log" >&2; exit 1; }
    sleep 0.01
done
end=$(date +%s.%N)
T="http://127.0.0.1:$(cat "$RUN/port")"
code=$(curl -fsS "$T/tokens/v2" -H "Authorization: Bearer $SAMPLE" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
python3 - "$start" "$end" "$rss_kb" "$hwm_kb" "$code" "$COUNT" "$DB_MB" <<'PY'
import sys
start, end, rss, hwm, code, count, db = sys.argv[1:]
print("tokens stored        %d (database %s MB)" % (int(count), db))
print("start-up             %.2f s   (target <= 3 s)" % (float(end) - float(start)))
print("resident memory      %.0f MB  (VmRSS; peak VmHWM %.0f MB; target <= 300 MB)"
      % (int(rss) / 1024, int(hwm) / 1024))
print("sample sk check      %s" % code)
PY
