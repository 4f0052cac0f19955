#!/usr/bin/env bash
# The long form of the fuzz targets: libFuzzer through cargo-fuzz.
#
#   fuzz/run.sh TARGET|all SECONDS
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz wants nightly features; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them (set here). No AddressSanitizer (`-s none`): the code
# is safe Rust; debug assertions and overflow checks are on (`-a`).
#
# Each target starts from the committed seeds (fuzz/corpus/TARGET, read only) and grows its
# working corpus in fuzz/work/TARGET (not committed). A crash, timeout (10 s per input) or
# out-of-memory (2 GiB RSS) leaves its input in fuzz/artifacts/TARGET/ and fails the run.
# Prints, per target: seconds, total execs, execs/s and the working corpus size.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
targets=(cbor_decode air_load value_normalize patch_compile envelope_decode receipt_admission bundle_verify)

if [[ $# -ne 2 ]]; then
    echo "usage: $0 TARGET|all SECONDS   (targets: ${targets[*]})" >&2
    exit 2
fi
if [[ "$1" == all ]]; then
    selected=("${targets[@]}")
else
    selected=("$1")
fi
seconds="$2"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/harness/target}"

status=0
summary=()
for target in "${selected[@]}"; do
    work="$here/work/$target"
    artifacts="$here/artifacts/$target"
    log="$here/work/$target.log"
    mkdir -p "$work" "$artifacts"
    set +e
    cargo fuzz run --fuzz-dir "$here/harness" -s none -a "$target" "$work" "$here/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    code=$?
    set -e
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    corpus="$(find "$work" -type f | wc -l)"
    line="$target: ${seconds}s, exit $code, execs ${execs:-?}, execs/s ${rate:-?}, corpus $corpus files (log $log)"
    echo "$line"
    summary+=("$line")
    if [[ $code -ne 0 ]]; then
        status=1
        tail -40 "$log" >&2
    fi
done
echo "--- summary"
printf '%s\n' "${summary[@]}"
exit $status
