"""The Markdown report: the verdict, counts per group, and every case with its reason."""

from __future__ import annotations

from typing import List, Sequence

from .catalogue import by_id
from .criteria import GROUPS
from .display import profile_of, reason_text
from .report_model import TransportReport

__all__ = ["render_markdown"]


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
