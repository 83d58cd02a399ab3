"""A stalled subscriber (a process frozen with SIGSTOP) and the publisher's memory:
RSS growth over a burst, drop and block mode with high_water_mark=1000, against raw
pyzmq with no high water mark. And block mode's price: publisher throughput with one
deliberately slow subscriber, drop vs block, with the delivered fraction."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, List

import pytest
from peers import pid_rss
from runs import start

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="not applicable on this platform: SIGSTOP")


@pytest.mark.parametrize(
    ("contender", "options", "hwm"),
    [
        ("reference", {"on_hwm": "drop"}, 1000),
        ("reference", {"on_hwm": "block", "send_timeout": 100}, 1000),
        ("raw-pyzmq", {}, 0),
    ],
    ids=["reference-drop", "reference-block", "raw-pyzmq-unbounded"],
)
def test_memory_under_stall(
    benchmark: Any, contender: str, options: Any, hwm: int, quick: bool, transport_name: str
) -> None:
    from tea_transports import TransportTimeoutError

    count = 100_000 if quick else 1_000_000
    message = b"x" * 64
    result: dict[str, int] = {}

    def setup() -> Any:
        handle = start(contender, transport_name, "ipc", 1, hwm=hwm, options=options)
        os.kill(handle.workers[0].pid, signal.SIGSTOP)  # type: ignore[union-attr,arg-type]
        return (handle,), {}

    def run(handle: Any) -> None:
        before = pid_rss()
        send, accepted = handle.publisher.send, 0
        try:
            for _ in range(count):
                send(message)
                accepted += 1
        except TransportTimeoutError:
            pass  # block mode: the stalled subscriber holds the publisher back, as promised
        result.update(rss_growth=pid_rss() - before, accepted=accepted)
        handle.workers[0].kill()
        handle.stop()

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    benchmark.extra_info.update(contender=contender, hwm=hwm, messages=count, **options, **result)
    if contender == "reference" and options["on_hwm"] == "drop":
        assert result["accepted"] == count  # drop mode never blocks
    if contender == "reference" and options["on_hwm"] == "block":
        assert result["accepted"] < count  # block mode stopped at the stalled subscriber


@pytest.mark.parametrize("on_hwm", ["drop", "block"])
def test_slow_subscriber(benchmark: Any, on_hwm: str, quick: bool, transport_name: str) -> None:
    """A subscriber spending ~20 us per message behind a batched publisher: drop mode
    keeps the publisher's pace and loses, block mode slows to the subscriber's and loses
    nothing."""
    count = 20_000 if quick else 200_000
    messages = [b"x" * 1024] * count
    reports: List[Any] = []

    def setup() -> Any:
        return (start("reference-slow", transport_name, "ipc", 1, hwm=100, options={"on_hwm": on_hwm}),), {}

    publishing: List[float] = []

    def run(handle: Any) -> None:
        began = time.perf_counter()
        handle.publisher.send_all(messages)
        publishing.append(time.perf_counter() - began)
        reports.extend(handle.finish())

    benchmark.pedantic(run, setup=setup, rounds=1, iterations=1)
    delivered = reports[0][0] / count
    benchmark.extra_info.update(
        on_hwm=on_hwm, messages=count, delivered=delivered, publisher_msgs_per_s=count / publishing[0]
    )
    if on_hwm == "block":
        assert delivered == 1.0, f"block mode lost {1 - delivered:.2%}"
