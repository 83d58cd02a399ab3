"""The data model of a certification: each case's result, and each transport's report
built from them with its verdict (``verdict.judge``)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Dict, List, Sequence, Set

from . import __version__ as SUITE_VERSION
from .catalogue import by_id
from .criteria import GROUPS
from .harness import Target
from .provenance import capabilities_of, versions_of
from .verdict import Status, judge

__all__ = ["SUITE_VERSION", "CaseResult", "TransportReport"]


@dataclass
class CaseResult:
    scenario_id: str
    transport: str
    protocol: str
    outcome: str = "not run"  # passed | failed | not applicable | skipped | not run
    reason: str = ""
    duration: float = 0.0


@dataclass
class TransportReport:
    transport: str
    implementation: str
    version: str
    platform: str
    python: str
    #: the whole verdict line, naming what is certified (see ``verdict.py``)
    verdict: str
    counts: Dict[str, int]
    by_group: Dict[str, Dict[str, int]]
    results: List[CaseResult] = field(default_factory=list)
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    suite_version: str = SUITE_VERSION
    #: declared patterns, protocols and features (lists)
    capabilities: Dict[str, List[str]] = field(default_factory=dict)
    #: python, tea-conformance, the transport's package, pyzmq/libzmq where loaded, platform
    versions: Dict[str, str] = field(default_factory=dict)
    #: what the verdict certifies, e.g. "pub_sub core + stats; inproc, ipc, tcp"
    profile: str = ""
    #: the verdict's status, carried from the verdict: what every report shows and colours
    status: Status = Status.NONE
    #: the exit code this verdict gives the run
    exit_code: int = 0
    #: pattern, profile, protocols, features beyond the profile, missing core capabilities
    certified: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        target: Target,
        results: List[CaseResult],
        expected: int,
        catalogue_ids: Set[str],
        full_protocols: bool,
        python: str,
        platform: str,
        protocols: Sequence[str] = ("inproc", "ipc", "tcp"),
    ) -> TransportReport:
        counts = {k: 0 for k in ("passed", "failed", "not applicable", "skipped", "not run")}
        by_group = {g: {"passed": 0, "failed": 0, "not applicable": 0} for g in GROUPS}
        for result in results:
            counts[result.outcome] += 1
            empty = {"passed": 0, "failed": 0, "not applicable": 0}
            group = by_group.setdefault(by_id(result.scenario_id).ac, empty)
            if result.outcome in group:
                group[result.outcome] += 1
        version = _version_of(target.cls.__module__)
        verdict = judge(
            target.cls,
            [(r.scenario_id, r.outcome) for r in results],
            expected,
            catalogue_ids,
            protocols,
            full_protocols,
        )
        return cls(
            transport=target.name,
            implementation=f"{target.cls.__module__}.{target.cls.__qualname__}",
            version=version,
            platform=platform,
            python=python,
            verdict=verdict.line,
            counts=counts,
            by_group=by_group,
            results=results,
            capabilities=capabilities_of(target.cls),
            versions=versions_of(target.cls.__module__.split(".")[0], version),
            profile=verdict.certified.describe(),
            status=verdict.status,
            exit_code=verdict.exit_code,
            certified=asdict(verdict.certified),
        )


def _version_of(module: str) -> str:
    top = module.split(".")[0]
    found = getattr(sys.modules.get(top), "__version__", None)
    if found:
        return str(found)
    for dist in metadata.packages_distributions().get(top, []):
        return metadata.version(dist)
    return "unknown"
