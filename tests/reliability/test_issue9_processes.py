"""Issue 9 with real processes: exit flushes within linger, close() from signal handlers,
concurrent ipc binders, a foreign ZAP authenticator, running out of descriptors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from actor_process import Actor
from tea_transports import TransportConfig, TransportTimeoutError, create_transport

_IPC = pytest.mark.requires("ipc")


def run_script(code: str, timeout: float = 60, **kwargs: Any) -> Dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return the JSON object of its last stdout line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"rc {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    )
    result: Dict[str, Any] = json.loads(lines[-1])
    return result


PUBLISH_AND_EXIT = """
import json, sys
from tea_transports import TransportConfig, create_transport
address, count, size, options = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))
pub.bind(address)
print(json.dumps({"endpoint": pub.endpoint}), flush=True)
pub.wait_for_subscribers(1, timeout=30)
print(json.dumps({"subscribed": True}), flush=True)
for i in range(count):
    pub.send(b"%08d" % i + b"." * (size - 8))
pub.close()
print(json.dumps({"closed": True}), flush=True)
"""


def _publisher(address: str, count: int, size: int, options: Dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISH_AND_EXIT, address, str(count), str(size), json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("protocol", "subscriber_hwm"),
    [
        ("tcp", 10),
        pytest.param("ipc", 1000, marks=_IPC),
        pytest.param(
            "ipc", 10,
            marks=[_IPC, pytest.mark.xfail(
                reason="remains (libzmq): ipc with a subscriber mark of 10 lost 28-37 of 5,000 at exit "
                "even with the context terminated; see README, Reliability", strict=False
            )],
        ),
    ],
)  # fmt: skip
def test_issue9_item1_linger_applies_at_exit(
    protocol: str, subscriber_hwm: int, ipc_dir: str, record_property: Any
) -> None:
    address = "tcp://127.0.0.1:*" if protocol == "tcp" else f"ipc://{ipc_dir}/exit.sock"
    count = 5000
    # the backlog stays in the publisher's queue: a small subscriber-side mark, and the
    # subscriber starts reading only once the publisher has closed (and is exiting)
    publisher = _publisher(address, count, 1024, {"on_hwm": "block", "linger": -1, "high_water_mark": 10_000})
    try:
        assert publisher.stdout is not None
        endpoint = json.loads(publisher.stdout.readline())["endpoint"]
        options = {"receive_timeout": 5000, "high_water_mark": subscriber_hwm}
        sub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))
        with sub:
            sub.connect(endpoint)
            assert json.loads(publisher.stdout.readline()) == {"subscribed": True}
            assert json.loads(publisher.stdout.readline()) == {"closed": True}
            got = 0
            try:
                while got < count:
                    got += len(sub.receive_many())
            except TransportTimeoutError:
                pass
        publisher.wait(30)
    finally:
        publisher.kill()
        publisher.wait()
        if publisher.stdout:
            publisher.stdout.close()
    print(
        f"FIGURE exit with linger=-1, {protocol}, subscriber hwm {subscriber_hwm}: {got} of {count} delivered"
    )
    record_property("delivered", got)
    assert got == count, f"{got} of {count}: messages accepted before close() were lost at exit"


@_IPC
def test_issue9_item1_finite_linger_bounds_the_exit(actors: List[Actor], ipc_dir: str) -> None:
    """A frozen subscriber cannot keep a linger=1000 publisher alive (a hang guard, not a speed bound)."""
    address = f"ipc://{ipc_dir}/frozen.sock"
    publisher = _publisher(address, 200_000, 1024, {"linger": 1000, "high_water_mark": 100_000})
    try:
        assert publisher.stdout is not None
        endpoint = json.loads(publisher.stdout.readline())["endpoint"]
        subscriber = Actor("subscribe", endpoint, str(10**9))
        actors.append(subscriber)
        subscriber.expect("connected")
        assert json.loads(publisher.stdout.readline()) == {"subscribed": True}
        os.kill(subscriber.pid, signal.SIGSTOP)
        assert json.loads(publisher.stdout.readline()) == {"closed": True}
        closed = time.monotonic()
        publisher.wait(30)
        took = time.monotonic() - closed
    finally:
        publisher.kill()
        publisher.wait()
        if publisher.stdout:
            publisher.stdout.close()
        for actor in actors:
            os.kill(actor.pid, signal.SIGCONT)
    print(f"FIGURE exit with linger=1000 and a frozen subscriber: {took:.2f} s after close()")
    assert took < 1 + 5, f"the process took {took:.1f} s to exit after close() with linger=1000"


CHURN = """
import json, socket
from tea_transports import TransportConfig, create_transport
make = lambda **o: create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=o))
pub = make()
pub.bind("tcp://127.0.0.1:*")
host, port = pub.endpoint[len("tcp://"):].rsplit(":", 1)
for _ in range(1500):  # each connection that comes and goes: two monitor events, nobody reads them
    with socket.create_connection((host, int(port)), timeout=10):
        pass
sub = make(receive_timeout=5000)
sub.connect(pub.endpoint)
pub.wait_for_subscribers(1, timeout=10)
pub.send(b"still delivering")
got = sub.receive()
sub.close()
pub.close()
print(json.dumps({"got": got.decode()}))
"""


def test_issue9_item9_churn_cannot_stall_an_idle_publisher() -> None:
    """libzmq blocks a socket's I/O thread when its monitor's queue (1,000 events) is full: a
    publisher that made no call while subscribers came and went stopped accepting and
    delivering, and its close() hung (the script timed out). Now that queue has no mark."""
    assert run_script(CHURN, timeout=90) == {"got": "still delivering"}


SUBSCRIBE_THEN_EXIT = """
import sys
from tea_transports import TransportConfig, create_transport
sub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options={"linger": -1}))
sub.connect(sys.argv[1])
assert sub.receive() == b"go"
print("received", flush=True)
sys.stdin.readline()  # by then the publisher has closed
sub.close()
"""


@_IPC
def test_issue9_item1_a_subscriber_whose_publisher_left_exits(ipc_dir: str) -> None:
    """linger is for a publisher's messages: a subscriber (linger=-1) whose publisher has
    gone holds only a subscription to resend, and used to wait for it at exit forever."""
    pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
    pub.bind(f"ipc://{ipc_dir}/left.sock")
    with subprocess.Popen(
        [sys.executable, "-c", SUBSCRIBE_THEN_EXIT, str(pub.endpoint)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdin is not None and child.stdout is not None
            pub.wait_for_subscribers(1, timeout=30)
            pub.send(b"go")
            assert child.stdout.readline().strip() == "received"
            pub.close()
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.wait(30) == 0  # TimeoutExpired: it hung at exit
        finally:
            child.kill()
            pub.close()


SIGNAL_CLOSE = """
import json, signal, threading
from tea_transports import TransportClosedError, TransportConfig, create_transport
make = lambda **o: create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=o))
pub = make()
pub.bind("tcp://127.0.0.1:*")
stop = threading.Event()
ended = 0
for trial in range(TRIALS):
    sub = make()
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    feeder = threading.Thread(target=lambda: [pub.send(b"x") for _ in range(200)])
    feeder.start()  # so the signal sometimes lands inside a socket call, lock held
    signal.signal(signal.SIGALRM, lambda *_: sub.close())
    signal.setitimer(signal.ITIMER_REAL, 0.001 + (trial % 20) / 2000)
    try:
        while True:
            sub.receive()
    except TransportClosedError:
        ended += 1
    feeder.join()
    assert not sub.is_connected
    pub.wait_for_subscribers(0, timeout=1)
print(json.dumps({"ended": ended}))
"""


@pytest.mark.requires("sigalrm")
def test_issue9_item5_close_from_a_signal_handler() -> None:
    trials = 100
    result = run_script(SIGNAL_CLOSE.replace("TRIALS", str(trials)), timeout=120)
    print(f"FIGURE close() from SIGALRM during receive(): {result['ended']} of {trials} ended closed")
    assert result["ended"] == trials


SIGTERM_CLOSE = """
import json, signal, sys
from tea_transports import TransportClosedError, TransportConfig, create_transport
sub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
sub.connect("tcp://127.0.0.1:1")
signal.signal(signal.SIGTERM, lambda *_: sub.close())
print(json.dumps({"event": "waiting"}), flush=True)
try:
    sub.receive()
except TransportClosedError:
    print(json.dumps({"event": "closed"}), flush=True)
"""


@pytest.mark.requires("job_control")  # kill -TERM from another process
def test_issue9_item5_sigterm_from_another_process_closes_a_waiting_receive() -> None:
    process = subprocess.Popen([sys.executable, "-c", SIGTERM_CLOSE], stdout=subprocess.PIPE, text=True)
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


BINDERS = """
import json, os
from tea_transports import AddressInUseError, TransportConfig, create_transport
path = os.path.join(DIR, "race.sock")
both = winners = 0
for trial in range(TRIALS):
    go_r, go_w = os.pipe()
    end_r, end_w = os.pipe()
    out_r, out_w = os.pipe()
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os.read(go_r, 1)
            t = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
            try:
                t.bind("ipc://" + path)
                os.write(out_w, b"1")
            except AddressInUseError:
                os.write(out_w, b"0")
            os.read(end_r, 1)  # stay bound until told
            t.close()
            os._exit(0)
        children.append(pid)
    os.write(go_w, b"gg")
    results = os.read(out_r, 1) + os.read(out_r, 1)
    both += results == b"11"
    winners += results.count(b"1")
    os.write(end_w, b"gg")
    for pid in children:
        os.waitpid(pid, 0)
    for fd in (go_r, go_w, end_r, end_w, out_r, out_w):
        os.close(fd)
print(json.dumps({"both": both, "winners": winners, "left": os.path.exists(path)}))
"""


@_IPC
def test_issue9_item6_concurrent_ipc_binders(ipc_dir: str) -> None:
    trials = 60
    result = run_script(BINDERS.replace("DIR", repr(ipc_dir)).replace("TRIALS", str(trials)), timeout=120)
    print(f"FIGURE two processes binding one ipc path at once, {trials} trials: {result}")
    assert result["both"] == 0, f"both binders succeeded in {result['both']} of {trials} trials"
    assert result["left"] is False


RELATIVE = """
import json, os
from tea_transports import TransportConfig, create_transport
a, b = os.path.join(DIR, "a"), os.path.join(DIR, "b")
os.mkdir(a); os.mkdir(b)
open(os.path.join(b, "data.sock"), "w").write("unrelated")
os.chdir(a)
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
pub.bind("ipc://data.sock")
os.chdir(b)
pub.close()
print(json.dumps({"unrelated_kept": os.path.exists(os.path.join(b, "data.sock")),
                  "socket_removed": not os.path.exists(os.path.join(a, "data.sock"))}))
"""


@_IPC
def test_issue9_item6_relative_ipc_path_then_chdir(tmp_path: Path) -> None:
    result = run_script(RELATIVE.replace("DIR", repr(str(tmp_path))))
    assert result == {"unrelated_kept": True, "socket_removed": True}


FOREIGN_ZAP = """
import json, zmq
from zmq.auth.thread import ThreadAuthenticator
from tea_transports import ConfigurationError, TransportConfig, create_transport
mine = ThreadAuthenticator(zmq.Context.instance())
mine.start()
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options={
    "curve_secret_key_file": SECRET, "curve_allowed_clients": ALLOWED}))
try:
    pub.bind("tcp://127.0.0.1:*")
    outcome = "bound"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
mine.stop()
print(json.dumps({"outcome": outcome}))
"""


def test_issue9_item10_own_zap_authenticator_conflict_is_named(curve_keys: Dict[str, str]) -> None:
    code = FOREIGN_ZAP.replace("SECRET", repr(curve_keys["server_secret"]))
    result = run_script(code.replace("ALLOWED", repr(curve_keys["allowed"])))
    assert result["outcome"].startswith("ConfigurationError"), result
    assert "zeromq.zap.01" in result["outcome"] and "authenticator" in result["outcome"]


FORKED_CURVE_CHILD = """
import json, os, time
from tea_transports import TransportConfig, TransportStateError, create_transport
pub = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options={
    "curve_secret_key_file": SECRET, "curve_allowed_clients": ALLOWED}))
pub.bind("tcp://127.0.0.1:*")
pid = os.fork()
if pid == 0:
    try:
        pub.send(b"x")
    except TransportStateError:
        pass
    raise SystemExit(0)  # a normal exit: atexit hooks and garbage collection run
deadline = time.monotonic() + 20
while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG)[0] == 0:
    pass
exited = os.waitpid(pid, os.WNOHANG) if time.monotonic() >= deadline else (pid, 0)
if time.monotonic() >= deadline:
    os.kill(pid, 9)
pub.close()
print(json.dumps({"child_exited": time.monotonic() < deadline}))
"""


@pytest.mark.requires("fork")
def test_issue9_item4_forked_child_of_a_curve_publisher_exits(curve_keys: Dict[str, str]) -> None:
    code = FORKED_CURVE_CHILD.replace("SECRET", repr(curve_keys["server_secret"]))
    result = run_script(code.replace("ALLOWED", repr(curve_keys["allowed"])), timeout=60)
    assert result == {"child_exited": True}, "the forked child hung at exit in the parent's authenticator"


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
def test_issue9_item12_out_of_descriptors_is_a_transport_error_and_leaks_nothing() -> None:
    result = run_script(OUT_OF_FDS)
    assert result["errors"] and not result["raw"], result
    assert "file descriptors" in result["errors"][0]
    assert result["leaked_sockets"] <= 0 and result["fd_growth"] <= 0, f"failed binds leaked: {result}"
