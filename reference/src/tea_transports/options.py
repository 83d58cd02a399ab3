"""The standard options every transport reads with the same meaning.

``TransportConfig.options`` is a plain dict (source compatible with story 002.1); this
module validates its standard keys once, at construction, and turns them into a frozen
:class:`StandardOptions`. Keys a transport does not know are refused by the transport
(see ``Transport.extra_options``), so a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from .errors import ConfigurationError

__all__ = [
    "ON_HWM_POLICIES",
    "STANDARD_OPTIONS",
    "StandardOptions",
    "as_prefix",
    "parse_standard_options",
]

ON_HWM_POLICIES = ("drop", "block")


@dataclass(frozen=True)
class StandardOptions:
    """Validated standard options; times are in milliseconds, ``None`` means no limit."""

    #: messages queued per peer before the ``on_hwm`` policy applies; 0 = unlimited
    high_water_mark: int = 1000
    #: how long ``close()`` may wait to deliver queued messages; -1 = forever, 0 = discard
    linger: int = 1000
    #: prefixes a subscriber listens to; ``(b"",)`` = everything
    subscribe_filter: Tuple[bytes, ...] = (b"",)
    receive_timeout: Optional[int] = None
    send_timeout: Optional[int] = None
    #: "drop": never block, a full subscriber misses messages; "block": wait, lose nothing
    on_hwm: str = "drop"
    connect_timeout: Optional[int] = None


STANDARD_OPTIONS = frozenset(StandardOptions.__dataclass_fields__)


def parse_standard_options(options: Mapping[str, Any]) -> StandardOptions:
    """Validate the standard keys of ``options``; other keys are left to the transport.

    :raises ConfigurationError: a standard option has the wrong type or value.
    :raises TypeError: ``options`` is not a mapping.
    """
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict, got {type(options).__name__}")
    defaults = StandardOptions()
    return StandardOptions(
        high_water_mark=_int(options, "high_water_mark", defaults.high_water_mark, minimum=0),
        linger=_int(options, "linger", defaults.linger, minimum=-1),
        subscribe_filter=_filters(options.get("subscribe_filter", b"")),
        receive_timeout=_timeout(options, "receive_timeout"),
        send_timeout=_timeout(options, "send_timeout"),
        on_hwm=_choice(options, "on_hwm", defaults.on_hwm, ON_HWM_POLICIES),
        connect_timeout=_timeout(options, "connect_timeout"),
    )


#: the largest value of a C int, which libzmq's socket options (and poll timeouts) are
INT_MAX = 2**31 - 1


def _int(options: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = options.get(key, default)
    # bool is an int subclass, but high_water_mark=True is a mistake, not a 1
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigurationError(
            f"option {key!r} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ConfigurationError(f"option {key!r} must be >= {minimum}, got {value}")
    if value > INT_MAX:
        raise ConfigurationError(f"option {key!r} must be from {minimum} to {INT_MAX}, got {value}")
    return value


def _timeout(options: Mapping[str, Any], key: str) -> Optional[int]:
    if options.get(key) is None:
        return None
    return _int(options, key, 0, minimum=0)


def _choice(options: Mapping[str, Any], key: str, default: str, allowed: Tuple[str, ...]) -> str:
    value = options.get(key, default)
    if value not in allowed:
        raise ConfigurationError(
            f"option {key!r} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        )
    return str(value)


def _filters(value: Any) -> Tuple[bytes, ...]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigurationError(
            "option 'subscribe_filter' is an empty list, which would receive nothing; "
            'use b"" to receive everything'
        )
    return tuple(dict.fromkeys(map(as_prefix, items)))


def as_prefix(value: Any) -> bytes:
    """Turn a subscription prefix (bytes or str, UTF-8 encoded) into bytes.

    :raises ConfigurationError: ``value`` is neither bytes nor str.
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ConfigurationError(
        f"a subscription prefix must be bytes or str, got {value!r} ({type(value).__name__})"
    )
