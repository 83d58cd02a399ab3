"""Reading a report's verdict and profile for display, whatever the verdict's wording.

The renderers (terminal, Markdown, HTML, JUnit, badge) show the report's typed *status*
(``verdict.Status``, carried from the verdict; never parsed out of the verdict's text) and a
*profile*: what the verdict certifies. The profile is the report's own ``profile`` when the
verdict computation names one, else it is derived from the declared capabilities.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

__all__ = ["OUTCOMES", "badge_label", "profile_of", "reason_text"]

#: every outcome a case can have, in display order
OUTCOMES = ("passed", "failed", "not applicable", "skipped", "not run")


def profile_of(report: Any) -> str:
    """What the verdict certifies, e.g. ``pub_sub core + lossless, stats; inproc, ipc, tcp``."""
    profile = str(getattr(report, "profile", "") or "")
    if profile:
        return profile
    caps: Mapping[str, List[str]] = getattr(report, "capabilities", None) or {}
    parts = [", ".join(caps.get(key, [])) for key in ("patterns", "protocols", "features")]
    return "; ".join(p for p in parts if p)


def badge_label(report: Any) -> str:
    """The badge's right half: ``pub_sub core: certified``."""
    profile = str(getattr(report, "profile", "") or "")
    caps: Dict[str, List[str]] = getattr(report, "capabilities", None) or {}
    head = profile.split(";")[0].split(" + ")[0].strip() if profile else "/".join(caps.get("patterns", []))
    status = report.status.value.lower()
    return f"{head}: {status}" if head else status


def reason_text(reason: str) -> str:
    """A case's reason without the ``not applicable:`` its outcome already says."""
    prefix = "not applicable: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason
