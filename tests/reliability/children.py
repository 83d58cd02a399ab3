"""What the reliability tests run in a fresh interpreter: ``python children.py NAME ARG...``.

Each child is a function here, so it is linted and typed like the tests. A child that
returns a dict prints it as one JSON line (read by ``scripts.run_child``); the others
report line by line to a test that talks to them while they run. The packages are imported
inside each child, so every child starts from an interpreter that has imported nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

Report = Optional[Dict[str, Any]]


def _zeromq(**options: Any) -> Any:
    from tea_transports import TransportConfig, create_transport

    return create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options))


def _curve_publisher(secret: str, allowed: str) -> Any:
    return _zeromq(curve_secret_key_file=secret, curve_allowed_clients=allowed)


# -- CURVE ---------------------------------------------------------------------------------


def foreign_zap(secret: str, allowed: str) -> Report:
    """An application's own ZAP authenticator runs: binding a CURVE publisher fails, and says why."""
    import zmq
    from zmq.auth.thread import ThreadAuthenticator

    mine = ThreadAuthenticator(zmq.Context.instance())
    mine.start()
    pub = _curve_publisher(secret, allowed)
    try:
        pub.bind("tcp://127.0.0.1:*")
        outcome = "bound"
    except Exception as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    mine.stop()
    return {"outcome": outcome}


def forked_curve_child(secret: str, allowed: str) -> Report:
    """A forked child of a CURVE publisher exits normally (atexit hooks and garbage collection
    run) instead of hanging in the parent's authenticator."""
    from tea_transports import TransportStateError

    pub = _curve_publisher(secret, allowed)
    pub.bind("tcp://127.0.0.1:*")
    pid = os.fork()
    if pid == 0:
        with contextlib.suppress(TransportStateError):
            pub.send(b"x")
        raise SystemExit(0)
    deadline = time.monotonic() + 20
    pause = threading.Event()
    while os.waitpid(pid, os.WNOHANG)[0] == 0:  # poll, with a deadline
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        pause.wait(0.01)
    pub.close()
    return {"child_exited": time.monotonic() < deadline}


# -- subscribers coming and going ----------------------------------------------------------


def churn() -> Report:
    """1,500 connections come and go (two monitor events each, that nobody reads), then a
    subscriber still gets a message."""
    import socket

    pub = _zeromq()
    pub.bind("tcp://127.0.0.1:*")
    host, port = pub.endpoint[len("tcp://") :].rsplit(":", 1)
    for _ in range(1500):
        with socket.create_connection((host, int(port)), timeout=10):
            pass
    sub = _zeromq(receive_timeout=5000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"still delivering")
    got = sub.receive()
    sub.close()
    pub.close()
    return {"got": got.decode()}


# -- out of descriptors --------------------------------------------------------------------


def out_of_fds() -> Report:
    """Binds under a limit of 64 descriptors: the failures, and what they left open."""
    import resource

    import zmq
    from tea_transports import TransportError

    zmq.Context.instance()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    def count_fds() -> int:  # listing needs a descriptor of its own: lift the limit meanwhile
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        try:
            return len(os.listdir("/proc/self/fd"))
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    def open_sockets() -> int:
        return len([s for s in zmq.Context.instance()._sockets if not s.closed])

    held: List[Any] = []
    errors: List[str] = []
    for _ in range(200):
        t = _zeromq()
        try:
            t.bind("tcp://127.0.0.1:*")
            held.append(t)
        except TransportError as exc:
            errors.append(str(exc))
        except Exception as exc:
            errors.append("RAW " + type(exc).__name__ + ": " + str(exc))
            break
    after_first, fds_first = open_sockets(), count_fds()
    for _ in range(50):  # more failures must not hold more sockets or descriptors
        t = _zeromq()
        try:
            t.bind("tcp://127.0.0.1:*")
            held.append(t)
        except TransportError:
            pass
    leaked = open_sockets() - after_first
    # libzmq's reaper closes a failed socket's descriptors in its own thread: poll, with a deadline
    deadline = time.monotonic() + 10
    pause = threading.Event()
    while count_fds() > fds_first and time.monotonic() < deadline:
        pause.wait(0.01)
    fd_growth = count_fds() - fds_first
    for t in held:
        t.close()
    return {
        "held": len(held),
        "errors": errors[:2],
        "raw": any(e.startswith("RAW") for e in errors),
        "leaked_sockets": leaked,
        "fd_growth": fd_growth,
    }


# -- ipc binders ---------------------------------------------------------------------------


def ipc_binders(directory: str, trials: str) -> Report:
    """Two forked processes bind one ipc path at the same moment, ``trials`` times."""
    from tea_transports import AddressInUseError

    path = os.path.join(directory, "race.sock")
    both = winners = 0
    for _ in range(int(trials)):
        go_r, go_w = os.pipe()
        end_r, end_w = os.pipe()
        out_r, out_w = os.pipe()
        children = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                os.read(go_r, 1)
                t = _zeromq()
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
    return {"both": both, "winners": winners, "left": os.path.exists(path)}


def relative_ipc(directory: str) -> Report:
    """A publisher bound to a relative ipc path, closed after a chdir() to a directory that
    holds an unrelated file of that name."""
    a, b = os.path.join(directory, "a"), os.path.join(directory, "b")
    os.mkdir(a)
    os.mkdir(b)
    with open(os.path.join(b, "data.sock"), "w") as unrelated:
        unrelated.write("unrelated")
    os.chdir(a)
    pub = _zeromq()
    pub.bind("ipc://data.sock")
    os.chdir(b)
    pub.close()
    return {
        "unrelated_kept": os.path.exists(os.path.join(b, "data.sock")),
        "socket_removed": not os.path.exists(os.path.join(a, "data.sock")),
    }


# -- signals -------------------------------------------------------------------------------


def signal_close(trials: str) -> Report:
    """close() from a SIGALRM handler during receive(), at varying moments, ``trials`` times."""
    import signal

    from tea_transports import TransportClosedError

    pub = _zeromq()
    pub.bind("tcp://127.0.0.1:*")
    ended = 0
    for trial in range(int(trials)):
        sub = _zeromq()
        sub.connect(pub.endpoint)
        pub.wait_for_subscribers(1, timeout=10)
        feeder = threading.Thread(target=lambda: [pub.send(b"x") for _ in range(200)])
        feeder.start()  # so the signal sometimes lands inside a socket call, lock held
        signal.signal(signal.SIGALRM, lambda *_, sub=sub: sub.close())
        signal.setitimer(signal.ITIMER_REAL, 0.001 + (trial % 20) / 2000)
        try:
            while True:
                sub.receive()
        except TransportClosedError:
            ended += 1
        feeder.join()
        assert not sub.is_connected
        pub.wait_for_subscribers(0, timeout=1)
    return {"ended": ended}


def sigterm_close() -> Report:
    """Reports "waiting", then waits in receive() until SIGTERM's handler closes it: "closed"."""
    import signal

    from tea_transports import TransportClosedError

    sub = _zeromq()
    sub.connect("tcp://127.0.0.1:1")
    signal.signal(signal.SIGTERM, lambda *_: sub.close())
    print(json.dumps({"event": "waiting"}), flush=True)
    try:
        sub.receive()
    except TransportClosedError:
        print(json.dumps({"event": "closed"}), flush=True)
    return None


# -- exit ----------------------------------------------------------------------------------


def publish_and_exit(address: str, count: str, size: str, options: str) -> Report:
    """Bind, report the endpoint, wait for a subscriber, send ``count`` messages, close, exit."""
    pub = _zeromq(**json.loads(options))
    pub.bind(address)
    print(json.dumps({"endpoint": pub.endpoint}), flush=True)
    pub.wait_for_subscribers(1, timeout=30)
    print(json.dumps({"subscribed": True}), flush=True)
    filler = b"." * (int(size) - 8)
    for i in range(int(count)):
        pub.send(b"%08d" % i + filler)
    pub.close()
    print(json.dumps({"closed": True}), flush=True)
    return None


def subscribe_then_exit(address: str) -> Report:
    """A subscriber (linger=-1) that receives b"go", then closes and exits when told on stdin."""
    sub = _zeromq(linger=-1)
    sub.connect(address)
    assert sub.receive() == b"go"
    print("received", flush=True)
    sys.stdin.readline()  # by then the publisher has closed
    sub.close()
    return None


CHILDREN: Dict[str, Callable[..., Report]] = {
    child.__name__: child
    for child in (
        foreign_zap,
        forked_curve_child,
        churn,
        out_of_fds,
        ipc_binders,
        relative_ipc,
        signal_close,
        sigterm_close,
        publish_and_exit,
        subscribe_then_exit,
    )
}


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    report = CHILDREN[name](*arguments)
    if report is not None:
        print(json.dumps(report), flush=True)
