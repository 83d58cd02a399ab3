"""Counting subscribers honestly: duplicates return to zero, XSUB frames that are not
subscriptions count nothing."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import zmq
from tea_transports import (
    TransportTimeoutError,
)
from waits import in_thread, until

Make = Callable[..., Any]


# -- subscriber counts -----------------------------------------------------------------------------


def test_duplicate_subscription_count_returns_to_zero(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    raw = zmq.Context.instance().socket(zmq.SUB)
    raw.connect(pub.endpoint)
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.setsockopt(zmq.SUBSCRIBE, b"")  # libzmq passes both on; only one cancel will follow
    pub.wait_for_subscribers(1, timeout=5)
    raw.close(linger=0)
    assert until(lambda: pub.get_stats().subscriptions == 0, timeout=10), (
        f"still {pub.get_stats().subscriptions} subscription(s) after every subscriber left"
    )
    assert (
        in_thread(lambda: pub.wait_for_subscribers(1, timeout=0.5), 5)[0].__class__ is TransportTimeoutError
    )


def test_xsub_frames_that_are_not_subscriptions_change_nothing(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    peer = zmq.Context.instance().socket(zmq.XSUB)
    try:
        peer.connect(pub.endpoint)
        peer.send(b"\x01")
        pub.wait_for_subscribers(1, timeout=5)
        peer.send(b"")  # an empty frame
        peer.send(b"hello")  # a frame that is neither a subscription nor a cancel
        peer.send(b"\x00never-subscribed")  # a cancel of a prefix nobody subscribed
        peer.send(b"\x01fence")
        assert pub.wait_for_subscribers(2, timeout=5) == 2
        assert pub.get_stats().subscriptions == 2
    finally:
        peer.close(linger=0)


@pytest.mark.parametrize("when", ["at connect", "after connect"])
def test_every_filter_beyond_the_high_water_mark_reaches_the_publisher(
    zmq_transport: Make, when: str
) -> None:
    # a SUB's subscriptions travel through its send mark; libzmq drops what does not fit
    prefixes = [b"f%04d." % i for i in range(1500)]  # the default mark is 1,000
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    sub = zmq_transport(subscribe_filter=prefixes if when == "at connect" else b"f0000.")
    sub.connect(pub.endpoint)
    for prefix in prefixes[1:] if when == "after connect" else ():
        sub.subscribe(prefix)
    assert pub.wait_for_subscribers(1500, timeout=10) == 1500
