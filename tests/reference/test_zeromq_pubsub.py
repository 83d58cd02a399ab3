"""The reference ZeroMQ PUB/SUB transport, on real sockets over inproc, ipc and tcp."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest
import zmq
import zmq.auth
from tea_transports import (
    AddressError,
    AddressInUseError,
    ConfigurationError,
    TransportClosedError,
    TransportConfig,
    TransportStateError,
    TransportTimeoutError,
    create_transport,
)
from tea_transports.zeromq import LOGGER_NAME, local_endpoint, private_ipc_dir
from tea_transports.zeromq.base import translate_error
from tea_transports.zeromq.diagnostics import SlowSubscriberWarning
from waits import waiting_in

_IPC = pytest.mark.requires("ipc")
PROTOCOLS = ["inproc", pytest.param("ipc", marks=_IPC), "tcp"]
Make = Callable[..., Any]


def linked(make: Make, address: str, subscribers: int = 1, **options: Any) -> tuple[Any, List[Any]]:
    pub = make(**options)
    pub.bind(address)
    subs = [make(receive_timeout=5000, **options) for _ in range(subscribers)]
    for sub in subs:
        sub.connect(pub.endpoint)
    pub.wait_for_subscribers(subscribers, timeout=5)
    return pub, subs


# -- the story's reference-only scenarios ----------------------------------------------------


def test_TEA_STREAM_002_2_UNIT_005_bind_makes_an_xpub(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://unit-005")
    assert pub.socket_type == zmq.XPUB


def test_TEA_STREAM_002_2_UNIT_006_connect_makes_a_sub(zmq_transport: Make) -> None:
    sub = zmq_transport()
    sub.connect("tcp://127.0.0.1:1")
    assert sub.socket_type == zmq.SUB


def test_TEA_STREAM_002_2_UNIT_011_012_hwm_on_both_sides(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://unit-011", high_water_mark=77)
    assert pub.socket_option(zmq.SNDHWM) == 77
    # the subscriber's mark is shared: a quarter for the messages read ahead, the rest libzmq's
    assert (sub.read_ahead, sub.socket_option(zmq.RCVHWM)) == (77 // 4, 77 - 77 // 4)


def test_TEA_STREAM_002_2_UNIT_013_014_linger(zmq_transport: Make) -> None:
    default, custom = zmq_transport(), zmq_transport(linger=0)
    default.bind("inproc://unit-013a")
    custom.bind("inproc://unit-013b")
    assert (default.socket_option(zmq.LINGER), custom.socket_option(zmq.LINGER)) == (1000, 0)


@pytest.mark.requires("proc")
def test_TEA_STREAM_002_2_UNIT_016_failed_bind_leaves_no_socket(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        other = zmq_transport()
        with pytest.raises(AddressInUseError, match=r"already in use.*pick another address"):
            other.bind(pub.endpoint)
        assert other.is_connected is False
        other.close()
    # libzmq closes a socket's descriptors in its reaper thread, which a busy machine may
    # not schedule for a while: wait for it, with a deadline, rather than count at once
    deadline = time.monotonic() + 30
    pause = threading.Event()
    while len(os.listdir("/proc/self/fd")) > before + 1 and time.monotonic() < deadline:
        pause.wait(0.01)
    assert len(os.listdir("/proc/self/fd")) <= before + 1


def test_TEA_STREAM_002_2_UNIT_017_one_context(zmq_transport: Make) -> None:
    a, b = zmq_transport(), zmq_transport()
    assert a.context() is b.context() is zmq.Context.instance()


# -- fan-out, filters, order, interop --------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fan_out_in_order(zmq_transport: Make, address: Callable[[str], str], protocol: str) -> None:
    pub, subs = linked(zmq_transport, address(protocol), subscribers=3)
    messages = [b"%05d" % i for i in range(300)]
    for m in messages:
        pub.send(m)
    for sub in subs:
        assert [sub.receive() for _ in messages] == messages
    stats = pub.get_stats()
    assert (stats.subscriptions, stats.messages_sent, stats.hwm_reached) == (3, 300, 0)


def test_filters_and_resubscribe(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("inproc://filters")
    sub = zmq_transport(subscribe_filter=["metrics", b"alerts"], receive_timeout=5000)
    sub.connect("inproc://filters")
    assert pub.wait_for_subscribers(2, timeout=5) == 2  # one per prefix
    sub.subscribe("logs")
    sub.subscribe("logs")  # once only: ZeroMQ would count it twice
    assert pub.wait_for_subscribers(3, timeout=5) == 3
    sub.unsubscribe(b"alerts")
    assert sub.filters == (b"metrics", b"logs")
    for m in (b"logs 1", b"metrics 1", b"other"):
        pub.send(m)
    assert [sub.receive(), sub.receive()] == [b"logs 1", b"metrics 1"]


def test_plain_pyzmq_sub_receives_from_our_publisher(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    raw = zmq.Context.instance().socket(zmq.SUB)
    try:
        raw.setsockopt(zmq.SUBSCRIBE, b"")
        raw.setsockopt(zmq.RCVTIMEO, 5000)
        raw.connect(pub.endpoint)
        pub.wait_for_subscribers(1, timeout=5)
        pub.send(b"to a plain SUB")
        assert raw.recv_multipart() == [b"to a plain SUB"]  # a single frame of our bytes
    finally:
        raw.close(linger=0)


def test_our_subscriber_receives_from_a_plain_pyzmq_pub(zmq_transport: Make) -> None:
    raw = zmq.Context.instance().socket(zmq.XPUB)  # XPUB only to know when to send
    try:
        port = raw.bind_to_random_port("tcp://127.0.0.1")
        sub = zmq_transport(receive_timeout=5000)
        sub.connect(f"tcp://127.0.0.1:{port}")
        assert raw.recv() == b"\x01"
        raw.send(b"from a plain PUB")
        assert sub.receive() == b"from a plain PUB"
    finally:
        raw.close(linger=0)


# -- flow control --------------------------------------------------------------------------


def test_block_mode_loses_nothing_with_a_slow_subscriber(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://lossless", high_water_mark=10, on_hwm="block")
    count = 100_000
    got: List[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(sub.receive() for _ in range(count)))
    reader.start()
    for i in range(count):
        pub.send(b"%06d" % i)
    reader.join(60)
    assert got == [b"%06d" % i for i in range(count)]


def test_block_mode_times_out_then_delivers_in_order(zmq_transport: Make) -> None:
    pub, (sub,) = linked(
        zmq_transport, "inproc://block-timeout", high_water_mark=5, on_hwm="block", send_timeout=50
    )
    sent = 0
    with pytest.raises(TransportTimeoutError, match="on_hwm='block'.*not sent"):
        while sent < 1000:
            pub.send(b"%d" % sent)
            sent += 1
    assert pub.get_stats().send_timeouts == 1
    assert [sub.receive() for _ in range(sent)] == [b"%d" % i for i in range(sent)]


def test_drop_mode_warns_once_then_rate_limits(zmq_transport: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER_NAME)
    pub, _ = linked(zmq_transport, "inproc://warn", high_water_mark=10, hwm_warning_interval=3600)
    for episode in range(3):
        for i in range(1000):
            pub.send(b"%d-%d" % (episode, i))
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert len(records) == 1
    assert "inproc://warn" in records[0].getMessage()
    assert "high_water_mark=10" in records[0].getMessage()
    assert pub.get_stats().hwm_reached >= 1


def test_warning_reports_the_running_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER_NAME)
    warning = SlowSubscriberWarning("tcp://x:1", 10, interval=0)
    for _ in range(3):
        warning.record()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "1 more time(s) (3 in all)" in messages[-1]


# -- closing across threads ----------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_close_from_another_thread_ends_a_blocked_receive(
    zmq_transport: Make, address: Callable[[str], str], protocol: str
) -> None:
    for _ in range(30):
        pub = zmq_transport()
        pub.bind(address(protocol))
        sub = zmq_transport()  # no receive_timeout: would wait forever
        sub.connect(pub.endpoint)
        outcome: List[BaseException] = []
        entered = threading.Event()

        def receive(
            sub: Any = sub, entered: threading.Event = entered, outcome: List[BaseException] = outcome
        ) -> None:
            entered.set()
            try:
                sub.receive()
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=receive)
        thread.start()
        entered.wait(5)
        sub.close()
        thread.join(5)
        assert not thread.is_alive()
        assert [type(e) for e in outcome] == [TransportClosedError]
        pub.close()


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("udp://1.2.3.4:5", "must start with tcp://"),
        ("tcp://127.0.0.1:0", "port must be 1-65535"),
        ("tcp://127.0.0.1:70000", "port must be 1-65535"),
        ("tcp://127.0.0.1:\u00b2", "port must be 1-65535"),  # a digit to str.isdigit(), not to int()
        ("tcp://:5555", "expected tcp://HOST:PORT"),
        ("tcp://[::1:5555", "unbalanced brackets"),
        pytest.param("ipc://*", "private path", marks=_IPC),
        # any path that begins with * is libzmq's wildcard (found by hypothesis)
        pytest.param("ipc://*0", "private path", marks=_IPC),
        pytest.param("ipc:///" + "x" * 200, "more than this platform's", marks=_IPC),
        ("inproc://", "nothing follows"),
    ],
)
def test_bad_addresses_are_refused_before_zeromq(zmq_transport: Make, address: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        zmq_transport().bind(address)


def test_connect_needs_a_concrete_address(zmq_transport: Make) -> None:
    with pytest.raises(AddressError, match="'\\*' is only for bind"):
        zmq_transport().connect("tcp://127.0.0.1:*")


@_IPC
def test_ipc_takeover_is_refused(zmq_transport: Make, ipc_dir: str) -> None:
    first = zmq_transport()
    first.bind(f"ipc://{ipc_dir}/taken.sock")
    with pytest.raises(AddressInUseError, match="another endpoint is listening"):
        zmq_transport().bind(f"ipc://{ipc_dir}/taken.sock")
    first.close()
    assert not os.path.exists(f"{ipc_dir}/taken.sock")


def test_ephemeral_tcp_port_is_exposed(zmq_transport: Make) -> None:
    pub = zmq_transport()
    pub.bind("tcp://127.0.0.1:*")
    host, port = pub.endpoint.rsplit(":", 1)
    assert host == "tcp://127.0.0.1"
    assert 0 < int(port) < 65536


@_IPC
def test_local_endpoints_live_in_a_private_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    endpoint = local_endpoint("stream-1")
    directory = os.path.dirname(endpoint[len("ipc://") :])
    info = os.stat(directory)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, os.getuid())
    assert local_endpoint("x" * 300).endswith(".sock")  # hashed to fit the path limit
    assert local_endpoint("w", protocol="inproc") == "inproc://tea-w"


def test_a_directory_others_can_enter_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    squatted = tmp_path / f"tea-{os.getuid()}"
    squatted.mkdir()
    squatted.chmod(0o777)
    with pytest.raises(AddressError, match="must be a directory owned by uid .* with mode 0700"):
        private_ipc_dir()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (zmq.EADDRINUSE, AddressInUseError),
        (zmq.EINVAL, AddressError),
        (zmq.EAGAIN, TransportTimeoutError),
    ],
)
def test_libzmq_errors_are_translated(code: int, kind: type) -> None:
    error = translate_error(zmq.ZMQError(code), "bind", "tcp://x:1")
    assert isinstance(error, kind)
    assert "tcp://x:1" in str(error)


def test_zeromq_options_are_validated() -> None:
    from tea_transports import TransportConfig, create_transport

    with pytest.raises(
        ConfigurationError, match="'heartbeat_interval' must be an integer from 0 to 2147483647"
    ):
        create_transport(
            TransportConfig(transport_type="zeromq", pattern="pub_sub", options={"heartbeat_interval": -5})
        )


# -- CURVE -----------------------------------------------------------------------------------


def test_curve_authorised_client_receives_others_do_not(
    zmq_transport: Make, curve_keys: Dict[str, str]
) -> None:
    pub = zmq_transport(
        curve_secret_key_file=curve_keys["server_secret"], curve_allowed_clients=curve_keys["allowed"]
    )
    pub.bind("tcp://127.0.0.1:*")
    good = zmq_transport(
        curve_secret_key_file=curve_keys["client_secret"],
        curve_server_key_file=curve_keys["server_public"],
        receive_timeout=5000,
    )
    stranger = zmq_transport(
        curve_secret_key_file=curve_keys["stranger_secret"],
        curve_server_key_file=curve_keys["server_public"],
        receive_timeout=300,
    )
    plain = zmq_transport(receive_timeout=300)
    for sub in (good, stranger, plain):
        sub.connect(pub.endpoint)
    assert pub.wait_for_subscribers(1, timeout=5) == 1
    pub.send(b"secret")
    assert good.receive() == b"secret"
    for refused in (stranger, plain):
        with pytest.raises(TransportTimeoutError):
            refused.receive()
    assert pub.get_stats().subscriptions == 1  # only the authorised one got through


def test_curve_server_without_allow_list_is_refused(zmq_transport: Make, curve_keys: Dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="needs 'curve_allowed_clients'"):
        zmq_transport(curve_secret_key_file=curve_keys["server_secret"]).bind("tcp://127.0.0.1:*")


# -- batches -------------------------------------------------------------------------------


def test_send_many_and_receive_many(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://batches", high_water_mark=0)
    messages = [b"%05d" % i for i in range(5000)]
    assert pub.send_many(messages) == 5 * 5000
    got: List[bytes] = []
    while len(got) < len(messages):
        batch = sub.receive_many(700)
        assert 0 < len(batch) <= 700
        got.extend(batch)
    assert got == messages
    assert (pub.get_stats().messages_sent, sub.get_stats().messages_received) == (5000, 5000)
    with pytest.raises(TransportTimeoutError):
        sub.receive_many(flags=1)
    with pytest.raises(TypeError, match="max_messages"):
        sub.receive_many(0)
    with pytest.raises(TypeError, match="bytes-like"):
        pub.send_many([b"ok", "text"])  # type: ignore[list-item]


# -- reading ahead -------------------------------------------------------------------------
# On inproc a send() has queued the message at the subscriber when it returns, so one
# receive() reads ahead everything sent before it (up to a quarter of the mark).


def test_read_ahead_obeys_an_unsubscribe(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-unsubscribe", subscribe_filter=[b"a", b"b"])
    sent = [b"%s%03d" % (b"ab"[i % 2 : i % 2 + 1], i) for i in range(200)]
    pub.send_many(sent)
    assert sub.receive() == sent[0]  # the rest were read ahead with it
    sub.unsubscribe(b"b")
    rest = [sub.receive() for _ in range(99)]
    assert rest == [m for m in sent[1:] if m.startswith(b"a")]
    with pytest.raises(TransportTimeoutError):
        sub.receive(flags=zmq.NOBLOCK)
    assert sub.get_stats().messages_received == 100  # what was dropped was never received


def test_read_ahead_survives_unsubscribe_then_subscribe(zmq_transport: Make) -> None:
    """libzmq's SUB checks its filters when a message is read, so an unsubscribe followed by a
    subscribe (a refresh) keeps what was queued; what was read ahead is kept the same way."""
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-refresh")
    sent = [b"k%d" % i for i in range(10)]
    pub.send_many(sent)
    assert sub.receive() == sent[0]
    sub.unsubscribe(b"")
    sub.subscribe(b"")
    assert [sub.receive() for _ in range(9)] == sent[1:]
    assert sub.get_stats().messages_received == 10


@pytest.mark.parametrize("action", ["close", "unsubscribe"])
@pytest.mark.parametrize("call", ["receive", "receive_many"])
@pytest.mark.requires("sigalrm")
def test_read_ahead_and_a_signal_handler(zmq_transport: Make, call: str, action: str) -> None:
    """close() or unsubscribe(b"b") from a signal handler that lands while a receive reads
    ahead: the call ends with TransportClosedError, and no call that starts after the
    unsubscribe returns a b-message."""
    for trial in range(40):
        _signal_during_read_ahead(
            zmq_transport, f"inproc://ahead-{call}-{action}-{trial}", call, action, trial
        )


@contextlib.contextmanager
def _alarm(handler: Callable[..., None], after: float, every: float = 0) -> Iterator[None]:
    """SIGALRM runs ``handler`` ``after`` seconds from now (then ``every`` seconds) until the
    block ends; the previous handler comes back."""
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, after, every)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _signal_during_read_ahead(make: Make, address: str, call: str, action: str, trial: int) -> None:
    pub, (sub,) = linked(make, address, high_water_mark=0, subscribe_filter=[b"a", b"b"])
    pub.send_many([b"%s%d" % (b"ab"[i % 2 : i % 2 + 1], i) for i in range(20_000)])
    unsubscribed = threading.Event()

    def handler(*_: Any) -> None:
        if action == "close":
            sub.close()
        else:
            sub.unsubscribe(b"b")
            unsubscribed.set()

    with _alarm(handler, 0.0005 + (trial % 20) / 2000):
        try:
            while True:
                after = unsubscribed.is_set()
                if call == "receive":
                    got = [sub.receive(flags=zmq.NOBLOCK)]
                else:
                    got = sub.receive_many(300, zmq.NOBLOCK)
                assert got, f"{call}() returned nothing"
                assert not (after and [m for m in got if m.startswith(b"b")]), (
                    "a b-message after unsubscribe(b'b')"
                )
        except TransportClosedError:
            assert action == "close"
        except TransportTimeoutError:  # all read
            pass


def test_read_ahead_counts_only_what_was_returned(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-stats")
    pub.send_many([b"m%d" % i for i in range(50)])
    assert sub.receive() == b"m0"
    stats = sub.get_stats()
    assert (stats.messages_received, stats.bytes_received) == (1, 2)
    assert sub.receive_many(10) == [b"m%d" % i for i in range(1, 11)]
    assert sub.receive() == b"m11"
    assert sub.get_stats().messages_received == 12


def test_read_ahead_is_gone_after_close(zmq_transport: Make) -> None:
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-close")
    pub.send_many([b"m%d" % i for i in range(50)])
    assert sub.receive() == b"m0"
    closer = threading.Thread(target=sub.close)
    closer.start()
    closer.join(10)
    with pytest.raises(TransportClosedError):
        sub.receive()
    with pytest.raises(TransportClosedError):
        sub.receive_many()


def test_read_ahead_keeps_within_the_high_water_mark(zmq_transport: Make) -> None:
    """What waits for a subscriber (libzmq's queues on both sides plus the messages it read
    ahead) never exceeds the two marks: the publisher, in block mode, keeps it full."""
    pub, (sub,) = linked(
        zmq_transport, "inproc://ahead-hwm", high_water_mark=40, on_hwm="block", send_timeout=100
    )
    sent = received = most = 0
    for _ in range(5):
        with contextlib.suppress(TransportTimeoutError):
            while True:  # fill every queue up to its mark (the timeout lets libzmq make room)
                pub.send(b"m%d" % sent)
                sent += 1
        most = max(most, sent - received)
        for _ in range(40):  # past the low water mark: libzmq makes room again
            assert sub.receive() == b"m%d" % received
            received += 1
    assert most <= 2 * 40, f"{most} messages waited for a subscriber, with a mark of 40 on each side"


def test_two_receiving_threads_read_ahead_one_share(zmq_transport: Make) -> None:
    """Both wait with the lock released; the second to wake must not read a second share."""
    pub, (sub,) = linked(zmq_transport, "tcp://127.0.0.1:*", high_water_mark=40, on_hwm="block")
    got: List[List[bytes]] = [[], []]
    most = [0]

    def reader(mine: List[bytes]) -> None:
        with contextlib.suppress(TransportTimeoutError):
            while len(got[0]) + len(got[1]) < 20_000:
                mine.append(sub.receive())
                most[0] = max(most[0], len(sub._subscriber.inbox))

    threads = [threading.Thread(target=reader, args=(mine,)) for mine in got]
    for thread in threads:
        thread.start()
    for start in range(0, 20_000, 100):
        pub.send_many([b"m%06d" % i for i in range(start, start + 100)])
    for thread in threads:
        thread.join(60)
    assert sorted(got[0] + got[1]) == [b"m%06d" % i for i in range(20_000)]
    assert most[0] <= sub.read_ahead, f"{most[0]} read ahead, beyond the share of {sub.read_ahead}"


@pytest.mark.requires("sigalrm")
def test_read_ahead_and_a_receive_in_a_signal_handler(zmq_transport: Make) -> None:
    """A handler that receives while this thread receives: it gets a message read ahead, or
    (in the middle of a read) a TransportStateError; each message once, each caller's in order."""
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-handler-receive")
    by: Dict[str, List[int]] = {"main": [], "handler": []}
    refused = []
    busy = []  # a signal during the handler runs it again, nested: that one stands aside

    def handler(*_: Any) -> None:
        if busy:
            return
        busy.append(True)
        try:
            by["handler"].append(int(sub.receive(flags=zmq.NOBLOCK)))
        except TransportStateError as exc:
            refused.append(str(exc))
        except TransportTimeoutError:
            pass
        finally:
            busy.clear()

    with _alarm(handler, 0.0003, every=0.0003):
        for start in range(0, 60_000, 300):
            pub.send_many([b"%08d" % i for i in range(start, start + 300)])
            with contextlib.suppress(TransportTimeoutError):
                while True:
                    by["main"].append(int(sub.receive(flags=zmq.NOBLOCK)))
    # the NOBLOCK loop of the last batch may stop before its tail arrived (seen once in a CI
    # run: 16 messages); waiting for it (receive_timeout 5 s) still fails on a lost message
    while len(by["main"]) + len(by["handler"]) < 60_000:
        by["main"].append(int(sub.receive()))
    assert by["handler"], "the handler never received: the test did not test"
    assert all("already inside receive()" in reason for reason in refused), refused[:1]
    print("FIGURE handler receives", len(by["handler"]), "refused", len(refused))
    assert sorted(by["main"] + by["handler"]) == list(range(60_000))
    for who, got in by.items():
        assert got == sorted(got), f"the {who}'s messages came out of order"


@pytest.mark.parametrize("kind", ["zeromq", "zeromq-stream"])
@pytest.mark.requires("sigalrm")
def test_a_signal_handler_cannot_split_a_receive_many_batch(kind: str) -> None:
    """A handler that receives while receive_many() takes its batch is refused: it would
    take a message from the middle of the batch. Before or after the batch, it is served."""
    made: List[Any] = []

    def make(**options: Any) -> Any:
        config = TransportConfig(transport_type=kind, pattern="pub_sub", options=options)
        made.append(create_transport(config))
        return made[-1]

    try:
        pub, (sub,) = linked(make, f"inproc://handler-batch-{kind}", high_water_mark=0)
        in_handler: List[int] = []
        refused: List[str] = []
        busy = []  # a signal during the handler runs it again, nested: that one stands aside

        def handler(*_: Any) -> None:
            if busy:
                return
            busy.append(True)
            try:
                in_handler.append(int(sub.receive(flags=zmq.NOBLOCK)))
            except TransportStateError as exc:
                refused.append(str(exc))
            except TransportTimeoutError:
                pass
            finally:
                busy.clear()

        batches: List[List[int]] = []
        total = 60_000
        with _alarm(handler, 0.0003, every=0.0003):
            for start in range(0, total, 300):
                pub.send_many([b"%08d" % i for i in range(start, start + 300)])
                with contextlib.suppress(TransportTimeoutError):
                    while True:
                        batches.append([int(m) for m in sub.receive_many(64, zmq.NOBLOCK)])
        while len(in_handler) + sum(map(len, batches)) < total:  # stream mode: the last frame
            batches.append([int(m) for m in sub.receive_many(64)])
        assert in_handler, "the handler never received: the test did not test"
        split = [batch for batch in batches if batch != list(range(batch[0], batch[0] + len(batch)))]
        assert not split, f"{len(split)} batches lost a message to the handler, e.g. {split[0]}"
        assert sorted(in_handler + [m for batch in batches for m in batch]) == list(range(total))
        assert all("already inside receive()" in reason for reason in refused), refused[:1]
        print("FIGURE handler receives", len(in_handler), "refused", len(refused))
    finally:
        for transport in made:
            transport.close()


@pytest.mark.requires("sigalrm")
def test_a_signal_handler_may_receive_while_a_receive_waits(zmq_transport: Make) -> None:
    """A wait holds no message, so a handler's receive() meanwhile is served (a handler that
    drains on SIGTERM while the main loop waits)."""
    pub, (sub,) = linked(zmq_transport, "inproc://handler-during-wait")
    in_handler: List[bytes] = []

    def handler(*_: Any) -> None:
        pub.send(b"in handler")
        in_handler.append(sub.receive())
        pub.send(b"after")

    with _alarm(handler, 0.05):
        assert sub.receive() == b"after"  # waits; the handler runs during the wait
    assert in_handler == [b"in handler"]


def test_a_waiting_receive_takes_what_another_thread_read_ahead(zmq_transport: Make) -> None:
    """One thread waits; another reads a burst ahead. The waiter must take from the inbox, not
    wait on for libzmq's queue, which the other thread has emptied."""
    pub, (sub,) = linked(zmq_transport, "inproc://ahead-waiting")  # receive_timeout 5 s
    got: List[Any] = []
    waiter = threading.Thread(target=lambda: got.append(sub.receive()), daemon=True)
    waiter.start()
    deadline = time.monotonic() + 10
    while not waiting_in(waiter, "_wait") and time.monotonic() < deadline:
        pass
    assert waiting_in(waiter, "_wait"), "the waiter never waited"
    with sub._io_lock:  # so the waiter, woken by the burst, cannot take it first
        pub.send_many([b"m%d" % i for i in range(50)])
        first = sub.receive(flags=zmq.NOBLOCK)  # reads the rest ahead
    waiter.join(3)
    assert not waiter.is_alive(), "the waiter waited on while 49 messages were read ahead"
    assert [first, *got] == [b"m0", b"m1"]
