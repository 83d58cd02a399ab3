"""Shared fixtures: unique addresses and tracked transports, closed after each test."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
import zmq.auth
from tea_transports import Transport, TransportConfig, create_transport

_ids = itertools.count()


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    """A short private directory (ipc paths are limited to ~100 bytes)."""
    path = tempfile.mkdtemp(prefix="teat-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def address(ipc_dir: str) -> Callable[[str], str]:
    """Fresh, unique addresses by protocol: safe under pytest -n auto."""

    def make(protocol: str) -> str:
        if protocol == "inproc":
            return f"inproc://t-{uuid.uuid4().hex}"
        if protocol == "ipc":
            return f"ipc://{ipc_dir}/{next(_ids)}.sock"
        return "tcp://127.0.0.1:*"

    return make


@pytest.fixture
def zmq_transport() -> Iterator[Callable[..., Any]]:
    """Create ZeroMQ PUB/SUB transports with options; all are closed after the test."""
    made: List[Transport] = []

    def make(**options: Any) -> Any:
        transport = create_transport(
            TransportConfig(transport_type="zeromq", pattern="pub_sub", options=options)
        )
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def curve_keys(tmp_path: Path) -> Dict[str, str]:
    """CURVE key files: the server's, an allowed client's, and two outsiders'."""
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(str(tmp_path), "server")
    _, client_secret = zmq.auth.create_certificates(str(allowed), "client")
    _, stranger_secret = zmq.auth.create_certificates(str(other), "stranger")
    impostor_public, _ = zmq.auth.create_certificates(str(other), "impostor")
    return {
        "server_public": server_public,
        "server_secret": server_secret,
        "allowed": str(allowed),
        "client_secret": client_secret,
        "stranger_secret": stranger_secret,
        "impostor_public": impostor_public,
    }
