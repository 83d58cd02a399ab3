"""UnixPipeTransport under real use: fork, close from a signal handler, a second
consumer of one FIFO. Each scenario runs in real child processes with deadlines, so a
regression fails here instead of hanging the test run."""

from __future__ import annotations

import os
import signal
import subprocess

import in_child
import pytest
from tea_transports import AddressInUseError, TransportConfig, UnixPipeTransport

pytestmark = pytest.mark.requires("fifo")

DEADLINE_S = 30


def run_child(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the child ``name`` of ``in_child``; a hang there ends at the deadline as a failure."""
    try:
        return subprocess.run(
            in_child.command(name, *args),
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child hung past {DEADLINE_S} s; stderr so far: {exc.stderr!r}")


# -- a forked child must not harm the parent -------------------------------------------------------


def test_forked_child_leaves_the_parents_pipe_alone(ipc_dir: str) -> None:
    result = run_child("fork_leaves_the_parent_alone", f"{ipc_dir}/fifo")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    child = lines[0]
    assert child.startswith("child: refused:"), lines
    assert "created in process" in child and "after fork()" in child, child
    assert lines[1:] == [
        "fifo exists: True",
        "wake pipes quiet: True",
        "parent received: b'after the fork'",
        "fifo removed by its owner: True",
    ], result.stderr


def test_fork_while_another_thread_waits(ipc_dir: str) -> None:
    result = run_child("fork_while_another_thread_waits", f"{ipc_dir}/fifo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "child refused receive True",
        "child refused send True",
        "parent received: [b'parent still works']",
    ], result.stderr


def test_a_forked_child_keeps_no_pipe_open(ipc_dir: str) -> None:
    result = run_child("forked_child_holds_nothing", f"{ipc_dir}/fifo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["received: b'last'", "end of stream while the child lives"]


# -- close() from a signal handler while the same thread waits -------------------------------------


@pytest.mark.parametrize("reenter", ["close", "reenter"])
@pytest.mark.parametrize("operation", ["receive", "send"])
def test_close_from_a_signal_handler_ends_the_wait(ipc_dir: str, operation: str, reenter: str) -> None:
    """SIGTERM's handler closes the transport this thread is waiting on; with "reenter" it
    first calls the interrupted operation again, which must be refused, not corrupt it."""
    proc = subprocess.Popen(
        in_child.command("close_from_a_signal_handler", operation, f"{ipc_dir}/fifo", reenter),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # SIGTERM until the child ends or the deadline passes; each wait is the poll
        deadline_polls = DEADLINE_S * 20
        for _ in range(deadline_polls):
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            pytest.fail(f"{operation}() never ended after close() from a SIGTERM handler: deadlock")
        out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    if reenter == "reenter":
        assert lines.pop(0) == "re-entry refused: True", lines
    assert lines[0].startswith(f"closed: cannot {operation}"), lines
    assert lines[1:] == ["connected after close: False", "fifo removed: True"], err


# -- one consumer per FIFO -------------------------------------------------------------------------


def test_second_fifo_consumer_refused(ipc_dir: str) -> None:
    address = f"ipc://{ipc_dir}/fifo"
    with UnixPipeTransport(TransportConfig(options={"send_timeout": 5000})) as writer:
        writer.bind(address)
        first = subprocess.Popen(
            in_child.command("consumer", address),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert first.stdout is not None
            assert first.stdout.readline() == "connected\n"
            # a second consumer, in another process (this one), is refused while the first lives
            second = UnixPipeTransport(TransportConfig())
            with pytest.raises(AddressInUseError, match="already has a consumer") as refused:
                second.connect(address)
            assert address in str(refused.value)
            assert second.is_connected is False
            second.close()
            writer.send(b"whole")
            out, err = first.communicate(timeout=DEADLINE_S)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
        assert (first.returncode, out) == (0, "whole\n"), err
        # the first consumer is gone: its lock went with it, so a new consumer may connect
        with UnixPipeTransport(TransportConfig(options={"receive_timeout": 5000})) as third:
            third.connect(address)
            writer.send(b"again")
            assert third.receive() == b"again"


def test_consumer_lock_is_not_taken_by_a_refused_connect(ipc_dir: str) -> None:
    address = f"ipc://{ipc_dir}/fifo"
    with UnixPipeTransport(TransportConfig()) as writer, UnixPipeTransport(TransportConfig()) as first:
        writer.bind(address)
        first.connect(address)
        for _ in range(3):  # refusals leak no descriptor and leave the first consumer working
            with UnixPipeTransport(TransportConfig()) as extra, pytest.raises(AddressInUseError):
                extra.connect(address)
        writer.send(b"still one stream")
        assert first.receive() == b"still one stream"
