#!/usr/bin/env bash
# README command 1: install what is missing, build, load the sample catalog and
# serve on 127.0.0.1:8080 with the embedded SQLite store in ./var.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
BIN=build/release/tessera
DATA_DIR="${TESSERA_DATA_DIR:-./var}"
"$BIN" migrate --data-dir "$DATA_DIR"
if [ -d catalog/sample ]; then
    "$BIN" stac import catalog/sample/public --visibility Public --data-dir "$DATA_DIR"
    "$BIN" stac import catalog/sample/partners --visibility Partners --data-dir "$DATA_DIR"
fi
exec "$BIN" serve --listen "${TESSERA_LISTEN:-127.0.0.1:8080}" --data-dir "$DATA_DIR" \
    --asset-dir catalog/sample/assets "$@"
