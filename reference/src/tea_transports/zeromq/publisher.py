"""The publisher's half of ``ZeroMQPubSubTransport``: an XPUB socket and what it has seen.

A :class:`Publisher` is made by ``bind()`` and holds everything that belongs to a
publisher: the socket, the peer monitor, the subscriptions counted, the slow-subscriber
warning and the send counters. It sends each message as it comes; stream mode gives it an
*outbox* (``framer.Framer``) that packs messages into frames and sends those through
:meth:`Publisher.send_frame`. What it does with subscription notes is its *notes* part:
:class:`Subscriptions` here, stream mode's ``joins.JoinNotes`` there.

Every method that touches the socket runs under the transport's I/O lock (see
``zeromq.base``); the socket shortcut :attr:`Publisher.sock` is None once ``close()`` began.
"""

from __future__ import annotations

import errno
import time
import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterable, Optional, Protocol, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from .._arguments import check_flags, check_payload
from .._waiting import wait_unlocked
from ..errors import TransportStateError, TransportTimeoutError
from .base import libzmq_errors, translate_error
from .diagnostics import SlowSubscriberWarning
from .monitors import close_monitor
from .security import reload_domain

if TYPE_CHECKING:
    from .pubsub import ZeroMQPubSubTransport

__all__ = [
    "NOTES_PER_SNAPSHOT",
    "Notes",
    "Outbox",
    "Publisher",
    "Subscriptions",
    "has_input",
]

NOBLOCK = zmq.NOBLOCK
_EVENTS, _POLLIN = zmq.EVENTS, zmq.POLLIN
# The hot paths call libzmq's backend send directly: the sugar layer's per-call checks
# (routing ids, groups, lists, the zero-copy threshold) cost ~40% of a 64-byte send here.
# Messages at or over pyzmq's copy threshold still go through the sugar layer, which
# sends them zero-copy.
backend_send = getattr(getattr(zmq, "backend", None), "Socket", zmq.Socket).send
COPY_THRESHOLD = zmq.COPY_THRESHOLD
# a blocked send re-checks for close() this often (ms); libzmq itself wakes it on room
_BLOCK_SLICE_MS = 50
# pending subscription notifications are read this often (sends), at most this many at a
# time: one per message sent keeps pace with any subscriber, and a subscriber that
# subscribes and unsubscribes in a loop cannot hold a send() in the reading
_DRAIN_EVERY = 256
_NOTES_PER_DRAIN = 256
#: get_stats() reads the pending subscriptions, up to this many: under a storm its count is
#: a moment behind (the next calls read the rest) rather than its caller, and every other
#: thread's call, held for seconds (65,536 took 1 s, 3.6 s in stream mode)
NOTES_PER_SNAPSHOT = 1024


class Notes(Protocol):
    """What a publisher does with the subscription notes XPUB_VERBOSER reports."""

    def note(self, kind: bytes, prefix: bytes) -> None: ...

    def count(self, peers: Optional[int]) -> int: ...


class Outbox(Protocol):
    """A publisher's sending strategy other than one message at a time (stream mode)."""

    def send(self, data: Any, flags: int = 0) -> int: ...

    def send_many(self, messages: Iterable[Any]) -> int: ...

    def settle(self, sock: zmq.Socket[Any]) -> None: ...

    def configure(self, sock: zmq.Socket[Any]) -> None: ...

    def close(self, sock: Optional[zmq.Socket[Any]]) -> None: ...

    def detach(self) -> None: ...

    def pending(self) -> Tuple[int, int]: ...

    def forget(self) -> None: ...


class Subscriptions:
    """Subscriptions by prefix, as ``\\x01``/``\\x00`` notes count them (see ``pubsub``)."""

    def __init__(self) -> None:
        self.counts: Counter[bytes] = Counter()

    def note(self, kind: bytes, prefix: bytes) -> None:
        """Count one notification: ``kind`` is ``\\x01`` (subscribe) or ``\\x00`` (cancel)."""
        counts = self.counts
        if kind == b"\x01":
            counts[prefix] += 1
        elif kind == b"\x00" and prefix in counts:
            if counts[prefix] > 1:
                counts[prefix] -= 1
            else:
                del counts[prefix]
        # anything else is an XSUB peer's own frame (even empty), not a subscription

    def count(self, peers: Optional[int]) -> int:
        """Subscriptions, a prefix never counting more subscribers than there are ``peers``."""
        if peers is None:
            return sum(self.counts.values())
        return sum(min(n, peers) for n in self.counts.values())


class Publisher:
    """A bound transport's publisher state; see the module docstring."""

    def __init__(self, transport: ZeroMQPubSubTransport, notes: Optional[Notes] = None) -> None:
        # a proxy: the transport holds its publisher, which must not keep it alive (a transport
        # dropped without close() is finalized at once, and warns)
        self.transport: ZeroMQPubSubTransport = weakref.proxy(transport)
        self.notes: Notes = notes or Subscriptions()
        self.outbox: Optional[Outbox] = None
        self.block = transport._block
        self.sock: Optional[zmq.Socket[Any]] = None  # the shortcut the hot paths read
        self.monitor: Optional[zmq.Socket[Any]] = None
        #: connected peers as the socket monitor saw them; None without one (inproc)
        self.peers: Optional[int] = None
        self.warning: Optional[SlowSubscriberWarning] = None
        self.sent = self.sent_bytes = self.hwm_reached = self.send_timeouts = 0
        # bound once: `with lock:` costs twice as much per call
        self._acquire = transport._io_lock.acquire
        self._release = transport._io_lock.release

    def configure(self, sock: zmq.Socket[Any]) -> None:
        """Before bind: report every subscriber, and make a full queue visible (``EAGAIN``)."""
        sock.setsockopt(zmq.XPUB_VERBOSER, 1)
        sock.setsockopt(zmq.XPUB_NODROP, 1)
        if self.outbox is not None:
            self.outbox.configure(sock)

    def attach(self, sock: zmq.Socket[Any], monitor: Optional[zmq.Socket[Any]]) -> None:
        """The bound socket, and its peer monitor (None on inproc, which has no events)."""
        transport = self.transport
        self.monitor = monitor
        self.peers = None if monitor is None else 0
        self.warning = SlowSubscriberWarning(
            str(transport.endpoint), transport.options.high_water_mark, transport._warning_interval
        )
        self.sock = sock

    def detach(self) -> None:
        """No new I/O starts (``close()`` began); safe without the lock."""
        self.sock = None
        if self.outbox is not None:
            self.outbox.detach()

    def finish(self, sock: Optional[zmq.Socket[Any]]) -> None:
        """At close, under the lock: what the outbox holds leaves; the monitor closes."""
        if self.outbox is not None:
            self.outbox.close(sock)
        monitor, self.monitor = self.monitor, None
        close_monitor(sock, monitor)

    def forget(self) -> None:
        """A copy in a forked child: drop (never close) the parent's resources."""
        self.sock = self.monitor = None
        if self.outbox is not None:
            self.outbox.forget()

    # -- sending ------------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Publish ``data`` to every subscriber whose filter matches (see ``Transport.send``)."""
        noblock = False
        if flags or type(flags) is not int or type(data) is not bytes:  # (False, None: refused)
            noblock = check_flags(flags)
            data = check_payload(data)
        size = len(data)
        self._acquire()
        try:
            sock = self.sock
            if sock is None:
                raise self.transport._wrong_role("send", "publisher")
            try:
                if size < COPY_THRESHOLD:
                    backend_send(sock, data, NOBLOCK)
                else:
                    sock.send(data, NOBLOCK)
            except zmq.Again:
                self.send_full(sock, data, noblock)
            except zmq.ZMQError as exc:  # not libzmq_errors: a with costs ~30% of this send
                raise translate_error(exc, "send", self.transport.endpoint) from exc
            sent = self.sent = self.sent + 1
            self.sent_bytes += size
            if not sent % _DRAIN_EVERY:
                self.drain(sock)
        finally:
            self._release()
        return size

    def send_many(self, messages: Iterable[Any]) -> int:
        """Publish ``messages`` in order under one lock; see ``Transport.send_many``."""
        batch = [m if type(m) is bytes else check_payload(m) for m in messages]
        self._acquire()
        try:
            sock = self.sock
            if sock is None:
                raise self.transport._wrong_role("send", "publisher")
            total = 0
            with libzmq_errors("send", self.transport.endpoint):
                for data in batch:  # send()'s body inlined: one call per message is what a batch saves
                    size = len(data)
                    try:
                        if size < COPY_THRESHOLD:
                            backend_send(sock, data, NOBLOCK)
                        else:
                            sock.send(data, NOBLOCK)
                    except zmq.Again:
                        self.send_full(sock, data, False)
                    total += size
                    self.sent += 1  # per message, so a failure midway leaves exact counts
                    self.sent_bytes += size
            self.drain(sock)
        finally:
            self._release()
        return total

    def send_frame(self, sock: zmq.Socket[Any], frame: bytes, noblock: bool) -> None:
        """Send one ZeroMQ message (an outbox's frame), applying ``on_hwm``; under the lock."""
        with libzmq_errors("send", self.transport.endpoint):
            try:
                if len(frame) < COPY_THRESHOLD:
                    backend_send(sock, frame, NOBLOCK)
                else:
                    sock.send(frame, NOBLOCK)
            except zmq.Again:
                self.send_full(sock, frame, noblock)

    def send_full(self, sock: zmq.Socket[Any], data: bytes, noblock: bool) -> None:
        """A matching subscriber's queue is at the high water mark: apply ``on_hwm``."""
        transport = self.transport
        if not self.block:
            self.hwm_reached += 1
            assert self.warning is not None
            self.warning.record()
            sock.setsockopt(zmq.XPUB_NODROP, 0)  # deliver to the subscribers with room
            try:
                sock.send(data, NOBLOCK)
            finally:
                sock.setsockopt(zmq.XPUB_NODROP, 1)
            return
        options = transport.options
        if not noblock:
            deadline = transport._deadline(options.send_timeout)
            while deadline is None or time.monotonic() < deadline:
                remaining = _BLOCK_SLICE_MS if deadline is None else (deadline - time.monotonic()) * 1000
                sock.setsockopt(zmq.SNDTIMEO, max(1, min(_BLOCK_SLICE_MS, int(remaining))))
                try:
                    sock.send(data)  # libzmq wakes this when the subscriber makes room
                    return
                except zmq.Again:
                    if transport._closed:
                        raise transport._closed_now("send") from None
            self.send_timeouts += 1
        raise TransportTimeoutError(
            f"cannot send on {transport.endpoint}: a subscriber's queue is at "
            f"high_water_mark={options.high_water_mark} (on_hwm='block') "
            + ("and NOBLOCK was given" if noblock else f"for send_timeout={options.send_timeout} ms")
            + "; the message was not sent: retry, or speed up the subscriber"
        )

    # -- subscriptions ------------------------------------------------------------------

    def wait_for_subscribers(self, count: int, timeout: Optional[float]) -> int:
        """See ``ZeroMQPubSubTransport.wait_for_subscribers``; under the lock."""
        transport = self.transport
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            sock = self.sock
            if sock is None:
                raise transport._wrong_role("wait for subscribers", "publisher")
            self.drain(sock)
            total = self.notes.count(self.peers)
            if total >= count:
                return total
            try:
                # checked here too: while notes keep coming, the socket stays readable and
                # _wait() returns at once, before its own check
                if deadline is not None and time.monotonic() >= deadline:
                    raise TransportTimeoutError()
                # and for the same reason, the lock is let go each round (a poll of nothing,
                # which lets go of the GIL too), so other threads' calls get in between
                wait_unlocked(transport._io_lock, (), (), time.monotonic())
                transport._wait(sock, zmq.POLLIN, deadline, "wait for subscribers")
            except TransportTimeoutError:
                raise TransportTimeoutError(
                    f"only {total} of {count} subscription(s) reached {transport.endpoint} "
                    f"within {timeout} s; are the subscribers connecting to this address?"
                ) from None

    def drain(self, sock: zmq.Socket[Any], most: int = _NOTES_PER_DRAIN) -> None:
        """Read up to ``most`` pending (un)subscription notifications (``\\x01`` or ``\\x00``
        + prefix) and peer monitor events, then let the outbox act on them; under the lock."""
        # EVENTS first: a recv() that finds nothing raises, which costs ten times as much
        monitor = self.monitor
        if monitor is not None and self.peers is not None and has_input(monitor):
            for _ in range(most):
                try:
                    event = recv_monitor_message(monitor, NOBLOCK)["event"]
                except zmq.Again:
                    break
                self.peers = max(0, self.peers + (1 if event == zmq.EVENT_ACCEPTED else -1))
        self.drain_notes(sock, most)
        if self.outbox is not None:
            self.outbox.settle(sock)

    def drain_notes(self, sock: zmq.Socket[Any], most: int = _NOTES_PER_DRAIN) -> None:
        """Read up to ``most`` pending (un)subscription notifications (not the peer
        monitor's events); the rest wait for the next call."""
        note = self.notes.note
        for _ in range(most):
            if not has_input(sock):
                return
            try:
                message = sock.recv(NOBLOCK)
            except zmq.Again:
                return
            note(message[:1], message[1:])

    def subscription_count(self) -> int:
        return self.notes.count(self.peers)

    def reload_allowed_clients(self, sock: zmq.Socket[Any]) -> None:
        """See ``ZeroMQPubSubTransport.reload_allowed_clients``; under the lock."""
        transport = self.transport
        domain = transport._curve_domain
        if domain is None:
            raise TransportStateError(
                f"cannot reload allowed clients on {transport.endpoint}: it was bound without "
                f"CURVE (option curve_allowed_clients)"
            )
        reload_domain(domain, str(transport.config.options["curve_allowed_clients"]))
        endpoint = str(transport.endpoint)
        with libzmq_errors("bind again", endpoint):
            sock.unbind(endpoint)
            _rebind(sock, endpoint)

    def counts(self) -> Tuple[int, int]:
        """(messages, bytes) sent, counting what waits in the outbox as sent."""
        waiting, waiting_bytes = (0, 0) if self.outbox is None else self.outbox.pending()
        return self.sent + waiting, self.sent_bytes + waiting_bytes


def _rebind(sock: zmq.Socket[Any], endpoint: str) -> None:
    # unbind is asynchronous: the listener may hold the port a few ms longer
    deadline = time.monotonic() + 5
    while True:
        try:
            sock.bind(endpoint)
            return
        except zmq.ZMQError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


def has_input(sock: zmq.Socket[Any]) -> bool:
    events: int = sock.getsockopt(_EVENTS)  # type: ignore[assignment]
    return bool(events & _POLLIN)
