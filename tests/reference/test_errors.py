"""Errors a caller can act on: out-of-range options, use after close, bad prefixes, and
recovery from an oversize message."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, List

import pytest
import zmq
from tea_transports import (
    ConfigurationError,
    TransportClosedError,
    TransportConfig,
    TransportTimeoutError,
    create_transport,
)
from waits import until

Make = Callable[..., Any]


# -- every receive path notices an oversize message and reconnects ---------------------------------


@pytest.mark.parametrize("path", ["receive", "receive_many"])
def test_oversize_recovery_without_waiting(zmq_transport: Make, path: str) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    sub = zmq_transport(max_message_size=1000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"x" * 10_000)  # over the limit: libzmq drops the connection, for good
    assert until(lambda: pub.get_stats().subscriptions == 0)
    read = (lambda: sub.receive(flags=zmq.NOBLOCK)) if path == "receive" else (
        lambda: sub.receive_many(flags=zmq.NOBLOCK)
    )  # fmt: skip
    got: List[Any] = []

    def polled() -> bool:  # a subscriber that only ever polls without waiting
        pub.send(b"later")
        with contextlib.suppress(TransportTimeoutError):
            got.append(read())
        return bool(got)

    assert until(polled), "no message after the oversize one: the subscriber never reconnected"
    assert pub.get_stats().subscriptions == 1


# -- errors that are TransportErrors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("high_water_mark", 2**31),
        ("linger", 2**31),
        ("connect_timeout", 2**31),
        ("receive_timeout", 2**31),
        ("send_timeout", 2**31),
    ],
)
def test_standard_options_beyond_libzmq_int_fail_at_config(option: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"{option}.*2147483647"):
        TransportConfig(transport_type="zeromq", pattern="pub_sub", options={option: value})


@pytest.mark.parametrize(
    ("option", "value"),
    [("heartbeat_interval", 2**31), ("heartbeat_timeout", 2**31), ("reconnect_interval_max", 2**31),
     ("max_message_size", 2**63)],
)  # fmt: skip
def test_zeromq_options_beyond_range_fail_at_construction(option: str, value: int) -> None:
    config = TransportConfig(transport_type="zeromq", pattern="pub_sub", options={option: value})
    with pytest.raises(ConfigurationError, match=rf"{option}.* to \d+"):
        create_transport(config)


def test_get_stats_after_close(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://t12-stats")
    pub.close()
    with pytest.raises(TransportClosedError, match="closed"):
        pub.get_stats()


def test_subscribe_with_a_non_prefix_is_a_type_error(zmq_transport: Make) -> None:
    sub = zmq_transport()
    sub.connect("inproc://t12-subscribe")
    for call in (sub.subscribe, sub.unsubscribe):
        with pytest.raises(TypeError, match="bytes or str"):
            call(5)
