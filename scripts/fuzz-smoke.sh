#!/usr/bin/env bash
# Fuzz smoke run (called by scripts/test.sh, so by .ci/run): builds the `fuzz`
# preset (clang, libFuzzer, ASan+UBSan) and runs every fuzz/fuzz_*.c target
# for FUZZ_SECONDS (default 30) from its committed seeds in fuzz/corpus/<target>.
# Fails on any crash, leak, timeout, or sanitizer report. New inputs go to a
# scratch corpus under build/fuzz/, never into the committed seeds; crashing
# inputs are kept in build/fuzz/artifacts/ with the log.
# Usage: scripts/fuzz-smoke.sh [TARGET...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-30}"
if ! command -v clang >/dev/null; then
    echo "fuzz-smoke: clang not found (scripts/deps.sh installs it)" >&2
    exit 1
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

out=build/fuzz/smoke
mkdir -p "$out" build/fuzz/artifacts
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tessera-fuzz-smoke.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for src in fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
status=0
for t in "${targets[@]}"; do
    bin=build/fuzz/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz-smoke: $bin was not built" >&2
        status=1
        continue
    fi
    seeds=fuzz/corpus/$t
    [ -d "$seeds" ] || seeds=fuzz/corpus/${t#fuzz_}
    mkdir -p "$scratch/$t"
    [ -d "$seeds" ] || seeds=
    log=$out/$t.log
    echo "=== fuzz $t (${SECONDS_EACH}s) ===" >&2
    # TMPDIR: the in-process server targets create their data directory there.
    if TMPDIR="$scratch" "$bin" "$scratch/$t" ${seeds:+"$seeds"} \
            -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=4096 \
            -max_len=8192 -print_final_stats=1 \
            -artifact_prefix="build/fuzz/artifacts/$t-" >"$log" 2>&1 &&
        ! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: " "$log"; then
        grep -E "^stat::number_of_executed_units|^#[0-9]+ *DONE" "$log" | tr '\n' ' ' >&2
        echo >&2
    else
        echo "fuzz-smoke: $t FAILED; log: $log" >&2
        grep -E -A40 "ERROR:|runtime error:|fuzz: " "$log" | head -80 >&2 || tail -40 "$log" >&2
        status=1
    fi
done
exit $status
