"""One certification run: resolves the transports, adds the cases, records outcomes, and
renders the verdict. Registered as a plugin by ``plugin.pytest_configure``.

Outcomes are matched to cases by node ID, which the controlling process of
pytest-xdist knows without collecting anything: so the verdict is right under xdist,
a crashed worker's case counts as failed, and only the controller writes the reports.
Whether a case is *not applicable* is decided here, from the catalogue, never from the
text of a skip: a skip raised from inside a transport is a failure.
"""

from __future__ import annotations

import functools
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import pytest

from . import contracts
from .cases import Case, cases_for
from .catalogue import ALL_PROTOCOLS, by_id
from .report import CaseResult, TransportReport, render_markdown, render_terminal, write_reports
from .resolution import resolve
from .verdict import worst_exit_code
from .watch import Journal, fork_watcher

__all__ = ["CASE_PROPERTY", "ConformanceSession"]

#: the user property that tags each case's item with (scenario ID, transport, protocol)
CASE_PROPERTY = "tea_case"

_MODULE_NODEID = "tea-conformance"


def _run_case(case: Case, timeout: float, progress: Any) -> None:
    reason = case.not_applicable()
    if reason:
        pytest.skip(f"not applicable: {reason}")
    case.run(timeout, progress)


def _nodeid(case: Case) -> str:
    return f"{_MODULE_NODEID}::{case.name}"


class _CaseItem(pytest.Function):
    def reportinfo(self) -> Tuple[Path, None, str]:
        # no "domain": pytest would show TEA-STREAM-002.2-… as TEA-STREAM-002::2-… in -v
        return self.path, None, ""


class ConformanceSession:
    def __init__(self, config: pytest.Config, names: Sequence[str], nested: bool = False) -> None:
        self.config = config
        self.nested = nested
        self.journal: Optional[Journal] = None
        where = config.invocation_params.dir
        self.targets = [resolve(name, where) for name in dict.fromkeys(names)]
        self.protocols = tuple(config.getoption("protocol") or ALL_PROTOCOLS)
        self.timeout: float = config.getoption("scenario_timeout")
        self.cases = cases_for(self.targets, self.protocols)
        self.by_nodeid = {_nodeid(case): case for case in self.cases}
        self.results: Dict[str, CaseResult] = {}
        self.started = time.time()
        self._reports: Optional[List[TransportReport]] = None

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
        module = pytest.Module.from_parent(session, path=Path(contracts.__file__), nodeid=_MODULE_NODEID)
        added: List[pytest.Item] = []
        for case in self.cases:
            scenario = case.scenario
            item = _CaseItem.from_parent(
                module,
                name=case.name,
                callobj=functools.partial(_run_case, case, self.timeout, self._progress),
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
            item.user_properties.append((CASE_PROPERTY, (scenario.id, case.target.name, case.protocol)))
            added.append(item)
        items.extend(added)
        # so "collected N items" counts the cases
        report = pytest.CollectReport(
            module.nodeid, "passed", None, cast(List[Union[pytest.Item, pytest.Collector]], added)
        )
        self.config.hook.pytest_collectreport(report=report)

    # -- outcomes -----------------------------------------------------------------------

    def _progress(self, message: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"tea-conformance: {message}", yellow=True)

    # -- a process killed mid-run (serial runs; see watch.py) ---------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        serial = not hasattr(self.config, "workerinput") and not getattr(
            self.config.option, "numprocesses", None
        )
        if serial and not self.nested and self._judged():
            self.journal = fork_watcher(self._after_death)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if self.journal is not None and nodeid in self.by_nodeid:
            self.journal.write(nodeid=nodeid, outcome="running")

    def _after_death(self, journal: Journal, why: str) -> int:
        """In the watching parent: the verdict from the journal of a child that was killed."""
        for nodeid, entry in journal.read().items():
            case = self.by_nodeid[nodeid]
            result = CaseResult(case.scenario.id, case.target.name, case.protocol)
            result.outcome, result.reason = entry["outcome"], entry.get("reason", "")
            result.duration = entry.get("duration", 0.0)
            if result.outcome == "running":
                result.outcome, result.reason = "failed", f"{why} while running {case.name}"
            self.results[nodeid] = result
        reports = self.reports()
        lines = ["", f"tea-conformance: {why}; the verdict is from the cases that ended before", ""]
        lines += render_terminal(reports)
        path: Optional[str] = self.config.getoption("conformance_report")
        if path:
            written = write_reports(reports, Path(path))
            lines.append(f"reports written: {', '.join(map(str, written))}")
        sys.stdout.write("\n".join(lines) + "\n")
        return max(1, worst_exit_code([r.status for r in reports]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self.by_nodeid.get(report.nodeid)
        if case is None:
            return
        key = (case.scenario.id, case.target.name, case.protocol)
        result = self.results.setdefault(report.nodeid, CaseResult(*key))
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
        if self.journal is not None and report.when == "teardown":
            self.journal.write(
                nodeid=report.nodeid, outcome=result.outcome, reason=result.reason, duration=result.duration
            )

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
                full_protocols=set(ALL_PROTOCOLS) <= set(self.protocols),
                python=platform.python_version(),
                platform=sys.platform,
                protocols=self.protocols,
            )
            for target in self.targets
        ]

    def _judged(self) -> bool:
        """Whether this process gives the verdict: not an xdist worker, not --collect-only."""
        return not hasattr(self.config, "workerinput") and not self.config.getoption("collectonly")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._judged() or exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
            pytest.ExitCode.USAGE_ERROR,
        ):
            return
        self._reports = reports = self.reports()
        code = worst_exit_code([r.status for r in reports])
        if code != 0 or exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = code  # the verdict's own code; 0 keeps other tests' failures
        path: Optional[str] = self.config.getoption("conformance_report")
        if path:
            self._written = write_reports(reports, Path(path))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        reports = self._reports
        if reports is None:
            return
        terminalreporter.section("TEA conformance certification")
        for line in render_terminal(reports):
            terminalreporter.write_line(line)
        written = getattr(self, "_written", None)
        if written:
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
