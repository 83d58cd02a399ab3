"""Faults with real processes and real signals: subscribers killed or frozen, publishers
killed and restarted, stalls of a million messages, and closing under load. Every wait
has a deadline; the figures are printed (run with -s) and attached as user properties."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from typing import Any, Callable, List

import pytest
from actor_process import Actor
from tea_transports import TransportClosedError, TransportTimeoutError
from tea_transports.zeromq import local_endpoint

pytestmark = pytest.mark.requires("job_control")
_IPC = pytest.mark.requires("ipc")

Make = Callable[..., Any]
PROTOCOLS = ["tcp", pytest.param("ipc", marks=_IPC)]


def free_address(protocol: str, ipc_dir: str) -> str:
    import socket

    if protocol == "ipc":
        return f"ipc://{ipc_dir}/restart.sock"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def poll_until(condition: Callable[[], bool], deadline_s: float, what: str) -> float:
    """Poll ``condition`` every 5 ms; return the seconds it took, or fail at the deadline."""
    began, pause = time.monotonic(), threading.Event()
    while not condition():
        assert time.monotonic() - began < deadline_s, f"not within {deadline_s} s: {what}"
        pause.wait(0.005)
    return time.monotonic() - began


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def figure(record_property: Any, name: str, value: Any) -> None:
    record_property(name, value)
    print(f"FIGURE {name} = {value}")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sigkill_subscriber_mid_stream(
    zmq_transport: Make, address: Any, actors: List[Actor], protocol: str, record_property: Any
) -> None:
    count = 20_000
    pub = zmq_transport(on_hwm="block", send_timeout=10_000)  # survivors must miss nothing
    pub.bind(address(protocol))
    # the survivors stay connected until they are counted: one that has read everything and
    # left while this process was descheduled would take the count below 2
    options = '{"hold": true, "receive_timeout": 60000}'
    subs = [Actor("subscribe", pub.endpoint, str(count), options) for _ in range(3)]
    actors.extend(subs)
    for sub in subs:
        sub.expect("connected")
    pub.wait_for_subscribers(3, timeout=30)
    began = time.monotonic()
    for i in range(count):
        if i == count // 4:
            os.kill(subs[0].pid, signal.SIGKILL)
        pub.send(b"m:%08d" % i)
    rate = count / (time.monotonic() - began)
    noticed = poll_until(
        lambda: pub.get_stats().subscriptions == 2, 10, "the publisher counts 2 subscriptions"
    )
    for survivor in subs[1:]:
        report = survivor.expect("done", timeout=60)
        assert (report["received"], report["gaps"]) == (count, 0)
        survivor.release()
    figure(record_property, f"sigkill_{protocol}_publisher_msgs_per_s", round(rate))
    figure(record_property, f"sigkill_{protocol}_unsubscribe_noticed_s", round(noticed, 3))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_publisher_killed_and_restarted(
    zmq_transport: Make, actors: List[Actor], ipc_dir: str, protocol: str, record_property: Any
) -> None:
    addr = free_address(protocol, ipc_dir)
    first = Actor("publish", addr, "one")
    actors.append(first)
    first.expect("bound")
    sub = zmq_transport(receive_timeout=100)
    sub.connect(addr)

    def receive_tagged(tag: bytes, deadline_s: float) -> None:
        began = time.monotonic()
        while True:
            assert time.monotonic() - began < deadline_s, f"no {tag!r} message within {deadline_s} s"
            try:
                if sub.receive().startswith(tag):
                    return
            except TransportTimeoutError:
                continue

    receive_tagged(b"one:", 30)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    second = Actor("publish", addr, "two")
    actors.append(second)
    second.expect("bound")
    began = time.monotonic()
    receive_tagged(b"two:", 30)  # the subscriber reconnected and resubscribed by itself
    figure(record_property, f"restart_{protocol}_recovery_s", round(time.monotonic() - began, 3))


def test_frozen_subscriber_is_noticed_with_heartbeats(
    zmq_transport: Make, actors: List[Actor], record_property: Any
) -> None:
    pub = zmq_transport(heartbeat_interval=100, heartbeat_timeout=300)
    pub.bind("tcp://127.0.0.1:*")
    # it waits for a message longer than the test may take: one that gave up and left before
    # it was frozen would drop out of the count without any heartbeat
    sub = Actor("subscribe", pub.endpoint, "1", '{"receive_timeout": 600000}')
    actors.append(sub)
    sub.expect("connected")
    pub.wait_for_subscribers(1, timeout=30)
    os.kill(sub.pid, signal.SIGSTOP)
    try:
        noticed = poll_until(
            lambda: pub.get_stats().subscriptions == 0, 10, "the frozen subscriber is dropped"
        )
    finally:
        os.kill(sub.pid, signal.SIGCONT)
    figure(record_property, "frozen_subscriber_noticed_s", round(noticed, 3))


def test_frozen_publisher_gives_a_timeout_not_silence(zmq_transport: Make, actors: List[Actor]) -> None:
    pub = Actor(
        "publish", "tcp://127.0.0.1:*", "live", '{"heartbeat_interval": 100, "heartbeat_timeout": 300}'
    )
    actors.append(pub)
    endpoint = pub.expect("bound")["endpoint"]
    sub = zmq_transport(receive_timeout=1000, heartbeat_interval=100, heartbeat_timeout=300)
    sub.connect(endpoint)
    sub.receive()
    os.kill(pub.pid, signal.SIGSTOP)
    try:
        with pytest.raises(TransportTimeoutError, match="timed out"):
            for _ in range(10_000):  # drain what was in flight; then the silence is reported
                sub.receive()
    finally:
        os.kill(pub.pid, signal.SIGCONT)


@pytest.mark.requires("proc")
def test_million_message_stall_drop_mode_memory(
    zmq_transport: Make, address: Any, actors: List[Actor], record_property: Any
) -> None:
    pub = zmq_transport(high_water_mark=1000)
    pub.bind(address("ipc"))
    # it waits for its first message as long as the test may take (the fixture kills it): one
    # that gave up and left before it was frozen would leave nobody to fill a queue
    options = '{"receive_timeout": 600000, "high_water_mark": 1000}'
    sub = Actor("subscribe", pub.endpoint, "1000000", options)
    actors.append(sub)
    sub.expect("connected")
    pub.wait_for_subscribers(1, timeout=30)
    os.kill(sub.pid, signal.SIGSTOP)
    gc.collect()
    before = rss()
    message = b"x" * 64
    for _ in range(1_000_000):
        pub.send(message)
    growth = rss() - before
    os.kill(sub.pid, signal.SIGCONT)
    assert pub.get_stats().hwm_reached >= 1
    assert growth <= 10 * 1024 * 1024, (
        f"publisher RSS grew {growth / 1e6:.1f} MB over a 1,000,000-message stall"
    )
    figure(record_property, "stall_drop_rss_growth_mb", round(growth / 1e6, 2))


def test_million_message_stall_block_mode_is_lossless(
    zmq_transport: Make, address: Any, actors: List[Actor], record_property: Any
) -> None:
    total = 1_000_000
    pub = zmq_transport(high_water_mark=1000, on_hwm="block", send_timeout=200)
    pub.bind(address("ipc"))
    sub = Actor("subscribe", pub.endpoint, str(total), '{"high_water_mark": 1000, "receive_timeout": 60000}')
    actors.append(sub)
    sub.expect("connected")
    pub.wait_for_subscribers(1, timeout=30)
    os.kill(sub.pid, signal.SIGSTOP)
    sent = 0
    with pytest.raises(TransportTimeoutError, match="on_hwm='block'"):
        while sent < total:
            pub.send(b"m:%08d" % sent)
            sent += 1
    accepted_while_stalled = sent
    os.kill(sub.pid, signal.SIGCONT)
    while sent < total:  # a timed-out message was not sent: send it again
        try:
            pub.send(b"m:%08d" % sent)
            sent += 1
        except TransportTimeoutError:
            continue
    report = sub.expect("done", timeout=120)
    assert (report["received"], report["gaps"], report["last"]) == (total, 0, total - 1)
    figure(record_property, "stall_block_accepted_before_timeout", accepted_while_stalled)


@pytest.mark.requires("proc")
@pytest.mark.parametrize("protocol", ["inproc", pytest.param("ipc", marks=_IPC), "tcp"])
def test_close_during_receive_1000_times(zmq_transport: Make, address: Any, protocol: str) -> None:
    from tea_transports import TransportConfig, create_transport

    def make() -> Any:
        return create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub"))

    warm = make()
    warm.bind(address(protocol))
    warm.close()
    before = fds()
    outcomes: List[str] = []
    for _ in range(1000):
        pub, sub = make(), make()
        pub.bind(address(protocol))
        sub.connect(pub.endpoint)
        entered = threading.Event()

        def receive(sub: Any = sub, entered: threading.Event = entered) -> None:
            entered.set()
            try:
                sub.receive()
                outcomes.append("message")
            except TransportClosedError:
                outcomes.append("closed")

        thread = threading.Thread(target=receive)
        thread.start()
        entered.wait(5)
        sub.close()
        thread.join(5)
        assert not thread.is_alive(), "receive() did not return after close()"
        pub.close()
    assert outcomes == ["closed"] * 1000
    poll_until(lambda: fds() <= before, 10, f"descriptors return to {before}")


@pytest.mark.slow
@pytest.mark.requires("ipc", "proc")
def test_ten_thousand_cycles_return_to_baseline(address: Any) -> None:
    from tea_transports import TransportConfig, create_transport

    def cycle(protocol: str) -> None:
        with create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub")) as pub:
            pub.bind(address(protocol) if protocol != "ipc" else local_endpoint(f"cycle-{os.getpid()}"))
            with create_transport(TransportConfig(transport_type="zeromq", pattern="pub_sub")) as sub:
                sub.connect(pub.endpoint)

    protocols = ["inproc", "ipc", "tcp"]
    for protocol in protocols:
        cycle(protocol)
    gc.collect()
    before = (fds(), len(os.listdir("/proc/self/task")), rss())
    for i in range(10_000):
        cycle(protocols[i % 3])
        if i % 500 == 499:  # libzmq's reaper thread frees closed sockets a little later
            poll_until(lambda: fds() <= before[0] + 50, 10, "closed sockets are reaped")
    gc.collect()
    poll_until(lambda: fds() <= before[0], 10, f"descriptors return to {before[0]}")
    assert len(os.listdir("/proc/self/task")) <= before[1]
    assert rss() - before[2] <= 16 * 1024 * 1024, (
        f"RSS grew {(rss() - before[2]) / 1e6:.1f} MB over 10,000 cycles"
    )
