#!/usr/bin/env bash
# Sets up this machine, builds Vigil and runs the whole test suite: `cargo fmt --check`,
# `clippy -D warnings`, unit tests and the root tests that load real eBPF programs. Those
# fail (never skip) when eBPF is unavailable.
set -euo pipefail
# files the tests write must not be group-writable: `vigil run` refuses such rule files
umask 022
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ $(id -u) -ne 0 ]]; then
    echo "test: the suite loads eBPF programs and must run as root (sudo $0)" >&2
    exit 1
fi
# Lint first: cheap, and a red lint is as red as a failed test.
cargo fmt --all -- --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo build --quiet --workspace --all-targets
cargo test --workspace --no-fail-fast "$@"
