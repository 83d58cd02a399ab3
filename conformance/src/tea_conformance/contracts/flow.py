"""Flow control and diagnostics: high water marks, the two HWM policies, linger,
the slow-subscriber warning, statistics and reconnection (AC5, AC9, AC10).

Only inproc makes the high water mark exact; over ipc and tcp the kernel's socket
buffers hold more (see ZEROMQ_FACTS.md), so bounds here are far from exact counts but
far below what an unbounded queue delivers.
"""

from __future__ import annotations

import logging
from typing import Any, List

from tea_transports import NOBLOCK, AddressInUseError, Transport, TransportTimeoutError

from ..expect import (
    BURST,
    STALL_PAYLOAD,
    expect_delivered_concurrently,
    expect_equal,
    linked,
    numbered,
    send_all,
    stall_burst,
)
from ..harness import PROBE, ConformanceFailure, Harness
from . import contract

_STALL_MESSAGES = 20_000


def _stall(h: Harness, **options: Any) -> List[bytes]:
    """Publish a burst to a subscriber that does not read; return what it gets afterwards."""
    pub, (sub,) = linked(h, high_water_mark=10, **options)
    stall_burst(pub, _STALL_MESSAGES)
    return h.drain_quiet(sub)


@contract("INT-008")
def stalled_subscriber_is_bounded(h: Harness) -> None:
    delivered = len(_stall(h))
    bound = _STALL_MESSAGES // 2  # inproc gives exactly 20; kernel buffers hold ~1,000 more
    if delivered > bound:
        raise ConformanceFailure(
            f"with high_water_mark=10 a stalled subscriber still got {delivered} of {_STALL_MESSAGES} "
            f"messages ({len(STALL_PAYLOAD)} B each): its queue is not bounded"
        )
    if delivered == 0:
        raise ConformanceFailure("a stalled subscriber got nothing at all once it resumed reading")


@contract("CONF-INT-005")
def drop_mode_never_blocks(h: Harness) -> None:
    pub, (sub,) = linked(h, high_water_mark=10)
    for i in range(_STALL_MESSAGES):
        try:
            pub.send(b"%06d" % i, NOBLOCK)
        except TransportTimeoutError:
            raise ConformanceFailure(
                f"in drop mode a send would block after {i} messages to a stalled subscriber; "
                f"the publisher must drop for that subscriber instead"
            ) from None
    if not h.drain_quiet(sub):
        raise ConformanceFailure("the stalled subscriber got nothing once it resumed reading")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contract("UNIT-015")
def warns_on_high_water_mark(h: Harness) -> None:
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        pub, (_sub,) = linked(h, high_water_mark=10)
        stall_burst(pub, 5000)
    finally:
        root.removeHandler(handler)
    warnings = [r for r in handler.records if r.levelno >= logging.WARNING]
    if not warnings:
        raise ConformanceFailure(
            "no WARNING was logged while a stalled subscriber was at the high water mark"
        )
    if len(warnings) > 100:
        raise ConformanceFailure(f"{len(warnings)} WARNINGs for one stall: the warning must be rate limited")
    text = warnings[0].getMessage()
    if str(pub.endpoint) not in text:
        raise ConformanceFailure(f"the warning does not say which endpoint is affected: {text!r}")


@contract("INT-011")
def stats_report_traffic(h: Harness) -> None:
    pub, (sub,) = linked(h)
    before_pub, before_sub = pub.get_stats(), sub.get_stats()
    messages = numbered(100)
    send_all(pub, messages)
    returned = 0
    data = 0
    while data < len(messages):
        message = h.try_receive(sub)
        if message is None:
            if h.expired():
                raise ConformanceFailure(f"only {data} of 100 messages arrived")
            continue
        returned += 1
        data += not message.endswith(PROBE)
    after_pub, after_sub = pub.get_stats(), sub.get_stats()
    checks = {
        "publisher messages_sent": (after_pub.messages_sent - before_pub.messages_sent, 100),
        "publisher bytes_sent": (after_pub.bytes_sent - before_pub.bytes_sent, sum(map(len, messages))),
        "subscriber messages_received": (
            after_sub.messages_received - before_sub.messages_received,
            returned,
        ),
    }
    wrong = {k: v for k, v in checks.items() if v[0] != v[1]}
    if wrong:
        raise ConformanceFailure(f"get_stats() counters (change, expected): {wrong}")
    if (after_pub.role, after_sub.role) != ("publisher", "subscriber"):
        raise ConformanceFailure(f"get_stats().role is {after_pub.role!r}/{after_sub.role!r}")
    if after_pub.subscriptions is not None and after_pub.subscriptions < 1:
        raise ConformanceFailure(
            f"the publisher reports {after_pub.subscriptions} subscriptions with one connected"
        )
    stalled = h.subscriber(pub, high_water_mark=10)
    h.sync(pub, [stalled])
    stall_burst(pub, 5000)
    if pub.get_stats().hwm_reached < 1:
        raise ConformanceFailure("5,000 sends to a stalled subscriber (hwm 10) left hwm_reached at 0")


@contract("CONF-INT-006")
def block_mode_is_lossless(h: Harness) -> None:
    pub, (sub,) = linked(h, high_water_mark=10, on_hwm="block", send_timeout=100)
    accepted = 0
    try:
        while accepted < 50_000:
            pub.send(b"%06d" % accepted + STALL_PAYLOAD)
            accepted += 1
        raise ConformanceFailure("50,000 sends to a stalled subscriber never blocked in block mode")
    except TransportTimeoutError:
        pass
    expect_equal(
        h.collect(sub, accepted),
        [b"%06d" % i + STALL_PAYLOAD for i in range(accepted)],
        "the stalled subscriber, once resumed (every accepted message)",
    )
    expect_delivered_concurrently(h, pub, sub, numbered(20_000), "the slow subscriber in block mode")


@contract("CONF-INT-007")
def survives_publisher_restart(h: Harness) -> None:
    first = h.publisher()
    address = str(first.endpoint)
    sub = h.subscriber(first)
    h.sync(first, [sub])
    first.close()
    # libzmq releases a closed listener asynchronously: the restart may wait for the port
    second = h.new()
    h.eventually(lambda: _bound(second, address), f"{address} is free again after the publisher closed")
    h.sync(second, [sub])  # the subscriber reconnected by itself
    send_all(second, numbered(10))
    expect_equal(h.collect(sub, 10), numbered(10), "the subscriber after the publisher restarted")


def _bound(transport: Transport, address: str) -> bool:
    try:
        transport.bind(address)
    except AddressInUseError:
        return False
    return True


@contract("CONF-INT-008")
def linger_delivers_on_close(h: Harness) -> None:
    pub, (sub,) = linked(h, linger=5000)
    messages = numbered(BURST)
    send_all(pub, messages)
    pub.close()
    expect_equal(
        h.collect(sub, len(messages)), messages, "the subscriber after the publisher closed with linger"
    )
