"""Certification results: the verdict, the terminal summary, and the reports of a run.

``write_reports`` derives every format's name from one stem: JSON (``report_json``),
Markdown (here), HTML (``report_html``) and an SVG badge per transport (``badge``).
Several JSON reports compare side by side with ``tea-conformance compare`` (``compare``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from . import __version__ as SUITE_VERSION
from .catalogue import by_id
from .compare import compare
from .criteria import GROUPS
from .display import profile_of, reason_text
from .harness import Target
from .provenance import capabilities_of, versions_of
from .verdict import Status, judge

__all__ = [
    "SUITE_VERSION",
    "CaseResult",
    "TransportReport",
    "compare",
    "main",
    "render_markdown",
    "render_terminal",
    "report_paths",
    "write_reports",
]


@dataclass
class CaseResult:
    scenario_id: str
    transport: str
    protocol: str
    outcome: str = "not run"  # passed | failed | not applicable | skipped | not run
    reason: str = ""
    duration: float = 0.0


@dataclass
class TransportReport:
    transport: str
    implementation: str
    version: str
    platform: str
    python: str
    #: the whole verdict line, naming what is certified (see ``verdict.py``)
    verdict: str
    counts: Dict[str, int]
    by_group: Dict[str, Dict[str, int]]
    results: List[CaseResult] = field(default_factory=list)
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    suite_version: str = SUITE_VERSION
    #: declared patterns, protocols and features (lists)
    capabilities: Dict[str, List[str]] = field(default_factory=dict)
    #: python, tea-conformance, the transport's package, pyzmq/libzmq where loaded, platform
    versions: Dict[str, str] = field(default_factory=dict)
    #: what the verdict certifies, e.g. "pub_sub core + stats; inproc, ipc, tcp"
    profile: str = ""
    #: the verdict's status, carried from the verdict: what every report shows and colours
    status: Status = Status.NONE
    #: the exit code this verdict gives the run
    exit_code: int = 0
    #: pattern, profile, protocols, features beyond the profile, missing core capabilities
    certified: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        target: Target,
        results: List[CaseResult],
        expected: int,
        catalogue_ids: Set[str],
        full_protocols: bool,
        python: str,
        platform: str,
        protocols: Sequence[str] = ("inproc", "ipc", "tcp"),
    ) -> TransportReport:
        counts = {k: 0 for k in ("passed", "failed", "not applicable", "skipped", "not run")}
        by_group = {g: {"passed": 0, "failed": 0, "not applicable": 0} for g in GROUPS}
        for result in results:
            counts[result.outcome] += 1
            empty = {"passed": 0, "failed": 0, "not applicable": 0}
            group = by_group.setdefault(by_id(result.scenario_id).ac, empty)
            if result.outcome in group:
                group[result.outcome] += 1
        version = _version_of(target.cls.__module__)
        verdict = judge(
            target.cls,
            [(r.scenario_id, r.outcome) for r in results],
            expected,
            catalogue_ids,
            protocols,
            full_protocols,
        )
        return cls(
            transport=target.name,
            implementation=f"{target.cls.__module__}.{target.cls.__qualname__}",
            version=version,
            platform=platform,
            python=python,
            verdict=verdict.line,
            counts=counts,
            by_group=by_group,
            results=results,
            capabilities=capabilities_of(target.cls),
            versions=versions_of(target.cls.__module__.split(".")[0], version),
            profile=verdict.certified.describe(),
            status=verdict.status,
            exit_code=verdict.exit_code,
            certified=asdict(verdict.certified),
        )


def _version_of(module: str) -> str:
    top = module.split(".")[0]
    found = getattr(sys.modules.get(top), "__version__", None)
    if found:
        return str(found)
    for dist in metadata.packages_distributions().get(top, []):
        return metadata.version(dist)
    return "unknown"


# -- rendering ----------------------------------------------------------------------------


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


def render_markdown(reports: Sequence[TransportReport]) -> str:
    out: List[str] = []
    for report in reports:
        versions = " · ".join(f"{k} {v}" for k, v in report.versions.items())
        out += [
            f"# Conformance of `{report.transport}` to TEA-STREAM-002.2 ({report.certified.get('profile')})",
            "",
            f"Status: **{report.status.value}**",
            "",
            f"Verdict: {report.verdict}",
            "",
            f"Profile: {profile_of(report) or 'n/a'}",
            "",
            f"`{report.implementation}` {report.version} · {report.platform} · Python {report.python} · "
            f"suite {report.suite_version} · {report.generated}",
            "",
        ]
        if versions:
            out += [f"Versions: {versions}", ""]
        out += [
            "| group | title | passed | failed | not applicable |",
            "|---|---|---:|---:|---:|",
        ]
        out += [
            f"| {group} | {_cell(GROUPS.get(group, ''))} | "
            f"{g['passed']} | {g['failed']} | {g['not applicable']} |"
            for group, g in report.by_group.items()
            if any(g.values())
        ]
        for group, title in GROUPS.items():
            rows = [r for r in report.results if by_id(r.scenario_id).ac == group]
            if not rows:
                continue
            out += [
                "",
                f"## {group}: {_cell(title)}",
                "",
                "| scenario | title | grade | protocol | outcome | reason | s |",
                "|---|---|---|---|---|---|---:|",
            ]
            for r in rows:
                scenario = by_id(r.scenario_id)
                out.append(
                    f"| {r.scenario_id} | {_cell(scenario.title)} | {scenario.grade} | {r.protocol} | "
                    f"{r.outcome} | {_cell(reason_text(r.reason))} | {r.duration:.2f} |"
                )
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_paths(path: Path, transports: Sequence[str]) -> Dict[str, Path]:
    """Every report's path from one stem: ``out/cert.md``, ``out/cert.json`` and ``out/cert``
    all give ``out/cert.json``, ``.md``, ``.html`` and ``out/cert.TRANSPORT.svg``; an existing
    directory ``out`` gives ``out/conformance.json`` and so on."""
    if path.is_dir():  # a directory: the reports go into it
        path = path / "conformance"
    stem = path.with_suffix("") if path.suffix.lower() in _SUFFIXES else path
    paths = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in ("json", "md", "html")}
    paths.update({f"svg:{t}": stem.with_name(f"{stem.name}.{_file_safe(t)}.svg") for t in transports})
    return paths


_SUFFIXES = {".json", ".md", ".html", ".htm", ".svg", ".xml"}


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_reports(reports: Sequence[TransportReport], path: Path) -> List[Path]:
    """Write the JSON, Markdown and HTML reports and a badge per transport; return their paths."""
    from .badge import render_badge
    from .report_html import render_html
    from .report_json import to_document

    paths = report_paths(path, [r.transport for r in reports])
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    paths["json"].write_text(json.dumps(to_document(reports), indent=2) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(reports), encoding="utf-8")
    paths["html"].write_text(render_html(reports), encoding="utf-8")
    for report in reports:
        paths[f"svg:{report.transport}"].write_text(render_badge(report), encoding="utf-8")
    return list(paths.values())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``tea-conformance`` (kept here too: ``python -m tea_conformance.report compare …``)."""
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
