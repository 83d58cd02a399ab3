"""Render pytest-benchmark JSON from ``benchmarks/`` as Markdown tables and a PNG plot.

    python benchmarks/render.py reports/bench.json reports/

Writes ``bench.md`` (throughput with ratios to raw pyzmq from the same run, latency,
fan-out, memory under a stalled subscriber, slow subscriber) and ``bench.png``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

Info = Dict[str, Any]


def _by_test(document: Dict[str, Any], test: str) -> List[Info]:
    return [b["extra_info"] for b in document["benchmarks"] if b["name"].startswith(test) and b["extra_info"]]


def throughput_table(rows: List[Info]) -> Tuple[str, Dict[Tuple[str, int, int], Dict[str, Info]]]:
    cells: Dict[Tuple[str, int, int], Dict[str, Info]] = {}
    for info in rows:
        cells.setdefault((info["protocol"], info["size"], info["subscribers"]), {})[info["contender"]] = info
    contenders = ["reference", "reference-batched", "stream", "pipe", "pynng"]
    head = (
        "| protocol | size | subs | raw pyzmq msg/s | "
        + " | ".join(f"{c} (x raw)" for c in contenders)
        + " |"
    )
    lines = [head, "|---|---:|---:|---:|" + "---:|" * len(contenders)]
    for key in sorted(cells):
        row = cells[key]
        raw = row.get("raw-pyzmq", {}).get("per_subscriber_msgs_per_s", 0.0)
        out = []
        for contender in contenders:
            info = row.get(contender)
            if info is None:
                out.append("—")
                continue
            rate = info["per_subscriber_msgs_per_s"]
            ratio = f" ({rate / raw:.2f}x)" if raw else ""
            lost = "" if info["delivered"] == 1.0 else f", {info['delivered']:.0%} delivered"
            out.append(f"{rate:,.0f}{ratio}{lost}")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {raw:,.0f} | " + " | ".join(out) + " |")
    return "\n".join(lines), cells


def latency_table(rows: List[Info]) -> str:
    lines = [
        "| protocol | contender | p50 µs | p90 µs | p99 µs | p99.9 µs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for info in sorted(rows, key=lambda i: (i["protocol"], i["contender"])):
        lines.append(
            f"| {info['protocol']} | {info['contender']} | {info['p50_us']:.0f} | {info['p90_us']:.0f} "
            f"| {info['p99_us']:.0f} | {info['p99.9_us']:.0f} |"
        )
    return "\n".join(lines)


def fan_out_table(rows: List[Info]) -> str:
    lines = [
        "| subscribers | contender | per subscriber msg/s | total deliveries/s |",
        "|---:|---|---:|---:|",
    ]
    for info in sorted(rows, key=lambda i: (i["subscribers"], i["contender"])):
        lines.append(
            f"| {info['subscribers']} | {info['contender']} | {info['per_subscriber_msgs_per_s']:,.0f} "
            f"| {info['total_deliveries_per_s']:,.0f} |"
        )
    return "\n".join(lines)


def stall_table(rows: List[Info]) -> str:
    lines = ["| publisher | messages offered | accepted | RSS growth MB |", "|---|---:|---:|---:|"]
    for info in rows:
        mode = info.get("on_hwm", "no high water mark")
        lines.append(
            f"| {info['contender']} (hwm {info['hwm']}, {mode}) | {info['messages']:,} "
            f"| {info['accepted']:,} "
            f"| {info['rss_growth'] / 1e6:.1f} |"
        )
    return "\n".join(lines)


def slow_table(rows: List[Info]) -> str:
    lines = ["| on_hwm | publisher msg/s | delivered |", "|---|---:|---:|"]
    for info in rows:
        lines.append(f"| {info['on_hwm']} | {info['publisher_msgs_per_s']:,.0f} | {info['delivered']:.1%} |")
    return "\n".join(lines)


def pipe_table(rows: List[Info]) -> str:
    lines = [
        "| size | raw FIFO msg/s | pipe transport msg/s (x raw FIFO) "
        "| stream mode, ipc (x raw FIFO) | rounds |",
        "|---:|---:|---:|---:|---:|",
    ]
    for info in sorted(rows, key=lambda i: i["size"]):
        stream = info.get("stream_msgs_per_s")
        stream_cell = f"{stream:,.0f} ({info['stream_ratio']:.2f}x)" if stream else "—"
        lines.append(
            f"| {info['size']} | {info['raw_fifo_msgs_per_s']:,.0f} "
            f"| {info['pipe_msgs_per_s']:,.0f} ({info['ratio']:.2f}x) | {stream_cell} | {info['rounds']} |"
        )
    return "\n".join(lines)


def render(document: Dict[str, Any]) -> Tuple[str, Dict[Tuple[str, int, int], Dict[str, Info]]]:
    throughput, cells = throughput_table(_by_test(document, "test_throughput"))
    sections = [
        ("Throughput per subscriber (subscribers in separate processes; inproc: threads)", throughput),
        ("One-way latency, 64 B at 10,000 msg/s", latency_table(_by_test(document, "test_latency"))),
        ("Fan-out, ipc, 64 B", fan_out_table(_by_test(document, "test_fan_out"))),
        (
            "Publisher memory with a subscriber frozen by SIGSTOP",
            stall_table(_by_test(document, "test_memory")),
        ),
        (
            "A slow subscriber (~20 µs per message), 1 KiB, hwm 100",
            slow_table(_by_test(document, "test_slow")),
        ),
        (
            "The pipe transport against a raw length-prefixed FIFO (median of alternating rounds)",
            pipe_table(_by_test(document, "test_pipe_vs_raw_fifo")),
        ),
    ]
    machine = document.get("machine_info", {})
    cpu = machine.get("cpu", {})
    head = f"Machine: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} cores, "
    head += f"Python {machine.get('python_version', '?')}; {document.get('datetime', '')}\n"
    return head + "\n".join(f"\n#### {title}\n\n{table}\n" for title, table in sections), cells


def plot(cells: Dict[Tuple[str, int, int], Dict[str, Info]], pipe_rows: List[Info], path: Path) -> None:
    """Ratios to the raw baseline of the same run: the figure that matters."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [3, 3, 1]})
    contenders = ("reference", "reference-batched", "stream", "pipe", "pynng")
    width = 0.8 / len(contenders)
    for ax, protocol in zip(axes, ("ipc", "tcp")):
        keys = [k for k in sorted(cells) if k[0] == protocol]
        for n, contender in enumerate(contenders):
            values = [
                cells[k].get(contender, {}).get("per_subscriber_msgs_per_s", 0)
                / (cells[k].get("raw-pyzmq", {}).get("per_subscriber_msgs_per_s") or float("inf"))
                for k in keys
            ]
            offset = (n - (len(contenders) - 1) / 2) * width
            ax.bar([i + offset for i in range(len(keys))], values, width, label=contender)
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        labels = [f"{size} B x{subs}" for _, size, subs in keys]
        ax.set_xticks(range(len(keys)), labels, rotation=30, ha="right")
        ax.set_title(f"{protocol}: messages/s per subscriber, x raw pyzmq")
    axes[0].legend()
    rows = sorted(pipe_rows, key=lambda i: i["size"])
    positions = range(len(rows))
    axes[2].bar([i - 0.2 for i in positions], [r["ratio"] for r in rows], 0.4, label="pipe")
    axes[2].bar([i + 0.2 for i in positions], [r.get("stream_ratio", 0) for r in rows], 0.4, label="stream")
    axes[2].axhline(1.0, color="black", linestyle="--", linewidth=1)
    axes[2].set_xticks(positions, [f"{r['size']} B" for r in rows])
    axes[2].set_title("x raw FIFO")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(source: str, out_dir: str) -> None:
    document = json.loads(Path(source).read_text())
    markdown, cells = render(document)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(markdown)
    plot(cells, _by_test(document, "test_pipe_vs_raw_fifo"), out / "bench.png")
    sys.stdout.write(markdown)


if __name__ == "__main__":
    main(*sys.argv[1:3])
