"""Across threads: a waiting call holds no lock, and close() during bind() leaves nothing listening."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from typing import Any, Callable, List

import zmq
from tea_transports import (
    TransportClosedError,
    TransportConfig,
    TransportTimeoutError,
    create_transport,
)
from waits import in_thread, until, waiting_in

Make = Callable[..., Any]


def _close_during_bind() -> List[str]:
    endpoints: List[str] = []
    for trial in range(600):
        transport = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
        start = threading.Barrier(2)

        def bind(t: Any = transport, barrier: threading.Barrier = start) -> None:
            barrier.wait(5)
            with contextlib.suppress(TransportClosedError):
                t.bind("tcp://127.0.0.1:*")

        binder = threading.Thread(target=bind)
        binder.start()
        start.wait(5)
        for _ in range(trial % 50 * 20):  # land close() at varying points of bind()
            pass
        transport.close()
        binder.join(10)
        assert transport.is_connected is False
        transport.close()
        if transport.endpoint:
            endpoints.append(transport.endpoint)
    return endpoints


def _assert_not_listening(endpoints: List[str]) -> None:
    def refused(endpoint: str) -> bool:
        host, port = endpoint[len("tcp://") :].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return True
        return False

    # libzmq closes a listener asynchronously: wait, with a deadline, for every port to close
    listening = [e for e in endpoints if not until(lambda e=e: refused(e), timeout=5)]
    assert not listening, f"{len(listening)} closed transport(s) still accept connections: {listening[:3]}"


# -- a waiting call holds no lock ------------------------------------------------------------------


def test_subscriber_wait_does_not_hold_the_lock(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://t3-sub")
    sub = zmq_transport(subscribe_filter=b"a", receive_timeout=20_000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    waiting: List[Any] = []
    receiver = threading.Thread(target=lambda: waiting.append(sub.receive()), daemon=True)
    receiver.start()
    # in its wait for a message, with the lock let go (it holds it again between 100 ms slices)
    assert until(lambda: waiting_in(receiver, "wait_ready")), "receive() never began to wait"
    # none of these may wait for the lock the waiting receive() would hold for 20 s
    assert in_thread(lambda: sub.subscribe(b"b")) == [None], "subscribe() blocked by a waiting receive()"
    (stats,) = in_thread(sub.get_stats)
    assert stats.role == "subscriber"
    (nothing,) = in_thread(lambda: sub.receive(flags=zmq.NOBLOCK))
    assert isinstance(nothing, TransportTimeoutError)
    pub.wait_for_subscribers(2, timeout=5)
    pub.send(b"b-wanted")
    receiver.join(10)
    assert waiting == [b"b-wanted"]


def test_publisher_wait_does_not_hold_the_lock(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    result: List[Any] = []
    waiter = threading.Thread(target=lambda: result.append(pub.wait_for_subscribers(1, timeout=20)))
    waiter.start()
    try:
        assert in_thread(lambda: pub.send(b"early", zmq.NOBLOCK)) == [5], "send(NOBLOCK) blocked"
        (stats,) = in_thread(pub.get_stats)
        assert stats.messages_sent == 1
        sub = zmq_transport()
        sub.connect(pub.endpoint)
    finally:
        waiter.join(25)
    assert result == [1]


def test_close_from_another_thread_still_ends_the_wait(zmq_transport: Make) -> None:
    for protocol_address in ("inproc://t3-close", "tcp://127.0.0.1:*"):
        pub = zmq_transport()
        pub.bind(protocol_address)
        sub = zmq_transport()
        sub.connect(pub.endpoint)
        ended: List[Any] = []
        receiver = threading.Thread(
            target=lambda s=sub, out=ended: out.append(in_thread(s.receive, 10)), daemon=True
        )
        receiver.start()
        sub.close()
        receiver.join(10)
        assert len(ended) == 1 and isinstance(ended[0][0], TransportClosedError), ended


# -- close() during bind() -------------------------------------------------------------------------


def test_close_during_bind_leaves_nothing_listening() -> None:
    # switch threads often, so close() lands inside bind() rather than before or after it
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        endpoints = _close_during_bind()
    finally:
        sys.setswitchinterval(previous)
    _assert_not_listening(endpoints)
