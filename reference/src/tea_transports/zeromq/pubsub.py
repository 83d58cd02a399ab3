"""``ZeroMQPubSubTransport``: one publisher, any number of subscribers, no broker.

``bind()`` makes an XPUB socket. On the wire it is an ordinary publisher that any ZeroMQ
SUB accepts, and it lets us see subscriptions: :meth:`wait_for_subscribers` is the cure
for the slow joiner (messages published before a subscription arrives are lost), and
``get_stats().subscriptions`` counts them. ``XPUB_VERBOSER`` reports every subscribing
socket and ``XPUB_NODROP`` makes a full subscriber queue visible as ``EAGAIN``:

* ``on_hwm="drop"`` (default): never blocks. When a send finds a queue full it is counted
  (``hwm_reached``), reported by a rate-limited WARNING on the ``tea_transports.zeromq``
  logger, and resent without NODROP so every subscriber with room still gets it.
* ``on_hwm="block"``: waits until the slowest subscriber has room, up to ``send_timeout``
  (then :class:`TransportTimeoutError`); nothing is lost.

``connect()`` makes a SUB socket subscribed to ``subscribe_filter``. Messages are single
frames of the caller's bytes; a topic is a prefix of the payload. A subscriber reads ahead:
when ``receive()`` finds its inbox empty it moves what libzmq has queued (up to a quarter of
the high water mark, at most 256) into the inbox in one go, and the following calls take from
there. The inbox counts against the high water mark (libzmq's own queue is that much
smaller). After an ``unsubscribe()``, a message read ahead is returned only if a filter in
force when it is taken matches it — as libzmq's SUB checks its own queue when it is read.

Counting subscribers: XPUB_VERBOSER reports one ``\\x01`` per subscribe and one ``\\x00``
per prefix when a subscriber leaves — but a peer that subscribes one prefix twice sends two
``\\x01`` and leaves with one ``\\x00``. On tcp and ipc a socket monitor counts the
connected peers, and a prefix never counts more subscribers than there are peers, so the
count returns to 0 when every subscriber is gone. (inproc has no monitor events: there a
peer's duplicate subscription counts twice until it unsubscribes it twice.) Frames from an
XSUB peer that are not subscriptions, and cancels of prefixes nobody subscribed, are ignored.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Optional, Protocol, Union

import zmq

from .._arguments import check_flags, check_payload, check_wait
from ..base import Capabilities, Feature, TransportConfig, TransportStats
from ..errors import ConfigurationError, TransportStateError
from ..options import as_prefix
from .base import ZeroMQTransport, _protocols
from .monitors import open_monitor
from .publisher import NOTES_PER_SNAPSHOT, Publisher
from .subscriber import Subscriber

__all__ = ["Mode", "PlainMode", "ZeroMQPubSubTransport"]

# a subscriber reads ahead at most this many messages (and a quarter of its high water mark)
_READ_AHEAD = 256


class Mode(Protocol):
    """How a transport's roles carry messages: what its bind() and connect() make."""

    #: how many messages a subscriber may hold beyond the one it returns
    read_ahead: int
    #: what a receive() that finds the inbox empty reads into it (in messages)
    receive_up_to: int
    #: the subscriber's RCVHWM (its inbox holds the rest of the mark)
    receive_hwm: int

    def check_prefix(self, prefix: bytes) -> None: ...

    def publisher(self, transport: ZeroMQPubSubTransport) -> Publisher: ...

    def subscriber(self, transport: ZeroMQPubSubTransport) -> Subscriber: ...


class PlainMode:
    """Each message is one ZeroMQ message; a subscriber reads ahead (see the module doc)."""

    def __init__(self, transport: ZeroMQPubSubTransport) -> None:
        hwm = transport.options.high_water_mark
        self.read_ahead = _READ_AHEAD if hwm == 0 else min(_READ_AHEAD, hwm // 4)
        self.receive_up_to = 1 + self.read_ahead
        self.receive_hwm = hwm - self.read_ahead  # libzmq's RCVHWM: the inbox holds the rest

    def check_prefix(self, prefix: bytes) -> None:
        """Every prefix may be subscribed."""

    def publisher(self, transport: ZeroMQPubSubTransport) -> Publisher:
        return Publisher(transport)

    def subscriber(self, transport: ZeroMQPubSubTransport) -> Subscriber:
        return Subscriber(transport)


class ZeroMQPubSubTransport(ZeroMQTransport):
    """PUB/SUB over ZeroMQ; see the module docstring for the publisher's two HWM policies."""

    capabilities = Capabilities(
        patterns=frozenset({"pub_sub"}),
        protocols=_protocols(),
        features=frozenset(
            {
                Feature.FILTERING,
                Feature.HIGH_WATER_MARK,
                Feature.LINGER,
                Feature.STATS,
                Feature.SLOW_SUBSCRIBER_WARNING,
                Feature.LOSSLESS,
                Feature.SUBSCRIBER_COUNT,
                Feature.RECONNECT,
                Feature.MAX_MESSAGE_SIZE,
            }
        ),
    )

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config or TransportConfig(transport_type="zeromq", pattern="pub_sub"))
        interval = self.config.options.get("hwm_warning_interval", 10.0)
        if type(interval) not in (int, float) or interval < 0:
            raise ConfigurationError(f"option 'hwm_warning_interval' must be seconds >= 0, got {interval!r}")
        self._warning_interval = float(interval)
        self._block = self.options.on_hwm == "block"
        #: the filters; connect() hands the list to the subscriber
        self._filters = list(self.options.subscribe_filter)
        self._mode: Mode = self._new_mode()
        for prefix in self._filters:
            self._mode.check_prefix(prefix)
        #: the role, made by bind() or connect(); kept after close() (its calls then raise)
        self._publisher: Optional[Publisher] = None
        self._subscriber: Optional[Subscriber] = None
        #: the role being opened: _configure() sets up its socket
        self._opening: Optional[Union[Publisher, Subscriber]] = None
        #: the role's own send() and receive(), taken once at bind/connect for the hot paths
        #: (bound to the role, which holds this transport weakly: no reference cycle)
        self._send: Optional[Callable[[Any, int], int]] = None
        self._receive: Optional[Callable[[int, int], bytes]] = None

    def _new_mode(self) -> Mode:
        return PlainMode(self)

    # -- roles --------------------------------------------------------------------------

    def bind(self, address: str) -> None:
        """Become the publisher on ``address`` (see ``addresses`` for the accepted forms)."""
        publisher = self._mode.publisher(self)
        self._open_role(publisher, zmq.XPUB, "publisher", address)
        self._send = (publisher.outbox or publisher).send

    def connect(self, address: str) -> None:
        """Become a subscriber of the publisher at ``address``, filtered by ``subscribe_filter``."""
        subscriber = self._mode.subscriber(self)
        self._open_role(subscriber, zmq.SUB, "subscriber", address)
        self._receive = subscriber.receive

    def _open_role(self, part: Union[Publisher, Subscriber], kind: int, role: str, address: str) -> None:
        self._opening = part
        try:
            self._open(kind, role, address)
        finally:
            self._opening = None
        with self._io_lock:
            if self._closed:  # by another thread, since _open() let go of the lock
                raise self._closed_now("bind" if role == "publisher" else "connect")

    def _attach(self, sock: zmq.Socket[Any]) -> None:
        part = self._opening
        if isinstance(part, Publisher):
            events = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
            inproc = str(self.endpoint).startswith("inproc://")
            part.attach(sock, None if inproc else open_monitor(sock, events, part))
            self._publisher = part
        elif isinstance(part, Subscriber):
            monitor = None
            if self.config.options.get("max_message_size") is not None:
                # libzmq drops a connection that delivers an oversize message and does not
                # reconnect it; watch for that, so one bad message cannot silence us for good
                monitor = open_monitor(sock, zmq.EVENT_DISCONNECTED, part)
            part.attach(sock, monitor)
            self._subscriber = part

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        if self._opening is not None:
            self._opening.configure(sock)

    def _part(self) -> Optional[Union[Publisher, Subscriber]]:
        return self._publisher or self._subscriber

    def _wait_fds(self) -> List[int]:
        fds = super()._wait_fds()
        part = self._part()
        monitor = None if part is None else part.monitor
        if fds and monitor is not None:
            fds.append(int(monitor.getsockopt(zmq.FD)))
        return fds

    def _detach_shortcuts(self) -> None:
        part = self._part()
        if part is not None:
            part.detach()

    def _end_role(self, sock: Optional[zmq.Socket[Any]]) -> None:
        part = self._part()
        if part is not None:  # a publisher's outbox sends what it holds; the monitor closes
            part.finish(sock)

    def _forget_role_resources(self) -> None:
        part = self._part()
        if part is not None:
            part.forget()
        self._publisher = self._subscriber = None
        self._send = self._receive = None

    def __del__(self) -> None:
        super().__del__()  # the ResourceWarning
        publisher = self.__dict__.get("_publisher")  # (None also when __init__ failed half-way)
        outbox = None if publisher is None else publisher.outbox
        if outbox is not None and not self._closed and outbox.pending()[0]:
            self.close()  # what was sent leaves, as close() would send it

    # -- publishing ---------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Publish ``data`` to every subscriber whose filter matches (see ``Transport.send``)."""
        send = self._send
        if send is None:
            if flags or type(flags) is not int or type(data) is not bytes:
                check_flags(flags)
                check_payload(data)
            raise self._wrong_role("send", "publisher")
        return send(data, flags)

    def send_many(self, messages: Iterable[Any]) -> int:
        """Publish ``messages`` in order under one lock; see ``Transport.send_many``."""
        publisher = self._publisher
        if publisher is None:
            for message in messages:
                check_payload(message)
            raise self._wrong_role("send", "publisher")
        return (publisher.outbox or publisher).send_many(messages)

    def wait_for_subscribers(self, count: int = 1, timeout: Optional[float] = None) -> int:
        """Wait until at least ``count`` subscriptions have arrived; return how many there are.

        A subscriber counts once per prefix it listens to (once with the default filter).
        Call it before publishing: ZeroMQ drops what is sent before a subscription arrives.
        Other threads may send, subscribe and read statistics meanwhile.

        :raises TransportTimeoutError: fewer than ``count`` arrived within ``timeout`` s.
        :raises TransportStateError: this transport is not a publisher.
        """
        check_wait(count, timeout)
        with self._io_lock:
            publisher = self._publisher
            if publisher is None or publisher.sock is None:
                raise self._wrong_role("wait for subscribers", "publisher")
            return publisher.wait_for_subscribers(count, timeout)

    def reload_allowed_clients(self) -> None:
        """Read the CURVE allow-list directory (``curve_allowed_clients``) again.

        New keys may connect from now on. Every connected subscriber is disconnected (the
        endpoint is unbound and bound again), so each must pass the new list: revoked keys
        stay out, allowed ones reconnect and resubscribe by themselves (ZeroMQ's reconnect,
        ~100 ms) and miss what is published meanwhile — call ``wait_for_subscribers()``.
        A subscriber refused before the reload must connect again: libzmq does not retry a
        connection that authentication refused.

        :raises ConfigurationError: a key file does not parse (the old list stays in force).
        :raises TransportStateError: this is not a CURVE publisher.
        """
        with self._io_lock:
            publisher = self._publisher
            sock = None if publisher is None else publisher.sock
            if publisher is None or sock is None:
                raise self._wrong_role("reload allowed clients", "publisher")
            publisher.reload_allowed_clients(sock)

    # -- subscribing --------------------------------------------------------------------

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        """Return the next message that matches this subscriber's filters."""
        receive = self._receive
        if receive is None:
            if type(flags) is not int or (flags and flags != zmq.NOBLOCK):
                check_flags(flags)
            raise self._wrong_role("receive", "subscriber")
        return receive(size, flags)

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        """One wait, then every queued message up to ``max_messages``; see ``Transport.receive_many``."""
        subscriber = self._subscriber
        if subscriber is None:
            if type(max_messages) is not int or max_messages < 1:
                raise TypeError(f"max_messages must be an int >= 1, got {max_messages!r}")
            if flags or type(flags) is not int:
                check_flags(flags)
            raise self._wrong_role("receive", "subscriber")
        return subscriber.receive_many(max_messages, flags)

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        """Also receive messages starting with ``prefix``; before connect, add to the filter.

        :raises TypeError: ``prefix`` is neither bytes nor str.
        """
        self._change_subscription(_prefix(prefix), zmq.SUBSCRIBE)

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        """Stop receiving messages for ``prefix`` (a prefix not subscribed is ignored).

        :raises TypeError: ``prefix`` is neither bytes nor str.
        """
        self._change_subscription(_prefix(prefix), zmq.UNSUBSCRIBE)

    def _change_subscription(self, prefix: bytes, option: int) -> None:
        self._mode.check_prefix(prefix)
        self._check_process("change subscriptions")
        with self._io_lock:
            if self._closed or self._role == "publisher":
                raise self._wrong_role("change subscriptions", "subscriber")
            subscriber = self._subscriber
            if subscriber is not None:
                subscriber.change_subscription(prefix, option)
            elif (prefix in self._filters) != (option == zmq.SUBSCRIBE):  # the filter connect() uses
                (self._filters.append if option == zmq.SUBSCRIBE else self._filters.remove)(prefix)

    @property
    def read_ahead(self) -> int:
        """How many messages a subscriber may hold in Python beyond the one ``receive()``
        returns: its share of ``high_water_mark`` (libzmq's RCVHWM is the rest)."""
        return self._mode.read_ahead

    @property
    def filters(self) -> tuple[bytes, ...]:
        """The prefixes this subscriber listens to."""
        return tuple(self._filters)

    # -- statistics ---------------------------------------------------------------------

    def get_stats(self) -> TransportStats:
        """A snapshot of the counters; a publisher first reads pending subscriptions (in
        stream mode, messages waiting for their frame count as sent)."""
        self._check_process("get statistics")
        with self._io_lock:
            if self._closed:
                raise self._closed_now("get statistics")
            sent = sent_bytes = received = received_bytes = hwm_reached = send_timeouts = 0
            subscriptions = None
            publisher, subscriber = self._publisher, self._subscriber
            if publisher is not None:
                if publisher.sock is not None:
                    publisher.drain(publisher.sock, NOTES_PER_SNAPSHOT)
                sent, sent_bytes = publisher.counts()
                hwm_reached, send_timeouts = publisher.hwm_reached, publisher.send_timeouts
                subscriptions = publisher.subscription_count()
            if subscriber is not None:
                received, received_bytes = subscriber.counts()
            return TransportStats(
                role=self._role,
                endpoint=self.endpoint,
                messages_sent=sent,
                bytes_sent=sent_bytes,
                messages_received=received,
                bytes_received=received_bytes,
                hwm_reached=hwm_reached,
                send_timeouts=send_timeouts,
                subscriptions=subscriptions,
            )

    # -- helpers ------------------------------------------------------------------------

    def _wrong_role(self, operation: str, role: str) -> Exception:
        self._check_process(operation)
        if self._closed:
            return self._closed_now(operation)
        needed = "bind()" if role == "publisher" else "connect()"
        return TransportStateError(
            f"cannot {operation}: only a {role} may, and this transport is "
            f"{'a ' + self._role if self._role else 'not bound or connected'}; "
            f"{'use another transport' if self._role else 'call ' + needed + ' first'}"
        )


def _prefix(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"a subscription prefix must be bytes or str, got {type(value).__name__}")
    return as_prefix(value)
