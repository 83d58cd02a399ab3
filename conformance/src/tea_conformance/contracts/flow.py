"""Flow control and diagnostics: high water marks, the two HWM policies, linger,
the slow-subscriber warning, statistics and reconnection (AC5, AC9, AC10).

Only inproc makes the high water mark exact; over ipc and tcp the kernel's socket
buffers hold more (see ZEROMQ_FACTS.md), so bounds here are far from exact counts but
far below what an unbounded queue delivers.
"""

from __future__ import annotations

import logging
from typing import List

from tea_transports import NOBLOCK, AddressInUseError, Transport, TransportTimeoutError

from ..expect import (
    BIG_PAYLOAD,
    BURST,
    STALL_PAYLOAD,
    expect_at_once,
    expect_delivered_concurrently,
    expect_equal,
    kernel_allowance,
    linked,
    numbered,
    queue_bound,
    send_all,
    stall_burst,
)
from ..harness import PROBE, ConformanceFailure, Harness
from ..scenario import ONE_TO_ONE
from . import contract

_STALL_MESSAGES = 20_000
#: messages of BIG_PAYLOAD sent to a stalled subscriber when measuring a queue bound
_BOUND_BURST = 3000
#: receive quanta (50 ms) of silence after which a reading subscriber's missing messages
#: count as dropped rather than late
_QUIET_QUANTA = 100


def expect_bounded(
    h: Harness, hwm_pub: int, hwm_sub: int, burst: int = _BOUND_BURST, defaults: bool = False
) -> int:
    """A stalled subscriber gets at most :func:`queue_bound` of a burst; return how many.
    With ``defaults`` the high water marks are not given: the documented default must apply."""
    pub = h.publisher() if defaults else h.publisher(high_water_mark=hwm_pub)
    sub = h.subscriber(pub) if defaults else h.subscriber(pub, high_water_mark=hwm_sub)
    h.sync(pub, [sub])
    stall_burst(pub, burst, BIG_PAYLOAD)
    delivered = len(h.drain_quiet(sub))
    bound = queue_bound(h.protocol, hwm_pub, hwm_sub, len(BIG_PAYLOAD))
    if delivered > bound:
        raise ConformanceFailure(
            f"with high_water_mark={hwm_pub} (publisher) and {hwm_sub} (subscriber) a stalled subscriber "
            f"got {delivered} of {burst} messages of {len(BIG_PAYLOAD) // 1024} KiB over {h.protocol}; "
            f"the queues and the kernel's buffers ({kernel_allowance(h.protocol) // 1024} KiB) hold at most "
            f"{bound}: the high water mark is not applied"
        )
    if delivered == 0:
        raise ConformanceFailure("a stalled subscriber got nothing at all once it resumed reading")
    return delivered


@contract(
    "INT-008",
    ac="AC5",
    priority="P2",
    title="a stalled subscriber's backlog stays bounded by the high water mark",
    features={"high_water_mark"},
)
def stalled_subscriber_is_bounded(h: Harness) -> None:
    expect_bounded(h, 10, 10)


@contract(
    "CONF-INT-010",
    ac="delivery",
    priority="P0",
    title="one stalled subscriber does not starve the others (drop mode)",
    features={"high_water_mark"},
)
def slow_subscriber_isolated(h: Harness) -> None:
    """Drop mode drops for the full subscriber only: a reading subscriber next to a stalled
    one gets every message, as long as it keeps its own queue far below the mark (the
    default 1,000; it reads each round of 50 before the next is sent — ZeroMQ acknowledges
    reads in steps of half the mark, so a queue near the mark may drop though read)."""
    pub = h.publisher()
    healthy = h.subscriber(pub)
    stalled = h.subscriber(pub, high_water_mark=10)
    h.sync(pub, [healthy, stalled])
    got: List[bytes] = []
    rounds, size = 60, 50  # 3,000 messages of 64 KiB: past the queues and kernel buffers early on
    for round_no in range(rounds):
        batch = [b"%02d-%02d" % (round_no, i) + BIG_PAYLOAD for i in range(size)]
        send_all(pub, batch)
        arrived = h.drain_quiet(healthy, _QUIET_QUANTA, until=len(batch))
        got += arrived
        if len(arrived) < len(batch):  # quiet for seconds: the rest was dropped, not delayed
            break
    expected = [b"%02d-%02d" % (r, i) + BIG_PAYLOAD for r in range(rounds) for i in range(size)]
    expect_equal(got, expected, "the reading subscriber next to a stalled one")
    if len(h.drain_quiet(stalled)) >= len(expected):
        raise ConformanceFailure(
            f"the stalled subscriber (high_water_mark=10) got all {len(expected)} messages of 64 KiB: "
            f"its queue never filled, so drop mode was never exercised"
        )


@contract(
    "CONF-INT-005",
    ac="delivery",
    priority="P0",
    title="the publisher never blocks in drop mode",
    features={"high_water_mark"},
)
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


def _every_logger_end() -> List[logging.Logger]:
    """The root and every logger that does not propagate: a handler on each sees every record."""
    loggers = [logging.getLogger()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate:
            loggers.append(logger)
    return loggers


@contract(
    "UNIT-015",
    ac="AC10",
    priority="P2",
    title=(
        "a WARNING is logged when a subscriber reaches the high water mark, on any logger "
        "(propagating or not): none before (at bind, connect, or a send with room), its text "
        "contains str(publisher.endpoint), and at most 100 for one stall of 5,000 messages "
        "(rate limited)"
    ),
    features={"slow_subscriber_warning"},
    protocols=("inproc", "ipc", "tcp"),
)
def warns_on_high_water_mark(h: Harness) -> None:
    """The WARNING must follow a real high-water-mark event (not bind(), not the first send),
    and is captured even from a logger that does not propagate to the root."""
    handler = _Records()
    loggers = _every_logger_end()  # the transport's module logger exists once its class is loaded
    for logger in loggers:
        logger.addHandler(handler)
    try:
        pub, (sub,) = linked(h, high_water_mark=10)
        send_all(pub, numbered(3))  # below the mark, to a subscriber that reads
        h.collect(sub, 3)
        h.drain_quiet(sub)
        if handler.records:
            raise ConformanceFailure(
                f"a WARNING was logged before any subscriber reached the high water mark (at bind, "
                f"connect or a send it had room for): {handler.records[0].getMessage()!r}"
            )
        stall_burst(pub, 5000)  # now it stops reading
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
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


@contract(
    "INT-011",
    ac="AC10",
    priority="P3",
    title="get_stats() reports traffic, subscriptions and high-water-mark events",
    features={"high_water_mark", "stats"},
)
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
    # queues may live on either side: the publisher or the stalled subscriber may count it
    if pub.get_stats().hwm_reached < 1 and stalled.get_stats().hwm_reached < 1:
        raise ConformanceFailure(
            "5,000 sends to a stalled subscriber (hwm 10) left hwm_reached at 0 on both the publisher "
            "and the stalled subscriber"
        )


@contract(
    "CONF-INT-013",
    ac="AC10",
    priority="P2",
    title="get_stats() counts traffic on the side that sent and the side that received",
    patterns=ONE_TO_ONE,
    features={"stats"},
)
def stats_count_traffic(h: Harness) -> None:
    """Only ``stats`` is needed: what was sent is counted by the sender, what was received by
    the receiver (probes included, since they are messages too)."""
    pub, (sub,) = linked(h)
    before_pub, before_sub = pub.get_stats(), sub.get_stats()
    messages = numbered(50)
    send_all(pub, messages)
    expect_equal(h.collect(sub, 50), messages)
    after_pub, after_sub = pub.get_stats(), sub.get_stats()
    counted = {
        "publisher messages_sent": (after_pub.messages_sent - before_pub.messages_sent, 50),
        "publisher bytes_sent": (after_pub.bytes_sent - before_pub.bytes_sent, sum(map(len, messages))),
    }
    wrong = {k: v for k, v in counted.items() if v[0] != v[1]}
    received = after_sub.messages_received - before_sub.messages_received
    if received < 50:
        wrong["subscriber messages_received"] = (received, 50)
    if after_sub.bytes_received - before_sub.bytes_received < sum(map(len, messages)):
        wrong["subscriber bytes_received"] = (after_sub.bytes_received - before_sub.bytes_received, 0)
    if wrong:
        raise ConformanceFailure(f"get_stats() counters (change, expected at least): {wrong}")


@contract(
    "CONF-INT-014",
    ac="AC3",
    priority="P1",
    title="wait_for_subscribers() counts subscribers in and out, and what follows it arrives",
    features={"subscriber_count"},
)
def subscriber_count(h: Harness) -> None:
    """The slow joiner's cure: once wait_for_subscribers(n) returns, n subscribers get what
    follows, without any probe; the count falls back when they leave."""
    pub = h.publisher()
    _expect_no_subscriber(pub, "before any subscriber connected")
    subs = [h.subscriber(pub) for _ in range(2)]
    got = pub.wait_for_subscribers(2, timeout=max(0.1, h.remaining()))
    if got < 2:
        raise ConformanceFailure(f"wait_for_subscribers(2) returned {got}")
    pub.send(b"first")
    for i, sub in enumerate(subs):
        expect_equal(h.collect(sub, 1), [b"first"], f"subscriber {i + 1} of 2, right after the wait")
    for sub in subs:
        sub.close()

    def nobody_left() -> bool:
        try:
            pub.wait_for_subscribers(1, timeout=0.05)
        except TransportTimeoutError:
            return True
        return False

    h.eventually(nobody_left, "the count fell back to 0 after both subscribers closed")


def _expect_no_subscriber(pub: Transport, when: str) -> None:
    try:
        got = pub.wait_for_subscribers(1, timeout=0.2)
    except TransportTimeoutError:
        return
    raise ConformanceFailure(f"wait_for_subscribers(1) returned {got} {when}")


@contract(
    "CONF-INT-006",
    ac="delivery",
    priority="P1",
    title=(
        "block mode loses nothing with a slow subscriber: send() waits for room, and "
        "send(NOBLOCK) raises TransportTimeoutError at once when a queue is full"
    ),
    features={"lossless"},
)
def block_mode_is_lossless(h: Harness) -> None:
    # no send_timeout: a loaded machine slows the reader, and block mode must then wait, not
    # fail (the scenario's deadline bounds the wait); NOBLOCK shows the queue full instead
    pub, (sub,) = linked(h, high_water_mark=10, on_hwm="block", send_timeout=None)

    def fill() -> int:  # NOBLOCK sends to a stalled subscriber until its queue is full
        sent = 0
        try:
            while sent < 50_000:
                pub.send(b"%06d" % sent + STALL_PAYLOAD, NOBLOCK)
                sent += 1
        except TransportTimeoutError:
            return sent
        raise ConformanceFailure("50,000 sends to a stalled subscriber never blocked in block mode")

    outcome = expect_at_once(
        h,
        fill,
        "in block mode, send(NOBLOCK) to a subscriber whose queue is full",
        lambda: h.drain_quiet(sub),
    )
    if isinstance(outcome, BaseException):
        raise outcome
    accepted = outcome
    expect_equal(
        h.collect(sub, accepted),
        [b"%06d" % i + STALL_PAYLOAD for i in range(accepted)],
        "the stalled subscriber, once resumed (every accepted message)",
    )
    expect_delivered_concurrently(h, pub, sub, numbered(20_000), "the slow subscriber in block mode")


@contract(
    "CONF-INT-007",
    ac="delivery",
    priority="P2",
    title="subscribers survive a publisher restart",
    features={"reconnect"},
    protocols=("ipc", "tcp"),
    grade="SHOULD",
)
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


@contract(
    "CONF-INT-008",
    ac="delivery",
    priority="P2",
    title="with linger, messages sent just before close() arrive",
    features={"linger"},
    protocols=("ipc", "tcp"),
)
def linger_delivers_on_close(h: Harness) -> None:
    pub, (sub,) = linked(h, linger=5000)
    messages = numbered(BURST)
    send_all(pub, messages)
    pub.close()
    expect_equal(
        h.collect(sub, len(messages)), messages, "the subscriber after the publisher closed with linger"
    )
