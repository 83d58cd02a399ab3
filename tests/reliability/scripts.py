"""Running a child of ``children.py`` in a fresh interpreter (shared by the reliability tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

__all__ = ["child_command", "run_child"]

CHILDREN = str(Path(__file__).with_name("children.py"))


def child_command(name: str, *args: str) -> List[str]:
    """The command line that runs ``children.NAME(*args)`` in a fresh interpreter."""
    return [sys.executable, CHILDREN, name, *args]


def run_child(name: str, *args: str, timeout: float = 60, **kwargs: Any) -> Dict[str, Any]:
    """Run ``children.NAME(*args)``; return the JSON object of its last stdout line."""
    done = subprocess.run(
        child_command(name, *args), capture_output=True, text=True, timeout=timeout, **kwargs
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"rc {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    )
    result: Dict[str, Any] = json.loads(lines[-1])
    return result
