"""``ZeroMQTransport``: what every ZeroMQ pattern shares.

* One context per process, ``zmq.Context.instance()`` (pyzmq makes a fresh one after
  ``fork``); transports never terminate it.
* Socket options from the transport's options, applied before bind/connect.
* Addresses validated before libzmq sees them; libzmq errors translated once, here.
* Safe close across threads. libzmq sockets are not thread-safe: closing one under a
  ``recv`` blocked in another thread hangs (inproc) or aborts the process (tcp). So a
  waiting call polls its socket together with a private wake-up socket pair and holds
  ``_io_lock``; ``close()`` raises the flag, wakes the waiter and takes the lock before
  it touches the socket.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import socket
import threading
import time
from typing import Any, ClassVar, FrozenSet, Optional

import zmq

from .._arguments import deadline_seconds
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
from .addresses import check_ipc_free, validate_address
from .security import CURVE_OPTIONS, configure_curve

__all__ = ["ZEROMQ_OPTIONS", "ZeroMQTransport", "translate_error"]

#: option -> (minimum, socket option); times in ms, sizes in bytes
_INT_OPTIONS = {
    "heartbeat_interval": (0, zmq.HEARTBEAT_IVL),
    "heartbeat_timeout": (0, zmq.HEARTBEAT_TIMEOUT),
    "max_message_size": (-1, zmq.MAXMSGSIZE),
    "reconnect_interval_max": (0, zmq.RECONNECT_IVL_MAX),
}
ZEROMQ_OPTIONS = frozenset(_INT_OPTIONS) | CURVE_OPTIONS | {"hwm_warning_interval"}


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
    return BrokenTransportError(f"cannot {operation}{where}: {exc.strerror} (errno {code})")


class ZeroMQTransport(Transport):
    """Base of the ZeroMQ pattern transports; subclasses choose socket types and roles."""

    capabilities: ClassVar[Capabilities]
    extra_options = ZEROMQ_OPTIONS

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        for key, (minimum, _) in _INT_OPTIONS.items():
            value = config.options.get(key)
            if value is not None and (type(value) is not int or value < minimum):
                raise ConfigurationError(f"option {key!r} must be an integer >= {minimum}, got {value!r}")
        self._socket: Optional[zmq.Socket[Any]] = None
        self._role: Optional[str] = None
        self._closed = False
        self._io_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._ipc_path: Optional[str] = None
        self._pid = os.getpid()
        # made on bind/connect, so a transport that never opened holds no descriptor
        self._wake_r: Optional[socket.socket] = None
        self._wake_w: Optional[socket.socket] = None

    @staticmethod
    def context() -> zmq.Context[Any]:
        """The process-wide ZeroMQ context every transport of this process shares."""
        return zmq.Context.instance()

    @property
    def is_connected(self) -> bool:
        return self._socket is not None

    @property
    def socket_type(self) -> Optional[int]:
        """The libzmq socket type in use (e.g. ``zmq.XPUB``), None before bind/connect."""
        return None if self._socket is None else int(self._socket.type)

    def socket_option(self, option: int) -> Any:
        """Read a libzmq socket option (for diagnostics and tests)."""
        if self._socket is None:
            raise TransportStateError("no socket yet: call bind() or connect() first")
        return self._socket.getsockopt(option)

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._role or "new")
        return f"<{type(self).__name__} {state} endpoint={self.endpoint!r}>"

    # -- opening ------------------------------------------------------------------------

    def _open(self, kind: int, role: str, address: str) -> zmq.Socket[Any]:
        """Create, configure and bind (publisher) or connect a socket; close it on failure."""
        operation = "bind" if role == "publisher" else "connect"
        if self._closed:
            raise self._closed_error(operation)
        if self._role is not None:
            raise TransportStateError(
                f"cannot {operation} {address}: already the {self._role} on {self.endpoint}; "
                f"use one transport per channel end"
            )
        scheme, rest = validate_address(address, operation)
        if scheme == "ipc" and role == "publisher":
            check_ipc_free(address, rest)
        sock: zmq.Socket[Any] = self.context().socket(kind)
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            self._configure(sock, role)
            if role == "publisher":
                sock.bind(address)
                endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
                self.endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
            else:
                sock.connect(address)
                self.endpoint = address
        except BaseException as exc:
            self._discard(sock)
            if isinstance(exc, zmq.ZMQError):
                raise translate_error(exc, operation, address) from exc
            raise
        self._socket = sock
        self._role = role
        self._ipc_path = rest if scheme == "ipc" and role == "publisher" else None
        return sock

    def _discard(self, sock: zmq.Socket[Any]) -> None:
        sock.close(linger=0)
        for end in (self._wake_r, self._wake_w):
            if end is not None:
                end.close()
        self._wake_r = self._wake_w = None

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        options = self.options
        sock.setsockopt(zmq.LINGER, options.linger)
        sock.setsockopt(zmq.SNDHWM, options.high_water_mark)
        sock.setsockopt(zmq.RCVHWM, options.high_water_mark)
        if options.connect_timeout is not None:
            sock.setsockopt(zmq.CONNECT_TIMEOUT, options.connect_timeout)
        for key, (_, sockopt) in _INT_OPTIONS.items():
            value = self.config.options.get(key)
            if value is not None:
                sock.setsockopt(sockopt, value)
        configure_curve(sock, self.config.options, role)

    # -- waiting ------------------------------------------------------------------------

    def _poller(self, sock: zmq.Socket[Any], event: int) -> zmq.Poller:
        assert self._wake_r is not None  # made by _open() before any poller
        poller = zmq.Poller()
        poller.register(sock, event)
        poller.register(self._wake_r, zmq.POLLIN)
        return poller

    def _wait(self, poller: zmq.Poller, deadline: Optional[float], operation: str) -> None:
        """Wait for ``poller``'s socket until ``deadline`` (monotonic s; None = forever).

        :raises TransportClosedError: ``close()`` was called meanwhile.
        :raises TransportTimeoutError: the deadline passed.
        """
        timeout = None if deadline is None else math.ceil(max(0.0, deadline - time.monotonic()) * 1000)
        ready = poller.poll(timeout)
        if self._closed:
            raise self._closed_error(operation)
        if not ready:
            raise TransportTimeoutError(
                f"cannot {operation} on {self.endpoint}: timed out; "
                f"raise the timeout or check that the peer is running"
            )

    @staticmethod
    def _deadline(timeout_ms: Optional[int]) -> Optional[float]:
        seconds = deadline_seconds(timeout_ms)
        return None if seconds is None else time.monotonic() + seconds

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self._wake_w is not None:
            self._wake_w.send(b"x")
        with self._io_lock:  # a waiting send/receive has woken and left
            sock, self._socket = self._socket, None
            self._detach()
            if sock is not None and os.getpid() == self._pid:
                sock.close(linger=self.options.linger)
                self._remove_ipc_file()
            for end in (self._wake_r, self._wake_w):
                if end is not None:
                    end.close()

    def _detach(self) -> None:
        """Forget per-role shortcuts to the socket; called under ``_io_lock`` by close()."""

    def _remove_ipc_file(self) -> None:
        # libzmq leaves the socket file behind; the path is ours (check_ipc_free), so tidy up
        path = self._ipc_path
        if path and not path.startswith("@"):
            with contextlib.suppress(OSError):
                os.unlink(path)
