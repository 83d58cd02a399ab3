"""Process-wide life of the ZeroMQ transports: exit flushes, fork marks copies.

* **Exit.** ``zmq_close`` only hands a socket to libzmq's I/O thread; its queued
  messages leave while the *context* lives. A process that exits right after
  ``close()`` used to lose them, whatever ``linger`` said. So an ``atexit`` hook
  (registered on the first bind/connect) closes the transports still open, stops the
  CURVE authenticator and terminates the shared context, waiting at most as long as the
  largest outstanding ``linger`` (``-1``: until delivered) — a finite linger bounds the
  exit even with a frozen subscriber. If the application still holds open sockets of its
  own in the shared context, terminating would wait for them: the hook then leaves the
  context alone (as before), since it cannot close what it does not own.
* **Fork.** A child inherits copies of the parent's transports and their descriptors.
  ``os.register_at_fork`` marks every copy in the child, so any use raises
  ``TransportStateError`` and ``close()`` only forgets the copy: the parent's sockets,
  wake-up pair, ipc file and authenticator are never touched from the child.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from typing import Any, Callable, Optional, Protocol

import zmq

__all__ = ["exit_deadline", "note_closed", "track"]


class _Tracked(Protocol):
    def close(self) -> None: ...

    def _forked_copy(self) -> None: ...


_live: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_state = {"registered_pid": -1, "linger_until": 0.0}
_before_term: list[Callable[[], None]] = []


def track(transport: _Tracked, before_term: Optional[Callable[[], None]] = None) -> None:
    """Remember an open transport so the exit hook can flush it and fork can mark it."""
    with _lock:
        _live.add(transport)
        if _state["registered_pid"] != os.getpid():
            _state["registered_pid"] = os.getpid()
            atexit.register(_flush_at_exit)
        if before_term is not None and before_term not in _before_term:
            _before_term.append(before_term)


def note_closed(transport: _Tracked, linger_ms: int) -> None:
    """A transport closed its socket: the exit hook may wait up to ``linger_ms`` for it."""
    until = float("inf") if linger_ms < 0 else time.monotonic() + linger_ms / 1000
    with _lock:
        _live.discard(transport)
        _state["linger_until"] = max(_state["linger_until"], until)


def exit_deadline() -> float:
    """Monotonic time until which the exit hook would wait (``inf``: until delivered)."""
    return _state["linger_until"]


def _flush_at_exit() -> None:
    if _state["registered_pid"] != os.getpid():  # a forked child inherits atexit hooks
        return
    for transport in list(_live):
        with contextlib.suppress(Exception):
            transport.close()
    for hook in _before_term:
        with contextlib.suppress(Exception):
            hook()
    wait = _state["linger_until"] - time.monotonic()
    context: zmq.Context[Any] = zmq.Context.instance()
    if wait <= 0 or context.closed or _foreign_sockets_open(context):
        return
    terminator = threading.Thread(target=_terminate, args=(context,), name="tea-exit-flush", daemon=True)
    terminator.start()
    terminator.join(None if wait == float("inf") else wait)


def _foreign_sockets_open(context: zmq.Context[Any]) -> bool:
    sockets = getattr(context, "_sockets", None)
    return sockets is not None and any(not sock.closed for sock in list(sockets))


def _terminate(context: zmq.Context[Any]) -> None:
    with contextlib.suppress(zmq.ZMQError):
        context.term()


def _after_fork_in_child() -> None:
    for transport in list(_live):
        transport._forked_copy()
    _live.clear()
    _state["linger_until"] = 0.0


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
