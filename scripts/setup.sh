#!/usr/bin/env bash
# Installs what building and testing Vigil needs on a fresh Debian/Ubuntu machine.
# Idempotent: packages already present are not reinstalled, so it is cheap to run every time.
#
#   scripts/setup.sh          build dependencies only
#   scripts/setup.sh --bench  also the tools the benchmark compares against (auditd, bpftrace)
set -euo pipefail

packages=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make gcc bpftool git openssh-client tar
          iproute2 python3 procps socat netcat-openbsd curl wget libcap2-bin util-linux)
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(auditd bpftrace python3-matplotlib)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
        "${sudo_cmd[@]}" apt-get update -q >/dev/null
        "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# auditd's package starts the daemon; the benchmark starts and stops it itself.
if [[ "${1:-}" == "--bench" ]] && pgrep -x auditd >/dev/null; then
    auditctl -D >/dev/null 2>&1 || true
    pkill -x auditd || true
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo is not on PATH; install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
fi
if ! command -v rustfmt >/dev/null; then
    rustup component add rustfmt
fi
echo "setup: ok" >&2
