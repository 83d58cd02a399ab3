"""The second worked example, a broker-based transport: Redis pub/sub, certified against a
real ``redis-server`` that the test starts and stops (skipped where it is not installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Tuple
from uuid import uuid4

import pytest
from tea_transports import (
    NOBLOCK,
    BrokenTransportError,
    TransportClosedError,
    TransportConfig,
    TransportError,
    TransportTimeoutError,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "redis_transport" / "src"
sys.path.insert(0, str(EXAMPLE))
from tea_redis import SERVER_ENV, RedisPubSubTransport  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian: apt-get install redis-server; macOS: brew install redis); "
    "the Redis worked example is certified against a real broker",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """``HOST:PORT`` of a private redis-server, stopped after the test."""
    for _ in range(5):  # the free port may be taken before the server binds it
        port = _free_port()
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                # the configuration the example's guarantees need (see tea_redis.transport)
                "--client-output-buffer-limit",
                "pubsub 0 0 0",
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _answers_ping(port) and time.monotonic() < deadline:
            try:
                server.wait(0.05)  # returns only if the server exited (its port was taken)
                break
            except subprocess.TimeoutExpired:
                pass
        if server.poll() is None and _answers_ping(port):
            break
        server.kill()
        server.wait(10)
    else:
        pytest.fail("redis-server did not start on any of 5 free ports")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
def test_redis_transport_is_certified(
    pytester: pytest.Pytester, tmp_path: Path, redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_ENV, redis_server)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")]))
    report = tmp_path / "redis.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--transport=tea_redis:RedisPubSubTransport", "-n", "2",
        f"--conformance-report={report}",
    )  # fmt: skip
    (document,) = json.loads(report.read_text())["transports"]
    assert document["verdict"] == "CERTIFIED — pub_sub core + stats; tcp", result.stdout.str()
    assert result.ret == 0


def test_without_a_broker_the_error_says_what_to_do() -> None:
    transport = RedisPubSubTransport(
        TransportConfig(transport_type="redis", protocol="tcp", pattern="pub_sub")
    )
    address = f"tcp://127.0.0.1:{_free_port()}/nobody-listens"
    with pytest.raises(BrokenTransportError, match="is redis-server running"):
        transport.connect(address)
    transport.close()


def _config(**options: Any) -> TransportConfig:
    return TransportConfig(transport_type="redis", protocol="tcp", pattern="pub_sub", options=options)


def _pair(redis_server: str, **options: Any) -> Tuple[RedisPubSubTransport, RedisPubSubTransport]:
    """A publisher and a subscriber (subscribed to everything) on a fresh channel."""
    address = f"tcp://{redis_server}/tea-test-{uuid4().hex}"
    pub = RedisPubSubTransport(_config())
    sub = RedisPubSubTransport(_config(receive_timeout=10_000, **options))
    pub.bind(address)
    sub.connect(address)  # SUBSCRIBE is confirmed: what is published from now on reaches it
    return pub, sub


def test_a_message_sent_while_unsubscribed_never_arrives(redis_server: str) -> None:
    """The model's finding (TEA-CONF-MODEL-001): what is published while no prefix matches must
    not arrive, even while it is still on its way to the subscriber when it subscribes again."""
    pub, sub = _pair(redis_server)
    try:
        sub.unsubscribe(b"")
        pub.send(bytes(range(256)) * 4096 * 16)  # 16 MiB: still being read when subscribe() returns
        sub.subscribe(b"")
        pub.send(b"after")
        assert sub.receive() == b"after"
        with pytest.raises(TransportTimeoutError):
            sub.receive(flags=NOBLOCK)
    finally:
        pub.close()
        sub.close()


def test_filter_changes_are_never_delivered_and_their_payload_is_refused(redis_server: str) -> None:
    pub, sub = _pair(redis_server)
    other = RedisPubSubTransport(_config(receive_timeout=10_000))
    try:
        other.connect(sub.endpoint)  # sees sub's markers on the channel, must drop them too
        for n in range(50):
            sub.subscribe(b"x%d" % n)
            sub.unsubscribe(b"x%d" % n)
        pub.send(b"last")
        assert sub.receive() == b"last" and other.receive() == b"last"
        for transport in (sub, other):
            with pytest.raises(TransportTimeoutError):
                transport.receive(flags=NOBLOCK)
            assert transport.get_stats().messages_received == 1
        with pytest.raises(TransportError, match="filter change"):
            pub.send(b"\xff\xfftea-redis:filter-change:forged")
    finally:
        for transport in (pub, sub, other):
            transport.close()


def test_filter_changes_from_many_threads_apply_in_order_and_close_ends_them(redis_server: str) -> None:
    pub, sub = _pair(redis_server)
    errors: List[BaseException] = []

    def churn(prefix: bytes) -> None:
        try:
            for _ in range(30):
                sub.subscribe(prefix)
                sub.unsubscribe(prefix)
            sub.subscribe(prefix)  # the last change of each thread: subscribed
        except BaseException as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(b"t%d" % n,)) for n in range(4)]
    try:
        sub.unsubscribe(b"")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors and not any(thread.is_alive() for thread in threads)
        for n in range(4):
            pub.send(b"t%d" % n)
        pub.send(b"none")  # matches no prefix in force
        pub.send(b"t0 again")
        assert [sub.receive() for _ in range(5)] == [b"t0", b"t1", b"t2", b"t3", b"t0 again"]
    finally:
        pub.close()
    closer = threading.Thread(target=sub.close)
    closer.start()
    closer.join(30)
    assert not closer.is_alive()
    with pytest.raises(TransportClosedError):
        sub.subscribe(b"late")


def test_the_broker_runs_with_the_configuration_the_example_needs(redis_server: str) -> None:
    # Redis's default pubsub output limit closed a subscriber mid-stream under load
    host, port = redis_server.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        name = b"client-output-buffer-limit"
        conn.sendall(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(name), name))
        reply = b""
        while b"pubsub" not in reply or not reply.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            assert chunk, reply
            reply += chunk
    assert b"pubsub 0 0 0" in reply, reply
