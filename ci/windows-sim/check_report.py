"""Check a conformance report from the simulated-Windows run (``tox -e windows-sim``).

The verdict must be CERTIFIED, every ipc case graded not applicable *on this platform*
(never passed, never failed), and the Windows paths really run: inproc within one process
(INT-010) and tcp across processes (E2E-001, five subscriber processes; E2E-003).

Usage: ``python ci/windows-sim/check_report.py REPORT.json``; exit 1 with the reasons.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Tuple

MUST_PASS = [
    ("TEA-STREAM-002.2-INT-010", "inproc"),
    ("TEA-STREAM-002.2-E2E-001", "tcp"),
    ("TEA-STREAM-002.2-E2E-003", "tcp"),
]


def problems(report: Dict[str, Any]) -> List[str]:
    found: List[str] = []
    for transport in report["transports"]:
        name = transport.get("transport", "?")
        if transport["status"] != "CERTIFIED":
            found.append(f"{name}: verdict {transport['status']}, not CERTIFIED")
        outcomes: Dict[Tuple[str, str], Tuple[str, str]] = {
            (r["scenario_id"], r["protocol"]): (r["outcome"], r["reason"] or "") for r in transport["results"]
        }
        ipc = {key: value for key, value in outcomes.items() if key[1] == "ipc"}
        if not ipc:
            found.append(f"{name}: no ipc case was collected")
        for (scenario, _), (outcome, reason) in sorted(ipc.items()):
            if outcome != "not applicable" or "on this platform" not in reason:
                found.append(f"{name}: {scenario} over ipc was {outcome!r} ({reason}), not n/a here")
        for key in MUST_PASS:
            if outcomes.get(key, ("missing", ""))[0] != "passed":
                found.append(f"{name}: {key[0]} over {key[1]} was {outcomes.get(key, ('missing',))[0]}")
    return found


def main(path: str) -> int:
    with open(path, encoding="utf-8") as file:
        found = problems(json.load(file))
    for line in found:
        print(f"windows-sim: {line}", file=sys.stderr)
    if not found:
        print(f"windows-sim: {path}: CERTIFIED; ipc not applicable on this platform; inproc and tcp passed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
