"""Deliberately faulty transports: each breaks one contract, and the scenario meant to
catch it must fail. They are the reference with one defect each, so every other
behaviour stays correct and the failure points at the defect alone."""

from __future__ import annotations

import atexit
import dataclasses
import logging
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

import zmq
from tea_transports import TransportConfig
from tea_transports.zeromq import ZeroMQPubSubTransport
from tea_transports.zeromq.monitors import close_monitor
from tea_transports.zeromq.publisher import Publisher, Subscriptions
from tea_transports.zeromq.pubsub import PlainMode


class DropsMessage(ZeroMQPubSubTransport):
    """Silently loses every 37th message."""

    def send(self, data: Any, flags: int = 0) -> int:
        self._count = getattr(self, "_count", 0) + 1
        return len(data) if self._count % 37 == 0 else super().send(data, flags)


class Reorders(ZeroMQPubSubTransport):
    """Swaps each pair of consecutive messages."""

    def send(self, data: Any, flags: int = 0) -> int:
        held = getattr(self, "_held", None)
        if held is None:
            self._held = bytes(data)
            return len(data)
        self._held = None
        super().send(data, flags)
        super().send(held, flags)
        return len(data)


class Duplicates(ZeroMQPubSubTransport):
    """Delivers every message twice."""

    def send(self, data: Any, flags: int = 0) -> int:
        super().send(data, flags)
        return super().send(data, flags)


class IgnoresFilter(ZeroMQPubSubTransport):
    """Subscribes to everything whatever subscribe_filter says."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        self._filters = [b""]
        super()._configure(sock, role)


class CorruptsByte(ZeroMQPubSubTransport):
    """Flips one bit in the middle of every message longer than 100 bytes."""

    def send(self, data: Any, flags: int = 0) -> int:
        payload = bytearray(data)
        if len(payload) > 100:
            payload[len(payload) // 2] ^= 0x01
        super().send(bytes(payload), flags)
        return len(data)


class BlocksInDropMode(ZeroMQPubSubTransport):
    """Waits for a slow subscriber although on_hwm is "drop"."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self._block = True


class UnboundedQueue(ZeroMQPubSubTransport):
    """Ignores high_water_mark: queues without limit (SNDHWM = RCVHWM = 0)."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)


class IgnoresLinger(ZeroMQPubSubTransport):
    """Ignores linger: every socket lingers forever (LINGER -1)."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        sock.setsockopt(zmq.LINGER, -1)


class NeverWarns(ZeroMQPubSubTransport):
    """Counts high-water-mark events but never logs a warning."""

    def bind(self, address: str) -> None:
        super().bind(address)
        assert self._publisher is not None and self._publisher.warning is not None
        self._publisher.warning.record = lambda: None  # type: ignore[method-assign]


class IsConnectedLies(ZeroMQPubSubTransport):
    """Reports is_connected True whatever the state."""

    @property
    def is_connected(self) -> bool:
        return True

    def __del__(self) -> None:  # it would warn on every instance
        pass


_leaked: List[Tuple[Any, ...]] = []


@atexit.register
def close_leaked() -> None:
    """Close what CloseLeaks forgot, once the suite has counted it: after each self-test
    (tests/conformance/conftest.py), so a worker does not pile them up, and at exit,
    before the reference's own exit hook ends the context (or pyzmq prints a
    ResourceWarning traceback for each). The monitor's events stop before its reader
    closes: the other way round, a peer leaving meanwhile blocks libzmq's I/O thread, and
    every later tcp and ipc case of the worker fails (tea_transports.zeromq.monitors)."""
    while _leaked:
        sock, wake, monitor = _leaked.pop()
        close_monitor(sock, monitor)
        sock.close(linger=0)
        wake.close()


class CloseLeaks(ZeroMQPubSubTransport):
    """close() forgets the socket without closing it."""

    def close(self) -> None:
        # the role's monitor socket too: each holds a descriptor until it is closed
        part = self._publisher or self._subscriber
        if self._socket is not None:
            _leaked.append((self._socket, self._wake, None if part is None else part.monitor))
        if part is not None:
            part.monitor = None
        self._socket = self._wake = None
        self._closed = True


class WorksAfterClose(ZeroMQPubSubTransport):
    """send() after close() pretends to succeed."""

    def send(self, data: Any, flags: int = 0) -> int:
        if self._closed:
            return len(data)
        return super().send(data, flags)


class _DropsForEveryonePublisher(Publisher):
    def send_full(self, sock: zmq.Socket[Any], data: bytes, noblock: bool) -> None:
        if self.block:
            return super().send_full(sock, data, noblock)
        self.hwm_reached += 1  # counted and warned about, as the reference does; but not resent
        assert self.warning is not None
        self.warning.record()
        return None


class _DropsForEveryoneMode(PlainMode):
    def publisher(self, transport: ZeroMQPubSubTransport) -> Publisher:
        return _DropsForEveryonePublisher(transport)


class DropsForEveryone(ZeroMQPubSubTransport):
    """When any subscriber's queue is full, drops the message for every subscriber."""

    def _new_mode(self) -> PlainMode:
        return _DropsForEveryoneMode(self)


class HwmFloor1000(ZeroMQPubSubTransport):
    """Treats any high_water_mark below 1000 as 1000."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        sock.setsockopt(zmq.SNDHWM, max(1000, self.options.high_water_mark))
        sock.setsockopt(zmq.RCVHWM, max(1000, self.options.high_water_mark))


class WarnsAtBind(NeverWarns):
    """Logs a WARNING naming the endpoint at bind(), and none when a subscriber is full."""

    def bind(self, address: str) -> None:
        super().bind(address)
        logging.getLogger("tea_transports.zeromq").warning(
            "publisher on %s may get slow subscribers", self.endpoint
        )


class LingersForever(ZeroMQPubSubTransport):
    """Lingers forever whatever linger says, at close() too (IgnoresLinger only sets the option)."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self.options = dataclasses.replace(self.options, linger=-1)


class DefaultHwm100(ZeroMQPubSubTransport):
    """Uses a high water mark of 100 when the option is not given (the contract says 1000)."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        if "high_water_mark" not in self.config.options:
            sock.setsockopt(zmq.SNDHWM, 100)
            sock.setsockopt(zmq.RCVHWM, 100)


class CountsWithoutWaiting(ZeroMQPubSubTransport):
    """wait_for_subscribers() says yes at once, before any subscription has arrived."""

    def wait_for_subscribers(self, count: int = 1, timeout: Optional[float] = None) -> int:
        return count


class _CountNeverFallsPublisher(Publisher):
    def drain(self, sock: Any, most: int = 256) -> None:
        assert isinstance(self.notes, Subscriptions)
        before = Counter(self.notes.counts)
        super().drain(sock, most)
        self.notes.counts |= before
        self.peers = None


class _CountNeverFallsMode(PlainMode):
    def publisher(self, transport: ZeroMQPubSubTransport) -> Publisher:
        return _CountNeverFallsPublisher(transport)


class CountNeverFalls(ZeroMQPubSubTransport):
    """Counts subscribers in but never out (as the reference did for a duplicate prefix)."""

    def _new_mode(self) -> PlainMode:
        return _CountNeverFallsMode(self)


class ReceiveTimeoutTimesTen(ZeroMQPubSubTransport):
    """Waits ten times receive_timeout before it times out."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        timeout = self.options.receive_timeout
        self.options = dataclasses.replace(self.options, receive_timeout=timeout and timeout * 10)


class ReceiveTimeoutInstant(ZeroMQPubSubTransport):
    """Gives up after a millisecond, whatever receive_timeout says."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        timeout = self.options.receive_timeout
        self.options = dataclasses.replace(self.options, receive_timeout=timeout and 1)


class DropsOneIn10000(ZeroMQPubSubTransport):
    """Silently drops every 10,000th message (too rare for short scenarios to see)."""

    def send(self, data: Any, flags: int = 0) -> int:
        self._drop_count = getattr(self, "_drop_count", 0) + 1
        if not self._drop_count % 10_000:
            return len(data)
        return super().send(data, flags)


class NoblockBatchWaits(ZeroMQPubSubTransport):
    """receive_many(flags=NOBLOCK) waits receive_timeout for a message when nothing is queued."""

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        return super().receive_many(max_messages, 0)


class NoblockSendBlocks(ZeroMQPubSubTransport):
    """send(flags=NOBLOCK) in block mode waits for room (up to send_timeout) like a plain send."""

    def send(self, data: Any, flags: int = 0) -> int:
        return super().send(data, 0)


class ClampsHwmSilently(ZeroMQPubSubTransport):
    """Declares max_high_water_mark=8192, then takes a deeper mark as 8192 instead of refusing it."""

    capabilities = dataclasses.replace(ZeroMQPubSubTransport.capabilities, max_high_water_mark=8192)

    def __init__(self, config: TransportConfig) -> None:
        options = dict(config.options)
        options["high_water_mark"] = min(8192, options.get("high_water_mark", 1000))
        super().__init__(dataclasses.replace(config, options=options))


class SubscriptionsWithinMark(ZeroMQPubSubTransport):
    """A subscriber's send mark is high_water_mark: libzmq silently drops the subscriptions
    that do not fit in it (a filter beyond the mark never delivers)."""

    def _configure(self, sock: zmq.Socket[Any], role: str) -> None:
        super()._configure(sock, role)
        if role == "subscriber":
            sock.setsockopt(zmq.SNDHWM, self.options.high_water_mark)


#: faulty transport -> the scenario meant to catch it
CAUGHT_BY: Dict[str, str] = {
    "DropsMessage": "TEA-STREAM-002.2-INT-002",
    "Reorders": "TEA-STREAM-002.2-INT-004",
    "Duplicates": "TEA-STREAM-002.2-INT-002",
    "IgnoresFilter": "TEA-STREAM-002.2-UNIT-010",
    "CorruptsByte": "TEA-CONF-INT-002",
    "BlocksInDropMode": "TEA-CONF-INT-005",
    "UnboundedQueue": "TEA-STREAM-002.2-INT-008",
    "IgnoresLinger": "TEA-STREAM-002.2-UNIT-013",
    "NeverWarns": "TEA-STREAM-002.2-UNIT-015",
    "IsConnectedLies": "TEA-CONF-UNIT-003",
    "CloseLeaks": "TEA-CONF-UNIT-009",
    "WorksAfterClose": "TEA-CONF-UNIT-005",
    "DropsForEveryone": "TEA-CONF-INT-010",
    "HwmFloor1000": "TEA-STREAM-002.2-INT-008",
    "WarnsAtBind": "TEA-STREAM-002.2-UNIT-015",
    "LingersForever": "TEA-CONF-INT-011",
    "DefaultHwm100": "TEA-CONF-UNIT-011",
    "CountsWithoutWaiting": "TEA-CONF-INT-014",
    "CountNeverFalls": "TEA-CONF-INT-014",
    "ReceiveTimeoutTimesTen": "TEA-CONF-UNIT-007",
    "ReceiveTimeoutInstant": "TEA-CONF-UNIT-007",
    "DropsOneIn10000": "TEA-CONF-INT-015",
    "NoblockBatchWaits": "TEA-CONF-UNIT-007",
    "NoblockSendBlocks": "TEA-CONF-INT-006",
    "ClampsHwmSilently": "TEA-CONF-INT-015",
    "SubscriptionsWithinMark": "TEA-CONF-INT-018",
}
