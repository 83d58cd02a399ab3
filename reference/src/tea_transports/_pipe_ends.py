"""The ends of a pipe transport's channel: an anonymous pipe named inproc://NAME within one
process, or a FIFO at ipc:///path shared between processes.

A FIFO is created with mode 0600, and an existing path is refused rather than taken over.
Its producer opens it read-write, so its sends never fail for want of a consumer:
messages wait in the kernel's pipe buffer until one connects or the buffer fills.

A FIFO has one consumer: ``connect()`` takes an exclusive ``flock`` on it, so a second
consumer — in this process or another — is refused instead of splitting the byte stream
between two readers (which corrupts the framing). The lock goes with the consumer's
descriptor, so a consumer that dies never keeps the next one out. But a consumer reads
ahead: what it read and did not return is lost when it closes, and if it closes in the
middle of a message, the next consumer of that FIFO starts mid-frame and the stream is
broken for good. Hand a FIFO over only when its producer is quiet, or bind a new one.

FIFOs are POSIX's: on Windows the transport declares no protocol and
these functions are never reached (the ``sys.platform`` checks say so to a type checker).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from typing import AbstractSet, Dict, Tuple

from .errors import AddressError, AddressInUseError

__all__ = [
    "forget_the_parents_names",
    "open_consumer",
    "open_producer",
    "release_address",
    "split_address",
]

# inproc://NAME -> read end of the pipe until a consumer takes it, then -1; the name
# stays reserved until the producer closes
_inproc_pipes: Dict[str, int] = {}
_inproc_lock = threading.RLock()  # re-entrant: close() from a signal handler may interrupt bind()


def split_address(operation: str, address: str, protocols: AbstractSet[str]) -> Tuple[str, str]:
    """``(scheme, target)`` of ``address``, one of the transport's ``protocols``.

    :raises TypeError: ``address`` is not a str.
    :raises AddressError: it is not ``inproc://NAME`` or ``ipc:///path/to/fifo``.
    """
    if not isinstance(address, str):
        raise TypeError(f"address must be a str, got {type(address).__name__}")
    scheme, sep, target = address.partition("://")
    if not sep or scheme not in protocols or not target:
        raise AddressError(
            f"cannot {operation} {address!r}: UnixPipeTransport takes inproc://NAME or ipc:///path/to/fifo"
        )
    return scheme, target


def open_producer(address: str, scheme: str, target: str) -> int:
    """Create the channel at ``target``; return the producer's (write) descriptor.

    :raises AddressInUseError: the name is bound, or the path exists.
    :raises AddressError: the FIFO cannot be created.
    """
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
        return write_fd
    if sys.platform == "win32":
        raise AddressError(f"cannot bind {address}: this platform has no FIFOs")
    try:
        os.mkfifo(target, 0o600)
    except FileExistsError:
        raise AddressInUseError(
            f"cannot bind {address}: {target} already exists; another producer may "
            f"own it — remove it if it is stale, or pick another path"
        ) from None
    except OSError as exc:
        raise AddressError(f"cannot create the FIFO for {address}: {exc}") from exc
    return os.open(target, os.O_RDWR | os.O_NONBLOCK)


def open_consumer(address: str, scheme: str, target: str) -> int:
    """Take the consumer's (read) end of the channel at ``target``.

    :raises AddressError: nothing is bound there, or its consumer is already connected.
    :raises AddressInUseError: another consumer holds the FIFO.
    """
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
        return read_fd
    if sys.platform == "win32":
        raise AddressError(f"cannot connect to {address}: this platform has no FIFOs")
    try:
        if not stat.S_ISFIFO(os.stat(target).st_mode):
            raise AddressError(f"cannot connect to {address}: {target} is not a FIFO")
        read_fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
        _lock_consumer(read_fd, address)
    except FileNotFoundError:
        raise AddressError(
            f"cannot connect to {address}: no FIFO at {target}; bind the producer first"
        ) from None
    except OSError as exc:
        raise AddressError(f"cannot connect to {address}: {exc}") from exc
    return read_fd


def release_address(scheme: str, target: str) -> None:
    """Free what :func:`open_producer` made (its producer closed): the inproc name, with a
    read end nobody took, or the FIFO's path."""
    if scheme != "inproc":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        return
    with _inproc_lock:
        unclaimed = _inproc_pipes.pop(target, -1)
    if unclaimed >= 0:
        os.close(unclaimed)


def forget_the_parents_names() -> None:
    """In a forked child: the parent's names are neither usable nor taken here."""
    global _inproc_lock
    _inproc_lock = threading.RLock()  # a parent thread may have held it at the fork
    for fd in _inproc_pipes.values():
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    _inproc_pipes.clear()


def _lock_consumer(fd: int, address: str) -> None:
    """Make ``fd`` the FIFO's only consumer, or close it and refuse.

    :raises AddressInUseError: another consumer holds the FIFO.
    """
    if sys.platform == "win32":  # no FIFOs there
        return
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AddressInUseError(
            f"cannot connect to {address}: the FIFO already has a consumer (in this or another "
            f"process); a pipe carries one stream to one reader, so close that consumer first, "
            f"or use the zeromq transport's pub_sub pattern for several subscribers"
        ) from None
    except OSError:  # a platform that cannot lock FIFOs: the one-consumer rule goes unchecked
        pass
