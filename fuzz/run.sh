#!/usr/bin/env bash
# Coverage-guided fuzzing on stable Rust: AFL++ through cargo-afl, each target of
# crates/vigil-fuzz for MINUTES (default 10), one after another. JOBS=N (default 1) runs N
# AFL++ instances per target on one corpus (-M and -S; 2 cores: keep 1 while anything else
# runs); executions are summed over the instances. Writes fuzz/results/<date>.md: executions, paths,
# bitmap coverage, crashes and hangs per target. A crash or hang is copied to
# fuzz/regressions/<target>/, which the test suite replays on every run.
#
#   [JOBS=N] fuzz/run.sh [MINUTES] [TARGET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
minutes=${1:-10}
jobs=${JOBS:-1}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(rules_file condition record recording pipeline config dns dns_bpf)

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
    echo "| target | minutes | instances | executions | execs/s | corpus (paths, main) | bitmap coverage (main) | crashes | hangs |"
    echo "|---|---|---|---|---|---|---|---|---|"
} > "$results.tmp"
for t in "${targets[@]}"; do
    if [ "$t" = dns_bpf ]; then
        # the BPF DNS parser against its mirror (not AFL: BPF code has no coverage map),
        # from the seeds and whatever AFL++ found on the mirror (target dns)
        (cd "$here/.." && cargo build --release --quiet -p vigil-fuzz --bin vigil-fuzz-dns)
        corpora=(--corpus "$here/seeds/dns")
        for q in "$here"/target/afl/dns/*/queue; do [ -d "$q" ] && corpora+=(--corpus "$q"); done
        echo "fuzzing $t for $minutes min"
        "$here/../target/release/vigil-fuzz-dns" --minutes "$minutes" "${corpora[@]}" \
            --regressions "$here/regressions/dns_bpf" >> "$results.tmp"
        continue
    fi
    out="$here/target/afl/$t"
    rm -rf "$out" && mkdir -p "$here/target/afl"
    in=$(corpus "$t")
    echo "fuzzing $t for $minutes min"
    pids=()
    for j in $(seq 1 "$jobs"); do
        if [ "$j" = 1 ]; then role=(-M main); else role=(-S "s$j"); fi
        cargo afl fuzz -i "$in" -o "$out" "${role[@]}" -V $((minutes * 60)) -t 2000 -- "$bin" "$t" > "$out.$j.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    [ -f "$out/main/fuzzer_stats" ] || { echo "no fuzzer_stats for $t (see $out.1.log)"; exit 1; }
    # one instance's figure (k) or the sum over instances (executions, crashes, hangs)
    get() { awk -F' : ' -v k="$1" '$1 ~ "^"k" *$" {print $2}' "$out/main/fuzzer_stats"; }
    sum() { cat "$out"/*/fuzzer_stats | awk -F' : ' -v k="$1" '$1 ~ "^"k" *$" {s += $2} END {print s + 0}'; }
    echo "| $t | $minutes | $jobs | $(sum execs_done) | $(sum execs_per_sec) | $(get corpus_count) | $(get bitmap_cvg) | $(sum saved_crashes) | $(sum saved_hangs) |" >> "$results.tmp"
    for kind in crashes hangs; do
        for f in "$out"/*/"$kind"/id:*; do
            [ -e "$f" ] || continue
            mkdir -p "$here/regressions/$t"
            cp "$f" "$here/regressions/$t/$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f" | tr ':,' '__')"
        done
    done
done
mv "$results.tmp" "$results"
cat "$results"
