"""What a transport author reads: --list-scenarios, the terminal summary, and every report
format (JSON, Markdown, HTML, JUnit XML, badge), run through pytester; and ``compare``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict

import html5lib
import pytest
from tea_conformance import report_json
from tea_conformance.catalogue import CATALOGUE
from tea_conformance.cli import main
from tea_conformance.listing import catalogue_digest, features_table
from tea_conformance.report import CaseResult, TransportReport, report_paths
from tea_conformance.report_html import render_html
from tea_conformance.verdict import Status

ROOT = Path(__file__).parents[2]
# unix: INT-002 runs (inproc, ipc) and is n/a on tcp; INT-003 and UNIT-003 need pub_sub
SELECTION = ("-k", " or ".join(f"TEA-STREAM-002.2-{s}" for s in ("INT-002", "INT-003", "UNIT-003")))


@pytest.fixture
def unix_run(pytester: pytest.Pytester, tmp_path: Path) -> Dict[str, Any]:
    stem = tmp_path / "out" / "cert.md"  # a suffix other than .json must not matter
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--transport=unix", *SELECTION, f"--conformance-report={stem}",
        f"--junitxml={tmp_path / 'junit.xml'}",
    )  # fmt: skip
    return {"result": result, "out": tmp_path / "out", "junit": tmp_path / "junit.xml"}


def test_list_scenarios_as_text(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--list-scenarios")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"{len(CATALOGUE)} scenarios of TEA-STREAM-002.2 and TEA-CONF*",
            "AC3: all subscribers receive all published messages (fan-out)",
            "*TEA-STREAM-002.2-INT-008*integration*P2 SHALL*backlog stays bounded*",
            "*needs pattern pub_sub; feature(s) high_water_mark",
        ]
    )
    result.stdout.no_fnmatch_line("*collected*")
    with_transport = pytester.runpytest("--list-scenarios", "--transport=unix")
    with_transport.stdout.fnmatch_lines(
        [
            "*TEA-STREAM-002.2-INT-002*",
            "*unix: runs (inproc, ipc)",
            "*unix: not applicable (tcp): the transport does not declare protocol 'tcp'*",
            "*TEA-STREAM-002.2-INT-003*",
            "*unix: not applicable (inproc, ipc, tcp): needs pattern pub_sub; the transport declares direct",
        ]
    )


def test_list_scenarios_as_json(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--list-scenarios=json", "--transport=unix", "--transport=zeromq")
    assert result.ret == 0
    document = json.loads(result.stdout.str())
    assert document["catalogue_digest"] == catalogue_digest()
    assert [s["id"] for s in document["scenarios"]] == [s.id for s in CATALOGUE]
    by_id = {s["id"]: s for s in document["scenarios"]}
    filtering = by_id["TEA-STREAM-002.2-UNIT-010"]
    assert filtering["features"] == ["filtering"]
    assert filtering["ac_title"] == "topic filtering with the subscribe_filter option"
    assert filtering["applicability"]["zeromq"] == {"runs_on": ["inproc", "ipc", "tcp"], "not_applicable": {}}
    assert filtering["applicability"]["unix"]["runs_on"] == []
    assert "needs pattern pub_sub" in filtering["applicability"]["unix"]["not_applicable"]["inproc"]


def test_list_scenarios_with_an_unknown_transport_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--list-scenarios", "--transport=no-such")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--transport=no-such: no transport is registered as 'no-such'*"])


def test_terminal_shows_progress_per_case_and_groups_reasons(unix_run: Dict[str, Any]) -> None:
    result = unix_run["result"]
    result.assert_outcomes(passed=2, skipped=5)
    # each case on its own line as it runs, its ID intact (not TEA-STREAM-002::2-…)
    result.stdout.fnmatch_lines(["tea-conformance::TEA-STREAM-002.2-INT-002[[]unix-inproc[]] PASSED*"])
    result.stdout.no_fnmatch_line("*TEA-STREAM-002::2*")
    result.stdout.fnmatch_lines(
        [
            "  not applicable, by reason:",
            "      4  needs pattern pub_sub; the transport declares direct",
            "      1  the transport does not declare protocol 'tcp' on this platform",
        ]
    )


def test_every_report_is_named_from_one_stem(unix_run: Dict[str, Any]) -> None:
    out: Path = unix_run["out"]
    assert sorted(p.name for p in out.iterdir()) == ["cert.html", "cert.json", "cert.md", "cert.unix.svg"]
    unix_run["result"].stdout.fnmatch_lines(
        [f"reports written: {out}/cert.json, {out}/cert.md, {out}/cert.html, {out}/cert.unix.svg"]
    )


def test_json_report_is_versioned_and_self_describing(unix_run: Dict[str, Any]) -> None:
    document = json.loads((unix_run["out"] / "cert.json").read_text())
    assert document["schema_version"] == 2
    assert document["catalogue_digest"] == catalogue_digest()
    (unix,) = document["transports"]
    assert unix["capabilities"] == {
        "patterns": ["direct"],
        "protocols": ["inproc", "ipc"],
        "features": ["stats"],
    }
    assert {"python", "tea-conformance", "tea_transports", "platform"} <= set(unix["versions"])
    assert unix["status"] == "INCOMPLETE"  # -k narrowed the run
    assert unix["group_titles"]["AC3"] == "all subscribers receive all published messages (fan-out)"
    # every field a tool sees is documented in the schema
    documented = set(re.findall(r'"(\w+)":', report_json.__doc__ or ""))
    emitted = set(document) | set(unix) | {k for r in unix["results"] for k in r}
    assert emitted - {"not applicable"} <= documented, emitted - documented
    result = next(r for r in unix["results"] if r["scenario_id"] == "TEA-STREAM-002.2-INT-003")
    assert result["title"] == "1 publisher, 3 subscribers: each gets all 100"
    assert (result["grade"], result["ac"], result["outcome"]) == ("SHALL", "AC3", "not applicable")


def test_markdown_report_has_titles_and_a_reason_column(unix_run: Dict[str, Any]) -> None:
    text = (unix_run["out"] / "cert.md").read_text()
    assert text.startswith("# Conformance of `unix` to TEA-STREAM-002.2")
    assert "## AC3: all subscribers receive all published messages (fan-out)" in text
    assert "| scenario | title | grade | protocol | outcome | reason | s |" in text
    assert (
        "| TEA-STREAM-002.2-INT-003 | 1 publisher, 3 subscribers: each gets all 100 | SHALL | inproc | "
        "not applicable | needs pattern pub_sub; the transport declares direct |"
    ) in text
    assert re.search(
        r"\| TEA-STREAM-002.2-INT-002 \| 1 publisher, 1 subscriber: all 100 messages arrive \| SHALL \| "
        r"ipc \| passed \|  \|",
        text,
    )


def test_html_report_is_valid_self_contained_and_shows_the_matrix(unix_run: Dict[str, Any]) -> None:
    text = (unix_run["out"] / "cert.html").read_text()
    # strict: any parse error (unclosed or misnested element, bad attribute) raises
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    assert not re.search(r"""(src|href)\s*=|url\(\s*['"]?http|<script|<link""", text), "an external asset"
    verdict = document.find(".//table[@class='verdicts']")
    assert verdict is not None
    assert "INCOMPLETE" in "".join(verdict.itertext())
    groups = [row.get("id") for row in document.iter("tr") if row.get("class") == "group"]
    assert groups == ["AC3", "na-AC1", "na-AC3"]  # rows not applicable anywhere: folded, after
    cells = [td for td in document.iter("td") if "o-not-applicable" in (td.get("class") or "")]
    assert len(cells) == 5
    reasons = ["".join(td.find("details/p").itertext()) for td in cells]  # one click away
    assert "needs pattern pub_sub; the transport declares direct" in reasons
    passed = [td for td in document.iter("td") if "o-passed" in (td.get("class") or "")]
    assert len(passed) == 2


def test_junit_xml_carries_scenario_properties_and_the_verdict(unix_run: Dict[str, Any]) -> None:
    suite = ET.parse(unix_run["junit"]).getroot().find("testsuite")
    assert suite is not None
    suite_properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_properties["tea_status[unix]"] == "INCOMPLETE"
    assert suite_properties["tea_verdict[unix]"].startswith("INCOMPLETE: ")
    assert suite_properties["tea_profile[unix]"] == "direct core + stats; inproc, ipc"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    properties = {
        p.get("name"): p.get("value")
        for p in cases["TEA-STREAM-002.2-INT-003[unix-inproc]"].findall("properties/property")
    }
    assert properties["scenario"] == "TEA-STREAM-002.2-INT-003"
    assert (properties["ac"], properties["grade"], properties["outcome"]) == (
        "AC3",
        "SHALL",
        "not applicable",
    )
    passed = cases["TEA-STREAM-002.2-INT-002[unix-ipc]"].findall("properties/property")
    assert {p.get("name"): p.get("value") for p in passed}["outcome"] == "passed"


def test_badge_is_an_svg_with_the_story_profile_and_status(unix_run: Dict[str, Any]) -> None:
    root = ET.fromstring((unix_run["out"] / "cert.unix.svg").read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "TEA-STREAM-002.2" in texts
    assert "direct core: incomplete" in texts


def _report(tmp_path: Path, name: str, outcomes: Dict[str, str]) -> Path:
    path = tmp_path / f"{name}.json"
    results = [{"scenario_id": s, "protocol": "ipc", "outcome": o, "reason": ""} for s, o in outcomes.items()]
    transport = {
        "transport": name,
        "platform": "linux",
        "verdict": "CERTIFIED — pub_sub core; ipc",
        "status": "CERTIFIED",
        "counts": {},
        "results": results,
    }
    path.write_text(json.dumps({"transports": [transport]}))
    return path


def test_compare_lists_differing_outcomes_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same, differs = "TEA-STREAM-002.2-UNIT-001", "TEA-STREAM-002.2-INT-008"
    a = _report(tmp_path, "a", {same: "passed", differs: "passed"})
    b = _report(tmp_path, "b", {same: "passed", differs: "failed"})
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.index("## Outcomes that differ (1)") < out.index(differs) < out.index("## The same outcome")
    assert "| verdict | **CERTIFIED** | **CERTIFIED** |" in out
    assert f"| {differs} | a stalled subscriber's backlog stays bounded by the high water mark | ipc |" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# Conformance of `x`\n", "is not a tea-conformance JSON report (not JSON"),
        ('{"verdict": "CERTIFIED"}', "is JSON but not a tea-conformance report"),
        ('{"transports": [{"results": [{"outcome": "passed"}]}]}', "lacks scenario_id, protocol or outcome"),
    ],
)
def test_compare_refuses_a_file_that_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "cert.md"
    path.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_help_is_whole_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "`pytest --list-scenarios [--transport=NAME]`." in help_text
    assert "compare" in help_text
    assert "features" in help_text


def test_readme_feature_table_is_generated_from_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- features:begin -->\n(.*?)<!-- features:end -->", readme, re.S)
    assert block is not None, "README lacks the generated feature table"
    assert block.group(1) == features_table(), "README is stale: paste `tea-conformance features`"
    story = sum(s.id.startswith("TEA-STREAM") for s in CATALOGUE)
    assert f"the story's {story} scenarios and {len(CATALOGUE) - story} more" in readme


@pytest.mark.parametrize("given", ["cert", "cert.json", "cert.md", "cert.html"])
def test_report_names_come_from_one_stem(tmp_path: Path, given: str) -> None:
    paths = report_paths(tmp_path / given, ["zeromq", "acme:Transport"])
    assert [p.name for p in paths.values()] == [
        "cert.json", "cert.md", "cert.html", "cert.zeromq.svg", "cert.acme_Transport.svg",
    ]  # fmt: skip


def test_report_names_in_a_directory(tmp_path: Path) -> None:
    paths = report_paths(tmp_path, ["unix"])
    assert {p.parent for p in paths.values()} == {tmp_path}
    assert paths["json"].name == "conformance.json"


def test_compare_tells_two_runs_of_one_transport_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _report(tmp_path, "a", {"TEA-STREAM-002.2-UNIT-001": "passed"})
    assert main(["compare", str(a), str(a)]) == 0
    assert "| | a (linux, report 1) | a (linux, report 2) |" in capsys.readouterr().out


def test_html_report_puts_failures_first_and_folds_what_applies_nowhere() -> None:
    results = [
        CaseResult("TEA-STREAM-002.2-INT-002", "acme", "tcp", "passed"),
        CaseResult("TEA-STREAM-002.2-INT-004", "acme", "tcp", "failed", "ConformanceFailure: out of order"),
        *(
            CaseResult("TEA-STREAM-002.2-INT-002", "acme", p, "not applicable", "no " + p)
            for p in ("ipc", "inproc")
        ),
    ]
    report = TransportReport(
        "acme", "acme.Transport", "1.0", "linux", "3.11", "NOT CERTIFIED — …", {}, {}, results,
        status=Status.NOT_CERTIFIED,
    )  # fmt: skip
    text = render_html([report])
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)
    body = document.find("body")
    assert body is not None
    tables = [t.get("class") for t in body.iter("table")]
    assert tables[:2] == ["verdicts", "failures"], tables  # the failure right after the verdict
    failures = "".join(next(t for t in body.iter("table") if t.get("class") == "failures").itertext())
    assert "INT-004" in failures and "out of order" in failures
    folded = next(d for d in body.iter("details") if d.get("class") == "na")
    assert "2 case(s) not applicable to any transport" in "".join(folded.find("summary").itertext())
    main = next(t for t in body.iter("table") if t.get("class") == "matrix")
    assert "o-not-applicable" not in ET.tostring(main, encoding="unicode")
