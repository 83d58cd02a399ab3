"""Several JSON reports side by side, as Markdown: verdicts and counts per transport, then
the scenarios whose outcomes differ, then those that agree."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

from .catalogue import CATALOGUE, by_id
from .display import OUTCOMES, profile_of, reason_text

__all__ = ["compare"]

_MISSING = "—"


def _title(scenario_id: str) -> str:
    try:
        return by_id(scenario_id).title
    except KeyError:  # a scenario another catalogue version had
        return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class _Column:
    def __init__(self, transport: Dict[str, Any], report: int) -> None:
        self.data = transport
        self.report = report
        self.name = f"{transport.get('transport', '?')} ({transport.get('platform', '?')})"

    def get(self, key: str, default: Any = "") -> Any:
        return self.data.get(key, default)


def compare(documents: Iterable[Dict[str, Any]]) -> str:
    """Render several JSON reports side by side: one column per transport."""
    columns = [_Column(t, n) for n, doc in enumerate(documents, 1) for t in doc["transports"]]
    names = [c.name for c in columns]
    for column in columns:  # the same transport and platform twice: say which report is which
        if names.count(column.name) > 1:
            column.name = column.name[:-1] + f", report {column.report})"
    cells: Dict[Tuple[str, str], Dict[int, Dict[str, Any]]] = {}
    for i, column in enumerate(columns):
        for r in column.get("results", []):
            cells.setdefault((r["scenario_id"], r["protocol"]), {})[i] = r
    order = {s.id: n for n, s in enumerate(CATALOGUE)}
    keys = sorted(cells, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))

    def outcomes(key: Tuple[str, str]) -> List[str]:
        return [cells[key][i]["outcome"] if i in cells[key] else _MISSING for i in range(len(columns))]

    differ = [k for k in keys if len(set(outcomes(k))) > 1]
    agree = [k for k in keys if len(set(outcomes(k))) == 1]
    head = "| | " + " | ".join(c.name for c in columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    lines = [f"# Comparison of {len(columns)} certification(s)", "", head, rule]
    lines.append(
        "| verdict | " + " | ".join(f"**{c.get('status') or 'NO VERDICT'}**" for c in columns) + " |"
    )
    lines.append("| profile | " + " | ".join(_cell(profile_of(_Attrs(c.data))) for c in columns) + " |")
    lines.append(
        "| implementation | "
        + " | ".join(f"`{c.get('implementation')}` {c.get('version')}" for c in columns)
        + " |"
    )
    for outcome in OUTCOMES:
        counts = [int(c.get("counts", {}).get(outcome, 0)) for c in columns]
        if any(counts):
            lines.append(f"| {outcome} | " + " | ".join(str(n) for n in counts) + " |")
    case_head = "| scenario | title | protocol | " + " | ".join(c.name for c in columns) + " |"
    case_rule = "|---|---|---|" + "---|" * len(columns)
    lines += ["", f"## Outcomes that differ ({len(differ)})", ""]
    if differ:
        lines += [case_head, case_rule]
        for key in differ:
            row = []
            for i in range(len(columns)):
                result = cells[key].get(i)
                if result is None:
                    row.append(_MISSING)
                    continue
                reason = reason_text(str(result.get("reason", "")))
                row.append(_cell(f"{result['outcome']}: {reason}" if reason else result["outcome"]))
            lines.append(f"| {key[0]} | {_cell(_title(key[0]))} | {key[1]} | " + " | ".join(row) + " |")
    else:
        lines.append("Every case has the same outcome in every report.")
    lines += ["", f"## The same outcome everywhere ({len(agree)})", ""]
    if agree:
        lines += ["| scenario | title | protocol | outcome |", "|---|---|---|---|"]
        lines += [f"| {k[0]} | {_cell(_title(k[0]))} | {k[1]} | {outcomes(k)[0]} |" for k in agree]
    return "\n".join(lines) + "\n"


class _Attrs:
    """A JSON transport entry read like a report (for profile_of)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.profile = data.get("profile", "")
        self.capabilities = data.get("capabilities", {})
