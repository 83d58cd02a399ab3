"""``UnixPipeTransport``: one producer, one consumer, over a pipe (pattern "direct").

Addresses:

* ``inproc://NAME`` — an anonymous ``os.pipe()`` shared between two transports of one
  process; the consumer takes the read end registered under ``NAME``.
* ``ipc:///path/to/fifo`` — a named FIFO, so producer and consumer may be different
  processes. ``bind()`` creates it (mode 0600) and removes it on ``close()``; a path that
  already exists is refused rather than taken over. The producer holds the FIFO open for
  reading as well, so its sends never fail for want of a consumer: messages wait in the
  kernel's pipe buffer until one connects or the buffer fills.

Messages are framed with a 4-byte big-endian length, so ``receive()`` returns whole
messages. Every wait polls the data descriptor together with a private wake-up pipe, so
``close()`` from another thread ends a blocked ``send``/``receive`` at once; descriptors
are set to -1 under the I/O lock when closed, so a closed descriptor number is never used
again by mistake.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import struct
import threading
import time
from typing import Dict, Optional, Tuple

from ._arguments import check_flags, check_payload, deadline_seconds
from .base import BytesLike, Capabilities, Feature, Transport, TransportConfig, TransportStats
from .errors import (
    AddressError,
    AddressInUseError,
    BrokenTransportError,
    TransportStateError,
    TransportTimeoutError,
)

__all__ = ["UnixPipeTransport"]

_HEADER = struct.Struct(">I")
_READ_CHUNK = 1 << 16

# inproc://NAME -> read end of the pipe until a consumer takes it, then -1; the name
# stays reserved until the producer closes
_inproc_pipes: Dict[str, int] = {}
_inproc_lock = threading.Lock()


class UnixPipeTransport(Transport):
    """Point-to-point pipe transport; ``bind`` = write side, ``connect`` = read side."""

    capabilities = Capabilities(
        patterns=frozenset({"direct"}),
        protocols=frozenset({"ipc", "inproc"} if hasattr(os, "mkfifo") else set()),
        features=frozenset({Feature.STATS}),
    )

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config or TransportConfig())
        self._fd = -1
        self._role: Optional[str] = None
        self._fifo_path: Optional[str] = None
        self._inproc_name: Optional[str] = None
        self._buffer = bytearray()  # received bytes not yet returned as messages
        self._pending = memoryview(b"")  # the unwritten tail of the last message sent
        self._closed = False
        self._io_lock = threading.Lock()  # held by send/receive; close() waits for it
        self._close_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._sent = [0, 0]  # messages, bytes
        self._received = [0, 0]

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._role or "new")
        return f"<UnixPipeTransport {state} endpoint={self.endpoint!r}>"

    @property
    def is_connected(self) -> bool:
        return self._fd >= 0

    # -- roles --------------------------------------------------------------------------

    def bind(self, address: str) -> None:
        scheme, target = self._open_check("bind", address)
        if scheme == "inproc":
            read_fd, write_fd = os.pipe()
            with _inproc_lock:
                if target in _inproc_pipes:
                    os.close(read_fd)
                    os.close(write_fd)
                    raise AddressInUseError(
                        f"cannot bind {address}: another pipe is already bound there; "
                        f"pick another name or close the other transport"
                    )
                _inproc_pipes[target] = read_fd
            self._inproc_name = target
        else:
            try:
                os.mkfifo(target, 0o600)
            except FileExistsError:
                raise AddressInUseError(
                    f"cannot bind {address}: {target} already exists; another producer may "
                    f"own it — remove it if it is stale, or pick another path"
                ) from None
            except OSError as exc:
                raise AddressError(f"cannot create the FIFO for {address}: {exc}") from exc
            self._fifo_path = target
            # O_RDWR: opening never waits for a reader, and writes never raise EPIPE
            write_fd = os.open(target, os.O_RDWR | os.O_NONBLOCK)
        self._start("publisher", write_fd, address)

    def connect(self, address: str) -> None:
        scheme, target = self._open_check("connect", address)
        if scheme == "inproc":
            with _inproc_lock:
                read_fd = _inproc_pipes.get(target, -1)
                if read_fd >= 0:
                    _inproc_pipes[target] = -1
            if read_fd < 0:
                raise AddressError(
                    f"cannot connect to {address}: no pipe is bound there, or its consumer "
                    f"is already connected; bind the producer first"
                )
        else:
            try:
                if not stat.S_ISFIFO(os.stat(target).st_mode):
                    raise AddressError(f"cannot connect to {address}: {target} is not a FIFO")
                read_fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                raise AddressError(
                    f"cannot connect to {address}: no FIFO at {target}; bind the producer first"
                ) from None
            except OSError as exc:
                raise AddressError(f"cannot connect to {address}: {exc}") from exc
        self._start("subscriber", read_fd, address)

    def _open_check(self, operation: str, address: str) -> Tuple[str, str]:
        if self._closed:
            raise self._closed_error(operation)
        if self._role is not None:
            raise TransportStateError(
                f"cannot {operation} {address}: already the {self._role} on {self.endpoint}; "
                f"use one transport per channel end"
            )
        if not isinstance(address, str):
            raise TypeError(f"address must be a str, got {type(address).__name__}")
        scheme, sep, target = address.partition("://")
        if not sep or scheme not in self.capabilities.protocols or not target:
            raise AddressError(
                f"cannot {operation} {address!r}: UnixPipeTransport takes inproc://NAME or "
                f"ipc:///path/to/fifo"
            )
        return scheme, target

    def _start(self, role: str, fd: int, address: str) -> None:
        os.set_blocking(fd, False)  # every wait happens in poll(), where close() can end it
        self._fd = fd
        self._role = role
        self.endpoint = address

    # -- messages -----------------------------------------------------------------------

    def send(self, data: BytesLike, flags: int = 0) -> int:
        """Send one framed message. A timeout means no byte of it was written; once its
        first byte is in the pipe the message counts as sent, and a tail that did not fit
        is written before the next message (or dropped by ``close()``)."""
        payload = check_payload(data)
        noblock = check_flags(flags)
        with self._io_lock:
            self._check_role("send", "publisher")
            deadline = _deadline(0 if noblock else self.options.send_timeout)
            self._write_pending(deadline)  # the tail of an earlier message
            frame = memoryview(_HEADER.pack(len(payload)) + payload)
            self._pending = frame
            try:
                self._write_pending(deadline)
            except TransportTimeoutError:
                if len(self._pending) == len(frame):  # nothing written: not sent
                    self._pending = memoryview(b"")
                    raise
        self._sent[0] += 1
        self._sent[1] += len(payload)
        return len(payload)

    def _write_pending(self, deadline: Optional[float]) -> None:
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                self._wait(select.POLLOUT, deadline, "send")
                continue
            except OSError as exc:
                raise self._io_error("send", exc) from exc
            self._pending = self._pending[written:]

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        noblock = check_flags(flags)
        with self._io_lock:
            self._check_role("receive", "subscriber")
            deadline = _deadline(0 if noblock else self.options.receive_timeout)
            while True:
                message = self._next_frame()
                if message is not None:
                    self._received[0] += 1
                    self._received[1] += len(message)
                    return message
                try:
                    chunk = os.read(self._fd, _READ_CHUNK)
                except BlockingIOError:
                    self._wait(select.POLLIN, deadline, "receive")
                    continue
                except OSError as exc:
                    raise self._io_error("receive", exc) from exc
                if not chunk:
                    raise BrokenTransportError(
                        f"cannot receive on {self.endpoint}: the producer closed the pipe"
                        + (" in the middle of a message" if self._buffer else "")
                    )
                self._buffer += chunk

    def _next_frame(self) -> Optional[bytes]:
        if len(self._buffer) < _HEADER.size:
            return None
        (length,) = _HEADER.unpack_from(self._buffer)
        end = _HEADER.size + length
        if len(self._buffer) < end:
            return None
        message = bytes(self._buffer[_HEADER.size : end])
        del self._buffer[:end]
        return message

    def _check_role(self, operation: str, role: str) -> None:
        if self._closed:
            raise self._closed_error(operation)
        if self._role != role:
            needed = "bind()" if role == "publisher" else "connect()"
            raise TransportStateError(
                f"cannot {operation}: only the {role} may, and this transport is "
                f"{self._role or 'not bound or connected'}; call {needed} first"
            )

    def _wait(self, event: int, deadline: Optional[float], operation: str) -> None:
        """Wait until ``self._fd`` is ready for ``event``, the deadline passes, or close()."""
        poller = select.poll()
        poller.register(self._fd, event)
        poller.register(self._wake_r, select.POLLIN)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = poller.poll(None if timeout is None else timeout * 1000)
        if self._closed:
            raise self._closed_error(operation)
        if not ready:
            raise TransportTimeoutError(
                f"cannot {operation} on {self.endpoint}: timed out; raise "
                f"{'send' if operation == 'send' else 'receive'}_timeout, or retry later"
            )

    def _io_error(self, operation: str, exc: OSError) -> Exception:
        if exc.errno == errno.EBADF:
            return self._closed_error(operation)
        if isinstance(exc, BrokenPipeError):
            return BrokenTransportError(
                f"cannot {operation} on {self.endpoint}: the consumer closed the pipe"
            )
        return BrokenTransportError(f"cannot {operation} on {self.endpoint}: {exc}")

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        os.write(self._wake_w, b"x")  # wakes a send/receive waiting in another thread
        with self._io_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            self._wake_r = self._wake_w = -1
            self._release_address()

    def _release_address(self) -> None:
        if self._inproc_name is not None:
            with _inproc_lock:
                unclaimed = _inproc_pipes.pop(self._inproc_name, -1)
            if unclaimed >= 0:
                os.close(unclaimed)
        if self._fifo_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._fifo_path)

    def __del__(self) -> None:
        super().__del__()
        if not getattr(self, "_closed", True):
            self.close()

    def get_stats(self) -> TransportStats:
        return TransportStats(
            role=self._role,
            endpoint=self.endpoint,
            messages_sent=self._sent[0],
            bytes_sent=self._sent[1],
            messages_received=self._received[0],
            bytes_received=self._received[1],
        )


def _deadline(timeout_ms: Optional[int]) -> Optional[float]:
    seconds = deadline_seconds(timeout_ms)
    return None if seconds is None else time.monotonic() + seconds
