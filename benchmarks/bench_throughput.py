"""Throughput per subscriber for each contender, in the same run, across protocols,
message sizes and subscriber counts. The figure is the ratio to raw pyzmq; the
delivered fraction is part of every result (checked where the contender promises
lossless delivery), so a fast number with silent losses cannot pass for a result."""

from __future__ import annotations

from typing import Any

import pytest
from runs import start

CONTENDERS = ["reference", "reference-batched", "stream", "raw-pyzmq", "pipe", "pynng"]
#: messages per run by size (full mode); quick mode sends a twentieth
COUNTS = {64: 200_000, 1024: 100_000, 65536: 5_000}
#: contenders that promise every message with high_water_mark=0 (pynng drops when busy)
LOSSLESS = {"reference", "reference-batched", "stream", "raw-pyzmq", "pipe"}


@pytest.mark.parametrize("subscribers", [1, 4])
@pytest.mark.parametrize("size", sorted(COUNTS))
@pytest.mark.parametrize("protocol", ["inproc", "ipc", "tcp"])
@pytest.mark.parametrize("contender", CONTENDERS)
def test_throughput(
    benchmark: Any,
    contender: str,
    protocol: str,
    size: int,
    subscribers: int,
    quick: bool,
    transport_name: str,
) -> None:
    if contender == "pipe" and (subscribers > 1 or protocol == "tcp"):
        pytest.skip("not applicable: a pipe has one consumer and no tcp")
    if contender == "pynng":
        pytest.importorskip("pynng")
    if contender == "stream" and transport_name != "zeromq":
        pytest.skip("not applicable: stream mode belongs to the reference")
    count = COUNTS[size] // (20 if quick else 1)
    payload = b"x" * size
    messages = [payload] * count
    reports: list[Any] = []

    def setup() -> Any:
        return (start(contender, transport_name, protocol, subscribers),), {}

    def run(handle: Any) -> None:
        handle.publisher.send_all(messages)
        reports.extend(handle.finish())

    benchmark.pedantic(run, setup=setup, rounds=1 if quick else 3, iterations=1)
    rates = sorted(n / s for n, s in reports if s > 0)
    delivered = min(n for n, _ in reports) / count
    benchmark.extra_info.update(
        contender=contender,
        protocol=protocol,
        size=size,
        subscribers=subscribers,
        messages=count,
        delivered=delivered,
        per_subscriber_msgs_per_s=rates[len(rates) // 2] if rates else 0.0,
    )
    if contender in LOSSLESS:
        assert delivered == 1.0, f"{contender} delivered {delivered:.2%} where it promises every message"
    else:
        assert delivered > 0, f"{contender} delivered nothing"
