"""Delivery: links, fan-out, order, late joiners, payloads, isolation, closing across threads."""

from __future__ import annotations

import random
import threading
from contextlib import suppress
from typing import List

from tea_transports import AddressInUseError, ConfigurationError, TransportError, TransportTimeoutError

from ..expect import BURST, expect_equal, expect_raises, linked, numbered, send_all
from ..harness import PROBE, ConformanceFailure, Harness, open_descriptors
from ..processes import close_during_receive, remote_fan_out
from ..scenario import ONE_TO_ONE
from . import contract


@contract(
    "INT-001", ac="AC2", priority="P1", title="bind then connect gives a working link", patterns=ONE_TO_ONE
)
def bind_then_connect_links(h: Harness) -> None:
    pub, subs = linked(h)
    pub.send(b"hello")
    expect_equal(h.collect(subs[0], 1), [b"hello"])


@contract(
    "INT-002",
    ac="AC3",
    priority="P0",
    title="1 publisher, 1 subscriber: all 100 messages arrive",
    patterns=ONE_TO_ONE,
)
def one_subscriber_gets_all(h: Harness) -> None:
    pub, subs = linked(h)
    messages = numbered(100)
    send_all(pub, messages)
    expect_equal(h.collect(subs[0], 100), messages)


@contract("INT-003", ac="AC3", priority="P0", title="1 publisher, 3 subscribers: each gets all 100")
def three_subscribers_get_all(h: Harness) -> None:
    pub, subs = linked(h, subscribers=3)
    messages = numbered(100)
    send_all(pub, messages)
    for i, sub in enumerate(subs):
        expect_equal(h.collect(sub, 100), messages, f"subscriber {i + 1} of 3")


@contract("INT-004", ac="AC3", priority="P1", title="order is preserved per subscriber", patterns=ONE_TO_ONE)
def order_is_preserved(h: Harness) -> None:
    pub, subs = linked(h, subscribers=2 if h.pattern == "pub_sub" else 1)
    messages = numbered(BURST)
    send_all(pub, messages)
    for i, sub in enumerate(subs):
        got = h.collect(sub, len(messages))
        inversions = sum(1 for a, b in zip(got, got[1:]) if a >= b)
        if inversions:
            raise ConformanceFailure(f"subscriber {i + 1}: {inversions} message(s) arrived out of order")
        expect_equal(got, messages, f"subscriber {i + 1}")


@contract(
    "INT-005", ac="AC3", priority="P1", title="a late subscriber gets only messages sent after it joined"
)
def late_subscriber(h: Harness) -> None:
    pub, (early,) = linked(h)
    before, after = numbered(50, b"before"), numbered(50, b"after")
    send_all(pub, before)
    late = h.subscriber(pub)
    h.sync(pub, [late])
    send_all(pub, after)
    expect_equal(h.collect(early, 100), before + after, "the early subscriber")
    pub.send(b"fence")
    got = h.collect_until(late, b"fence")
    stale = [m for m in got if m.startswith(b"before")]
    if stale:
        raise ConformanceFailure(f"the late subscriber got {len(stale)} message(s) sent before it joined")
    expect_equal(got, after, "the late subscriber")


@contract(
    "E2E-001",
    ac="AC3",
    priority="P0",
    title="fan-out to 5 subscribers in 5 separate processes",
    cross_process=True,
)
def fan_out_to_processes(h: Harness) -> None:
    remote_fan_out(h, [b""] * 5, numbered(100))


@contract(
    "CONF-INT-002",
    ac="delivery",
    priority="P0",
    title="payloads arrive intact: empty, every byte value, 1 MiB",
    patterns=ONE_TO_ONE,
)
def payloads_intact(h: Harness) -> None:
    pub, subs = linked(h)
    rng = random.Random(20260108)
    payloads = [b"", bytes(range(256)), bytes(range(255, -1, -1)), rng.randbytes(1 << 20)]
    payloads += [bytes([value]) for value in range(256)]
    # sent from a thread: a transport with backpressure (a pipe) may block until we read
    sender = threading.Thread(target=send_all, args=(pub, payloads), daemon=True)
    sender.start()
    got = h.collect(subs[0], len(payloads), "payload")
    sender.join(max(0.0, h.remaining()))
    for i, (received, sent) in enumerate(zip(got, payloads)):
        if received != sent:
            where = next(
                (j for j, (a, b) in enumerate(zip(received, sent)) if a != b), min(len(received), len(sent))
            )
            raise ConformanceFailure(
                f"payload {i} ({len(sent)} bytes) arrived as {len(received)} bytes, "
                f"first difference at byte {where}"
            )


@contract(
    "CONF-INT-004",
    ac="delivery",
    priority="P1",
    title="no cross-talk between two publishers",
    patterns=ONE_TO_ONE,
)
def no_cross_talk(h: Harness) -> None:
    pub_a, (sub_a,) = linked(h)
    pub_b, (sub_b,) = linked(h)
    send_all(pub_a, numbered(20, b"a"))
    send_all(pub_b, numbered(20, b"b"))
    pub_a.send(b"end")
    pub_b.send(b"end")
    expect_equal(h.collect_until(sub_a, b"end"), numbered(20, b"a"), "the subscriber of publisher A")
    expect_equal(h.collect_until(sub_b, b"end"), numbered(20, b"b"), "the subscriber of publisher B")


@contract(
    "CONF-INT-001",
    ac="lifecycle",
    priority="P0",
    title=("close() from another thread ends a blocked receive, in a process a crash cannot take down"),
    patterns=ONE_TO_ONE,
)
def close_ends_blocked_receive(h: Harness) -> None:
    exitcode, outcomes = close_during_receive(h, rounds=20)
    bad = [o for o in outcomes if o != "closed"]
    if exitcode != 0 or bad or len(outcomes) != 20:
        raise ConformanceFailure(
            f"close() from another thread during receive(): exit code {exitcode}, "
            f"{len(outcomes) - len(bad)} of 20 rounds ended with TransportClosedError; others: {bad[:3]}"
        )


@contract(
    "UNIT-016",
    ac="risk",
    priority="P0",
    title="a failure during bind/send/receive leaves no descriptor open",
    patterns=ONE_TO_ONE,
    platforms=("linux", "darwin"),
)
def failures_leave_nothing_open(h: Harness) -> None:
    pub, (sub,) = linked(h)
    before = open_descriptors()
    for _ in range(20):
        refused = h.new()
        try:
            refused.bind(str(pub.endpoint))
        except AddressInUseError:
            pass
        else:
            raise ConformanceFailure("binding an address in use succeeded")
        refused.close()
        for bad in ("text", None):
            with suppress(TypeError, TransportError):
                pub.send(bad)  # type: ignore[arg-type]
    with suppress(TransportError):
        sub.receive()  # nothing was sent: times out
    h.transports = [pub, sub]
    h.eventually(
        lambda: open_descriptors() <= before,
        f"descriptors return to {before} after 20 failed binds, bad sends and a receive timeout "
        f"(now {open_descriptors()})",
    )


@contract(
    "CONF-INT-009",
    ac="delivery",
    priority="P2",
    title="send_many() and receive_many() deliver in order, whole",
    patterns=ONE_TO_ONE,
)
def batches(h: Harness) -> None:
    pub, (sub,) = linked(h)
    messages = numbered(BURST)
    sent = pub.send_many(messages)
    if sent != sum(map(len, messages)):
        raise ConformanceFailure(f"send_many() returned {sent}, not the {sum(map(len, messages))} bytes sent")
    got: List[bytes] = []
    while len(got) < len(messages) and not h.expired():
        try:
            batch = sub.receive_many(64)
        except TransportTimeoutError:
            continue
        if not 1 <= len(batch) <= 64:
            raise ConformanceFailure(f"receive_many(64) returned {len(batch)} messages")
        got.extend(m for m in batch if not m.endswith(PROBE))
    expect_equal(got, messages, "the subscriber using receive_many()")


#: CONF-INT-015: messages in all, and at most this many unread at once. The high water
#: mark is set far above the whole stream: libzmq's mark is approximate (the writer learns
#: of the reader's progress late), so a stream near the mark may lose a message even in a
#: correct PUB/SUB; far below it, none may go missing.
LONG_STREAM, IN_FLIGHT = 20_000, 250


@contract(
    "CONF-INT-015",
    ac="delivery",
    priority="P1",
    title=(
        "a long stream far below the high water mark loses nothing, in drop mode too (the "
        "mark stays within a declared max_high_water_mark, and one above it is refused with "
        "ConfigurationError)"
    ),
    patterns=ONE_TO_ONE,
)
def long_stream_loses_nothing(h: Harness) -> None:
    # never above a limit the transport declares; a value above it must be refused
    limit = h.target.cls.capabilities.max_high_water_mark
    hwm = 4 * LONG_STREAM if limit is None else min(4 * LONG_STREAM, limit)
    if limit is not None:
        expect_refused_above(h, limit)
    in_flight = max(1, min(IN_FLIGHT, hwm // 8))
    pub, (sub,) = linked(h, high_water_mark=hwm)
    messages = numbered(LONG_STREAM, b"long")
    for start in range(0, LONG_STREAM, in_flight):
        chunk = messages[start : start + in_flight]
        send_all(pub, chunk)
        expect_equal(h.collect(sub, len(chunk)), chunk, f"the subscriber, from message {start} on")


def expect_refused_above(h: Harness, limit: int) -> None:
    """``high_water_mark`` above the declared limit raises ConfigurationError, at construction
    or at the latest at bind()."""

    def beyond() -> None:
        h.new(high_water_mark=limit + 1).bind(h.address())

    expect_raises(
        ConfigurationError,
        beyond,
        f"high_water_mark={limit + 1}, above the declared max_high_water_mark={limit}",
    )
