"""The Transport interface, roles and lifecycle (AC1, AC2 and TEA-CONF-UNIT-*)."""

from __future__ import annotations

import inspect
import time
from functools import partial

from tea_transports import (
    AddressInUseError,
    Transport,
    TransportClosedError,
    TransportConfig,
    TransportError,
    TransportStateError,
    TransportTimeoutError,
    create_transport,
)
from tea_transports.base import NOBLOCK

from ..expect import expect_at_once, expect_equal, expect_raises, linked
from ..harness import ConformanceFailure, Harness, open_descriptors
from ..scenario import ONCE, ONE_TO_ONE
from . import contract

_MEMBERS = ("bind", "connect", "send", "receive", "close", "is_connected")
_BAD_ADDRESSES = ("", "nonsense", "tcp://", "tcp://127.0.0.1:99999", "bogus://where", "inproc://")


@contract(
    "UNIT-001",
    ac="AC1",
    priority="P0",
    title="the transport is a Transport",
    patterns=ONE_TO_ONE,
    protocols=ONCE,
)
def is_a_transport(h: Harness) -> None:
    transport = h.new()
    if not isinstance(transport, Transport):
        raise ConformanceFailure(f"{type(transport).__name__} is not a tea_transports.Transport")


@contract(
    "UNIT-002",
    ac="AC1",
    priority="P0",
    title="every abstract member is implemented",
    patterns=ONE_TO_ONE,
    protocols=ONCE,
)
def implements_every_member(h: Harness) -> None:
    cls = h.target.cls
    if inspect.isabstract(cls):
        raise ConformanceFailure(f"{cls.__name__} leaves abstract: {sorted(cls.__abstractmethods__)}")
    for name in _MEMBERS:
        own = getattr(cls, name, None)
        if own is None or own is getattr(Transport, name):
            raise ConformanceFailure(f"{cls.__name__} does not implement {name}")
    if not isinstance(inspect.getattr_static(cls, "is_connected"), property):
        raise ConformanceFailure("is_connected must be a property")


@contract(
    "UNIT-003",
    ac="AC1",
    priority="P1",
    title="constructed from a TransportConfig with pattern pub_sub",
    protocols=ONCE,
)
def constructed_from_config(h: Harness) -> None:
    config = h.config(high_water_mark=10)
    transport = h.target.cls(config)
    h.transports.append(transport)
    if transport.config != config or transport.options.high_water_mark != 10:
        raise ConformanceFailure("the transport does not keep the TransportConfig it was built from")


@contract(
    "UNIT-004",
    ac="AC1",
    priority="P1",
    title="the factory returns it for its name and pub_sub",
    protocols=ONCE,
)
def factory_returns_it(h: Harness) -> None:
    config = TransportConfig(transport_type=h.target.name, protocol=h.protocol, pattern=h.pattern)
    transport = create_transport(config)
    h.transports.append(transport)
    if not isinstance(transport, h.target.cls):
        raise ConformanceFailure(
            f"create_transport({h.target.name!r}, {h.pattern!r}) gave {type(transport).__name__}, "
            f"not {h.target.cls.__name__}"
        )


def _refuses_bad_addresses(h: Harness, operation: str) -> None:
    for address in _BAD_ADDRESSES:
        transport = h.new()
        call = partial(getattr(transport, operation), address)
        expect_raises(TransportError, call, f"{operation}({address!r})")
        if transport.is_connected:
            raise ConformanceFailure(f"a failed {operation}({address!r}) left is_connected True")
    transport = h.new()
    expect_raises(
        (TypeError, TransportError), lambda: getattr(transport, operation)(None), f"{operation}(None)"
    )


@contract(
    "UNIT-007",
    ac="AC2",
    priority="P1",
    title="bind() on an invalid address raises TransportError",
    patterns=ONE_TO_ONE,
    protocols=ONCE,
)
def bind_refuses_bad_address(h: Harness) -> None:
    _refuses_bad_addresses(h, "bind")


@contract(
    "UNIT-008",
    ac="AC2",
    priority="P1",
    title="connect() on an invalid address raises TransportError",
    patterns=ONE_TO_ONE,
    protocols=ONCE,
)
def connect_refuses_bad_address(h: Harness) -> None:
    _refuses_bad_addresses(h, "connect")


@contract(
    "CONF-UNIT-001",
    ac="roles",
    priority="P0",
    title="after bind() the transport sends and refuses to receive",
    patterns=ONE_TO_ONE,
)
def publisher_role(h: Harness) -> None:
    pub, subs = linked(h)
    if pub.send(b"role") != 4:
        raise ConformanceFailure("send() on the publisher must return the message length")
    expect_raises(TransportStateError, pub.receive, "receive() on the publisher")
    expect_equal(h.collect(subs[0], 1), [b"role"])


@contract(
    "CONF-UNIT-002",
    ac="roles",
    priority="P0",
    title="after connect() the transport receives and refuses to send",
    patterns=ONE_TO_ONE,
)
def subscriber_role(h: Harness) -> None:
    _, subs = linked(h)
    expect_raises(TransportStateError, lambda: subs[0].send(b"x"), "send() on a subscriber")


@contract(
    "CONF-UNIT-003",
    ac="lifecycle",
    priority="P0",
    title="is_connected goes False, True, False",
    patterns=ONE_TO_ONE,
)
def is_connected_lifecycle(h: Harness) -> None:
    pub = h.new()
    sub = h.new(receive_timeout=50)
    seen = [pub.is_connected, sub.is_connected]
    pub.bind(h.address())
    sub.connect(str(pub.endpoint))
    seen += [pub.is_connected, sub.is_connected]
    sub.close()
    pub.close()
    seen += [pub.is_connected, sub.is_connected]
    if seen != [False, False, True, True, False, False]:
        raise ConformanceFailure(f"is_connected went {seen} (new, after bind/connect, after close)")


@contract("CONF-UNIT-004", ac="lifecycle", priority="P0", title="close() is idempotent", patterns=ONE_TO_ONE)
def close_is_idempotent(h: Harness) -> None:
    for transport in (h.new(), h.publisher()):
        for _ in range(3):
            transport.close()


@contract(
    "CONF-UNIT-005",
    ac="lifecycle",
    priority="P0",
    title="every operation after close() raises TransportClosedError",
    patterns=ONE_TO_ONE,
)
def closed_refuses_everything(h: Harness) -> None:
    pub, subs = linked(h)
    address = h.address()
    for transport in (pub, subs[0], h.new()):
        transport.close()
        for what, call in (
            ("send(b'')", partial(transport.send, b"")),
            ("send(b'x')", partial(transport.send, b"x")),
            ("receive()", transport.receive),
            ("receive(flags=NOBLOCK)", partial(transport.receive, flags=NOBLOCK)),
            ("bind()", partial(transport.bind, address)),
            ("connect()", partial(transport.connect, address)),
        ):
            expect_raises(TransportClosedError, call, f"{what} after close()")


@contract(
    "CONF-UNIT-006",
    ac="lifecycle",
    priority="P1",
    title="the context manager closes on an exception",
    patterns=ONE_TO_ONE,
)
def context_manager_closes_on_error(h: Harness) -> None:
    transport = h.new()
    try:
        with transport as entered:
            if entered is not transport:
                raise ConformanceFailure("__enter__ must return the transport itself")
            transport.bind(h.address())
            raise KeyError("boom")
    except KeyError:
        pass
    if transport.is_connected:
        raise ConformanceFailure("leaving the with block by an exception did not close the transport")
    expect_raises(TransportClosedError, lambda: transport.send(b"x"), "send() after the with block")


#: receive_timeout of CONF-UNIT-007, and how much later than it the timeout may come (a
#: loaded machine delays a wake-up, never by this much; 10x the timeout is not "within")
TIMEOUT_MS, LATE_BY_S = 500, 3.5


@contract(
    "CONF-UNIT-007",
    ac="lifecycle",
    priority="P1",
    title=(
        "receive() times out with TransportTimeoutError after about receive_timeout; with "
        "NOBLOCK, receive() and receive_many() raise it at once, even with "
        "receive_timeout=None"
    ),
    patterns=ONE_TO_ONE,
)
def receive_times_out(h: Harness) -> None:
    pub = h.publisher()
    sub = h.subscriber(pub, receive_timeout=TIMEOUT_MS)
    started = time.monotonic()
    expect_raises(
        TransportTimeoutError, sub.receive, f"receive() with receive_timeout={TIMEOUT_MS} and no traffic"
    )
    waited = time.monotonic() - started
    if not TIMEOUT_MS / 1000 * 0.9 <= waited <= TIMEOUT_MS / 1000 + LATE_BY_S:
        raise ConformanceFailure(
            f"receive() with receive_timeout={TIMEOUT_MS} ms gave up after {waited * 1000:.0f} ms: "
            f"a timeout must wait about receive_timeout, neither much less nor much more"
        )
    expect_raises(
        TransportTimeoutError, lambda: sub.receive(flags=NOBLOCK), "receive(NOBLOCK) with no traffic"
    )
    # NOBLOCK never waits, even where receive_timeout says to wait forever
    patient_pub = h.publisher()
    patient = h.subscriber(patient_pub, receive_timeout=None)
    for what, call in (
        ("receive(flags=NOBLOCK)", lambda: patient.receive(flags=NOBLOCK)),
        ("receive_many(flags=NOBLOCK)", lambda: patient.receive_many(flags=NOBLOCK)),
    ):
        where = f"{what} with receive_timeout=None and nothing queued"
        outcome = expect_at_once(h, call, where, lambda: patient_pub.send(b"release"))
        if not isinstance(outcome, TransportTimeoutError):
            raise ConformanceFailure(f"{where} gave {outcome!r:.200}, expected TransportTimeoutError")
    h.sync(pub, [sub])  # the transport still works after timing out
    pub.send(b"after")
    if h.collect(sub, 1) != [b"after"]:
        raise ConformanceFailure("a message after a receive timeout did not arrive")


@contract(
    "CONF-UNIT-008",
    ac="lifecycle",
    priority="P1",
    title="binding an address in use raises AddressInUseError",
    patterns=ONE_TO_ONE,
)
def address_in_use(h: Harness) -> None:
    pub = h.publisher()
    second = h.new()
    expect_raises(AddressInUseError, lambda: second.bind(str(pub.endpoint)), f"a second bind({pub.endpoint})")
    if second.is_connected:
        raise ConformanceFailure("the refused bind left the second transport connected")
    sub = h.subscriber(pub)
    h.sync(pub, [sub])  # the first publisher still owns its subscribers


@contract(
    "CONF-UNIT-009",
    ac="lifecycle",
    priority="P1",
    title="no descriptor leaks over 100 open/close cycles",
    patterns=ONE_TO_ONE,
    platforms=("linux", "darwin"),
)
def no_descriptor_leak(h: Harness) -> None:
    def cycle() -> None:
        pub = h.publisher()
        sub = h.subscriber(pub)
        pub.send(b"x")
        sub.close()
        pub.close()

    cycle()  # first use may open process-wide resources (contexts, threads)
    h.transports.clear()
    before = open_descriptors()
    for _ in range(100):
        cycle()
        h.transports.clear()
    h.eventually(
        lambda: open_descriptors() <= before,
        f"descriptors return to {before} after 100 open/close cycles (now {open_descriptors()})",
    )


@contract(
    "CONF-UNIT-010",
    ac="lifecycle",
    priority="P1",
    title="bad payloads raise TypeError and leave the transport usable",
    patterns=ONE_TO_ONE,
)
def bad_payloads(h: Harness) -> None:
    pub, subs = linked(h)
    released = memoryview(b"gone")
    released.release()
    for bad in ("text", None, 42, released):
        expect_raises((TypeError, TransportError), partial(pub.send, bad), f"send({bad!r})")  # type: ignore[arg-type]
    pub.send(bytearray(b"still"))
    pub.send(memoryview(b"usable"))
    expect_equal(h.collect(subs[0], 2), [b"still", b"usable"])
