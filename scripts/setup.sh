#!/usr/bin/env bash
# Installs what building and testing Vigil needs on a fresh Debian/Ubuntu machine.
# Idempotent: packages already present are not reinstalled, so it is cheap to run every time.
#
#   scripts/setup.sh          build dependencies only
#   scripts/setup.sh --bench  also the tools the benchmark compares against (auditd, bpftrace)
#                             and what draws its chart (python3-matplotlib)
set -euo pipefail

packages=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make gcc libc6-dev bpftool git openssh-client tar
          iproute2 python3 procps socat netcat-openbsd curl wget libcap2-bin util-linux
          podman runc busybox-static docker.io containerd rsyslog prometheus systemd)
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

# auditd's package starts the daemon (and turns auditing on) when it is installed; the
# benchmark starts its own, for its auditd configuration only, and restores the audit state
# afterwards. So a daemon this script has just installed is stopped (through the audit
# subsystem: the daemon registered with the kernel, not any process of that name), kept
# from starting at boot, and auditing is turned off again. An auditd that was installed
# before is left alone (`vigil-bench run` then refuses its auditd configuration and says why).
if [[ "${1:-}" == "--bench" && " ${missing[*]:-} " == *" auditd "* ]] && command -v auditctl >/dev/null; then
    if [[ -d /run/systemd/system ]]; then
        systemctl disable auditd >/dev/null 2>&1 || true
    fi
    auditctl --signal TERM >/dev/null 2>&1 || true
    for _ in $(seq 50); do
        [[ "$(auditctl -s 2>/dev/null | awk '$1 == "pid" {print $2}')" == "0" ]] && break
        sleep 0.1
    done
    auditctl -D >/dev/null 2>&1 || true
    auditctl -e 0 >/dev/null 2>&1 || true
fi

# The OTLP test decodes what Vigil sends with OpenTelemetry's own protobuf definitions.
if ! python3 -c 'import opentelemetry.proto.collector.logs.v1.logs_service_pb2' 2>/dev/null; then
    echo "setup: installing opentelemetry-proto (PyPI)" >&2
    python3 -m pip install -q opentelemetry-proto protobuf >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo is not on PATH; install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
fi
# rustfmt formats the generated skeletons and checks ours; clippy lints (scripts/test.sh).
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
echo "setup: ok" >&2
