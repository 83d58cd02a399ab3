"""A subscriber that floods its publisher with subscriptions cannot hold up a send(): the
publisher reads a bounded share of them per call, and in time all of them."""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator, List

import pytest
from tea_transports import Transport, TransportConfig, create_transport

Make = Callable[..., Any]
FLOOD = 3000  # distinct prefixes, subscribed at once
SENT = 1100  # past the plain publisher's periodic read of subscriptions


@pytest.fixture(params=["zeromq", "zeromq-stream"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    made: List[Transport] = []

    def make(**options: Any) -> Any:
        config = TransportConfig(transport_type=request.param, pattern="pub_sub", options=options)
        transport = create_transport(config)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def test_a_send_reads_a_bounded_share_of_a_subscription_flood(make: Make) -> None:
    pub = make(high_water_mark=5000)
    pub.bind(f"inproc://storm-{uuid.uuid4().hex}")
    sub = make(high_water_mark=5000, subscribe_filter=[b"keep"], receive_timeout=5000)
    sub.connect(pub.endpoint)
    pub.wait_for_subscribers(1, timeout=10)
    for i in range(FLOOD):  # over inproc each is in the publisher's pipe when this returns
        sub.subscribe(b"flood%04d" % i)

    notes: List[int] = []
    part = pub._publisher.notes  # the publisher's handling of subscription notifications
    note = part.note  # (of one)
    part.note = lambda kind, prefix: (notes.append(1), note(kind, prefix))
    read_by_send = []
    for i in range(SENT):
        before = len(notes)
        pub.send(b"keep%d" % i)
        read_by_send.append(len(notes) - before)

    assert sum(read_by_send) > 0, "no send() read a subscription: the flood was not pending"
    assert max(read_by_send) < FLOOD // 4, (
        f"one send() read {max(read_by_send)} of {FLOOD} pending subscriptions: a subscriber "
        "that keeps subscribing could hold the publisher in that loop"
    )
    # none was skipped: in time every one is counted, and the flood cost the subscriber nothing
    assert pub.wait_for_subscribers(FLOOD + 1, timeout=30) == FLOOD + 1
    assert [sub.receive() for _ in range(SENT)] == [b"keep%d" % i for i in range(SENT)]
