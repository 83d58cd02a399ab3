"""Topic filtering (AC4): prefixes match the start of the payload, byte for byte.

Negative checks need no quiet period: a publisher's messages reach a subscriber in the
order sent, so once a matching *fence* sent last has arrived, anything that should
have been filtered out would already have arrived before it.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from tea_transports import Transport

from ..expect import expect_equal, send_all
from ..harness import PROBE, ConformanceFailure, Harness
from . import contract

_FENCE = b":fence"
_TRAFFIC = [b"metrics.cpu 0.5", b"logs hello", b"metric", b"metricsX", b"", b"alerts!", b"metrics"]


def _filtered(h: Harness, filters: Any) -> tuple[Transport, Transport]:
    pub = h.publisher()
    sub = h.subscriber(pub, subscribe_filter=filters)
    first = filters[0] if isinstance(filters, list) else filters
    h.sync(pub, [sub], [first.encode() if isinstance(first, str) else first])
    return pub, sub


@contract(
    "UNIT-009", ac="AC4", priority="P1", title="an empty filter receives everything", features={"filtering"}
)
def empty_filter_gets_everything(h: Harness) -> None:
    pub, sub = _filtered(h, b"")
    send_all(pub, _TRAFFIC)
    expect_equal(h.collect(sub, len(_TRAFFIC)), _TRAFFIC)


@contract(
    "UNIT-010",
    ac="AC4",
    priority="P1",
    title="a prefix filter receives only matching messages",
    features={"filtering"},
)
def prefix_filter(h: Harness) -> None:
    pub, sub = _filtered(h, b"metrics")
    _expect_filtered(h, pub, sub, _TRAFFIC, (b"metrics",), "the subscriber filtering b'metrics'")


@contract(
    "INT-006",
    ac="AC4",
    priority="P1",
    title="a subscriber filtering 'metrics' gets only metrics messages",
    features={"filtering"},
)
def metrics_subscriber(h: Harness) -> None:
    pub = h.publisher()
    metrics = h.subscriber(pub, subscribe_filter="metrics")  # str filters are UTF-8 encoded
    everything = h.subscriber(pub)
    h.sync(pub, [metrics, everything], [b"metrics", b""])
    traffic = [m for i in range(50) for m in (b"metrics.%d" % i, b"logs.%d" % i, b"events.%d" % i)]
    _expect_filtered(h, pub, metrics, traffic, (b"metrics",), "the 'metrics' subscriber")
    expect_equal(
        h.collect(everything, len(traffic) + 1), [*traffic, b"metrics" + _FENCE], "the unfiltered subscriber"
    )


@contract(
    "INT-007", ac="AC4", priority="P2", title="the filter can change after connect", features={"filtering"}
)
def filter_changes_after_connect(h: Harness) -> None:
    pub, sub = _filtered(h, b"metrics")
    sub.subscribe(b"logs")
    h.sync(pub, [sub], [b"logs"])
    sub.unsubscribe(b"metrics")
    _until_unsubscribed(h, pub, sub, b"metrics", b"logs")
    traffic = [m for i in range(20) for m in (b"metrics.%d" % i, b"logs.%d" % i)]
    _expect_filtered(
        h,
        pub,
        sub,
        traffic,
        (b"logs",),
        "the subscriber after subscribe(b'logs') and unsubscribe(b'metrics')",
    )


@contract(
    "CONF-INT-003",
    ac="delivery",
    priority="P1",
    title="several filters, then unsubscribe one",
    features={"filtering"},
)
def several_filters_then_unsubscribe(h: Harness) -> None:
    pub, sub = _filtered(h, [b"a.", "b.", b"c."])
    h.sync(pub, [sub], [b"b."])
    h.sync(pub, [sub], [b"c."])
    traffic = [m for i in range(10) for m in (b"a.%d" % i, b"b.%d" % i, b"c.%d" % i, b"d.%d" % i)]
    _expect_filtered(h, pub, sub, traffic, (b"a.", b"b.", b"c."), "the subscriber to a., b. and c.")
    sub.unsubscribe(b"b.")
    _until_unsubscribed(h, pub, sub, b"b.", b"a.")
    _expect_filtered(h, pub, sub, traffic, (b"a.", b"c."), "the subscriber after unsubscribe(b'b.')")


def _expect_filtered(
    h: Harness, pub: Transport, sub: Transport, traffic: List[bytes], kept: Tuple[bytes, ...], who: str
) -> None:
    """Publish ``traffic`` and a fence under ``kept[0]``; ``sub`` must get exactly the
    messages starting with one of ``kept``, in order, before the fence."""
    send_all(pub, traffic)
    fence = kept[0] + _FENCE
    pub.send(fence)
    expect_equal(h.collect_until(sub, fence), [m for m in traffic if m.startswith(kept)], who)


def _until_unsubscribed(h: Harness, pub: Transport, sub: Transport, gone: bytes, kept: bytes) -> None:
    """Unsubscribing takes effect asynchronously: send (gone, kept) pairs until a kept
    message arrives without its gone twin before it, then drain what is in flight."""
    round_no = 0
    while True:
        if h.expired():
            raise ConformanceFailure(f"unsubscribe({gone!r}) never took effect: its messages kept arriving")
        round_no += 1
        pub.send(gone + b"#%d" % round_no)
        pub.send(kept + b"#%d" % round_no + PROBE)
        seen_gone = False
        while True:
            message = h.try_receive(sub)
            if message is None:
                if h.expired():
                    raise ConformanceFailure(
                        f"the {kept!r} subscription stopped working after unsubscribe({gone!r})"
                    )
                continue
            if message == gone + b"#%d" % round_no:
                seen_gone = True
            if message == kept + b"#%d" % round_no + PROBE:
                break
        if not seen_gone:
            return
