"""Two versions of ``tea_transports`` against raw pyzmq and a raw FIFO, in one run.

For a change that must not make the transports slower: ``--before`` and ``--after`` name
two ``reference/src`` trees (e.g. one from ``git archive``); each round runs every shape
with both versions and the baselines, alternating, so drift on a shared machine falls on
all of them. Publisher and subscriber are separate processes; the figure is the
subscriber's rate from its first message to the last, and the table gives the median of
the rounds as a ratio to the baseline measured in the same round.

Shapes (64-byte messages, high water marks 0 so nothing is dropped):

* ``zmq-loop``: ``send()`` per message; the subscriber is ``while True: m = t.receive()``,
  as a user writes it. Baseline: raw pyzmq PUB/SUB, ``sock.send`` / ``sock.recv`` loops.
* ``zmq-batch``: ``send_many`` / ``receive_many(1024)``. Same baseline.
* ``pipe-loop``: the pipe transport over a FIFO, ``send()`` / ``m = t.receive()``.
  Baseline: a raw FIFO, length-prefixed frames written in large chunks, the reader making
  each message a ``bytes``.

Usage: ``python benchmarks/before_after.py --before OLD/reference/src --after reference/src``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

END = b"END"
SIZE = 64


# -- the two ends, run as child processes -----------------------------------------------------


def _transport(kind: str) -> object:
    from tea_transports import TransportConfig, create_transport

    if kind == "pipe":
        return create_transport(TransportConfig())
    options = {"high_water_mark": 0, "receive_timeout": 120_000}
    return create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))


def publish(shape: str, endpoint: str, count: int) -> None:
    message = b"x" * SIZE
    if shape == "raw-zmq":
        import zmq

        sock = zmq.Context.instance().socket(zmq.XPUB)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.bind(endpoint)
        print("ready", flush=True)
        sock.setsockopt(zmq.RCVTIMEO, 30_000)
        sock.recv()  # the subscription: nothing is lost to the slow joiner
        send = sock.send
        for _ in range(count):
            send(message)
        send(END)
        sock.close(linger=-1)
        zmq.Context.instance().term()  # delivers what is queued: exit alone would drop it
        return
    if shape == "raw-fifo":
        path = endpoint[len("ipc://") :]
        os.mkfifo(path, 0o600)
        print("ready", flush=True)
        fd = os.open(path, os.O_WRONLY)  # waits for the reader
        frame = struct.pack(">I", SIZE) + message
        chunk = frame * 1024
        for _ in range(count // 1024):
            os.write(fd, chunk)
        os.write(fd, frame * (count % 1024) + struct.pack(">I", len(END)) + END)
        os.close(fd)
        os.unlink(path)
        return
    transport = _transport("pipe" if shape.startswith("pipe") else "zeromq")
    transport.bind(endpoint)  # type: ignore[attr-defined]
    print("ready", flush=True)
    if not shape.startswith("pipe"):
        transport.wait_for_subscribers(1, timeout=30)  # type: ignore[attr-defined]
    if shape == "zmq-batch":
        batch = [message] * 1024
        for _ in range(count // 1024):
            transport.send_many(batch)  # type: ignore[attr-defined]
        if count % 1024:
            transport.send_many(batch[: count % 1024])  # type: ignore[attr-defined]
    else:
        send = transport.send  # type: ignore[attr-defined]
        for _ in range(count):
            send(message)
    transport.send(END)  # type: ignore[attr-defined]
    if shape.startswith("pipe"):  # the consumer must drain the FIFO before it goes
        sys.stdin.readline()
    transport.close()  # type: ignore[attr-defined]


def subscribe(shape: str, endpoint: str) -> None:
    received = 0
    if shape == "raw-zmq":
        import zmq

        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.setsockopt(zmq.RCVTIMEO, 120_000)  # a lost END fails the run instead of hanging it
        sock.connect(endpoint)
        recv = sock.recv
        m = recv()
        start, cpu_start = time.perf_counter(), time.process_time()
        while m != END:
            received += 1
            m = recv()
    elif shape == "raw-fifo":
        fd = os.open(endpoint[len("ipc://") :], os.O_RDONLY)
        buffer = b""
        unpack = struct.Struct(">I").unpack_from
        start = cpu_start = 0.0
        done = False
        while not done:
            chunk = os.read(fd, 1 << 16)
            if not start:
                start, cpu_start = time.perf_counter(), time.process_time()
            buffer += chunk
            pos, size = 0, len(buffer)
            while size - pos >= 4:
                end = pos + 4 + unpack(buffer, pos)[0]
                if end > size:
                    break
                m = buffer[pos + 4 : end]  # each message a bytes, as a transport returns it
                pos = end
                if m == END:
                    done = True
                    break
                received += 1
            buffer = buffer[pos:]
        os.close(fd)
    else:
        transport = _transport("pipe" if shape.startswith("pipe") else "zeromq")
        transport.connect(endpoint)  # type: ignore[attr-defined]
        if shape == "zmq-batch":
            receive_many = transport.receive_many  # type: ignore[attr-defined]
            batch = receive_many(1024)
            start, cpu_start = time.perf_counter(), time.process_time()
            while batch[-1] != END:
                received += len(batch)
                batch = receive_many(1024)
            received += len(batch) - 1
        else:
            m = transport.receive()  # type: ignore[attr-defined]
            start, cpu_start = time.perf_counter(), time.process_time()
            while m != END:
                received += 1
                m = transport.receive()  # type: ignore[attr-defined]
        transport.close()  # type: ignore[attr-defined]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"received": received, "seconds": seconds, "cpu": cpu}), flush=True)


# -- the driver -----------------------------------------------------------------------------


def one_run(shape: str, src: Optional[str], count: int, directory: str, run: int) -> Tuple[float, float]:
    """The subscriber's rate (msg/s) by the wall clock and by its own CPU time."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.path.abspath(src)
    if shape in ("pipe-loop", "raw-fifo"):
        endpoint = f"ipc://{directory}/fifo-{run}"
    else:
        endpoint = f"ipc://{directory}/zmq-{run}.sock"
    me = os.path.abspath(__file__)
    pub = subprocess.Popen(
        [sys.executable, me, "publish", shape, endpoint, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert pub.stdout is not None and pub.stdin is not None
        assert pub.stdout.readline().strip() == "ready"
        sub = subprocess.run(
            [sys.executable, me, "subscribe", shape, endpoint],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
        with contextlib.suppress(BrokenPipeError):  # only the pipe transport waits for it
            pub.stdin.write("done\n")
            pub.stdin.close()
        pub.wait(60)
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
    result = json.loads(sub.stdout.strip().splitlines()[-1])
    assert result["received"] == count, f"{shape}: {result['received']} of {count}"
    return float(count / result["seconds"]), float(count / max(result["cpu"], 1e-9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="reference/src of the old version")
    parser.add_argument("--after", required=True, help="reference/src of the new version")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    shapes = {"zmq-loop": "raw-zmq", "zmq-batch": "raw-zmq", "pipe-loop": "raw-fifo"}
    # per round: each shape's baseline, then both versions, in an order that alternates
    ratios: Dict[str, List[float]] = {}
    rates: Dict[str, List[Tuple[float, float]]] = {}
    run = 0
    with tempfile.TemporaryDirectory(prefix="tea-ba-") as directory:
        for round_ in range(args.rounds):
            order = [("before", args.before), ("after", args.after)]
            if round_ % 2:
                order.reverse()
            for shape, baseline in shapes.items():
                run += 1
                base = one_run(baseline, None, args.messages, directory, run)
                rates.setdefault(f"{shape} {baseline}", []).append(base)
                for version, src in order:
                    run += 1
                    rate = one_run(shape, src, args.messages, directory, run)
                    rates.setdefault(f"{shape} {version}", []).append(rate)
                    for clock in (0, 1):
                        ratios.setdefault(f"{shape} {version} {clock}", []).append(rate[clock] / base[clock])
    print(f"{args.rounds} rounds of {args.messages:,} x {SIZE} B over ipc: medians of the per-round ratios")
    for clock, name in ((0, "wall clock"), (1, "the subscriber's CPU time")):
        print(f"\nrate by {name}")
        print("| shape | baseline | before: ratio (range) | after: ratio (range) | after / before |")
        print("|---|---|---|---|---|")
        for shape, baseline in shapes.items():
            before, after = ratios[f"{shape} before {clock}"], ratios[f"{shape} after {clock}"]
            b, a = statistics.median(before), statistics.median(after)
            print(
                f"| {shape} | {baseline} | {b:.2f} ({min(before):.2f}-{max(before):.2f}) | "
                f"{a:.2f} ({min(after):.2f}-{max(after):.2f}) | {a / b:.2f} |"
            )
    print(json.dumps(rates))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "publish":
        publish(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "subscribe":
        subscribe(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
