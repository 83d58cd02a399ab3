"""Waits with deadlines shared by the reference tests: never a sleep as synchronisation."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List

__all__ = ["in_thread", "until", "waiting_in"]


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


def waiting_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is (blocked) inside a Python function of that name right now."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
