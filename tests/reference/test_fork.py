"""After fork(): a ZeroMQ transport's copy in the child refuses use and leaves the parent's alone."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable, List

import pytest
import zmq
from tea_transports import (
    TransportStateError,
    TransportTimeoutError,
)
from waits import in_thread, until

Make = Callable[..., Any]


def _reaped(pid: int, status: List[int]) -> bool:
    done, code = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        status.append(code)
    return done == pid


@pytest.mark.requires("fork")
def test_forked_copy_refuses_use_and_leaves_parent_alone(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    sub = zmq_transport(receive_timeout=1000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every use refused with a clear error, close() harmless
        code = 1
        try:
            try:
                sub.receive()
            except TransportStateError as exc:
                code = 0 if "after fork() the child must create its own transport" in str(exc) else 2
            for call in (lambda: pub.send(b"x"), pub.get_stats, lambda: pub.wait_for_subscribers(1, 0.1)):
                try:
                    call()
                    code = 3
                except TransportStateError:
                    pass
            sub.close()
            pub.close()
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    done = until(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, timeout=20)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    report = os.read(read, 1)
    os.close(read)
    assert done and report == b"\x00", f"the child hung or misbehaved (report {report!r})"
    # the parent's transports are untouched: a receive times out as configured, no spin
    (outcome,) = in_thread(sub.receive, 10) or [None]
    assert isinstance(outcome, TransportTimeoutError), (
        f"the parent's receive() after the child closed: {outcome!r}"
    )
    (outcome,) = in_thread(lambda: pub.wait_for_subscribers(2, timeout=1), 10) or [None]
    assert isinstance(outcome, TransportTimeoutError), outcome
    pub.send(b"still here")
    assert sub.receive() == b"still here"


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: fork() with a thread running
@pytest.mark.requires("fork")
def test_fork_while_another_thread_holds_the_lock(zmq_transport: Make) -> None:
    """A parent's thread inside a call at the fork holds the transport's lock in the child's
    copy too, and no one there would release it: the child must get its error, not hang."""
    pub = zmq_transport()
    pub.bind("inproc://t4-held")
    sub = zmq_transport(receive_timeout=1000)
    sub.connect(pub.endpoint)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sub._io_lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sub.receive(flags=zmq.NOBLOCK)
            except TransportStateError:
                code = 0
            finally:
                os._exit(code)
        status: List[int] = []
        done = until(lambda: _reaped(pid, status), timeout=20)
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert done, "the child hung on the lock a parent's thread held at the fork"
        assert os.waitstatus_to_exitcode(status[0]) == 0, "the child got no TransportStateError"
    finally:
        release.set()
        holder.join(10)
