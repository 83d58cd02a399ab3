"""Stream mode's joins: a new filter is exact whatever the queue, the process or a restart.

The conformance suite's joining scenarios run here against stream mode directly (they
use real subscriber processes where the defect needs them), next to what only stream mode
has: the report of ends whose options differ.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Callable

import pytest
from tea_conformance.contracts import CONTRACTS
from tea_conformance.harness import ConformanceFailure, Harness, Target
from tea_transports.zeromq.joins import JoinLedger
from tea_transports.zeromq.stream import ZeroMQStreamTransport
from test_zeromq_pubsub import PROTOCOLS  # ipc marked as needing it

#: a hang guard only: each scenario ends far sooner when it passes
_DEADLINE = 60.0


def _run(scenario: str, protocol: str, deadline: float = _DEADLINE) -> None:
    harness = Harness(Target("zeromq-stream", ZeroMQStreamTransport), "pub_sub", protocol, deadline)
    try:
        CONTRACTS[scenario](harness)
    finally:
        harness.close_all()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_subscriber_joins_while_its_queue_is_full(protocol: str) -> None:
    """Its acknowledgement is dropped at the full queue; once it has caught up it joins
    again, and every later message for the new prefix arrives."""
    _run("TEA-CONF-INT-016", protocol)


def test_a_join_never_made_again_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without its rejoin, the acknowledgement dropped at the full queue is never replaced,
    and the scenario fails it."""
    eligible = JoinLedger.eligible
    monkeypatch.setattr(JoinLedger, "eligible", lambda self, *args: (eligible(self, *args)[0], []))
    with pytest.raises(ConformanceFailure, match="no probe under the new prefix b'b' ever arrived"):
        _run("TEA-CONF-INT-016", "tcp", deadline=10)


@pytest.mark.parametrize("protocol", PROTOCOLS[1:])
def test_what_follows_wait_for_subscribers_reaches_another_process(protocol: str) -> None:
    """The publisher counts a subscription at its join, not at its filter: what it sends
    after counting is never in a frame the subscriber ignores."""
    _run("TEA-CONF-INT-017", protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS[1:])
def test_a_restarted_publisher_is_joined_again(protocol: str) -> None:
    """Frames name their publisher: a new one delivers nothing until it has acknowledged
    the subscriber's joins (replayed by libzmq's reconnect), and then everything."""
    _run("TEA-CONF-INT-020", protocol)


@pytest.fixture
def stream(pubsub_transport: Callable[..., Any]) -> Callable[..., Any]:
    return functools.partial(pubsub_transport, "zeromq-stream")


@pytest.mark.parametrize(
    ("mine", "theirs", "named"),
    [
        (
            {"high_water_mark": 1000},
            {"high_water_mark": 262_144},
            "high_water_mark=262144.*high_water_mark=1000",
        ),
        ({"max_message_size": 4096}, {}, "max_message_size=-1.*max_message_size=4096"),
        (
            {"high_water_mark": 0},
            {"high_water_mark": 0, "stream_max_messages": 16},
            "frame_messages=16.*frame_messages=256",
        ),
    ],
)
def test_ends_with_different_options_are_reported(
    stream: Callable[..., Any],
    address: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    mine: Any,
    theirs: Any,
    named: str,
) -> None:
    pub = stream(**mine)
    pub.bind(address("inproc"))
    sub = stream(receive_timeout=5000, **theirs)
    with caplog.at_level(logging.WARNING, logger="tea_transports.zeromq"):
        sub.connect(pub.endpoint)
        pub.wait_for_subscribers(1, timeout=5)
    warnings = [r.getMessage() for r in caplog.records if "a subscriber has" in r.getMessage()]
    assert any(re.search(named, warning) for warning in warnings), warnings


def test_ends_with_the_same_options_are_not_reported(
    stream: Callable[..., Any], address: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    pub = stream(high_water_mark=5000, max_message_size=9000)
    pub.bind(address("inproc"))
    sub = stream(high_water_mark=5000, max_message_size=9000, receive_timeout=5000)
    with caplog.at_level(logging.WARNING, logger="tea_transports.zeromq"):
        sub.connect(pub.endpoint)
        pub.wait_for_subscribers(1, timeout=5)
    assert not [r for r in caplog.records if "a subscriber has" in r.getMessage()]
