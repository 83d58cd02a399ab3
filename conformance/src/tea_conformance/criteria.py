"""Titles of the groups a scenario belongs to: the story's acceptance criteria (AC1 … AC10,
in the story's own words where they fit any transport), its risk areas, and the TEA-CONF
contract families.

Reports show them beside each group so a reader never needs the story open.
"""

from __future__ import annotations

from typing import Dict

__all__ = ["GROUPS", "group_title"]

#: every group in report order, with its title
GROUPS: Dict[str, str] = {
    "AC1": "the transport implements the Transport interface",
    "AC2": "the publisher calls bind(), subscribers call connect()",
    "AC3": "all subscribers receive all published messages (fan-out)",
    "AC4": "topic filtering with the subscribe_filter option",
    "AC5": "the high_water_mark option prevents memory exhaustion",
    "AC6": "works with the IPC protocol on Linux/macOS",
    "AC7": "works on Windows using inproc:// (same process) or tcp://127.0.0.1 (cross-process)",
    "AC8": "works with the TCP protocol for network streaming",
    "AC9": "the linger option controls close behaviour",
    "AC10": "a slow subscriber warning when the high water mark is reached",
    "risk": "the story's risk areas: resource cleanup, the shared context",
    "roles": "TEA-CONF: each end keeps to its role",
    "lifecycle": "TEA-CONF: open, close, timeouts, errors and descriptors",
    "delivery": "TEA-CONF: what arrives, in which order, under load and restarts",
    "joining": "TEA-CONF: a new subscription takes effect exactly, whatever the queue, process or filters",
    "model": "TEA-CONF: any sequence of operations agrees with a model of PUB/SUB",
}


def group_title(group: str) -> str:
    """The title of an acceptance criterion or contract family ("" if unknown)."""
    return GROUPS.get(group, "")
