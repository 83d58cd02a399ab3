"""Errors a caller can act on: out-of-range options, use after close, bad prefixes, and
recovery from an oversize message."""

from __future__ import annotations

import contextlib
import copy
import pickle
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


# -- what cannot be done to a transport says so --------------------------------------------------


@pytest.mark.parametrize("kind", ["zeromq", "unix"])
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, pickle.dumps])
def test_a_transport_cannot_be_copied(kind: str, how: Callable[[Any], Any]) -> None:
    config = TransportConfig(transport_type=kind, pattern="pub_sub" if kind == "zeromq" else "direct")
    with create_transport(config) as transport:
        if kind == "zeromq":
            transport.bind("tcp://127.0.0.1:*")
        with pytest.raises(TypeError, match="cannot be copied or pickled: it owns its socket or pipe"):
            how(transport)
        assert transport.is_connected == (kind == "zeromq")  # the original is untouched


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (("a",), "count must be an int >= 0, got 'a'"),
        ((-1,), "count must be an int >= 0, got -1"),
        ((True,), "count must be an int >= 0, got True"),
        ((1, "x"), "timeout must be None .* got 'x'"),
        ((1, -2), "timeout must be None .* got -2"),
        ((1, float("nan")), "timeout must be None .* got nan"),
    ],
)
def test_wait_for_subscribers_refuses_what_is_no_count_or_timeout(
    zmq_transport: Make, arguments: Any, problem: str
) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    with pytest.raises(TypeError, match=problem):
        pub.wait_for_subscribers(*arguments)
    assert pub.wait_for_subscribers(0, 0) == 0  # and it still works
