"""One certification run, as a pytest plugin: it holds the run's transports, cases and
results, and wires pytest's hooks to the modules that do each job — resolving transports
(``resolution``), adding the cases (``collection``), recording outcomes (``recording``),
surviving a killed process (``watch``, ``recovery``), judging (``report_model``, ``verdict``)
and writing the reports (``report_files``). Registered by ``plugin.pytest_configure``.

Outcomes are matched to cases by node ID, which the controlling process of
pytest-xdist knows without collecting anything: so the verdict is right under xdist,
a crashed worker's case counts as failed, and only the controller writes the reports.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

from .cases import cases_for
from .catalogue import ALL_PROTOCOLS, CATALOGUE, by_id
from .collection import CASE_PROPERTY, add_cases, case_nodeid
from .recording import record
from .recovery import recovered_results
from .report_files import write_reports
from .report_markdown import render_markdown
from .report_model import CaseResult, TransportReport
from .report_terminal import render_terminal
from .resolution import resolve
from .verdict import worst_exit_code
from .watch import Journal, fork_watcher

__all__ = ["CASE_PROPERTY", "ConformanceSession"]


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
        self.by_nodeid = {case_nodeid(case): case for case in self.cases}
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
        add_cases(session, items, self.cases, self.timeout, self._progress)

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
        self.results.update(recovered_results(journal, self.by_nodeid, why))
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
        record(result, case, report)
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
    return CATALOGUE.index(by_id(scenario_id))
