#!/usr/bin/env bash
# README command 2: install what is missing, build the debug and the
# AddressSanitizer+UBSan configurations and run the whole ctest suite in both,
# the concurrent tests under ThreadSanitizer, and the fuzz smoke run. Ends with
# one summary block (what CI shows last).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
status=0
summary=()
run_ctest() { # preset label
    local log="build/$1/ctest-summary.log"
    if ctest --preset "$1" -j2 2>&1 | tee "$log"; then :; else status=1; fi
    local line
    line=$(grep -E "tests passed|No tests were found" "$log" | tail -1 || true)
    summary+=("$2: ${line:-ctest did not finish}")
    while read -r failed; do summary+=("    failed: $failed"); done \
        < <(sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' || true)
}
for preset in debug asan; do
    echo "=== $preset ===" >&2
    cmake --preset "$preset" -DTESSERA_WERROR="$WERROR" >/dev/null
    cmake --build --preset "$preset" -j"$(nproc)"
    run_ctest "$preset" "$preset (ctest)"
done
# ThreadSanitizer build: the tests labelled `concurrent` (see CMakeLists.txt).
echo "=== tsan (concurrent tests) ===" >&2
cmake --preset tsan -DTESSERA_WERROR="$WERROR" >/dev/null
cmake --build --preset tsan -j"$(nproc)"
run_ctest tsan "tsan (ctest, concurrent)"
if scripts/fuzz-smoke.sh; then
    summary+=("fuzz smoke: every target ran clean")
else
    status=1
    summary+=("fuzz smoke: FAILED (see build/fuzz/smoke/*.log)")
fi
echo
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
exit $status
