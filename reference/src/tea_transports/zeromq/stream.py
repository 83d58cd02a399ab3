"""``ZeroMQStreamTransport``: PUB/SUB whose publisher packs small messages into frames.

libzmq spends about the same work on a message of 64 bytes as on one of 4 KiB, and at
64 bytes that work, not Python, bounds the rate. In stream mode (``transport_type=
"zeromq-stream"``, off unless chosen) the publisher collects consecutive messages for the
same subscribers into one ZeroMQ message (see ``framing``), and the subscriber unpacks it:
each ``send()`` and ``receive()`` still moves one message. A frame leaves when it holds
``stream_max_messages`` messages, or when the next message would take it past
``stream_max_bytes``, or ``stream_max_delay_us`` after its first message was sent, or at
``close()``. The delay is kept by ``send()`` itself and by a flusher thread; the thread
needs the GIL, so a sender that computes in pure Python between sends, for longer than the
delay, holds a lone message back up to the interpreter's switch interval (5 ms).

What stays exact:

* **Order and filters.** Frames leave in order; a subscriber delivers only the messages
  its filters in force match, as in plain mode.
* **Nothing from before a subscription, nothing lost after it.** A message is published
  when its frame leaves, so a frame may hold messages sent before a subscriber subscribed.
  A subscriber therefore also subscribes a *join* with each filter (see ``joins``): the
  publisher counts the subscription there (``wait_for_subscribers``), sends what is
  pending, and acknowledges it with a new *epoch*; frames carry their publisher's origin
  and epoch, and the subscriber delivers a filter's messages from the acknowledged epoch
  of that publisher on. A lost acknowledgement (a full queue) is joined again; a restarted
  publisher acknowledges anew. A SUB's subscriptions are never dropped (its send mark is
  unbounded: libzmq replays them on reconnect through it). A plain ZeroMQ SUB is counted
  only if it subscribes a join too.
* **max_message_size**: a frame's messages stay within it; a subscriber allows the
  frame's own table and trailer on top, so a message of the limit itself still arrives.
* **Ends that differ** in high_water_mark, max_message_size or frame size are reported:
  the publisher reads the subscriber's from its join and logs a WARNING naming both.
* **The high water mark**, in frames, libzmq's own unit: a frame holds at most
  ``stream_max_messages`` messages (256) and at most ``stream_max_bytes`` of them (16 KiB),
  or one message larger than that, alone. Each side keeps libzmq's mark at
  ``high_water_mark - 1`` frames, and the one frame it holds in Python (the publisher's
  pending frame, the subscriber's unpacked one) makes the mark's last (with
  ``stream_max_messages=1`` nothing waits in Python, and libzmq's mark is the whole). So a queue holds at
  most ``high_water_mark x stream_max_messages`` messages, and at most ``high_water_mark x
  (stream_max_bytes + the frame's table and trailer)`` bytes, about 16.6 MiB at the
  defaults (a larger message counts its own size instead). A mark of 1 keeps one frame in
  libzmq and one in Python. Give both ends the same mark and stream options: the
  publisher warns of a subscriber whose differ.
* **Block mode** loses nothing: a send that makes a frame leave waits for room, up to
  ``send_timeout``, and on a timeout that message was not sent (the frame waits).

A plain ZeroMQ SUB receives the frames as they are (see ``framing`` for the layout, and
``joins`` for the acknowledgements, which begin with ``JOIN_TAG``); a stream-mode
subscriber refuses a message that is not a frame with a ``TransportError``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import replace
from itertools import repeat, starmap
from typing import Any, Callable, Deque, Iterable, Iterator, List, Optional, Set, Tuple

import zmq

from .._arguments import check_flags, check_payload
from ..base import TransportConfig, TransportStats
from ..errors import ConfigurationError, TransportError, TransportTimeoutError
from .base import translate_error
from .diagnostics import logger
from .framing import (
    JOIN_TAG,
    MAGIC,
    FramingError,
    TopicTable,
    frame_overhead,
    origin_of,
    pack,
    split_by_topic,
    unpack,
)
from .joins import OPTIONS, JoinLedger, Members, acknowledgement, make_join, parse_join
from .pubsub import _COPY_THRESHOLD, _NOBLOCK, _NOTES_PER_DRAIN, ZeroMQPubSubTransport, _backend_send

__all__ = ["STREAM_OPTIONS", "ZeroMQStreamTransport"]

#: option -> (default, minimum, maximum)
_LIMITS = {
    "stream_max_messages": (256, 1, 65_535),
    "stream_max_bytes": (16_384, 1, 2**31 - 1),
    "stream_max_delay_us": (500, 0, 10_000_000),
}
STREAM_OPTIONS = frozenset(_LIMITS)
_monotonic = time.monotonic


class ZeroMQStreamTransport(ZeroMQPubSubTransport):
    """PUB/SUB over ZeroMQ with small messages packed into frames; see the module doc."""

    extra_options = ZeroMQPubSubTransport.extra_options | STREAM_OPTIONS

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config or TransportConfig(transport_type="zeromq-stream", pattern="pub_sub"))
        limits = {}
        for key, (default, minimum, maximum) in _LIMITS.items():
            value = self.config.options.get(key, default)
            if type(value) is not int or not minimum <= value <= maximum:
                raise ConfigurationError(
                    f"option {key!r} must be an integer from {minimum} to {maximum}, got {value!r}"
                )
            limits[key] = value
        hwm = self.options.high_water_mark
        self._frame_messages = limits["stream_max_messages"]
        self._max_bytes = self._frame_bytes = limits["stream_max_bytes"]
        size_limit = self.config.options.get("max_message_size")
        #: a peer's max_message_size counts a frame whole: its messages stay within the
        #: limit, and a subscriber allows the frame's own table and trailer on top
        self._size_limit: Optional[int] = size_limit if type(size_limit) is int and size_limit >= 0 else None
        if self._size_limit is not None:
            self._frame_bytes = max(1, min(self._frame_bytes, self._size_limit))
        self._delay = limits["stream_max_delay_us"] / 1e6
        # a subscriber unpacks one frame at a time: it holds at most one frame's messages
        self._read_ahead = self._frame_messages - 1
        self._receive_up_to = 1
        self._receive_hwm = self._frames_within(hwm)
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
        self._armed = False  # the flusher knows of the pending frame
        #: when the pending frame must leave (monotonic s); 0 when no frame is armed, so
        #: send() leaves its inline path for one that opens a frame or has waited too long
        self._due = 0.0
        self._flusher_busy = False  # the flusher watches frames (else it waits for _flush_due)
        self._flushing = False  # a signal handler's send() must not overtake a flush
        self._table = TopicTable()
        #: prefixes subscribed (True) or cancelled (False) since the last flush began: the
        #: table changes only there, so a flush groups its whole batch under one table
        self._table_changes: List[Tuple[bool, bytes]] = []
        self._flush_due = threading.Event()  # the flusher thread's alarm: messages are pending
        self._flusher: Optional[threading.Thread] = None
        #: publisher: join prefixes seen and not yet acknowledged; the subscriptions joined;
        #: this publisher's name in its frames (new on every bind), and its epoch (see joins)
        self._joins: List[bytes] = []
        self._members = Members()
        self._origin = os.urandom(8)
        self._epoch = 0
        self._mismatches: Set[Tuple[str, int]] = set()  # option mismatches already reported
        #: subscriber: its joins, and from which frame on each filter is exact
        self._ledger = JoinLedger()
        for prefix in self._filters:
            _not_reserved(prefix)

    @property
    def frame_messages(self) -> int:
        """The most messages one frame carries (libzmq's queues count frames)."""
        return self._frame_messages

    def _frames_within(self, hwm: int) -> int:
        """libzmq's mark: with the frame each side holds in Python (none when every frame
        is one message, which leaves at once), ``hwm`` frames."""
        return max(1, hwm - (self._frame_messages > 1))

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        if role == "publisher" and self.options.high_water_mark:
            sock.setsockopt(zmq.SNDHWM, self._frames_within(self.options.high_water_mark))
        if role == "subscriber":
            # a SUB sends nothing but subscriptions, two a filter here (its own and its
            # join), and libzmq replays them on every (re)connect through a pipe bounded by
            # SNDHWM, dropping what does not fit: unbounded, every filter reaches the publisher
            sock.setsockopt(zmq.SNDHWM, 0)
            if self._size_limit is not None:
                sock.setsockopt(zmq.MAXMSGSIZE, self._size_limit + frame_overhead(self._frame_messages))
            for prefix in self._filters:
                self._join(sock, prefix)

    # -- publishing ---------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Add ``data`` to the next frame (see ``Transport.send``); a full frame leaves now."""
        if flags or type(flags) is not int or type(data) is not bytes:
            return self._send_locked(check_payload(data), check_flags(flags))
        size = len(data)
        # the delay is checked here too: a sender that keeps the GIL busy would hold the
        # flusher thread back by up to the interpreter's switch interval (5 ms)
        if size > self._small or _monotonic() >= self._due:
            return self._send_locked(data, False)
        # the common case, a small message for an open frame, without the lock: a flush
        # takes only what it finds, so this message is either in its frame or in the next
        pending = self._pending
        pending.append(data)
        if len(pending) >= self._frame_messages or not self._due:  # full, disarmed or closed meanwhile
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
        sock = self._publisher
        if sock is None:
            raise self._wrong_role("send", "publisher")
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
        """send() appended ``data`` without the lock and found the frame full, no flusher
        armed, or the transport closed (then ``data`` leaves only if a flush took it)."""
        self._acquire()
        try:
            if self._closed:  # meanwhile: if close() sent it, it was sent; if not, it is not
                if _take_back(self._pending, data):
                    raise self._wrong_role("send", "publisher")
                return
            if self._publisher is None:  # never a publisher
                _take_back(self._pending, data)
                raise self._wrong_role("send", "publisher")
            sock = self._publisher
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

    def _disarm(self) -> None:
        """No frame is pending: the next send() opens one, under the lock (which reads the
        subscriptions that group it)."""
        self._armed = False
        self._due = 0.0

    def _arm(self) -> None:
        """Have the flusher send the pending frame ``stream_max_delay_us`` from now."""
        self._due = _monotonic() + self._delay
        self._armed = True
        if not self._flusher_busy:  # waking a thread per frame would cost more than the frame
            self._flusher_busy = True
            self._flush_due.set()
        if self._flusher is None:
            due = self._flush_due
            self._flusher = threading.Thread(
                target=_flush_when_due,
                # a transport dropped without close() wakes its flusher, which then ends
                args=(weakref.ref(self, lambda _: due.set()), due, self._delay),
                name=f"tea-stream-flusher {self.endpoint}",
                daemon=True,
            )
            self._flusher.start()

    def _flush(self, sock: zmq.Socket[Any], noblock: bool, closing: bool = False) -> None:
        """Send the pending messages as frames, in order, then acknowledge the joins seen;
        under the lock. What a failure leaves unsent goes back in front of anything added
        meanwhile (and no join is acknowledged before it leaves)."""
        pending = self._pending
        # busy from before the batch is taken until what fails is back in front: a signal
        # handler's send() meanwhile only appends (behind the batch), and never pops
        self._flushing = True
        sent = 0
        batch: List[bytes] = []
        try:
            batch = list(starmap(pending.popleft, repeat((), len(pending))))
            self._counted = self._counted_bytes = 0
            if self._table_changes:  # the subscriptions as last read: at a frame's start, or since
                changes, self._table_changes = self._table_changes, []
                for subscribed, prefix in changes:
                    (self._table.add if subscribed else self._table.discard)(prefix)
            for frame in self._frames(batch):
                packed = pack(frame, self._origin, self._epoch)
                if closing:
                    self._send_last_frame(sock, packed)
                else:
                    self._send_frame(sock, packed, noblock)
                sent += len(frame)
                self._sent += len(frame)
                self._sent_bytes += sum(map(len, frame))
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
        if self._joins:
            self._acknowledge(sock)

    def _frames(self, batch: List[bytes]) -> Iterator[List[bytes]]:
        """``batch`` cut into frames: by topic, then within the limits (threads that send
        at once may have added a few messages past them)."""
        most, room = self._frame_messages, self._frame_bytes
        for run in split_by_topic(batch, self._table) if batch else ():
            if len(run) <= most and sum(map(len, run)) <= room:
                yield run
                continue
            frame: List[bytes] = []
            size = 0
            for message in run:
                if frame and (len(frame) == most or size + len(message) > room):
                    yield frame
                    frame, size = [], 0
                frame.append(message)
                size += len(message)
            yield frame

    def _open_frame(self, sock: zmq.Socket[Any]) -> None:
        """Before a frame's first message: read the subscriptions, which group its messages
        (one that arrives later only splits frames more finely than needed, or belongs to a
        joiner, which ignores the frame), and acknowledge the joins seen."""
        self._drain_notes(sock)
        if self._joins:
            self._flush_for_joins(sock)

    def _drain_subscriptions(self, sock: zmq.Socket[Any], most: int = _NOTES_PER_DRAIN) -> None:
        super()._drain_subscriptions(sock, most)
        if self._joins:
            self._flush_for_joins(sock)

    def _flush_for_joins(self, sock: zmq.Socket[Any]) -> None:
        """Send what is pending, then the acknowledgements: a joiner ignores what comes
        before its own. In block mode, with no room now, both wait for a later flush."""
        if self._flushing:
            return
        with contextlib.suppress(TransportTimeoutError):
            self._flush(sock, noblock=True)

    def _note(self, kind: bytes, prefix: bytes) -> None:
        if not prefix.startswith(JOIN_TAG):
            known = prefix in self._subscriptions
            super()._note(kind, prefix)
            if known != (prefix in self._subscriptions):
                self._table_changes.append((not known, prefix))
        elif kind == b"\x01":
            parsed = parse_join(prefix)
            if parsed is not None:  # (else a plain SUB's odd subscription: routed, not counted)
                self._members.add(prefix, parsed[0])
                self._compare_options(parsed[1])
                self._joins.append(prefix)
        else:
            self._members.remove(prefix)

    def _subscription_count(self) -> int:
        """Subscriptions counted at their joins: only then does what follows reach them."""
        return self._members.total()

    def _join_options(self) -> Tuple[int, ...]:
        return (
            self.options.high_water_mark,
            -1 if self._size_limit is None else self._size_limit,
            self._frame_messages,
            self._max_bytes,
        )

    def _compare_options(self, theirs: Tuple[int, ...]) -> None:
        """Warn, once per value, of a subscriber whose options differ from ours: its queue
        then holds another number of messages than the mark says, or it refuses frames."""
        for name, mine, other in zip(OPTIONS, self._join_options(), theirs):
            if mine != other and (name, other) not in self._mismatches:
                self._mismatches.add((name, other))
                logger.warning(
                    "stream mode on %s: a subscriber has %s=%d and this publisher %s=%d; give "
                    "both ends the same high_water_mark, max_message_size and stream options",
                    self.endpoint,
                    name,
                    other,
                    name,
                    mine,
                )

    def _acknowledge(self, sock: zmq.Socket[Any]) -> None:
        """Send each join prefix back to its subscriber: frames after this one hold only
        messages sent after its subscription arrived. One that finds no room is kept for
        the next flush (a lost one would leave the subscriber's new filter unconfirmed)."""
        joins, self._joins = self._joins, []
        for index, join in enumerate(joins):
            try:  # drop mode: a full subscriber that also matches it must not hold it back
                self._send_frame(sock, acknowledgement(join, self._origin, self._epoch + 1), noblock=True)
            except TransportTimeoutError:  # block mode, no room yet
                self._joins = joins[index:]
                return
            self._epoch += 1  # frames from now on hold only messages sent after the join

    def _send_frame(self, sock: zmq.Socket[Any], frame: bytes, noblock: bool) -> None:
        try:
            if len(frame) < _COPY_THRESHOLD:
                _backend_send(sock, frame, _NOBLOCK)
            else:
                sock.send(frame, _NOBLOCK)
        except zmq.Again:
            self._send_full(sock, frame, noblock)
        except zmq.ZMQError as exc:
            raise translate_error(exc, "send", self.endpoint) from exc

    def _send_last_frame(self, sock: zmq.Socket[Any], frame: bytes) -> None:
        """At close(): in block mode wait for room as long as linger (or send_timeout, if
        linger is -1) allows, then give up; in drop mode send at once."""
        if not self._block:
            self._send_frame(sock, frame, noblock=True)
            return
        linger, send_timeout = self.options.linger, self.options.send_timeout
        sock.setsockopt(zmq.SNDTIMEO, linger if linger >= 0 or send_timeout is None else send_timeout)
        try:
            sock.send(frame)  # NODROP: libzmq waits for the slowest subscriber's room
        except zmq.ZMQError as exc:
            raise translate_error(exc, "send at close", self.endpoint) from exc

    def _flush_if_due(self) -> Optional[float]:
        """The flusher's turn: send the pending frame if its delay has passed; return the
        seconds until it is due, or None when nothing is pending (or closed)."""
        self._acquire()
        try:
            sock = self._publisher
            if sock is None:
                return None
            try:
                self._drain_subscriptions(sock)  # the peer monitor too, so its queue stays short
            except TransportError:  # broken or closed: the next send() or close() says so
                return None
            if self._pending:
                due = self._due - _monotonic()
                if due > 0:
                    return due
                try:
                    self._flush(sock, noblock=True)
                except TransportError:  # block mode and no room: try again after the delay
                    self._due = _monotonic() + self._delay
                    return self._delay
            # disarm first, then look: a send() that appended meanwhile either is seen here
            # or sees the flusher disarmed and arms it
            self._disarm()
            if self._pending:
                self._arm()
                return self._delay
            self._flush_due.clear()
            self._flusher_busy = False
            return None
        finally:
            self._release()

    def _finish_close(self) -> None:
        sock = self._socket
        if self._role == "publisher" and sock is not None and self._pending and not self._flushing:
            try:  # what was sent leaves with the others
                self._flush(sock, noblock=True, closing=True)
            except TransportError:  # block mode, and no room within linger: lost, as linger says
                self._pending.clear()
        super()._finish_close()
        self._flush_due.set()  # the flusher sees the transport closed, and ends

    def __del__(self) -> None:
        super().__del__()  # the ResourceWarning
        with contextlib.suppress(Exception):  # (also when __init__ failed half-way)
            if self._role == "publisher" and not self._closed and self._pending:
                self.close()  # what was sent leaves, as close() would send it

    def close(self) -> None:
        self._due = 0.0  # first: a send() that appends from now on takes the lock, and sees it
        super().close()

    def _forget_role_resources(self) -> None:
        super()._forget_role_resources()
        self._due = 0.0
        self._pending = deque()  # the parent process sends them
        self._flusher = None

    def get_stats(self) -> TransportStats:
        """As ``ZeroMQPubSubTransport.get_stats``; messages waiting for their frame count as sent."""
        with self._io_lock:
            stats = super().get_stats()
            pending = list(self._pending)
            return replace(
                stats,
                messages_sent=stats.messages_sent + len(pending),
                bytes_sent=stats.bytes_sent + sum(map(len, pending)),
            )

    # -- subscribing --------------------------------------------------------------------

    def _join(self, sock: zmq.Socket[Any], prefix: bytes) -> None:
        """Subscribe a join for ``prefix``; its messages count from the acknowledged frame on."""
        join = make_join(prefix, self._join_options())
        self._ledger.joined(join, prefix)
        sock.setsockopt(zmq.SUBSCRIBE, join)

    def _change_subscription(self, prefix: bytes, option: int) -> None:
        _not_reserved(prefix)
        with self._io_lock:
            known = set(self._filters)
            super()._change_subscription(prefix, option)
            sock = self._socket
            if option == zmq.SUBSCRIBE and prefix not in known and sock is not None:
                self._join(sock, prefix)
            elif option == zmq.UNSUBSCRIBE and prefix in known:
                # an acknowledgement still on its way must not confirm a later subscribe
                for join in self._ledger.forget(prefix):
                    if sock is not None:
                        sock.setsockopt(zmq.UNSUBSCRIBE, join)

    def _fill(self, inbox: Deque[bytes], sock: zmq.Socket[Any], first: bytes, up_to: int) -> None:
        """Unpack ``first`` and as many more queued frames as ``up_to`` messages need into
        ``inbox``, keeping the messages of filters still in force and joined by then."""
        frame: Optional[bytes] = first
        ledger = self._ledger
        while frame is not None:
            if frame.startswith(JOIN_TAG) and not frame.endswith(MAGIC):  # an acknowledgement
                for spare in ledger.acknowledged(frame):
                    sock.setsockopt(zmq.UNSUBSCRIBE, spare)
            else:
                try:
                    messages = unpack(frame)
                except FramingError as exc:
                    raise TransportError(
                        f"cannot receive on {self.endpoint}: {exc}; is the publisher in stream "
                        f"mode (transport_type='zeromq-stream')? The message was dropped"
                    ) from None
                origin, epoch = origin_of(frame)
                eligible, rejoin = ledger.eligible(origin, epoch, self._filters)
                for prefix in rejoin:  # its acknowledgement may have been lost
                    self._join(sock, prefix)
                if eligible != (b"",):
                    messages = [m for m in messages if m.startswith(eligible)]
                inbox.extend(messages)
                self._received += len(messages)
                self._received_bytes += sum(map(len, messages))
            frame = None
            if len(inbox) < up_to:
                with contextlib.suppress(zmq.ZMQError):  # EAGAIN; another error meets the next call
                    frame = sock.recv(_NOBLOCK)


def _flush_when_due(
    ref: Callable[[], Optional[ZeroMQStreamTransport]], due: threading.Event, delay: float
) -> None:
    """The flusher thread: sends a pending frame ``delay`` after its first message. While a
    frame waits it holds the transport, so one dropped without close() still sends it; it
    lets go between frames, so an abandoned transport can be collected."""
    while due.wait():
        transport = ref()
        if transport is None or transport._closed:
            return
        wait = transport._flush_if_due()
        while wait is not None and not transport._closed:
            time.sleep(wait)  # the configured delay, not a synchronisation
            wait = transport._flush_if_due()
        del transport


def _take_back(pending: Deque[bytes], data: bytes) -> bool:
    """Remove the last occurrence of the very object ``data`` from ``pending``, if there."""
    for index in range(len(pending) - 1, -1, -1):
        if pending[index] is data:
            del pending[index]
            return True
    return False


def _not_reserved(prefix: bytes) -> None:
    if prefix.startswith(JOIN_TAG):
        raise ConfigurationError(
            f"cannot subscribe to {prefix!r}: prefixes that begin with {JOIN_TAG!r} are stream "
            f"mode's own (its joins); choose another topic"
        )
