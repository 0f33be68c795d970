#!/usr/bin/env bash
# Installs the Debian packages Tessera needs, skipping those already present.
# Works as root or through sudo. Usage: scripts/deps.sh [run|test|bench]
#   run   — build and serve (README command 1)
#   test  — everything the test suite uses (README command 2), incl. fuzzing,
#           PostgreSQL for the several-nodes tests, GDAL for the GIS tests
#           (it reads COGs from the asset endpoint as GDAL clients do),
#           promtool (Debian: prometheus) for the metrics lint,
#           nginx for the forward-auth test, and a browser for the page tests
#   bench — what bench/ needs (nginx, wrk and valgrind beside the build)
set -euo pipefail

BUILD=(build-essential cmake pkg-config node-llhttp libcjson-dev libsodium-dev
       libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev)
case "${1:-test}" in
    run) PACKAGES=("${BUILD[@]}") ;;
    test) PACKAGES=("${BUILD[@]}" libcmocka-dev clang libclang-rt-14-dev python3
                    python3-requests curl openssl nginx-light chromium postgresql gdal-bin prometheus
                    python3-aiosmtpd) ;;
    bench) PACKAGES=("${BUILD[@]}" python3 python3-requests curl nginx-light wrk postgresql valgrind) ;;
    *) echo "usage: $0 [run|test|bench]" >&2; exit 2 ;;
esac
# Every build runs npm (Swagger UI for the docs page, web/vendor/), and the
# page tests and the OpenAPI lint run on Node. The machine image may already
# have a newer Node than Debian's (with its own npm), which is then left alone.
if ! command -v node >/dev/null; then
    PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null; then
    PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
