"""Every scenario of the suite, in order: what the ``@contract`` decorators declare, in the
order :data:`ORDER` gives.

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

Each scenario's metadata is declared once, by the decorator of the contract that checks
it (``contracts/*.py``). The catalogue is built from those declarations on first use, so
that importing this module (as every spawned child process does, through the package)
stays as cheap as before: the contracts import Hypothesis. Its order is :data:`ORDER`,
never the order the contract modules happen to be imported in: reports, listings and the
catalogue digest depend on it.
"""

from __future__ import annotations

from functools import cache
from typing import Dict, Iterable, Sequence, Tuple

from .scenario import ALL_PROTOCOLS, STORY, Scenario, full_id

__all__ = ["ALL_PROTOCOLS", "CATALOGUE", "ORDER", "STORY", "Scenario", "build", "by_id"]

#: the catalogue's order, by short ID (the story's table first, then TEA-CONF); a scenario
#: added to a family module is added here too, where it belongs
# fmt: off
ORDER: Tuple[str, ...] = (
    "UNIT-001", "UNIT-002", "UNIT-003", "UNIT-004",
    "UNIT-005", "UNIT-006", "UNIT-007", "UNIT-008", "INT-001",
    "INT-002", "INT-003", "INT-004", "INT-005", "E2E-001",
    "UNIT-009", "UNIT-010", "INT-006", "INT-007",
    "UNIT-011", "UNIT-012", "INT-008",
    "INT-009", "E2E-002",
    "INT-010",
    "E2E-003",
    "UNIT-013", "UNIT-014",
    "UNIT-015", "INT-011",
    "UNIT-016", "UNIT-017",
    "CONF-UNIT-001", "CONF-UNIT-002",
    "CONF-UNIT-003", "CONF-UNIT-004", "CONF-UNIT-005", "CONF-UNIT-006", "CONF-UNIT-007", "CONF-UNIT-008",
    "CONF-UNIT-009", "CONF-UNIT-010", "CONF-UNIT-011", "CONF-INT-001",
    "CONF-INT-002", "CONF-INT-003", "CONF-INT-004", "CONF-INT-005", "CONF-INT-006", "CONF-INT-007",
    "CONF-INT-008", "CONF-INT-009",
    "CONF-E2E-001",
    "CONF-INT-010",
    "CONF-INT-011", "CONF-INT-012",
    "CONF-INT-013",
    "CONF-INT-014",
    "CONF-INT-015",
    "CONF-INT-016", "CONF-INT-017", "CONF-INT-018", "CONF-INT-019", "CONF-INT-020",
    "CONF-UNIT-012",
    "CONF-MODEL-001", "CONF-MODEL-002",
)
# fmt: on

#: every scenario, in :data:`ORDER` (bound on first use by ``__getattr__``)
CATALOGUE: Tuple[Scenario, ...]


def build(declared: Iterable[Scenario], order: Sequence[str] = ORDER) -> Tuple[Scenario, ...]:
    """The ``declared`` scenarios in ``order``; ``ValueError`` unless each declared scenario
    is in ``order`` exactly once, each ID of ``order`` is declared, and each twin exists."""
    by_full_id: Dict[str, Scenario] = {}
    for scenario in declared:
        if scenario.id in by_full_id:
            raise ValueError(f"{scenario.id} is declared twice: give one of its contracts another ID")
        by_full_id[scenario.id] = scenario
    wanted = [full_id(short_id) for short_id in order]
    twice = sorted({sid for sid in wanted if wanted.count(sid) > 1})
    if twice:
        raise ValueError(f"catalogue.ORDER lists {', '.join(twice)} more than once: keep one")
    problems = []  # both at once: a typo in an ID shows up as one of each
    undeclared = [sid for sid in wanted if sid not in by_full_id]
    if undeclared:
        problems.append(
            f"catalogue.ORDER lists {', '.join(undeclared)}, which no contract declares: decorate "
            f"its check in contracts/ with @contract, or take it out of ORDER"
        )
    unordered = [sid for sid in by_full_id if sid not in wanted]
    if unordered:
        problems.append(
            f"{', '.join(unordered)} declared by @contract but missing from catalogue.ORDER: add it "
            f"there, where it belongs in reports"
        )
    if problems:
        raise ValueError("; ".join(problems))
    catalogue = tuple(by_full_id[sid] for sid in wanted)
    for scenario in catalogue:
        if scenario.twin is not None and scenario.twin not in by_full_id:
            raise ValueError(f"{scenario.id} names twin {scenario.twin}, which is no scenario")
    return catalogue


@cache
def _catalogue() -> Tuple[Scenario, ...]:
    from .contracts import REGISTRY  # importing the contracts registers every scenario
    from .contracts.registry import seal

    seal()  # a contract declared after this would never run: it is refused instead
    return build(registered.scenario for registered in REGISTRY.values())


@cache
def _by_id() -> Dict[str, Scenario]:
    return {s.id: s for s in _catalogue()}


def __getattr__(name: str) -> Tuple[Scenario, ...]:
    if name == "CATALOGUE":
        return _catalogue()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def by_id(scenario_id: str) -> Scenario:
    """Look a scenario up by its full ID."""
    return _by_id()[scenario_id]
