"""Reference-only scenarios: ZeroMQ socket types, socket options and the shared context.

They apply to transports built on ``tea_transports.zeromq.ZeroMQTransport`` (which
exposes ``socket_type``, ``socket_option()`` and ``context()``); every other transport
gets them as *not applicable*, and runs the behavioural twin named in the catalogue.
"""

from __future__ import annotations

from typing import Any

from ..harness import ConformanceFailure, Harness
from ..scenario import ONCE
from . import contract


def _zmq() -> Any:
    import zmq  # only reference-only scenarios need pyzmq

    return zmq


def _option(transport: Any, name: str) -> int:
    return int(transport.socket_option(getattr(_zmq(), name)))


def _within(hwm: int, mark: int, per_frame: int, in_python: int) -> bool:
    """Whether libzmq's ``mark`` plus the ``in_python`` messages held in Python is exactly
    ``hwm``, all counted in frames of ``per_frame`` messages (libzmq's unit; a message
    each without stream mode's packing, so then ``mark + in_python == hwm``). What waits
    in Python takes as many frames as it needs to fit in."""
    return mark + -(-in_python // per_frame) == hwm


@contract(
    "UNIT-005",
    ac="AC2",
    priority="P0",
    title="bind() makes a publishing ZeroMQ socket (PUB/XPUB)",
    reference_only=True,
    twin="TEA-CONF-UNIT-001",
)
def publisher_socket_type(h: Harness) -> None:
    zmq = _zmq()
    pub = h.publisher()
    if pub.socket_type not in (zmq.PUB, zmq.XPUB):  # type: ignore[attr-defined]
        raise ConformanceFailure(f"bind() made socket type {pub.socket_type}, not PUB or XPUB")  # type: ignore[attr-defined]


@contract(
    "UNIT-006",
    ac="AC2",
    priority="P0",
    title="connect() makes a SUB socket",
    reference_only=True,
    twin="TEA-CONF-UNIT-002",
)
def subscriber_socket_type(h: Harness) -> None:
    zmq = _zmq()
    sub = h.subscriber(h.publisher())
    if sub.socket_type != zmq.SUB:  # type: ignore[attr-defined]
        raise ConformanceFailure(f"connect() made socket type {sub.socket_type}, not SUB")  # type: ignore[attr-defined]


@contract(
    "UNIT-011",
    ac="AC5",
    priority="P0",
    title="high_water_mark sets SNDHWM on the publisher",
    protocols=ONCE,
    reference_only=True,
    twin="TEA-STREAM-002.2-INT-008",
)
def publisher_sndhwm(h: Harness) -> None:
    pub = h.publisher(high_water_mark=123)
    # a publisher that packs up to ``frame_messages`` messages per ZeroMQ message holds
    # fewer than that in Python until they leave: one frame of the mark
    per_frame = int(getattr(pub, "frame_messages", 1))
    if not _within(123, _option(pub, "SNDHWM"), per_frame, per_frame - 1):
        raise ConformanceFailure(f"high_water_mark=123 gave the publisher SNDHWM={_option(pub, 'SNDHWM')}")


@contract(
    "UNIT-012",
    ac="AC5",
    priority="P0",
    title="high_water_mark sets RCVHWM on the subscriber (with what it reads ahead, if it does)",
    protocols=ONCE,
    reference_only=True,
    twin="TEA-STREAM-002.2-INT-008",
)
def subscriber_rcvhwm(h: Harness) -> None:
    sub = h.subscriber(h.publisher(), high_water_mark=321)
    # a subscriber that reads ahead of its caller (``read_ahead`` messages, in Python) takes
    # that share of the mark from libzmq's queue: together they hold high_water_mark. The
    # mark counts ZeroMQ messages, which may each carry up to ``frame_messages`` of the
    # caller's (stream mode): then what it reads ahead is counted in frames too
    ahead = int(getattr(sub, "read_ahead", 0))
    if not _within(321, _option(sub, "RCVHWM"), int(getattr(sub, "frame_messages", 1)), ahead):
        raise ConformanceFailure(
            f"high_water_mark=321 gave the subscriber RCVHWM={_option(sub, 'RCVHWM')}"
            + (f" and a read-ahead of {ahead}" if ahead else "")
        )


@contract(
    "UNIT-013",
    ac="AC9",
    priority="P2",
    title="linger sets LINGER from options",
    protocols=ONCE,
    reference_only=True,
    twin="TEA-CONF-INT-008",
)
def linger_from_options(h: Harness) -> None:
    for linger in (0, 250):
        pub = h.publisher(linger=linger)
        sub = h.subscriber(pub, linger=linger)
        got = (_option(pub, "LINGER"), _option(sub, "LINGER"))
        if got != (linger, linger):
            raise ConformanceFailure(f"linger={linger} gave LINGER {got} on publisher and subscriber")


@contract(
    "UNIT-014",
    ac="AC9",
    priority="P3",
    title="LINGER defaults to 1000 ms",
    protocols=ONCE,
    reference_only=True,
    twin="TEA-CONF-UNIT-011",
)
def linger_default(h: Harness) -> None:
    pub = h.publisher()
    if _option(pub, "LINGER") != 1000:
        raise ConformanceFailure(f"the default LINGER is {_option(pub, 'LINGER')} ms, not 1000")


@contract(
    "UNIT-017",
    ac="risk",
    priority="P1",
    title="one ZeroMQ context is shared across instances",
    protocols=ONCE,
    reference_only=True,
    twin="TEA-STREAM-002.2-INT-010",
)
def shared_context(h: Harness) -> None:
    zmq = _zmq()
    first, second = h.new(), h.new()
    contexts = {id(first.context()), id(second.context()), id(zmq.Context.instance())}  # type: ignore[attr-defined]
    if len(contexts) != 1:
        raise ConformanceFailure("transports do not share the process-wide zmq.Context.instance()")
