"""TEA stream transports: the ``Transport`` contract and its reference implementations.

``import tea_transports`` never imports pyzmq; ``ZeroMQPubSubTransport`` is loaded on
first use and needs the ``zeromq`` extra (``pip install 'tea-transports[zeromq]'``).
"""

import typing as _typing

from .base import (
    NOBLOCK,
    PATTERNS,
    PROTOCOLS,
    Capabilities,
    Feature,
    Transport,
    TransportConfig,
    TransportStats,
)
from .errors import (
    AddressError,
    AddressInUseError,
    BrokenTransportError,
    ConfigurationError,
    OptionalDependencyError,
    TransportClosedError,
    TransportError,
    TransportStateError,
    TransportTimeoutError,
    UnknownTransportError,
    UnsupportedOperationError,
)
from .factory import (
    ENTRY_POINT_GROUP,
    available_transports,
    create_transport,
    register_transport,
    transport_class,
)
from .options import StandardOptions
from .unix import UnixPipeTransport

if _typing.TYPE_CHECKING:
    from .zeromq import ZeroMQPubSubTransport

__version__ = "0.1.0"

__all__ = [
    "ENTRY_POINT_GROUP",
    "NOBLOCK",
    "PATTERNS",
    "PROTOCOLS",
    "AddressError",
    "AddressInUseError",
    "BrokenTransportError",
    "Capabilities",
    "ConfigurationError",
    "Feature",
    "OptionalDependencyError",
    "StandardOptions",
    "Transport",
    "TransportClosedError",
    "TransportConfig",
    "TransportError",
    "TransportStateError",
    "TransportStats",
    "TransportTimeoutError",
    "UnixPipeTransport",
    "UnknownTransportError",
    "UnsupportedOperationError",
    "ZeroMQPubSubTransport",
    "__version__",
    "available_transports",
    "create_transport",
    "register_transport",
    "transport_class",
]


def __getattr__(name: str) -> _typing.Any:
    if name == "ZeroMQPubSubTransport":  # lazy: needs pyzmq
        return transport_class("zeromq", "pub_sub")
    raise AttributeError(f"module 'tea_transports' has no attribute {name!r}")
