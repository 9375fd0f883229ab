#!/usr/bin/env bash
# tests/fuzz/run.sh: run every libFuzzer target of build-fuzz/ for a fixed time on a copy of
# its seed corpus (corpus/<target>/, plus the small files of Debian's pydicom test and
# character-set folders for fuzz_dicom) and fail on the first crash, leak, sanitizer report or timeout.
#
# usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET]   (defaults: build-fuzz 20)
# Build first: CC=clang CXX=clang++ cmake -S . -B build-fuzz -DHUREN_FUZZ=ON
#              cmake --build build-fuzz -j2 --target fuzz_all
# A crashing input is kept in build-fuzz/fuzz-findings/<target>/ and replays with
#   build-fuzz/<target> build-fuzz/fuzz-findings/<target>/crash-*
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
secs=${2:-20}
corpus_src=tests/fuzz/corpus
pydicom=/usr/lib/python3/dist-packages/pydicom/data
targets=(fuzz_multipart fuzz_hl7 fuzz_dicom fuzz_dicomweb fuzz_api fuzz_hl7_ingest fuzz_jws
         fuzz_config fuzz_catalogue fuzz_audit)

work=$(mktemp -d "${TMPDIR:-/tmp}/huren-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
pki=$work/pki
bash conf/make-test-pki.sh "$pki" >/dev/null 2>&1 || pki="" # claims signing for fuzz_api
export HUREN_FUZZ_PKI=$pki
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failed=()
for t in "${targets[@]}"; do
    bin=$build/$t
    if [[ ! -x $bin ]]; then
        echo "fuzz: $bin missing (build the fuzz_all target)" >&2
        failed+=("$t")
        continue
    fi
    mkdir -p "$work/$t" "$build/fuzz-findings/$t"
    cp -r "$corpus_src/$t/." "$work/$t/" 2>/dev/null || true
    if [[ $t == fuzz_dicom && -d $pydicom ]]; then # their small files: seeds we did not make
        find "$pydicom/test_files" "$pydicom/charset_files" -maxdepth 1 -type f -size -64k \
            -exec cp {} "$work/$t/" \;
    fi
    start=$SECONDS
    # -rss_limit_mb bounds memory, -timeout one input; findings land in fuzz-findings/
    # -seed fixed: a run is the same sequence of inputs on every machine, so a slower CI
    # machine runs a prefix of what passed here; new findings come from longer local runs
    if "$bin" -seed="${HUREN_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-findings/$t/" \
        "$work/$t" >"$work/$t.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$')
        cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1 | grep -o '[0-9]*')
        echo "fuzz: $t ok: ${runs:-?} inputs, coverage ${cov:-?}, $((SECONDS - start)) s"
    else
        echo "fuzz: $t FAILED; its log:" >&2
        tail -n 60 "$work/$t.log" >&2
        failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs} s each without a finding"
