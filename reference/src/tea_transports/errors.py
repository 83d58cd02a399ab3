"""Errors raised by TEA transports.

Every error a caller can hit is a :class:`TransportError`; its message says what was
attempted, on which address, and what to do about it::

    TransportError                    base class: catch this to catch everything below
    ├── ConfigurationError            an invalid TransportConfig field or option (also ValueError)
    ├── OptionalDependencyError       the transport needs an extra that is not installed
    ├── UnknownTransportError         no transport is registered under that name
    ├── UnsupportedOperationError     the transport does not offer this operation
    ├── TransportStateError           the operation does not fit the role or state
    ├── AddressError                  a malformed or unsupported address (also ValueError)
    │   └── AddressInUseError         another endpoint already listens on that address
    ├── TransportTimeoutError         a deadline passed, or a non-blocking call would block
    ├── TransportClosedError          the transport was closed by its owner
    └── BrokenTransportError          the peer went away, or the channel failed under us
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AddressInUseError",
    "BrokenTransportError",
    "ConfigurationError",
    "OptionalDependencyError",
    "TransportClosedError",
    "TransportError",
    "TransportStateError",
    "TransportTimeoutError",
    "UnknownTransportError",
    "UnsupportedOperationError",
]


class TransportError(Exception):
    """Base class of every error a transport raises."""


class ConfigurationError(TransportError, ValueError):
    """A ``TransportConfig`` field or option has an invalid value."""


class OptionalDependencyError(TransportError, ImportError):
    """The transport needs an optional dependency that is not installed."""


class UnknownTransportError(TransportError, LookupError):
    """No transport is registered under the requested name."""


class UnsupportedOperationError(TransportError):
    """The transport does not offer this operation (see its ``capabilities``)."""


class TransportStateError(TransportError):
    """The operation does not fit the transport's role or state (e.g. ``send`` on a subscriber)."""


class AddressError(TransportError, ValueError):
    """The address is malformed, or names a protocol the transport cannot use here."""


class AddressInUseError(AddressError):
    """Another endpoint already listens on the address."""


class TransportTimeoutError(TransportError, TimeoutError):
    """A deadline passed, or a non-blocking call found nothing to do."""


class TransportClosedError(TransportError):
    """The transport was closed; no operation other than ``close()`` is allowed."""


class BrokenTransportError(TransportError):
    """The peer went away or the channel failed; the transport cannot be used further."""
