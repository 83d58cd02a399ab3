"""IPv6 addresses, where the kernel has a loopback for them."""

from __future__ import annotations

import socket
from typing import Any, Callable

import pytest

Make = Callable[..., Any]


# -- IPv6 ------------------------------------------------------------------------------------------


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this kernel has no IPv6 loopback (::1)")
@pytest.mark.parametrize("bind_host", ["[::1]", "[::]"])
def test_ipv6(zmq_transport: Make, bind_host: str) -> None:
    pub = zmq_transport()
    pub.bind(f"tcp://{bind_host}:*")
    port = pub.endpoint.rsplit(":", 1)[1]
    sub = zmq_transport(receive_timeout=5000)
    sub.connect(f"tcp://[::1]:{port}")
    pub.wait_for_subscribers(1, timeout=10)
    pub.send(b"over ipv6")
    assert sub.receive() == b"over ipv6"
