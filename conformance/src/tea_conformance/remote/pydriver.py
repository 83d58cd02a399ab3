"""A control-protocol driver for any Python transport: ``python -m
tea_conformance.remote.pydriver NAME`` serves the transport ``NAME`` (a registered name or
``module:Class``) on stdin/stdout.

It exists to prove the protocol transparent: the reference run through it must get the
verdict it gets in process. It is also the model for a driver in another language
(docs/control-protocol.md): each request runs in a thread of its own, so a ``close``
overtakes a ``receive`` that waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Callable, Dict, List

from tea_transports import Transport, TransportConfig, TransportError, transport_class

from .protocol import ERRORS, PROTOCOL_VERSION, ProtocolError, decode_bytes, dump, encode_bytes

__all__ = ["main"]


class _Server:
    def __init__(self, name: str, out: IO[bytes]) -> None:
        self.name = name
        self.out = out
        self.write_lock = threading.Lock()
        self.transports: Dict[int, Transport] = {}
        self.cls = _class_of(name)

    def send(self, message: Dict[str, Any]) -> None:
        line = dump(message)
        with self.write_lock:
            self.out.write(line)
            self.out.flush()

    def hello(self) -> Dict[str, Any]:
        caps = self.cls.capabilities
        return {
            "event": "hello",
            "protocol": PROTOCOL_VERSION,
            "name": f"python-{self.name.replace(':', '.')}",
            "version": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "capabilities": {
                "patterns": sorted(caps.patterns),
                "protocols": sorted(caps.protocols),
                "features": sorted(caps.features),
                "extra_options": sorted(self.cls.extra_options),
                "addresses": hasattr(self.cls, "conformance_address"),
            },
            "limits": {},
        }

    def handle(self, request: Dict[str, Any]) -> None:
        reply: Dict[str, Any] = {"id": request.get("id")}
        try:
            reply["ok"] = self.perform(request)
        except Exception as exc:
            reply["error"] = {"type": _error_name(exc), "message": str(exc)}
        self.send(reply)

    def perform(self, r: Dict[str, Any]) -> Any:
        op = r.get("op")
        if op == "address":
            return self.cls.conformance_address(r["protocol"])
        if op == "create":
            options = dict(r["options"])
            options["subscribe_filter"] = [decode_bytes(p, "a filter") for p in options["subscribe_filter"]]
            config = TransportConfig(self.name, r["protocol"], r["pattern"], options)
            self.transports[r["t"]] = transport_class(self.name, r["pattern"])(config)
            return None
        t = self.transports[r["t"]]
        ops: Dict[str, Callable[[], Any]] = {
            "bind": lambda: (t.bind(r["address"]), t.endpoint)[1],
            "connect": lambda: (t.connect(r["address"]), t.endpoint)[1],
            "send": lambda: t.send(decode_bytes(r["data"], "data"), r["flags"]),
            "send_many": lambda: t.send_many([decode_bytes(d, "data") for d in r["data"]]),
            "receive": lambda: encode_bytes(t.receive(r["size"], r["flags"])),
            "receive_many": lambda: [encode_bytes(m) for m in t.receive_many(r["max"], r["flags"])],
            "subscribe": lambda: t.subscribe(decode_bytes(r["prefix"], "prefix")),
            "unsubscribe": lambda: t.unsubscribe(decode_bytes(r["prefix"], "prefix")),
            "wait_for_subscribers": lambda: t.wait_for_subscribers(r["count"], r["timeout"]),
            "get_stats": lambda: dataclasses.asdict(t.get_stats()),
            "is_connected": lambda: t.is_connected,
            "close": t.close,
        }
        if op not in ops:
            raise ProtocolError(f"unknown op {op!r}")
        return ops[str(op)]()

    def close_all(self) -> None:
        for transport in list(self.transports.values()):
            with contextlib.suppress(Exception):  # exiting anyway
                transport.close()


def _class_of(name: str) -> Any:
    try:
        return transport_class(name, "pub_sub")
    except TransportError:
        return transport_class(name, "direct")


def _error_name(exc: BaseException) -> str:
    """The nearest class of the protocol's error tree, or the exception's own name."""
    for cls in type(exc).__mro__:
        if cls.__name__ in ERRORS and (cls is TypeError or issubclass(cls, TransportError)):
            return cls.__name__
    return type(exc).__name__


class _Forward(logging.Handler):
    """WARNING and above become ``log`` events, written before the reply of the call that logged."""

    def __init__(self, server: _Server) -> None:
        super().__init__(logging.WARNING)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        self.server.send(
            {"event": "log", "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        )


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tea_conformance.remote.pydriver TRANSPORT_NAME_OR_MODULE:CLASS\n")
        return 2
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not break the protocol
    server = _Server(argv[0], out)
    forward = _Forward(server)
    loggers = [logging.getLogger()] + [
        lg
        for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    for logger in loggers:
        logger.addHandler(forward)
    server.send(server.hello())
    pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="request")
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pool.submit(server.handle, request)
    server.close_all()  # EOF: the suite is gone
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
