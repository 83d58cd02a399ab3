"""A socket's monitor: the PAIR socket that hears its peers come and go, opened and closed."""

from __future__ import annotations

import uuid
from typing import Any, Optional

import zmq

__all__ = ["close_monitor", "open_monitor"]


def open_monitor(sock: zmq.Socket[Any], events: int) -> zmq.Socket[Any]:
    """A PAIR socket that receives ``sock``'s events, with no high water mark: libzmq blocks
    the socket's I/O thread on a full monitor queue (a publisher that makes no call while
    1,000 subscribers come and go would stop delivering, and close() would hang)."""
    # a unique name: pyzmq's default is derived from the descriptor number, which a socket
    # still being reaped by libzmq may hold, so a new socket's monitor would find it in use
    address = f"inproc://tea-monitor-{uuid.uuid4().hex}"
    sock.monitor(address, events)
    events_socket: zmq.Socket[Any] = sock.context.socket(zmq.PAIR)
    events_socket.setsockopt(zmq.RCVHWM, 0)  # before connect: an inproc pipe's mark is set then
    events_socket.connect(address)
    return events_socket


def close_monitor(sock: Optional[zmq.Socket[Any]], monitor: Optional[zmq.Socket[Any]]) -> None:
    """Stop ``sock``'s events (when it is still ours) and close ``monitor``; either may be None."""
    if monitor is not None:
        if sock is not None:
            sock.disable_monitor()
        monitor.close(linger=0)
