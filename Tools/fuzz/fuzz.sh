#!/usr/bin/env bash
# Fuzz targets for StateJournal's readers of hostile bytes (issue 7).
#
#   Tools/fuzz/fuzz.sh build                 instrumented library + one binary per target
#   Tools/fuzz/fuzz.sh seed                  (re)make the seed corpora
#   Tools/fuzz/fuzz.sh run SECONDS [TARGET…] run each target for SECONDS, one after another
#   Tools/fuzz/fuzz.sh all SECONDS [TARGET…] build, seed, run
#
# The library and its test machinery (StateJournalTesting, which holds the
# fuzz entry points) are built with `swift build -c release -Xswiftc -sanitize=fuzzer
# -Xswiftc -sanitize=address` (coverage instrumentation and ASan, no libFuzzer
# main) into .build-fuzz; each Tools/fuzz/<target>.swift, with Common.swift,
# is then linked against those objects with `swiftc -sanitize=fuzzer,address`,
# which adds libFuzzer's main. Corpora live in .build-fuzz/corpus/<target>
# (seeded from Fixtures/, generated journal/snapshot/plan/update bytes and
# Fixtures/fuzz-regressions/<target>); crashes go to .build-fuzz/artifacts/<target>.
# A run exits non-zero if any target crashed, leaked, timed out or broke an
# invariant. See Docs/FUZZING.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SWIFT="${SWIFT:-swift}"
SCRATCH="${FUZZ_SCRATCH:-$ROOT/.build-fuzz}"
OUT="$SCRATCH/fuzz"
TARGETS_ALL=(statefile records segment snapshot plan update)

build() {
    # One -sanitize= flag: swiftc keeps only the last one given.
    "$SWIFT" build -c release --scratch-path "$SCRATCH" --target StateJournalTesting \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -g
    local bin="$SCRATCH/release"
    mkdir -p "$OUT"
    for t in "${TARGETS_ALL[@]}"; do
        swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz_$t" \
            -I "$bin/Modules" -I Sources/CZstd -I Sources/CCRC32C/include -I Sources/CFileCalls/include \
            Tools/fuzz/Common.swift "Tools/fuzz/$t.swift" \
            "$bin"/StateJournalModel.build/*.o "$bin"/StateJournalEngine.build/*.o "$bin"/StateJournal.build/*.o \
            "$bin"/StateJournalTesting.build/*.o "$bin"/Logging.build/*.o "$bin"/CCRC32C.build/*.o "$bin"/CFileCalls.build/*.o \
            -lzstd -use-ld=lld -o "$OUT/$t"
    done
    echo "fuzz: built ${TARGETS_ALL[*]} in $OUT"
}

seed() {
    local fixtures=(Fixtures/seed-format/*/STATE.md)
    for t in "${TARGETS_ALL[@]}"; do
        local dir="$SCRATCH/corpus/$t"
        mkdir -p "$dir"
        SWIFT_BACKTRACE=enable=no STATEJOURNAL_FUZZ_SEEDS="$dir" "$OUT/$t" "${fixtures[@]}"
        case "$t" in
            statefile) for f in "${fixtures[@]}"; do cp "$f" "$dir/fixture-$(basename "$(dirname "$f")").md"; done ;;
            plan|update) for f in Fixtures/seed-format/*/expected.json; do cp "$f" "$dir/fixture-$(basename "$(dirname "$f")").json"; done ;;
        esac
        if [ -d "Fixtures/fuzz-regressions/$t" ]; then cp Fixtures/fuzz-regressions/"$t"/* "$dir/" 2>/dev/null || true; fi
    done
    echo "fuzz: seeded $SCRATCH/corpus"
}

dict() {
    case "$1" in
        statefile) echo "-dict=Tools/fuzz/markdown.dict" ;;
        records|segment|snapshot|plan|update) echo "-dict=Tools/fuzz/json.dict" ;;
    esac
}

run() {
    local seconds="$1"; shift
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS_ALL[@]}")
    local failed=0
    mkdir -p "$SCRATCH/logs"
    printf '%-10s %8s %12s %10s %8s %8s %8s %s\n' target seconds executions exec/s cov ft corpus result
    for t in "${targets[@]}"; do
        local corpus="$SCRATCH/corpus/$t" artifacts="$SCRATCH/artifacts/$t/" log="$SCRATCH/logs/$t.log"
        mkdir -p "$corpus" "$artifacts"
        local status=0
        # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: an
        # input that needs 2 GiB is an out-of-memory bug.
        # SWIFT_BACKTRACE: Swift's own crash handler would symbolicate (slowly,
        # and tripping ASan) before libFuzzer saves the input.
        SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        "$OUT/$t" "$corpus" $(dict "$t") -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len="${FUZZ_MAX_LEN:-16384}" -print_final_stats=1 -artifact_prefix="$artifacts" \
            >"$log" 2>&1 || status=$?
        local done_line execs rate cov ft corp result
        done_line="$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)"
        execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
        rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
        cov="$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')"
        ft="$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')"
        corp="$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')"
        if [ "$status" -eq 0 ]; then result=ok; else result="CRASH (exit $status; see $log and $artifacts)"; failed=1; fi
        printf '%-10s %8s %12s %10s %8s %8s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" \
            | tee -a "$SCRATCH/results.txt"
    done
    return $failed
}

case "${1:-}" in
    build) build ;;
    seed) seed ;;
    run) shift; run "${1:-${FUZZ_SECONDS:-600}}" "${@:2}" ;;
    all) shift; build; seed; run "${1:-${FUZZ_SECONDS:-600}}" "${@:2}" ;;
    *) echo "usage: $0 build | seed | run SECONDS [TARGET…] | all SECONDS [TARGET…]" >&2; exit 64 ;;
esac
