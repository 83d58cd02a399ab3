"""UnixPipeTransport under real use: fork, close from a signal handler, a second
consumer of one FIFO. Each scenario runs in real child processes with deadlines, so a
regression fails here instead of hanging the test run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from tea_transports import AddressInUseError, TransportConfig, UnixPipeTransport

pytestmark = pytest.mark.requires("fifo")

DEADLINE_S = 30


def run_script(source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` in a fresh interpreter; a hang there ends at the deadline as a failure."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source), *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the script hung past {DEADLINE_S} s; stderr so far: {exc.stderr!r}")


# -- a forked child must not harm the parent -------------------------------------------------------

FORK_SCRIPT = """
    import gc, os, select, sys
    from tea_transports import TransportConfig, TransportStateError, UnixPipeTransport

    path = sys.argv[1]
    writer = UnixPipeTransport(TransportConfig(options={"send_timeout": 5000}))
    writer.bind("ipc://" + path)
    reader = UnixPipeTransport(TransportConfig(options={"receive_timeout": 5000}))
    reader.connect("ipc://" + path)
    named = UnixPipeTransport(TransportConfig())
    named.bind("inproc://jobs")
    pid = os.fork()
    if pid == 0:  # the child: use, close and drop its inherited copies, then exit normally
        with UnixPipeTransport(TransportConfig()) as own:  # the parent's names are not taken here
            own.bind("inproc://jobs")
        try:
            writer.send(b"from the child")
            print("child: send worked", flush=True)
        except TransportStateError as exc:
            print("child: refused:", exc, flush=True)
        reader.close()
        assert not reader.is_connected
        del writer  # garbage collection of an unclosed copy, as at a child's exit
        gc.collect()
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
    print("fifo exists:", os.path.exists(path))
    wakes = [writer._wake.fileno(), reader._wake.fileno()]
    print("wake pipes quiet:", not select.select(wakes, [], [], 0)[0])
    writer.send(b"after the fork")
    print("parent received:", reader.receive())
    writer.close()
    reader.close()
    named.close()
    print("fifo removed by its owner:", not os.path.exists(path))
"""


def test_forked_child_leaves_the_parents_pipe_alone(ipc_dir: str) -> None:
    result = run_script(FORK_SCRIPT, f"{ipc_dir}/fifo")
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


FORK_WHILE_WAITING_SCRIPT = """
    import os, sys, threading, warnings
    from tea_transports import TransportClosedError, TransportConfig, TransportStateError, UnixPipeTransport

    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads running
    path = sys.argv[1]
    writer = UnixPipeTransport(TransportConfig())
    writer.bind("ipc://" + path)
    reader = UnixPipeTransport(TransportConfig())
    reader.connect("ipc://" + path)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(_receive()))

    def _receive():
        try:
            return reader.receive()
        except TransportClosedError as exc:
            return exc

    waiter.start()
    while not reader._io_lock._is_owned() and waiter.is_alive():  # poll: the wait has begun
        if reader._io_lock.acquire(blocking=False):
            reader._io_lock.release()
        else:
            break
    pid = os.fork()
    if pid == 0:  # the waiting thread does not exist here, but its lock was copied held
        for name, operation in (("receive", reader.receive), ("send", lambda: writer.send(b"x"))):
            try:
                operation()
            except TransportStateError as exc:
                print("child refused", name, "created in process" in str(exc), flush=True)
        reader.close()
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    writer.send(b"parent still works")
    waiter.join(10)
    print("parent received:", outcome)
    reader.close()
    writer.close()
"""


def test_fork_while_another_thread_waits(ipc_dir: str) -> None:
    result = run_script(FORK_WHILE_WAITING_SCRIPT, f"{ipc_dir}/fifo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "child refused receive True",
        "child refused send True",
        "parent received: [b'parent still works']",
    ], result.stderr


CHILD_HOLDS_NOTHING_SCRIPT = """
    import os, sys
    from tea_transports import BrokenTransportError, TransportConfig, TransportTimeoutError, UnixPipeTransport

    path = sys.argv[1]
    writer = UnixPipeTransport(TransportConfig())
    writer.bind("ipc://" + path)
    reader = UnixPipeTransport(TransportConfig(options={"receive_timeout": 3000}))
    reader.connect("ipc://" + path)
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child that lives on without touching the transports
        os.read(release_r, 1)
        os._exit(0)
    writer.send(b"last")
    writer.close()  # the producer is gone: the reader must see the end of the stream
    print("received:", reader.receive())
    try:
        reader.receive()
    except BrokenTransportError:
        print("end of stream while the child lives")
    except TransportTimeoutError:
        print("no end of stream: the child keeps the pipe open")
    os.write(release_w, b"x")
    os.waitpid(pid, 0)
    reader.close()
"""


def test_a_forked_child_keeps_no_pipe_open(ipc_dir: str) -> None:
    result = run_script(CHILD_HOLDS_NOTHING_SCRIPT, f"{ipc_dir}/fifo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["received: b'last'", "end of stream while the child lives"]


# -- close() from a signal handler while the same thread waits -------------------------------------

SIGNAL_SCRIPT = """
    import os, signal, sys
    from tea_transports import NOBLOCK, TransportClosedError, TransportConfig, TransportStateError
    from tea_transports import UnixPipeTransport

    operation, path, reenter = sys.argv[1], sys.argv[2], sys.argv[3] == "reenter"
    writer = UnixPipeTransport(TransportConfig())
    writer.bind("ipc://" + path)
    reader = UnixPipeTransport(TransportConfig())
    reader.connect("ipc://" + path)
    blocked = reader if operation == "receive" else writer

    def waiting_in(frame, name):
        while frame is not None:
            if frame.f_code.co_name == name and frame.f_locals.get("self") is blocked:
                return True
            frame = frame.f_back
        return False

    def on_sigterm(signum, frame):
        # graceful shutdown, as applications write it; signals that arrive outside the
        # wait (before it, or between two sends while the pipe still had room) are ignored,
        # so the test always exercises close() during the wait
        if waiting_in(frame, "_wait"):
            if reenter:  # the same call again, from inside the interrupted one: refused
                try:
                    blocked.receive(flags=NOBLOCK) if operation == "receive" else blocked.send(b"y")
                except TransportStateError as exc:
                    print("re-entry refused:", "signal handler" in str(exc), flush=True)
            blocked.close()

    signal.signal(signal.SIGTERM, on_sigterm)
    print("ready", flush=True)
    try:
        if operation == "receive":
            reader.receive()  # nothing is ever sent: only close() can end it
        else:
            chunk = b"x" * 65536
            while True:  # nobody reads: the pipe fills and send() waits for room
                writer.send(chunk)
    except TransportClosedError as exc:
        print("closed:", exc, flush=True)
    print("connected after close:", blocked.is_connected)
    blocked.close()  # still idempotent
    writer.close()
    reader.close()
    # the test keeps signalling until this process ends: at exit Python restores the default
    # handler (which would kill it), but not an ignored signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("fifo removed:", not os.path.exists(path))
"""


@pytest.mark.parametrize("reenter", ["close", "reenter"])
@pytest.mark.parametrize("operation", ["receive", "send"])
def test_close_from_a_signal_handler_ends_the_wait(ipc_dir: str, operation: str, reenter: str) -> None:
    """SIGTERM's handler closes the transport this thread is waiting on; with "reenter" it
    first calls the interrupted operation again, which must be refused, not corrupt it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SIGNAL_SCRIPT), operation, f"{ipc_dir}/fifo", reenter],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # SIGTERM until the script ends or the deadline passes; each wait is the poll
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

CONSUMER_SCRIPT = """
    import sys
    from tea_transports import TransportConfig, UnixPipeTransport

    with UnixPipeTransport(TransportConfig(options={"receive_timeout": 20000})) as reader:
        reader.connect(sys.argv[1])
        print("connected", flush=True)
        print(reader.receive().decode(), flush=True)
"""


def test_second_fifo_consumer_refused(ipc_dir: str) -> None:
    address = f"ipc://{ipc_dir}/fifo"
    with UnixPipeTransport(TransportConfig(options={"send_timeout": 5000})) as writer:
        writer.bind(address)
        first = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CONSUMER_SCRIPT), address],
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
