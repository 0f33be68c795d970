#!/usr/bin/env bash
# README command 2: install what is missing, build the debug and the
# AddressSanitizer+UBSan configurations, and run the whole ctest suite in both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
status=0
for preset in debug asan; do
    echo "=== $preset ===" >&2
    cmake --preset "$preset" -DTESSERA_WERROR="$WERROR" >/dev/null
    cmake --build --preset "$preset" -j"$(nproc)"
    ctest --preset "$preset" -j2 || status=1
done
# ThreadSanitizer build: the tests labelled `concurrent` (see CMakeLists.txt).
echo "=== tsan (concurrent tests) ===" >&2
cmake --preset tsan -DTESSERA_WERROR="$WERROR" >/dev/null
cmake --build --preset tsan -j"$(nproc)"
ctest --preset tsan -j2 || status=1
if [ -x scripts/fuzz-smoke.sh ]; then scripts/fuzz-smoke.sh || status=1; fi
exit $status
