"""Joining under stress: a subscription that must take effect, exactly, whatever the queue,
the process, the number of filters, the size limit, or a restart of the publisher.

Each checks what a subscriber of a PUB/SUB is promised once its subscription is known to
be live: every later message for it arrives (no gap), and none sent before it (nothing
from before). "Known to be live" is what the transport offers: a probe under the new
prefix that arrives, or the publisher's own count (``wait_for_subscribers``). The
deadlines here only end a scenario that hangs; nothing waits for a guessed time.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from multiprocessing.connection import Connection
from typing import List, Optional, Sequence

from tea_transports import AddressInUseError, Transport, TransportTimeoutError

from ..expect import STALL_PAYLOAD, expect_equal, kernel_allowance, numbered, send_all
from ..harness import PROBE, QUANTUM_MS, ConformanceFailure, Harness
from ..processes import Child, Spec, _make, _report_error, spec_of, sync_remote
from . import contract

_FENCE = b":fence"
#: the documented default high_water_mark
DEFAULT_MARK = 1000
#: CONF-INT-017: rounds of subscribe-in-another-process, count, send; each its own prefix
REMOTE_ROUNDS = 10
#: CONF-INT-018: filters on one subscriber, more than the default high water mark (1,000)
MANY_FILTERS = 1500
#: CONF-INT-019: the size limit, and the size of every message (far below it)
SIZE_LIMIT, SMALL = 4096, 100
#: CONF-INT-020: restarts of the publisher under one subscriber
RESTARTS = 3
#: CONF-INT-019, 020: a high water mark far above everything they send
LARGE_MARK = 1_000_000


def _wait_count(h: Harness, pub: Transport, count: int, what: str) -> None:
    try:
        pub.wait_for_subscribers(count, timeout=max(0.0, h.remaining()))
    except TransportTimeoutError:
        raise ConformanceFailure(f"wait_for_subscribers({count}) never returned {what}") from None


def _fenced(pub: Transport, messages: Sequence[bytes], prefix: bytes) -> bytes:
    send_all(pub, messages)
    fence = prefix + _FENCE
    pub.send(fence)
    return fence


@contract(
    "CONF-INT-016",
    ac="joining",
    priority="P1",
    title=(
        "a subscriber that subscribes while its own queue is full gets every later message "
        "for the new prefix once it has caught up"
    ),
    features={"filtering", "high_water_mark", "subscriber_count"},
)
def subscribe_while_queue_full(h: Harness) -> None:
    """A subscriber whose queue is full subscribes to another prefix; once it has caught
    up (a probe under the new prefix arrives), every message for that prefix arrives."""
    pub = h.publisher()
    sub = h.subscriber(pub, subscribe_filter=b"a")
    h.sync(pub, [sub], [b"a"])
    # past both queues (the default mark: one far above the few messages in flight later,
    # which libzmq's approximate mark would otherwise drop) and the kernel's buffers
    for i in range(2 * DEFAULT_MARK + kernel_allowance(h.protocol) // len(STALL_PAYLOAD) + 100):
        pub.send(b"a%06d" % i + STALL_PAYLOAD)
    sub.subscribe(b"b")
    _wait_count(h, pub, 2, "for the filters a and b of one subscriber")
    _catch_up(h, pub, sub, b"b")
    # the publisher looks at its subscriptions again: a ZeroMQ publisher learns there of
    # the reader's progress at once (in a send, only about once a millisecond)
    _wait_count(h, pub, 2, "after the subscriber caught up")
    messages = numbered(100, b"b")
    got: List[bytes] = []
    for message in messages:  # one at a time, far below the mark
        pub.send(message)
        got += h.collect(sub, 1)
    expect_equal(got, messages, "the subscriber that subscribed to b while its queue was full")


def _catch_up(h: Harness, pub: Transport, sub: Transport, prefix: bytes) -> None:
    """Read the backlog away, probing under ``prefix`` whenever the queue is found empty,
    until a probe arrives. A probe per message read would keep the queue as full as the
    backlog did (measured: 1,000-2,000 probes still on their way once one arrived), and a
    publisher whose queue is full may drop the next message in drop mode."""
    pub.send(prefix + PROBE)  # dropped if the queue is full: the next one goes when it is empty
    while True:
        if h.expired():
            raise ConformanceFailure(f"no probe under the new prefix {prefix!r} ever arrived")
        message = h.try_receive(sub)
        if message is None:
            pub.send(prefix + PROBE)
        elif message.startswith(prefix) and message.endswith(PROBE):
            return


def _remote_joiner_main(conn: Connection, spec: Spec, address: str, rounds: int) -> None:
    """In the child: subscribe to each prefix the parent names, then report what arrived
    for it up to its fence."""
    deadline = time.monotonic() + spec[4]
    sub: Optional[Transport] = None
    try:
        sub = _make(spec, {"receive_timeout": QUANTUM_MS, "subscribe_filter": b"x"})
        sub.connect(address)
        while not _next(sub, deadline).endswith(PROBE):
            pass
        conn.send(("synced", None))
        for _ in range(rounds):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                return
            prefix: bytes = conn.recv()
            sub.subscribe(prefix)
            got: List[bytes] = []
            message = _next(sub, deadline)
            while message != prefix + _FENCE:
                if message.startswith(prefix):
                    got.append(message)
                message = _next(sub, deadline)
            conn.send(("done", got))
    except Exception:
        _report_error(conn)
    finally:
        if sub is not None:
            sub.close()


def _next(sub: Transport, deadline: float) -> bytes:
    while time.monotonic() < deadline:
        try:
            return sub.receive()
        except TransportTimeoutError:
            continue
    raise TimeoutError("the scenario's deadline passed while receiving")


@contract(
    "CONF-INT-017",
    ac="joining",
    priority="P1",
    title=(
        "a subscriber in another process subscribes; what is sent once "
        "wait_for_subscribers() counts it all arrives"
    ),
    features={"filtering", "subscriber_count"},
    cross_process=True,
)
def subscribe_in_another_process(h: Harness) -> None:
    """A subscriber process subscribes; once ``wait_for_subscribers`` counts it, every
    message sent for its prefix arrives, round after round."""
    pub = h.publisher()
    child = Child(_remote_joiner_main, (spec_of(h), str(pub.endpoint), REMOTE_ROUNDS))
    try:
        sync_remote(h, pub, [child], [b"x"])
        for round_no in range(REMOTE_ROUNDS):
            prefix = b"t%d." % round_no
            child.conn.send(prefix)
            _wait_count(h, pub, 2 + round_no, f"after subscribe({prefix!r}) in the other process")
            messages = numbered(200, prefix)
            _fenced(pub, messages, prefix)
            expect_equal(
                child.expect("done", h),
                messages,
                f"the subscriber process, round {round_no + 1} (sent right after wait_for_subscribers)",
            )
    finally:
        child.stop()


@contract(
    "CONF-INT-018",
    ac="joining",
    priority="P1",
    title=(
        "a subscriber with more filters than the high water mark (1,500 at the default "
        "1,000) gets messages for each"
    ),
    features={"filtering"},
)
def many_filters(h: Harness) -> None:
    """One subscriber with 1,500 filters at the default high water mark: each works."""
    prefixes = [b"f%04d." % i for i in range(MANY_FILTERS)]
    pub = h.publisher()
    sub = h.subscriber(pub, subscribe_filter=prefixes)
    unseen = set(prefixes)
    while unseen:  # a probe under each filter, until each has come back
        if h.expired():
            raise ConformanceFailure(
                f"{len(unseen)} of {MANY_FILTERS} filters never delivered a probe "
                f"(first {sorted(unseen)[:3]}): their subscriptions were lost"
            )
        for prefix in sorted(unseen):
            pub.send(prefix + PROBE)
        message = h.try_receive(sub)
        while message is not None:
            unseen.discard(message[: -len(PROBE)] if message.endswith(PROBE) else b"")
            message = h.try_receive(sub)
    messages = [prefix + b"%d" % i for i, prefix in enumerate(prefixes)]
    for start in range(0, len(messages), 50):  # far below the mark, however late it learns of reads
        chunk = messages[start : start + 50]
        send_all(pub, chunk)
        expect_equal(h.collect(sub, len(chunk)), chunk, f"the subscriber with {MANY_FILTERS} filters")


@contract(
    "CONF-INT-019",
    ac="joining",
    priority="P1",
    title="with max_message_size on both ends, messages far below it all arrive",
    features={"max_message_size"},
)
def far_below_size_limit(h: Harness) -> None:
    """Both ends limit messages to 4,096 bytes and every message has 100: all arrive."""
    pub = h.publisher(max_message_size=SIZE_LIMIT, high_water_mark=LARGE_MARK)
    sub = h.subscriber(pub, max_message_size=SIZE_LIMIT, high_water_mark=LARGE_MARK)
    h.sync(pub, [sub])
    filler = b"." * (SMALL - 6)
    messages = [b"%06d" % i + filler[:-1] + b"!" for i in range(2000)]
    for start in range(0, len(messages), 250):  # far below the high water mark
        chunk = messages[start : start + 250]
        send_all(pub, chunk)
        expect_equal(
            h.collect(sub, len(chunk)),
            chunk,
            f"the subscriber (max_message_size={SIZE_LIMIT}, messages of {SMALL} B), from message {start} on",
        )


@contract(
    "CONF-INT-020",
    ac="joining",
    priority="P1",
    title=(
        "a publisher restarted under a subscriber: nothing from before it counts the subscriber, no gap after"
    ),
    features={"reconnect", "subscriber_count"},
    protocols=("ipc", "tcp"),
)
def restarted_publisher_joins_exactly(h: Harness) -> None:
    """A publisher restarts under a subscriber, three times. Each new one sends until it
    counts the subscriber, then 100 messages: the subscriber gets all 100, and of what was
    sent before the count at most the very last (a transport may route to a subscription
    a moment before its count is read)."""
    # a mark far above the traffic: no message may be lost to it, so any gap is the join's
    pub = h.publisher(high_water_mark=LARGE_MARK)
    address = str(pub.endpoint)
    sub = h.subscriber(pub, high_water_mark=LARGE_MARK)
    h.sync(pub, [sub])
    for restart in range(1, RESTARTS + 1):
        pub.close()
        pub = h.new(high_water_mark=LARGE_MARK)
        h.eventually(partial(_bound, pub, address), f"{address} is free again after the publisher closed")
        _expect_exact_join(h, pub, sub, f"restart {restart}")


def _expect_exact_join(h: Harness, pub: Transport, sub: Transport, when: str) -> None:
    received: List[List[bytes]] = []
    # the subscriber keeps reading, as subscribers do: libzmq's SUB replays its
    # subscriptions to the new publisher only when its own thread calls into it
    reader = threading.Thread(target=lambda: received.append(h.collect_until(sub, _FENCE)), daemon=True)
    reader.start()
    before: List[bytes] = []
    while not _counted(pub):
        if h.expired():
            raise ConformanceFailure(f"{when}: the subscriber was never counted again")
        before.append(b"before-%06d" % len(before))
        pub.send(before[-1])
    after = numbered(100, b"after")
    _fenced(pub, after, b"")
    reader.join(max(0.0, h.remaining()))
    if not received:
        raise ConformanceFailure(f"{when}: the fence never arrived")
    stale = [m for m in received[0] if m.startswith(b"before")]
    if stale and stale != before[-1:]:
        raise ConformanceFailure(
            f"{when}: the subscriber got {len(stale)} message(s) sent before the new publisher "
            f"counted it (first {stale[0]!r}; {len(before)} were sent before the count)"
        )
    expect_equal(
        [m for m in received[0] if not m.startswith(b"before")], after, f"the subscriber after {when}"
    )


def _counted(pub: Transport) -> bool:
    try:
        pub.wait_for_subscribers(1, timeout=0)
    except TransportTimeoutError:
        return False
    return True


def _bound(transport: Transport, address: str) -> bool:
    try:
        transport.bind(address)
    except AddressInUseError:
        return False
    return True
