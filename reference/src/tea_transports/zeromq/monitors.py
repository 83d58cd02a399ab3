"""A socket's monitor: the PAIR socket that hears its peers come and go, opened and closed.

libzmq sends each event with a blocking send from the thread that sees it, most often its
I/O thread. Once the reading end is closed while the socket still monitors, the next
event (a peer leaving) blocks that thread for good, and with it every tcp and ipc socket
of the process. So the events always stop (``disable_monitor``) before the reader closes,
also when the monitor's owner is dropped without ``close()``: garbage collection would
close the two sockets in any order.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import weakref
from typing import Any, Optional

import zmq

__all__ = ["close_monitor", "open_monitor"]


def open_monitor(sock: zmq.Socket[Any], events: int, owner: object) -> zmq.Socket[Any]:
    """A PAIR socket that receives ``sock``'s events, with no high water mark (a full
    monitor queue would block the I/O thread as a closed one does: a publisher that makes
    no call while 1,000 subscribers come and go would stop delivering, and close() would
    hang). If ``owner`` is collected before :func:`close_monitor`, the events stop then."""
    # a unique name: pyzmq's default is derived from the descriptor number, which a socket
    # still being reaped by libzmq may hold, so a new socket's monitor would find it in use
    address = f"inproc://tea-monitor-{uuid.uuid4().hex}"
    sock.monitor(address, events)
    try:
        events_socket: zmq.Socket[Any] = sock.context.socket(zmq.PAIR)
    except BaseException:  # out of descriptors, say: no reader, so no events
        sock.disable_monitor()
        raise
    try:
        events_socket.setsockopt(zmq.RCVHWM, 0)  # before connect: an inproc pipe's mark is set then
        events_socket.connect(address)
    except BaseException:
        close_monitor(sock, events_socket)
        raise
    # holds both sockets, so the collector cannot close either before this has run
    weakref.finalize(owner, _stop_if_ours, os.getpid(), sock, events_socket).atexit = False
    return events_socket


def close_monitor(sock: Optional[zmq.Socket[Any]], monitor: Optional[zmq.Socket[Any]]) -> None:
    """Stop ``sock``'s events (when it is still ours) and close ``monitor``; either may be None."""
    if monitor is not None:
        if sock is not None and not sock.closed:
            # a terminated context refuses this, but then no event can block: every send
            # in it fails at once (ETERM), and the sockets must still close for term() to end
            with contextlib.suppress(zmq.ContextTerminated):
                sock.disable_monitor()
        monitor.close(linger=0)


def _stop_if_ours(pid: int, sock: zmq.Socket[Any], monitor: zmq.Socket[Any]) -> None:
    # a forked child never touches its parent's sockets
    if os.getpid() == pid and not monitor.closed:
        close_monitor(sock, monitor)
