"""What a subscriber that subscribes and unsubscribes in a tight loop costs its publisher.

The subscriber (another process) subscribes to ``b"a"``, then loops ``subscribe(b"x")``,
``unsubscribe(b"x")`` and a non-blocking ``receive_many()``. The publisher (this process)
calls ``send()`` per 64-byte message for ``--seconds``, and records its rate and the longest
single ``send()``; the same runs without the loop, for each mode, give the comparison.
A stall of a few milliseconds is the machine's scheduling, seen without the loop too.

Usage: ``python benchmarks/subscription_storm.py [--seconds 5]`` (a script, not a pytest module).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import tempfile
import time
from typing import Any

from tea_transports import TransportConfig, TransportError, create_transport

MODES = ("zeromq", "zeromq-stream")


def _transport(mode: str) -> Any:
    return create_transport(TransportConfig(transport_type=mode, pattern="pub_sub"))


def _subscriber(address: str, mode: str, storm: bool, stop: Any) -> None:
    transport = _transport(mode)
    transport.connect(address)
    transport.subscribe(b"a")
    while not stop.is_set():
        if storm:
            transport.subscribe(b"x")
            transport.unsubscribe(b"x")
        with contextlib.suppress(TransportError):  # nothing queued
            transport.receive_many(1024, flags=1)  # NOBLOCK
    transport.close()


def _run(directory: str, mode: str, storm: bool, seconds: float) -> str:
    address = f"ipc://{directory}/{mode}-{int(storm)}"
    publisher = _transport(mode)
    publisher.bind(address)
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=_subscriber, args=(address, mode, storm, stop))
    child.start()
    try:
        publisher.wait_for_subscribers(1, timeout=30)
        sent, worst = 0, 0.0
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            publisher.send(b"a" * 64)
            worst = max(worst, time.monotonic() - now)
            sent += 1
    finally:
        stop.set()
        child.join(30)
        publisher.close()
    took = seconds + max(0.0, time.monotonic() - end)
    return f"| {mode} | {'yes' if storm else 'no'} | {sent / took:,.0f} | {worst * 1e3:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    seconds = parser.parse_args().seconds
    logging.disable(logging.WARNING)  # the slow-subscriber warning is expected here
    print("| mode | subscription loop | send()/s | longest send(), ms |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tea-storm-") as directory:
        os.chmod(directory, 0o700)
        for mode in MODES:
            for storm in (False, True):
                print(_run(directory, mode, storm, seconds), flush=True)


if __name__ == "__main__":
    main()
