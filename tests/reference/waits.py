"""Waits with deadlines shared by the reference tests: never a sleep as synchronisation."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

__all__ = ["in_thread", "until"]


def in_thread(call: Callable[[], Any], timeout: float = 5) -> List[Any]:
    """Run ``call`` in a thread; return [result] or [exception]; [] if still running at the deadline."""
    out: List[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except BaseException as exc:  # reported to the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return out


def until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
    return condition()
