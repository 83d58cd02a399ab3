"""The HTML report: one self-contained page (no script, no network, no external asset) in the
spirit of the Autobahn test suite's report — transports as columns, cases as rows grouped by
acceptance criterion, a colour per outcome, the reason of a failure or of a not-applicable
case one click away (``<details>``), and the verdict of each transport at the top, followed
by every failed case with its reason; rows not applicable to any transport fold away.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any, Dict, List, Sequence, Tuple

from . import __version__ as SUITE_VERSION
from .catalogue import CATALOGUE, STORY, by_id
from .criteria import GROUPS
from .display import OUTCOMES, profile_of, reason_text
from .listing import catalogue_digest

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:22px;margin:0 0 4px}
.meta{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse}
th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}
.verdicts th{background:#f6f8fa;white-space:nowrap}
.verdicts td{min-width:220px}
.status{font-weight:700;font-size:16px;padding:6px 8px;border-radius:4px;display:inline-block}
.good{background:#2da44e;color:#fff}.warn{background:#d4a72c;color:#1b1f24}
.bad{background:#cf222e;color:#fff}.none{background:#6e7781;color:#fff}
.line{color:#57606a;font-size:12px;margin-top:4px}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px}
.matrix{margin-top:16px}
.matrix thead th{position:sticky;top:0;background:#f6f8fa}
.group th{background:#ddf4ff;font-size:15px}.group th.tally{font-size:12px;font-weight:400}
.sid{white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.title{font-weight:400;color:#1b1f24;font-family:system-ui,sans-serif;font-size:13px;white-space:normal}
.grade{color:#57606a;font-size:11px;font-weight:400}
.proto{font-family:ui-monospace,monospace;font-size:12px;color:#57606a}
td.o{min-width:160px}
.o-passed{background:#dafbe1}.o-failed{background:#ffd8d3}.o-not-applicable{background:#eaeef2;color:#57606a}
.o-skipped{background:#fff8c5}.o-not-run{background:#fff;color:#8c959f}.o-none{background:#fff;color:#8c959f}
details summary{cursor:pointer;font-weight:600}
details p{margin:4px 0 0;font-size:12px;white-space:pre-wrap;max-width:420px}
.dur{color:#57606a;font-size:11px}
.failures{margin-top:8px}.failures p{margin:0;white-space:pre-wrap;max-width:640px;font-size:12px}
details.na{margin-top:16px}details.na>summary{color:#57606a}
"""

_Key = Tuple[str, str]


def _slug(outcome: str) -> str:
    return "o-" + outcome.replace(" ", "-")


def _cell(result: Any) -> str:
    if result is None:
        return '<td class="o o-none">—</td>'
    outcome = str(result.outcome)
    reason = reason_text(str(result.reason))
    duration = f' <span class="dur">{result.duration:.2f} s</span>' if result.duration >= 0.005 else ""
    if reason:
        body = f"<details><summary>{escape(outcome)}</summary><p>{escape(reason)}</p></details>"
    else:
        body = f"{escape(outcome)}{duration}"
    return f'<td class="o {_slug(outcome)}">{body}</td>'


def _verdicts(reports: Sequence[Any]) -> List[str]:
    rows = [
        "<table class=verdicts>",
        "<tr><th></th>" + "".join(f"<th>{escape(r.transport)}</th>" for r in reports) + "</tr>",
    ]
    status_cells = []
    for r in reports:
        status = r.status.value
        line = f'<div class="line">{escape(r.verdict)}</div>' if r.verdict.strip() != status else ""
        status_cells.append(f'<td><span class="status {r.status.tone}">{escape(status)}</span>{line}</td>')
    rows.append("<tr><th>verdict</th>" + "".join(status_cells) + "</tr>")
    rows.append(
        "<tr><th>profile</th>"
        + "".join(f"<td>{escape(profile_of(r) or 'n/a')}</td>" for r in reports)
        + "</tr>"
    )
    rows.append(
        "<tr><th>implementation</th>"
        + "".join(f"<td><code>{escape(r.implementation)}</code> {escape(r.version)}</td>" for r in reports)
        + "</tr>"
    )
    rows.append(
        "<tr><th>cases</th>"
        + "".join(
            "<td>" + " · ".join(f"{r.counts.get(o, 0)} {o}" for o in OUTCOMES if r.counts.get(o, 0)) + "</td>"
            for r in reports
        )
        + "</tr>"
    )
    rows.append(
        "<tr><th>versions</th>"
        + "".join(
            "<td>"
            + escape(", ".join(f"{k} {v}" for k, v in (r.versions or {"python": r.python}).items()))
            + f"<div class=line>{escape(r.generated)}</div></td>"
            for r in reports
        )
        + "</tr>"
    )
    rows.append("</table>")
    return rows


def _tally(found: Dict[_Key, Any], keys: Sequence[_Key]) -> str:
    counts: Dict[str, int] = {}
    for key in keys:
        outcome = str(found[key].outcome) if key in found else "not run"
        counts[outcome] = counts.get(outcome, 0) + 1
    return " · ".join(f"{counts[o]} {o}" for o in OUTCOMES if o in counts)


def _found(reports: Sequence[Any]) -> List[Dict[_Key, Any]]:
    return [{(x.scenario_id, x.protocol): x for x in r.results} for r in reports]


def _keys(found: List[Dict[_Key, Any]]) -> List[_Key]:
    order = {s.id: n for n, s in enumerate(CATALOGUE)}
    return sorted({k for f in found for k in f}, key=lambda k: (order.get(k[0], len(order)), k[1]))


def _failures(reports: Sequence[Any]) -> List[str]:
    """Every failed case first, its reason open: what a reader of a failing report came for."""
    failed = [(r, x) for r in reports for x in r.results if str(x.outcome) == "failed"]
    if not failed:
        return []
    rows = [f"<h2 id=failures>{len(failed)} failed case(s)</h2>", "<table class=failures>"]
    rows.append("<tr><th>transport</th><th>scenario</th><th>protocol</th><th>why</th></tr>")
    for report, result in failed:
        scenario = by_id(result.scenario_id)
        rows.append(
            f"<tr><td>{escape(report.transport)}</td>"
            f'<td class="sid">{escape(scenario.short_id)}<br><span class="title">{escape(scenario.title)}'
            f'</span></td><td class="proto">{escape(result.protocol)}</td>'
            f'<td class="o o-failed"><p>{escape(reason_text(str(result.reason)))}</p></td></tr>'
        )
    rows.append("</table>")
    return rows


def _all_not_applicable(found: List[Dict[_Key, Any]], key: _Key) -> bool:
    return all(key not in f or str(f[key].outcome) == "not applicable" for f in found)


def _matrices(reports: Sequence[Any]) -> List[str]:
    """The matrix of cases that ran somewhere; the rows not applicable to any transport are
    folded away below it (a tcp-only transport has 95 of 143)."""
    found = _found(reports)
    keys = _keys(found)
    folded = [k for k in keys if _all_not_applicable(found, k)]
    rows = _matrix(reports, found, [k for k in keys if k not in set(folded)])
    if folded:
        rows.append(
            f"<details class=na><summary>{len(folded)} case(s) not applicable to any transport</summary>"
        )
        rows += _matrix(reports, found, folded, "na-")
        rows.append("</details>")
    return rows


def _matrix(
    reports: Sequence[Any], found: List[Dict[_Key, Any]], keys: List[_Key], anchor: str = ""
) -> List[str]:
    head = "".join(f"<th>{escape(r.transport)}</th>" for r in reports)
    rows = [
        "<table class=matrix>",
        f"<thead><tr><th>scenario</th><th>protocol</th>{head}</tr></thead>",
        "<tbody>",
    ]
    for group, title in GROUPS.items():
        in_group = [k for k in keys if by_id(k[0]).ac == group]
        if not in_group:
            continue
        tallies = "".join(f'<th class="tally">{escape(_tally(f, in_group))}</th>' for f in found)
        rows.append(
            f'<tr class="group" id="{escape(anchor + group)}"><th colspan="2">'
            f"{escape(group)} — {escape(title)}</th>{tallies}</tr>"
        )
        for scenario_id in dict.fromkeys(k[0] for k in in_group):
            scenario = by_id(scenario_id)
            protocols = [k for k in in_group if k[0] == scenario_id]
            for n, key in enumerate(protocols):
                label = ""
                if n == 0:
                    label = (
                        f'<th class="sid" rowspan="{len(protocols)}">{escape(scenario.short_id)}'
                        f'<br><span class="title">{escape(scenario.title)}</span>'
                        f'<br><span class="grade">{scenario.grade} · {scenario.priority} · '
                        f"{scenario.level}</span></th>"
                    )
                cells = "".join(_cell(f.get(key)) for f in found)
                rows.append(f'<tr>{label}<td class="proto">{escape(key[1])}</td>{cells}</tr>')
    rows += ["</tbody>", "</table>"]
    return rows


def render_html(reports: Sequence[Any]) -> str:
    """The whole page for the transport reports of one run."""
    names = ", ".join(r.transport for r in reports)
    legend = "".join(f'<span class="{_slug(o)}">{escape(o)}</span>' for o in OUTCOMES)
    page = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(STORY)} conformance: {escape(names)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(STORY)} conformance: {escape(names)}</h1>",
        f'<p class="meta">tea-conformance {escape(SUITE_VERSION)} · '
        f"catalogue {escape(catalogue_digest()[:19])} · "
        f"{escape(time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))} · click an outcome to read why</p>",
        *_verdicts(reports),
        *_failures(reports),
        f'<p class="legend">{legend}</p>',
        *_matrices(reports),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(page)
