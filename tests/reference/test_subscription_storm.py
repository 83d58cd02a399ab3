"""A subscriber that floods its publisher with subscriptions cannot hold up a send(), nor keep
wait_for_subscribers() past its deadline: the publisher reads a bounded share of them per
call, and in time all of them."""

from __future__ import annotations

import functools
import subprocess
import threading
import uuid
from typing import Any, Callable, List

import in_child
import pytest
from tea_transports import TransportTimeoutError
from waits import until

Make = Callable[..., Any]
FLOOD = 3000  # distinct prefixes, subscribed at once
SENT = 1100  # past the plain publisher's periodic read of subscriptions


@pytest.fixture(params=["zeromq", "zeromq-stream"])
def make(request: pytest.FixtureRequest, pubsub_transport: Make) -> Make:
    return functools.partial(pubsub_transport, request.param)


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
    pub.get_stats()
    read_by_stats = len(notes)
    assert 0 < read_by_stats < FLOOD, f"one get_stats() read {read_by_stats} of {FLOOD}"
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


def test_wait_for_subscribers_keeps_its_deadline_and_lets_senders_in_during_a_flood(
    make: Make, request: pytest.FixtureRequest
) -> None:
    # the flood comes from another process, as a hostile subscriber's would (a thread of
    # this one would compete for the GIL, and each libzmq call would wait for its turn)
    pub = make()
    pub.bind("tcp://127.0.0.1:*")
    mode = request.node.callspec.params["make"]
    stormer = subprocess.Popen(
        in_child.command("subscription_storm", mode, pub.endpoint),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    sent: List[int] = []

    def send() -> None:
        while not stop.is_set():
            pub.send(b"keep")
            sent.append(1)

    sender = threading.Thread(target=send, daemon=True)
    try:
        assert stormer.stdout is not None and stormer.stdout.readline() == "up\n"
        pub.wait_for_subscribers(1, timeout=30)
        sender.start()
        assert until(lambda: len(sent) > 0), "the sender never sent"
        sent_before = len(sent)
        with pytest.raises(TransportTimeoutError, match="of 50 subscription"):
            pub.wait_for_subscribers(50, timeout=0.5)
        assert stormer.poll() is None, "the wait returned only once the flood was over (60 s)"
        assert len(sent) > sent_before, "no send() got in while wait_for_subscribers() waited"
    finally:
        stop.set()
        if sender.ident is not None:  # started
            sender.join(10)
        stormer.communicate(timeout=30)  # closes its stdin: it stops
