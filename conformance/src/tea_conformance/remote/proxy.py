"""The proxy ``Transport``: every call is a request to a driver process.

``proxy_class(command)`` makes one class per driver command, with the capabilities the
driver declared at hello. The class is reachable as ``tea_conformance.remote.proxy:Remote_<hash>``
(the command is in the environment variable ``TEA_CONFORMANCE_DRIVER_<hash>``, which child
processes inherit), so the suite's child processes, which load the class under test by that
path, build the same class and start their own driver.

What the proxy checks itself, because the wire cannot carry it: a payload must be
bytes-like (``TypeError`` otherwise), an address a ``str``, a prefix bytes or str.
Everything else — flags, sizes, timeouts, every state rule — is the driver's to judge.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import os
import sys
import threading
import warnings
from typing import Any, ClassVar, Dict, Iterable, List, Optional, Type, Union

from tea_transports import Capabilities, Transport, TransportConfig, TransportStats
from tea_transports.base import NOBLOCK, BytesLike

from .driver import REPLY_LIMIT, Driver, DriverError, Hello
from .protocol import ProtocolError, decode_bytes, encode_bytes

__all__ = ["RemoteTransport", "class_path", "driver_descriptors", "proxy_class", "stop_drivers"]

_PREFIX = "Remote_"
_ENV = "TEA_CONFORMANCE_DRIVER_"
_classes: Dict[str, Type[RemoteTransport]] = {}
_drivers: Dict[str, Driver] = {}
_lock = threading.Lock()
_handles = itertools.count(1)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a parent's thread may have held it at the fork


if sys.platform != "win32" and hasattr(os, "register_at_fork"):  # the simulated Windows too
    os.register_at_fork(after_in_child=_after_fork_in_child)


def driver_for(command: str) -> Driver:
    """This process's driver for ``command``: started on first use, restarted after it died."""
    with _lock:
        driver = _drivers.get(command)
        if driver is None or driver.owner != os.getpid() or not driver.alive:
            driver = _drivers[command] = Driver(command)
        return driver


def driver_descriptors() -> int:
    """How many descriptors this process's live drivers have open (0 where /proc is absent):
    a transport behind the protocol leaks them there, not in the suite's process."""
    total = 0
    for driver in list(_drivers.values()):
        if driver.owner == os.getpid() and driver.alive:
            with contextlib.suppress(OSError):  # exited meanwhile, or no /proc
                total += len(os.listdir(f"/proc/{driver.process.pid}/fd"))
    return total


def stop_drivers() -> None:
    """Stop this process's drivers: each gets EOF, so it closes its transports and exits.

    Runs at exit; a process that runs the suite many times (pytester) calls it after each
    run, so finished drivers do not hold their processes and pipes. A transport made
    before then fails its calls with a DriverError; a new one starts its driver again.
    """
    with _lock:
        stopping = [d for d in _drivers.values() if d.owner == os.getpid()]
        for command in [c for c, d in _drivers.items() if d in stopping]:
            del _drivers[command]
    for driver in stopping:
        driver.stop()


atexit.register(stop_drivers)


def class_path(command: str) -> str:
    """``module:QualName`` of the command's proxy class (see the module's doc)."""
    key = hashlib.sha1(command.encode("utf-8")).hexdigest()[:12]
    os.environ[_ENV + key] = command
    return f"{__name__}:{_PREFIX}{key}"


def proxy_class(command: str) -> Type[RemoteTransport]:
    """The proxy class of the driver ``command`` (starting it to read its hello).

    :raises DriverError: the driver could not start, or its hello was refused.
    """
    with _lock:
        cls = _classes.get(command)
    if cls is not None:
        return cls
    hello = driver_for(command).hello
    namespace: Dict[str, Any] = {
        "command": command,
        "hello": hello,
        "capabilities": Capabilities(
            patterns=frozenset(hello.patterns),
            protocols=frozenset(hello.protocols),
            features=frozenset(hello.features),
        ),
        "extra_options": frozenset(hello.extra_options),
        "__module__": __name__,
        "__doc__": f"{hello.name} {hello.version}, driven by `{command}`",
    }
    if hello.addresses:
        namespace["conformance_address"] = classmethod(_remote_address)
    qualname = class_path(command).partition(":")[2]
    cls = type(qualname, (RemoteTransport,), namespace)
    cls.__qualname__ = qualname
    with _lock:
        return _classes.setdefault(command, cls)


def __getattr__(name: str) -> Any:
    """``Remote_<hash>``: the proxy class of that command (how a child process finds it)."""
    command = os.environ.get(_ENV + name[len(_PREFIX) :]) if name.startswith(_PREFIX) else None
    if command is not None:
        return proxy_class(command)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _remote_address(cls: Type[RemoteTransport], protocol: str) -> str:
    address = driver_for(cls.command).call("address", protocol=protocol)
    if not isinstance(address, str):
        raise DriverError(f"the driver `{cls.command}` answered 'address' with {address!r}, not a string")
    return address


def _payload(data: Any, what: str = "data") -> str:
    try:
        with memoryview(data) as view:
            return encode_bytes(view.tobytes())
    except ValueError:  # a released memoryview
        raise TypeError(f"send() cannot read {what}: it is a released memoryview") from None
    except TypeError:
        raise TypeError(f"send() takes a bytes-like {what}, got {type(data).__name__}") from None


def _prefix(prefix: Any) -> bytes:
    if isinstance(prefix, str):
        return prefix.encode("utf-8")
    if isinstance(prefix, (bytes, bytearray, memoryview)):
        return bytes(prefix)
    raise TypeError(f"a subscription prefix must be bytes or str, got {type(prefix).__name__}")


def _count(value: Any, op: str) -> int:
    """An integer the driver answered; anything else is the driver's fault, never the
    caller's ``TypeError``."""
    if type(value) is not int:
        raise DriverError(f"a driver broke the protocol: it answered {op!r} with {value!r}, not an integer")
    return value


def _bytes(value: Any, op: str) -> bytes:
    try:
        return decode_bytes(value, f"the reply to {op!r}")
    except ProtocolError as exc:
        raise DriverError(f"a driver broke the protocol: {exc}") from None


class RemoteTransport(Transport):
    """A transport that lives in a driver process (one subclass per driver command)."""

    command: ClassVar[str]
    hello: ClassVar[Hello]

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self._driver = driver_for(self.command)
        self._handle = next(_handles)
        self._in_use = False  # bound or connected, and not closed: for the ResourceWarning
        opts = self.options
        options: Dict[str, Any] = {
            "high_water_mark": opts.high_water_mark,
            "linger": opts.linger,
            "subscribe_filter": [encode_bytes(p) for p in opts.subscribe_filter],
            "receive_timeout": opts.receive_timeout,
            "send_timeout": opts.send_timeout,
            "on_hwm": opts.on_hwm,
            "connect_timeout": opts.connect_timeout,
        }
        options.update((k, v) for k, v in config.options.items() if k in self.extra_options)
        self._call("create", pattern=config.pattern, protocol=config.protocol, options=options)

    def _call(self, op: str, limit: Optional[float] = REPLY_LIMIT, **fields: Any) -> Any:
        return self._driver.call(op, limit, t=self._handle, **fields)

    def _blocking_limit(self, flags: Any, timeout_ms: Optional[int]) -> Optional[float]:
        """How long a send or receive may take: its own timeout plus the reply limit."""
        if isinstance(flags, int) and flags & NOBLOCK:
            return REPLY_LIMIT
        return None if timeout_ms is None else timeout_ms / 1000 + REPLY_LIMIT

    # -- the contract -------------------------------------------------------------------

    def bind(self, address: str) -> None:
        self._role("bind", address)

    def connect(self, address: str) -> None:
        self._role("connect", address)

    def _role(self, op: str, address: Any) -> None:
        if not isinstance(address, str):
            raise TypeError(f"{op}() takes an address str, got {type(address).__name__}")
        endpoint = self._call(op, address=address)
        self.endpoint = endpoint if isinstance(endpoint, str) else address
        self._in_use = True

    def send(self, data: BytesLike, flags: int = 0) -> int:
        payload = _payload(data)
        on_hwm_limit = self.options.send_timeout if self.options.on_hwm == "block" else 0
        return _count(
            self._call("send", self._blocking_limit(flags, on_hwm_limit), data=payload, flags=flags), "send"
        )

    def send_many(self, messages: Iterable[BytesLike]) -> int:
        payloads = [_payload(m, "message") for m in messages]
        on_hwm_limit = self.options.send_timeout if self.options.on_hwm == "block" else 0
        limit = self._blocking_limit(
            0, None if on_hwm_limit is None else on_hwm_limit * max(1, len(payloads))
        )
        return _count(self._call("send_many", limit, data=payloads), "send_many")

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        limit = self._blocking_limit(flags, self.options.receive_timeout)
        return _bytes(self._call("receive", limit, size=size, flags=flags), "receive")

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        if not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1:
            raise TypeError(f"max_messages must be an int >= 1, got {max_messages!r}")
        limit = self._blocking_limit(flags, self.options.receive_timeout)
        got = self._call("receive_many", limit, max=max_messages, flags=flags)
        if not isinstance(got, list):
            raise DriverError(f"the driver answered 'receive_many' with {got!r}, not a list")
        return [_bytes(m, "receive_many") for m in got]

    def close(self) -> None:
        self._in_use = False
        linger = self.options.linger
        self._call("close", None if linger < 0 else linger / 1000 + REPLY_LIMIT)

    @property
    def is_connected(self) -> bool:
        connected = self._call("is_connected")
        if not isinstance(connected, bool):
            raise DriverError(f"a driver broke the protocol: it answered 'is_connected' with {connected!r}")
        return connected

    # -- optional features --------------------------------------------------------------

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        self._call("subscribe", prefix=encode_bytes(_prefix(prefix)))

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        self._call("unsubscribe", prefix=encode_bytes(_prefix(prefix)))

    def wait_for_subscribers(self, count: int = 1, timeout: Optional[float] = None) -> int:
        limit = timeout + REPLY_LIMIT if isinstance(timeout, (int, float)) and timeout >= 0 else None
        return _count(
            self._call("wait_for_subscribers", limit, count=count, timeout=timeout), "wait_for_subscribers"
        )

    def get_stats(self) -> TransportStats:
        stats = self._call("get_stats")
        if not isinstance(stats, dict):
            raise DriverError(f"the driver answered 'get_stats' with {stats!r}, not an object")
        known = TransportStats.__dataclass_fields__
        return TransportStats(**{k: v for k, v in stats.items() if k in known})

    def __del__(self) -> None:
        # never a request here: the collector may run in the thread that reads the replies
        if getattr(self, "_in_use", False):
            warnings.warn(
                f"{self!r} was never closed; call close() or use it in a with block",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    def __repr__(self) -> str:
        return f"<{self.hello.name} transport #{getattr(self, '_handle', '?')} via `{self.command}`>"
