"""Fan-out scaling: 64-byte messages over ipc to 1-16 subscriber processes. Total
deliveries per second show how the cost grows with subscribers; on 2 cores the
subscribers share the CPU with the publisher, so expect the total to flatten."""

from __future__ import annotations

from typing import Any, List

import pytest
from runs import start


@pytest.mark.parametrize("subscribers", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("contender", ["reference", "stream", "raw-pyzmq"])
def test_fan_out(benchmark: Any, contender: str, subscribers: int, quick: bool, transport_name: str) -> None:
    if contender == "stream" and transport_name != "zeromq":
        pytest.skip("not applicable: stream mode belongs to the reference")
    if quick and subscribers > 4:
        pytest.skip("quick mode: up to 4 subscribers")
    count = 5_000 if quick else 50_000
    messages = [b"x" * 64] * count
    reports: List[Any] = []

    def setup() -> Any:
        return (start(contender, transport_name, "ipc", subscribers),), {}

    def run(handle: Any) -> None:
        handle.publisher.send_all(messages)
        reports.extend(handle.finish())

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    delivered = min(n for n, _ in reports) / count
    rates = sorted(n / s for n, s in reports if s > 0)
    benchmark.extra_info.update(
        contender=contender,
        subscribers=subscribers,
        messages=count,
        delivered=delivered,
        per_subscriber_msgs_per_s=rates[len(rates) // 2],
        total_deliveries_per_s=sum(rates),
    )
    assert delivered == 1.0
