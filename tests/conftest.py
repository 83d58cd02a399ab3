"""Shared fixtures: unique addresses and tracked transports, closed after each test.

A test that needs what only some platforms have says so with
``@pytest.mark.requires("fork", ...)`` (see ``FEATURES``): where one is missing it is
skipped with the reason, never failed. The features are looked up, not inferred from
``sys.platform``, so the simulated Windows of ``tox -e windows-sim`` skips them too.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import signal
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
import zmq.auth
from hypothesis import settings
from tea_transports import Transport, TransportConfig, create_transport

# no per-example deadline: an example that ran while its worker was descheduled is no failure
settings.register_profile("tea", deadline=None)
settings.load_profile("tea")

_ids = itertools.count()

#: feature -> (is it here?, what it is): for ``@pytest.mark.requires``
FEATURES: Dict[str, tuple[Callable[[], bool], str]] = {
    "fork": (lambda: hasattr(os, "fork"), "os.fork (POSIX)"),
    "fifo": (lambda: hasattr(os, "mkfifo"), "named pipes, os.mkfifo (POSIX)"),
    "ipc": (lambda: zmq.has("ipc"), "ipc in pyzmq (not in its Windows wheels)"),
    "sigalrm": (
        lambda: hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer"),
        "SIGALRM and setitimer (POSIX)",
    ),
    "proc": (lambda: os.path.isdir("/proc/self/fd"), "/proc/self/fd (Linux)"),
    "job_control": (lambda: hasattr(signal, "SIGSTOP"), "SIGSTOP/SIGKILL (POSIX)"),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(*features): skip unless the platform has them (see tests/conftest.py)"
    )
    config.addinivalue_line("markers", "slow: takes half a minute or more; collected first")


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    # the longest first: under xdist each starts at once, and none is left running alone at
    # the end while the other workers are idle
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_report_header() -> List[str]:
    simulated = getattr(sys, "tea_simulated_platform", None)
    if simulated is None:
        return []
    return [f"platform: SIMULATED {simulated} on {sys.platform} (ci/windows-sim/sitecustomize.py)"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        missing = [FEATURES[name][1] for name in mark.args if not FEATURES[name][0]()]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}: not on this platform")


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    """A short private directory (ipc paths are limited to ~100 bytes)."""
    path = tempfile.mkdtemp(prefix="teat-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def address(ipc_dir: str) -> Callable[[str], str]:
    """Fresh, unique addresses by protocol: safe under pytest -n auto."""

    def make(protocol: str) -> str:
        if protocol == "inproc":
            return f"inproc://t-{uuid.uuid4().hex}"
        if protocol == "ipc":
            if not zmq.has("ipc"):
                pytest.skip("needs ipc in pyzmq (not in its Windows wheels): not on this platform")
            return f"ipc://{ipc_dir}/{next(_ids)}.sock"
        return "tcp://127.0.0.1:*"

    return make


@pytest.fixture
def pubsub_transport() -> Iterator[Callable[..., Any]]:
    """Create PUB/SUB transports, ``make(transport_type, **options)``; all are closed after
    the test."""
    made: List[Transport] = []

    def make(transport_type: str, **options: Any) -> Any:
        config = TransportConfig(transport_type=transport_type, pattern="pub_sub", options=options)
        made.append(create_transport(config))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def zmq_transport(pubsub_transport: Callable[..., Any]) -> Callable[..., Any]:
    """Create ZeroMQ PUB/SUB transports with options; all are closed after the test."""
    return functools.partial(pubsub_transport, "zeromq")


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
