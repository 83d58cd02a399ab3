"""Issue 9, in one process: waits that hold no lock, recovery on every receive path, close
during bind, honest subscriber counts, CURVE lifecycle, IPv6, errors that are TransportErrors."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import zmq
from tea_transports import (
    ConfigurationError,
    TransportClosedError,
    TransportConfig,
    TransportStateError,
    TransportTimeoutError,
    create_transport,
)
from tea_transports.zeromq import security

Make = Callable[..., Any]


def _in_thread(call: Callable[[], Any], timeout: float = 5) -> List[Any]:
    """Run ``call`` in a thread; return [result] or [exception]; [] if still running at the deadline."""
    out: List[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except BaseException as exc:  # reported to the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return out


def _until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
    return condition()


# -- item 2: every receive path notices an oversize message and reconnects ------------------


@pytest.mark.parametrize("path", ["receive", "receive_many"])
def test_issue9_item2_oversize_recovery_without_waiting(zmq_transport: Make, path: str) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    sub = zmq_transport(max_message_size=1000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"x" * 10_000)  # over the limit: libzmq drops the connection, for good
    assert _until(lambda: pub.get_stats().subscriptions == 0)
    read = (lambda: sub.receive(flags=zmq.NOBLOCK)) if path == "receive" else (
        lambda: sub.receive_many(flags=zmq.NOBLOCK)
    )  # fmt: skip
    got: List[Any] = []

    def polled() -> bool:  # a subscriber that only ever polls without waiting
        pub.send(b"later")
        with contextlib.suppress(TransportTimeoutError):
            got.append(read())
        return bool(got)

    assert _until(polled), "no message after the oversize one: the subscriber never reconnected"
    assert pub.get_stats().subscriptions == 1


# -- item 3: a waiting call holds no lock -------------------------------------------------------


def test_issue9_item3_subscriber_wait_does_not_hold_the_lock(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://issue9-item3-sub")
    sub = zmq_transport(subscribe_filter=b"a", receive_timeout=20_000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    waiting: List[Any] = []
    receiver = threading.Thread(target=lambda: waiting.append(sub.receive()), daemon=True)
    receiver.start()
    assert _until(lambda: not sub._io_lock.acquire(blocking=False) or sub._io_lock.release() or True)
    # each of these hung until the waiting receive() gave up (20 s) before the fix
    assert _in_thread(lambda: sub.subscribe(b"b")) == [None], "subscribe() blocked by a waiting receive()"
    (stats,) = _in_thread(sub.get_stats)
    assert stats.role == "subscriber"
    (nothing,) = _in_thread(lambda: sub.receive(flags=zmq.NOBLOCK))
    assert isinstance(nothing, TransportTimeoutError)
    pub.wait_for_subscribers(2, timeout=5)
    pub.send(b"b-wanted")
    receiver.join(10)
    assert waiting == [b"b-wanted"]


def test_issue9_item3_publisher_wait_does_not_hold_the_lock(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    result: List[Any] = []
    waiter = threading.Thread(target=lambda: result.append(pub.wait_for_subscribers(1, timeout=20)))
    waiter.start()
    try:
        assert _in_thread(lambda: pub.send(b"early", zmq.NOBLOCK)) == [5], "send(NOBLOCK) blocked"
        (stats,) = _in_thread(pub.get_stats)
        assert stats.messages_sent == 1
        sub = zmq_transport()
        sub.connect(pub.endpoint)
    finally:
        waiter.join(25)
    assert result == [1]


def test_issue9_item3_close_from_another_thread_still_ends_the_wait(zmq_transport: Make) -> None:
    for protocol_address in ("inproc://issue9-item3-close", "tcp://127.0.0.1:*"):
        pub = zmq_transport()
        pub.bind(protocol_address)
        sub = zmq_transport()
        sub.connect(pub.endpoint)
        ended: List[Any] = []
        receiver = threading.Thread(
            target=lambda s=sub, out=ended: out.append(_in_thread(s.receive, 10)), daemon=True
        )
        receiver.start()
        sub.close()
        receiver.join(10)
        assert len(ended) == 1 and isinstance(ended[0][0], TransportClosedError), ended


# -- item 7: close() during bind() ------------------------------------------------------------------


def test_issue9_item7_close_during_bind_leaves_nothing_listening() -> None:
    # switch threads often, so close() lands inside bind() rather than before or after it
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        endpoints = _close_during_bind()
    finally:
        sys.setswitchinterval(previous)
    _assert_not_listening(endpoints)


def _close_during_bind() -> List[str]:
    endpoints: List[str] = []
    for trial in range(600):
        transport = create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))
        start = threading.Barrier(2)

        def bind(t: Any = transport, barrier: threading.Barrier = start) -> None:
            barrier.wait(5)
            with contextlib.suppress(TransportClosedError):
                t.bind("tcp://127.0.0.1:*")

        binder = threading.Thread(target=bind)
        binder.start()
        start.wait(5)
        for _ in range(trial % 50 * 20):  # land close() at varying points of bind()
            pass
        transport.close()
        binder.join(10)
        assert transport.is_connected is False
        transport.close()
        if transport.endpoint:
            endpoints.append(transport.endpoint)
    return endpoints


def _assert_not_listening(endpoints: List[str]) -> None:
    def refused(endpoint: str) -> bool:
        host, port = endpoint[len("tcp://") :].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return True
        return False

    # libzmq closes a listener asynchronously: wait, with a deadline, for every port to close
    listening = [e for e in endpoints if not _until(lambda e=e: refused(e), timeout=5)]
    assert not listening, f"{len(listening)} closed transport(s) still accept connections: {listening[:3]}"


# -- item 9: subscriber counts ------------------------------------------------------------------------


def test_issue9_item9_duplicate_subscription_count_returns_to_zero(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    raw = zmq.Context.instance().socket(zmq.SUB)
    raw.connect(pub.endpoint)
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.setsockopt(zmq.SUBSCRIBE, b"")  # libzmq passes both on; only one cancel will follow
    pub.wait_for_subscribers(1, timeout=5)
    raw.close(linger=0)
    assert _until(lambda: pub.get_stats().subscriptions == 0, timeout=10), (
        f"still {pub.get_stats().subscriptions} subscription(s) after every subscriber left"
    )
    assert (
        _in_thread(lambda: pub.wait_for_subscribers(1, timeout=0.5), 5)[0].__class__ is TransportTimeoutError
    )


def test_issue9_item9_xsub_frames_that_are_not_subscriptions_change_nothing(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    peer = zmq.Context.instance().socket(zmq.XSUB)
    try:
        peer.connect(pub.endpoint)
        peer.send(b"\x01")
        pub.wait_for_subscribers(1, timeout=5)
        peer.send(b"")  # an empty frame
        peer.send(b"hello")  # a frame that is neither a subscription nor a cancel
        peer.send(b"\x00never-subscribed")  # a cancel of a prefix nobody subscribed
        peer.send(b"\x01fence")
        assert pub.wait_for_subscribers(2, timeout=5) == 2
        assert pub.get_stats().subscriptions == 2
    finally:
        peer.close(linger=0)


# -- item 10: CURVE lifecycle ---------------------------------------------------------------------------


def _curve_pub(make: Make, keys: Dict[str, str]) -> Any:
    return make(curve_secret_key_file=keys["server_secret"], curve_allowed_clients=keys["allowed"])


def _curve_sub(make: Make, keys: Dict[str, str], secret: str) -> Any:
    return make(
        curve_secret_key_file=secret, curve_server_key_file=keys["server_public"], receive_timeout=300
    )


def test_issue9_item10_unparsable_key_file_is_refused_at_bind(
    zmq_transport: Make, curve_keys: Dict[str, str]
) -> None:
    broken = Path(curve_keys["allowed"]) / "broken.key"
    broken.write_text('this is not a certificate\ncurve\n    public-key = "short"\n')
    pub = _curve_pub(zmq_transport, curve_keys)
    with pytest.raises(ConfigurationError, match=r"broken\.key"):
        pub.bind("tcp://127.0.0.1:*")
    assert pub.is_connected is False


def _receives(sub: Any, pub: Any, tag: bytes, tries: int = 60) -> bool:
    for _ in range(tries):  # each try waits receive_timeout (300 ms)
        pub.send(tag)
        try:
            if sub.receive() == tag:
                return True
        except TransportTimeoutError:
            continue
    return False


def test_issue9_item10_reload_allowed_clients(
    zmq_transport: Make, curve_keys: Dict[str, str], tmp_path: Path
) -> None:
    newcomer_public, newcomer_secret = zmq.auth.create_certificates(str(tmp_path), "newcomer")
    pub = _curve_pub(zmq_transport, curve_keys)
    pub.bind("tcp://127.0.0.1:*")
    old = _curve_sub(zmq_transport, curve_keys, curve_keys["client_secret"])
    early = _curve_sub(zmq_transport, curve_keys, newcomer_secret)
    old.connect(pub.endpoint)
    early.connect(pub.endpoint)
    assert _receives(old, pub, b"before")
    assert not _receives(early, pub, b"before", tries=3)
    allowed = Path(curve_keys["allowed"])
    for key in allowed.glob("*.key"):
        key.unlink()  # revoke the old client
    shutil.copy(newcomer_public, allowed)  # admit the newcomer
    pub.reload_allowed_clients()
    # libzmq never retries a connection that authentication refused: the newcomer connects anew
    new = _curve_sub(zmq_transport, curve_keys, newcomer_secret)
    new.connect(pub.endpoint)
    assert _receives(new, pub, b"after"), "a key added to the allow-list never started receiving"
    for _ in range(20):
        pub.send(b"after")
    got: List[bytes] = []
    with pytest.raises(TransportTimeoutError):
        while True:
            got.append(old.receive())
    assert b"after" not in got, "a revoked key still receives"
    assert pub.wait_for_subscribers(1, timeout=5) == 1


def test_issue9_item10_zap_domains_are_removed_at_close(
    zmq_transport: Make, curve_keys: Dict[str, str]
) -> None:
    def domains() -> int:
        authenticator = security._authenticator
        return 0 if authenticator is None else len(authenticator.certs)

    first = _curve_pub(zmq_transport, curve_keys)
    first.bind("tcp://127.0.0.1:*")
    before = domains()
    for _ in range(500):
        pub = create_transport(
            TransportConfig(
                transport_type="zeromq",
                pattern="pub_sub",
                options={
                    "curve_secret_key_file": curve_keys["server_secret"],
                    "curve_allowed_clients": curve_keys["allowed"],
                },
            )
        )
        pub.bind("tcp://127.0.0.1:*")
        pub.close()
    assert domains() == before, f"{domains() - before} ZAP domain(s) left behind by 500 closed publishers"


# -- item 11: IPv6 ---------------------------------------------------------------------------------------


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this kernel has no IPv6 loopback (::1)")
@pytest.mark.parametrize("bind_host", ["[::1]", "[::]"])
def test_issue9_item11_ipv6(zmq_transport: Make, bind_host: str) -> None:
    pub = zmq_transport()
    pub.bind(f"tcp://{bind_host}:*")
    port = pub.endpoint.rsplit(":", 1)[1]
    sub = zmq_transport(receive_timeout=5000)
    sub.connect(f"tcp://[::1]:{port}")
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"over ipv6")
    assert sub.receive() == b"over ipv6"


# -- item 12: errors that are TransportErrors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("high_water_mark", 2**31),
        ("linger", 2**31),
        ("connect_timeout", 2**31),
        ("receive_timeout", 2**31),
        ("send_timeout", 2**31),
    ],
)
def test_issue9_item12_standard_options_beyond_libzmq_int_fail_at_config(option: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"{option}.*2147483647"):
        TransportConfig(transport_type="zeromq", pattern="pub_sub", options={option: value})


@pytest.mark.parametrize(
    ("option", "value"),
    [("heartbeat_interval", 2**31), ("heartbeat_timeout", 2**31), ("reconnect_interval_max", 2**31),
     ("max_message_size", 2**63)],
)  # fmt: skip
def test_issue9_item12_zeromq_options_beyond_range_fail_at_construction(option: str, value: int) -> None:
    config = TransportConfig(transport_type="zeromq", pattern="pub_sub", options={option: value})
    with pytest.raises(ConfigurationError, match=rf"{option}.* to \d+"):
        create_transport(config)


def test_issue9_item12_get_stats_after_close(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://issue9-item12-stats")
    pub.close()
    with pytest.raises(TransportClosedError, match="closed"):
        pub.get_stats()


def test_issue9_item12_subscribe_with_a_non_prefix_is_a_type_error(zmq_transport: Make) -> None:
    sub = zmq_transport()
    sub.connect("inproc://issue9-item12-subscribe")
    for call in (sub.subscribe, sub.unsubscribe):
        with pytest.raises(TypeError, match="bytes or str"):
            call(5)


@pytest.mark.requires("fork")
def test_issue9_item4_forked_copy_refuses_use_and_leaves_parent_alone(zmq_transport: Make) -> None:
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
    done = _until(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, timeout=20)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    report = os.read(read, 1)
    os.close(read)
    assert done and report == b"\x00", f"the child hung or misbehaved (report {report!r})"
    # the parent's transports are untouched: a receive times out as configured, no spin
    (outcome,) = _in_thread(sub.receive, 10) or [None]
    assert isinstance(outcome, TransportTimeoutError), (
        f"the parent's receive() after the child closed: {outcome!r}"
    )
    (outcome,) = _in_thread(lambda: pub.wait_for_subscribers(2, timeout=1), 10) or [None]
    assert isinstance(outcome, TransportTimeoutError), outcome
    pub.send(b"still here")
    assert sub.receive() == b"still here"


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: fork() with a thread running
@pytest.mark.requires("fork")
def test_issue9_item4_fork_while_another_thread_holds_the_lock(zmq_transport: Make) -> None:
    """A parent's thread inside a call at the fork holds the transport's lock in the child's
    copy too, and no one there would release it: the child must get its error, not hang."""
    pub = zmq_transport()
    pub.bind("inproc://issue9-item4-held")
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
        done = _until(lambda: _reaped(pid, status), timeout=20)
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert done, "the child hung on the lock a parent's thread held at the fork"
        assert os.waitstatus_to_exitcode(status[0]) == 0, "the child got no TransportStateError"
    finally:
        release.set()
        holder.join(10)


def _reaped(pid: int, status: List[int]) -> bool:
    done, code = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        status.append(code)
    return done == pid
