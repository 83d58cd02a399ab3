"""Stream mode's ``send()`` at 10,000 subscribed prefixes against 1, in one run.

A stream publisher groups each frame's messages by the longest subscribed prefix they
match, from a table that changes as subscriptions come and go; its cost must not grow
with the number of prefixes. Each run: a subscriber in another process subscribes to
``--prefixes`` prefixes (``topic.00000.`` …) and reads everything; the publisher (this
process) waits until it has counted them all, then calls ``send()`` per 64-byte message,
in runs of 256 messages per prefix (so both cases make the same frames). The table gives,
per case, the median ``send()`` rate and the longest single ``send()`` over 5 rounds
that alternate the order of the cases, and the ratio of the rates (per round, median).

Usage: ``python benchmarks/stream_prefixes.py [--rounds 5] [--messages 100000]``
(a script, not a pytest module).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from typing import Any, Dict, List, Tuple

from tea_transports import TransportConfig, TransportError, create_transport

MANY = 10_000
RUN = 256  # messages per prefix in a row: one frame's worth at the defaults


def _transport(**options: Any) -> Any:
    config = TransportConfig(transport_type="zeromq-stream", pattern="pub_sub", options=options)
    return create_transport(config)


def _prefixes(count: int) -> List[bytes]:
    return [b"topic.%05d." % i for i in range(count)]


def _subscriber(address: str, count: int, stop: Any) -> None:
    transport = _transport(subscribe_filter=_prefixes(count), receive_timeout=100)
    transport.connect(address)
    while not stop.is_set():
        with contextlib.suppress(TransportError):  # nothing within 100 ms
            transport.receive_many(4096)
    transport.close()


def _run(directory: str, count: int, messages: int) -> Tuple[float, float]:
    """(send() per second, longest send() in s) with ``count`` prefixes subscribed."""
    address = f"ipc://{directory}/prefixes-{count}"
    publisher = _transport()
    publisher.bind(address)
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=_subscriber, args=(address, count, stop))
    child.start()
    try:
        publisher.wait_for_subscribers(count, timeout=60)
        prefixes = _prefixes(count)
        payloads = [(prefixes[(i // RUN) % count] + b"x" * 64)[:64] for i in range(messages)]
        send, worst = publisher.send, 0.0
        clock = time.perf_counter
        start = clock()
        for payload in payloads:
            before = clock()
            send(payload)
            worst = max(worst, clock() - before)
        took = clock() - start
    finally:
        stop.set()
        child.join(30)
        publisher.close()
    return messages / took, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--prefixes", type=int, default=MANY)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # a subscriber that falls behind is not the point here
    cases = (1, args.prefixes)
    results: Dict[int, List[Tuple[float, float]]] = {count: [] for count in cases}
    with tempfile.TemporaryDirectory(prefix="tea-prefixes-") as directory:
        os.chmod(directory, 0o700)
        for round_ in range(args.rounds):
            for count in cases if round_ % 2 == 0 else reversed(cases):
                results[count].append(_run(directory, count, args.messages))
    print("| prefixes | send()/s, median | longest send(), ms |\n|---|---|---|")
    for count in cases:
        rates = [rate for rate, _ in results[count]]
        worst = max(longest for _, longest in results[count])
        print(f"| {count:,} | {statistics.median(rates):,.0f} | {worst * 1e3:.2f} |")
    ratios = [many[0] / one[0] for one, many in zip(results[1], results[args.prefixes])]
    print(
        f"\nsend() at {args.prefixes:,} prefixes / at 1, median of per-round ratios: "
        f"{statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
