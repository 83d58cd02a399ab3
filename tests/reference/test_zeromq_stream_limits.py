"""Stream mode at its limits: many filters, a size limit on both ends, many prefixes."""

from __future__ import annotations

import functools
from typing import Any, Callable

import pytest
from tea_transports.zeromq.framing import TopicTable, split_by_topic
from test_zeromq_pubsub import PROTOCOLS  # ipc marked as needing it

Make = Callable[..., Any]


@pytest.fixture
def stream(pubsub_transport: Make) -> Make:
    return functools.partial(pubsub_transport, "zeromq-stream")


@pytest.mark.parametrize("protocol", PROTOCOLS[1:])
def test_every_filter_of_many_reaches_the_publisher(
    stream: Make, address: Callable[[str], str], protocol: str
) -> None:
    """600 filters at the default mark: each is two subscriptions (filter and join), which
    libzmq replays on connect through the SUB's send pipe; none may be dropped there."""
    prefixes = [b"f%03d." % i for i in range(600)]
    pub = stream()
    pub.bind(address(protocol))
    sub = stream(subscribe_filter=prefixes, receive_timeout=5000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(600, timeout=10)
    # each join is acknowledged, so every filter delivers what follows
    sent = [prefix + b"%d" % i for i, prefix in enumerate(prefixes)]
    for message in sent:
        pub.send(message)
    assert [sub.receive() for _ in sent] == sent


@pytest.mark.parametrize("protocol", PROTOCOLS[1:])
def test_frames_stay_within_max_message_size(
    stream: Make, address: Callable[[str], str], protocol: str
) -> None:
    """Both ends limit messages to 4,096 bytes and every message has 100 (packed 256 to a
    frame they would make 25 KiB): libzmq must never see a frame over the limit, which
    would drop the connection again and again."""
    pub = stream(max_message_size=4096, high_water_mark=0)
    pub.bind(address(protocol))
    sub = stream(max_message_size=4096, high_water_mark=0, receive_timeout=5000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=5)
    sent = [b"%06d" % i + b"." * 94 for i in range(2000)]
    pub.send_many(sent)
    assert [sub.receive() for _ in sent] == sent
    lone = b"x" * 4096  # a message at the limit itself still fits, with its frame's trailer
    pub.send(lone)
    assert sub.receive() == lone


class _Counted(bytes):
    """A message that counts the prefix comparisons made on it."""

    calls = 0

    def startswith(self, *args: Any) -> bool:
        type(self).calls += 1
        return super().startswith(*args)


def test_grouping_a_message_costs_the_same_at_10000_prefixes_as_at_1() -> None:
    """The table is looked up, not scanned: keying a message makes no comparison per
    prefix, so send() at 10,000 subscribed prefixes costs what it does at one."""
    prefixes = [b"topic.%05d." % i for i in range(10_000)]
    table = TopicTable(prefixes)
    _Counted.calls = 0
    messages = [_Counted(b"topic.%05d.payload" % i) for i in range(0, 10_000, 97)]
    assert [table.key(m) for m in messages] == [m[:12] for m in messages]
    runs = split_by_topic(list(messages), table)
    assert [run[0][:12] for run in runs] == [m[:12] for m in messages]
    assert _Counted.calls == 0


class _Hashed(bytes):
    """A prefix that counts how often a set hashes it."""

    calls = 0

    def __hash__(self) -> int:
        type(self).calls += 1
        return super().__hash__()


def test_a_subscription_that_comes_or_goes_costs_the_same_at_10000_prefixes_as_at_1() -> None:
    """The table changes one set, never rebuilds: a subscription arriving at a publisher
    with 10,000 prefixes cannot stall the send() that reads it."""
    table = TopicTable([_Hashed(b"topic.%05d." % i) for i in range(10_000)])
    _Hashed.calls = 0
    table.add(_Hashed(b"topic.new.xx"))
    table.discard(_Hashed(b"topic.00042."))
    assert _Hashed.calls == 2  # the two prefixes that came and went, none of the others
    assert table.key(b"topic.new.xx!") == b"topic.new.xx"
    assert table.key(b"topic.00042.!") is None
    assert table.key(b"topic.00043.!") == b"topic.00043."


def test_the_longest_prefix_decides_among_many() -> None:
    table = TopicTable([b"", b"a", b"ab", b"abc", b"b"] + [b"z%04d" % i for i in range(5000)])
    assert [table.key(m) for m in (b"abcd", b"abx", b"a", b"c", b"z0042!", b"")] == [
        b"abc",
        b"ab",
        b"a",
        b"",
        b"z0042",
        b"",
    ]
    assert TopicTable([b"x"]).key(b"y") is None
