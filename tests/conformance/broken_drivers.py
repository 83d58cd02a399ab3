"""A driver that breaks the control protocol on purpose: ``python broken_drivers.py MODE``.

It serves the reference (``zeromq``) through the real Python driver until the first
``bind``, then misbehaves as MODE says; ``old-version`` says hello with protocol 0,
``built-in-name`` calls itself ``zeromq``, ``deaf`` stops reading its stdin after the
bind, ``bad-count`` answers ``send`` with null, ``floods`` writes 3 MB of stderr without
a newline and dies.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Dict

from tea_conformance.remote import pydriver

MODES = (
    "dies",
    "garbage",
    "hangs",
    "unknown-id",
    "old-version",
    "built-in-name",
    "deaf",
    "bad-count",
    "floods",
)
_deaf = threading.Event()


class _Broken(pydriver._Server):
    mode = ""

    def hello(self) -> Dict[str, Any]:
        hello = super().hello()
        hello["name"] = "zeromq" if self.mode == "built-in-name" else f"broken-{self.mode}"
        if self.mode == "old-version":
            hello["protocol"] = 0
        return hello

    def handle(self, request: Dict[str, Any]) -> None:
        if self.mode == "bad-count" and request.get("op") == "send":
            self.send({"id": request["id"], "ok": None})
        elif request.get("op") != "bind" or self.mode in ("deaf", "bad-count"):
            super().handle(request)
            if self.mode == "deaf" and request.get("op") == "bind":
                _deaf.set()
        elif self.mode == "floods":
            sys.stderr.write("x" * 3_000_000)
            sys.stderr.flush()
            os._exit(9)
        elif self.mode == "dies":
            sys.stderr.write("broken driver: giving up on bind, as asked\n")
            sys.stderr.flush()
            os._exit(7)
        elif self.mode == "garbage":
            with self.write_lock:
                self.out.write(b"this is not JSON\n")
                self.out.flush()
        elif self.mode == "unknown-id":
            self.send({"id": -1, "ok": None})
        elif self.mode == "hangs":
            threading.Event().wait()


def main(mode: str) -> None:
    _Broken.mode = mode
    server = _Broken("zeromq", sys.stdout.buffer)
    server.send(server.hello())
    for line in sys.stdin.buffer:
        request = json.loads(line)
        threading.Thread(target=server.handle, args=(request,), daemon=True).start()
        if mode == "deaf" and request.get("op") == "bind":
            _deaf.wait(10)
            threading.Event().wait()  # reads no more, and never exits by itself
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
