"""A publisher or subscriber process for the fault tests (see actors.py)."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ACTORS = str(Path(__file__).with_name("actors.py"))


class Actor:
    """A publisher or subscriber process; `expect()` reads its next JSON report."""

    def __init__(self, *args: str, prefix: Optional[List[str]] = None) -> None:
        command = [*(prefix or []), sys.executable, ACTORS, *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def expect(self, event: str, timeout: float = 30) -> Dict[str, Any]:
        assert self.process.stdout is not None
        # a selector, not select.select(): a test worker may hold descriptors past 1024
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        assert ready, f"no {event!r} report within {timeout} s"
        line = self.process.stdout.readline()
        assert line, f"the actor exited ({self.process.poll()}) before reporting {event!r}"
        report: Dict[str, Any] = json.loads(line)
        assert report["event"] == event, report
        return report

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        """Let a subscriber started with ``"hold": true`` leave."""
        assert self.process.stdin is not None
        self.process.stdin.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream and not stream.closed:
                stream.close()
