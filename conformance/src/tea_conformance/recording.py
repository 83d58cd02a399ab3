"""A case's outcome from pytest's reports of its phases.

Whether a case is *not applicable* is decided from the catalogue, never from the text of a
skip: a skip raised from inside a transport is a failure.
"""

from __future__ import annotations

import pytest

from .cases import Case
from .report_model import CaseResult

__all__ = ["record"]


def record(result: CaseResult, case: Case, report: pytest.TestReport) -> None:
    """Fold one phase's ``report`` (setup, call or teardown) into the case's ``result``."""
    result.duration += report.duration
    if report.skipped:
        not_applicable = case.not_applicable()
        if not_applicable:
            result.outcome, result.reason = "not applicable", f"not applicable: {not_applicable}"
        else:  # the catalogue says it applies: whatever skipped it, it did not pass
            result.outcome = "failed"
            result.reason = f"skipped although applicable ({_skip_reason(report)})"
    elif report.failed:
        result.outcome = "failed"
        result.reason = _failure_line(report)
    elif report.when == "call" and result.outcome == "not run":
        result.outcome = "passed"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason[len("Skipped: ") :] if reason.startswith("Skipped: ") else reason
    return str(longrepr)


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) or str(report.longrepr).strip().splitlines()[-1:]
    return str(message).splitlines()[0][:500] if message else "failed"
