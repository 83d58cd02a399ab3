"""``ZeroMQTransport``: what every ZeroMQ pattern shares.

* One context per process, ``zmq.Context.instance()`` (fresh after ``fork``); only the
  exit hook of ``lifecycle`` terminates it, to deliver what is queued.
* Options applied and addresses validated before bind/connect; libzmq errors translated here.
* Safe close across threads. libzmq sockets are not thread-safe: closing one under a
  ``recv`` blocked in another thread hangs (inproc) or aborts the process (tcp). So every
  socket call holds ``_io_lock``, and nothing ever *waits* inside libzmq holding it: a
  waiting call releases the lock and waits on the socket's own descriptor (``zmq.FD``, a
  SOCKET handle on Windows) and a wake-up pair, through ``.._waiting`` (shared by every
  transport). ``close()`` raises the flag, wakes the waiter and takes the lock first.
* ``close()`` from a signal handler that interrupted this thread inside a socket call
  (the lock is then held by this very thread) only marks the transport closed and wakes
  it; the interrupted call if it waits, or the next call, another ``close()`` or the exit
  hook, finishes the close.
* Fork: a copy in a child process raises ``TransportStateError`` on use; its ``close()``
  leaves the parent's resources alone (see ``lifecycle``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from typing import Any, ClassVar, FrozenSet, List, Optional

import zmq

from .._waiting import Closing, Owner, WakeUp, deadline, wait_unlocked
from ..base import Capabilities, Transport, TransportConfig
from ..errors import (
    AddressError,
    AddressInUseError,
    BrokenTransportError,
    ConfigurationError,
    TransportError,
    TransportStateError,
    TransportTimeoutError,
)
from . import lifecycle
from .addresses import check_ipc_free, ipc_bind_lock, validate_address
from .security import CURVE_OPTIONS, configure_curve, release_domain, stop_authenticator

__all__ = ["ZEROMQ_OPTIONS", "ZeroMQTransport", "libzmq_errors", "translate_error"]

_INT32_MAX = 2**31 - 1
#: option -> (minimum, maximum, socket option); times in ms, sizes in bytes
_INT_OPTIONS = {
    "heartbeat_interval": (0, _INT32_MAX, zmq.HEARTBEAT_IVL),
    "heartbeat_timeout": (0, _INT32_MAX, zmq.HEARTBEAT_TIMEOUT),
    "max_message_size": (-1, 2**63 - 1, zmq.MAXMSGSIZE),
    "reconnect_interval_max": (0, _INT32_MAX, zmq.RECONNECT_IVL_MAX),
}
ZEROMQ_OPTIONS = frozenset(_INT_OPTIONS) | CURVE_OPTIONS | {"hwm_warning_interval"}
# a waiting call re-reads the socket's state this often (s): another thread may take its edge
_WAIT_SLICE_S = 0.1


def _sooner(until: Optional[float], slice_s: float) -> float:
    end = time.monotonic() + slice_s
    return end if until is None else min(until, end)


def _protocols() -> FrozenSet[str]:
    return frozenset({"tcp", "inproc", "ipc"} if zmq.has("ipc") else {"tcp", "inproc"})


def translate_error(exc: zmq.ZMQError, operation: str, address: Optional[str]) -> TransportError:
    """Turn a libzmq error into the transport error a caller can act on."""
    where = f" {address}" if address else ""
    code = exc.errno
    if code == errno.EADDRINUSE:
        return AddressInUseError(
            f"cannot {operation}{where}: the address is already in use; "
            f"close the other endpoint or pick another address"
        )
    if code in (
        errno.EINVAL,
        errno.EPROTONOSUPPORT,
        errno.ENODEV,
        errno.ENOENT,
        errno.ENAMETOOLONG,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
        zmq.ENOCOMPATPROTO,
    ):
        return AddressError(f"cannot {operation}{where}: {exc.strerror}; check the address")
    if code == errno.EAGAIN:
        return TransportTimeoutError(f"cannot {operation}{where}: it would block; retry later")
    if code in (zmq.ETERM, errno.ENOTSOCK):
        return TransportStateError(f"cannot {operation}{where}: the ZeroMQ context or socket is gone")
    if code in (errno.EMFILE, errno.ENFILE):
        return _out_of_descriptors(operation, address, exc.strerror)
    return BrokenTransportError(f"cannot {operation}{where}: {exc.strerror} (errno {code})")


class libzmq_errors:
    """``with libzmq_errors("send", endpoint):`` turns a libzmq error raised in the block
    into the transport error :func:`translate_error` chooses. A class, not a generator:
    it sits on paths that run once per read or batch, where a generator costs 1 µs."""

    __slots__ = ("address", "operation")

    def __init__(self, operation: str, address: Optional[str]) -> None:
        self.operation = operation
        self.address = address

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Optional[BaseException], traceback: Any) -> None:
        if isinstance(exc, zmq.ZMQError):
            raise translate_error(exc, self.operation, self.address) from exc


def _out_of_descriptors(operation: str, address: Optional[str], reason: str) -> TransportError:
    return TransportError(
        f"cannot {operation} {address}: out of file descriptors ({reason}); close transports "
        f"you no longer use, or raise the limit (ulimit -n)"
    )


class ZeroMQTransport(Transport):
    """Base of the ZeroMQ pattern transports; subclasses choose socket types and roles."""

    capabilities: ClassVar[Capabilities]
    extra_options = ZEROMQ_OPTIONS

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        for key, (minimum, maximum, _) in _INT_OPTIONS.items():
            value = config.options.get(key)
            if value is not None and (type(value) is not int or not minimum <= value <= maximum):
                raise ConfigurationError(
                    f"option {key!r} must be an integer from {minimum} to {maximum}, got {value!r}"
                )
        self._socket: Optional[zmq.Socket[Any]] = None
        self._role: Optional[str] = None
        self._closed = False
        self._closing = Closing()
        self._new_lock()
        self._ipc_path: Optional[str] = None
        self._ipc_inode: Optional[int] = None
        self._curve_domain: Optional[str] = None
        self._owner = Owner()
        # made on bind/connect, so a transport that never opened holds no descriptor
        self._wake: Optional[WakeUp] = None

    @staticmethod
    def context() -> zmq.Context[Any]:
        """The process-wide ZeroMQ context every transport of this process shares."""
        return zmq.Context.instance()

    @property
    def is_connected(self) -> bool:
        return self._socket is not None and not self._closed

    @property
    def socket_type(self) -> Optional[int]:
        """The libzmq socket type in use (e.g. ``zmq.XPUB``), None before bind/connect."""
        return None if self._socket is None else int(self._socket.type)

    def socket_option(self, option: int) -> Any:
        """Read a libzmq socket option (for diagnostics and tests)."""
        self._check_process("read a socket option")
        with self._io_lock:
            if self._socket is None:
                raise TransportStateError("no socket yet: call bind() or connect() first")
            return self._socket.getsockopt(option)

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._role or "new")
        return f"<{type(self).__name__} {state} endpoint={self.endpoint!r}>"

    # -- processes ----------------------------------------------------------------------

    def _check_process(self, operation: str) -> None:
        """:raises TransportStateError: this is a copy inherited through ``fork()``."""
        if self._owner.is_copy():
            raise TransportStateError(
                f"cannot {operation} on {self.endpoint or 'a ZeroMQ transport'}: {self._owner.describe()}"
            )

    def _new_lock(self) -> None:
        # re-entrant, so that close() can tell that a signal handler interrupted this very
        # thread inside a socket call (see close())
        self._io_lock = threading.RLock()

    def _forked_copy(self) -> None:
        """In a child after fork: every use fails fast; the parent's socket, wake-up pair, ipc
        file and ZAP domain are forgotten, never closed, written to or unlinked (pyzmq does
        not close an inherited socket either). A new lock: a parent's thread may hold it."""
        self._new_lock()
        self._owner.forked = True
        self._closed = True
        self._detach_shortcuts()
        self._forget_role_resources()
        self._socket = None
        self._wake = None
        self._ipc_path = self._curve_domain = None

    # -- opening ------------------------------------------------------------------------

    def _open(self, kind: int, role: str, address: str) -> zmq.Socket[Any]:
        """Create, configure and bind (publisher) or connect a socket; close it on failure."""
        operation = "bind" if role == "publisher" else "connect"
        self._check_process(operation)
        scheme, rest = validate_address(address, operation)
        with self._io_lock:  # close() from another thread waits until the socket is ours
            if self._closed:
                raise self._closed_error(operation)
            if self._role is not None:
                raise TransportStateError(
                    f"cannot {operation} {address}: already the {self._role} on {self.endpoint}; "
                    f"use one transport per channel end"
                )
            if scheme == "ipc" and role == "publisher" and not rest.startswith("@"):
                with ipc_bind_lock(address, rest) as path:  # check and bind, atomic among binders
                    check_ipc_free(address, path)
                    sock = self._create(kind, role, address, operation)
                    try:
                        self._ipc_path, self._ipc_inode = path, os.lstat(path).st_ino
                    except OSError as exc:  # libzmq bound somewhere else: never leak the socket
                        self._discard(sock)
                        raise AddressError(
                            f"cannot bind {address}: libzmq bound it but {path} is not there "
                            f"({exc.strerror}); check the address"
                        ) from exc
            else:
                sock = self._create(kind, role, address, operation)
            if self._closed:  # by a signal handler during the bind: finish its close
                self._socket, self._role = sock, role
                self._finish_close()
                raise self._closed_error(operation)
            self._socket = sock
            self._role = role
            self._fd = int(sock.getsockopt(zmq.FD))
        lifecycle.track(self, stop_authenticator)
        return sock

    def _create(self, kind: int, role: str, address: str, operation: str) -> zmq.Socket[Any]:
        with libzmq_errors(operation, address):
            sock: zmq.Socket[Any] = self.context().socket(kind)
        try:
            self._wake = WakeUp()
            self._configure(sock, role)
            if address.startswith("tcp://["):
                sock.setsockopt(zmq.IPV6, 1)
            if role == "publisher":
                sock.bind(address)
                endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
                self.endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
            else:
                sock.connect(address)
                self.endpoint = address
            self._attach(sock)  # the role's state and monitor: on failure, undone with the socket
        except BaseException as exc:
            self._discard(sock)
            if isinstance(exc, zmq.ZMQError):
                raise translate_error(exc, operation, address) from exc
            if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
                raise _out_of_descriptors(operation, address, str(exc.strerror)) from exc
            raise
        return sock

    def _discard(self, sock: zmq.Socket[Any]) -> None:
        self._end_role(sock)
        sock.close(linger=0)
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()
        self._release_domain()

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        options = self.options
        sock.setsockopt(zmq.LINGER, options.linger)
        sock.setsockopt(zmq.SNDHWM, options.high_water_mark)
        sock.setsockopt(zmq.RCVHWM, options.high_water_mark)
        if options.connect_timeout is not None:
            sock.setsockopt(zmq.CONNECT_TIMEOUT, options.connect_timeout)
        for key, (_, _, sockopt) in _INT_OPTIONS.items():
            value = self.config.options.get(key)
            if value is not None:
                sock.setsockopt(sockopt, value)
        self._curve_domain = configure_curve(sock, self.config.options, role)

    def _release_domain(self) -> None:
        domain, self._curve_domain = self._curve_domain, None
        if domain is not None:
            release_domain(domain)

    # -- waiting ------------------------------------------------------------------------

    def _wait(self, sock: zmq.Socket[Any], event: int, deadline: Optional[float], operation: str) -> None:
        """Wait until ``sock`` may be ready for ``event``, or ``deadline`` (monotonic s; None =
        forever). Called and returns with ``_io_lock`` held; waits with it released, so other
        threads' calls proceed meanwhile. It may return early: callers retry their call.

        :raises TransportClosedError: ``close()`` was called meanwhile.
        :raises TransportTimeoutError: the deadline passed.
        """
        if self._closed:
            raise self._closed_now(operation)
        fds = self._wait_fds()
        # reading EVENTS re-arms zmq.FD, which signals only changes after this read
        if int(sock.getsockopt(zmq.EVENTS)) & event or not fds:
            return
        if deadline is not None and deadline <= time.monotonic():
            raise TransportTimeoutError(
                f"cannot {operation} on {self.endpoint}: timed out; "
                f"raise the timeout or check that the peer is running"
            )
        # a slice, not the whole deadline: another thread's call on the same socket may
        # consume the edge that zmq.FD signals, so the state is re-read this often
        wait_unlocked(self._io_lock, fds, (), _sooner(deadline, _WAIT_SLICE_S), self._wake)
        if self._closed:
            raise self._closed_now(operation)

    def _wait_fds(self) -> List[int]:
        """Descriptors a waiting call waits on besides the wake-up pair: the socket's zmq.FD."""
        if self._wake is None:
            return []
        return [self._fd]

    @staticmethod
    def _deadline(timeout_ms: Optional[int]) -> Optional[float]:
        return deadline(timeout_ms)

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close; idempotent, safe from another thread, from a signal handler, and after fork."""
        if self._owner.is_copy():
            if not self._closed or not self._owner.forked:
                self._closed = True
                self._forked_copy()  # the socket, wake-up pair and ipc file are the parent's
            return
        self._closing.close(self._io_lock, self._wake, self._mark_closed, self._finish_close)

    def _mark_closed(self) -> None:
        # without the lock (a signal handler may run this inside this thread's own call): the
        # role shortcuts go now, so no new I/O starts; the rest waits for _finish_close()
        self._closed = True
        self._detach_shortcuts()

    def _closed_now(self, operation: str) -> Exception:
        """The error for an operation that found the transport closed, after finishing a
        close that a signal handler may have left to this call."""
        if self._owner.is_copy():
            return self._closed_error(operation)
        with self._io_lock:
            self._finish_close()
        return self._closed_error(operation)

    def _finish_close(self) -> None:
        """Close the socket and wake-up pair; called with ``_io_lock`` held, once closed;
        idempotent."""
        self._end_role(self._socket)
        self._detach()
        sock, self._socket = self._socket, None
        if sock is not None:
            # linger is for the caller's messages: a subscriber's subscriptions must not hold
            # the process's exit once its publisher is gone
            linger = self.options.linger if self._role == "publisher" else 0
            sock.close(linger=linger)
            self._remove_ipc_file()
            lifecycle.note_closed(self, linger)
        self._release_domain()
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()

    def _attach(self, sock: zmq.Socket[Any]) -> None:
        """The socket is bound or connected: set up the role's state; under ``_io_lock``."""

    def _end_role(self, sock: Optional[zmq.Socket[Any]]) -> None:
        """Before the socket closes, the role lets go of what it holds; under ``_io_lock``."""

    def _detach(self) -> None:
        """Forget per-role resources (monitors, shortcuts); called under ``_io_lock``."""
        self._detach_shortcuts()

    def _detach_shortcuts(self) -> None:
        """Forget the per-role shortcuts the hot paths read; safe without the lock."""

    def _forget_role_resources(self) -> None:
        """Drop references to per-role sockets without closing them (fork copies)."""

    def _remove_ipc_file(self) -> None:
        # libzmq leaves the socket file behind; remove it only while it is still the one we
        # bound (another process may have replaced a stale one since), under the binders' lock
        path, self._ipc_path = self._ipc_path, None
        if not path:
            return
        with contextlib.suppress(OSError, AddressError), ipc_bind_lock(f"ipc://{path}", path):
            if os.lstat(path).st_ino == self._ipc_inode:
                os.unlink(path)
