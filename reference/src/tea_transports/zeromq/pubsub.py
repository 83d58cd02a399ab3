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

import errno
import threading
import time
import uuid
from collections import Counter, deque
from typing import Any, Deque, Iterable, List, Optional, Union

import zmq
from zmq.utils.monitor import recv_monitor_message

from .._arguments import check_flags, check_payload
from ..base import Capabilities, Feature, TransportConfig, TransportStats
from ..errors import ConfigurationError, TransportStateError, TransportTimeoutError
from ..options import as_prefix
from .base import ZeroMQTransport, _protocols, libzmq_errors, translate_error
from .diagnostics import SlowSubscriberWarning, logger
from .security import reload_domain

__all__ = ["ZeroMQPubSubTransport"]

_NOBLOCK = zmq.NOBLOCK
_EVENTS, _POLLIN = zmq.EVENTS, zmq.POLLIN
# The hot paths call libzmq's backend send directly: the sugar layer's per-call checks
# (routing ids, groups, lists, the zero-copy threshold) cost ~40% of a 64-byte send here.
# Messages at or over pyzmq's copy threshold still go through the sugar layer, which
# sends them zero-copy.
_backend_send = getattr(getattr(zmq, "backend", None), "Socket", zmq.Socket).send
_COPY_THRESHOLD = zmq.COPY_THRESHOLD
# a blocked send re-checks for close() this often (ms); libzmq itself wakes it on room
_BLOCK_SLICE_MS = 50
# pending subscription notifications are read this often (sends), at most this many at a
# time: one per message sent keeps pace with any subscriber, and a subscriber that
# subscribes and unsubscribes in a loop cannot hold a send() in the reading
_DRAIN_EVERY = 256
_NOTES_PER_DRAIN = 256
# get_stats() promises the pending subscriptions, yet returns under such a storm too
_NOTES_PER_SNAPSHOT = 65536
# a subscriber reads ahead at most this many messages (and a quarter of its high water mark)
_READ_AHEAD = 256


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
        self._filters = list(self.options.subscribe_filter)
        self._subscriptions: Counter[bytes] = Counter()
        self._warning: Optional[SlowSubscriberWarning] = None
        self._sent = self._sent_bytes = self._received = self._received_bytes = 0
        self._hwm_reached = self._send_timeouts = 0
        hwm = self.options.high_water_mark
        #: how many messages a subscriber may hold beyond the one it returns (see the module doc)
        self._read_ahead = _READ_AHEAD if hwm == 0 else min(_READ_AHEAD, hwm // 4)
        #: what a receive() that finds the inbox empty reads into it (in messages)
        self._receive_up_to = 1 + self._read_ahead
        self._receive_hwm = hwm - self._read_ahead  # libzmq's RCVHWM: the inbox holds the rest
        #: messages read ahead, oldest first; _received counts them too
        self._inbox: Deque[bytes] = deque()
        #: an unsubscribe came after some of them were read: check each when it is taken
        self._refilter = False
        self._reading = threading.local()  # .now: this thread is inside _read()
        #: receive_many() is taking its batch from the inbox, under the lock: a receive()
        #: meanwhile can only be a signal handler's in that thread, and would split the batch
        self._taking = False
        # per-role shortcuts, set by bind()/connect() and cleared by close() under the lock
        self._publisher: Optional[zmq.Socket[Any]] = None
        self._subscriber: Optional[zmq.Socket[Any]] = None
        self._monitor: Optional[zmq.Socket[Any]] = None
        #: connected peers as the publisher's socket monitor saw them; None without one (inproc)
        self._peers: Optional[int] = None

    # -- roles --------------------------------------------------------------------------

    def bind(self, address: str) -> None:
        """Become the publisher on ``address`` (see ``addresses`` for the accepted forms)."""
        sock = self._open(zmq.XPUB, "publisher", address)
        with self._io_lock:
            if self._closed:  # by another thread, since _open() let go of the lock
                raise self._closed_now("bind")
            if not address.startswith("inproc://"):
                self._monitor = _monitor(sock, zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
                self._peers = 0
            self._publisher = sock
        self._warning = SlowSubscriberWarning(
            str(self.endpoint), self.options.high_water_mark, self._warning_interval
        )

    def connect(self, address: str) -> None:
        """Become a subscriber of the publisher at ``address``, filtered by ``subscribe_filter``."""
        sock = self._open(zmq.SUB, "subscriber", address)
        with self._io_lock:
            if self._closed:  # by another thread, since _open() let go of the lock
                raise self._closed_now("connect")
            if self.config.options.get("max_message_size") is not None:
                # libzmq drops a connection that delivers an oversize message and does not
                # reconnect it; watch for that, so one bad message cannot silence us for good
                self._monitor = _monitor(sock, zmq.EVENT_DISCONNECTED)
            self._subscriber = sock

    def _detach(self) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            if self._socket is not None:
                self._socket.disable_monitor()
            monitor.close(linger=0)
        self._detach_shortcuts()

    def _new_lock(self) -> None:
        super()._new_lock()
        # bound once: `with lock:` costs twice as much per call
        self._acquire = self._io_lock.acquire
        self._release = self._io_lock.release

    def _detach_shortcuts(self) -> None:
        self._publisher = self._subscriber = None
        self._inbox = deque()  # a call in progress keeps the one it holds

    def _forget_role_resources(self) -> None:
        self._monitor = None

    def _wait_fds(self) -> List[int]:
        fds = super()._wait_fds()
        if fds and self._monitor is not None:
            fds.append(int(self._monitor.getsockopt(zmq.FD)))
        return fds

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        if role == "publisher":
            sock.setsockopt(zmq.XPUB_VERBOSER, 1)
            sock.setsockopt(zmq.XPUB_NODROP, 1)
            return
        if self.options.high_water_mark:
            sock.setsockopt(zmq.RCVHWM, self._receive_hwm)
        for prefix in self._filters:
            sock.setsockopt(zmq.SUBSCRIBE, prefix)

    # -- publishing ---------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Publish ``data`` to every subscriber whose filter matches (see ``Transport.send``)."""
        noblock = False
        if flags or type(flags) is not int or type(data) is not bytes:  # (False, None: refused)
            noblock = check_flags(flags)
            data = check_payload(data)
        size = len(data)
        self._acquire()
        try:
            sock = self._publisher
            if sock is None:
                raise self._wrong_role("send", "publisher")
            try:
                if size < _COPY_THRESHOLD:
                    _backend_send(sock, data, _NOBLOCK)
                else:
                    sock.send(data, _NOBLOCK)
            except zmq.Again:
                self._send_full(sock, data, noblock)
            except zmq.ZMQError as exc:  # not libzmq_errors: a with costs ~30% of this send
                raise translate_error(exc, "send", self.endpoint) from exc
            sent = self._sent = self._sent + 1
            self._sent_bytes += size
            if not sent % _DRAIN_EVERY:
                self._drain_subscriptions(sock)
        finally:
            self._release()
        return size

    def send_many(self, messages: Iterable[Any]) -> int:
        """Publish ``messages`` in order under one lock; see ``Transport.send_many``."""
        batch = [m if type(m) is bytes else check_payload(m) for m in messages]
        self._acquire()
        try:
            sock = self._publisher
            if sock is None:
                raise self._wrong_role("send", "publisher")
            total = 0
            with libzmq_errors("send", self.endpoint):
                for data in batch:  # send()'s body inlined: one call per message is what a batch saves
                    size = len(data)
                    try:
                        if size < _COPY_THRESHOLD:
                            _backend_send(sock, data, _NOBLOCK)
                        else:
                            sock.send(data, _NOBLOCK)
                    except zmq.Again:
                        self._send_full(sock, data, False)
                    total += size
                    self._sent += 1  # per message, so a failure midway leaves exact counts
                    self._sent_bytes += size
            self._drain_subscriptions(sock)
        finally:
            self._release()
        return total

    def _send_full(self, sock: zmq.Socket[Any], data: bytes, noblock: bool) -> None:
        """A matching subscriber's queue is at the high water mark: apply ``on_hwm``."""
        if not self._block:
            self._hwm_reached += 1
            assert self._warning is not None
            self._warning.record()
            sock.setsockopt(zmq.XPUB_NODROP, 0)  # deliver to the subscribers with room
            try:
                sock.send(data, _NOBLOCK)
            finally:
                sock.setsockopt(zmq.XPUB_NODROP, 1)
            return
        if not noblock:
            deadline = self._deadline(self.options.send_timeout)
            while deadline is None or time.monotonic() < deadline:
                remaining = _BLOCK_SLICE_MS if deadline is None else (deadline - time.monotonic()) * 1000
                sock.setsockopt(zmq.SNDTIMEO, max(1, min(_BLOCK_SLICE_MS, int(remaining))))
                try:
                    sock.send(data)  # libzmq wakes this when the subscriber makes room
                    return
                except zmq.Again:
                    if self._closed:
                        raise self._closed_now("send") from None
            self._send_timeouts += 1
        raise TransportTimeoutError(
            f"cannot send on {self.endpoint}: a subscriber's queue is at "
            f"high_water_mark={self.options.high_water_mark} (on_hwm='block') "
            + ("and NOBLOCK was given" if noblock else f"for send_timeout={self.options.send_timeout} ms")
            + "; the message was not sent: retry, or speed up the subscriber"
        )

    def wait_for_subscribers(self, count: int = 1, timeout: Optional[float] = None) -> int:
        """Wait until at least ``count`` subscriptions have arrived; return how many there are.

        A subscriber counts once per prefix it listens to (once with the default filter).
        Call it before publishing: ZeroMQ drops what is sent before a subscription arrives.
        Other threads may send, subscribe and read statistics meanwhile.

        :raises TransportTimeoutError: fewer than ``count`` arrived within ``timeout`` s.
        :raises TransportStateError: this transport is not a publisher.
        """
        with self._io_lock:
            sock = self._publisher
            if sock is None:
                raise self._wrong_role("wait for subscribers", "publisher")
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                self._drain_subscriptions(sock)
                total = self._subscription_count()
                if total >= count:
                    return total
                try:
                    self._wait(sock, zmq.POLLIN, deadline, "wait for subscribers")
                except TransportTimeoutError:
                    raise TransportTimeoutError(
                        f"only {total} of {count} subscription(s) reached {self.endpoint} "
                        f"within {timeout} s; are the subscribers connecting to this address?"
                    ) from None

    def _drain_subscriptions(self, sock: zmq.Socket[Any], most: int = _NOTES_PER_DRAIN) -> None:
        """Read pending (un)subscription notifications (``\\x01`` or ``\\x00`` + prefix) and
        the peer monitor's events; called with ``_io_lock`` held."""
        # EVENTS first: a recv() that finds nothing raises, which costs ten times as much
        monitor = self._monitor
        if monitor is not None and self._peers is not None and _has_input(monitor):
            for _ in range(most):
                try:
                    event = recv_monitor_message(monitor, _NOBLOCK)["event"]
                except zmq.Again:
                    break
                self._peers = max(0, self._peers + (1 if event == zmq.EVENT_ACCEPTED else -1))
        self._drain_notes(sock, most)

    def _drain_notes(self, sock: zmq.Socket[Any], most: int = _NOTES_PER_DRAIN) -> None:
        """Read up to ``most`` pending (un)subscription notifications (not the peer
        monitor's events); the rest wait for the next call."""
        for _ in range(most):
            if not _has_input(sock):
                return
            try:
                note = sock.recv(_NOBLOCK)
            except zmq.Again:
                return
            self._note(note[:1], note[1:])

    def _note(self, kind: bytes, prefix: bytes) -> None:
        """Count one notification: ``kind`` is ``\x01`` (subscribe) or ``\x00`` (cancel)."""
        subscriptions = self._subscriptions
        if kind == b"\x01":
            subscriptions[prefix] += 1
        elif kind == b"\x00" and prefix in subscriptions:
            if subscriptions[prefix] > 1:
                subscriptions[prefix] -= 1
            else:
                del subscriptions[prefix]
        # anything else is an XSUB peer's own frame (even empty), not a subscription

    def _subscription_count(self) -> int:
        peers = self._peers
        if peers is None:
            return sum(self._subscriptions.values())
        return sum(min(n, peers) for n in self._subscriptions.values())

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
            sock = self._publisher
            if sock is None:
                raise self._wrong_role("reload allowed clients", "publisher")
            domain = self._curve_domain
            if domain is None:
                raise TransportStateError(
                    f"cannot reload allowed clients on {self.endpoint}: it was bound without "
                    f"CURVE (option curve_allowed_clients)"
                )
            reload_domain(domain, str(self.config.options["curve_allowed_clients"]))
            endpoint = str(self.endpoint)
            with libzmq_errors("bind again", endpoint):
                sock.unbind(endpoint)
                self._rebind(sock, endpoint)

    def _rebind(self, sock: zmq.Socket[Any], endpoint: str) -> None:
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

    # -- subscribing --------------------------------------------------------------------

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        """Return the next message that matches this subscriber's filters."""
        if type(flags) is not int or (flags and flags != _NOBLOCK):
            check_flags(flags)  # raises: 0 and NOBLOCK are the only flags
        if not self._refilter and not self._taking:
            # a message read ahead is taken without the lock: popleft() is atomic, and
            # close() (even from a signal handler) replaces the inbox before it returns
            try:
                return self._inbox.popleft()
            except IndexError:
                pass
        noblock = bool(flags)
        self._acquire()
        try:
            if self._taking:
                raise self._inside_receive()
            inbox = self._inbox  # this call's own: close() replaces the attribute, never empties it
            deadline = self._deadline(self.options.receive_timeout)  # one for the whole call
            while True:
                if not inbox:
                    self._read(inbox, noblock, self._receive_up_to, deadline, ahead_after_wait=False)
                try:
                    message = inbox.popleft()
                except IndexError:  # a signal handler's receive() took the last one
                    continue
                if not self._refilter or self._still_wanted(message):
                    return message
        finally:
            self._release()

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        """One wait, then every queued message up to ``max_messages``; see ``Transport.receive_many``."""
        if type(max_messages) is not int or max_messages < 1:
            raise TypeError(f"max_messages must be an int >= 1, got {max_messages!r}")
        noblock = check_flags(flags) if flags or type(flags) is not int else False
        self._acquire()
        try:
            if self._taking:
                raise self._inside_receive()
            inbox = self._inbox
            deadline = self._deadline(self.options.receive_timeout)
            while True:
                if len(inbox) < max_messages:  # top up; wait only when there is nothing at all
                    self._read(inbox, noblock, max_messages, deadline, wait=not inbox)
                self._taking = True
                try:
                    messages = self._take(inbox, max_messages)
                finally:
                    self._taking = False
                if messages:
                    return messages
        finally:
            self._release()

    def _read(
        self,
        inbox: Deque[bytes],
        noblock: bool,
        up_to: int,
        deadline: Optional[float],
        wait: bool = True,
        ahead_after_wait: bool = True,
    ) -> None:
        """Move queued messages into ``inbox`` until it holds ``up_to``; called with
        ``_io_lock`` held. With ``wait``, the first is waited for until ``deadline`` (or
        not at all with ``noblock``, raising on a timeout); without, an empty queue adds
        nothing. A call may come back with nothing added (everything read was filtered
        out): its caller reads again, with the same deadline.
        Without ``ahead_after_wait``, a message that had to be waited for comes alone: the
        queue was empty a moment ago, and looking for more would only cost a sparse stream
        another call.

        A signal handler's receive() cannot read in the middle of this one (it would take
        messages read after one this call holds): it is refused, except while this one only
        waits; close() is what a handler may always call.
        """
        sock = self._subscriber
        if sock is None:
            raise self._wrong_role("receive", "subscriber")
        reading = self._reading
        if getattr(reading, "now", False):
            raise self._inside_receive()
        if not inbox:  # what libzmq hands over from now on has passed the filters in force
            self._refilter = False
        reading.now = True
        try:
            first: Optional[bytes]
            try:
                first = sock.recv(_NOBLOCK)
            except zmq.Again:
                if not wait:
                    return
                if noblock:
                    raise self._nothing_ready(sock) from None
                first = self._receive_waiting(sock, inbox, deadline)
                if first is None:  # another thread read ahead meanwhile: take from the inbox
                    return
                if not ahead_after_wait:
                    up_to = 0
            except zmq.ZMQError as exc:
                raise translate_error(exc, "receive", self.endpoint) from exc
            self._fill(inbox, sock, first, up_to)
        finally:
            reading.now = False

    def _inside_receive(self) -> TransportStateError:
        return TransportStateError(
            f"cannot receive on {self.endpoint}: this thread is already inside receive() on "
            f"this transport (a signal handler interrupted it); call close() from the handler, "
            f"or receive after the handler returns"
        )

    def _fill(self, inbox: Deque[bytes], sock: zmq.Socket[Any], first: bytes, up_to: int) -> None:
        """Add ``first`` and what else is queued to ``inbox``, until it holds ``up_to``."""
        batch = [first]
        room = up_to - len(inbox) - 1  # while this call waited, another may have filled it
        if room > 0:
            append, recv = batch.append, sock.recv
            try:
                for _ in range(room):
                    append(recv(_NOBLOCK))
            except zmq.ZMQError:  # drained (EAGAIN); any other error meets the next call
                pass
        inbox.extend(batch)
        self._received += len(batch)
        self._received_bytes += sum(map(len, batch))

    def _take(self, inbox: Deque[bytes], count: int) -> List[bytes]:
        """Pop up to ``count`` messages, keeping those still wanted."""
        taken: List[bytes] = []
        append, popleft = taken.append, inbox.popleft
        try:
            for _ in range(min(count, len(inbox))):
                append(popleft())
        except IndexError:  # a signal handler's receive() took the last ones
            pass
        if self._refilter:
            taken = [message for message in taken if self._still_wanted(message)]
        return taken

    def _still_wanted(self, message: bytes) -> bool:
        """After an unsubscribe, whether a message read ahead still matches a filter — checked
        when it is taken, as libzmq's SUB checks its own queue when it is read (so an
        unsubscribe followed by a subscribe keeps it). One that does not is forgotten."""
        if message.startswith(tuple(self._filters)):
            return True
        self._received -= 1
        self._received_bytes -= len(message)
        return False

    def _nothing_ready(self, sock: zmq.Socket[Any]) -> TransportTimeoutError:
        if self._monitor is not None:  # nothing queued: was the connection dropped?
            self._reconnect_if_dropped(sock, self._monitor)
        return TransportTimeoutError(f"cannot receive on {self.endpoint}: no message is ready (NOBLOCK)")

    def _receive_waiting(
        self, sock: zmq.Socket[Any], inbox: Deque[bytes], deadline: Optional[float]
    ) -> Optional[bytes]:
        """Wait for a message; None when another thread has read some into ``inbox`` meanwhile."""
        reading = self._reading
        while True:
            if self._monitor is not None:
                self._reconnect_if_dropped(sock, self._monitor)
            reading.now = False  # a wait holds no message: a signal handler may receive meanwhile
            try:
                self._wait(sock, zmq.POLLIN, deadline, "receive")
            finally:
                reading.now = True
            if inbox:
                return None
            try:
                return bytes(sock.recv(_NOBLOCK))
            except zmq.Again:
                continue

    def _reconnect_if_dropped(self, sock: zmq.Socket[Any], monitor: zmq.Socket[Any]) -> None:
        dropped = False
        while monitor.poll(0):
            dropped |= recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
        if dropped:
            logger.warning(
                "subscriber of %s: the connection dropped (a message over max_message_size=%s?); "
                "reconnecting",
                self.endpoint,
                self.config.options.get("max_message_size"),
            )
            sock.disconnect(str(self.endpoint))
            sock.connect(str(self.endpoint))

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
        self._check_process("change subscriptions")
        with self._io_lock:
            if self._closed or self._role == "publisher":
                raise self._wrong_role("change subscriptions", "subscriber")
            subscribed = prefix in self._filters
            if subscribed == (option == zmq.SUBSCRIBE):
                return  # ZeroMQ counts duplicates; keep one subscription per prefix
            if self._socket is not None:
                self._socket.setsockopt(option, prefix)
            if subscribed:
                self._filters.remove(prefix)
                self._refilter = True  # messages read ahead are checked again when taken
            else:
                self._filters.append(prefix)

    @property
    def read_ahead(self) -> int:
        """How many messages a subscriber may hold in Python beyond the one ``receive()``
        returns: its share of ``high_water_mark`` (libzmq's RCVHWM is the rest)."""
        return self._read_ahead

    @property
    def filters(self) -> tuple[bytes, ...]:
        """The prefixes this subscriber listens to."""
        return tuple(self._filters)

    # -- statistics ---------------------------------------------------------------------

    def get_stats(self) -> TransportStats:
        """A snapshot of the counters; a publisher first reads pending subscriptions."""
        self._check_process("get statistics")
        with self._io_lock:
            if self._closed:
                raise self._closed_now("get statistics")
            if self._publisher is not None:
                self._drain_subscriptions(self._publisher, _NOTES_PER_SNAPSHOT)
            return TransportStats(
                role=self._role,
                endpoint=self.endpoint,
                messages_sent=self._sent,
                bytes_sent=self._sent_bytes,
                messages_received=self._received - len(self._inbox),
                bytes_received=self._received_bytes - sum(map(len, self._inbox)),
                hwm_reached=self._hwm_reached,
                send_timeouts=self._send_timeouts,
                subscriptions=self._subscription_count() if self._role == "publisher" else None,
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


def _has_input(sock: zmq.Socket[Any]) -> bool:
    events: int = sock.getsockopt(_EVENTS)  # type: ignore[assignment]
    return bool(events & _POLLIN)


def _prefix(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"a subscription prefix must be bytes or str, got {type(value).__name__}")
    return as_prefix(value)


def _monitor(sock: zmq.Socket[Any], events: int) -> zmq.Socket[Any]:
    """A PAIR socket that receives ``sock``'s events, with no high water mark: libzmq blocks
    the socket's I/O thread on a full monitor queue (a publisher that makes no call while
    1,000 subscribers come and go would stop delivering, and close() would hang)."""
    # a unique name: pyzmq's default is derived from the descriptor number, which a socket
    # still being reaped by libzmq may hold, so a new socket's monitor would find it in use
    address = f"inproc://tea-monitor-{uuid.uuid4().hex}"
    sock.monitor(address, events)
    events_socket: zmq.Socket[Any] = sock.context.socket(zmq.PAIR)
    events_socket.setsockopt(zmq.RCVHWM, 0)  # before connect: an inproc pipe's mark is set then
    events_socket.connect(address)
    return events_socket
