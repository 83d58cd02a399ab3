"""Certification facts in pytest's JUnit XML (``--junitxml``), where CI systems show them.

Each case's ``<testcase>`` carries the properties ``scenario``, ``ac``, ``grade``,
``transport``, ``protocol`` and ``outcome`` (passed | failed | not applicable | skipped);
the ``<testsuite>`` carries ``tea_verdict[TRANSPORT]``, ``tea_status[TRANSPORT]`` and
``tea_profile[TRANSPORT]`` per transport. Registered by the plugin when ``--junitxml`` is
given; pytest's own junitxml writes the file.
"""

from __future__ import annotations

from typing import Any, Generator, List, Optional, Sequence, Tuple, cast

import pytest

from .catalogue import by_id
from .collection import CASE_PROPERTY
from .display import profile_of

__all__ = ["JUnitProperties", "suite_properties"]

_MARK = "outcome"


def _case_of(item: pytest.Item) -> Optional[Tuple[str, str, str]]:
    for name, value in item.user_properties:
        if name == CASE_PROPERTY:
            return cast(Tuple[str, str, str], tuple(cast(Sequence[str], value)))
    return None


def _outcome(report: pytest.TestReport, not_applicable: bool) -> Optional[str]:
    """The case's outcome once this phase settles it, else None. Only the catalogue makes
    a case not applicable: a skip it did not decide is a failure (as in the verdict)."""
    if report.skipped:
        return "not applicable" if not_applicable else "failed"
    if report.failed:
        return "failed"
    if report.when == "call":
        return "passed"
    return None


class JUnitProperties:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(hookwrapper=True)  # old style: pytest 7.4 may run with an old pluggy
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Generator[None, Any, None]:
        report = cast(pytest.TestReport, (yield).get_result())
        case = _case_of(item)
        if case is None:
            return
        properties: List[Tuple[str, object]] = item.user_properties
        if report.when == "setup":
            scenario_id, transport, protocol = case
            scenario = by_id(scenario_id)
            # the teardown report, which junitxml writes properties from, copies these
            properties += [
                ("scenario", scenario_id),
                ("ac", scenario.ac),
                ("grade", scenario.grade),
                ("transport", transport),
                ("protocol", protocol),
            ]
        session = self.config.pluginmanager.get_plugin("tea-conformance-session")
        known = session.by_nodeid.get(item.nodeid) if session is not None else None
        outcome = _outcome(report, known is not None and bool(known.not_applicable()))
        if outcome is not None and all(name != _MARK for name, _ in properties):
            properties.append((_MARK, outcome))

    @pytest.hookimpl(tryfirst=True)  # before junitxml's own sessionfinish writes the file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        conformance = self.config.pluginmanager.get_plugin("tea-conformance-session")
        xml = next(
            (p for p in self.config.pluginmanager.get_plugins() if hasattr(p, "add_global_property")), None
        )
        if conformance is None or xml is None:
            return
        for report in conformance.reports():
            for name, value in suite_properties(report):
                xml.add_global_property(name, value)


def suite_properties(report: Any) -> List[Tuple[str, str]]:
    """The ``<testsuite>`` properties of one transport's verdict."""
    return [
        (f"tea_verdict[{report.transport}]", report.verdict),
        (f"tea_status[{report.transport}]", report.status.value),
        (f"tea_profile[{report.transport}]", profile_of(report)),
    ]
