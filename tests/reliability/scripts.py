"""Running a test's script in a fresh interpreter (shared by the reliability tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, Dict

__all__ = ["run_script"]


def run_script(code: str, timeout: float = 60, **kwargs: Any) -> Dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return the JSON object of its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"rc {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    )
    result: Dict[str, Any] = json.loads(lines[-1])
    return result
