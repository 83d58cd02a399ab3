"""A driver process and the suite's end of its control protocol.

Requests are written by one writer thread and answered in any order: a reader thread
hands each reply to the thread waiting for its id, so a ``close`` sent from one thread is
answered while another thread's ``receive`` is still pending. A driver that dies, stops
answering, stops reading its stdin or breaks the protocol fails every call pending on
it, and every later one, with a :class:`DriverError` that says which and ends with its
stderr; no lock is ever held across a write, so stopping a driver never waits on one.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import os
import queue
import shlex
import subprocess
import threading
import time
from typing import IO, Any, Deque, Dict, List, Optional

from .protocol import PROTOCOL_VERSION, ProtocolError, dump, error_of

__all__ = ["HELLO_LIMIT", "REPLY_LIMIT", "Driver", "DriverError", "Hello"]

#: how long a driver may take to start and say hello (a JVM on a loaded machine)
HELLO_LIMIT = 60.0
#: how long a request that never blocks by contract may wait for its reply
REPLY_LIMIT = 20.0
#: how long one request may take to be written: longer, the driver stopped reading its stdin
WRITE_LIMIT = 10.0
#: lines of a driver's stderr kept for its error messages, and the longest kept of each
STDERR_LINES = 60
STDERR_LINE_BYTES = 2000

#: where the drivers' "log" events are re-logged, one child logger per driver name
LOGGER = "tea_conformance.remote"


class DriverError(RuntimeError):
    """The driver process died, hung or broke the protocol: the transport is not to blame
    for what it was asked, but the case cannot pass."""


class Hello:
    """What a driver declares in its first line."""

    def __init__(self, message: Any, command: str) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ProtocolError(f"the hello of `{command}` {what}: {message!r}"[:600])

        need(isinstance(message, dict) and message.get("event") == "hello", "is not {'event': 'hello', ...}")
        version = message.get("protocol")
        need(
            type(version) is int and version == PROTOCOL_VERSION,
            f"speaks protocol version {version!r}; this suite speaks version {PROTOCOL_VERSION} only",
        )
        name = message.get("name")
        need(isinstance(name, str) and bool(name), "has no name")
        caps = message.get("capabilities")
        need(isinstance(caps, dict), "has no capabilities object")

        def names(key: str) -> List[str]:
            value = caps.get(key, [])
            need(
                isinstance(value, list) and all(isinstance(v, str) for v in value),
                f"{key} is not a list of names",
            )
            return list(value)

        self.name: str = name
        self.version = str(message.get("version", ""))
        self.patterns = names("patterns")
        self.protocols = names("protocols")
        self.features = names("features")
        self.extra_options = names("extra_options")
        addresses = caps.get("addresses", False)
        need(isinstance(addresses, bool), "addresses is not true or false")
        self.addresses: bool = addresses
        self.limits: Dict[str, Any] = dict(message.get("limits") or {})


class _Slot:
    __slots__ = ("done", "op", "reply")

    def __init__(self, op: str = "") -> None:
        self.done = threading.Event()
        self.op = op
        self.reply: Any = None


class Driver:
    """One running driver process (per suite process: children start their own)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.owner = os.getpid()  # a forked child must start its own (the reader thread is not forked)
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise DriverError(
                f"cannot start the driver `{command}`: the command does not parse: {exc}"
            ) from None
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise DriverError(f"cannot start the driver `{command}`: {exc}") from None
        assert self.process.stdin
        assert self.process.stdout
        assert self.process.stderr
        self._stdin: IO[bytes] = self.process.stdin
        self._outbox: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
        self._writing_since: Optional[float] = None
        self._stderr: Deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._lock = threading.Lock()
        self._pending: Dict[int, _Slot] = {}
        self._ids = itertools.count(1)
        self._failure: Optional[str] = None
        self._hello = _Slot()
        self._logger = logging.getLogger(LOGGER)
        self._err_thread = threading.Thread(target=self._drain_stderr, name="tea driver stderr", daemon=True)
        self._err_thread.start()
        threading.Thread(target=self._read, name="tea driver replies", daemon=True).start()
        threading.Thread(target=self._write, name="tea driver requests", daemon=True).start()
        if not self._hello.done.wait(HELLO_LIMIT):
            self._fail(f"sent no hello within {HELLO_LIMIT:.0f} s: it hangs")
        if isinstance(self._hello.reply, Exception):
            self.stop()
            raise DriverError(self._describe(str(self._hello.reply)))
        if self._failure:
            raise DriverError(self._describe(self._failure))
        self.hello: Hello = self._hello.reply
        self._logger = logging.getLogger(f"{LOGGER}.{self.hello.name}")

    # -- requests -------------------------------------------------------------------------

    def call(self, op: str, limit: Optional[float] = REPLY_LIMIT, **fields: Any) -> Any:
        """Send one request and return its ``ok`` value, or raise its error.

        ``limit``: how long to wait for the reply (None: as long as it takes, for calls that
        block by contract; they end when the driver answers, dies or breaks the protocol)."""
        slot = _Slot(op)
        request_id = next(self._ids)
        line = dump({"id": request_id, "op": op, **fields})  # a TypeError here is the caller's
        with self._lock:
            if self._failure:
                raise DriverError(self._describe(self._failure, op))
            self._pending[request_id] = slot
            self._outbox.put(line)
        if not self._await(slot, limit):
            with self._lock:
                self._pending.pop(request_id, None)
            raise DriverError(self._describe(f"did not answer within {limit:.0f} s: it hangs", op))
        reply = slot.reply
        if isinstance(reply, DriverError):
            raise reply
        if "error" in reply:
            try:
                raise error_of(reply["error"])
            except ProtocolError as exc:
                raise DriverError(self._describe(f"broke the protocol: {exc}", op)) from None
        if "ok" not in reply:
            raise DriverError(
                self._describe(f"broke the protocol: a reply without 'ok' or 'error': {reply!r}", op)
            )
        return reply["ok"]

    def _await(self, slot: _Slot, limit: Optional[float]) -> bool:
        """Wait for ``slot``'s reply up to ``limit``; a write stuck past WRITE_LIMIT (the
        driver stopped reading) fails the driver, which answers every pending call."""
        until = None if limit is None else time.monotonic() + limit
        while True:
            step = 1.0 if until is None else min(1.0, until - time.monotonic())
            if slot.done.wait(max(0.0, step)):
                return True
            since = self._writing_since
            if since is not None and time.monotonic() - since > WRITE_LIMIT:
                self._fail(f"stopped reading its stdin (a request unwritten for {WRITE_LIMIT:.0f} s)")
                self.process.kill()
            elif until is not None and time.monotonic() >= until:
                return False

    @property
    def alive(self) -> bool:
        return self._failure is None and self.process.poll() is None

    def stop(self) -> None:
        """Close its stdin once what was asked is written (a driver exits on EOF), then
        kill it if it lingers, or if it stopped reading."""
        with self._lock:
            self._failure = self._failure or "was stopped by the suite"
        self._outbox.put(None)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    # -- the writer and the reader -------------------------------------------------------

    def _write(self) -> None:
        """Write each request in turn; None (or a broken pipe) closes stdin and ends."""
        while True:
            line = self._outbox.get()
            if line is None:
                break
            self._writing_since = time.monotonic()
            try:
                self._stdin.write(line)
                self._stdin.flush()
            except (OSError, ValueError):
                self._fail("closed its stdin")
                break
            finally:
                self._writing_since = None
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()

    def _read(self) -> None:
        try:
            self._read_replies()
        finally:  # the process is gone or killed: release its pipes
            assert self.process.stdout is not None
            self.process.stdout.close()
            self._outbox.put(None)  # the writer closes stdin (a write in progress fails: killed)

    def _read_replies(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            for line in stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    raise ProtocolError(f"a line that is not JSON: {line[:200]!r}") from None
                if not self._hello.done.is_set():
                    self._hello.reply = Hello(message, self.command)
                    self._hello.done.set()
                    continue
                self._dispatch(message)
        except ProtocolError as exc:
            self._fail(f"broke the protocol: {exc}")
            self.process.kill()
            return
        except Exception as exc:  # the reader must always end by failing what waits on it
            self._fail(f"could not be read: {type(exc).__name__}: {exc}")
            self.process.kill()
            return
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            self._fail("closed its stdout but did not exit")
            self.process.kill()
            return
        self._fail(f"died (exit code {code})" if self._failure is None else self._failure)

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise ProtocolError(f"a message that is not an object: {message!r}"[:300])
        if message.get("event") == "log":
            level = logging.getLevelName(str(message.get("level", "WARNING")).upper())
            text = message.get("message", "")
            self._logger.log(level if isinstance(level, int) else logging.WARNING, "%s", text)
            return
        request_id = message.get("id")
        if type(request_id) is not int:
            raise ProtocolError(f"a reply whose id is not an integer: {message!r}"[:300])
        with self._lock:
            slot = self._pending.pop(request_id, None)
        if slot is None:
            raise ProtocolError(f"a reply to no pending request: {message!r}"[:300])
        slot.reply = message
        slot.done.set()

    def _drain_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        with stderr:
            # at most STDERR_LINE_BYTES a line: a flood without newlines stays bounded
            for line in iter(lambda: stderr.readline(STDERR_LINE_BYTES), b""):
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _fail(self, why: str) -> None:
        """Fail every pending call (and every later one) with ``why``."""
        if not self._hello.done.is_set():
            self._hello.reply = ProtocolError(why)
            self._failure = why
            self._hello.done.set()
            return
        with self._lock:
            if self._failure is None:
                self._failure = why
            pending, self._pending = self._pending, {}
        for op_slot in pending.values():
            op_slot.reply = DriverError(self._describe(why, op_slot.op))
            op_slot.done.set()

    def _describe(self, why: str, op: str = "") -> str:
        """``why`` with the request it hit, on one line, then the driver's stderr."""
        if self.process.poll() is not None:
            self._err_thread.join(2)  # the rest of its stderr is on its way
        during = f" (request {op!r})" if op else ""
        tail = list(self._stderr)
        last = " | ".join(tail[-3:]) if tail else "(empty)"
        who = f"the driver `{self.command}` (pid {self.process.pid})"
        text = f"{who} {why}{during}; its stderr ends: {last[:300]}"
        if tail:
            text += "\n--- the driver's stderr (last lines) ---\n" + "\n".join(tail)
        return text
