"""Every report shows the verdict's typed status, never words read back out of its text.

The report below says NOT CERTIFIED in its status and CERTIFIED at the head of its verdict
line: a renderer that parsed the line would show CERTIFIED, and these tests would fail.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import List

import html5lib
import pytest
from tea_conformance.badge import render_badge
from tea_conformance.compare import compare
from tea_conformance.junit import suite_properties
from tea_conformance.report import CaseResult, TransportReport, render_markdown, render_terminal
from tea_conformance.report_html import render_html
from tea_conformance.report_json import to_document
from tea_conformance.verdict import EXIT_CODES, Status, worst_exit_code

MISLEADING = "CERTIFIED — words a parser would believe"


def _report(status: Status) -> TransportReport:
    results = [CaseResult("TEA-STREAM-002.2-INT-002", "acme", "tcp", "passed")]
    counts = {"passed": 1, "failed": 0, "not applicable": 0}
    return TransportReport(
        "acme", "acme.Transport", "1.0", "linux", "3.11", MISLEADING, counts, {}, results,
        profile="pub_sub core; tcp", status=status, exit_code=status.exit_code,
    )  # fmt: skip


STATUSES: List[Status] = [s for s in Status if s is not Status.CERTIFIED]


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_terminal_and_markdown_show_the_status_field(status: Status) -> None:
    report = _report(status)
    assert f"  status: {status.value} (exit code {EXIT_CODES[status]})" in render_terminal([report])
    assert f"Status: **{status.value}**" in render_markdown([report])


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_html_shows_and_colours_the_status_field(status: Status) -> None:
    text = render_html([_report(status)])
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    shown = [s for s in document.iter("span") if "status" in (s.get("class") or "").split()]
    assert [("".join(s.itertext()), s.get("class")) for s in shown] == [
        (status.value, f"status {status.tone}")
    ]


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_json_junit_and_compare_carry_the_status_field(status: Status) -> None:
    report = _report(status)
    document = to_document([report])
    assert document["transports"][0]["status"] == status.value
    assert document["transports"][0]["verdict"] == MISLEADING
    assert ("tea_status[acme]", status.value) in suite_properties(report)
    assert f"| verdict | **{status.value}** |" in compare([document])


@pytest.mark.parametrize("status", STATUSES, ids=str)
def test_badge_shows_and_colours_the_status_field(status: Status) -> None:
    root = ET.fromstring(render_badge(_report(status)))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert f"pub_sub core: {status.value.lower()}" in texts
    colours = {"good": "#2da44e", "warn": "#d4a72c", "bad": "#cf222e", "none": "#6e7781"}
    assert f'fill="{colours[status.tone]}"' in render_badge(_report(status))


def test_status_is_its_words_and_the_worst_sets_the_exit_code() -> None:
    assert [str(s) for s in Status] == [s.value for s in Status]
    assert f"{Status.NOT_CERTIFIED}" == "NOT CERTIFIED"
    assert worst_exit_code([Status.CERTIFIED, Status.DEVIATIONS, Status.NOT_CERTIFIED]) == 1
    assert worst_exit_code([Status.CERTIFIED, Status.INCOMPLETE]) == 11
