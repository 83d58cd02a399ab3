"""Protocols and platforms (AC6, AC7, AC8): ipc, inproc between threads, tcp across processes."""

from __future__ import annotations

from ..expect import BURST, expect_delivered_concurrently, expect_equal, linked, numbered, send_all
from ..harness import ConformanceFailure, Harness
from ..processes import remote_fan_out, start_publisher
from ..scenario import ONE_TO_ONE
from . import contract


@contract(
    "INT-009",
    ac="AC6",
    priority="P0",
    title="ipc works on Linux and macOS",
    patterns=ONE_TO_ONE,
    protocols=("ipc",),
    platforms=("linux", "darwin"),
)
def ipc_works(h: Harness) -> None:
    pub, subs = linked(h, subscribers=2 if h.pattern == "pub_sub" else 1)
    if not str(pub.endpoint).startswith("ipc://"):
        raise ConformanceFailure(f"bound to {pub.endpoint!r}, not an ipc:// endpoint")
    send_all(pub, numbered(100))
    for sub in subs:
        expect_equal(h.collect(sub, 100), numbered(100))


@contract(
    "E2E-002",
    ac="AC6",
    priority="P1",
    title="a full ipc workflow across processes on Linux and macOS",
    protocols=("ipc",),
    cross_process=True,
    platforms=("linux", "darwin"),
)
def ipc_workflow_across_processes(h: Harness) -> None:
    traffic = [m for i in range(100) for m in (b"metrics.%03d" % i, b"logs.%03d" % i)]
    remote_fan_out(h, [b"", b"metrics", b"logs"], traffic)


@contract(
    "INT-010",
    ac="AC7",
    priority="P0",
    title="inproc works between threads of one process (the Windows local path)",
    protocols=("inproc",),
)
def inproc_between_threads(h: Harness) -> None:
    pub, (sub,) = linked(h)
    expect_delivered_concurrently(h, pub, sub, numbered(1000), "the subscriber thread")


@contract(
    "E2E-003",
    ac="AC8",
    priority="P1",
    title="tcp to 127.0.0.1 works end to end across processes",
    protocols=("tcp",),
    cross_process=True,
)
def tcp_publisher_in_another_process(h: Harness) -> None:
    messages = numbered(BURST)
    child = start_publisher(h, h.address(), messages)
    try:
        endpoint = child.expect("bound", h)
        sub = h.subscriber(endpoint)
        while h.try_receive(sub) is None:  # the child probes until we have one
            if h.expired():
                raise ConformanceFailure("no probe from the publisher process arrived")
        child.conn.send("synced")
        expect_equal(h.collect(sub, len(messages)), messages, "the subscriber of a publisher process")
        child.expect("sent", h)
    finally:
        child.stop()


@contract(
    "CONF-E2E-001",
    ac="AC7",
    priority="P0",
    title="a subscriber in another process over tcp://127.0.0.1 (the Windows path)",
    protocols=("tcp",),
    cross_process=True,
)
def tcp_subscriber_in_another_process(h: Harness) -> None:
    remote_fan_out(h, [b""], numbered(BURST))
