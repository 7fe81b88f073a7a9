#!/usr/bin/env bash
# Coverage-guided fuzzing on stable Rust: AFL++ through cargo-afl, each target of
# crates/vigil-fuzz for MINUTES (default 10), one after another (2 cores: one fuzzer at a
# time leaves a core to the machine). Writes fuzz/results/<date>.md: executions, paths,
# bitmap coverage, crashes and hangs per target. A crash or hang is copied to
# fuzz/regressions/<target>/, which the test suite replays on every run.
#
#   fuzz/run.sh [MINUTES] [TARGET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
minutes=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rules_file condition record recording pipeline config)

command -v cargo-afl >/dev/null || cargo install --locked cargo-afl
cargo afl config --build >/dev/null 2>&1 || true   # AFL++ runtime, once per toolchain
cd "$here"
cargo afl build --release
bin="$here/target/release/vigil-afl"

# Seed corpora: the committed seeds (rules_file: one list, macro or rule of the built-in
# files each, so an execution stays short).
corpus() {
    local t=$1 dir="$here/target/corpus/$1"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$here/seeds/$t"/* "$dir"/
    # AFL wants small seeds
    find "$dir" -size +256k -delete
    echo "$dir"
}

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
results="$here/results/$(date -u +%Y-%m-%dT%H%M).md"
mkdir -p "$here/results"
{
    echo "| target | minutes | executions | execs/s | corpus (paths) | bitmap coverage | crashes | hangs |"
    echo "|---|---|---|---|---|---|---|---|"
} > "$results.tmp"
for t in "${targets[@]}"; do
    out="$here/target/afl/$t"
    rm -rf "$out" && mkdir -p "$here/target/afl"
    in=$(corpus "$t")
    echo "fuzzing $t for $minutes min"
    cargo afl fuzz -i "$in" -o "$out" -V $((minutes * 60)) -t 2000 -- "$bin" "$t" > "$out.log" 2>&1 || true
    stats="$out/default/fuzzer_stats"
    [ -f "$stats" ] || { echo "no fuzzer_stats for $t (see $out.log)"; exit 1; }
    get() { awk -F' : ' -v k="$1" '$1 ~ "^"k" *$" {print $2}' "$stats"; }
    crashes=$(get saved_crashes); hangs=$(get saved_hangs)
    echo "| $t | $minutes | $(get execs_done) | $(get execs_per_sec) | $(get corpus_count) | $(get bitmap_cvg) | $crashes | $hangs |" >> "$results.tmp"
    for kind in crashes hangs; do
        for f in "$out/default/$kind"/id:*; do
            [ -e "$f" ] || continue
            mkdir -p "$here/regressions/$t"
            cp "$f" "$here/regressions/$t/$(basename "$f" | tr ':,' '__')"
        done
    done
done
mv "$results.tmp" "$results"
cat "$results"
