"""What a scenario is, as plain data: its ID scheme, its metadata, and the values its needs
are written in.

Both the contracts (whose ``@contract`` decorator declares a scenario's metadata) and the
catalogue (which puts the declared scenarios in order) import this module; it imports
nothing of the suite, so neither of them depends on the other being imported first.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import FrozenSet, Optional, Tuple

__all__ = ["ALL_PROTOCOLS", "LEVELS", "ONCE", "ONE_TO_ONE", "PUB_SUB", "STORY", "Scenario", "full_id"]

ALL_PROTOCOLS = ("inproc", "ipc", "tcp")
STORY = "TEA-STREAM-002.2"
PUB_SUB = frozenset({"pub_sub"})
ONE_TO_ONE = frozenset({"pub_sub", "direct"})
#: ``protocols=ONCE``: the scenario runs once, protocol-independent
ONCE: Tuple[str, ...] = ()

#: the level a scenario's ID names: ``UNIT-001`` is a unit scenario, ``CONF-MODEL-001`` an
#: integration one (it runs operations against linked transports)
LEVELS = {"UNIT": "unit", "INT": "integration", "E2E": "e2e", "MODEL": "integration"}
_SHORT_ID = re.compile(r"(CONF-)?(UNIT|INT|E2E|MODEL)-\d{3}")


def full_id(short_id: str) -> str:
    """``UNIT-001`` → ``TEA-STREAM-002.2-UNIT-001`` (the story's own), ``CONF-INT-001`` →
    ``TEA-CONF-INT-001`` (beyond the story); a malformed ID raises ``ValueError``."""
    match = _SHORT_ID.fullmatch(short_id)
    if match is None:
        raise ValueError(
            f"scenario ID {short_id!r} is malformed: write UNIT-NNN, INT-NNN or E2E-NNN for one of "
            f"the story's, CONF-UNIT-NNN, CONF-INT-NNN, CONF-E2E-NNN or CONF-MODEL-NNN for one beyond it"
        )
    return f"TEA-{short_id}" if match.group(1) else f"{STORY}-{short_id}"


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
