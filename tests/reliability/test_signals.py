"""Signals in real processes: close() from a handler, and SIGTERM from another process, end a
waiting receive()."""

from __future__ import annotations

import json
import subprocess

import pytest
from scripts import child_command, run_child


@pytest.mark.requires("sigalrm")
def test_close_from_a_signal_handler() -> None:
    trials = 100
    result = run_child("signal_close", str(trials), timeout=120)
    print(f"FIGURE close() from SIGALRM during receive(): {result['ended']} of {trials} ended closed")
    assert result["ended"] == trials


@pytest.mark.requires("job_control")  # kill -TERM from another process
def test_sigterm_from_another_process_closes_a_waiting_receive() -> None:
    process = subprocess.Popen(child_command("sigterm_close"), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["event"] == "waiting"
        # wait until the receive() is inside its wait: then SIGTERM, from another process
        killer = subprocess.run(["kill", "-TERM", str(process.pid)], timeout=10)
        assert killer.returncode == 0
        assert process.wait(20) == 0
        assert json.loads(process.stdout.readline())["event"] == "closed"
    finally:
        process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
