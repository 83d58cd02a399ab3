"""The benchmark harness itself: it cleans up after its runs, leaving no ipc files."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import zmq
from tea_transports.zeromq import private_ipc_dir

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def runs() -> Iterator[Any]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import runs

        yield runs
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("contender", ["reference", "raw-pyzmq", "pipe", "raw-fifo"])
def test_benchmarks_leave_no_ipc_files(runs: Any, contender: str) -> None:
    if contender in ("pipe", "raw-fifo") and not hasattr(os, "mkfifo"):
        pytest.skip("not applicable on this platform: no FIFOs")
    if contender not in ("pipe", "raw-fifo") and not zmq.has("ipc"):
        pytest.skip("not applicable on this platform: this pyzmq has no ipc")
    run = runs.start(contender, "zeromq", "ipc", 1)
    path = run.publisher.endpoint[len("ipc://") :]
    assert os.path.dirname(path) == private_ipc_dir()  # not a predictable name in /tmp
    for _ in range(100):
        run.publisher.send(b"x" * 64)
    [(count, _seconds)] = run.finish()
    assert count == 100
    assert not os.path.exists(path), f"{contender} left {path} behind"
