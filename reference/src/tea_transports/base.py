"""The transport contract: ``TransportConfig``, ``Capabilities``, ``TransportStats``, ``Transport``.

Kept source compatible with the sketch of story TEA-STREAM-002.1. Transports are
message oriented: ``send(data)`` delivers ``data`` as one message and ``receive()``
returns one whole message.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Dict, FrozenSet, Iterable, List, Optional, SupportsIndex, Tuple, Union

from .errors import (
    ConfigurationError,
    TransportClosedError,
    TransportTimeoutError,
    UnsupportedOperationError,
)
from .options import STANDARD_OPTIONS, StandardOptions, parse_standard_options

__all__ = [
    "NOBLOCK",
    "PATTERNS",
    "PROTOCOLS",
    "BytesLike",
    "Capabilities",
    "Feature",
    "Transport",
    "TransportConfig",
    "TransportStats",
]

#: ``flags`` bit for a ``send``/``receive`` that must not wait; equal to ``zmq.NOBLOCK``.
NOBLOCK = 1

PROTOCOLS = ("ipc", "tcp", "inproc")
PATTERNS = ("direct", "pub_sub", "push_pull", "req_rep")

BytesLike = Union[bytes, bytearray, memoryview]


class Feature:
    """Names of optional features a transport may declare in ``Capabilities.features``."""

    #: ``subscribe_filter`` plus ``subscribe()`` / ``unsubscribe()`` after connect
    FILTERING = "filtering"
    #: ``high_water_mark`` bounds each subscriber's queue
    HIGH_WATER_MARK = "high_water_mark"
    #: ``linger`` bounds how long ``close()`` waits to deliver queued messages
    LINGER = "linger"
    #: ``get_stats()``
    STATS = "stats"
    #: a WARNING on the transport's logger when a subscriber's queue is full
    SLOW_SUBSCRIBER_WARNING = "slow_subscriber_warning"
    #: ``on_hwm="block"``: the publisher waits for the slowest subscriber, losing nothing
    LOSSLESS = "lossless"
    #: ``wait_for_subscribers()``
    SUBSCRIBER_COUNT = "subscriber_count"
    #: subscribers reconnect by themselves when a publisher restarts on the same address
    RECONNECT = "reconnect"
    #: option ``max_message_size`` (bytes): a subscriber refuses messages larger than it
    MAX_MESSAGE_SIZE = "max_message_size"


@dataclass
class TransportConfig:
    """What to create: which transport, over which protocol, in which pattern, with which options.

    Every field is validated here, so a bad value fails where it was written.

    :raises ConfigurationError: a field or a standard option has an invalid value.
    :raises TypeError: ``options`` is not a dict.
    """

    #: "unix" | "zeromq" | any name registered with ``register_transport``
    transport_type: str = "unix"
    #: "ipc" | "tcp" | "inproc"
    protocol: str = "ipc"
    #: "direct" | "pub_sub" | "push_pull" | "req_rep"
    pattern: str = "direct"
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.transport_type, str) or not self.transport_type:
            raise ConfigurationError(
                f"transport_type must be a non-empty name such as 'unix' or 'zeromq', "
                f"got {self.transport_type!r}"
            )
        _check_choice("protocol", self.protocol, PROTOCOLS)
        _check_choice("pattern", self.pattern, PATTERNS)
        parse_standard_options(self.options)
        self.options = dict(self.options)  # never share the caller's dict


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigurationError(
            f"TransportConfig.{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        )


@dataclass(frozen=True)
class Capabilities:
    """What a transport supports; the conformance suite reads it to pick its scenarios."""

    patterns: FrozenSet[str]
    #: protocols usable on this platform (e.g. no ipc where pyzmq is built without it)
    protocols: FrozenSet[str]
    #: names from :class:`Feature`
    features: FrozenSet[str] = frozenset()
    #: the deepest queue ``high_water_mark`` may ask for (None: no limit): a positive int.
    #: Above it, or 0 (unlimited), the constructor raises ConfigurationError; the default
    #: mark becomes the smaller of 1000 and this; the conformance suite asks no more
    max_high_water_mark: Optional[int] = None

    def __post_init__(self) -> None:
        limit = self.max_high_water_mark
        if limit is not None and (type(limit) is not int or limit < 1):
            raise TypeError(f"Capabilities.max_high_water_mark must be None or an int >= 1, got {limit!r}")


@dataclass(frozen=True)
class TransportStats:
    """A snapshot of one transport's counters; every count is observed, none estimated."""

    #: "publisher" after ``bind()``, "subscriber" after ``connect()``, else None
    role: Optional[str]
    endpoint: Optional[str]
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    #: sends that found a subscriber's queue at the high water mark. Each one starts or
    #: continues an episode in which that subscriber misses messages; messages it misses
    #: later in the same episode are not counted, so this is not a count of lost messages.
    hwm_reached: int = 0
    #: blocking sends (``on_hwm="block"``) that gave up at ``send_timeout``
    send_timeouts: int = 0
    #: subscriptions the publisher knows of (one per prefix per subscriber); None if unknown
    subscriptions: Optional[int] = None


class Transport(ABC):
    """A message channel end: ``bind()`` makes it the producer, ``connect()`` the consumer.

    Lifecycle: ``is_connected`` is False when new, True after ``bind()`` or ``connect()``,
    False again after ``close()``. ``close()`` is idempotent; every other operation on a
    closed transport raises :class:`TransportClosedError`. Used as a context manager it
    closes on exit, normal or exceptional. A transport that is dropped while still open
    emits a ``ResourceWarning``.
    """

    #: declared by each concrete transport
    capabilities: ClassVar[Capabilities]
    #: option keys this transport reads beyond the standard ones
    extra_options: ClassVar[FrozenSet[str]] = frozenset()

    def __init__(self, config: TransportConfig) -> None:
        """:raises ConfigurationError: the pattern is not supported, or an option is unknown."""
        if not isinstance(config, TransportConfig):
            raise TypeError(f"config must be a TransportConfig, got {type(config).__name__}")
        name = type(self).__name__
        if config.pattern not in self.capabilities.patterns:
            raise ConfigurationError(
                f"{name} does not support pattern {config.pattern!r}; "
                f"it supports {', '.join(sorted(self.capabilities.patterns))}"
            )
        unknown = set(config.options) - STANDARD_OPTIONS - self.extra_options
        if unknown:
            known = ", ".join(sorted(STANDARD_OPTIONS | self.extra_options))
            raise ConfigurationError(
                f"{name} does not know option(s) {', '.join(sorted(unknown))}; known: {known}"
            )
        self.config = config
        self.options: StandardOptions = parse_standard_options(config.options)
        limit = self.capabilities.max_high_water_mark
        if limit is not None:
            mark = self.options.high_water_mark
            if "high_water_mark" not in config.options and mark > limit:
                self.options = replace(self.options, high_water_mark=limit)  # the default, capped
            elif mark > limit or mark == 0:
                raise ConfigurationError(
                    f"{name} cannot queue high_water_mark={mark} messages"
                    f"{' (0: without limit)' if mark == 0 else ''}: its limit is {limit}; "
                    f"ask for 1 to {limit}"
                )
        #: the address as bound or connected (for ``tcp://host:*`` it holds the real port)
        self.endpoint: Optional[str] = None

    # -- the contract -------------------------------------------------------------------

    @abstractmethod
    def bind(self, address: str) -> None:
        """Take the producer role (publisher) on ``address``.

        :raises AddressError: the address is malformed or its protocol unavailable here.
        :raises AddressInUseError: another endpoint already listens there.
        :raises TransportStateError: the transport is already bound or connected.
        :raises TransportClosedError: the transport is closed.
        """

    @abstractmethod
    def connect(self, address: str) -> None:
        """Take the consumer role (subscriber) on ``address``.

        :raises AddressError: the address is malformed or its protocol unavailable here.
        :raises TransportStateError: the transport is already bound or connected.
        :raises TransportClosedError: the transport is closed.
        """

    @abstractmethod
    def send(self, data: BytesLike, flags: int = 0) -> int:
        """Send ``data`` as one message and return its length in bytes.

        A payload check raises ``TypeError`` or a ``TransportError``, never anything else
        (the conformance suite sends ``str``, ``None``, an ``int`` and a released
        ``memoryview``). Beware: ``bytes()`` of a released ``memoryview`` raises
        ``ValueError``; translate it.

        :raises TypeError: ``data`` is not bytes-like, or is a released ``memoryview``.
        :raises TransportStateError: the transport is not the producer.
        :raises TransportTimeoutError: the message could not be queued within
            ``send_timeout``, or at once with ``NOBLOCK``.
        :raises BrokenTransportError: the consumer went away (pipes).
        :raises TransportClosedError: the transport is closed, also by another thread.
        """

    @abstractmethod
    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        """Return the next whole message.

        ``size`` is kept for compatibility with stream transports; a message transport
        always returns one whole message, whatever its length.

        :raises TransportStateError: the transport is not the consumer.
        :raises TransportTimeoutError: nothing arrived within ``receive_timeout``, or
            nothing was ready with ``NOBLOCK``.
        :raises BrokenTransportError: the producer went away for good (pipes).
        :raises TransportClosedError: the transport is closed, also by another thread
            while this call was waiting.
        """

    @abstractmethod
    def close(self) -> None:
        """Release every resource; idempotent, and safe to call from another thread."""

    @property
    @abstractmethod
    def is_connected(self) -> bool:
        """True between a successful ``bind()``/``connect()`` and ``close()``."""

    # -- batches: one call for many messages -------------------------------------------

    def send_many(self, messages: Iterable[BytesLike]) -> int:
        """Send each of ``messages`` in order, as ``send()`` would; return the bytes sent.

        Transports override it to pay their per-call overhead once per batch. It raises
        what ``send()`` raises; the messages before the failing one were sent.
        """
        return sum(self.send(message) for message in messages)

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        """Wait for one message as ``receive()`` would, then return it together with
        those already queued behind it, up to ``max_messages``, without waiting again.

        It raises what ``receive()`` raises, before any message was taken.
        """
        if not isinstance(max_messages, int) or max_messages < 1:
            raise TypeError(f"max_messages must be an int >= 1, got {max_messages!r}")
        messages = [self.receive(flags=flags)]
        while len(messages) < max_messages:
            try:
                messages.append(self.receive(flags=NOBLOCK))
            except TransportTimeoutError:
                break
        return messages

    # -- optional features (see ``capabilities.features``) ------------------------------

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        """Also receive messages starting with ``prefix`` (``Feature.FILTERING``).

        :raises UnsupportedOperationError: the transport does not filter.
        """
        raise self._unsupported("subscribe()", Feature.FILTERING)

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        """Stop receiving messages for ``prefix`` (``Feature.FILTERING``).

        :raises UnsupportedOperationError: the transport does not filter.
        """
        raise self._unsupported("unsubscribe()", Feature.FILTERING)

    def wait_for_subscribers(self, count: int = 1, timeout: Optional[float] = None) -> int:
        """Wait until ``count`` subscriptions are known; return how many are (``SUBSCRIBER_COUNT``).

        :raises UnsupportedOperationError: the transport cannot see its subscribers.
        """
        raise self._unsupported("wait_for_subscribers()", Feature.SUBSCRIBER_COUNT)

    def get_stats(self) -> TransportStats:
        """Return a snapshot of this transport's counters (``Feature.STATS``).

        :raises UnsupportedOperationError: the transport keeps no statistics.
        """
        raise self._unsupported("get_stats()", Feature.STATS)

    # -- shared behaviour ---------------------------------------------------------------

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __copy__(self) -> Transport:
        raise self._not_copied()

    def __deepcopy__(self, memo: object) -> Transport:
        raise self._not_copied()

    def __reduce_ex__(self, protocol: SupportsIndex) -> Union[str, Tuple[object, ...]]:
        raise self._not_copied()  # pickle, and copy where __copy__ is not looked up

    def _not_copied(self) -> TypeError:
        return TypeError(
            f"a {type(self).__name__} cannot be copied or pickled: it owns its socket or pipe, "
            f"which a copy would share; create another with create_transport(config)"
        )

    def __del__(self) -> None:
        try:
            leaked = self.is_connected
        except Exception:  # half-constructed: nothing was opened
            return
        if leaked:
            warnings.warn(
                f"{self!r} was never closed; call close() or use it in a with block",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    def _unsupported(self, operation: str, feature: str) -> UnsupportedOperationError:
        return UnsupportedOperationError(
            f"{type(self).__name__} does not offer {operation}: its capabilities do not include {feature!r}"
        )

    def _closed_error(self, operation: str) -> TransportClosedError:
        where = f" on {self.endpoint}" if self.endpoint else ""
        return TransportClosedError(f"cannot {operation}{where}: the transport is closed; create a new one")
