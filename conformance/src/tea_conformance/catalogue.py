"""Every scenario of the suite: its stable ID, acceptance criterion, level, priority and needs.

IDs ``TEA-STREAM-002.2-*`` are the story's test design, unchanged; ``TEA-CONF-*`` are
contracts beyond the story. A scenario that needs what a transport does not declare is
*not applicable* to it; a scenario for another platform is *not applicable on this
platform*. ``grade`` follows ZeroMQ RFC 29: "SHALL" behaviour every PUB/SUB must have,
"SHOULD" behaviour it is recommended to have (e.g. reconnection).

Bounded queues (INT-008) are SHALL, not SHOULD: AC5 is the story's memory promise — a
stalled subscriber must cost bounded memory — and RFC 29 itself requires a publisher to
drop (never queue without limit) when a subscriber's queue is full. A transport with
unbounded queues would pass every other scenario and then exhaust memory in production,
so it is not certified.

A feature in the pattern's core profile (``profiles.py``) is required: its scenarios run
whether or not the transport declares it. Counters of ``get_stats()`` are observed where
the scenario says: traffic counters on the side that sent or received (CONF-INT-013),
the high-water-mark counter on the publisher *or* the stalled subscriber (INT-011),
since a transport may keep its queues on either side.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Optional, Tuple

__all__ = ["ALL_PROTOCOLS", "CATALOGUE", "STORY", "Scenario", "by_id"]

ALL_PROTOCOLS = ("inproc", "ipc", "tcp")
STORY = "TEA-STREAM-002.2"
PUB_SUB = frozenset({"pub_sub"})
ONE_TO_ONE = frozenset({"pub_sub", "direct"})


@dataclass(frozen=True)
class Scenario:
    """One contract of the suite."""

    id: str
    ac: str  # "AC1".."AC10", "risk", or a family name for TEA-CONF scenarios
    level: str  # "unit" | "integration" | "e2e"
    priority: str  # "P0".."P3"
    title: str
    #: patterns the scenario can run in; the transport needs one of them
    patterns: FrozenSet[str] = PUB_SUB
    #: Feature names the transport must declare
    features: FrozenSet[str] = frozenset()
    #: protocols it runs on (None: every protocol; ``()``: once, protocol-independent)
    protocols: Optional[Tuple[str, ...]] = None
    #: needs a second process (so not inproc)
    cross_process: bool = False
    #: ``sys.platform`` prefixes it applies to (None: every platform)
    platforms: Optional[Tuple[str, ...]] = None
    grade: str = "SHALL"
    #: checks ZeroMQ socket internals; ``twin`` names the behavioural scenario any transport runs
    reference_only: bool = False
    twin: Optional[str] = None
    markers: Tuple[str, ...] = field(default=(), compare=False)

    @property
    def short_id(self) -> str:
        return self.id.split("-", 3)[-1] if self.id.startswith(STORY) else self.id

    def platform_applies(self, platform: str = sys.platform) -> bool:
        return self.platforms is None or platform.startswith(self.platforms)


def _s(short: str, ac: str, level: str, priority: str, title: str, **kw: object) -> Scenario:
    prefix = STORY if not short.startswith("CONF") else "TEA"
    return Scenario(f"{prefix}-{short}", ac, level, priority, title, **kw)  # type: ignore[arg-type]


_ONCE: Tuple[str, ...] = ()

# one scenario a line, like the story's table
# fmt: off
CATALOGUE: Tuple[Scenario, ...] = (
    _s("UNIT-001", "AC1", "unit", "P0", "the transport is a Transport", patterns=ONE_TO_ONE, protocols=_ONCE),
    _s("UNIT-002", "AC1", "unit", "P0", "every abstract member is implemented", patterns=ONE_TO_ONE, protocols=_ONCE),
    _s("UNIT-003", "AC1", "unit", "P1", "constructed from a TransportConfig with pattern pub_sub", protocols=_ONCE),
    _s("UNIT-004", "AC1", "unit", "P1", "the factory returns it for its name and pub_sub", protocols=_ONCE),
    _s("UNIT-005", "AC2", "unit", "P0", "bind() makes a publishing ZeroMQ socket (PUB/XPUB)", reference_only=True, twin="TEA-CONF-UNIT-001"),
    _s("UNIT-006", "AC2", "unit", "P0", "connect() makes a SUB socket", reference_only=True, twin="TEA-CONF-UNIT-002"),
    _s("UNIT-007", "AC2", "unit", "P1", "bind() on an invalid address raises TransportError", patterns=ONE_TO_ONE, protocols=_ONCE),
    _s("UNIT-008", "AC2", "unit", "P1", "connect() on an invalid address raises TransportError", patterns=ONE_TO_ONE, protocols=_ONCE),
    _s("INT-001", "AC2", "integration", "P1", "bind then connect gives a working link", patterns=ONE_TO_ONE),
    _s("INT-002", "AC3", "integration", "P0", "1 publisher, 1 subscriber: all 100 messages arrive", patterns=ONE_TO_ONE),
    _s("INT-003", "AC3", "integration", "P0", "1 publisher, 3 subscribers: each gets all 100"),
    _s("INT-004", "AC3", "integration", "P1", "order is preserved per subscriber", patterns=ONE_TO_ONE),
    _s("INT-005", "AC3", "integration", "P1", "a late subscriber gets only messages sent after it joined"),
    _s("E2E-001", "AC3", "e2e", "P0", "fan-out to 5 subscribers in 5 separate processes", cross_process=True),
    _s("UNIT-009", "AC4", "unit", "P1", "an empty filter receives everything", features=frozenset({"filtering"})),
    _s("UNIT-010", "AC4", "unit", "P1", "a prefix filter receives only matching messages", features=frozenset({"filtering"})),
    _s("INT-006", "AC4", "integration", "P1", "a subscriber filtering 'metrics' gets only metrics messages", features=frozenset({"filtering"})),
    _s("INT-007", "AC4", "integration", "P2", "the filter can change after connect", features=frozenset({"filtering"})),
    _s("UNIT-011", "AC5", "unit", "P0", "high_water_mark sets SNDHWM on the publisher", protocols=_ONCE, reference_only=True, twin="TEA-STREAM-002.2-INT-008"),
    _s("UNIT-012", "AC5", "unit", "P0", "high_water_mark sets RCVHWM on the subscriber (with what it reads ahead, if it does)", protocols=_ONCE, reference_only=True, twin="TEA-STREAM-002.2-INT-008"),
    _s("INT-008", "AC5", "integration", "P2", "a stalled subscriber's backlog stays bounded by the high water mark", features=frozenset({"high_water_mark"})),
    _s("INT-009", "AC6", "integration", "P0", "ipc works on Linux and macOS", patterns=ONE_TO_ONE, protocols=("ipc",), platforms=("linux", "darwin")),
    _s("E2E-002", "AC6", "e2e", "P1", "a full ipc workflow across processes on Linux and macOS", protocols=("ipc",), cross_process=True, platforms=("linux", "darwin")),
    _s("INT-010", "AC7", "integration", "P0", "inproc works between threads of one process (the Windows local path)", protocols=("inproc",)),
    _s("E2E-003", "AC8", "e2e", "P1", "tcp to 127.0.0.1 works end to end across processes", protocols=("tcp",), cross_process=True),
    _s("UNIT-013", "AC9", "unit", "P2", "linger sets LINGER from options", protocols=_ONCE, reference_only=True, twin="TEA-CONF-INT-008"),
    _s("UNIT-014", "AC9", "unit", "P3", "LINGER defaults to 1000 ms", protocols=_ONCE, reference_only=True, twin="TEA-CONF-UNIT-011"),
    _s("UNIT-015", "AC10", "unit", "P2", "a WARNING is logged when a subscriber reaches the high water mark, on any logger (propagating or not): none before (at bind, connect, or a send with room), its text contains str(publisher.endpoint), and at most 100 for one stall of 5,000 messages (rate limited)", features=frozenset({"slow_subscriber_warning"}), protocols=("inproc", "ipc", "tcp")),
    _s("INT-011", "AC10", "integration", "P3", "get_stats() reports traffic, subscriptions and high-water-mark events", features=frozenset({"high_water_mark", "stats"})),
    _s("UNIT-016", "risk", "unit", "P0", "a failure during bind/send/receive leaves no descriptor open", patterns=ONE_TO_ONE, platforms=("linux", "darwin")),
    _s("UNIT-017", "risk", "unit", "P1", "one ZeroMQ context is shared across instances", protocols=_ONCE, reference_only=True, twin="TEA-STREAM-002.2-INT-010"),
    _s("CONF-UNIT-001", "roles", "unit", "P0", "after bind() the transport sends and refuses to receive", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-002", "roles", "unit", "P0", "after connect() the transport receives and refuses to send", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-003", "lifecycle", "unit", "P0", "is_connected goes False, True, False", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-004", "lifecycle", "unit", "P0", "close() is idempotent", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-005", "lifecycle", "unit", "P0", "every operation after close() raises TransportClosedError", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-006", "lifecycle", "unit", "P1", "the context manager closes on an exception", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-007", "lifecycle", "unit", "P1", "receive() times out with TransportTimeoutError after about receive_timeout; with NOBLOCK, receive() and receive_many() raise it at once, even with receive_timeout=None", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-008", "lifecycle", "unit", "P1", "binding an address in use raises AddressInUseError", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-009", "lifecycle", "unit", "P1", "no descriptor leaks over 100 open/close cycles", patterns=ONE_TO_ONE, platforms=("linux", "darwin")),
    _s("CONF-UNIT-010", "lifecycle", "unit", "P1", "bad payloads raise TypeError and leave the transport usable", patterns=ONE_TO_ONE),
    _s("CONF-UNIT-011", "lifecycle", "unit", "P3", "standard options default as documented, observed through behaviour (hwm 1000, linger > 0)", patterns=ONE_TO_ONE, protocols=_ONCE),
    _s("CONF-INT-001", "lifecycle", "integration", "P0", "close() from another thread ends a blocked receive, in a process a crash cannot take down", patterns=ONE_TO_ONE),
    _s("CONF-INT-002", "delivery", "integration", "P0", "payloads arrive intact: empty, every byte value, 1 MiB", patterns=ONE_TO_ONE),
    _s("CONF-INT-003", "delivery", "integration", "P1", "several filters, then unsubscribe one", features=frozenset({"filtering"})),
    _s("CONF-INT-004", "delivery", "integration", "P1", "no cross-talk between two publishers", patterns=ONE_TO_ONE),
    _s("CONF-INT-005", "delivery", "integration", "P0", "the publisher never blocks in drop mode", features=frozenset({"high_water_mark"})),
    _s("CONF-INT-006", "delivery", "integration", "P1", "block mode loses nothing with a slow subscriber: send() waits for room, and send(NOBLOCK) raises TransportTimeoutError at once when a queue is full", features=frozenset({"lossless"})),
    _s("CONF-INT-007", "delivery", "integration", "P2", "subscribers survive a publisher restart", features=frozenset({"reconnect"}), protocols=("ipc", "tcp"), grade="SHOULD"),
    _s("CONF-INT-008", "delivery", "integration", "P2", "with linger, messages sent just before close() arrive", features=frozenset({"linger"}), protocols=("ipc", "tcp")),
    _s("CONF-INT-009", "delivery", "integration", "P2", "send_many() and receive_many() deliver in order, whole", patterns=ONE_TO_ONE),
    _s("CONF-E2E-001", "AC7", "e2e", "P0", "a subscriber in another process over tcp://127.0.0.1 (the Windows path)", protocols=("tcp",), cross_process=True),
    _s("CONF-INT-010", "delivery", "integration", "P0", "one stalled subscriber does not starve the others (drop mode)", features=frozenset({"high_water_mark"})),
    _s("CONF-INT-011", "AC9", "integration", "P1", "linger=0: close() discards what is queued and the process exits at once", features=frozenset({"linger"}), protocols=("ipc", "tcp"), cross_process=True),
    _s("CONF-INT-012", "AC9", "integration", "P1", "with linger, messages sent just before close() arrive though the publishing process exits right after", features=frozenset({"linger"}), protocols=("ipc", "tcp"), cross_process=True),
    _s("CONF-INT-013", "AC10", "integration", "P2", "get_stats() counts traffic on the side that sent and the side that received", patterns=ONE_TO_ONE, features=frozenset({"stats"})),
    _s("CONF-INT-014", "AC3", "integration", "P1", "wait_for_subscribers() counts subscribers in and out, and what follows it arrives", features=frozenset({"subscriber_count"})),
    _s("CONF-INT-015", "delivery", "integration", "P1", "a long stream far below the high water mark loses nothing, in drop mode too (the mark stays within a declared max_high_water_mark, and one above it is refused with ConfigurationError)", patterns=ONE_TO_ONE),
    _s("CONF-INT-016", "joining", "integration", "P1", "a subscriber that subscribes while its own queue is full gets every later message for the new prefix once it has caught up", features=frozenset({"filtering", "high_water_mark", "subscriber_count"})),
    _s("CONF-INT-017", "joining", "integration", "P1", "a subscriber in another process subscribes; what is sent once wait_for_subscribers() counts it all arrives", features=frozenset({"filtering", "subscriber_count"}), cross_process=True),
    _s("CONF-INT-018", "joining", "integration", "P1", "a subscriber with more filters than half the high water mark (600 at the default 1,000) gets messages for each", features=frozenset({"filtering"})),
    _s("CONF-INT-019", "joining", "integration", "P1", "with max_message_size on both ends, messages far below it all arrive", features=frozenset({"max_message_size"})),
    _s("CONF-INT-020", "joining", "integration", "P1", "a publisher restarted under a subscriber: nothing from before it counts the subscriber, no gap after", features=frozenset({"reconnect", "subscriber_count"}), protocols=("ipc", "tcp")),
    _s("CONF-UNIT-012", "lifecycle", "unit", "P1", "a standard option for an undeclared feature is refused, never silently ignored", protocols=_ONCE),
    _s("CONF-MODEL-001", "model", "integration", "P0", "any sequence of operations agrees with the PUB/SUB model (drop mode; rules follow the declared features)", patterns=ONE_TO_ONE),
    _s("CONF-MODEL-002", "model", "integration", "P1", "any sequence of operations in block mode agrees with the model: nothing is lost", features=frozenset({"lossless"})),
)
# fmt: on

_BY_ID: Dict[str, Scenario] = {s.id: s for s in CATALOGUE}


def by_id(scenario_id: str) -> Scenario:
    """Look a scenario up by its full ID."""
    return _BY_ID[scenario_id]
