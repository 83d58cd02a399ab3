"""Simulated Windows: this interpreter loses what Windows' Python does not have.

On ``PYTHONPATH`` (``tox -e windows-sim``), Python imports this module at start-up, before
anything else, in every interpreter of the run — pytest, its xdist workers, and every
process the tests and the conformance suite start. It removes:

* ``select.poll``/``epoll`` (and ``selectors``' back ends on them): waits go through ``select``;
* ``socket.MSG_DONTWAIT`` and ``socket.AF_UNIX``; ``socket.socketpair()`` becomes two
  loopback tcp sockets, as Windows makes it;
* ``fcntl`` (importing it fails), ``os.mkfifo``, ``os.fork``, ``os.register_at_fork``,
  ``signal.SIGALRM`` and ``signal.setitimer``;
* ipc from pyzmq: ``zmq.has("ipc")`` answers False (libzmq itself is untouched).

It is a simulation: ``sys.platform`` still says ``linux``, the kernel is Linux's, and
Windows' own behaviour (its socket buffers, its SOCKET handles, its signal delivery) is not
reproduced. It catches the calls that would fail on Windows, which ``mypy --platform
win32`` checks statically. ``tea_simulated_platform`` in ``sys`` says it is active.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import signal
import socket
import sys
import types
from typing import Any


def _loopback_socketpair(
    family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
) -> tuple[socket.socket, socket.socket]:
    """``socket.socketpair()`` as Windows does it: a connected pair of loopback tcp sockets."""
    with socket.socket(socket.AF_INET, type, proto) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.socket(socket.AF_INET, type, proto)
        try:
            client.connect(listener.getsockname())
            server, _ = listener.accept()
        except BaseException:
            client.close()
            raise
    return server, client


class _ZmqWithoutIpc(importlib.abc.MetaPathFinder):
    """Patches pyzmq when something imports it (importing it here would make every
    interpreter load it, and tests check that ``tea_transports`` alone does not)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "zmq":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_patch(module: types.ModuleType) -> None:
            exec_module(module)
            real_has = module.has
            module.has = lambda feature: False if feature == "ipc" else real_has(feature)

        spec.loader.exec_module = exec_then_patch  # type: ignore[method-assign]
        return spec


def _simulate() -> None:
    import select

    for name in ("poll", "epoll", "devpoll", "kqueue", "PIPE_BUF"):
        if hasattr(select, name):
            delattr(select, name)
    for name in [n for n in dir(select) if n.startswith(("POLL", "EPOLL"))]:
        delattr(select, name)
    selectors = sys.modules.get("selectors")
    if selectors is not None:  # already imported: drop the back ends it picked
        for name in ("PollSelector", "EpollSelector", "DevpollSelector"):
            if hasattr(selectors, name):
                delattr(selectors, name)
        selectors.DefaultSelector = selectors.SelectSelector  # type: ignore[misc]

    for name in ("MSG_DONTWAIT", "AF_UNIX"):
        if hasattr(socket, name):
            delattr(socket, name)
    socket.socketpair = _loopback_socketpair  # type: ignore[assignment]

    sys.modules["fcntl"] = None  # type: ignore[assignment]  # `import fcntl` raises ImportError
    for name in ("mkfifo", "fork", "register_at_fork"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGALRM", "setitimer"):
        if hasattr(signal, name):
            delattr(signal, name)

    sys.meta_path.insert(0, _ZmqWithoutIpc())

    sys.tea_simulated_platform = "win32"  # type: ignore[attr-defined]
    if not os.environ.get("TEA_SIMULATED_PLATFORM"):  # once per run, not once per process
        os.environ["TEA_SIMULATED_PLATFORM"] = "win32"
        sys.stderr.write(
            "tea: SIMULATED Windows on Linux (ci/windows-sim/sitecustomize.py): no poll/epoll, "
            "MSG_DONTWAIT, AF_UNIX, fcntl, mkfifo, fork, register_at_fork, SIGALRM, zmq ipc\n"
        )


_simulate()
