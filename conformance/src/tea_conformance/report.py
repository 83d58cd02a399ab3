"""Certification results: the verdict, the terminal summary, JSON and Markdown reports,
and a side-by-side comparison of several JSON reports::

    python -m tea_conformance.report compare zeromq.json acme.json > comparison.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from . import __version__ as SUITE_VERSION
from .catalogue import CATALOGUE, by_id
from .harness import Target

__all__ = [
    "SUITE_VERSION",
    "CaseResult",
    "TransportReport",
    "compare",
    "main",
    "render_markdown",
    "render_terminal",
    "write_reports",
]

_GROUPS = [f"AC{n}" for n in range(1, 11)] + ["risk", "roles", "lifecycle", "delivery", "model"]


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
    verdict: str
    counts: Dict[str, int]
    by_group: Dict[str, Dict[str, int]]
    results: List[CaseResult] = field(default_factory=list)
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    suite_version: str = SUITE_VERSION

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
    ) -> TransportReport:
        counts = {k: 0 for k in ("passed", "failed", "not applicable", "skipped", "not run")}
        by_group = {g: {"passed": 0, "failed": 0, "not applicable": 0} for g in _GROUPS}
        for result in results:
            counts[result.outcome] += 1
            group = by_group[by_id(result.scenario_id).ac]
            if result.outcome in group:
                group[result.outcome] += 1
        accounted = sum(counts[k] for k in ("passed", "failed", "not applicable"))
        unseen = catalogue_ids - {r.scenario_id for r in results if r.outcome != "not run"}
        return cls(
            transport=target.name,
            implementation=f"{target.cls.__module__}.{target.cls.__qualname__}",
            version=_version_of(target.cls.__module__),
            platform=platform,
            python=python,
            verdict=_verdict(results, accounted, expected, unseen, full_protocols),
            counts=counts,
            by_group=by_group,
            results=results,
        )


def _verdict(results: List[CaseResult], accounted: int, expected: int, unseen: Set[str], full: bool) -> str:
    failed = [r for r in results if r.outcome == "failed"]
    shall = sorted({r.scenario_id for r in failed if by_id(r.scenario_id).grade == "SHALL"})
    should = sorted({r.scenario_id for r in failed if by_id(r.scenario_id).grade == "SHOULD"})
    if accounted == 0:
        return "NO CERTIFICATION: no scenario ran"
    if shall:
        return f"NOT CERTIFIED: {len(shall)} SHALL scenario(s) failed: {', '.join(shall)}"
    if accounted < expected or unseen or not full:
        return (
            f"INCOMPLETE: {accounted} of {expected} case(s) accounted for"
            + (f"; {len(unseen)} scenario(s) not run" if unseen else "")
            + ("; protocols narrowed" if not full else "")
            + " — a certification needs the whole catalogue"
        )
    if should:
        return f"CERTIFIED WITH DEVIATIONS: SHOULD scenario(s) failed: {', '.join(should)}"
    return "CERTIFIED"


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
        lines.append(f"  verdict: {report.verdict}")
    return lines


def render_markdown(reports: Sequence[TransportReport]) -> str:
    out: List[str] = []
    for report in reports:
        out += [
            f"# Conformance of `{report.transport}` to TEA-STREAM-002.2",
            "",
            f"**{report.verdict}**",
            "",
            f"`{report.implementation}` {report.version} · {report.platform} · Python {report.python} · "
            f"suite {report.suite_version} · {report.generated}",
            "",
            "| group | passed | failed | not applicable |",
            "|---|---:|---:|---:|",
        ]
        out += [
            f"| {group} | {g['passed']} | {g['failed']} | {g['not applicable']} |"
            for group, g in report.by_group.items()
            if any(g.values())
        ]
        out += ["", "| scenario | protocol | outcome | title / reason | s |", "|---|---|---|---|---:|"]
        for r in report.results:
            note = r.reason or by_id(r.scenario_id).title
            out.append(f"| {r.scenario_id} | {r.protocol} | {r.outcome} | {_cell(note)} | {r.duration:.2f} |")
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_reports(reports: Sequence[TransportReport], path: Path) -> Tuple[Path, Path]:
    """Write ``path`` (JSON) and ``path`` with suffix .md (Markdown)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "suite": "tea-conformance",
        "suite_version": SUITE_VERSION,
        "transports": [asdict(r) for r in reports],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path = path.with_suffix(".md")
    md_path.write_text(render_markdown(reports))
    return path, md_path


# -- comparison ---------------------------------------------------------------------------


def compare(documents: Iterable[Dict[str, Any]]) -> str:
    """Render several JSON reports side by side: one row per case, one column per transport."""
    columns: List[Dict[str, Any]] = [t for doc in documents for t in doc["transports"]]
    outcome: Dict[Tuple[str, str], Dict[int, str]] = {}
    for i, column in enumerate(columns):
        for r in column["results"]:
            outcome.setdefault((r["scenario_id"], r["protocol"]), {})[i] = r["outcome"]
    order = {s.id: n for n, s in enumerate(CATALOGUE)}
    header = (
        "| scenario | protocol | " + " | ".join(f"{c['transport']} ({c['platform']})" for c in columns) + " |"
    )
    lines = [header, "|---|---|" + "---|" * len(columns)]
    for (scenario_id, protocol), cells in sorted(
        outcome.items(), key=lambda kv: (order.get(kv[0][0], 999), kv[0][1])
    ):
        row = " | ".join(cells.get(i, "—") for i in range(len(columns)))
        lines.append(f"| {scenario_id} | {protocol} | {row} |")
    lines += ["", "| verdict | | " + " | ".join(c["verdict"] for c in columns) + " |"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="tea-conformance", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="render JSON reports side by side as Markdown")
    cmp.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args(argv)
    documents = []
    for path in args.reports:
        try:
            documents.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            parser.error(f"cannot read the report {path}: {exc}")
    sys.stdout.write(compare(documents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
