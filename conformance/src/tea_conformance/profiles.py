"""The core profile of each pattern: what a transport of that pattern cannot opt out of.

A scenario that needs a feature the transport does not declare is normally *not
applicable*; but a feature in its pattern's core profile is required, so its scenarios
run whatever the transport declares, and a transport that does not declare it is NOT
CERTIFIED, with the missing capability named. The verdict names the profile, the
protocols and the extra features it certifies, e.g.
``CERTIFIED — pub_sub core + lossless, stats; inproc, ipc, tcp``.

pub_sub (story TEA-STREAM-002.2): fan-out (AC3), per-subscriber order (AC3), prefix
filtering (AC4), bounded queues (AC5: ``high_water_mark``), slow-subscriber isolation
(a full queue costs only its own subscriber), close with ``linger`` (AC9), over at
least one of the story's protocols. Without any of them the story cannot be built on it.

direct (story TEA-STREAM-002.1, the pipe): one producer, one consumer, whole messages in
order, the lifecycle and error contract, over at least one protocol. It has no options
of its own to honour, so no feature is core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Type

from tea_transports import Feature, Transport

__all__ = ["PROFILES", "STORY_PROTOCOLS", "Profile", "profile_for"]

STORY_PROTOCOLS = frozenset({"inproc", "ipc", "tcp"})


@dataclass(frozen=True)
class Profile:
    pattern: str
    #: features every transport of the pattern must declare (and honour)
    features: FrozenSet[str]
    #: a transport must declare at least one of these protocols
    protocols: FrozenSet[str] = STORY_PROTOCOLS

    @property
    def name(self) -> str:
        return f"{self.pattern} core"

    def missing(self, cls: Type[Transport]) -> List[str]:
        """What ``cls`` lacks of this profile, in words; empty if it has it all."""
        caps = cls.capabilities
        gaps = [f"feature {f!r}" for f in sorted(self.features - caps.features)]
        if not caps.protocols & self.protocols:
            among = ", ".join(sorted(self.protocols))
            gaps.append(f"a protocol among {among} (it declares none on this platform)")
        return gaps

    def extras(self, cls: Type[Transport]) -> List[str]:
        """The declared features beyond the profile, sorted."""
        return sorted(cls.capabilities.features - self.features)


PROFILES: Dict[str, Profile] = {
    "pub_sub": Profile("pub_sub", frozenset({Feature.FILTERING, Feature.HIGH_WATER_MARK, Feature.LINGER})),
    "direct": Profile("direct", frozenset()),
}


def profile_for(cls: Type[Transport]) -> Optional[Profile]:
    """The profile a transport is certified against: pub_sub where declared, else direct."""
    for pattern in ("pub_sub", "direct"):
        if pattern in cls.capabilities.patterns:
            return PROFILES[pattern]
    return None
