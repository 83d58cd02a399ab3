"""UnixPipeTransport over real pipes and FIFOs, across threads and processes."""

from __future__ import annotations

import gc
import os
import subprocess
import threading
import uuid

import in_child
import pytest
from tea_transports import (
    NOBLOCK,
    AddressError,
    AddressInUseError,
    BrokenTransportError,
    TransportClosedError,
    TransportConfig,
    TransportStateError,
    TransportTimeoutError,
    UnixPipeTransport,
)

pytestmark = pytest.mark.requires("fifo")


def pipe(**options: object) -> UnixPipeTransport:
    return UnixPipeTransport(TransportConfig(options=options))


@pytest.fixture
def inproc_pair():  # type: ignore[no-untyped-def]
    name = f"inproc://{uuid.uuid4().hex}"
    writer, reader = pipe(send_timeout=2000), pipe(receive_timeout=2000)
    writer.bind(name)
    reader.connect(name)
    yield writer, reader
    writer.close()
    reader.close()


def test_messages_keep_their_boundaries(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    payloads = [b"", b"a", bytes(range(256)), os.urandom(200_000)]
    sender = threading.Thread(target=lambda: [writer.send(p) for p in payloads])
    sender.start()
    assert [reader.receive() for _ in payloads] == payloads
    sender.join(5)
    stats = writer.get_stats()
    assert (stats.role, stats.messages_sent, stats.bytes_sent) == ("publisher", 4, sum(map(len, payloads)))


def test_fifo_across_processes(ipc_dir: str) -> None:
    address = f"ipc://{ipc_dir}/channel"
    with pipe() as writer:
        writer.bind(address)
        assert oct(os.stat(f"{ipc_dir}/channel").st_mode & 0o777) == "0o600"
        child = in_child.command("fifo_consumer", address, "50")
        proc = subprocess.Popen(child, stdout=subprocess.PIPE, text=True)
        for i in range(50):
            writer.send(b"%d" % i)
        out, _ = proc.communicate(timeout=30)
    assert out == ",".join(str(i) for i in range(50))
    assert not os.path.exists(f"{ipc_dir}/channel")  # the producer removes its FIFO


def test_existing_fifo_is_not_taken_over(ipc_dir: str) -> None:
    os.mkfifo(f"{ipc_dir}/taken")
    with pipe() as writer, pytest.raises(AddressInUseError, match="already exists"):
        writer.bind(f"ipc://{ipc_dir}/taken")


def test_connect_before_bind_is_a_clear_error(ipc_dir: str) -> None:
    with pipe() as reader, pytest.raises(AddressError, match="bind the producer first"):
        reader.connect(f"ipc://{ipc_dir}/nobody")


def test_reader_gone_is_broken_pipe(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    reader.close()
    with pytest.raises(BrokenTransportError, match="the consumer closed the pipe"):
        writer.send(b"x")


def test_writer_gone_is_end_of_stream(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    writer.send(b"last")
    writer.close()
    assert reader.receive() == b"last"
    with pytest.raises(BrokenTransportError, match="the producer closed the pipe"):
        reader.receive()


def test_timeouts_and_noblock(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    _writer, reader = inproc_pair
    with pytest.raises(TransportTimeoutError):
        reader.receive(flags=NOBLOCK)
    quick = pipe(receive_timeout=20)
    name = f"inproc://{uuid.uuid4().hex}"
    with pipe() as w, quick:
        w.bind(name)
        quick.connect(name)
        with pytest.raises(TransportTimeoutError, match="timed out"):
            quick.receive()


def test_full_pipe_send_times_out_before_writing_a_byte(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    blob = b"x" * 4096
    with pytest.raises(TransportTimeoutError):
        for _ in range(10_000):  # far more than a pipe buffer holds
            writer.send(blob, NOBLOCK)
    accepted = writer.get_stats().messages_sent
    received = []
    while True:
        try:
            received.append(reader.receive(flags=NOBLOCK))
        except TransportTimeoutError:
            break
    writer.send(b"end")  # also writes the tail of the last accepted message
    while not received or received[-1] != b"end":
        received.append(reader.receive())
    # every accepted message arrives whole, nothing else does: framing survived the timeout
    assert received == [blob] * accepted + [b"end"]


@pytest.mark.parametrize("round_", range(20))
def test_close_from_another_thread_ends_receive(round_: int) -> None:
    name = f"inproc://{uuid.uuid4().hex}"
    writer, reader = pipe(), pipe()
    writer.bind(name)
    reader.connect(name)
    errors: list[BaseException] = []
    started = threading.Event()

    def receive() -> None:
        started.set()
        try:
            reader.receive()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=receive)
    thread.start()
    started.wait(5)
    reader.close()
    thread.join(5)
    writer.close()
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [TransportClosedError]


def test_roles_and_closed_state(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, _reader = inproc_pair
    with pytest.raises(TransportStateError, match="call connect"):
        writer.receive()
    with pytest.raises(TransportStateError, match="already the publisher"):
        writer.connect("inproc://x")
    writer.close()
    writer.close()
    with pytest.raises(TransportClosedError):
        writer.send(b"")
    assert writer.is_connected is False


def test_unclosed_transport_warns() -> None:
    transport = pipe()
    transport.bind(f"inproc://{uuid.uuid4().hex}")
    with pytest.warns(ResourceWarning, match="was never closed"):
        del transport
        gc.collect()


def test_descriptors_are_released() -> None:
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(200):
        name = f"inproc://{uuid.uuid4().hex}"
        with pipe() as w, pipe() as r:
            w.bind(name)
            r.connect(name)
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before


def test_stats_count_only_messages_returned(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    for payload in (b"one", b"two", b"three"):
        writer.send(payload)
    assert reader.receive() == b"one"  # the other two were read from the pipe, not returned
    stats = reader.get_stats()
    assert (stats.messages_received, stats.bytes_received) == (1, 3)
    reader.close()
    assert reader.get_stats().messages_received == 1  # dropped unread at close: not received


def test_threads_sharing_each_end_lose_and_split_nothing(inproc_pair) -> None:  # type: ignore[no-untyped-def]
    writer, reader = inproc_pair
    big = os.urandom(100_000)  # longer than the pipe buffer: written in several pieces
    per_thread = 300

    def send(tag: int) -> None:
        for i in range(per_thread):
            writer.send(big if i % 50 == 0 else b"%d:%d" % (tag, i))

    received: list[bytes] = []
    lock = threading.Lock()
    total = 2 * per_thread

    def receive() -> None:
        while True:
            with lock:
                if len(received) >= total:
                    return
            try:
                message = reader.receive()
            except TransportTimeoutError:
                return
            with lock:
                received.append(message)

    threads = [threading.Thread(target=send, args=(t,)) for t in (0, 1)]
    threads += [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    expected = sorted(big if i % 50 == 0 else b"%d:%d" % (t, i) for t in (0, 1) for i in range(per_thread))
    assert sorted(received) == expected  # every message once, whole
