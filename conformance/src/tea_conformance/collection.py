"""The certification's cases as pytest items, under one module node (``tea-conformance``).

Each item is tagged with (scenario ID, transport, protocol) in ``CASE_PROPERTY`` and marked
with its group, priority, level and grade, so ``-m`` and ``-k`` select cases as they would
tests. A case the catalogue says does not apply skips as *not applicable*.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, List, Sequence, Tuple, Union, cast

import pytest

from . import contracts
from .cases import Case

__all__ = ["CASE_PROPERTY", "add_cases", "case_nodeid"]

#: the user property that tags each case's item with (scenario ID, transport, protocol)
CASE_PROPERTY = "tea_case"

_MODULE_NODEID = "tea-conformance"


def case_nodeid(case: Case) -> str:
    """The case's node ID, known to xdist's controller without collecting anything."""
    return f"{_MODULE_NODEID}::{case.name}"


def _run_case(case: Case, timeout: float, progress: Callable[[str], None]) -> None:
    reason = case.not_applicable()
    if reason:
        pytest.skip(f"not applicable: {reason}")
    case.run(timeout, progress)


class _CaseItem(pytest.Function):
    def reportinfo(self) -> Tuple[Path, None, str]:
        # no "domain": pytest would show TEA-STREAM-002.2-… as TEA-STREAM-002::2-… in -v
        return self.path, None, ""


def add_cases(
    session: pytest.Session,
    items: List[pytest.Item],
    cases: Sequence[Case],
    timeout: float,
    progress: Callable[[str], None],
) -> None:
    """Append an item per case to ``items``, and report them as collected."""
    module = pytest.Module.from_parent(session, path=Path(contracts.__file__), nodeid=_MODULE_NODEID)
    added: List[pytest.Item] = []
    for case in cases:
        scenario = case.scenario
        item = _CaseItem.from_parent(
            module, name=case.name, callobj=functools.partial(_run_case, case, timeout, progress)
        )
        markers = (scenario.ac.lower(), scenario.priority.lower(), scenario.level, scenario.grade.lower())
        for marker in markers:
            item.add_marker(marker)
        if scenario.reference_only:
            item.add_marker("reference_only")
        item.user_properties.append((CASE_PROPERTY, (scenario.id, case.target.name, case.protocol)))
        added.append(item)
    items.extend(added)
    # so "collected N items" counts the cases
    report = pytest.CollectReport(
        module.nodeid, "passed", None, cast(List[Union[pytest.Item, pytest.Collector]], added)
    )
    session.config.hook.pytest_collectreport(report=report)
