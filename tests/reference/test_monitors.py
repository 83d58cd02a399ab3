"""A socket monitor never freezes libzmq's I/O thread, and with it the process's other
sockets: not when its transport is dropped without close(), nor when bind or connect runs
out of descriptors half-way, nor when the shared context is terminated.

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


@pytest.mark.requires("ipc", "proc")
@pytest.mark.parametrize("role", ["publisher", "subscriber"])
def test_running_out_of_descriptors_half_way_leaves_no_monitor_behind(ipc_dir: str, role: str) -> None:
    # some limit runs out between the socket and its monitor's reader: that socket, left
    # bound with its events on and no reader, froze the I/O thread at its next peer
    command = in_child.command("monitor_out_of_descriptors", role, ipc_dir)
    child = subprocess.run(command, capture_output=True, text=True, timeout=120)
    expected = ["TransportError", "succeeded", "delivered"]
    assert child.stdout.split() == expected, (child.stdout, child.stderr[-2000:])


def test_close_after_the_context_was_terminated_lets_term_end() -> None:
    # close() raised ContextTerminated from the monitor and left both sockets open, so
    # term() waited for them for good
    child = subprocess.run(
        in_child.command("close_after_context_term"), capture_output=True, text=True, timeout=60
    )
    assert child.stdout.split() == ["TransportStateError", "closed", "term", "ended"], (
        child.stdout,
        child.stderr[-2000:],
    )
