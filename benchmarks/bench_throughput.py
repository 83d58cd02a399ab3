"""Throughput per subscriber, reference vs raw pyzmq in the same run, subscribers in
separate processes. The figure is the ratio; the delivered fraction is checked, so a
fast number with silent losses cannot pass for a result."""

from __future__ import annotations

import multiprocessing
from typing import Any, List, Tuple

import pytest
from peers import END, PUBLISHERS, START, subscriber_main

_spawn = multiprocessing.get_context("spawn")

SIZES = (64, 1024)
FULL_SIZES = (64, 1024, 65536)


def _cases(quick: bool) -> List[Tuple[str, int, int]]:
    return [(p, s, n) for p in ("ipc", "tcp") for s in SIZES for n in (1, 4)]


@pytest.mark.parametrize("subscribers", [1, 4])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("protocol", ["ipc", "tcp"])
@pytest.mark.parametrize("contender", ["reference", "raw-pyzmq"])
def test_throughput(
    benchmark: Any,
    contender: str,
    protocol: str,
    size: int,
    subscribers: int,
    quick: bool,
    transport_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    count = 20_000 if quick else 300_000
    payload = b"x" * size
    address = (
        f"ipc:///tmp/teab-{tmp_path_factory.mktemp('b').name}.sock"
        if protocol == "ipc"
        else "tcp://127.0.0.1:*"
    )
    results: List[List[Tuple[int, float]]] = []

    def setup() -> Tuple[Tuple[Any, Any], dict[str, Any]]:
        publisher = PUBLISHERS[contender](transport_name, address, 0)  # HWM 0 on both: lossless
        children = []
        for _ in range(subscribers):
            conn, child_conn = _spawn.Pipe()
            proc = _spawn.Process(
                target=subscriber_main, args=(child_conn, contender, transport_name, publisher.endpoint, 0)
            )
            proc.start()
            children.append((proc, conn))
        for _, conn in children:
            assert conn.poll(60) and conn.recv() == "ready"
        publisher.wait(subscribers)
        return (publisher, children), {}

    def run(publisher: Any, children: List[Any]) -> None:
        send = publisher.send
        send(START)
        for _ in range(count):
            send(payload)
        send(END)
        round_results = []
        for proc, conn in children:
            assert conn.poll(120), "a subscriber process never reported"
            round_results.append(conn.recv())
            proc.join(30)
        publisher.close()
        results.append(round_results)

    benchmark.pedantic(run, setup=setup, rounds=1 if quick else 3, iterations=1)
    rates = [n / s for round_ in results for n, s in round_ if s > 0]
    delivered = min(n for round_ in results for n, _ in round_) / count
    benchmark.extra_info.update(
        {
            "contender": contender,
            "protocol": protocol,
            "size": size,
            "subscribers": subscribers,
            "messages": count,
            "delivered": delivered,
            "per_subscriber_msgs_per_s": sorted(rates)[len(rates) // 2],
        }
    )
    assert delivered == 1.0, f"{contender} delivered {delivered:.1%} with high_water_mark=0 (lossless)"
