#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time, one after another.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default: 60 s, all)
#
# Uses cargo-fuzz (libFuzzer + AddressSanitizer). cargo-fuzz passes nightly-only
# rustc flags; on a stable toolchain RUSTC_BOOTSTRAP=1 lets them through.
# Each target starts from its regression corpus in tests/corpus/<target>/
# and keeps what it learns in fuzz/corpus/<target>/ (not committed). A crash
# lands in fuzz/artifacts/<target>/: copy it into tests/corpus/<target>/,
# fix the bug, and `cargo test --test corpus` replays it from then on.
# Run it niced on a shared machine: `nice -n 10 scripts/fuzz.sh 600`.
# Also fuzzes the reference host's scenario parser (C, clang libFuzzer+ASan).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
all=(app_args api_command config dtmf_matcher room_dtmf l16_frames opus_frames g711_frames
    silk_vad wav_sound api_module scenario)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

summary=()
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/artifacts/$t/last-run.log"
    printf '\n==> fuzz %s for %ss\n' "$t" "$secs"
    if [[ $t == scenario ]]; then
        bin=fuzz/target/scenario_fuzz
        mkdir -p fuzz/target
        clang -g -O1 -fsanitize=fuzzer,address,undefined -Iffi/refhost \
            -o "$bin" fuzz/c/scenario_fuzz.c ffi/refhost/scenario.c -lm
        cmd=("$bin" "fuzz/corpus/$t" "tests/corpus/$t")
    else
        cmd=(cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "tests/corpus/$t" --)
    fi
    status=0
    "${cmd[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+ *(INITED|DONE)|SUMMARY|panicked|ERROR|Test unit written' "$log" | tail -5 || true
    ((status == 0)) || failed+=("$t (exit $status, see $log)")
    execs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    summary+=("$t: ${secs}s, $execs execs")
done
printf '\n==> fuzz summary\n'
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    printf '\n==> FINDINGS\n'
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
