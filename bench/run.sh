#!/usr/bin/env bash
# Builds Vigil and the benchmark in release mode and runs it (as root). Arguments go to
# `vigil-bench run` (e.g. --runs 7, --workloads open). Prints a markdown table and
# writes bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
cargo build --release --quiet -p vigil -p vigil-bench
exec target/release/vigil-bench run "$@"
