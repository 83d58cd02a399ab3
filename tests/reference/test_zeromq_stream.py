"""Stream mode (``zeromq-stream``): frames on the wire, one message per call, every guarantee kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st
from tea_transports import (
    ConfigurationError,
    Transport,
    TransportClosedError,
    TransportConfig,
    TransportError,
    TransportStateError,
    TransportTimeoutError,
    create_transport,
)
from tea_transports.zeromq.framing import (
    JOIN_TAG,
    MAGIC,
    FramingError,
    TopicTable,
    pack,
    split_by_topic,
    unpack,
)
from tea_transports.zeromq.joins import make_join
from test_zeromq_pubsub import PROTOCOLS, Make, _alarm, linked  # the same helpers as plain mode


@pytest.fixture
def stream() -> Iterator[Make]:
    """Create stream-mode transports with options; all are closed after the test."""
    made: List[Transport] = []

    def make(kind: str = "zeromq-stream", **options: Any) -> Any:
        transport = create_transport(TransportConfig(transport_type=kind, pattern="pub_sub", options=options))
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def raw_sub(endpoint: str) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.subscribe(b"")
    # a publisher counts a subscriber at its join (see zeromq.joins): a plain SUB joins too
    sock.subscribe(make_join(b"", (0, -1, 256, 16_384)))
    sock.connect(endpoint)
    return sock


def frames_until(sock: zmq.Socket[Any], count: int) -> List[List[bytes]]:
    """The frames a plain SUB receives until they hold ``count`` messages (joins skipped)."""
    frames: List[List[bytes]] = []
    while sum(map(len, frames)) < count:
        message = sock.recv()
        if not message.startswith(JOIN_TAG):
            frames.append(unpack(message))
    return frames


# -- the frame ----------------------------------------------------------------------------

batches = st.lists(st.binary(max_size=300), min_size=1, max_size=40)


@given(batches)
def test_unpack_returns_what_pack_packed(batch: List[bytes]) -> None:
    frame = pack(batch)
    assert frame.startswith(batch[0]) and frame.endswith(MAGIC)  # routed by its first message
    assert unpack(frame) == batch


@given(st.binary(max_size=200))
def test_unpack_accepts_only_what_pack_makes(frame: bytes) -> None:
    try:
        result = unpack(frame)
    except FramingError:
        return
    assert pack(result) == frame


@pytest.mark.parametrize(
    "frame", [b"", b"TEA1", b"hello", b"\x00\x00\x00\x00TEA1", b"ab" + b"\x09\x00\x00\x00" * 2 + b"TEA1"]
)
def test_unpack_says_what_is_wrong(frame: bytes) -> None:
    with pytest.raises(FramingError, match="frame|trailer"):
        unpack(frame)


@given(st.lists(st.binary(max_size=4), max_size=6), st.lists(st.binary(max_size=8), min_size=1, max_size=30))
def test_messages_sharing_a_frame_go_to_the_same_subscribers(
    subscribed: List[bytes], batch: List[bytes]
) -> None:
    table = TopicTable(subscribed)
    runs = split_by_topic(batch, table)
    assert [m for run in runs for m in run] == batch  # nothing lost, order kept
    for run in runs:
        wanted_by = {p for p in subscribed if run[0].startswith(p)}
        assert all({p for p in subscribed if m.startswith(p)} == wanted_by for m in run)


# -- delivery -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_message_arrives_in_order(stream: Make, address: Callable[[str], str], protocol: str) -> None:
    pub, (sub,) = linked(stream, address(protocol), high_water_mark=0)
    sent = [b"m%d" % i + b"." * (i % 700) for i in range(5000)] + [b"", b"x" * 70_000]
    for message in sent[:2000]:
        pub.send(message)
    pub.send_many(sent[2000:])
    assert [sub.receive() for _ in range(len(sent))] == sent
    assert pub.get_stats().messages_sent == sub.get_stats().messages_received == len(sent)


def test_frames_hold_many_messages_within_the_limits(stream: Make, address: Callable[[str], str]) -> None:
    pub = stream(high_water_mark=0, stream_max_messages=10, stream_max_bytes=100)
    pub.bind(address("ipc"))
    plain = raw_sub(pub.endpoint)
    try:
        pub.wait_for_subscribers(1, timeout=5)
        sent = [b"%03d" % i + b"." * 7 for i in range(200)] + [b"big" + b"." * 200]
        pub.send_many(sent)
        frames = frames_until(plain, len(sent))
    finally:
        plain.close()
    assert [m for frame in frames for m in frame] == sent
    assert max(map(len, frames)) == 10  # coalesced, up to stream_max_messages
    assert all(sum(map(len, f)) <= 100 for f in frames[:-1]) and frames[-1] == [sent[-1]]


def test_a_lone_message_leaves_after_the_delay(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-lone", stream_max_delay_us=2000)
    pub.send(b"alone")  # no later send and no close: only the flusher thread can send it
    assert sub.receive() == b"alone"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_filters_with_alternating_topics(stream: Make, address: Callable[[str], str], protocol: str) -> None:
    pub = stream(high_water_mark=0)  # 900 messages in ~600 frames: more than a mark of 1,000 holds
    pub.bind(address(protocol))
    metrics = stream(subscribe_filter="metrics", receive_timeout=5000, high_water_mark=0)
    everything = stream(receive_timeout=5000, high_water_mark=0)
    for sub in (metrics, everything):
        sub.connect(pub.endpoint)
    pub.wait_for_subscribers(2, timeout=5)
    traffic = [m for i in range(300) for m in (b"metrics.%d" % i, b"logs.%d" % i, b"metricsX%d" % i)]
    for message in traffic:
        pub.send(message)
    wanted = [m for m in traffic if m.startswith(b"metrics")]
    assert [metrics.receive() for _ in wanted] == wanted
    assert [everything.receive() for _ in traffic] == traffic
    with pytest.raises(TransportTimeoutError):
        metrics.receive(flags=zmq.NOBLOCK)


def test_nothing_sent_before_a_subscription_is_delivered(stream: Make) -> None:
    """Messages wait in a frame (a long delay) while a subscriber connects, and another
    subscribes at run time: neither receives what was sent before it subscribed."""
    pub = stream(stream_max_delay_us=10_000_000)
    pub.bind("inproc://stream-before")
    first = stream(receive_timeout=5000, subscribe_filter=b"a")
    first.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    pub.send(b"a-early")
    pub.send(b"b-early")
    late = stream(receive_timeout=5000)
    late.connect(pub.endpoint)
    first.subscribe(b"b")
    pub.wait_for_subscribers(3, timeout=5)  # a, b and the late subscriber's b""
    for message in (b"a-new", b"b-new"):
        pub.send(message)
    pub.close()  # sends the last frame
    assert [first.receive() for _ in range(3)] == [b"a-early", b"a-new", b"b-new"]
    assert [late.receive() for _ in range(2)] == [b"a-new", b"b-new"]


def test_a_plain_publisher_is_refused_clearly(stream: Make) -> None:
    plain = stream("zeromq")
    plain.bind("inproc://stream-plain")
    sub = stream(receive_timeout=5000)
    sub.connect(plain.endpoint)
    plain.wait_for_subscribers(1, timeout=5)
    plain.send(b"not a frame")
    with pytest.raises(TransportError, match="not a stream-mode|stream-mode trailer.*zeromq-stream"):
        sub.receive()


# -- the high water mark and block mode ----------------------------------------------------


@pytest.mark.parametrize(
    ("hwm", "most", "per_frame", "frames"),
    [
        (0, 256, 256, 0),
        (65536, 8, 8, 65535),
        (1000, 256, 256, 999),
        (123, 256, 256, 122),
        (123, 1, 1, 123),
        (1, 256, 256, 1),
    ],
)
def test_high_water_marks_count_frames(
    stream: Make, address: Callable[[str], str], hwm: int, most: int, per_frame: int, frames: int
) -> None:
    """A frame carries stream_max_messages at any mark; libzmq's marks count frames, and with
    the frame each side holds in Python (fewer than a frame's messages) they make the mark."""
    pub, (sub,) = linked(stream, address("inproc"), high_water_mark=hwm, stream_max_messages=most)
    assert pub.frame_messages == sub.frame_messages == per_frame
    assert pub.socket_option(zmq.SNDHWM) == sub.socket_option(zmq.RCVHWM) == frames
    assert sub.read_ahead == per_frame - 1


@pytest.mark.parametrize("size", [6, 1000])  # frames full by count (256 of 6 B), or by bytes (16 of 1,000 B)
def test_a_stalled_subscriber_holds_at_most_the_mark(
    stream: Make, address: Callable[[str], str], size: int
) -> None:
    """A burst to a subscriber that does not read leaves it at most the publisher's and its
    own mark, in frames of at most stream_max_messages messages and stream_max_bytes bytes."""
    hwm = 20
    pub, (sub,) = linked(stream, address("inproc"), high_water_mark=hwm, stream_max_delay_us=10_000_000)
    pub.send_many([b"%06d" % i + b"." * (size - 6) for i in range(100_000)])
    pub.close()
    got = []
    with contextlib.suppress(TransportTimeoutError):
        while True:
            got.append(sub.receive(flags=zmq.NOBLOCK))
    per_frame = min(pub.frame_messages, 16_384 // size)
    # inproc: the two marks (19 frames each) form one queue, and the subscriber's own frame
    assert (hwm - 1) * per_frame <= len(got) <= 2 * hwm * per_frame
    assert sum(map(len, got)) <= 2 * hwm * 16_384
    assert got == sorted(got)


def test_block_mode_loses_nothing(stream: Make, address: Callable[[str], str]) -> None:
    pub, (sub,) = linked(
        stream, address("ipc"), high_water_mark=4, on_hwm="block", send_timeout=100, stream_max_messages=16
    )
    accepted: List[bytes] = []
    with pytest.raises(TransportTimeoutError):
        for i in range(1_000_000):
            message = b"%07d" % i + b"." * 4000
            pub.send(message)
            accepted.append(message)
    assert [sub.receive() for _ in accepted] == accepted  # the refused one stayed out
    with pytest.raises(TransportTimeoutError):
        sub.receive(flags=zmq.NOBLOCK)


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"stream_max_messages": 0},
        {"stream_max_messages": 1.5},
        {"stream_max_bytes": -1},
        {"stream_max_delay_us": True},
    ],
)
def test_bad_stream_options_are_refused(stream: Make, options: Any) -> None:
    with pytest.raises(ConfigurationError, match="stream_max"):
        stream(**options)


def test_plain_mode_refuses_stream_options(stream: Make) -> None:
    with pytest.raises(ConfigurationError, match="stream_max_messages"):
        stream("zeromq", stream_max_messages=8)


# -- threads, close, signals, fork, exit ---------------------------------------------------


def test_many_threads_send_without_the_lock(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-threads", high_water_mark=0)

    def worker(name: bytes) -> None:
        for i in range(5000):
            pub.send(b"%s:%d" % (name, i))

    threads = [threading.Thread(target=worker, args=(b"t%d" % n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    got = [sub.receive() for _ in range(20_000)]
    for n in range(4):  # each thread's messages, all of them, in its order
        assert [m for m in got if m.startswith(b"t%d:" % n)] == [b"t%d:%d" % (n, i) for i in range(5000)]


def test_close_from_another_thread_loses_no_accepted_message(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-close", high_water_mark=0)
    accepted: List[bytes] = []
    refused = threading.Event()

    def sender() -> None:
        for i in range(10_000_000):
            try:
                pub.send(b"%d" % i)
            except TransportClosedError:
                refused.set()
                return
            accepted.append(b"%d" % i)

    thread = threading.Thread(target=sender)
    thread.start()
    delivered = []
    while len(accepted) < 20_000:
        delivered.append(sub.receive())
    pub.close()
    thread.join(30)
    assert refused.is_set()
    while True:
        try:
            delivered.append(sub.receive(flags=zmq.NOBLOCK))
        except TransportTimeoutError:
            break
    # exactly the accepted messages, in order: none lost, none refused delivered (the reader
    # may have taken the last one before close(): what is left to read can be nothing)
    assert delivered == accepted


@pytest.mark.requires("sigalrm")
def test_close_from_a_signal_handler_during_sends(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-signal", high_water_mark=0)
    accepted: List[bytes] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: pub.close())
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(TransportClosedError):
            for i in range(100_000_000):
                pub.send(b"%d" % i)
                accepted.append(b"%d" % i)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [sub.receive() for _ in accepted] == accepted
    with pytest.raises(TransportTimeoutError):
        sub.receive(flags=zmq.NOBLOCK)


@pytest.mark.slow
@pytest.mark.parametrize(("delay", "count"), [(500, 400_000), (0, 50_000)])
@pytest.mark.requires("sigalrm")
def test_a_signal_handlers_send_never_overtakes_accepted_messages(
    stream: Make, delay: int, count: int
) -> None:
    """A handler's send() that lands while a flush sends its batch goes behind the batch:
    every message whose send() had returned before the handler ran arrives before the
    handler's (a frame-sized one, which would leave at once), and the interrupted send()
    raises nothing."""
    pub, (sub,) = linked(
        stream, f"inproc://stream-signal-send-{delay}", high_water_mark=0, stream_max_delay_us=delay
    )
    big = 16_384  # stream_max_bytes: the handler's message leaves alone, at once
    returned = [0]  # main's sends that had returned
    before: List[int] = []  # per handler message: how many had returned when it was sent

    def handler(*_: Any) -> None:
        before.append(returned[0])
        pub.send(b"h%08d" % (len(before) - 1) + b"." * big)

    with _alarm(handler, 0.0002, every=0.0002):
        for i in range(count):
            pub.send(b"m%08d" % i)
            returned[0] = i + 1
    pub.close()
    arrived = [sub.receive(size=2 * big) for _ in range(count + len(before))]
    mains = [int(m[1:9]) for m in arrived if m[:1] == b"m"]
    assert mains == list(range(count))
    seen = 0  # main messages arrived so far
    overtaken = []
    for message in arrived:
        if message[:1] == b"m":
            seen += 1
        elif seen < before[int(message[1:9])]:
            overtaken.append(before[int(message[1:9])] - seen)
    assert len(before) > 100, "few signals: the test did not test"
    assert not overtaken, (
        f"{len(overtaken)} handler sends overtook accepted messages (by up to {max(overtaken)})"
    )


def test_only_a_publisher_sends(stream: Make) -> None:
    new, sub = stream(), stream()
    sub.connect("inproc://stream-nobody")
    for transport in (new, sub):
        with pytest.raises(TransportStateError, match="only a publisher"):
            transport.send(b"x")
        assert transport._publisher is None  # no outbox: nothing kept from the refused send


@pytest.mark.requires("fork")
def test_a_forked_copy_refuses_to_send(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-fork", stream_max_delay_us=10_000_000)
    pub.send(b"opens a frame")  # the next send would take the path without the lock
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what send() raised, and leave at once
        try:
            pub.send(b"from the child")
            os.write(write, b"sent")
        except TransportStateError:
            os.write(write, b"refused")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"refused" and status == 0
    os.close(read)
    pub.send(b"from the parent")
    pub.close()
    assert [sub.receive(), sub.receive()] == [b"opens a frame", b"from the parent"]


@pytest.mark.parametrize(
    "ending",
    [
        "",  # exit without close(): the exit hook sends the last frame
        "del pub; import gc; gc.collect()",  # dropped: its finalizer closes it
        # dropped after the flusher went idle, with a frame waiting (the flusher cannot help)
        "import threading\n"
        "idle, deadline = threading.Event(), time.monotonic() + 10\n"
        "while pub._publisher.outbox.flusher_busy and time.monotonic() < deadline: idle.wait(0.001)\n"
        "assert not pub._publisher.outbox.flusher_busy, 'the flusher never went idle'\n"
        "for i in range(300, 310): pub.send(b'%d' % i)\n"
        "del pub; import gc; gc.collect()",
    ],
    ids=["exit-without-close", "dropped", "dropped-after-the-flusher-went-idle"],
)
def test_what_waits_in_a_frame_leaves_with_the_process(
    stream: Make, address: Callable[[str], str], ending: str
) -> None:
    endpoint = address("ipc")
    sub = stream(receive_timeout=10_000, high_water_mark=0)
    sub.connect(endpoint)
    child = (
        textwrap.dedent(
            f"""
            import time
            from tea_transports import TransportConfig, create_transport
            pub = create_transport(TransportConfig(transport_type="zeromq-stream", pattern="pub_sub",
                                   options={{"stream_max_delay_us": 100_000, "high_water_mark": 0}}))
            pub.bind({endpoint!r})
            pub.wait_for_subscribers(1, timeout=10)
            for i in range(300):
                pub.send(b"%d" % i)
            """
        )
        + ending
    )
    subprocess.run([sys.executable, "-W", "ignore::ResourceWarning", "-c", child], check=True, timeout=60)
    count = 310 if "300, 310" in ending else 300
    assert [sub.receive() for _ in range(count)] == [b"%d" % i for i in range(count)]


@pytest.mark.parametrize("kind", ["zeromq", "zeromq-stream"])
def test_a_close_begun_under_the_lock_is_finished_by_the_next_close(
    stream: Make, address: Callable[[str], str], kind: str
) -> None:
    """What close() sees when a signal handler interrupts a call that holds the lock: it can
    only begin. A later close() (the exit hook calls one) finishes it: what was sent leaves,
    and the socket and its ipc file are gone."""
    endpoint = address("ipc")
    pub = stream(kind, high_water_mark=0, **({"stream_max_delay_us": 10_000_000} if "stream" in kind else {}))
    pub.bind(endpoint)
    sub = stream(kind, receive_timeout=5000, high_water_mark=0)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    for i in range(10):
        pub.send(b"%d" % i)
    with pub._io_lock:  # as the interrupted call holds it
        pub.close()
    assert pub._socket is not None  # begun only
    pub.close()
    assert pub._socket is None and not os.path.exists(endpoint[len("ipc://") :])
    assert [sub.receive() for _ in range(10)] == [b"%d" % i for i in range(10)]


# -- found by attacking it ----------------------------------------------------------------


def _drain(sub: Any) -> List[bytes]:
    got: List[bytes] = []
    with contextlib.suppress(TransportTimeoutError):
        while True:
            got.append(sub.receive(flags=zmq.NOBLOCK))
    return got


def test_a_subscriber_acknowledged_mid_frame_gets_what_follows(stream: Make) -> None:
    """A join acknowledged while a frame was open: the frames after it are grouped by the
    subscriptions as they are now, so the newcomer's topic is not hidden behind another's."""
    pub = stream(high_water_mark=0, stream_max_delay_us=10_000_000)
    pub.bind("inproc://stream-mid-frame")
    everything = stream(high_water_mark=0)
    everything.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    pub.send(b"a0")  # opens a frame while only b"" is subscribed
    newcomer = stream(high_water_mark=0, receive_timeout=5000, subscribe_filter=b"b")
    newcomer.connect(pub.endpoint)
    pub.wait_for_subscribers(2, timeout=5)  # sends [a0], then the acknowledgement
    pub.send(b"a1")
    pub.send(b"b1")
    pub.close()
    assert newcomer.receive() == b"b1"


def test_an_old_acknowledgement_does_not_confirm_a_new_subscription(stream: Make) -> None:
    pub = stream(high_water_mark=0, stream_max_delay_us=0)  # every send() leaves at once
    pub.bind("inproc://stream-old-ack")
    sub = stream(high_water_mark=0, receive_timeout=5000, subscribe_filter=b"x")
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    sub.subscribe(b"a")
    pub.wait_for_subscribers(2, timeout=5)  # acknowledges the join of b"a"
    pub.send(b"a-old")
    sub.unsubscribe(b"a")
    sub.subscribe(b"a")  # a new join; the old acknowledgement is still queued
    pub.wait_for_subscribers(2, timeout=5)
    pub.send(b"a-new")
    assert sub.receive() == b"a-new"


def test_block_mode_a_join_while_a_subscriber_is_full(stream: Make) -> None:
    """The acknowledgement waits for room like the frames before it; nothing raises out of
    wait_for_subscribers() or get_stats(), and the flusher keeps working."""
    options: Dict[str, Any] = dict(
        high_water_mark=4096, on_hwm="block", send_timeout=100, stream_max_delay_us=2000
    )
    pub = stream(**options)
    pub.bind("inproc://stream-block-join")
    slow = stream(receive_timeout=5000, **options)
    slow.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    accepted = 0
    with pytest.raises(TransportTimeoutError):
        while True:
            pub.send(b"%d" % accepted)
            accepted += 1
    late = stream(receive_timeout=5000, **options)
    late.connect(pub.endpoint)
    assert pub.wait_for_subscribers(2, timeout=5) == 2
    assert pub.get_stats().messages_sent == accepted
    assert [slow.receive() for _ in range(accepted)] == [b"%d" % i for i in range(accepted)]
    pub.send(b"after")  # the flusher sends it: nothing else will
    assert slow.receive() == b"after" and late.receive() == b"after"


def test_frames_stay_within_the_limits_when_threads_send_at_once(stream: Make) -> None:
    pub = stream(high_water_mark=0, stream_max_messages=8, stream_max_bytes=80)
    pub.bind("inproc://stream-overshoot")
    plain = raw_sub(pub.endpoint)
    try:
        pub.wait_for_subscribers(1, timeout=5)
        threads = [
            threading.Thread(target=lambda n=n: [pub.send(b"t%d:%05d" % (n, i)) for i in range(5000)])
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        frames = frames_until(plain, 40_000)
        for thread in threads:
            thread.join(30)
    finally:
        plain.close()
    assert max(map(len, frames)) <= 8 and max(sum(map(len, f)) for f in frames) <= 80


def test_a_payload_that_looks_like_an_acknowledgement(stream: Make) -> None:
    pub, (sub,) = linked(stream, "inproc://stream-join-tag", high_water_mark=0)
    sent = [JOIN_TAG + b"0123", b"m1", b"m2"]
    pub.send_many(sent)
    assert [sub.receive() for _ in sent] == sent


def test_receive_timeout_holds_while_frames_for_others_arrive(stream: Make) -> None:
    """Frames that reach this subscriber but hold nothing for it (b"a" + b"bX" begins with
    its b"ab") do not restart its receive_timeout."""
    pub = stream(high_water_mark=0, stream_max_delay_us=100)
    pub.bind("inproc://stream-timeout")
    sub = stream(high_water_mark=0, receive_timeout=300, subscribe_filter=b"ab")
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            pub.send_many([b"a", b"bX"])
            stop.wait(0.002)

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        with pytest.raises(TransportTimeoutError):
            sub.receive()  # before the fix: only when the sender stops
        assert thread.is_alive(), "the receive ended only when the frames stopped coming"
    finally:
        stop.set()
        thread.join(10)


def test_block_mode_a_refused_send_was_not_sent_with_threads(stream: Make) -> None:
    """Threads append to the frame that a timed-out send() would take back: one whose
    message left in an earlier frame of the flush must not report it refused."""
    options: Dict[str, Any] = dict(high_water_mark=32, on_hwm="block", send_timeout=20)
    pub = stream(**options)
    pub.bind("inproc://stream-block-threads")
    sub = stream(receive_timeout=5000, **options)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    accepted: Dict[int, List[int]] = {t: [] for t in range(3)}
    refused: Dict[int, List[int]] = {t: [] for t in range(3)}

    def sender(t: int) -> None:
        for i in range(30_000):
            try:
                pub.send(b"%d:%d" % (t, i))
                accepted[t].append(i)
            except TransportTimeoutError:
                refused[t].append(i)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    got: List[bytes] = []
    deadline = time.monotonic() + 120
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        with contextlib.suppress(TransportTimeoutError):
            got.extend(sub.receive_many(64, flags=zmq.NOBLOCK))
        threads[0].join(0.002)  # a slow reader (64 per 2 ms) fills the queue: sends time out
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    pub.close()
    got.extend(_drain(sub))
    assert any(refused.values()), "no send timed out: the test did not test"
    for t in range(3):
        mine = [int(m.split(b":")[1]) for m in got if m.startswith(b"%d:" % t)]
        assert mine == accepted[t]  # every accepted one, in order; no refused one


def test_subscribing_to_the_reserved_prefix_is_refused(stream: Make) -> None:
    with pytest.raises(ConfigurationError, match="stream mode's own"):
        stream(subscribe_filter=JOIN_TAG + b"x")
    sub = stream()
    sub.connect("inproc://stream-reserved")
    with pytest.raises(ConfigurationError, match="stream mode's own"):
        sub.subscribe(JOIN_TAG)


@pytest.mark.parametrize("kind", ["zeromq", "zeromq-stream"])
@pytest.mark.parametrize("flags", [False, 0.0, None, "", b"", True, 1.0, "1"])
def test_flags_that_are_not_an_int_are_refused(
    stream: Make, address: Callable[[str], str], kind: str, flags: Any
) -> None:
    """Falsy ones too: a flags=None must not pass for 0 on the fast paths."""
    pub, (sub,) = linked(stream, address("inproc"), kind=kind)
    pub.send(b"queued")  # so receive() would find a message without checking anything else
    pub.close()
    with pytest.raises(TypeError, match="flags must be an int"):
        pub.send(b"x", flags)
    with pytest.raises(TypeError, match="flags must be an int"):
        sub.receive(flags=flags)
    with pytest.raises(TypeError, match="flags must be an int"):
        sub.receive_many(flags=flags)
