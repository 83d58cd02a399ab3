"""The control protocol's cost per call: ``python benchmarks/control_protocol.py [DRIVER...]``.

For the in-process reference and each driver command given (default: the Python driver
of the reference), it times a subscriber's ``receive()`` of a message already queued and a
publisher's ``send()`` of 100 bytes, call by call, and prints p50 and p99 in microseconds,
with the ratio to in process, and the cost of base64 for the same payload. A script, not a
benchmark test: the figures go to the issue's closing note and the README.
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

from tea_conformance.remote import proxy_class
from tea_transports import NOBLOCK, TransportConfig, TransportTimeoutError, transport_class

CALLS = 5000
WARM_UP = 5000
PAYLOAD = b"x" * 100


def _percentiles(samples: List[float]) -> Tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


def _timed(call: Callable[[], Any], calls: int) -> List[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def measure(cls: Any) -> Dict[str, Tuple[float, float]]:
    """p50 and p99 of ``send()``, and of ``receive()`` of a message already queued
    (``CALLS - 1`` of them: the first is taken untimed)."""

    def config(**options: Any) -> TransportConfig:
        options.update(linger=0, high_water_mark=0)  # unbounded: every message timed is queued
        return TransportConfig(transport_type="bench", protocol="tcp", pattern="pub_sub", options=options)

    with cls(config()) as pub, cls(config(receive_timeout=5000)) as sub:
        pub.bind("tcp://127.0.0.1:*")
        sub.connect(str(pub.endpoint))
        while True:  # the subscription is live once a probe arrives
            pub.send(b"probe")
            try:
                sub.receive(flags=NOBLOCK)
                break
            except TransportTimeoutError:
                time.sleep(0.01)  # a benchmark's pacing, not a test's synchronisation
        for _ in range(WARM_UP):  # a JIT compiles, caches fill: time the steady state
            pub.send(b"warm-up")
        while sub.receive() != b"warm-up":  # the probes still queued
            pass
        for _ in range(WARM_UP - 1):
            sub.receive()
        sends = _timed(lambda: pub.send(PAYLOAD), CALLS)
        sub.receive()  # the first timed message (every message before it was received)
        receives = _timed(sub.receive, CALLS - 1)
    return {"send": _percentiles(sends), "receive": _percentiles(receives)}


def main(commands: List[str]) -> None:
    commands = commands or [f"{sys.executable} -m tea_conformance.remote.pydriver zeromq"]
    rows = [("in process", measure(transport_class("zeromq", "pub_sub")))]
    rows += [(command, measure(proxy_class(command))) for command in commands]
    base = rows[0][1]
    print(f"{CALLS} calls each, 100-byte messages over tcp; microseconds")
    for name, figures in rows:
        cells = []
        for op in ("send", "receive"):
            p50, p99 = figures[op]
            cells.append(f"{op} p50 {p50:7.1f} p99 {p99:7.1f} (x{p50 / base[op][0]:.0f} p50)")
        print(f"{name[:60]:60}  " + "  ".join(cells))
    encode = _timed(lambda: base64.b64decode(base64.b64encode(PAYLOAD)), CALLS)
    print(f"base64 encode+decode of 100 bytes: p50 {statistics.median(encode) * 1e6:.2f} us")


if __name__ == "__main__":
    main(sys.argv[1:])
