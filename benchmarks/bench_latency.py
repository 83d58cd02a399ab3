"""One-way latency of 64-byte messages at a paced rate, reference vs raw pyzmq, with the
subscriber in another process. Each message carries its send time (CLOCK_MONOTONIC,
shared by every process of the machine)."""

from __future__ import annotations

import time
from typing import Any, List

import pytest
from runs import start

RATE = 10_000  # messages per second


def _percentile(values: List[int], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] / 1000.0


@pytest.mark.parametrize("protocol", ["ipc", "tcp"])
@pytest.mark.parametrize("contender", ["reference", "stream", "raw-pyzmq"])
def test_latency(benchmark: Any, contender: str, protocol: str, quick: bool, transport_name: str) -> None:
    if contender == "stream" and transport_name != "zeromq":
        pytest.skip("not applicable: stream mode belongs to the reference")
    count = 2_000 if quick else 20_000
    reports: List[Any] = []

    def setup() -> Any:
        return (start(contender, transport_name, protocol, 1, latency=True),), {}

    def run(handle: Any) -> None:
        send, interval = handle.publisher.send, 1_000_000_000 // RATE
        next_at = time.monotonic_ns()
        for _ in range(count):
            while (now := time.monotonic_ns()) < next_at:  # paced by spinning: sleep is too coarse
                pass
            send(b"%020d" % now + b"." * 44)
            next_at += interval
        reports.extend(handle.finish())

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    latencies = sorted(reports[0])
    assert len(latencies) == count, f"{len(latencies)} of {count} messages arrived"
    benchmark.extra_info.update(
        contender=contender,
        protocol=protocol,
        rate=RATE,
        messages=count,
        **{f"p{q}_us": _percentile(latencies, q / 100) for q in (50, 90, 99, 99.9)},
    )
