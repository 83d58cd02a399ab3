"""Starting and finishing one benchmark run: a publisher here, subscribers in child
processes (threads for inproc, which cannot leave the process), synchronised by START."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Dict, List, Union

from peers import END, PUBLISHERS, START, Publisher, address_for, subscriber_main
from tea_transports import BrokenTransportError

_spawn = multiprocessing.get_context("spawn")
Worker = Union[multiprocessing.process.BaseProcess, threading.Thread]


@dataclass
class Run:
    publisher: Publisher
    address: str = ""
    workers: List[Worker] = field(default_factory=list)
    conns: List[Connection] = field(default_factory=list)

    def finish(self, timeout: float = 300) -> List[Any]:
        """Send END and collect every subscriber's report."""
        self.publisher.send(END)
        # two copies more for the contenders that may drop one; a pipe's only consumer may
        # have left with the first, and then the pipe refuses them: that is fine
        for _ in range(2):
            with contextlib.suppress(BrokenPipeError, BrokenTransportError):
                self.publisher.send(END)
        reports = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError("a subscriber never reported")
            reports.append(conn.recv())
        self.stop()
        return reports

    def stop(self) -> None:
        self.publisher.close()
        for worker in self.workers:
            worker.join(30)
            if isinstance(worker, multiprocessing.process.BaseProcess) and worker.is_alive():
                worker.kill()
        if self.address.startswith("ipc://"):  # libzmq may not have removed it before exit
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address[len("ipc://") :])


def start(
    kind: str,
    name: str,
    protocol: str,
    subscribers: int,
    hwm: int = 0,
    options: Union[Dict[str, Any], None] = None,
    latency: bool = False,
) -> Run:
    """Bind a publisher, start the subscribers and wait until each has seen START."""
    address = address_for(kind, protocol)
    publisher = PUBLISHERS[kind](name, address, {"high_water_mark": hwm, **(options or {})})
    run = Run(publisher, address)
    for _ in range(subscribers):
        conn, child_conn = _spawn.Pipe()
        args = (child_conn, kind, name, publisher.endpoint, hwm, latency)
        worker: Worker
        if protocol == "inproc":
            worker = threading.Thread(target=subscriber_main, args=args, daemon=True)
        else:
            worker = _spawn.Process(target=subscriber_main, args=args, daemon=True)
        worker.start()
        run.workers.append(worker)
        run.conns.append(conn)
    for conn in run.conns:
        if not conn.poll(60) or conn.recv() != "ready":
            run.stop()
            raise TimeoutError("a subscriber did not start")
    pending = list(run.conns)
    while pending:  # START until every subscriber has one: its subscription is live
        publisher.send(START)
        for conn in wait(pending, timeout=0.01):
            assert conn.recv() == "started"
            pending.remove(conn)  # type: ignore[arg-type]
    return run
