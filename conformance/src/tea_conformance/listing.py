"""The catalogue before a run: ``pytest --list-scenarios[=json]`` and the feature table.

With ``--transport`` each scenario also says whether it applies to that transport, on
which protocols, and why not — what declaring (or not declaring) a capability commits the
transport to. The JSON form is for tools; its ``catalogue_digest`` is the one the JSON
report carries, so a tool can tell whether a report and a listing speak of the same
catalogue.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Sequence

from tea_transports import Feature

from .cases import Case, protocols_of
from .catalogue import ALL_PROTOCOLS, CATALOGUE, STORY, Scenario
from .criteria import GROUPS
from .harness import Target

__all__ = ["LISTING_SCHEMA_VERSION", "catalogue_digest", "features_table", "render_listing", "scenario_entry"]

LISTING_SCHEMA_VERSION = 1


def scenario_entry(scenario: Scenario) -> Dict[str, Any]:
    """What the catalogue says about one scenario, as plain data."""
    return {
        "id": scenario.id,
        "ac": scenario.ac,
        "ac_title": GROUPS.get(scenario.ac, ""),
        "level": scenario.level,
        "priority": scenario.priority,
        "grade": scenario.grade,
        "title": scenario.title,
        "patterns": sorted(scenario.patterns),
        "features": sorted(scenario.features),
        # null: every protocol; []: once, protocol-independent
        "protocols": None if scenario.protocols is None else list(scenario.protocols),
        "cross_process": scenario.cross_process,
        "platforms": None if scenario.platforms is None else list(scenario.platforms),
        "reference_only": scenario.reference_only,
        "twin": scenario.twin,
    }


def catalogue_digest() -> str:
    """``sha256:`` of the catalogue's content: changes whenever a scenario or its needs do."""
    canonical = json.dumps([scenario_entry(s) for s in CATALOGUE], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _applicability(target: Target, scenario: Scenario) -> Dict[str, Any]:
    runs: List[str] = []
    not_applicable: Dict[str, str] = {}
    for protocol in protocols_of(scenario, ALL_PROTOCOLS):
        reason = Case(target, scenario, protocol).not_applicable()
        if reason:
            not_applicable[protocol] = reason
        else:
            runs.append(protocol)
    return {"runs_on": runs, "not_applicable": not_applicable}


def _needs(scenario: Scenario) -> str:
    parts = [f"pattern {' or '.join(sorted(scenario.patterns))}"]
    if scenario.features:
        parts.append(f"feature(s) {', '.join(sorted(scenario.features))}")
    if scenario.protocols == ():
        parts.append("once, protocol-independent")
    elif scenario.protocols is not None:
        parts.append(f"protocol {', '.join(scenario.protocols)}")
    if scenario.cross_process:
        parts.append("two processes")
    if scenario.platforms is not None:
        parts.append(f"platform {', '.join(scenario.platforms)}")
    if scenario.reference_only:
        parts.append(f"reference-only (twin {scenario.twin})")
    return "; ".join(parts)


def render_listing(targets: Sequence[Target], fmt: str = "text") -> str:
    """The catalogue as text (grouped by acceptance criterion) or as JSON."""
    if fmt == "json":
        entries = []
        for scenario in CATALOGUE:
            entry = scenario_entry(scenario)
            if targets:
                entry["applicability"] = {t.name: _applicability(t, scenario) for t in targets}
            entries.append(entry)
        document = {
            "schema_version": LISTING_SCHEMA_VERSION,
            "story": STORY,
            "catalogue_digest": catalogue_digest(),
            "transports": [t.name for t in targets],
            "scenarios": entries,
        }
        return json.dumps(document, indent=2) + "\n"
    lines = [f"{len(CATALOGUE)} scenarios of {STORY} and TEA-CONF ({catalogue_digest()[:19]})", ""]
    for group, title in GROUPS.items():
        scenarios = [s for s in CATALOGUE if s.ac == group]
        if not scenarios:
            continue
        lines.append(f"{group}: {title}")
        for s in scenarios:
            lines.append(f"  {s.id:<27} {s.level:<11} {s.priority} {s.grade:<6} {s.title}")
            lines.append(f"  {'':<27} needs {_needs(s)}")
            for target in targets:
                found = _applicability(target, s)
                if found["runs_on"]:
                    lines.append(f"  {'':<27} {target.name}: runs ({', '.join(found['runs_on'])})")
                by_reason: Dict[str, List[str]] = {}
                for protocol, reason in found["not_applicable"].items():
                    by_reason.setdefault(reason, []).append(protocol)
                for reason, protocols in by_reason.items():
                    lines.append(
                        f"  {'':<27} {target.name}: not applicable ({', '.join(protocols)}): {reason}"
                    )
        lines.append("")
    return "\n".join(lines)


def _features() -> Dict[str, str]:
    return {name: value for name, value in vars(Feature).items() if name.isupper() and isinstance(value, str)}


def _also(scenario: Scenario, feature: str) -> str:
    others = sorted(scenario.features - {feature})
    return f"; with {', '.join(others)}" if others else ""


def features_table() -> str:
    """Markdown: each ``Feature``, and the scenarios declaring it turns on (from the catalogue)."""
    lines = ["| `Feature` | declaring it turns on | scenarios |", "|---|---|---|"]
    for name, value in _features().items():
        turned_on = [s for s in CATALOGUE if value in s.features]
        cells = "<br>".join(
            f"{s.short_id} ({s.ac}, {s.grade}{_also(s, value)}): {s.title}" for s in turned_on
        )
        lines.append(f"| `{name}` (`{value}`) | {len(turned_on)} | {cells or 'none yet'} |")
    return "\n".join(lines) + "\n"
