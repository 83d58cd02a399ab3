"""The JSON report: its document, its schema version, and reading one back.

Schema (``schema_version`` 2; a field is only ever added within a version, never renamed
or removed — a tool reads the fields it knows and ignores the others)::

    {
      "schema_version": 2,
      "suite": "tea-conformance", "suite_version": "0.1.0", "story": "TEA-STREAM-002.2",
      "catalogue_digest": "sha256:…",       # same as `pytest --list-scenarios=json`
      "generated": "2026-11-29T01:00:00Z",  # UTC
      "transports": [{
        "transport": "zeromq",               # the --transport value
        "implementation": "pkg.module.Class", "version": "1.0",   # the transport's package version
        "platform": "linux", "python": "3.11.7",
        "verdict": "CERTIFIED …",            # the verdict line as printed
        "status": "CERTIFIED",               # its status words (see verdict.py)
        "exit_code": 0,                      # the exit code this verdict gives the run
        "profile": "…",                      # what the verdict certifies, in words
        "certified": {"pattern": "pub_sub", "profile": "pub_sub core", "protocols": […],
                      "features": […],      # declared beyond the profile
                      "missing": […]},      # core capabilities it lacks (NOT CERTIFIED)
        "capabilities": {"patterns": […], "protocols": […], "features": […]},
        "versions": {"python": …, "tea-conformance": …, "<package>": …, "pyzmq": …, "libzmq": …,
                     "platform": …},         # pyzmq/libzmq only when the run loaded pyzmq
        "counts": {"passed": n, "failed": n, "not applicable": n, "skipped": n, "not run": n},
        "by_group": {"AC1": {"passed": n, "failed": n, "not applicable": n}, …},
        "group_titles": {"AC1": "…", …},
        "results": [{
          "scenario_id": "TEA-STREAM-002.2-INT-002", "protocol": "tcp" | "any",
          "title": "…", "ac": "AC3", "grade": "SHALL" | "SHOULD",
          "outcome": "passed" | "failed" | "not applicable" | "skipped" | "not run",
          "reason": "…",                     # why it failed or does not apply ("" if passed)
          "duration": 0.01, "transport": "zeromq"
        }, …]
      }, …]
    }
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Sequence, cast

from . import __version__ as SUITE_VERSION
from .catalogue import STORY, by_id
from .criteria import GROUPS
from .display import profile_of
from .listing import catalogue_digest

__all__ = ["SCHEMA_VERSION", "ReportFileError", "load_report", "to_document"]

SCHEMA_VERSION = 2


class ReportFileError(ValueError):
    """A file given as a report is not one: unreadable, not JSON, or not a tea-conformance report."""


def _result(result: Dict[str, Any]) -> Dict[str, Any]:
    try:
        scenario = by_id(result["scenario_id"])
    except KeyError:  # a scenario of another catalogue version: keep what the run recorded
        return result
    return {**result, "title": scenario.title, "ac": scenario.ac, "grade": scenario.grade}


def _transport(report: Any) -> Dict[str, Any]:
    entry = asdict(report)
    entry["status"] = report.status.value
    entry["profile"] = profile_of(report)
    entry.setdefault("capabilities", {})
    entry.setdefault("versions", {})
    entry["group_titles"] = {g: GROUPS.get(g, "") for g in entry.get("by_group", {})}
    entry["results"] = [_result(r) for r in entry["results"]]
    return entry


def to_document(reports: Sequence[Any]) -> Dict[str, Any]:
    """The JSON report of a run, as plain data."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": "tea-conformance",
        "suite_version": SUITE_VERSION,
        "story": STORY,
        "catalogue_digest": catalogue_digest(),
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "transports": [_transport(r) for r in reports],
    }


def load_report(path: Path) -> Dict[str, Any]:
    """Read a JSON report back.

    :raises ReportFileError: the file cannot be read, is not JSON, or is not a report.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportFileError(f"cannot read the report {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportFileError(
            f"{path} is not a tea-conformance JSON report (not JSON: {exc}); give the .json file "
            f"that --conformance-report wrote"
        ) from None
    transports = document.get("transports") if isinstance(document, dict) else None
    if (
        not isinstance(transports, list)
        or not all(isinstance(t, dict) and isinstance(t.get("results"), list) for t in transports)
        or document.get("suite", "tea-conformance") != "tea-conformance"
    ):
        raise ReportFileError(
            f"{path} is JSON but not a tea-conformance report (no 'transports' with 'results'); "
            f"give the .json file that --conformance-report wrote"
        )
    for transport in transports:
        for result in transport["results"]:
            if not isinstance(result, dict) or not {"scenario_id", "protocol", "outcome"} <= set(result):
                raise ReportFileError(
                    f"{path}: a result of transport {transport.get('transport', '?')!r} lacks "
                    f"scenario_id, protocol or outcome; is the file a tea-conformance report?"
                )
    return cast(Dict[str, Any], document)
