"""Out of file descriptors: a TransportError, and nothing leaked."""

from __future__ import annotations

import pytest
from scripts import run_script

OUT_OF_FDS = """
import json, os, resource, threading, time
from tea_transports import TransportConfig, TransportError, create_transport
import zmq
zmq.Context.instance()
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
def count_fds():  # listing needs a descriptor of its own: lift the limit while counting
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        return len(os.listdir("/proc/self/fd"))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
held, errors = [], []
for i in range(200):
    t = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
    try:
        t.bind("tcp://127.0.0.1:*")
        held.append(t)
    except TransportError as exc:
        errors.append(str(exc))
    except Exception as exc:
        errors.append("RAW " + type(exc).__name__ + ": " + str(exc))
        break
open_sockets = lambda: len([s for s in zmq.Context.instance()._sockets if not s.closed])
after_first, fds_first = open_sockets(), count_fds()
for i in range(50):  # more failures must not hold more sockets or descriptors
    t = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
    try:
        t.bind("tcp://127.0.0.1:*")
        held.append(t)
    except TransportError:
        pass
leaked = open_sockets() - after_first
deadline = time.monotonic() + 10  # libzmq's reaper closes a failed socket's descriptors in its own thread
pause = threading.Event()
while count_fds() > fds_first and time.monotonic() < deadline:  # poll, with a deadline
    pause.wait(0.01)
fd_growth = count_fds() - fds_first
for t in held:
    t.close()
print(json.dumps({"held": len(held), "errors": errors[:2], "raw": any(e.startswith("RAW") for e in errors),
                  "leaked_sockets": leaked, "fd_growth": fd_growth}))
"""


@pytest.mark.requires("proc")
def test_out_of_descriptors_is_a_transport_error_and_leaks_nothing() -> None:
    result = run_script(OUT_OF_FDS)
    assert result["errors"] and not result["raw"], result
    assert "file descriptors" in result["errors"][0]
    assert result["leaked_sockets"] <= 0 and result["fd_growth"] <= 0, f"failed binds leaked: {result}"
