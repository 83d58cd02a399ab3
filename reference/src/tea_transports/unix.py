"""``UnixPipeTransport``: one producer, one consumer, over a pipe (pattern "direct").

Addresses (``_pipe_ends``): ``inproc://NAME``, an anonymous ``os.pipe()`` shared between
two transports of one process, and ``ipc:///path/to/fifo``, a named FIFO, so producer and
consumer may be different processes; ``bind()`` creates it and ``close()`` removes it.

Messages are framed (``_pipe_frames``), so ``receive()`` returns whole messages. Every
wait polls the data descriptor together with a wake-up pair (``_waiting``), so ``close()``
from another thread ends a blocked ``send``/``receive`` at once; descriptors are set to -1
under the I/O lock when closed, so a closed descriptor number is never reused by mistake.

Per message: ``send()`` holds the I/O lock for one all-or-nothing write of a frame of at
most ``PIPE_BUF`` bytes (longer frames, full pipes and waits take a slower path that
keeps the same guarantees); ``receive()`` splits each read into whole messages and pops
them from a deque without the lock, since no descriptor is touched there. Several
threads may send or receive on one transport; each message goes whole to one of them.

``close()`` may be called from a signal handler (graceful shutdown on SIGTERM): if the
handler interrupted this thread's own ``send``/``receive``, ``close()`` marks the
transport closed and wakes the wait, and the interrupted call finishes the close on its
way out — raising ``TransportClosedError`` if it was waiting.

After ``fork()`` a transport belongs to the process that created it. In a child every
operation but ``close()`` raises ``TransportStateError`` (create a new transport there);
the child's copies of the descriptors are closed at the fork (so a child never keeps the
pipe open or the FIFO's consumer lock held), and ``close()`` or garbage collection in
the child never wake the parent's waits, release its inproc name or remove its FIFO.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import weakref
from typing import Deque, Optional, Tuple

from ._arguments import check_flags, check_payload
from ._pipe_ends import (
    forget_the_parents_names,
    open_consumer,
    open_producer,
    release_address,
    split_address,
)
from ._pipe_frames import ATOMIC_WRITE, HEADER_SIZE, FrameReader, pack_header
from ._waiting import Closing, WakeUp, at_fork_in_child, wait_ready
from ._waiting import deadline as _deadline
from .base import BytesLike, Capabilities, Feature, Transport, TransportConfig, TransportStats
from .errors import (
    BrokenTransportError,
    TransportError,
    TransportStateError,
    TransportTimeoutError,
)

__all__ = ["UnixPipeTransport"]

_write = os.write

# every open transport, so a forked child can mark its copies unusable at once, at no
# cost to the per-message path
_live: weakref.WeakSet[UnixPipeTransport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    forget_the_parents_names()
    for transport in list(_live):
        # the child cannot use them, and its copies would keep the pipe open (no end of
        # stream for the consumer) and the FIFO's consumer lock held: drop them now
        transport._drop_copies()  # marks it closed: _unusable() then says why
        # a parent thread may have held them at the fork: the child's copies would never
        # be released, and the child's calls must reach _unusable() instead of hanging
        transport._io_lock = threading.RLock()
        transport._reader.lock = threading.Lock()
        transport._in_slow_path = False  # that thread is not here


at_fork_in_child(_after_fork_in_child)


class UnixPipeTransport(Transport):
    """Point-to-point pipe transport; ``bind`` = write side, ``connect`` = read side."""

    capabilities = Capabilities(
        patterns=frozenset({"direct"}),
        # FIFOs and waits on pipes are POSIX's: Windows' select() takes only sockets
        protocols=frozenset({"ipc", "inproc"} if hasattr(os, "mkfifo") else set()),
        features=frozenset({Feature.STATS}),
    )

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config or TransportConfig())
        self._fd = -1
        self._role: Optional[str] = None
        self._address: Optional[Tuple[str, str]] = None  # (scheme, target) that bind() made
        self._reader = FrameReader()
        #: whole messages read and not yet returned; ``receive()`` pops them without the lock
        self._inbox: Deque[bytes] = self._reader.inbox
        self._pending = memoryview(b"")  # the unwritten tail of the last message sent
        self._closed = False
        self._close_deferred = False  # close() ran in a signal handler inside our own I/O
        self._in_slow_path = False  # set under the I/O lock: only this thread's handler sees it
        # re-entrant locks, so that close() from a signal handler can see that its own
        # thread holds them (RLock._is_owned) instead of deadlocking
        self._io_lock = threading.RLock()  # held by send/receive; close() waits for it
        self._closing = Closing()
        self._pid = os.getpid()  # the process that owns the descriptors and the address
        self._wake: Optional[WakeUp] = WakeUp()
        self._messages_sent = self._bytes_sent = 0
        #: the role whose fast path is open: set by bind/connect, cleared by close(), by
        #: fork and while a message's tail is unwritten (one check per call instead of three)
        self._ready: Optional[str] = None
        _live.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._role or "new")
        return f"<UnixPipeTransport {state} endpoint={self.endpoint!r}>"

    @property
    def is_connected(self) -> bool:
        return self._fd >= 0 and not self._closed

    # -- roles --------------------------------------------------------------------------

    def bind(self, address: str) -> None:
        scheme, target = self._open_check("bind", address)
        write_fd = open_producer(address, scheme, target)
        self._address = (scheme, target)
        self._start("publisher", write_fd, address)

    def connect(self, address: str) -> None:
        scheme, target = self._open_check("connect", address)
        read_fd = open_consumer(address, scheme, target)
        self._start("subscriber", read_fd, address)

    def _open_check(self, operation: str, address: str) -> Tuple[str, str]:
        if self._closed or self._pid != os.getpid():
            raise self._unusable(operation)
        if self._role is not None:
            raise TransportStateError(
                f"cannot {operation} {address}: already the {self._role} on {self.endpoint}; "
                f"use one transport per channel end"
            )
        return split_address(operation, address, self.capabilities.protocols)

    def _start(self, role: str, fd: int, address: str) -> None:
        if sys.platform != "win32":  # (never reached there: no protocols)
            os.set_blocking(fd, False)  # every wait happens in a poll, where close() can end it
        self._fd = fd
        self._role = role
        self.endpoint = address
        self._ready = role

    # -- messages -----------------------------------------------------------------------

    # Each call holds the I/O lock (so close() never frees a descriptor under it) but does
    # only the common case inline: one write of a whole frame, or one frame already read.
    # Everything else (the first call, a full or empty pipe, timeouts, a closed or forked
    # transport, an unwritten tail) is the slow path, which ends a close() that a signal
    # handler deferred (see close()).

    def send(self, data: BytesLike, flags: int = 0) -> int:
        """Send one framed message. A timeout means no byte of it was written; once its
        first byte is in the pipe the message counts as sent, and a tail that did not fit
        is written before the next message (or dropped by ``close()``)."""
        payload = data if type(data) is bytes else check_payload(data)
        noblock = (type(flags) is not int or flags != 0) and check_flags(flags)
        lock = self._io_lock
        lock.acquire()
        try:
            if self._ready != "publisher":
                return self._send_slow(payload, noblock, b"")
            frame = pack_header(len(payload)) + payload
            if len(frame) > ATOMIC_WRITE:  # may be written in pieces: the slow path
                return self._send_slow(payload, noblock, frame)
            try:
                written = _write(self._fd, frame)  # all or nothing (EAGAIN): the pipe is atomic
            except BlockingIOError:
                return self._send_slow(payload, noblock, frame)
            except OSError as exc:
                raise self._io_error("send", exc) from exc
            self._messages_sent += 1
            self._bytes_sent += written - HEADER_SIZE
            return len(payload)
        finally:
            lock.release()

    def _send_slow(self, payload: bytes, noblock: bool, frame: bytes) -> int:
        """Under the I/O lock: check the state, write an earlier tail first, then ``frame``
        (made here when empty), waiting for room as the options say."""
        if self._in_slow_path:  # a signal handler re-entered a send of this thread
            raise self._reentered("send")
        self._in_slow_path = True
        try:
            deadline = _deadline(0 if noblock else self.options.send_timeout)
            if not frame:
                self._check_role("send", "publisher")
            self._write_pending(deadline)  # the tail of an earlier message goes first
            if not frame:
                frame = pack_header(len(payload)) + payload
            self._pending = memoryview(frame)
            try:
                self._write_pending(deadline)
            except TransportTimeoutError:
                if len(self._pending) == len(frame):  # nothing written: not sent
                    self._pending = memoryview(b"")
                    self._ready = "publisher" if not self._closed else None
                    raise
            self._messages_sent += 1
            self._bytes_sent += len(payload)
            return len(payload)
        finally:
            self._in_slow_path = False
            if self._close_deferred:
                self._release()

    def _reentered(self, operation: str) -> TransportStateError:
        return TransportStateError(
            f"cannot {operation} on {self.endpoint}: this thread is already inside {operation}() "
            f"on this transport (a signal handler interrupted it); call close() from the "
            f"handler, or {operation} after the handler returns"
        )

    def _write_pending(self, deadline: Optional[float]) -> None:
        if not self._pending:
            return
        self._ready = None  # until the tail is written, every send comes here first
        while self._pending:
            try:
                written = _write(self._fd, self._pending)
            except BlockingIOError:
                self._wait(True, deadline, "send")
                continue
            except OSError as exc:
                raise self._io_error("send", exc) from exc
            self._pending = self._pending[written:]
        if not self._closed:
            self._ready = "publisher"

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        noblock = (type(flags) is not int or flags != 0) and check_flags(flags)
        inbox = self._inbox
        if inbox and not self._closed:
            try:
                return inbox.popleft()  # atomic: no lock, and no descriptor is touched
            except IndexError:  # another thread took the last one
                pass
        lock = self._io_lock
        lock.acquire()
        try:
            return self._receive_slow(noblock)
        finally:
            lock.release()

    def _receive_slow(self, noblock: bool) -> bytes:
        """Under the I/O lock: check the state, read until a whole frame is buffered, then
        split every whole frame read into the inbox and take the first."""
        if self._in_slow_path:  # a signal handler re-entered a receive of this thread
            raise self._reentered("receive")
        self._in_slow_path = True
        try:
            self._check_role("receive", "subscriber")
            inbox = self._inbox
            while True:
                if not inbox:
                    self._fill(noblock)
                try:
                    return inbox.popleft()
                except IndexError:  # a lock-free receive() in another thread took it
                    continue
        finally:
            self._in_slow_path = False
            if self._close_deferred:
                self._release()

    def _fill(self, noblock: bool) -> None:
        """Read until at least one whole message is in the inbox, waiting as the options say."""
        until = _deadline(0 if noblock else self.options.receive_timeout)
        self._reader.fill(
            self._fd,
            lambda: self._wait(False, until, "receive"),
            lambda exc: self._io_error("receive", exc),
            lambda cut: BrokenTransportError(
                f"cannot receive on {self.endpoint}: the producer closed the pipe"
                + (" in the middle of a message" if cut else "")
            ),
        )

    def _check_role(self, operation: str, role: str) -> None:
        if self._closed:
            raise self._unusable(operation)
        if self._role != role:
            needed = "bind()" if role == "publisher" else "connect()"
            raise TransportStateError(
                f"cannot {operation}: only the {role} may, and this transport is "
                f"{self._role or 'not bound or connected'}; call {needed} first"
            )

    def _wait(self, write: bool, until: Optional[float], operation: str) -> None:
        """Wait until ``self._fd`` is ready (for writing or reading), ``until`` passes, or
        close(). The I/O lock stays held: a message is read or written in several steps
        by one thread at a time, and close() ends the wait through the wake-up pair."""
        fds = [self._fd]
        ready = wait_ready(() if write else fds, fds if write else (), until, self._wake)
        if self._closed:
            raise self._unusable(operation)
        if not ready:
            raise TransportTimeoutError(
                f"cannot {operation} on {self.endpoint}: timed out; raise "
                f"{'send' if operation == 'send' else 'receive'}_timeout, or retry later"
            )

    def _unusable(self, operation: str) -> TransportError:
        """The error for an operation on a closed transport, or on a forked child's copy."""
        if self._pid != os.getpid():
            where = f" on {self.endpoint}" if self.endpoint else ""
            return TransportStateError(
                f"cannot {operation}{where}: this transport was created in process {self._pid}, "
                f"and this is process {os.getpid()}; a child must create its own transport after fork()"
            )
        return self._closed_error(operation)

    def _io_error(self, operation: str, exc: OSError) -> Exception:
        if exc.errno == errno.EBADF:
            return self._unusable(operation)
        if isinstance(exc, BrokenPipeError):
            return BrokenTransportError(
                f"cannot {operation} on {self.endpoint}: the consumer closed the pipe"
            )
        return BrokenTransportError(f"cannot {operation} on {self.endpoint}: {exc}")

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        if self._pid != os.getpid():
            self._drop_copies()
            return
        if not self._closing.close(self._io_lock, self._wake, self._mark_closed, self._release):
            # a signal handler interrupted this thread's own send/receive: that call
            # releases everything on its way out
            self._close_deferred = True

    def _mark_closed(self) -> None:
        self._closed = True
        self._ready = None

    def _release(self) -> None:
        """Close the descriptors and free the address; idempotent. Called under the I/O lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()
        self._reader.drop()  # read and not returned: not received
        owned, self._address = self._address, None
        if owned is not None:
            release_address(*owned)

    def _drop_copies(self) -> None:
        """In a forked child: close this process's copies of the descriptors, nothing else.

        No wake byte (the wake-up pair is shared with the parent), no lock (a parent thread
        may have held it at the fork), no unlink and no inproc registry change.
        """
        self._closed = True
        self._ready = None
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()  # this process's copies only

    def __del__(self) -> None:
        super().__del__()
        if getattr(self, "_wake", None) is not None:  # not yet released (or a deferred close)
            self.close()

    def get_stats(self) -> TransportStats:
        if self._pid != os.getpid():
            raise self._unusable("get_stats")
        received, received_bytes = self._reader.received()
        return TransportStats(
            role=self._role,
            endpoint=self.endpoint,
            messages_sent=self._messages_sent,
            bytes_sent=self._bytes_sent,
            messages_received=received,
            bytes_received=received_bytes,
        )
