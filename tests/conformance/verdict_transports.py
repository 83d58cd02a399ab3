"""Transports whose verdict, not one scenario, is under test: what they declare, how they
misbehave towards the suite itself (skips, crashes, hangs), and correct ones the suite
must not blame. Most are the reference with one change, so the verdict is about it alone."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from typing import Any

import pytest
import zmq
from tea_transports import Capabilities, ConfigurationError, Feature, TransportConfig
from tea_transports.zeromq import ZeroMQPubSubTransport

_REFERENCE = ZeroMQPubSubTransport.capabilities


class DeclaresNothing(ZeroMQPubSubTransport):
    """pub_sub with no protocols and no features declared."""

    capabilities = Capabilities(patterns=frozenset({"pub_sub"}), protocols=frozenset())


class QueuesAtMost8192(ZeroMQPubSubTransport):
    """The reference, declaring that its queues hold at most 8,192 messages (as nng's do):
    it refuses a deeper high_water_mark, and the suite must not fail it for that."""

    capabilities = dataclasses.replace(_REFERENCE, max_high_water_mark=8192)


class TcpOnly(ZeroMQPubSubTransport):
    """The reference, declaring tcp only: certified for tcp, and the verdict says so."""

    capabilities = Capabilities(_REFERENCE.patterns, frozenset({"tcp"}), _REFERENCE.features)


class RefusesUndeclaredProtocol(TcpOnly):
    """Declares tcp only and refuses any other protocol at construction."""

    def __init__(self, config: TransportConfig) -> None:
        if config.protocol != "tcp":
            raise ConfigurationError(f"RefusesUndeclaredProtocol speaks tcp only, not {config.protocol!r}")
        super().__init__(config)


class SilentlyUnfiltered(ZeroMQPubSubTransport):
    """Does not declare filtering, accepts subscribe_filter, and ignores it."""

    capabilities = Capabilities(
        _REFERENCE.patterns, _REFERENCE.protocols, _REFERENCE.features - {Feature.FILTERING}
    )

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        self._filters = [b""]
        super()._configure(sock, role)


class FewFeaturesInproc(ZeroMQPubSubTransport):
    """Like the third-party in-process transport: inproc only, stats only."""

    capabilities = Capabilities(_REFERENCE.patterns, frozenset({"inproc"}), frozenset({Feature.STATS}))


class SkipsInSend(ZeroMQPubSubTransport):
    """Raises pytest's skip exception, worded as the suite's, from inside send()."""

    def send(self, data: Any, flags: int = 0) -> int:
        raise pytest.skip.Exception("not applicable: this transport would rather not send")


class AbortsOnBigPayload(ZeroMQPubSubTransport):
    """Aborts the whole process when asked to send 1 MiB (as a C extension's assertion would)."""

    def send(self, data: Any, flags: int = 0) -> int:
        if len(data) == 1 << 20:
            os.abort()
        return super().send(data, flags)


class HangsInReceive(ZeroMQPubSubTransport):
    """receive() blocks for an hour whatever receive_timeout says, and close() does not wake it."""

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        threading.Event().wait(3600)
        raise AssertionError("unreachable")


_quiet = logging.getLogger("verdict_transports.quiet")
_quiet.propagate = False  # its records never reach the root logger


class QuietLogger(ZeroMQPubSubTransport):
    """Correct, but warns about slow subscribers on a logger that does not propagate."""

    def bind(self, address: str) -> None:
        super().bind(address)
        assert self._publisher is not None and self._publisher.warning is not None
        warning = self._publisher.warning

        def record() -> None:
            if warning.total == 0:
                _quiet.warning("slow subscriber on %s: queue full", self.endpoint)
            warning.total += 1

        warning.record = record  # type: ignore[method-assign]


class RaisesInConstructor(ZeroMQPubSubTransport):
    """Every construction fails."""

    def __init__(self, config: TransportConfig) -> None:
        raise RuntimeError("RaisesInConstructor cannot be built")


class HangsInClose(ZeroMQPubSubTransport):
    """A subscriber's close() never returns (well, not for a minute)."""

    def close(self) -> None:
        if self._role == "subscriber":
            threading.Event().wait(60)
        super().close()
