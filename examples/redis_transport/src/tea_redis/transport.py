"""``RedisPubSubTransport``: PUB/SUB through a Redis broker (``PUBLISH`` / ``SUBSCRIBE``).

Addresses are ``tcp://HOST:PORT/CHANNEL``: the broker and a channel on it. ``bind()``
makes a publisher of the channel, ``connect()`` a subscriber. It speaks RESP itself, so
it needs nothing beyond the standard library.

How it keeps the contract's promises, since a broker sits in the middle:

* **Filtering** is done by the subscriber: it receives the whole channel and keeps the
  messages that start with one of its prefixes (Redis channels have no prefix matching
  on payloads).
* **A filter change takes effect at a point of the channel**, as it would on a ZeroMQ
  publisher, not whenever the reader thread happens to be: a message published while no
  prefix of the subscriber matched must never arrive, even if it is still on its way when
  the subscriber subscribes again. So ``subscribe()``/``unsubscribe()`` publish a *marker*
  (``_MARKER`` + an ID of the change) on the channel through a second connection, and the
  reader applies the change when that marker comes by: Redis delivers a channel's messages
  in order, so the ones published before the marker are judged by the old filter, the ones
  after it by the new. Nothing waits for a marker (receive() never does; the marker's
  ``PUBLISH`` has the I/O timeout). Every subscriber drops every marker, so payloads that
  start with ``_MARKER`` (``b"\\xff\\xfftea-redis:filter-change:"``) are refused by ``send()``.
* **Bounded queues**: each subscriber has a reader thread that always drains its
  socket (so the broker never buffers for it, and never disconnects it for a full output
  buffer) into a queue of ``high_water_mark`` messages; when the queue is full the new
  message is dropped *for that subscriber only* and ``hwm_reached`` counts it (observed on
  the subscriber's ``get_stats()``). ``on_hwm="block"`` cannot be honoured — the broker
  never tells a publisher that a subscriber is slow — so it is refused.
* **Linger**: ``send()`` returns once the broker has accepted the message (``PUBLISH``
  replies after queueing it for every subscriber), so nothing is left to deliver when
  ``close()`` runs: any ``linger`` is honoured at once, also when the process exits.
* **Address in use**: a publisher owns its channel through a key holding its connection's
  client ID; a second ``bind()`` is refused while that connection lives.

**The broker's configuration** these guarantees need: ``client-output-buffer-limit pubsub
0 0 0`` (``redis-server --client-output-buffer-limit "pubsub 0 0 0"``, or ``CONFIG SET``).
Redis's default, ``pubsub 32mb 8mb 60``, closes a subscriber whose output buffer grows past
8 MB for 60 s or past 32 MB at once: the reader thread drains its socket, but on a loaded
machine it may not run for a while, and the broker then ends the subscription in the middle
of a stream (``BrokenTransportError``) — a loss no bounded queue can account for. Memory
stays bounded without the limit: the subscriber drains into its ``high_water_mark`` queue.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import socket
import threading
import time
from typing import Any, ClassVar, Deque, List, Optional, Tuple, Union
from uuid import uuid4

from tea_transports import (
    NOBLOCK,
    AddressError,
    AddressInUseError,
    BrokenTransportError,
    Capabilities,
    ConfigurationError,
    Feature,
    Transport,
    TransportConfig,
    TransportError,
    TransportStateError,
    TransportStats,
    TransportTimeoutError,
)
from tea_transports.options import as_prefix

__all__ = ["SERVER_ENV", "RedisPubSubTransport"]

#: ``HOST:PORT`` of the broker the conformance suite's addresses point at
SERVER_ENV = "TEA_REDIS_SERVER"
_ADDRESS = re.compile(
    r"tcp://(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})/(?P<channel>[A-Za-z0-9._:\-]+)"
)
#: seconds to reach the broker and to wait for one of its replies, unless an option says
_DEFAULT_IO_TIMEOUT = 5.0
#: a subscriber's filter change, published on the channel: never an application payload
_MARKER = b"\xff\xfftea-redis:filter-change:"


class _Closed(Exception):
    """The connection to the broker ended (closed by us, or by the broker)."""


class _Connection:
    """One RESP connection: commands out, replies (or pushed messages) in."""

    def __init__(self, host: str, port: int, timeout: float, address: str) -> None:
        try:
            self.sock = socket.create_connection((host.strip("[]"), port), timeout=timeout)
        except OSError as exc:
            raise BrokenTransportError(
                f"cannot reach the Redis server for {address}: {exc}; is redis-server running on "
                f"{host}:{port}?"
            ) from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def send(self, *args: bytes) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            parts += [b"$%d\r\n" % len(arg), arg, b"\r\n"]
        self.sock.sendall(b"".join(parts))

    def call(self, *args: bytes) -> Any:
        self.send(*args)
        return self.reply()

    def reply(self) -> Any:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise _Closed("the connection to the broker ended")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise TransportError(f"the Redis server refused a command: {rest.decode(errors='replace')}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.reader.read(length + 2)
            if len(data) != length + 2:
                raise _Closed("the connection to the broker ended mid-message")
            return data[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise TransportError(f"unexpected reply from the Redis server: {line[:40]!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in another thread
        self.reader.close()
        self.sock.close()


def _parse(address: Any) -> Tuple[str, int, str]:
    if not isinstance(address, str):
        raise TypeError(
            f"an address must be a str like 'tcp://HOST:PORT/CHANNEL', got {type(address).__name__}"
        )
    match = _ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise AddressError(
            f"{address!r} is not a Redis pub/sub address: write tcp://HOST:PORT/CHANNEL, with a port in "
            f"1-65535 and a channel of letters, digits and . _ : -"
        )
    return match["host"], int(match["port"]), match["channel"]


class RedisPubSubTransport(Transport):
    """PUB/SUB on a Redis broker: ``bind()`` publishes to a channel, ``connect()`` subscribes."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        patterns=frozenset({"pub_sub"}),
        protocols=frozenset({"tcp"}),
        features=frozenset({Feature.FILTERING, Feature.HIGH_WATER_MARK, Feature.LINGER, Feature.STATS}),
    )

    @classmethod
    def conformance_address(cls, protocol: str) -> str:
        """A fresh channel on the broker named by ``$TEA_REDIS_SERVER`` (the suite's hook)."""
        return f"tcp://{os.environ.get(SERVER_ENV, '127.0.0.1:6379')}/tea-conf-{uuid4().hex}"

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        if self.options.on_hwm != "drop":
            raise ConfigurationError(
                "RedisPubSubTransport cannot honour on_hwm='block': the broker never tells a publisher "
                "that a subscriber is slow; use on_hwm='drop' (the default)"
            )
        self._role: Optional[str] = None
        self._closed = False
        self._conn: Optional[_Connection] = None
        self._owner_key: Optional[bytes] = None
        self._owner_id = b""
        self._lock = threading.Lock()  # one command at a time on the publisher's connection
        self._ready = threading.Condition()  # guards the subscriber's queue and filters
        self._queue: Deque[bytes] = collections.deque()
        self._filters: List[bytes] = list(self.options.subscribe_filter)  # in force where the reader is
        self._side: Optional[_Connection] = None  # a subscriber's connection for publishing markers
        self._marking = threading.Lock()  # changes are published in the order they are queued
        self._changes: Deque[Tuple[bytes, bytes, bool]] = collections.deque()  # (marker, prefix, add)
        self._marker_id = _MARKER + uuid4().hex.encode() + b":"
        self._marker_count = 0
        self._reader: Optional[threading.Thread] = None
        self._broken: Optional[str] = None
        self._sent = [0, 0]
        self._received = [0, 0]
        self._hwm_reached = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else (self._role or "new")
        return f"<RedisPubSubTransport {state} endpoint={self.endpoint!r}>"

    # -- roles --------------------------------------------------------------------------

    def _start(self, operation: str, address: Any) -> Tuple[str, int, str]:
        if self._closed:
            raise self._closed_error(operation)
        host, port, channel = _parse(address)
        if self._role is not None:
            raise TransportStateError(
                f"cannot {operation} {address}: this transport is already the {self._role}"
            )
        return host, port, channel

    def _timeout(self) -> float:
        ms = self.options.connect_timeout
        return _DEFAULT_IO_TIMEOUT if ms is None else max(ms / 1000, 0.001)

    def bind(self, address: str) -> None:
        host, port, channel = self._start("bind", address)
        conn = _Connection(host, port, self._timeout(), address)
        try:
            client_id = b"%d" % conn.call(b"CLIENT", b"ID")
            key = f"tea-redis:publisher:{channel}".encode()
            if conn.call(b"SET", key, client_id, b"NX") is None:
                owner = conn.call(b"GET", key) or b"0"
                if owner != client_id and conn.call(b"CLIENT", b"LIST", b"ID", owner):
                    raise AddressInUseError(
                        f"cannot bind {address}: another publisher (Redis client {owner.decode()}) owns "
                        f"channel {channel!r}; pick another address or close that publisher"
                    )
                conn.call(b"SET", key, client_id)  # its owner is gone: take the channel over
        except BaseException:
            conn.close()
            raise
        self._conn, self._owner_key, self._owner_id = conn, key, client_id
        self._channel = channel.encode()
        self._role, self.endpoint = "publisher", address

    def connect(self, address: str) -> None:
        host, port, channel = self._start("connect", address)
        conn = _Connection(host, port, self._timeout(), address)
        try:
            side = _Connection(host, port, self._timeout(), address)
        except BaseException:
            conn.close()
            raise
        try:
            reply = conn.call(b"SUBSCRIBE", channel.encode())  # confirmed: later messages reach us
            if not (isinstance(reply, list) and reply[:1] == [b"subscribe"]):
                raise TransportError(f"cannot subscribe to {address}: the server replied {reply!r}")
            conn.sock.settimeout(None)  # the reader waits for as long as the channel is quiet
        except BaseException:
            conn.close()
            side.close()
            raise
        self._conn, self._side, self._channel = conn, side, channel.encode()
        self._role, self.endpoint = "subscriber", address
        self._reader = threading.Thread(
            target=self._read, args=(conn,), name=f"redis-sub {address}", daemon=True
        )
        self._reader.start()

    # -- publishing ---------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        payload = _payload(data)
        if payload.startswith(_MARKER):
            raise TransportError(
                f"cannot send a payload that starts with {_MARKER!r} on {self.endpoint or 'this transport'}: "
                f"subscribers of RedisPubSubTransport take it for a filter change and drop it"
            )
        if self._closed:
            raise self._closed_error("send")
        if self._role != "publisher":
            raise self._wrong_role("send", "publisher")
        with self._lock:
            conn = self._conn
            if self._closed or conn is None:
                raise self._closed_error("send")
            try:
                conn.call(b"PUBLISH", self._channel, payload)
            except (OSError, _Closed) as exc:
                raise BrokenTransportError(
                    f"cannot send on {self.endpoint}: the broker connection failed ({exc})"
                ) from exc
        self._sent[0] += 1
        self._sent[1] += len(payload)
        return len(payload)

    # -- subscribing --------------------------------------------------------------------

    def _read(self, conn: _Connection) -> None:
        """The reader thread: drain the socket into the bounded queue, filtering by prefix."""
        hwm = self.options.high_water_mark
        try:
            while True:
                push = conn.reply()
                if not (isinstance(push, list) and len(push) == 3 and push[0] == b"message"):
                    continue
                message = push[2]
                with self._ready:
                    if message.startswith(_MARKER):  # ours: the change is in force from here on
                        self._apply_changes(message)
                        continue
                    if not message.startswith(tuple(self._filters)):
                        continue
                    if hwm and len(self._queue) >= hwm:
                        self._note_full()
                        continue
                    self._queue.append(message)
                    self._ready.notify()
        except (OSError, ValueError, _Closed, TransportError) as exc:
            with self._ready:
                self._broken = str(exc) or type(exc).__name__
                self._ready.notify_all()

    def _note_full(self) -> None:
        self._hwm_reached += 1

    def receive(self, size: int = 4096, flags: int = 0) -> bytes:
        if self._closed:
            raise self._closed_error("receive")
        if self._role != "subscriber":
            raise self._wrong_role("receive", "subscriber")
        if flags & NOBLOCK:
            deadline: Optional[float] = time.monotonic()
        elif self.options.receive_timeout is None:
            deadline = None
        else:
            deadline = time.monotonic() + self.options.receive_timeout / 1000
        with self._ready:
            while not self._queue:
                if self._closed:
                    raise self._closed_error("receive")
                if self._broken is not None:
                    raise BrokenTransportError(
                        f"cannot receive on {self.endpoint}: the broker connection ended ({self._broken})"
                    )
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TransportTimeoutError(
                        f"nothing arrived on {self.endpoint} within receive_timeout="
                        f"{self.options.receive_timeout} ms" + (" (NOBLOCK)" if flags & NOBLOCK else "")
                    )
                self._ready.wait(remaining)
            message = self._queue.popleft()
        self._received[0] += 1
        self._received[1] += len(message)
        return message

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        self._change_filter(as_prefix(prefix), add=True)

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        self._change_filter(as_prefix(prefix), add=False)

    def _change_filter(self, prefix: bytes, add: bool) -> None:
        operation = "subscribe" if add else "unsubscribe"
        if self._closed:
            raise self._closed_error(operation)
        with self._marking:
            side = self._side
            if side is None:  # not subscribed to a channel (yet): nothing is on its way
                with self._ready:
                    self._edit(prefix, add)
                return
            self._marker_count += 1
            marker = self._marker_id + b"%d" % self._marker_count
            with self._ready:
                if self._broken is not None:  # no marker would ever come by
                    raise BrokenTransportError(
                        f"cannot {operation} {prefix!r} on {self.endpoint}: the broker connection ended "
                        f"({self._broken}); connect a new subscriber"
                    )
                self._changes.append((marker, prefix, add))
            try:
                side.call(b"PUBLISH", self._channel, marker)
            except (OSError, ValueError, _Closed, TransportError) as exc:
                with self._ready, contextlib.suppress(ValueError):
                    self._changes.remove((marker, prefix, add))
                if self._closed:
                    raise self._closed_error(operation) from exc
                raise BrokenTransportError(
                    f"cannot {operation} {prefix!r} on {self.endpoint}: the broker connection failed "
                    f"({exc}); the filter is unchanged"
                ) from exc

    def _apply_changes(self, marker: bytes) -> None:
        """Apply the queued changes up to the one ``marker`` announced (held: ``_ready``);
        another subscriber's marker is not among them and changes nothing."""
        if all(queued != marker for queued, _, _ in self._changes):
            return
        while True:
            queued, prefix, add = self._changes.popleft()
            self._edit(prefix, add)
            if queued == marker:
                return

    def _edit(self, prefix: bytes, add: bool) -> None:
        if add and prefix not in self._filters:
            self._filters.append(prefix)
        elif not add and prefix in self._filters:
            self._filters.remove(prefix)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._ready.notify_all()  # a receive() waiting in another thread ends now
        conn, self._conn = self._conn, None
        side, self._side = self._side, None
        if side is not None:
            side.close()  # a subscribe() publishing its marker in another thread ends now
        if conn is None:
            return
        if self._owner_key is not None:  # release the channel (nothing is queued here: see linger)
            with self._lock:
                try:
                    if conn.call(b"GET", self._owner_key) == self._owner_id:
                        conn.call(b"DEL", self._owner_key)
                except (OSError, _Closed, TransportError):
                    pass
        conn.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(_DEFAULT_IO_TIMEOUT)

    @property
    def is_connected(self) -> bool:
        return self._role is not None and not self._closed

    def get_stats(self) -> TransportStats:
        return TransportStats(
            role=self._role,
            endpoint=self.endpoint,
            messages_sent=self._sent[0],
            bytes_sent=self._sent[1],
            messages_received=self._received[0],
            bytes_received=self._received[1],
            hwm_reached=self._hwm_reached,
        )

    def _wrong_role(self, operation: str, role: str) -> TransportStateError:
        now = f"is the {self._role}" if self._role else "is neither bound nor connected"
        return TransportStateError(
            f"cannot {operation} on {self.endpoint or 'this transport'}: only a {role} can, "
            f"and this one {now}"
        )


def _payload(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        try:
            return bytes(data)
        except ValueError as exc:  # a released memoryview
            raise TypeError(f"cannot send {data!r}: {exc}") from exc
    raise TypeError(f"send() takes bytes, bytearray or memoryview, got {type(data).__name__}")
