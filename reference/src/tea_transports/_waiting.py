"""Waiting and closing, the one way every transport of this package does them.

A transport's calls hold its I/O lock (an ``RLock``) while they touch a descriptor, so
``close()`` never frees one under them. Nothing ever *waits* holding that lock:

* :class:`WakeUp` is a wake-up pair. ``close()`` writes a byte to it, which ends any wait
  at once, in any thread; the write never blocks and is safe in a signal handler.
* :func:`wait_ready` waits on a set of descriptors and a wake-up pair, with a deadline;
  :func:`wait_unlocked` does so with the lock released completely (however deep this thread
  holds it), and takes the lock back as deep as before. They use ``poll`` where the
  platform has it and ``select`` elsewhere (Windows): the two back ends
  ``selectors.DefaultSelector`` would pick, without the cost of building a selector for
  every wait (8 µs against 1 µs for ``poll`` here).
* :class:`Closing` is a close that a signal handler can begin: if the handler interrupted
  this very thread inside a call that holds the lock, waiting for the lock would deadlock,
  so the close is only marked and woken, and the interrupted call (or the next call,
  another ``close()``, or the exit hook) finishes it.
* :class:`Owner` marks what a ``fork()`` leaves: a copy in a child belongs to its parent.
  :func:`at_fork_in_child` registers a hook where the platform forks at all.

Every wait has a deadline in monotonic seconds (:func:`deadline`), None meaning none.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import sys
import time
from typing import Any, Callable, List, Optional, Sequence

__all__ = [
    "Closing",
    "Owner",
    "WakeUp",
    "at_fork_in_child",
    "deadline",
    "owned",
    "remaining",
    "wait_ready",
    "wait_unlocked",
]

# looked up, not imported by name: Windows' select module has no poll (nor its flags)
_poll: Optional[Callable[[], Any]] = getattr(select, "poll", None)
_POLLIN = getattr(select, "POLLIN", 1)
_POLLOUT = getattr(select, "POLLOUT", 4)


def deadline(timeout_ms: Optional[int]) -> Optional[float]:
    """The monotonic time ``timeout_ms`` from now; None (no limit) stays None."""
    return None if timeout_ms is None else time.monotonic() + timeout_ms / 1000.0


def remaining(until: Optional[float]) -> Optional[float]:
    """Seconds left before ``until`` (never below 0); None stays None."""
    return None if until is None else max(0.0, until - time.monotonic())


def owned(lock: Any) -> bool:
    """Whether this thread holds the ``RLock`` ``lock`` (a signal handler asks this)."""
    return bool(lock._is_owned())


class WakeUp:
    """A wake-up pair: :meth:`wake` makes :meth:`fileno` readable until :meth:`drain`.

    Both ends are sockets (``socket.socketpair``: a Unix socket pair on POSIX, two loopback
    tcp sockets on Windows), so ``select`` accepts them everywhere. Neither end blocks: a
    full pair already says "wake up".
    """

    __slots__ = ("_reader", "_writer")

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def fileno(self) -> int:
        """The end to wait on; -1 once closed."""
        return self._reader.fileno()

    def wake(self) -> None:
        """End every wait on this pair; safe in a signal handler and after close."""
        with contextlib.suppress(OSError):
            self._writer.send(b"x")

    def drain(self) -> None:
        """Take the wake-up bytes, so the next wait waits."""
        with contextlib.suppress(OSError):
            self._reader.recv(4096)

    def close(self) -> None:
        """Close both ends (in a forked child, only this process's copies)."""
        self._reader.close()
        self._writer.close()


def wait_unlocked(
    lock: Any,
    readers: Sequence[int],
    writers: Sequence[int] = (),
    until: Optional[float] = None,
    wake: Optional[WakeUp] = None,
) -> bool:
    """Wait, with ``lock`` released, until a descriptor is ready, ``wake`` is woken, or
    ``until`` (monotonic s; None = no limit) passes; return whether anything was ready.

    ``lock`` is an ``RLock`` this thread holds (at any depth): other threads' calls go on
    meanwhile, and it is held again as deep as before on return. A wake-up byte is drained,
    so callers re-check their state (a ``close()``?) and retry.
    """
    depth = 0
    while owned(lock):
        lock.release()
        depth += 1
    try:
        return wait_ready(readers, writers, until, wake)
    finally:
        for _ in range(depth):
            lock.acquire()


def wait_ready(
    readers: Sequence[int],
    writers: Sequence[int] = (),
    until: Optional[float] = None,
    wake: Optional[WakeUp] = None,
) -> bool:
    """Wait until a descriptor is ready, ``wake`` is woken, or ``until`` passes; return
    whether anything was ready (a wake-up byte is drained: callers re-check their state)."""
    wake_fd = -1 if wake is None else wake.fileno()
    if wake_fd >= 0:
        readers = [*readers, wake_fd]
    ready = _wait(readers, writers, remaining(until))
    if wake is not None and wake_fd in ready:  # only then: a recv that finds nothing raises
        wake.drain()
    return bool(ready)


def _wait(readers: Sequence[int], writers: Sequence[int], timeout: Optional[float]) -> List[int]:
    """The descriptors that are ready."""
    try:
        if _poll is not None:
            poller = _poll()
            for fd in readers:
                poller.register(fd, _POLLIN)
            for fd in writers:
                poller.register(fd, _POLLOUT)
            return [fd for fd, _ in poller.poll(None if timeout is None else timeout * 1000)]
        ready = select.select(readers, writers, [], timeout)
        return [*ready[0], *ready[1]]
    except (OSError, ValueError):  # a descriptor closed meanwhile: by close(), which woke us
        return [-1]


class Closing:
    """A close that a signal handler can begin and the interrupted call finishes.

    :meth:`close` marks the transport closed once (``mark``, with no lock: a handler may
    run it while its own thread holds the lock) and wakes every wait; then, unless this
    thread holds the I/O lock, it finishes the close under the lock (``finish``, which must
    be idempotent). If it does hold the lock, a signal handler interrupted this thread's
    own call, and waiting for the lock would deadlock: that call, on its way out (or the
    next call, another ``close()``, or the exit hook), runs ``finish``.
    """

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls = itertools.count()  # next() is atomic: beginning a close needs no lock

    def close(
        self, lock: Any, wake: Optional[WakeUp], mark: Callable[[], None], finish: Callable[[], None]
    ) -> bool:
        """Return whether the close finished here (False: left to the interrupted call)."""
        if not next(self._calls):
            mark()
            if wake is not None:
                wake.wake()
        if owned(lock):
            return False
        with lock:
            finish()
        return True


class Owner:
    """The process a transport's descriptors belong to."""

    __slots__ = ("forked", "pid")

    def __init__(self) -> None:
        self.pid = os.getpid()
        #: set in a child by the fork hook; the pid check covers a fork without hooks
        self.forked = False

    def is_copy(self) -> bool:
        """Whether this is a copy in a process forked from the owner."""
        return self.forked or self.pid != os.getpid()

    def describe(self) -> str:
        return (
            f"it was created in process {self.pid} and this is process {os.getpid()}; after "
            f"fork() the child must create its own transport (and the parent keeps using its own)"
        )


def at_fork_in_child(hook: Callable[[], None]) -> None:
    """Run ``hook`` in every child forked from now on; nothing where there is no fork."""
    # the platform check tells a type checker; hasattr tells a Python built without fork
    if sys.platform != "win32" and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=hook)
