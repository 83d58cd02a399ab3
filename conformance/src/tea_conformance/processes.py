"""Scenario parts that run in other processes: real subscribers and publishers elsewhere,
and checks that could crash the process running them.

Children are started with the "spawn" method on every platform (as on Windows and
macOS), load the very class under test (its module and qualified name, so a class
registered at run time with ``register_transport()`` works too), and report through a
pipe — a failure as its full traceback. Every wait in parent and child follows the
scenario's deadline (``--scenario-timeout``); a child that outlives it is killed.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import shutil
import threading
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tea_transports import Transport, TransportClosedError, TransportConfig, TransportTimeoutError

from .expect import expect_equal, send_all
from .harness import (
    PROBE,
    QUANTUM_MS,
    ConformanceFailure,
    Harness,
    fresh_address,
    private_workdir,
    supplied_address,
)

__all__ = [
    "Child",
    "close_during_receive",
    "remote_fan_out",
    "numbered_payloads",
    "start_closing_publisher",
    "start_publisher",
    "start_subscriber",
    "sync_remote",
]

_spawn = multiprocessing.get_context("spawn")


#: (transport name, "module:QualName" of its class, pattern, protocol, scenario timeout in s)
Spec = Tuple[str, str, str, str, float]


def _load_class(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _make(spec: Spec, options: Dict[str, Any]) -> Transport:
    name, path, pattern, protocol, _ = spec
    config = TransportConfig(transport_type=name, protocol=protocol, pattern=pattern, options=options)
    transport: Transport = _load_class(path)(config)
    return transport


def _report_error(conn: Connection) -> None:
    """Send the current exception's whole traceback: the parent shows it as the cause."""
    with contextlib.suppress(OSError):  # the parent gave up and closed its end
        conn.send(("error", traceback.format_exc()))


# -- in the child ---------------------------------------------------------------------------


def _subscriber_main(conn: Connection, spec: Spec, address: str, count: int, prefix: bytes) -> None:
    deadline = time.monotonic() + spec[4]
    sub: Optional[Transport] = None
    try:
        sub = _make(spec, {"receive_timeout": QUANTUM_MS, "subscribe_filter": prefix})
        sub.connect(address)
        synced = False
        got: List[bytes] = []
        while len(got) < count and time.monotonic() < deadline:
            try:
                message = sub.receive()
            except TransportTimeoutError:
                continue
            if not synced:
                conn.send(("synced", None))
                synced = True
            if not message.endswith(PROBE):
                got.append(message)
        conn.send(("done", got))
    except Exception:
        _report_error(conn)
    finally:
        if sub is not None:
            sub.close()


def _publisher_main(conn: Connection, spec: Spec, address: str, messages: List[bytes]) -> None:
    deadline = time.monotonic() + spec[4]
    pub: Optional[Transport] = None
    try:
        pub = _bound_publisher(conn, spec, {}, address, deadline)
        for message in messages:
            pub.send(message)
        conn.send(("sent", len(messages)))
        conn.poll(max(0.0, deadline - time.monotonic()))  # stay up until the parent has everything
    except Exception:
        _report_error(conn)
    finally:
        if pub is not None:
            pub.close()


def _bound_publisher(
    conn: Connection, spec: Spec, options: Dict[str, Any], address: str, deadline: float
) -> Transport:
    """Bind, tell the parent where, and send probes until the parent has received one."""
    pub = _make(spec, options)
    try:
        pub.bind(address)
        conn.send(("bound", pub.endpoint))
        while not conn.poll(QUANTUM_MS / 1000):
            if time.monotonic() > deadline:
                raise TimeoutError("the parent never confirmed a probe")
            pub.send(PROBE)
        conn.recv()
    except BaseException:
        pub.close()
        raise
    return pub


def numbered_payloads(count: int, size: int) -> List[bytes]:
    """``count`` messages of ``size`` bytes, numbered in their first 6 bytes."""
    filler = b"." * (size - 6)
    return [b"%06d" % i + filler for i in range(count)]


def _closing_publisher_main(
    conn: Connection, spec: Spec, address: str, options: Dict[str, Any], count: int, size: int
) -> None:
    """Publish ``numbered_payloads(count, size)`` once the parent has a probe, close(),
    report how long close() took, and return at once: the interpreter exits right after."""
    deadline = time.monotonic() + spec[4]
    messages = numbered_payloads(count, size)  # made here: 100s of MB never cross the pipe
    try:
        pub = _bound_publisher(conn, spec, options, address, deadline)
        for message in messages:
            pub.send(message)
        started = time.monotonic()
        pub.close()
        conn.send(("closed", time.monotonic() - started))
    except Exception:
        _report_error(conn)


def _close_during_receive_main(conn: Connection, spec: Spec, rounds: int) -> None:
    protocol, limit = spec[3], min(5.0, spec[4])
    workdir = private_workdir() if protocol == "ipc" else None
    outcomes: List[str] = []
    try:
        cls = _load_class(spec[1])
        for _ in range(rounds):
            pub = _make(spec, {})
            sub = _make(spec, {})  # no receive_timeout: blocks until closed
            try:
                pub.bind(supplied_address(cls, protocol) or fresh_address(protocol, workdir))
                sub.connect(str(pub.endpoint))
                outcomes.append(_one_close(sub, limit))
            finally:
                sub.close()
                pub.close()
        conn.send(("done", outcomes))
    except Exception:
        _report_error(conn)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _one_close(sub: Transport, limit: float) -> str:
    result: List[str] = []
    entered = threading.Event()

    def receive() -> None:
        entered.set()
        try:
            sub.receive()
            result.append("returned a message")
        except TransportClosedError:
            result.append("closed")
        except Exception as exc:
            result.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    entered.wait(limit)
    # whether receive() is already waiting or not yet, it must end with the closed error
    sub.close()
    thread.join(limit)
    return result[0] if result else f"hung: receive() did not return within {limit:.0f} s of close()"


# -- in the parent --------------------------------------------------------------------------


class Child:
    """A spawned child process and the parent's end of its pipe."""

    def __init__(self, target: Any, args: Sequence[Any]) -> None:
        self.conn, child_conn = _spawn.Pipe()
        self.process = _spawn.Process(target=target, args=(child_conn, *args), daemon=True)
        self.process.start()
        child_conn.close()

    def expect(self, kind: str, harness: Harness) -> Any:
        """Wait for the child's next report; it must be ``kind``."""
        if not self.conn.poll(max(0.0, harness.remaining())):
            raise ConformanceFailure(f"a child process sent no {kind!r} report before the deadline")
        try:
            got, value = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise ConformanceFailure(
                f"a child process died (exit code {self.process.exitcode}) before reporting {kind!r}"
            ) from None
        if got == "error":
            lines = str(value).strip().splitlines()
            raise ConformanceFailure(f"in a child process: {lines[-1] if lines else value}\n{value}")
        if got != kind:
            raise ConformanceFailure(f"a child process reported {got!r}, expected {kind!r}")
        return value

    def stop(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def spec_of(harness: Harness) -> Spec:
    target = harness.target
    return (target.name, target.spec, harness.pattern, harness.protocol, harness.timeout)


def start_subscriber(harness: Harness, address: str, count: int, prefix: bytes = b"") -> Child:
    return Child(_subscriber_main, (spec_of(harness), address, count, prefix))


def start_publisher(harness: Harness, address: str, messages: List[bytes]) -> Child:
    return Child(_publisher_main, (spec_of(harness), address, messages))


def start_closing_publisher(
    harness: Harness, address: str, options: Dict[str, Any], count: int, size: int
) -> Child:
    """A publisher process that sends ``numbered_payloads(count, size)``, closes and exits."""
    return Child(_closing_publisher_main, (spec_of(harness), address, options, count, size))


def wait_all(children: Sequence[Child], kind: str, harness: Harness) -> List[Any]:
    """Collect one ``kind`` report from each child, in order."""
    return [child.expect(kind, harness) for child in children]


def sync_remote(
    harness: Harness, pub: Transport, children: Sequence[Child], prefixes: Sequence[bytes] = (b"",)
) -> None:
    """Probe (under each of ``prefixes``) until every child subscriber has received a probe."""
    pending = {child.conn: child for child in children}
    while pending:
        if harness.expired():
            raise ConformanceFailure(f"{len(pending)} subscriber process(es) never received a probe")
        for prefix in prefixes:
            pub.send(prefix + PROBE)
        for conn in wait(list(pending), timeout=QUANTUM_MS / 1000):
            pending.pop(conn).expect("synced", harness)  # type: ignore[call-overload]


def close_during_receive(harness: Harness, rounds: int) -> Tuple[Optional[int], List[str]]:
    """Run the close-while-receiving check in a child; return its exit code and outcomes."""
    child = Child(_close_during_receive_main, (spec_of(harness), rounds))
    try:
        outcomes: List[str] = child.expect("done", harness)
    except ConformanceFailure:
        child.stop()
        raise
    child.stop()
    return child.process.exitcode, outcomes


def remote_fan_out(h: Harness, prefixes: List[bytes], messages: List[bytes]) -> None:
    """Publish ``messages`` here to one subscriber process per prefix; check what each got."""
    pub = h.publisher()
    expected = [[m for m in messages if m.startswith(p)] for p in prefixes]
    children = [start_subscriber(h, str(pub.endpoint), len(e), p) for p, e in zip(prefixes, expected)]
    try:
        sync_remote(h, pub, children, sorted(set(prefixes)))
        send_all(pub, messages)
        for prefix, want, got in zip(prefixes, expected, wait_all(children, "done", h)):
            expect_equal(got, want, f"the subscriber process filtering {prefix!r}")
    finally:
        for child in children:
            child.stop()
