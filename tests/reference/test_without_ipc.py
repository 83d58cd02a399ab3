"""Where pyzmq has no ipc (its Windows wheels): local endpoints fall back to inproc, ipc is
refused with a way out, and tcp carries a stream across processes.

These run where ipc is missing: on Windows, and in ``tox -e windows-sim`` (see
``ci/windows-sim/sitecustomize.py``), which also certifies the transport there and checks
that the suite grades ipc not applicable on that platform (``ci/windows-sim/check_report.py``).
"""

from __future__ import annotations

import subprocess
from typing import Any, Callable

import in_child
import pytest
import zmq
from tea_transports import AddressError
from tea_transports.zeromq import ZeroMQPubSubTransport, local_endpoint

pytestmark = pytest.mark.skipif(
    zmq.has("ipc"), reason="for platforms without ipc in pyzmq (Windows; tox -e windows-sim)"
)

DEADLINE_S = 60
Make = Callable[..., Any]


def test_the_transport_declares_inproc_and_tcp_only() -> None:
    assert sorted(ZeroMQPubSubTransport.capabilities.protocols) == ["inproc", "tcp"]


def test_a_local_endpoint_falls_back_to_inproc_and_works(zmq_transport: Make) -> None:
    endpoint = local_endpoint("jobs")
    assert endpoint == "inproc://tea-jobs"
    pub, sub = zmq_transport(), zmq_transport(receive_timeout=10_000)
    pub.bind(endpoint)
    sub.connect(endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"same process")
    assert sub.receive() == b"same process"


def test_ipc_is_refused_with_the_alternatives(zmq_transport: Make, tmp_path: Any) -> None:
    with pytest.raises(AddressError) as refused:
        zmq_transport().bind(f"ipc://{tmp_path}/never-bound.sock")
    message = str(refused.value)
    assert "no ipc support" in message and "inproc://" in message and "tcp://127.0.0.1" in message


def test_tcp_crosses_processes(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    child = subprocess.Popen(
        in_child.command("zeromq_subscriber", pub.endpoint), stdout=subprocess.PIPE, text=True
    )
    try:
        pub.wait_for_subscribers(1, timeout=DEADLINE_S)
        pub.send(b"across processes")
        out, _ = child.communicate(timeout=DEADLINE_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0
    assert out.strip() == "across processes"
