"""What a contract works with: fresh addresses, tracked transports, and synchronisation.

Synchronisation works for any transport, ZeroMQ or not: the publisher sends *probes*
(a reserved payload under the subscriber's prefix) until every subscriber has received
one, so the subscription is known to be live; then the measured messages follow, and
subscribers skip any probe still in flight. Every wait is bounded: receives use a short
``receive_timeout`` as their pacing quantum and give up at the harness's deadline.

Addresses: the suite invents them (``tcp://127.0.0.1:<free port>``, a private ipc path,
a unique inproc name) unless the transport class supplies its own, for transports whose
addresses have another form (a broker's channel, say). The hook is a classmethod::

    class RedisPubSubTransport(Transport):
        @classmethod
        def conformance_address(cls, protocol: str) -> str:
            "A fresh address for ``protocol``, unused by any other test, even under xdist."
            return f"tcp://127.0.0.1:{BROKER_PORT}/tea-{uuid.uuid4().hex}"

It is read with ``getattr`` so a transport needs nothing from this package to offer it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Type

from tea_transports import Transport, TransportConfig, TransportTimeoutError

__all__ = ["ADDRESS_HOOK", "HUNG_AFTER", "PROBE", "ConformanceFailure", "Harness", "Target"]

PROBE = b"\x00tea-conformance-probe"
#: receive_timeout (ms) of harness subscribers: how often a waiting receive re-checks
QUANTUM_MS = 50
#: a receive with a QUANTUM_MS timeout that has not returned after this many seconds is
#: stuck in the transport (far beyond any scheduling delay of a loaded machine)
HUNG_AFTER = 10.0
#: the classmethod a transport class may define to supply the suite's addresses
ADDRESS_HOOK = "conformance_address"
#: the protocol order in which a protocol-independent scenario picks a declared one
_PREFERRED = ("tcp", "ipc", "inproc")


class ConformanceFailure(AssertionError):
    """A contract was broken; the message says which and how."""


@dataclass(frozen=True)
class Target:
    """The transport under test: the name it was given by, and its class."""

    name: str
    cls: Type[Transport]

    def pattern_for(self, allowed: Iterable[str]) -> Optional[str]:
        """The pattern to test in: pub_sub where possible, else another allowed one."""
        declared = self.cls.capabilities.patterns
        for pattern in ("pub_sub", *sorted(allowed)):
            if pattern in allowed and pattern in declared:
                return pattern
        return None

    def any_protocol(self) -> str:
        """A protocol the transport declares, for scenarios that do not depend on one."""
        declared = self.cls.capabilities.protocols
        return next((p for p in _PREFERRED if p in declared), "tcp")

    @property
    def spec(self) -> str:
        """``module:QualName`` of the class, so a child process loads this very class."""
        return f"{self.cls.__module__}:{self.cls.__qualname__}"


_counter = itertools.count()
_syncs = itertools.count()


class Harness:
    """Creates and tracks the transports of one scenario run, and closes them all after."""

    def __init__(self, target: Target, pattern: str, protocol: Optional[str], timeout: float) -> None:
        self.target = target
        self.pattern = pattern
        #: a protocol-independent scenario uses a protocol the transport declares
        self.protocol = protocol or target.any_protocol()
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.transports: List[Transport] = []
        self._workdir: Optional[str] = None
        #: (what, since) of the receive in progress, for the watchdog in cases.py
        self._in_call: Optional[Tuple[str, float]] = None

    # -- transports ---------------------------------------------------------------------

    def config(self, **options: Any) -> TransportConfig:
        return TransportConfig(
            transport_type=self.target.name, protocol=self.protocol, pattern=self.pattern, options=options
        )

    def new(self, **options: Any) -> Transport:
        transport = self.target.cls(self.config(**options))
        self.transports.append(transport)
        return transport

    def publisher(self, address: Optional[str] = None, **options: Any) -> Transport:
        pub = self.new(**options)
        pub.bind(address or self.address())
        return pub

    def subscriber(self, pub_or_address: Any, **options: Any) -> Transport:
        options.setdefault("receive_timeout", QUANTUM_MS)
        sub = self.new(**options)
        sub.connect(self.endpoint_of(pub_or_address))
        return sub

    @staticmethod
    def endpoint_of(pub_or_address: Any) -> str:
        if isinstance(pub_or_address, str):
            return pub_or_address
        endpoint = pub_or_address.endpoint
        if not endpoint:
            raise ConformanceFailure(f"{pub_or_address!r} has no endpoint after bind()")
        return str(endpoint)

    def close_all(self) -> None:
        for transport in self.transports:
            with suppress(Exception):  # a faulty transport must not hide the scenario's verdict
                transport.close()
        if self._workdir:
            for name in os.listdir(self._workdir):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self._workdir, name))
            os.rmdir(self._workdir)
            self._workdir = None

    # -- addresses ----------------------------------------------------------------------

    def address(self, protocol: Optional[str] = None) -> str:
        """A fresh address, unique across processes (safe under pytest-xdist)."""
        protocol = protocol or self.protocol
        supplied = supplied_address(self.target.cls, protocol)
        if supplied is not None:
            return supplied
        if protocol == "ipc" and self._workdir is None:
            self._workdir = private_workdir()
        return fresh_address(protocol, self._workdir)

    # -- time ---------------------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    # -- synchronisation and collection -------------------------------------------------

    def sync(
        self, pub: Transport, subs: Sequence[Transport], prefixes: Optional[Sequence[bytes]] = None
    ) -> None:
        """Send probes until every subscriber has received one (its subscription is live).

        Only a probe of this call under the subscriber's own prefix counts: a stale message,
        or a probe left from an earlier sync, proves nothing about the subscription."""
        prefixes = list(prefixes or [b""] * len(subs))
        tag = b"#%d" % next(_syncs)
        waiting = dict(enumerate(subs))
        while waiting:
            if self.expired():
                raise ConformanceFailure(
                    f"{len(waiting)} of {len(subs)} subscriber(s) never received a probe: "
                    f"the subscription did not take effect, or delivery does not work"
                )
            for prefix in sorted(set(prefixes[i] for i in waiting)):
                pub.send(prefix + tag + PROBE)
            for i, sub in list(waiting.items()):
                if self.try_receive(sub) == prefixes[i] + tag + PROBE:
                    del waiting[i]

    def try_receive(self, sub: Transport) -> Optional[bytes]:
        """One bounded receive: a message, or None if none came within the quantum."""
        self._in_call = ("receive()", time.monotonic())
        try:
            return sub.receive()
        except TransportTimeoutError:
            return None
        finally:
            self._in_call = None

    def stuck_call(self, now: float) -> str:
        """Which bounded call has been blocked :data:`HUNG_AFTER` s past its timeout, or ""."""
        in_call = self._in_call
        if in_call is None or now - in_call[1] < HUNG_AFTER + QUANTUM_MS / 1000:
            return ""
        return f"{in_call[0]} with receive_timeout={QUANTUM_MS} ms blocked for {now - in_call[1]:.0f} s"

    def collect(self, sub: Transport, count: int, what: str = "message") -> List[bytes]:
        """The next ``count`` messages that are not probes, or a failure at the deadline."""
        got: List[bytes] = []
        while len(got) < count:
            message = self.try_receive(sub)
            if message is None:
                if self.expired():
                    raise ConformanceFailure(
                        f"only {len(got)} of {count} {what}(s) arrived before the deadline"
                    )
            elif not message.endswith(PROBE):
                got.append(message)
        return got

    def collect_until(self, sub: Transport, fence: bytes) -> List[bytes]:
        """Every non-probe message before ``fence`` (which ends the list, excluded)."""
        got: List[bytes] = []
        while True:
            message = self.try_receive(sub)
            if message is None:
                if self.expired():
                    raise ConformanceFailure(f"the fence {fence!r} never arrived; got {len(got)} message(s)")
            elif message == fence:
                return got
            elif not message.endswith(PROBE):
                got.append(message)

    def drain_quiet(self, sub: Transport, quiet_quanta: int = 4, until: Optional[int] = None) -> List[bytes]:
        """Receive until ``quiet_quanta`` receive timeouts in a row (or ``until`` messages);
        return the non-probes."""
        got: List[bytes] = []
        quiet = 0
        while quiet < quiet_quanta and not self.expired() and (until is None or len(got) < until):
            message = self.try_receive(sub)
            if message is None:
                quiet += 1
            else:
                quiet = 0
                if not message.endswith(PROBE):
                    got.append(message)
        return got

    def eventually(self, condition: Callable[[], bool], what: str, interval: float = 0.01) -> None:
        """Poll ``condition`` every ``interval`` s until it holds; fail at the deadline.

        For state that settles asynchronously (libzmq closes sockets in its reaper thread).
        """
        pause = threading.Event()
        while not condition():
            if self.expired():
                raise ConformanceFailure(f"timed out waiting until {what}")
            pause.wait(interval)


def private_workdir() -> str:
    """A new private directory with a short path (ipc paths are limited to ~100 bytes)."""
    return tempfile.mkdtemp(prefix="teac-", dir="/tmp" if os.path.isdir("/tmp") else None)


def supplied_address(cls: type, protocol: str) -> Optional[str]:
    """The transport's own fresh address for ``protocol`` (see :data:`ADDRESS_HOOK`), or None."""
    hook = getattr(cls, ADDRESS_HOOK, None)
    if hook is None:
        return None
    address = hook(protocol)
    if not isinstance(address, str) or not address:
        raise ConformanceFailure(
            f"{cls.__name__}.{ADDRESS_HOOK}({protocol!r}) returned {address!r}, not an address string"
        )
    return address


def fresh_address(protocol: str, workdir: Optional[str] = None) -> str:
    """A new address for ``protocol``; ipc needs ``workdir`` (see :func:`private_workdir`)."""
    if protocol == "inproc":
        return f"inproc://tea-conf-{uuid.uuid4().hex}"
    if protocol == "ipc":
        return f"ipc://{workdir or private_workdir()}/{next(_counter)}-{uuid.uuid4().hex[:8]}.sock"
    return f"tcp://127.0.0.1:{free_tcp_port()}"


def free_tcp_port() -> int:
    """A loopback port that was free a moment ago (the kernel does not reuse it at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def open_descriptors() -> int:
    """How many file descriptors this process has open (Linux and macOS), with those of its
    control-protocol drivers (a transport behind the protocol opens its descriptors there)."""
    from .remote.proxy import driver_descriptors

    for directory in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(directory):
            return len(os.listdir(directory)) + driver_descriptors()
    raise ConformanceFailure("cannot count descriptors on this platform")
