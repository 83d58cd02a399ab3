"""Certify a transport in any language: the control protocol (docs/control-protocol.md)
carries the suite's calls to a driver process, behind a proxy ``Transport``.

``--transport=exec:COMMAND`` starts ``COMMAND`` as the driver.
"""

from __future__ import annotations

import pytest

from ..harness import Target
from .driver import Driver, DriverError, Hello
from .proxy import RemoteTransport, proxy_class

__all__ = ["EXEC_PREFIX", "Driver", "DriverError", "Hello", "RemoteTransport", "proxy_class", "remote_target"]

EXEC_PREFIX = "exec:"
#: names a driver may not take (its verdict would read as theirs)
_BUILT_IN = frozenset({"unix", "zeromq", "zeromq-stream"})


def remote_target(name: str) -> Target:
    """The target of ``exec:COMMAND``: a proxy class named as the driver calls itself.

    :raises pytest.UsageError: the driver did not start, or its hello was refused.
    """
    from tea_transports import register_transport

    command = name[len(EXEC_PREFIX) :].strip()
    if not command:
        raise pytest.UsageError(f"--transport={name}: give the driver's command after {EXEC_PREFIX!r}")
    try:
        cls = proxy_class(command)
    except DriverError as exc:
        raise pytest.UsageError(f"--transport={name}: {exc}") from None
    label = cls.hello.name.replace(":", "-")
    if label in _BUILT_IN:  # the verdict would read as if the built-in one was certified
        raise pytest.UsageError(
            f"--transport={name}: the driver calls itself {label!r}, the name of a transport that comes "
            f"with tea_transports; give it a name of its own in its hello"
        )
    register_transport(label, cls, replace=True)  # so create_transport() finds it by name
    return Target(label, cls)
