#!/usr/bin/env bash
# Sets up this machine, builds Vigil and runs the agent with its built-in default rules.
# Extra arguments go to `vigil run` (e.g. --events, --output FILE). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet -p vigil
if [[ $(id -u) -ne 0 ]]; then
    exec sudo target/release/vigil run "$@"
fi
exec target/release/vigil run "$@"
