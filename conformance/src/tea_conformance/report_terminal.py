"""The certification summary pytest prints at the end of a run, as lines."""

from __future__ import annotations

from typing import Dict, List, Sequence

from .display import reason_text
from .report_model import CaseResult, TransportReport

__all__ = ["render_terminal"]


def render_terminal(reports: Sequence[TransportReport]) -> List[str]:
    lines: List[str] = []
    for report in reports:
        c = report.counts
        lines.append(
            f"{report.transport} ({report.implementation} {report.version}) on {report.platform}, "
            f"Python {report.python}: {c['passed']} passed, {c['failed']} failed, "
            f"{c['not applicable']} not applicable"
        )
        lines.append(f"  {'group':<10} {'passed':>7} {'failed':>7} {'n/a':>5}")
        for group, g in report.by_group.items():
            if any(g.values()):
                lines.append(f"  {group:<10} {g['passed']:>7} {g['failed']:>7} {g['not applicable']:>5}")
        for result in report.results:
            if result.outcome == "failed":
                lines.append(f"  FAILED {result.scenario_id} [{result.protocol}]: {result.reason}")
        lines += _not_applicable_by_reason(report.results)
        lines.append(f"  verdict: {report.verdict}")
        lines.append(f"  status: {report.status.value} (exit code {report.status.exit_code})")
    return lines


def _not_applicable_by_reason(results: Sequence[CaseResult]) -> List[str]:
    counts: Dict[str, int] = {}
    for result in results:
        if result.outcome == "not applicable":
            reason = reason_text(result.reason)
            counts[reason] = counts.get(reason, 0) + 1
    if not counts:
        return []
    lines = ["  not applicable, by reason:"]
    lines += [f"  {n:>5}  {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return lines
