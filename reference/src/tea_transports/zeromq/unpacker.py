"""Stream mode's subscriber part: the reader that unpacks frames and keeps the joins.

An :class:`Unpacker` is a ``Subscriber``'s reader (see ``stream`` for what stream mode
promises). With each filter it subscribes a join (see ``joins``); it unpacks each frame
into the subscriber's inbox, keeping the messages of the filters in force and acknowledged
by the frame's epoch, and takes the publisher's acknowledgements in.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Tuple

import zmq

from ..errors import ConfigurationError, TransportError
from .framing import JOIN_TAG, MAGIC, FramingError, frame_overhead, origin_of, unpack
from .joins import JoinLedger, make_join

if TYPE_CHECKING:
    from .pubsub import ZeroMQPubSubTransport
    from .subscriber import Subscriber

__all__ = ["Unpacker", "not_reserved"]

_NOBLOCK = zmq.NOBLOCK


class Unpacker:
    """A subscriber's reader in stream mode; see the module docstring."""

    def __init__(
        self,
        transport: ZeroMQPubSubTransport,
        options: Tuple[int, ...],
        size_limit: Optional[int],
        frame_messages: int,
    ) -> None:
        self._transport: ZeroMQPubSubTransport = weakref.proxy(transport)
        self._options = options  # what a join tells the publisher of ours
        self._size_limit = size_limit
        self._frame_messages = frame_messages
        #: this subscriber's joins, and from which frame on each filter is exact
        self.ledger = JoinLedger()

    def configure(self, sock: zmq.Socket[Any], filters: List[bytes]) -> None:
        """Before connect: frames a little over the size limit (their table and trailer),
        and a join for each filter (the subscriber's send mark is unbounded: two
        subscriptions a filter here, its own and its join, all reach the publisher)."""
        if self._size_limit is not None:
            sock.setsockopt(zmq.MAXMSGSIZE, self._size_limit + frame_overhead(self._frame_messages))
        for prefix in filters:
            self._join(sock, prefix)

    def _join(self, sock: zmq.Socket[Any], prefix: bytes) -> None:
        """Subscribe a join for ``prefix``; its messages count from the acknowledged frame on."""
        join = make_join(prefix, self._options)
        self.ledger.joined(join, prefix)
        sock.setsockopt(zmq.SUBSCRIBE, join)

    def subscribed(self, sock: Optional[zmq.Socket[Any]], prefix: bytes) -> None:
        if sock is not None:
            self._join(sock, prefix)

    def unsubscribed(self, sock: Optional[zmq.Socket[Any]], prefix: bytes) -> None:
        # an acknowledgement still on its way must not confirm a later subscribe
        for join in self.ledger.forget(prefix):
            if sock is not None:
                sock.setsockopt(zmq.UNSUBSCRIBE, join)

    def fill(
        self, subscriber: Subscriber, inbox: Deque[bytes], sock: zmq.Socket[Any], first: bytes, up_to: int
    ) -> None:
        """Unpack ``first`` and as many more queued frames as ``up_to`` messages need into
        ``inbox``, keeping the messages of filters still in force and joined by then."""
        frame: Optional[bytes] = first
        ledger = self.ledger
        while frame is not None:
            if frame.startswith(JOIN_TAG) and not frame.endswith(MAGIC):  # an acknowledgement
                for spare in ledger.acknowledged(frame):
                    sock.setsockopt(zmq.UNSUBSCRIBE, spare)
            else:
                try:
                    messages = unpack(frame)
                except FramingError as exc:
                    raise TransportError(
                        f"cannot receive on {self._transport.endpoint}: {exc}; is the publisher in "
                        f"stream mode (transport_type='zeromq-stream')? The message was dropped"
                    ) from None
                origin, epoch = origin_of(frame)
                eligible, rejoin = ledger.eligible(origin, epoch, subscriber.filters)
                for prefix in rejoin:  # its acknowledgement may have been lost
                    self._join(sock, prefix)
                if eligible != (b"",):
                    messages = [m for m in messages if m.startswith(eligible)]
                subscriber.add(inbox, messages)
            frame = None
            if len(inbox) < up_to:
                with contextlib.suppress(zmq.ZMQError):  # EAGAIN; another error meets the next call
                    frame = sock.recv(_NOBLOCK)


def not_reserved(prefix: bytes) -> None:
    """:raises ConfigurationError: ``prefix`` is one of stream mode's own (a join)."""
    if prefix.startswith(JOIN_TAG):
        raise ConfigurationError(
            f"cannot subscribe to {prefix!r}: prefixes that begin with {JOIN_TAG!r} are stream "
            f"mode's own (its joins); choose another topic"
        )
