"""The verdict of a run for one transport, what it certifies, and the exit code it gives.

Exit codes (the run exits with the worst verdict among its transports; pytest's own
codes are kept for interruptions, internal and usage errors, and ``--collect-only``):

====  ===========================  ==========================================================
code  verdict                      meaning
====  ===========================  ==========================================================
0     CERTIFIED                    every applicable scenario passed; the core profile is met
1     NOT CERTIFIED                a SHALL scenario failed, or a core capability is missing
10    CERTIFIED WITH DEVIATIONS    only SHOULD scenarios failed
11    INCOMPLETE                   part of the catalogue did not run (``-k``, ``--protocol``)
12    NO CERTIFICATION             no scenario ran at all
====  ===========================  ==========================================================

0 is given to CERTIFIED only, so ``tox -e certify`` and CI gate on the exit code alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Dict, List, Sequence, Set, Type

from tea_transports import Transport

from .catalogue import by_id
from .profiles import STORY_PROTOCOLS, profile_for

__all__ = ["EXIT_CODES", "SEVERITY", "Certified", "Status", "Verdict", "judge", "worst_exit_code"]


class Status(str, Enum):
    """A verdict's status: what every report shows and colours, and what sets the exit code.

    A ``str`` so that it is its own words in JSON and comparisons; never read back out of
    the verdict's text.
    """

    CERTIFIED = "CERTIFIED"
    NOT_CERTIFIED = "NOT CERTIFIED"
    DEVIATIONS = "CERTIFIED WITH DEVIATIONS"
    INCOMPLETE = "INCOMPLETE"
    NONE = "NO CERTIFICATION"

    def __str__(self) -> str:  # the words, on every Python (format() follows str() from 3.12)
        return self.value

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]

    @property
    def tone(self) -> str:
        """``good`` | ``warn`` | ``bad`` | ``none``: the colour family reports draw it in."""
        return _TONES[self]


CERTIFIED, NOT_CERTIFIED, DEVIATIONS = Status.CERTIFIED, Status.NOT_CERTIFIED, Status.DEVIATIONS
INCOMPLETE, NONE = Status.INCOMPLETE, Status.NONE

EXIT_CODES: Dict[Status, int] = {CERTIFIED: 0, NOT_CERTIFIED: 1, DEVIATIONS: 10, INCOMPLETE: 11, NONE: 12}
_TONES = {CERTIFIED: "good", DEVIATIONS: "warn", NOT_CERTIFIED: "bad", INCOMPLETE: "none", NONE: "none"}
#: the worse verdict wins when several transports run together
SEVERITY = (CERTIFIED, DEVIATIONS, INCOMPLETE, NONE, NOT_CERTIFIED)


@dataclass(frozen=True)
class Certified:
    """What a verdict covers: pattern, profile, protocols and the features beyond the profile."""

    pattern: str
    profile: str
    protocols: List[str]
    features: List[str]
    #: capabilities of the core profile the transport lacks (each makes it NOT CERTIFIED)
    missing: List[str]

    def describe(self) -> str:
        extras = f" + {', '.join(self.features)}" if self.features else ""
        return f"{self.profile}{extras}; {', '.join(self.protocols) or 'no protocol'}"


@dataclass(frozen=True)
class Verdict:
    status: Status
    line: str  # the whole verdict, as printed and reported
    certified: Certified

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


def scope_of(cls: Type[Transport], protocols: Sequence[str]) -> Certified:
    profile = profile_for(cls)
    caps = cls.capabilities
    declared = [p for p in sorted(caps.protocols & STORY_PROTOCOLS) if p in protocols]
    if profile is None:
        return Certified(
            "none", "no profile", declared, sorted(caps.features),
            [f"a pattern the suite certifies (pub_sub or direct); it declares {sorted(caps.patterns)}"],
        )  # fmt: skip
    return Certified(profile.pattern, profile.name, declared, profile.extras(cls), profile.missing(cls))


def judge(
    cls: Type[Transport],
    outcomes: Sequence[tuple[str, str]],
    expected: int,
    catalogue_ids: Set[str],
    protocols: Sequence[str],
    full_protocols: bool,
) -> Verdict:
    """The verdict from ``outcomes`` ((scenario ID, outcome) per case seen)."""
    scope = scope_of(cls, protocols)
    failed = [sid for sid, outcome in outcomes if outcome == "failed"]
    shall = sorted({sid for sid in failed if by_id(sid).grade == "SHALL"})
    should = sorted({sid for sid in failed if by_id(sid).grade == "SHOULD"})
    accounted = sum(1 for _, outcome in outcomes if outcome in ("passed", "failed", "not applicable"))
    unseen = catalogue_ids - {sid for sid, outcome in outcomes if outcome != "not run"}
    what = scope.describe()
    if scope.missing or shall:
        reasons = []
        if scope.missing:
            reasons.append(f"{scope.profile} needs {', '.join(scope.missing)}")
        if shall:
            reasons.append(f"{len(shall)} SHALL scenario(s) failed: {', '.join(shall)}")
        return Verdict(NOT_CERTIFIED, f"{NOT_CERTIFIED} — {'; '.join(reasons)}", scope)
    if accounted == 0:
        return Verdict(NONE, f"{NONE}: no scenario ran", scope)
    if accounted < expected or unseen or not full_protocols:
        line = (
            f"{INCOMPLETE}: {accounted} of {expected} case(s) accounted for"
            + (f"; {len(unseen)} scenario(s) not run" if unseen else "")
            + ("; protocols narrowed" if not full_protocols else "")
            + " — a certification needs the whole catalogue"
        )
        return Verdict(INCOMPLETE, line, scope)
    if should:
        line = f"{DEVIATIONS} — {what}: SHOULD scenario(s) failed: {', '.join(should)}"
        return Verdict(DEVIATIONS, line, scope)
    return Verdict(CERTIFIED, f"{CERTIFIED} — {what}", scope)


def worst_exit_code(statuses: Sequence[Status]) -> int:
    """The exit code of the worst of ``statuses`` (0 if there are none)."""
    if not statuses:
        return 0
    return max(statuses, key=SEVERITY.index).exit_code
