"""The pipe transport against its baseline, a raw length-prefixed FIFO, in the same run.

Rounds alternate between the two (pipe, raw, pipe, raw, ...) so drift on a shared machine
falls on both; the reader is a separate process. The figure is the ratio of the medians
of the reader's receive rate (target: at least 0.8x the raw FIFO at 64 B and 1 KiB)."""

from __future__ import annotations

import statistics
from typing import Any, Dict, List

import pytest
from runs import start

#: stream mode (the ZeroMQ reference packing messages into frames, over ipc) races the
#: FIFO too: its target is at least 1.0x the raw FIFO at 1 KiB
CONTENDERS = ("pipe", "raw-fifo", "stream")
#: messages per round by size (full mode); quick mode sends a twentieth
COUNTS = {64: 200_000, 1024: 100_000}


def one_round(contender: str, messages: List[bytes]) -> float:
    """Send ``messages`` through one contender; return the reader's rate, all delivered."""
    run = start(contender, "unix", "ipc", 1)
    run.publisher.send_all(messages)
    [(count, seconds)] = run.finish()
    assert count == len(messages), f"{contender} delivered {count} of {len(messages)}"
    return float(count / seconds)


@pytest.mark.parametrize("size", sorted(COUNTS))
def test_pipe_vs_raw_fifo(benchmark: Any, size: int, quick: bool) -> None:
    count = COUNTS[size] // (20 if quick else 1)
    rounds = 1 if quick else 5
    messages = [b"x" * size] * count
    rates: Dict[str, List[float]] = {c: [] for c in CONTENDERS}

    def alternate() -> None:
        for _ in range(rounds):
            for contender in CONTENDERS:
                rates[contender].append(one_round(contender, messages))

    benchmark.pedantic(alternate, rounds=1, iterations=1)
    medians = {c: statistics.median(r) for c, r in rates.items()}
    benchmark.extra_info.update(
        size=size,
        messages=count,
        rounds=rounds,
        pipe_msgs_per_s=medians["pipe"],
        raw_fifo_msgs_per_s=medians["raw-fifo"],
        ratio=medians["pipe"] / medians["raw-fifo"],
        pipe_rounds=rates["pipe"],
        raw_fifo_rounds=rates["raw-fifo"],
        stream_msgs_per_s=medians["stream"],
        stream_ratio=medians["stream"] / medians["raw-fifo"],
        stream_rounds=rates["stream"],
    )
