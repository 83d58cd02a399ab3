"""Render pytest-benchmark JSON as a Markdown table of reference/raw-pyzmq ratios and a PNG.

python benchmarks/render.py reports/bench.json reports/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Tuple


def table(document: Dict[str, Any]) -> Tuple[str, Dict[Tuple[str, int, int], Dict[str, float]]]:
    rates: Dict[Tuple[str, int, int], Dict[str, float]] = {}
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if "per_subscriber_msgs_per_s" not in info:
            continue
        key = (info["protocol"], info["size"], info["subscribers"])
        rates.setdefault(key, {})[info["contender"]] = info["per_subscriber_msgs_per_s"]
    lines = [
        "| protocol | size (B) | subscribers | reference msg/s | raw pyzmq msg/s | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (protocol, size, subs), row in sorted(rates.items()):
        ref, raw = row.get("reference", 0.0), row.get("raw-pyzmq", 0.0)
        ratio = f"{ref / raw:.2f}" if raw else "—"
        lines.append(f"| {protocol} | {size} | {subs} | {ref:,.0f} | {raw:,.0f} | {ratio} |")
    return "\n".join(lines) + "\n", rates


def main(source: str, out_dir: str) -> None:
    document = json.loads(Path(source).read_text())
    markdown, rates = table(document)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(markdown)
    sys.stdout.write(markdown)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    labels = [f"{p} {s}B x{n}" for p, s, n in sorted(rates)]
    xs = range(len(labels))
    fig, ax = plt.subplots(figsize=(10, 4))
    for offset, contender in ((-0.2, "reference"), (0.2, "raw-pyzmq")):
        ax.bar(
            [x + offset for x in xs],
            [rates[k].get(contender, 0) for k in sorted(rates)],
            0.4,
            label=contender,
        )
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set_ylabel("messages/s per subscriber")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bench.png", dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
