"""One certification run: resolves the transports, adds the cases, records outcomes, and
renders the verdict. Registered as a plugin by ``plugin.pytest_configure``.

Outcomes travel on each report's ``user_properties``, so the summary is right under
pytest-xdist too, where the controlling process collects nothing itself.
"""

from __future__ import annotations

import functools
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import pytest
from tea_transports import TransportError, transport_class

from . import contracts
from .cases import Case, cases_for
from .catalogue import ALL_PROTOCOLS, by_id
from .harness import Target
from .report import CaseResult, TransportReport, render_markdown, render_terminal, write_reports

__all__ = ["ConformanceSession"]

_PROPERTY = "tea_case"


def _resolve(name: str) -> Target:
    try:
        cls = transport_class(name, "pub_sub")
    except TransportError:
        try:
            cls = transport_class(name, "direct")
        except TransportError as exc:
            raise pytest.UsageError(f"--transport={name}: {exc}") from None
    return Target(name, cls)


def _run_case(case: Case, timeout: float) -> None:
    reason = case.not_applicable()
    if reason:
        pytest.skip(f"not applicable: {reason}")
    case.run(timeout)


class _CaseItem(pytest.Function):
    def reportinfo(self) -> Tuple[Path, None, str]:
        # no "domain": pytest would show TEA-STREAM-002.2-… as TEA-STREAM-002::2-… in -v
        return self.path, None, ""


class ConformanceSession:
    def __init__(self, config: pytest.Config, names: Sequence[str]) -> None:
        self.config = config
        self.targets = [_resolve(name) for name in dict.fromkeys(names)]
        self.protocols = tuple(config.getoption("protocol") or ALL_PROTOCOLS)
        self.timeout: float = config.getoption("scenario_timeout")
        self.cases = cases_for(self.targets, self.protocols)
        self.results: Dict[str, CaseResult] = {}
        self.started = time.time()

    def header(self) -> List[str]:
        lines = [f"tea-conformance: {len(self.cases)} case(s), protocols {', '.join(self.protocols)}"]
        for target in self.targets:
            caps = target.cls.capabilities
            lines.append(
                f"  transport {target.name} = {target.cls.__module__}.{target.cls.__qualname__}: "
                f"patterns {sorted(caps.patterns)}, protocols {sorted(caps.protocols)}, "
                f"features {sorted(caps.features)}"
            )
        return lines

    # -- collection ---------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: List[pytest.Item]) -> None:
        module = pytest.Module.from_parent(session, path=Path(contracts.__file__), nodeid="tea-conformance")
        added: List[pytest.Item] = []
        for case in self.cases:
            scenario = case.scenario
            item = _CaseItem.from_parent(
                module,
                name=case.name,
                callobj=functools.partial(_run_case, case, self.timeout),
            )
            for marker in (
                scenario.ac.lower(),
                scenario.priority.lower(),
                scenario.level,
                scenario.grade.lower(),
            ):
                item.add_marker(marker)
            if scenario.reference_only:
                item.add_marker("reference_only")
            item.user_properties.append((_PROPERTY, (scenario.id, case.target.name, case.protocol)))
            added.append(item)
        items.extend(added)
        # so "collected N items" counts the cases
        report = pytest.CollectReport(
            module.nodeid, "passed", None, cast(List[Union[pytest.Item, pytest.Collector]], added)
        )
        self.config.hook.pytest_collectreport(report=report)

    # -- outcomes -----------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = next((value for name, value in report.user_properties if name == _PROPERTY), None)
        if key is None:
            return
        scenario_id, transport, protocol = cast(Tuple[str, str, str], key)
        result = self.results.setdefault(report.nodeid, CaseResult(scenario_id, transport, protocol))
        result.duration += report.duration
        if report.skipped:
            result.outcome = "not applicable"
            result.reason = _skip_reason(report)
            if not result.reason.startswith("not applicable"):
                result.outcome = "skipped"
        elif report.failed:
            result.outcome = "failed"
            result.reason = _failure_line(report)
        elif report.when == "call" and result.outcome == "not run":
            result.outcome = "passed"

    # -- summary ------------------------------------------------------------------------

    def reports(self) -> List[TransportReport]:
        by_transport: Dict[str, List[CaseResult]] = {t.name: [] for t in self.targets}
        for result in self.results.values():
            by_transport[result.transport].append(result)
        expected = {t.name: [c for c in self.cases if c.target is t] for t in self.targets}
        return [
            TransportReport.build(
                target=target,
                results=sorted(by_transport[target.name], key=lambda r: _order(r.scenario_id)),
                expected=len(expected[target.name]),
                catalogue_ids={c.scenario.id for c in expected[target.name]},
                full_protocols=self.protocols == ALL_PROTOCOLS,
                python=platform.python_version(),
                platform=sys.platform,
            )
            for target in self.targets
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        reports = self.reports()
        terminalreporter.section("TEA conformance certification")
        for line in render_terminal(reports):
            terminalreporter.write_line(line)
        path: Optional[str] = self.config.getoption("conformance_report")
        if path:
            written = write_reports(reports, Path(path))
            terminalreporter.write_line(f"reports written: {', '.join(map(str, written))}")

    def markdown(self) -> str:
        return render_markdown(self.reports())


def _order(scenario_id: str) -> int:
    from .catalogue import CATALOGUE

    return CATALOGUE.index(by_id(scenario_id))


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
