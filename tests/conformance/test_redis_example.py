"""The second worked example, a broker-based transport: Redis pub/sub, certified against a
real ``redis-server`` that the test starts and stops (skipped where it is not installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from tea_transports import BrokenTransportError, TransportConfig

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
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
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
