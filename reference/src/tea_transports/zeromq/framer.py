"""Stream mode's publisher part: the outbox that packs messages into frames.

A :class:`Framer` is a ``Publisher``'s outbox (see ``stream`` for when a frame leaves and
what stream mode promises). Before a frame's first message it reads the subscriptions,
which group its messages; after a flush it acknowledges the joins seen (``joins``).

The pending frame's state is explicit: *idle* (no frame: the next ``send()`` opens one,
under the lock), *armed* (the flusher sends it at ``_due``), and *closed* (``close()``
began). ``send()`` reads one derived field, ``_inline_until``, to take its lock-free path."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import deque
from itertools import repeat, starmap
from typing import TYPE_CHECKING, Any, Callable, Deque, Iterable, List, Optional, Tuple

import zmq

from .._arguments import check_flags, check_payload
from ..errors import TransportError, TransportTimeoutError
from .base import libzmq_errors
from .framing import TopicTable, frames, pack
from .joins import JoinNotes, acknowledgement
from .publisher import Publisher

if TYPE_CHECKING:
    from .pubsub import ZeroMQPubSubTransport
    from .stream import StreamMode

__all__ = ["Framer"]

_monotonic = time.monotonic


class Framer:
    """A publisher's outbox in stream mode; see the module docstring."""

    def __init__(
        self, publisher: Publisher, notes: JoinNotes, transport: ZeroMQPubSubTransport, mode: StreamMode
    ) -> None:
        self._publisher: Publisher = weakref.proxy(publisher)  # it holds this outbox
        self._transport = publisher.transport  # a proxy too
        self._notes = notes
        self._mode = mode
        self._frame_messages = mode.frame_messages
        self._frame_bytes = mode.frame_bytes
        self._delay = mode.delay
        #: messages sent but not yet in a frame, oldest first (counted as sent when they
        #: leave). Only a flush, under the lock, takes from its left: send() appends to
        #: its right without the lock (deque.append is atomic)
        self._pending: Deque[bytes] = deque()
        #: send() takes a message of at most this many bytes without the lock (-1: never, when
        #: every send() is its own frame): a full frame of them stays within stream_max_bytes
        self._small = self._frame_bytes // self._frame_messages if self._delay else -1
        #: how many of the pending messages were added under the lock, and their bytes (each
        #: of the others has at most _small bytes)
        self._counted = self._counted_bytes = 0
        self._armed = False  # the flusher knows of the pending frame, due at _due
        self._due = 0.0
        self._closed = False  # close() began: send() takes the lock, and sees it
        #: derived from the three above: _due while armed and not closed, else 0, so that
        #: send() leaves its lock-free path for one that opens a frame or has waited too long
        self._inline_until = 0.0
        self.flusher_busy = False  # the flusher watches frames (else it waits for _flush_due)
        self._flushing = False  # a signal handler's send() must not overtake a flush
        self._table = TopicTable()
        self._flush_due = threading.Event()  # the flusher thread's alarm: messages are pending
        self._flusher: Optional[threading.Thread] = None
        due = self._flush_due
        # a transport dropped without close() wakes its flusher, which then ends
        self._transport_ref = weakref.ref(transport, lambda _: due.set())
        #: this publisher's name in its frames (new on every bind), and its epoch (see joins)
        self._origin = os.urandom(8)
        self._epoch = 0
        self._acquire = transport._io_lock.acquire
        self._release = transport._io_lock.release

    def configure(self, sock: zmq.Socket[Any]) -> None:
        hwm = self._transport.options.high_water_mark
        if hwm:
            sock.setsockopt(zmq.SNDHWM, self._mode.frames_within(hwm))

    # -- sending ------------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Add ``data`` to the next frame (see ``Transport.send``); a full frame leaves now."""
        if flags or type(flags) is not int or type(data) is not bytes:
            return self._send_locked(check_payload(data), check_flags(flags))
        size = len(data)
        # the delay is checked here too: a sender that keeps the GIL busy would hold the
        # flusher thread back by up to the interpreter's switch interval (5 ms)
        if size > self._small or _monotonic() >= self._inline_until:
            return self._send_locked(data, False)
        # the common case, a small message for an armed frame, without the lock: a flush
        # takes only what it finds, so this message is either in its frame or in the next
        pending = self._pending
        pending.append(data)
        if len(pending) >= self._frame_messages or not self._inline_until:  # full, idle or closed meanwhile
            self._after_append(data)
        return size

    def send_many(self, messages: Iterable[Any]) -> int:
        """Add ``messages`` to frames in order under one lock; see ``Transport.send_many``."""
        batch = [m if type(m) is bytes else check_payload(m) for m in messages]
        self._acquire()
        try:
            sock = self._open_publisher()
            for data in batch:
                self._add(sock, data, False, alone=False)
            if not self._delay and not self._flushing:
                self._flush(sock, False)
        finally:
            self._release()
        return sum(map(len, batch))

    def _send_locked(self, data: bytes, noblock: bool) -> int:
        self._acquire()
        try:
            self._add(self._open_publisher(), data, noblock, alone=True)
        finally:
            self._release()
        return len(data)

    def _open_publisher(self) -> zmq.Socket[Any]:
        sock = self._publisher.sock
        if sock is None:
            raise self._transport._wrong_role("send", "publisher")
        return sock

    def _add(self, sock: zmq.Socket[Any], data: bytes, noblock: bool, alone: bool) -> None:
        """Put ``data`` in the pending frame, sending the frame first if ``data`` would take
        it past ``stream_max_bytes``, and after if it is full; under the lock. ``alone``: a
        send() with no delay to wait for, whose frame leaves now.

        :raises TransportTimeoutError: block mode, and a frame found no room in time;
            ``data`` was not sent (the frame waits).
        """
        pending, size = self._pending, len(data)
        if not self._flushing:  # else a signal handler interrupted a flush: its frame is next
            if not pending:  # a new frame: group by the subscriptions, acknowledge the joins
                self._open_frame(sock)
            small_ones = len(pending) - self._counted
            if pending and self._counted_bytes + small_ones * self._small + size > self._frame_bytes:
                self._flush(sock, noblock)
        pending.append(data)
        self._counted += 1
        self._counted_bytes += size
        if self._flushing:
            return
        if (
            len(pending) >= self._frame_messages
            or size >= self._frame_bytes
            or (self._armed and _monotonic() >= self._due)
            or (alone and not self._delay)
        ):
            self._flush_or_take_back(sock, data, noblock)
        elif self._delay and not self._armed:
            self._arm()

    def _after_append(self, data: bytes) -> None:
        """send() appended ``data`` without the lock and found the frame full, idle, or
        closed (then ``data`` leaves only if a flush took it)."""
        self._acquire()
        try:
            sock = self._publisher.sock
            if self._transport._closed or sock is None:  # if close() sent it, it was sent
                if _take_back(self._pending, data):
                    raise self._transport._wrong_role("send", "publisher")
                return
            if self._flushing:
                return
            if len(self._pending) >= self._frame_messages:
                self._flush_or_take_back(sock, data, False)
            elif not self._armed and self._pending:
                self._arm()
        finally:
            self._release()

    def _flush_or_take_back(self, sock: zmq.Socket[Any], data: bytes, noblock: bool) -> None:
        try:
            self._flush(sock, noblock)
        except TransportError:
            if _take_back(self._pending, data):  # not sent, so not accepted: the error says so
                raise
            # it left in an earlier frame; what other threads added stays for the next flush
        if self._pending and self._delay:  # other threads added meanwhile: a new frame
            self._arm()
        else:
            self._disarm()

    # -- the pending frame's state --------------------------------------------------------

    def _disarm(self) -> None:
        """Idle: no frame is pending, and the next send() opens one, under the lock (which
        reads the subscriptions that group it)."""
        self._armed = False
        self._due = self._inline_until = 0.0

    def _arm(self) -> None:
        """Have the flusher send the pending frame ``stream_max_delay_us`` from now."""
        self._set_due(_monotonic() + self._delay)
        self._armed = True
        if not self.flusher_busy:  # waking a thread per frame would cost more than the frame
            self.flusher_busy = True
            self._flush_due.set()
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=flush_when_due,
                args=(self._transport_ref, self._flush_due),
                name=f"tea-stream-flusher {self._transport.endpoint}",
                daemon=True,
            )
            self._flusher.start()

    def _set_due(self, due: float) -> None:
        self._due = due
        self._inline_until = 0.0 if self._closed else due

    def detach(self) -> None:
        """close() began (maybe in a signal handler, without the lock): from now on every
        send() takes the lock, and sees it."""
        self._closed = True
        self._inline_until = 0.0

    def forget(self) -> None:
        """A copy in a forked child: the parent process sends what is pending."""
        self.detach()
        self._pending = deque()
        self._flusher = None

    # -- flushing -------------------------------------------------------------------------

    def _flush(self, sock: zmq.Socket[Any], noblock: bool, closing: bool = False) -> None:
        """Send the pending messages as frames, in order, then acknowledge the joins seen;
        under the lock. What a failure leaves unsent goes back in front of anything added
        meanwhile (and no join is acknowledged before it leaves)."""
        pending, publisher, notes = self._pending, self._publisher, self._notes
        # busy from before the batch is taken until what fails is back in front: a signal
        # handler's send() meanwhile only appends (behind the batch), and never pops
        self._flushing = True
        sent = 0
        batch: List[bytes] = []
        try:
            batch = list(starmap(pending.popleft, repeat((), len(pending))))
            self._counted = self._counted_bytes = 0
            if notes.table_changes:  # the subscriptions as last read: at a frame's start, or since
                changes, notes.table_changes = notes.table_changes, []
                for subscribed, prefix in changes:
                    (self._table.add if subscribed else self._table.discard)(prefix)
            for frame in frames(batch, self._table, self._frame_messages, self._frame_bytes):
                packed = pack(frame, self._origin, self._epoch)
                if closing:
                    self._send_last_frame(sock, packed)
                else:
                    publisher.send_frame(sock, packed, noblock)
                sent += len(frame)
                publisher.sent += len(frame)
                publisher.sent_bytes += sum(map(len, frame))
        finally:
            if sent < len(batch):
                rest = batch[sent:]
                pending.extendleft(reversed(rest))
                self._counted, self._counted_bytes = len(rest), sum(map(len, rest))
            self._flushing = False
        if pending and not self._delay and not closing:
            # a signal handler's send() came during the batch: with no delay to wait for,
            # its frame leaves now, behind the batch
            self._flush(sock, noblock)
            return
        if not pending:
            self._disarm()
        if notes.joins:
            self._acknowledge(sock)

    def _open_frame(self, sock: zmq.Socket[Any]) -> None:
        """Before a frame's first message: read the subscriptions, which group its messages
        (one that arrives later only splits frames more finely than needed, or belongs to a
        joiner, which ignores the frame), and acknowledge the joins seen."""
        self._publisher.drain_notes(sock)
        self.settle(sock)

    def settle(self, sock: zmq.Socket[Any]) -> None:
        """After the subscriptions were read: send what is pending, then the
        acknowledgements (a joiner ignores what comes before its own). In block mode, with
        no room now, both wait for a later flush."""
        if self._notes.joins and not self._flushing:
            with contextlib.suppress(TransportTimeoutError):
                self._flush(sock, noblock=True)

    def _acknowledge(self, sock: zmq.Socket[Any]) -> None:
        """Send each join prefix back to its subscriber: frames after this one hold only
        messages sent after its subscription arrived. One that finds no room is kept for
        the next flush (a lost one would leave the subscriber's new filter unconfirmed)."""
        notes = self._notes
        joins, notes.joins = notes.joins, []
        for index, join in enumerate(joins):
            try:  # drop mode: a full subscriber that also matches it must not hold it back
                ack = acknowledgement(join, self._origin, self._epoch + 1)
                self._publisher.send_frame(sock, ack, noblock=True)
            except TransportTimeoutError:  # block mode, no room yet
                notes.joins = joins[index:]
                return
            self._epoch += 1  # frames from now on hold only messages sent after the join

    def _send_last_frame(self, sock: zmq.Socket[Any], frame: bytes) -> None:
        """At close(): in block mode wait for room as long as linger (or send_timeout, if
        linger is -1) allows, then give up; in drop mode send at once."""
        if not self._publisher.block:
            self._publisher.send_frame(sock, frame, noblock=True)
            return
        options = self._transport.options
        linger, send_timeout = options.linger, options.send_timeout
        sock.setsockopt(zmq.SNDTIMEO, linger if linger >= 0 or send_timeout is None else send_timeout)
        with libzmq_errors("send at close", self._transport.endpoint):
            sock.send(frame)  # NODROP: libzmq waits for the slowest subscriber's room

    def flush_if_due(self) -> Optional[float]:
        """The flusher's turn: send the pending frame if its delay has passed; return the
        seconds until it is due, or None when nothing is pending (or closed)."""
        self._acquire()
        try:
            publisher = self._publisher
            sock = publisher.sock
            if sock is None:
                return None
            try:
                publisher.drain(sock)  # the peer monitor too, so its queue stays short
            except TransportError:  # broken or closed: the next send() or close() says so
                return None
            if self._pending:
                due = self._due - _monotonic()
                if due > 0:
                    return due
                try:
                    self._flush(sock, noblock=True)
                except TransportError:  # block mode and no room: try again after the delay
                    self._set_due(_monotonic() + self._delay)
                    return self._delay
            # disarm first, then look: a send() that appended meanwhile either is seen here
            # or sees the flusher disarmed and arms it
            self._disarm()
            if self._pending:
                self._arm()
                return self._delay
            self._flush_due.clear()
            self.flusher_busy = False
            return None
        finally:
            self._release()

    def close(self, sock: Optional[zmq.Socket[Any]]) -> None:
        """At close, under the lock: what was sent leaves with the others; the flusher ends."""
        if sock is not None and self._pending and not self._flushing:
            try:
                self._flush(sock, noblock=True, closing=True)
            except TransportError:  # block mode, and no room within linger: lost, as linger says
                self._pending.clear()
        self._flush_due.set()  # the flusher sees the transport closed, and ends

    def pending(self) -> Tuple[int, int]:
        """(messages, bytes) waiting for their frame."""
        pending = list(self._pending)
        return len(pending), sum(map(len, pending))


def _take_back(pending: Deque[bytes], data: bytes) -> bool:
    """Remove the last occurrence of the very object ``data`` from ``pending``, if there."""
    for index in range(len(pending) - 1, -1, -1):
        if pending[index] is data:
            del pending[index]
            return True
    return False


def flush_when_due(ref: Callable[[], Optional[ZeroMQPubSubTransport]], due: threading.Event) -> None:
    """The flusher thread: sends a pending frame ``stream_max_delay_us`` after its first
    message. While a frame waits it holds the transport, so one dropped without close()
    still sends it; it lets go between frames, so an abandoned transport can be collected."""
    while due.wait():
        transport = ref()
        if transport is None or transport._closed:
            return
        publisher = transport._publisher
        framer = None if publisher is None else publisher.outbox
        if not isinstance(framer, Framer):  # a forked copy's
            return
        wait = framer.flush_if_due()
        while wait is not None and not transport._closed:
            time.sleep(wait)  # the configured delay, not a synchronisation
            wait = framer.flush_if_due()
        del transport, publisher, framer
