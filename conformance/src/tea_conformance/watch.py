"""A verdict even when a transport kills the process running the suite.

In a serial run (no xdist, where the controller survives a worker's crash) on a platform
with ``fork``, the session forks once before any case runs: the child runs the session
as usual and journals each outcome to a file; the parent only waits. If the child is
killed — a transport's C code aborting, say — the parent reads the journal, records the
case that was running as failed ("the process died while running it"), prints the
verdict and writes the reports, and exits with the verdict's code. A pytest run nested
in another (pytester's in-process runs) is never forked.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from typing import Any, Callable, Dict, Optional

__all__ = ["Journal", "fork_watcher"]


class Journal:
    """Outcomes as JSON lines, appended and flushed as they happen."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def write(self, **entry: Any) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def read(self) -> Dict[str, Any]:
        """The last entry per node ID."""
        entries: Dict[str, Any] = {}
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                if line.endswith("\n"):  # a line cut by the crash is dropped
                    entry = json.loads(line)
                    entries[entry["nodeid"]] = entry
        return entries


def fork_watcher(on_death: Callable[[Journal, str], int]) -> Optional[Journal]:
    """Fork; in the child return the journal to write; in the parent wait, and exit with
    the child's code, or with ``on_death(journal, why)`` if it was killed. None: no fork."""
    # the platform check tells a type checker; hasattr, a Python built without fork
    if sys.platform == "win32" or not hasattr(os, "fork"):
        return None
    fd, path = tempfile.mkstemp(prefix="tea-conformance-", suffix=".jsonl")
    os.close(fd)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        return Journal(path)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the child, which reports it
    _, status = os.waitpid(pid, 0)
    try:
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            code = on_death(Journal(path), f"the process running the suite was killed by {name}")
        else:
            code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
    finally:
        os.unlink(path)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
