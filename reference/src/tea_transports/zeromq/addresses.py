"""ZeroMQ addresses: validation before libzmq sees them, and safe local endpoints.

Accepted forms (``role`` is "bind" or "connect"):

* ``tcp://HOST:PORT`` — to bind, HOST may be ``*`` (every interface), an IP address or
  an interface name, and PORT may be ``*`` (an ephemeral port, readable afterwards from
  ``Transport.endpoint``); to connect, both must be concrete. IPv6 hosts in brackets.
* ``ipc://PATH`` — where pyzmq supports ipc; PATH at most ``zmq.IPC_PATH_MAX_LEN`` bytes
  (107 on Linux). ``ipc://*…`` is refused: libzmq would make up a path of its own.
* ``inproc://NAME`` — same process only; works on every platform.

:func:`local_endpoint` makes a same-machine endpoint: an ipc socket inside a private
directory (mode 0700, owned by this user, verified on every use), so another local user
cannot create the path first and feed our subscribers, or connect to our publisher;
where ipc is unavailable (Windows wheels) it falls back to inproc.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import sys
import tempfile
from typing import Iterator, Tuple

import zmq

from ..errors import AddressError, AddressInUseError

__all__ = [
    "IPC_PATH_MAX_LEN",
    "check_ipc_free",
    "ipc_bind_lock",
    "local_endpoint",
    "private_ipc_dir",
    "validate_address",
]

IPC_PATH_MAX_LEN: int = getattr(zmq, "IPC_PATH_MAX_LEN", 0) or 107
_SCHEMES = ("tcp", "ipc", "inproc")


def validate_address(address: object, role: str) -> Tuple[str, str]:
    """Check ``address`` for ``role`` and return ``(scheme, rest)``.

    :raises TypeError: ``address`` is not a str.
    :raises AddressError: the address is malformed or its protocol unavailable here.
    """
    if not isinstance(address, str):
        raise TypeError(f"address must be a str such as 'tcp://127.0.0.1:5555', got {type(address).__name__}")
    if "\0" in address:
        raise AddressError(f"cannot {role} {address!r}: an address cannot contain a NUL character")
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in _SCHEMES:
        raise AddressError(
            f"cannot {role} {address!r}: the address must start with tcp://, ipc:// or inproc://"
        )
    if not rest:
        raise AddressError(f"cannot {role} {address!r}: nothing follows {scheme}://")
    if scheme == "tcp":
        _check_tcp(address, rest, role)
    elif scheme == "ipc":
        _check_ipc(address, rest, role)
    return scheme, rest


def _check_tcp(address: str, rest: str, role: str) -> None:
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        raise AddressError(f"cannot {role} {address!r}: expected tcp://HOST:PORT")
    if host.startswith("[") != host.endswith("]"):
        raise AddressError(f"cannot {role} {address!r}: unbalanced brackets around the IPv6 host")
    if role == "connect" and (host == "*" or port == "*"):
        raise AddressError(
            f"cannot connect to {address!r}: a subscriber needs a concrete host and port; "
            f"'*' is only for bind"
        )
    if port == "*":
        return
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise AddressError(
            f"cannot {role} {address!r}: the port must be 1-65535"
            + (" or '*' for an ephemeral port" if role == "bind" else "")
            + f", got {port!r}"
        )


def _check_ipc(address: str, path: str, role: str) -> None:
    if not zmq.has("ipc"):
        raise AddressError(
            f"cannot {role} {address!r}: this pyzmq has no ipc support (as on Windows); "
            f"use inproc:// within one process or tcp://127.0.0.1:PORT across processes"
        )
    if path.startswith("*"):  # libzmq takes any such path for its wildcard
        raise AddressError(
            f"cannot {role} {address!r}: libzmq reads an ipc path that begins with * as "
            f"'make one up' and creates a socket in a directory of its own; use "
            f"tea_transports.zeromq.local_endpoint(name) for a private path"
        )
    length = len(os.fsencode(path))
    if length > IPC_PATH_MAX_LEN:
        raise AddressError(
            f"cannot {role} {address!r}: the ipc path is {length} bytes, more than this "
            f"platform's {IPC_PATH_MAX_LEN}; use a shorter path"
        )


def check_ipc_free(address: str, path: str) -> None:
    """Refuse to bind an ipc path that another live endpoint is listening on.

    libzmq unlinks whatever is at the path before binding, so without this check a
    second publisher would silently take over the first one's subscribers.

    :raises AddressInUseError: something listens at ``path``, or it is not a socket.
    """
    if path.startswith("@"):  # Linux abstract namespace: the kernel refuses a second bind
        return
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AddressInUseError(
            f"cannot bind {address!r}: {path} exists and is not a socket; pick another path"
        )
    if sys.platform == "win32":  # ipc sockets are POSIX's (pyzmq's Windows wheels have none)
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return  # a stale file left by a process that died: libzmq replaces it
    finally:
        probe.close()
    raise AddressInUseError(
        f"cannot bind {address!r}: another endpoint is listening there; close it or pick another path"
    )


@contextlib.contextmanager
def ipc_bind_lock(address: str, path: str) -> Iterator[str]:
    """Hold an exclusive lock among binders of ipc paths in ``path``'s directory; yield the
    absolute path (resolved now, so a later ``chdir`` cannot redirect the clean-up).

    Checking that a path is free and binding it are two steps; two processes binding the
    same path must not interleave them (both would succeed, the second unlinking the first's
    socket). ``flock`` on the directory makes the pair atomic among our binders, and is
    released by the kernel if the process dies.

    :raises AddressError: the directory cannot be opened.
    """
    absolute = os.path.abspath(path)
    if sys.platform == "win32":  # no ipc there, so no binders to serialise
        yield absolute
        return
    import fcntl  # POSIX only, as ipc paths are

    directory = os.path.dirname(absolute) or "/"
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise AddressError(f"cannot bind {address!r}: {directory}: {exc.strerror}; check the path") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield absolute
    finally:
        os.close(fd)  # releases the lock


def private_ipc_dir() -> str:
    """Return this user's private directory for ipc sockets, creating it if needed.

    :raises AddressError: the directory exists but another user owns it or can enter it.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = os.path.join(base, f"tea-{uid}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise AddressError(
            f"refusing to use {path} for ipc sockets: it must be a directory owned by uid {uid} "
            f"with mode 0700 (found mode {stat.S_IMODE(info.st_mode):o}, owner {info.st_uid}); "
            f"someone may be trying to intercept the stream — remove it and retry"
        )
    return path


def local_endpoint(name: str, protocol: str = "ipc") -> str:
    """Return an endpoint named after ``name`` for use on this machine.

    ``protocol="ipc"`` gives ``ipc://<private dir>/<name>.sock`` (a hashed name if that
    would exceed the path limit), or ``inproc://tea-<name>`` where ipc is unavailable;
    ``protocol="inproc"`` always gives the inproc form.

    :raises AddressError: ``name`` is empty or contains a path separator.
    """
    if not name or "/" in name or "\\" in name or "\0" in name:
        raise AddressError(f"an endpoint name must be non-empty without '/', '\\' or NUL, got {name!r}")
    if protocol == "inproc" or not zmq.has("ipc"):
        return f"inproc://tea-{name}"
    if protocol != "ipc":
        raise AddressError(f"local_endpoint() makes ipc or inproc endpoints, not {protocol!r}")
    directory = private_ipc_dir()
    path = os.path.join(directory, f"{name}.sock")
    if len(os.fsencode(path)) > IPC_PATH_MAX_LEN:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        path = os.path.join(directory, f"{digest}.sock")
    return f"ipc://{path}"
