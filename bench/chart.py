#!/usr/bin/env python3
"""Grouped bar chart of a `vigil-bench run` result: x = workload, one bar per configuration,
y = throughput relative to the no-agent baseline of the same run (higher is better), with a
dashed line at 0.95 (the <= 5 % slowdown target).

    python3 bench/chart.py [bench/results/latest.json [bench/results/latest.png]]

`vigil-bench run` calls it (fed on stdin) at the end. Needs matplotlib (Debian package
python3-matplotlib)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "floor": "#9e9e9e",
    "vigil": "#1f77b4",
    "vigil-stream": "#aec7e8",
    "auditd": "#d62728",
    "bpftrace": "#ff7f0e",
}


def main() -> None:
    src = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else src.rsplit(".", 1)[0] + ".png"
    with open(src) as f:
        doc = json.load(f)
    meta = doc.get("meta", {})
    rows = doc["summary"]
    workloads = meta.get("workloads") or sorted({r["workload"] for r in rows})
    configs = [c for c in (meta.get("configs") or sorted({r["config"] for r in rows})) if c != "baseline"]
    ratio = {(r["config"], r["workload"]): r["ratio"] for r in rows}

    width = 0.8 / max(len(configs), 1)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.9 * len(workloads) + 2), 4.8))
    top = 1.05
    for i, c in enumerate(configs):
        xs = [k + (i - (len(configs) - 1) / 2) * width for k in range(len(workloads))]
        ys = [ratio.get((c, w)) for w in workloads]
        ys = [y if isinstance(y, (int, float)) else 0.0 for y in ys]
        top = max(top, max(ys, default=0) + 0.08)
        bars = ax.bar(xs, ys, width * 0.92, label=c, color=COLORS.get(c))
        for b, y in zip(bars, ys):
            ax.text(b.get_x() + b.get_width() / 2, y + 0.01, f"{y:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.95, color="black", linewidth=1, linestyle="--", label="0.95 (5 % slowdown)")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads)
    ax.set_ylim(0, top)
    ax.set_ylabel("throughput / no-agent baseline")
    runs = meta.get("runs", "?")
    kernel = meta.get("kernel") or ""
    ax.set_title(f"Workload throughput under each agent (median of {runs} runs; kernel {kernel})", fontsize=10)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)


if __name__ == "__main__":
    main()
