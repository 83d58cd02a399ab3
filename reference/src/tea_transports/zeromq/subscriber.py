"""The subscriber's half of ``ZeroMQPubSubTransport``: a SUB socket, its filters and inbox.

A :class:`Subscriber` is made by ``connect()`` and holds everything that belongs to a
subscriber: the socket, the filters, the messages read ahead (the inbox) and the monitor
that reconnects a connection libzmq dropped. How what libzmq hands over becomes messages is
its *reader*: each ZeroMQ message is one message here; stream mode's ``unpacker.Unpacker``
unpacks frames and keeps the joins.

Every method that touches the socket runs under the transport's I/O lock (see
``zeromq.base``), except taking a message already read ahead (see :meth:`Subscriber.receive`).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Protocol

import zmq
from zmq.utils.monitor import recv_monitor_message

from .._arguments import check_flags
from ..errors import TransportStateError, TransportTimeoutError
from .base import libzmq_errors
from .diagnostics import logger
from .monitors import close_monitor

if TYPE_CHECKING:
    from .pubsub import ZeroMQPubSubTransport

__all__ = ["Reader", "Subscriber"]

_NOBLOCK = zmq.NOBLOCK


class Reader(Protocol):
    """How a subscriber turns what libzmq hands over into messages (stream mode: frames)."""

    def configure(self, sock: zmq.Socket[Any], filters: List[bytes]) -> None: ...

    def fill(
        self, subscriber: Subscriber, inbox: Deque[bytes], sock: zmq.Socket[Any], first: bytes, up_to: int
    ) -> None: ...

    def subscribed(self, sock: Optional[zmq.Socket[Any]], prefix: bytes) -> None: ...

    def unsubscribed(self, sock: Optional[zmq.Socket[Any]], prefix: bytes) -> None: ...


class Subscriber:
    """A connected transport's subscriber state; see the module docstring."""

    def __init__(self, transport: ZeroMQPubSubTransport, reader: Optional[Reader] = None) -> None:
        # a proxy: the transport holds its subscriber, which must not keep it alive
        self.transport: ZeroMQPubSubTransport = weakref.proxy(transport)
        self.reader = reader
        self.filters = transport._filters
        self.sock: Optional[zmq.Socket[Any]] = None  # the shortcut the read paths take
        #: watches for a connection libzmq dropped (max_message_size), which it does not redo
        self.monitor: Optional[zmq.Socket[Any]] = None
        self.received = self.received_bytes = 0
        #: what a receive() that finds the inbox empty reads into it (in messages)
        self.up_to = transport._mode.receive_up_to
        #: messages read ahead, oldest first; ``received`` counts them too
        self.inbox: Deque[bytes] = deque()
        #: an unsubscribe came after some of them were read: check each when it is taken
        self.refilter = False
        self._reading = threading.local()  # .now: this thread is inside _read()
        #: receive_many() is taking its batch from the inbox, under the lock: a receive()
        #: meanwhile can only be a signal handler's in that thread, and would split the batch
        self.taking = False
        self._fill = _fill_plain if reader is None else reader.fill
        self._acquire = transport._io_lock.acquire
        self._release = transport._io_lock.release

    def configure(self, sock: zmq.Socket[Any]) -> None:
        """Before connect: libzmq's share of the high water mark, and the filters."""
        transport = self.transport
        self.filters = transport._filters
        # a SUB sends nothing but subscriptions, and libzmq replays them on every (re)connect
        # through a pipe bounded by SNDHWM, dropping what does not fit: unbounded, every
        # filter reaches the publisher (the mark bounds what we receive, RCVHWM)
        sock.setsockopt(zmq.SNDHWM, 0)
        if transport.options.high_water_mark:
            sock.setsockopt(zmq.RCVHWM, transport._mode.receive_hwm)
        for prefix in self.filters:
            sock.setsockopt(zmq.SUBSCRIBE, prefix)
        if self.reader is not None:
            self.reader.configure(sock, self.filters)

    def attach(self, sock: zmq.Socket[Any], monitor: Optional[zmq.Socket[Any]]) -> None:
        self.monitor = monitor
        self.sock = sock

    def detach(self) -> None:
        """No new I/O starts (``close()`` began); safe without the lock."""
        self.sock = None
        self.inbox = deque()  # a call in progress keeps the one it holds

    def finish(self, sock: Optional[zmq.Socket[Any]]) -> None:
        """At close, under the lock: the monitor closes."""
        monitor, self.monitor = self.monitor, None
        close_monitor(sock, monitor)

    def forget(self) -> None:
        """A copy in a forked child: drop (never close) the parent's resources."""
        self.sock = self.monitor = None
        self.inbox = deque()

    # -- receiving ----------------------------------------------------------------------

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        """Return the next message that matches this subscriber's filters."""
        if type(flags) is not int or (flags and flags != _NOBLOCK):
            check_flags(flags)  # raises: 0 and NOBLOCK are the only flags
        if not self.refilter and not self.taking:
            # a message read ahead is taken without the lock: popleft() is atomic, and
            # close() (even from a signal handler) replaces the inbox before it returns
            try:
                return self.inbox.popleft()
            except IndexError:
                pass
        noblock = bool(flags)
        self._acquire()
        try:
            if self.taking:
                raise self._inside_receive()
            inbox = self.inbox  # this call's own: close() replaces the attribute, never empties it
            deadline = self.transport._deadline(self.transport.options.receive_timeout)  # one for the call
            while True:
                if not inbox:
                    self._read(inbox, noblock, self.up_to, deadline, ahead_after_wait=False)
                try:
                    message = inbox.popleft()
                except IndexError:  # a signal handler's receive() took the last one
                    continue
                if not self.refilter or self._still_wanted(message):
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
            if self.taking:
                raise self._inside_receive()
            inbox = self.inbox
            deadline = self.transport._deadline(self.transport.options.receive_timeout)
            while True:
                if len(inbox) < max_messages:  # top up; wait only when there is nothing at all
                    self._read(inbox, noblock, max_messages, deadline, wait=not inbox)
                self.taking = True
                try:
                    messages = self._take(inbox, max_messages)
                finally:
                    self.taking = False
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
        """Move queued messages into ``inbox`` until it holds ``up_to``; called with the
        I/O lock held. With ``wait``, the first is waited for until ``deadline`` (or not at
        all with ``noblock``, raising on a timeout); without, an empty queue adds nothing.
        A call may come back with nothing added (everything read was filtered out): its
        caller reads again, with the same deadline.
        Without ``ahead_after_wait``, a message that had to be waited for comes alone: the
        queue was empty a moment ago, and looking for more would only cost a sparse stream
        another call.

        A signal handler's receive() cannot read in the middle of this one (it would take
        messages read after one this call holds): it is refused, except while this one only
        waits; close() is what a handler may always call.
        """
        sock = self.sock
        if sock is None:
            raise self.transport._wrong_role("receive", "subscriber")
        reading = self._reading
        if getattr(reading, "now", False):
            raise self._inside_receive()
        if not inbox:  # what libzmq hands over from now on has passed the filters in force
            self.refilter = False
        reading.now = True
        try:
            first: Optional[bytes]
            with libzmq_errors("receive", self.transport.endpoint):
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
            self._fill(self, inbox, sock, first, up_to)
        finally:
            reading.now = False

    def _inside_receive(self) -> TransportStateError:
        return TransportStateError(
            f"cannot receive on {self.transport.endpoint}: this thread is already inside receive() "
            f"on this transport (a signal handler interrupted it); call close() from the handler, "
            f"or receive after the handler returns"
        )

    def add(self, inbox: Deque[bytes], messages: List[bytes]) -> None:
        """Read ahead: ``messages`` join ``inbox`` and count as received."""
        inbox.extend(messages)
        self.received += len(messages)
        self.received_bytes += sum(map(len, messages))

    def _take(self, inbox: Deque[bytes], count: int) -> List[bytes]:
        """Pop up to ``count`` messages, keeping those still wanted."""
        taken: List[bytes] = []
        append, popleft = taken.append, inbox.popleft
        try:
            for _ in range(min(count, len(inbox))):
                append(popleft())
        except IndexError:  # a signal handler's receive() took the last ones
            pass
        if self.refilter:
            taken = [message for message in taken if self._still_wanted(message)]
        return taken

    def _still_wanted(self, message: bytes) -> bool:
        """After an unsubscribe, whether a message read ahead still matches a filter — checked
        when it is taken, as libzmq's SUB checks its own queue when it is read (so an
        unsubscribe followed by a subscribe keeps it). One that does not is forgotten."""
        if message.startswith(tuple(self.filters)):
            return True
        self.received -= 1
        self.received_bytes -= len(message)
        return False

    def _nothing_ready(self, sock: zmq.Socket[Any]) -> TransportTimeoutError:
        if self.monitor is not None:  # nothing queued: was the connection dropped?
            self._reconnect_if_dropped(sock, self.monitor)
        return TransportTimeoutError(
            f"cannot receive on {self.transport.endpoint}: no message is ready (NOBLOCK)"
        )

    def _receive_waiting(
        self, sock: zmq.Socket[Any], inbox: Deque[bytes], deadline: Optional[float]
    ) -> Optional[bytes]:
        """Wait for a message; None when another thread has read some into ``inbox`` meanwhile."""
        reading = self._reading
        while True:
            if self.monitor is not None:
                self._reconnect_if_dropped(sock, self.monitor)
            reading.now = False  # a wait holds no message: a signal handler may receive meanwhile
            try:
                self.transport._wait(sock, zmq.POLLIN, deadline, "receive")
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
            endpoint = str(self.transport.endpoint)
            logger.warning(
                "subscriber of %s: the connection dropped (a message over max_message_size=%s?); "
                "reconnecting",
                endpoint,
                self.transport.config.options.get("max_message_size"),
            )
            sock.disconnect(endpoint)
            sock.connect(endpoint)

    # -- filters ------------------------------------------------------------------------

    def change_subscription(self, prefix: bytes, option: int) -> None:
        """Subscribe (``zmq.SUBSCRIBE``) or cancel ``prefix``, once per prefix; under the lock."""
        subscribed = prefix in self.filters
        if subscribed == (option == zmq.SUBSCRIBE):
            return  # ZeroMQ counts duplicates; keep one subscription per prefix
        sock = self.transport._socket
        if sock is not None:
            sock.setsockopt(option, prefix)
        if subscribed:
            self.filters.remove(prefix)
            self.refilter = True  # messages read ahead are checked again when taken
        else:
            self.filters.append(prefix)
        if self.reader is not None:
            if subscribed:
                self.reader.unsubscribed(sock, prefix)
            else:
                self.reader.subscribed(sock, prefix)

    def counts(self) -> tuple[int, int]:
        """(messages, bytes) received, not counting what waits in the inbox."""
        inbox = self.inbox
        return self.received - len(inbox), self.received_bytes - sum(map(len, inbox))


def _fill_plain(
    subscriber: Subscriber, inbox: Deque[bytes], sock: zmq.Socket[Any], first: bytes, up_to: int
) -> None:
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
    subscriber.add(inbox, batch)
