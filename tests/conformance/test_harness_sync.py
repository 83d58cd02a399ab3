"""The harness's subscription sync ends on its own probe only: a stale message, or a probe
left over from an earlier sync, must not pass for a live subscription."""

from __future__ import annotations

import time

import pytest
from tea_conformance.harness import PROBE, ConformanceFailure, Harness, Target
from tea_transports.zeromq import ZeroMQPubSubTransport


@pytest.fixture
def harness() -> Harness:
    h = Harness(Target("zeromq", ZeroMQPubSubTransport), "pub_sub", "inproc", timeout=30)
    yield h
    h.close_all()


@pytest.mark.parametrize("stale", [b"data-stale", b"data" + PROBE], ids=["message", "old-probe"])
def test_sync_is_not_ended_by_a_stale_message(harness: Harness, stale: bytes) -> None:
    pub = harness.publisher()
    sub = harness.subscriber(pub, subscribe_filter=b"data")
    harness.sync(pub, [sub], [b"data"])  # live for b"data"
    pub.send(stale)  # waits in the subscriber's queue
    # b"other" is not subscribed: its probe can never arrive, so the sync must fail (in 1 s)
    harness.deadline = time.monotonic() + 1
    with pytest.raises(ConformanceFailure, match="never received a probe"):
        harness.sync(pub, [sub], [b"other"])


def test_sync_ends_on_its_probe(harness: Harness) -> None:
    pub = harness.publisher()
    subs = [harness.subscriber(pub, subscribe_filter=p) for p in (b"a", b"")]
    harness.sync(pub, subs, [b"a", b""])
    pub.send(b"after")
    assert harness.collect(subs[1], 1) == [b"after"]
