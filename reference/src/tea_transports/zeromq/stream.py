"""``ZeroMQStreamTransport``: PUB/SUB whose publisher packs small messages into frames.

libzmq spends about the same work on a message of 64 bytes as on one of 4 KiB, and at
64 bytes that work, not Python, bounds the rate. In stream mode (``transport_type=
"zeromq-stream"``, off unless chosen) the publisher collects consecutive messages for the
same subscribers into one ZeroMQ message (see ``framing``), and the subscriber unpacks it:
each ``send()`` and ``receive()`` still moves one message. A frame leaves when it holds
``stream_max_messages`` messages, or when the next message would take it past
``stream_max_bytes``, or ``stream_max_delay_us`` after its first message was sent, or at
``close()``. The delay is kept by ``send()`` itself and by a flusher thread; the thread
needs the GIL, so a sender that computes in pure Python between sends, for longer than the
delay, holds a lone message back up to the interpreter's switch interval (5 ms).

What stays exact:

* **Order and filters.** Frames leave in order; a subscriber delivers only the messages
  its filters in force match, as in plain mode.
* **Nothing from before a subscription, nothing lost after it.** A message is published
  when its frame leaves, so a frame may hold messages sent before a subscriber subscribed.
  A subscriber therefore also subscribes a *join* with each filter (see ``joins``): the
  publisher counts the subscription there (``wait_for_subscribers``), sends what is
  pending, and acknowledges it with a new *epoch*; frames carry their publisher's origin
  and epoch, and the subscriber delivers a filter's messages from the acknowledged epoch
  of that publisher on. A lost acknowledgement (a full queue) is joined again; a restarted
  publisher acknowledges anew. A SUB's subscriptions are never dropped (its send mark is
  unbounded: libzmq replays them on reconnect through it). A plain ZeroMQ SUB is counted
  only if it subscribes a join too.
* **max_message_size**: a frame's messages stay within it; a subscriber allows the
  frame's own table and trailer on top, so a message of the limit itself still arrives.
* **Ends that differ** in high_water_mark, max_message_size or frame size are reported:
  the publisher reads the subscriber's from its join and logs a WARNING naming both.
* **The high water mark**, in frames, libzmq's own unit: a frame holds at most
  ``stream_max_messages`` messages (256) and at most ``stream_max_bytes`` of them (16 KiB),
  or one message larger than that, alone. Each side keeps libzmq's mark at
  ``high_water_mark - 1`` frames, and the one frame it holds in Python (the publisher's
  pending frame, the subscriber's unpacked one) makes the mark's last (with
  ``stream_max_messages=1`` nothing waits in Python, and libzmq's mark is the whole). So a queue holds at
  most ``high_water_mark x stream_max_messages`` messages, and at most ``high_water_mark x
  (stream_max_bytes + the frame's table and trailer)`` bytes, about 16.6 MiB at the
  defaults (a larger message counts its own size instead). A mark of 1 keeps one frame in
  libzmq and one in Python. Give both ends the same mark and stream options: the
  publisher warns of a subscriber whose differ.
* **Block mode** loses nothing: a send that makes a frame leave waits for room, up to
  ``send_timeout``, and on a timeout that message was not sent (the frame waits).

A plain ZeroMQ SUB receives the frames as they are (see ``framing`` for the layout, and
``joins`` for the acknowledgements, which begin with ``JOIN_TAG``); a stream-mode
subscriber refuses a message that is not a frame with a ``TransportError``.

The parts: ``framer.Framer`` is the publisher's outbox, ``unpacker.Unpacker`` the
subscriber's reader; :class:`StreamMode` chooses them and holds the limits they share.
"""

from __future__ import annotations

from typing import Optional, Tuple

from ..base import TransportConfig
from ..errors import ConfigurationError
from .framer import Framer
from .joins import JoinNotes
from .publisher import Publisher
from .pubsub import ZeroMQPubSubTransport
from .subscriber import Subscriber
from .unpacker import Unpacker, not_reserved

__all__ = ["STREAM_OPTIONS", "StreamMode", "ZeroMQStreamTransport"]

#: option -> (default, minimum, maximum)
_LIMITS = {
    "stream_max_messages": (256, 1, 65_535),
    "stream_max_bytes": (16_384, 1, 2**31 - 1),
    "stream_max_delay_us": (500, 0, 10_000_000),
}
STREAM_OPTIONS = frozenset(_LIMITS)


class StreamMode:
    """Stream mode's limits, and the parts it gives each role: a publisher's outbox packs
    frames, a subscriber's reader unpacks them (see the module docstring)."""

    def __init__(self, transport: ZeroMQPubSubTransport) -> None:
        limits = {}
        for key, (default, minimum, maximum) in _LIMITS.items():
            value = transport.config.options.get(key, default)
            if type(value) is not int or not minimum <= value <= maximum:
                raise ConfigurationError(
                    f"option {key!r} must be an integer from {minimum} to {maximum}, got {value!r}"
                )
            limits[key] = value
        self._hwm = transport.options.high_water_mark
        self.frame_messages = limits["stream_max_messages"]
        self.max_bytes = self.frame_bytes = limits["stream_max_bytes"]
        size_limit = transport.config.options.get("max_message_size")
        #: a peer's max_message_size counts a frame whole: its messages stay within the
        #: limit, and a subscriber allows the frame's own table and trailer on top
        self.size_limit: Optional[int] = size_limit if type(size_limit) is int and size_limit >= 0 else None
        if self.size_limit is not None:
            self.frame_bytes = max(1, min(self.frame_bytes, self.size_limit))
        self.delay = limits["stream_max_delay_us"] / 1e6
        # a subscriber unpacks one frame at a time: it holds at most one frame's messages
        self.read_ahead = self.frame_messages - 1
        self.receive_up_to = 1
        self.receive_hwm = self.frames_within(self._hwm)

    def frames_within(self, hwm: int) -> int:
        """libzmq's mark: with the frame each side holds in Python (none when every frame
        is one message, which leaves at once), ``hwm`` frames."""
        return max(1, hwm - (self.frame_messages > 1))

    def join_options(self) -> Tuple[int, ...]:
        """What a join carries of the subscriber's options (see ``joins.OPTIONS``)."""
        return (
            self._hwm,
            -1 if self.size_limit is None else self.size_limit,
            self.frame_messages,
            self.max_bytes,
        )

    def check_prefix(self, prefix: bytes) -> None:
        not_reserved(prefix)

    def publisher(self, transport: ZeroMQPubSubTransport) -> Publisher:
        notes = JoinNotes(self.join_options(), lambda: publisher.transport.endpoint)
        publisher = Publisher(transport, notes)
        publisher.outbox = Framer(publisher, notes, transport, self)
        return publisher

    def subscriber(self, transport: ZeroMQPubSubTransport) -> Subscriber:
        reader = Unpacker(transport, self.join_options(), self.size_limit, self.frame_messages)
        return Subscriber(transport, reader)


class ZeroMQStreamTransport(ZeroMQPubSubTransport):
    """PUB/SUB over ZeroMQ with small messages packed into frames; see the module doc."""

    extra_options = ZeroMQPubSubTransport.extra_options | STREAM_OPTIONS

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config or TransportConfig(transport_type="zeromq-stream", pattern="pub_sub"))

    def _new_mode(self) -> StreamMode:
        self._stream = StreamMode(self)
        return self._stream

    @property
    def frame_messages(self) -> int:
        """The most messages one frame carries (libzmq's queues count frames)."""
        return self._stream.frame_messages
