"""The ``@contract`` decorator and what it registers: each scenario's metadata with the
function that checks it, declared together.
"""

from __future__ import annotations

from typing import AbstractSet, Callable, Dict, Iterable, NamedTuple, Optional, Tuple

from tea_transports import PATTERNS, Feature

from ..criteria import GROUPS
from ..harness import Harness
from ..scenario import ALL_PROTOCOLS, LEVELS, PUB_SUB, Scenario, full_id

__all__ = ["REGISTRY", "Contract", "Registered", "contract", "seal"]

Contract = Callable[[Harness], None]


class Registered(NamedTuple):
    """A scenario and the contract that checks it."""

    scenario: Scenario
    check: Contract


#: every declared scenario by full ID, in the order the family modules were imported (the
#: catalogue orders them)
REGISTRY: Dict[str, Registered] = {}
#: set once the catalogue is built from REGISTRY: a contract declared after it would never run
_SEALED = [False]

_PRIORITIES = ("P0", "P1", "P2", "P3")
_GRADES = ("SHALL", "SHOULD")  # ZeroMQ RFC 29's words


def contract(
    short_id: str,
    *,
    ac: str,
    priority: str,
    title: str,
    patterns: AbstractSet[str] = PUB_SUB,
    features: AbstractSet[str] = frozenset(),
    protocols: Optional[Iterable[str]] = None,
    cross_process: bool = False,
    platforms: Optional[Iterable[str]] = None,
    grade: str = "SHALL",
    reference_only: bool = False,
    twin: Optional[str] = None,
) -> Callable[[Contract], Contract]:
    """Register the decorated function as the check of scenario ``short_id``, declared here.

    ``short_id`` is ``UNIT-NNN``, ``INT-NNN`` or ``E2E-NNN`` for the story's scenarios
    (``TEA-STREAM-002.2-…``), ``CONF-…`` for those beyond it (``TEA-CONF-…``); it also names
    the level. ``ac`` is the group (an acceptance criterion, ``risk``, or a TEA-CONF
    family of :data:`~tea_conformance.criteria.GROUPS`); the needs are
    :class:`~tea_conformance.scenario.Scenario`'s. Metadata that cannot be right (an
    unknown group, feature or protocol, a malformed ID, a second contract for one ID, one
    declared after the catalogue was built) raises ``ValueError`` when the module is
    imported, naming the function.
    """

    def register(function: Contract) -> Contract:
        name = getattr(function, "__qualname__", None)
        if not callable(function) or name is None:
            raise TypeError(f"@contract({short_id!r}) decorates a function of a Harness, not {function!r}")
        where = f"@contract({short_id!r}) on {function.__module__}.{name}"
        try:
            scenario = Scenario(
                full_id(short_id),
                ac,
                LEVELS[short_id.split("-")[-2]],
                priority,
                title,
                patterns=frozenset(patterns),
                features=frozenset(features),
                protocols=_names("protocols", protocols),
                cross_process=cross_process,
                platforms=_names("platforms", platforms),
                grade=grade,
                reference_only=reference_only,
                twin=twin,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        problem = _problem(scenario)
        if problem:
            raise ValueError(f"{where}: {problem}")
        if scenario.id in REGISTRY:
            other = REGISTRY[scenario.id].check
            raise ValueError(
                f"{where}: {other.__module__}.{other.__qualname__} already checks {scenario.id}; "
                f"give one of them another ID"
            )
        if _SEALED[0]:
            raise ValueError(
                f"{where}: the catalogue is already built, so this scenario would never run; "
                f"declare scenarios in tea_conformance/contracts/ (CONTRIBUTING: Add a scenario)"
            )
        REGISTRY[scenario.id] = Registered(scenario, function)
        return function

    return register


def seal() -> None:
    """The catalogue is built: from now on a contract cannot be declared."""
    _SEALED[0] = True


def _names(what: str, names: Optional[Iterable[str]]) -> Optional[Tuple[str, ...]]:
    """``names`` as a tuple (a list would make the scenario unhashable); None stays None."""
    if names is None:
        return None
    values = None if isinstance(names, str) or not isinstance(names, Iterable) else tuple(names)
    if values is None or not all(isinstance(name, str) for name in values):
        raise TypeError(f"{what}={names!r} must be a tuple of names, e.g. ('tcp',)")
    return values


def _problem(scenario: Scenario) -> str:
    """What is wrong with a scenario's metadata, or ""."""
    features = {v for k, v in vars(Feature).items() if k.isupper() and isinstance(v, str)}
    if scenario.ac not in GROUPS:
        return f"ac={scenario.ac!r} is no group of criteria.GROUPS ({', '.join(GROUPS)})"
    if scenario.priority not in _PRIORITIES:
        return f"priority={scenario.priority!r} is not one of {', '.join(_PRIORITIES)}"
    if scenario.grade not in _GRADES:
        return f"grade={scenario.grade!r} is not one of {', '.join(_GRADES)}"
    if not isinstance(scenario.title, str) or not scenario.title.strip():
        return "the title is empty: say what the scenario checks, in words that fit any transport"
    if not scenario.patterns or not scenario.patterns <= set(PATTERNS):
        return f"patterns={sorted(scenario.patterns)} must be some of {', '.join(PATTERNS)}"
    if not scenario.features <= features:
        return f"features {sorted(scenario.features - features)} are no tea_transports.Feature"
    if scenario.protocols is not None and not set(scenario.protocols) <= set(ALL_PROTOCOLS):
        return f"protocols={scenario.protocols} must be some of {', '.join(ALL_PROTOCOLS)}"
    if scenario.cross_process and scenario.protocols and set(scenario.protocols) <= {"inproc"}:
        return "cross_process=True needs a protocol that crosses processes (inproc cannot)"
    if scenario.reference_only != (scenario.twin is not None):
        return "a reference-only scenario names its twin (twin=...), and only it does"
    return ""
