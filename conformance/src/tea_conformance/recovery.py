"""The outcomes of a run whose process was killed, read back from its journal (``watch``)."""

from __future__ import annotations

from typing import Dict, Mapping

from .cases import Case
from .report_model import CaseResult
from .watch import Journal

__all__ = ["recovered_results"]


def recovered_results(journal: Journal, by_nodeid: Mapping[str, Case], why: str) -> Dict[str, CaseResult]:
    """Each journalled case's result; the case that was running when the process died failed."""
    results: Dict[str, CaseResult] = {}
    for nodeid, entry in journal.read().items():
        case = by_nodeid[nodeid]
        result = CaseResult(case.scenario.id, case.target.name, case.protocol)
        result.outcome, result.reason = entry["outcome"], entry.get("reason", "")
        result.duration = entry.get("duration", 0.0)
        if result.outcome == "running":
            result.outcome, result.reason = "failed", f"{why} while running {case.name}"
        results[nodeid] = result
    return results
