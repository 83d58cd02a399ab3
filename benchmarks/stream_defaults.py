"""Stream mode against plain mode with every option at its default, in one run.

The user who sets only ``transport_type="zeromq-stream"`` should get the speed stream mode
is for. Each run: a publisher (this process) calls ``send()`` per message, 64 bytes each;
a subscriber in another process calls ``receive()`` per message. Every option is at its
default (high_water_mark 1,000, drop mode), so a subscriber that falls behind loses
messages: the table gives the delivered share next to the rates. Rates:

* ``send/s``: the publisher's ``send()`` loop, first call to last return;
* ``receive/s``: the subscriber's messages received over its first to last ``receive()``.

Each round runs both modes over ipc and tcp, in an order that alternates between rounds,
so drift on a shared machine falls on both; the table gives the medians of 5 rounds and
stream mode's median per-round ratio to plain mode.

Usage: ``python benchmarks/stream_defaults.py [--rounds 5] [--messages 200000]``
(a script, not a pytest module).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

SIZE = 64
END = b"END"
MODES = ("zeromq", "zeromq-stream")


def _transport(mode: str) -> Any:
    from tea_transports import TransportConfig, create_transport

    return create_transport(TransportConfig(transport_type=mode, pattern="pub_sub"))


def subscribe(mode: str, endpoint: str) -> None:
    """The child: receive until END; print the count and the seconds it took."""
    transport = _transport(mode)
    transport.connect(endpoint)
    print("ready", flush=True)
    receive = transport.receive
    message = receive()
    start = last = time.perf_counter()
    received = 0
    while message != END:
        received += 1
        last = time.perf_counter()
        message = receive()
    transport.close()
    print(json.dumps({"received": received, "seconds": last - start}), flush=True)


def _endpoint(protocol: str, directory: str, run: int) -> str:
    if protocol == "ipc":
        return f"ipc://{directory}/{run}.sock"
    with socket.socket() as probe:  # a free port, for this run only
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def one_run(mode: str, protocol: str, count: int, directory: str, run: int) -> Tuple[float, float, float]:
    """(send/s, receive/s, delivered share) of one run."""
    pub = _transport(mode)
    pub.bind(_endpoint(protocol, directory, run))
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--subscribe", mode, str(pub.endpoint)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        pub.wait_for_subscribers(1, timeout=30)
        message, send = b"x" * SIZE, pub.send
        start = time.perf_counter()
        for _ in range(count):
            send(message)
        seconds = time.perf_counter() - start
        deadline = time.monotonic() + 120
        while child.poll() is None:  # END may be dropped at a full queue: send it until seen
            if time.monotonic() > deadline:
                raise RuntimeError(f"{mode} over {protocol}: the subscriber never saw END")
            send(END)
            time.sleep(0.01)  # pacing the END messages only, never the measured loop
        result = json.loads(child.stdout.read().strip().splitlines()[-1])
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        pub.close()
    received = int(result["received"])
    return count / seconds, received / max(float(result["seconds"]), 1e-9), received / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--subscribe", nargs=2, metavar=("MODE", "ENDPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscribe:
        subscribe(*args.subscribe)
        return 0
    figures: Dict[Tuple[str, str], List[Tuple[float, float, float]]] = {}
    run = 0
    with tempfile.TemporaryDirectory(prefix="tea-sd-") as directory:
        for round_ in range(args.rounds):
            order = list(MODES) if round_ % 2 == 0 else list(reversed(MODES))
            for protocol in ("ipc", "tcp"):
                for mode in order:
                    run += 1
                    figures.setdefault((protocol, mode), []).append(
                        one_run(mode, protocol, args.messages, directory, run)
                    )
    print(f"{args.rounds} rounds of {args.messages:,} x {SIZE} B, every option at its default: medians")
    print("\n| protocol | mode | send/s | receive/s | delivered | send, x plain | receive, x plain |")
    print("|---|---|---|---|---|---|---|")
    for protocol in ("ipc", "tcp"):
        plain = figures[(protocol, "zeromq")]
        for mode in MODES:
            rows = figures[(protocol, mode)]
            sends, receives, shares = (statistics.median(column) for column in zip(*rows))
            ratios = [statistics.median(r[i] / p[i] for r, p in zip(rows, plain)) for i in (0, 1)]
            print(
                f"| {protocol} | {mode} | {sends:,.0f} | {receives:,.0f} | {shares:.0%} | "
                f"{ratios[0]:.2f}x | {ratios[1]:.2f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
