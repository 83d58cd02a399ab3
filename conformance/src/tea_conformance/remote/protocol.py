"""The control protocol's vocabulary (see docs/control-protocol.md): its version, its
framing (one JSON object per line, UTF-8), payload encoding (base64) and the error
names a reply may carry."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Type

import tea_transports.errors as errors

__all__ = [
    "ERRORS",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "UnexpectedError",
    "decode_bytes",
    "dump",
    "encode_bytes",
    "error_of",
]

#: the version a driver's hello must carry; any other is refused
PROTOCOL_VERSION = 1

#: the exceptions a reply's ``error.type`` may name
ERRORS: Dict[str, Type[Exception]] = {
    name: getattr(errors, name)
    for name in (
        "TransportError",
        "ConfigurationError",
        "OptionalDependencyError",
        "UnknownTransportError",
        "UnsupportedOperationError",
        "TransportStateError",
        "AddressError",
        "AddressInUseError",
        "TransportTimeoutError",
        "TransportClosedError",
        "BrokenTransportError",
    )
}
ERRORS["TypeError"] = TypeError


class ProtocolError(Exception):
    """A line that breaks the control protocol."""


class UnexpectedError(Exception):
    """The driver's transport raised an error outside the contract (its type is in the message):
    no scenario accepts it, as none would accept the original in process."""


def dump(message: Dict[str, Any]) -> bytes:
    """One message as its line, newline included."""
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_bytes(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ProtocolError(f"{what} must be a base64 string, got {text!r}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{what} is not valid base64 ({exc}): {text[:80]!r}") from None


def error_of(error: Any) -> Exception:
    """The exception a reply's ``error`` object names."""
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        raise ProtocolError(f"an error must be {{'type': NAME, 'message': TEXT}}, got {error!r}")
    name = error.get("type")
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"an error's type must be a name, got {name!r}")
    cls = ERRORS.get(name)
    if cls is None:
        return UnexpectedError(f"{name}: {error['message']}")
    return cls(error["message"])
