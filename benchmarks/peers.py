"""The two ends of a benchmark, for each contender: the reference (or any --transport)
and raw pyzmq doing the same work.

A subscriber runs in its own process: it waits for the START message, then counts
messages until END or a quiet second, and reports (messages, seconds from the first
counted message to the last).
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Tuple

START = b"\xffSTART"
END = b"\xffEND"
QUIET_MS = 1000


class ReferencePublisher:
    def __init__(self, name: str, address: str, hwm: int, **options: Any) -> None:
        from tea_transports import TransportConfig, create_transport

        config = TransportConfig(
            transport_type=name, pattern="pub_sub", options={"high_water_mark": hwm, **options}
        )
        self.transport = create_transport(config)
        self.transport.bind(address)
        self.endpoint = str(self.transport.endpoint)
        self.send: Callable[[bytes], Any] = self.transport.send

    def wait(self, subscribers: int) -> None:
        self.transport.wait_for_subscribers(subscribers, timeout=30)

    def close(self) -> None:
        self.transport.close()


class RawPublisher:
    def __init__(self, name: str, address: str, hwm: int, **options: Any) -> None:
        import zmq

        self.socket = zmq.Context.instance().socket(zmq.XPUB)  # XPUB only to see subscriptions
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        self.socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.socket.bind(address)
        self.endpoint = self.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.send = self.socket.send

    def wait(self, subscribers: int) -> None:
        import zmq

        self.socket.setsockopt(zmq.RCVTIMEO, 30_000)
        for _ in range(subscribers):
            self.socket.recv()

    def close(self) -> None:
        self.socket.close(linger=0)


PUBLISHERS = {"reference": ReferencePublisher, "raw-pyzmq": RawPublisher}


def _reference_receiver(name: str, endpoint: str, hwm: int) -> Tuple[Callable[[], bytes], Callable[[], None]]:
    from tea_transports import TransportConfig, TransportTimeoutError, create_transport

    sub = create_transport(
        TransportConfig(
            transport_type=name,
            pattern="pub_sub",
            options={"high_water_mark": hwm, "receive_timeout": QUIET_MS},
        )
    )
    sub.connect(endpoint)

    def receive() -> bytes:
        try:
            return sub.receive()
        except TransportTimeoutError:
            return END

    return receive, sub.close


def _raw_receiver(name: str, endpoint: str, hwm: int) -> Tuple[Callable[[], bytes], Callable[[], None]]:
    import zmq

    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.RCVTIMEO, QUIET_MS)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)

    def receive() -> bytes:
        try:
            return sock.recv()  # type: ignore[no-any-return]
        except zmq.Again:
            return END

    return receive, lambda: sock.close(linger=0)


RECEIVERS = {"reference": _reference_receiver, "raw-pyzmq": _raw_receiver}


def subscriber_main(conn: Connection, kind: str, name: str, endpoint: str, hwm: int) -> None:
    """Child process: count messages until END; report (count, first-to-last seconds)."""
    receive, close = RECEIVERS[kind](name, endpoint, hwm)
    try:
        conn.send("ready")
        while receive() != START:
            pass
        count, first, last = 0, time.perf_counter(), 0.0
        while True:
            message = receive()
            if message == END:
                break
            count += 1
            last = time.perf_counter()
        conn.send((count, last - first))
    finally:
        close()
