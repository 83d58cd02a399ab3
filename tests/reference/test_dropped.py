"""A transport dropped without close() must not freeze the process's other sockets.

libzmq sends a socket's monitor events with a blocking send from its I/O thread; when the
monitor's reader is closed first, the next event blocks that thread for good. Garbage
collection closes the reader and the socket in any order, so each child here keeps the
socket of the transport it drops, which holds it open past the reader as the collector
may: a peer then comes or goes, and a new tcp pair must still deliver."""

from __future__ import annotations

import subprocess

import in_child
import pytest


@pytest.mark.parametrize("how", ["dropped", "in-a-cycle"])
@pytest.mark.parametrize("role", ["publisher", "subscriber"])
def test_a_dropped_transports_monitor_stops_before_it_closes(role: str, how: str) -> None:
    child = subprocess.run(
        in_child.command("dropped_unclosed", role, how), capture_output=True, text=True, timeout=60
    )
    assert child.stdout.split() == ["delivered"], (child.stdout, child.stderr[-2000:])
