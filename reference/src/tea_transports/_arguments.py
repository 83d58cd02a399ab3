"""Checks of call arguments shared by the transports, done before any I/O."""

from __future__ import annotations

from typing import Any, Optional

from .base import NOBLOCK
from .errors import ConfigurationError


def check_payload(data: Any) -> bytes:
    """Return ``data`` as bytes (copying a bytearray or memoryview).

    :raises TypeError: ``data`` is not bytes-like, or is a released memoryview.
    """
    if type(data) is bytes:  # the common case, checked first and cheaply
        return data
    if isinstance(data, (bytearray, memoryview)):
        try:
            return bytes(data)
        except ValueError as exc:
            raise TypeError(f"cannot send a released memoryview: {exc}") from None
    if isinstance(data, bytes):  # a subclass
        return bytes(data)
    hint = "; encode text first, e.g. text.encode()" if isinstance(data, str) else ""
    raise TypeError(f"data must be bytes-like, got {type(data).__name__}{hint}")


def check_flags(flags: Any) -> bool:
    """Return whether ``flags`` asks for a non-blocking call.

    :raises TypeError: ``flags`` is not an int.
    :raises ConfigurationError: ``flags`` has a bit other than ``NOBLOCK``.
    """
    if flags == 0 and type(flags) is int:
        return False
    if not isinstance(flags, int) or isinstance(flags, bool):
        raise TypeError(f"flags must be an int, got {type(flags).__name__}")
    if flags & ~NOBLOCK:
        raise ConfigurationError(f"unsupported flags {flags:#x}: only NOBLOCK ({NOBLOCK}) is")
    return True


def deadline_seconds(timeout_ms: Optional[int]) -> Optional[float]:
    """Turn an option in milliseconds into seconds; None stays None (no limit)."""
    return None if timeout_ms is None else timeout_ms / 1000.0


def check_wait(count: Any, timeout: Any) -> None:
    """The arguments of ``wait_for_subscribers()``.

    :raises TypeError: ``count`` is not an int >= 0, or ``timeout`` neither None nor seconds >= 0.
    """
    if type(count) is not int or count < 0:
        raise TypeError(f"count must be an int >= 0, got {count!r}")
    if timeout is not None and (type(timeout) not in (int, float) or not timeout >= 0):
        raise TypeError(f"timeout must be None (no limit) or seconds >= 0, got {timeout!r}")
