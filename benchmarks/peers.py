"""The contenders of the benchmarks, each as a publisher end and a subscriber end.

* ``reference`` — the transport under test (``--transport``, default the ZeroMQ reference),
  one ``send``/``receive`` per message;
* ``reference-batched`` — the same transport through ``send_many``/``receive_many``;
* ``stream`` — the reference in stream mode (``zeromq-stream``: small messages packed into
  frames), one ``send``/``receive`` per message;
* ``raw-pyzmq`` — plain PUB/SUB sockets doing the same work;
* ``pipe`` — ``UnixPipeTransport`` (one consumer: pattern "direct");
* ``raw-fifo`` — a length-prefixed FIFO with plain ``os.write``/``os.read``: the baseline
  of the pipe transport, as ``raw-pyzmq`` is of the ZeroMQ one;
* ``pynng`` — nng's Pub0/Sub0, another brokerless library a user might pick;
* ``reference-slow`` — the reference with a subscriber that works ~20 us per message.

Every contender synchronises the same way, so none is favoured: the publisher repeats
START until each subscriber has seen one; data follows, then END. A subscriber counts
the data messages and times them from the first to the last itself.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Tuple

START = b"\xffSTART"
END = b"\xffEND"
QUIET_S = 1.0
TIMEOUT_MS = 100

Receive = Callable[[], List[bytes]]  # what arrived within TIMEOUT_MS (maybe nothing)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def address_for(kind: str, protocol: str) -> str:
    if protocol == "inproc":
        return f"inproc://bench-{uuid.uuid4().hex}"
    if protocol == "ipc":  # in the user's private directory; Run.stop() removes it
        from tea_transports.zeromq import private_ipc_dir

        return f"ipc://{private_ipc_dir()}/bench-{uuid.uuid4().hex[:12]}"
    return f"tcp://127.0.0.1:{free_port()}"


# -- publishers -------------------------------------------------------------------------------


class Publisher:
    """``send(message)``, ``send_all(messages)``, ``endpoint``, ``close()``."""

    endpoint: str

    def send(self, message: bytes) -> Any:
        raise NotImplementedError

    def send_all(self, messages: List[bytes]) -> None:
        send = self.send
        for message in messages:
            send(message)

    def close(self) -> None:
        raise NotImplementedError


def _transport(name: str, pattern: str, options: Dict[str, Any]) -> Any:
    from tea_transports import TransportConfig, create_transport

    return create_transport(TransportConfig(transport_type=name, pattern=pattern, options=options))


class TransportPublisher(Publisher):
    def __init__(self, name: str, address: str, options: Dict[str, Any], batched: bool = False) -> None:
        pattern = "direct" if name == "unix" else "pub_sub"
        self.transport = _transport(name, pattern, options)
        self.transport.bind(address)
        self.endpoint = str(self.transport.endpoint)
        self.send = self.transport.send  # type: ignore[method-assign]
        self.batched = batched

    def send_all(self, messages: List[bytes]) -> None:
        if not self.batched:
            return super().send_all(messages)
        send_many = self.transport.send_many
        for start in range(0, len(messages), 256):
            send_many(messages[start : start + 256])
        return None

    def close(self) -> None:
        self.transport.close()


class RawPublisher(Publisher):
    def __init__(self, name: str, address: str, options: Dict[str, Any], batched: bool = False) -> None:
        import zmq

        self.socket = zmq.Context.instance().socket(zmq.PUB)
        self.socket.setsockopt(zmq.SNDHWM, options.get("high_water_mark", 1000))
        self.socket.setsockopt(zmq.LINGER, 1000)
        self.socket.bind(address)
        self.endpoint = self.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.send = self.socket.send  # type: ignore[method-assign]

    def close(self) -> None:
        self.socket.close()


class NngPublisher(Publisher):
    def __init__(self, name: str, address: str, options: Dict[str, Any], batched: bool = False) -> None:
        import pynng

        self.socket = pynng.Pub0(listen=address)
        self.endpoint = address
        self.send = self.socket.send  # type: ignore[method-assign]

    def close(self) -> None:
        self.socket.close()


_FRAME = struct.Struct(">I")


class RawFifoPublisher(Publisher):
    """What a careful programmer writes without a transport: mkfifo, then one ``os.write``
    of a 4-byte length and the payload per message (blocking, like the pipe transport)."""

    def __init__(self, name: str, address: str, options: Dict[str, Any], batched: bool = False) -> None:
        self.path = address[len("ipc://") :]
        os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDWR)  # as the transport does: no wait for a reader
        self.endpoint = address
        fd, write, pack = self.fd, os.write, _FRAME.pack

        def send(message: bytes) -> None:
            frame = pack(len(message)) + message
            written = write(fd, frame)
            while written < len(frame):  # only frames longer than the pipe buffer
                written += write(fd, frame[written:])

        self.send = send  # type: ignore[method-assign]

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


PUBLISHERS: Dict[str, Callable[..., Publisher]] = {
    "reference": TransportPublisher,
    "reference-batched": lambda *a, **k: TransportPublisher(*a, **k, batched=True),
    "raw-pyzmq": RawPublisher,
    "stream": lambda name, *a, **k: TransportPublisher("zeromq-stream", *a, **k),
    "pipe": lambda name, *a, **k: TransportPublisher("unix", *a, **k),
    "raw-fifo": RawFifoPublisher,
    "pynng": NngPublisher,
    "reference-slow": lambda *a, **k: TransportPublisher(*a, **k, batched=True),
}


# -- subscribers ------------------------------------------------------------------------------


def _transport_receiver(
    name: str, endpoint: str, hwm: int, batched: bool
) -> Tuple[Receive, Callable[[], None]]:
    from tea_transports import NOBLOCK, TransportTimeoutError

    pattern = "direct" if name == "unix" else "pub_sub"
    sub = _transport(name, pattern, {"high_water_mark": hwm, "receive_timeout": TIMEOUT_MS})
    sub.connect(endpoint)
    many, one = sub.receive_many, sub.receive

    def receive() -> List[bytes]:
        if batched:
            try:
                return many(4096)
            except TransportTimeoutError:
                return []
        return _one_at_a_time(one, lambda: one(flags=NOBLOCK), TransportTimeoutError)

    return receive, sub.close


#: a per-message receiver hands the harness what one call after another returns, up to
#: this many: still one receive() per message, without the harness's own cost per message
#: (a list, an exception handler, a call: as much as a receive itself) hiding the difference
_RUN = 256


def _one_at_a_time(wait_one: Callable[[], bytes], next_one: Callable[[], bytes], nothing: Any) -> List[bytes]:
    """One message per call: the first waited for (up to TIMEOUT_MS), the rest while ready."""
    try:
        run = [wait_one()]
    except nothing:
        return []
    append = run.append
    try:
        for _ in range(_RUN - 1):
            append(next_one())
    except nothing:
        pass
    return run


def _raw_receiver(name: str, endpoint: str, hwm: int, batched: bool) -> Tuple[Receive, Callable[[], None]]:
    import zmq

    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    recv = sock.recv

    def receive() -> List[bytes]:
        return _one_at_a_time(recv, lambda: recv(zmq.NOBLOCK), zmq.Again)

    return receive, lambda: sock.close(linger=0)


def _nng_receiver(name: str, endpoint: str, hwm: int, batched: bool) -> Tuple[Receive, Callable[[], None]]:
    import pynng

    sock = pynng.Sub0(dial=endpoint, recv_timeout=TIMEOUT_MS, topics=b"")
    recv = sock.recv

    def receive() -> List[bytes]:
        try:
            return [recv()]
        except pynng.Timeout:
            return []

    return receive, sock.close


def _raw_fifo_receiver(
    name: str, endpoint: str, hwm: int, batched: bool
) -> Tuple[Receive, Callable[[], None]]:
    fd = os.open(endpoint[len("ipc://") :], os.O_RDONLY | os.O_NONBLOCK)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    unpack, read = _FRAME.unpack_from, os.read
    state: List[Any] = [b"", 0]  # bytes read, offset of the next frame

    def receive() -> List[bytes]:  # every whole frame buffered, up to _RUN, as the others
        buffer, start = state
        while True:
            run: List[bytes] = []
            while len(run) < _RUN and len(buffer) - start >= 4:
                end = start + 4 + unpack(buffer, start)[0]
                if end > len(buffer):
                    break
                run.append(buffer[start + 4 : end])
                start = end
            if run:
                state[1] = start
                return run
            try:
                chunk = read(fd, 1 << 16)
            except BlockingIOError:
                if not poller.poll(TIMEOUT_MS):
                    return []
                continue
            if not chunk:
                return []
            buffer, start = buffer[start:] + chunk, 0
            state[0], state[1] = buffer, 0

    return receive, lambda: os.close(fd)


def _slow_receiver(name: str, endpoint: str, hwm: int) -> Tuple[Receive, Callable[[], None]]:
    receive, close = _transport_receiver(name, endpoint, hwm, False)

    def slowly() -> List[bytes]:
        batch = receive()
        until = time.perf_counter() + 20e-6 * len(batch)  # ~20 us of work per message
        while time.perf_counter() < until:
            pass
        return batch

    return slowly, close


RECEIVERS = {
    "reference": lambda n, e, h: _transport_receiver(n, e, h, False),
    "reference-batched": lambda n, e, h: _transport_receiver(n, e, h, True),
    "raw-pyzmq": lambda n, e, h: _raw_receiver(n, e, h, False),
    "stream": lambda n, e, h: _transport_receiver("zeromq-stream", e, h, False),
    "pipe": lambda n, e, h: _transport_receiver("unix", e, h, False),
    "raw-fifo": lambda n, e, h: _raw_fifo_receiver(n, e, h, False),
    "pynng": lambda n, e, h: _nng_receiver(n, e, h, False),
    "reference-slow": _slow_receiver,
}


def subscriber_main(
    conn: Connection, kind: str, name: str, endpoint: str, hwm: int, latency: bool = False
) -> None:
    """Count (or time, with ``latency``) the data between START and END; report to ``conn``.

    Reports ``(count, seconds from first to last)``, or with ``latency`` the one-way
    latencies in ns (each message starts with its send time from ``time.monotonic_ns``).
    """
    receive, close = RECEIVERS[kind](name, endpoint, hwm)
    try:
        conn.send("ready")
        deadline = time.monotonic() + 60
        while START not in receive():
            if time.monotonic() > deadline:
                raise TimeoutError("no START arrived")
        conn.send("started")
        count, first, last, quiet_since = 0, 0.0, 0.0, time.monotonic()
        latencies: List[int] = []
        done = False
        while not done:
            batch = receive()
            now = time.perf_counter()
            if not batch:
                if count and time.monotonic() - quiet_since > QUIET_S:
                    break
                if time.monotonic() > deadline + 120:
                    break
                continue
            quiet_since = time.monotonic()
            for message in batch:
                if message == END:
                    done = True
                    break
                if message == START:
                    continue
                if not count:
                    first = now
                count += 1
                last = now
                if latency:
                    latencies.append(time.monotonic_ns() - int(message[:20]))
        conn.send(latencies if latency else (count, last - first))
    finally:
        close()


def pid_rss(pid: Optional[int] = None) -> int:
    """Resident set size in bytes (Linux /proc; psutil elsewhere)."""
    try:
        with open(f"/proc/{pid or os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
