"""The ZeroMQ transport's methods as a user holds them: the transport is a facade over the role
bind()/connect() made, and that must not show. A bound method keeps its transport working
after every other reference is gone, and a patch of the class or of the instance sees every
call, before and after bind()/connect()."""

from __future__ import annotations

import contextlib
import gc
import time
import uuid
from typing import Any, Callable, List, Tuple, cast
from unittest import mock

import pytest
from tea_transports import TransportConfig, TransportTimeoutError, create_transport
from tea_transports.zeromq import ZeroMQPubSubTransport, ZeroMQStreamTransport

MODES = ["zeromq", "zeromq-stream"]
CLASSES = {"zeromq": ZeroMQPubSubTransport, "zeromq-stream": ZeroMQStreamTransport}


def _ends(mode: str) -> Tuple[Callable[..., int], Callable[..., bytes]]:
    """A publisher's send() and a subscriber's receive() (its timeout 50 ms), joined; the
    transports themselves are not kept: the bound methods are all that refers to them."""
    address = f"inproc://facade-{uuid.uuid4().hex}"
    pub = create_transport(TransportConfig(transport_type=mode, pattern="pub_sub", options={"linger": 0}))
    sub = create_transport(
        TransportConfig(transport_type=mode, pattern="pub_sub", options={"receive_timeout": 50})
    )
    pub.bind(address)
    sub.connect(address)
    pub.wait_for_subscribers(1, timeout=5)
    return pub.send, sub.receive


@pytest.mark.parametrize("mode", MODES)
def test_a_bound_method_keeps_its_transport_working(mode: str) -> None:
    send, receive = _ends(mode)
    gc.collect()  # nothing but the bound methods refers to the transports now
    try:
        with pytest.raises(TransportTimeoutError):
            receive()  # a wait: the transport's lock, socket and wake-up pair, all still there
        for i in range(3):
            send(b"m%d" % i)
        got: List[bytes] = []
        deadline = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < deadline:
            with contextlib.suppress(TransportTimeoutError):
                got.append(receive())
        assert got == [b"m0", b"m1", b"m2"]
        publisher = cast(Any, send).__self__
        assert publisher.is_connected and publisher.get_stats().messages_sent == 3
    finally:
        for method in (send, receive):
            cast(Any, method).__self__.close()


@pytest.mark.parametrize("patch_after_bind", [False, True])
def test_a_patch_of_the_class_sees_every_call(patch_after_bind: bool) -> None:
    pub = ZeroMQPubSubTransport()
    try:
        if patch_after_bind:
            pub.bind("tcp://127.0.0.1:*")
        with mock.patch.object(ZeroMQPubSubTransport, "send", autospec=True) as spy:
            if not patch_after_bind:
                pub.bind("tcp://127.0.0.1:*")
            pub.send(b"x")
        assert spy.call_count == 1
    finally:
        pub.close()


def test_a_patch_of_the_instance_made_before_bind_sees_every_call() -> None:
    pub = ZeroMQPubSubTransport()
    try:
        with mock.patch.object(pub, "send", wraps=pub.send) as spy:
            pub.bind("tcp://127.0.0.1:*")
            pub.send(b"x")
        assert spy.call_count == 1
        assert pub.send(b"y") == 1  # and the transport's own send() is back
    finally:
        pub.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_subclass_that_overrides_send_and_receive_sees_every_call(mode: str) -> None:
    calls: list[str] = []

    class Traced(CLASSES[mode]):  # type: ignore[misc,valid-type]
        def send(self, data: Any, flags: int = 0) -> int:
            calls.append("send")
            return int(super().send(data, flags))

        def receive(self, size: int = 4096, flags: int = 0) -> bytes:
            calls.append("receive")
            return bytes(super().receive(size, flags))

    config = TransportConfig(transport_type=mode, pattern="pub_sub", options={"receive_timeout": 5000})
    pub, sub = Traced(config), Traced(config)
    try:
        address = f"inproc://facade-{uuid.uuid4().hex}"
        pub.bind(address)
        sub.connect(address)
        pub.wait_for_subscribers(1, timeout=5)
        pub.send(b"x")
        assert sub.receive() == b"x"
        assert calls == ["send", "receive"]
    finally:
        pub.close()
        sub.close()
