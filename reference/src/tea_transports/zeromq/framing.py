"""Stream mode's frame: many messages in one ZeroMQ message, and which may share one.

The frame, for a peer that reads it without this package (integers little-endian uint32)::

    message_1 | ... | message_n | len_1 | ... | len_n | n | epoch | origin (8 bytes) | b"TEA2"

``origin`` names the publisher (a new one on every bind, so a subscriber tells a restarted
publisher from the one it joined) and ``epoch`` counts the joins that publisher had read
when the frame's first message was sent (see ``joins``).

A frame begins with its first message, so libzmq's prefix filtering still routes it. Messages
share a frame only if the longest subscribed prefix (as the publisher knows them) that each
starts with is the same: the prefixes that match one message are prefixes of one another,
so that longest one decides exactly which subscribers want it, and every subscriber the
frame's first message matches wants every message in it. A frame can still reach a
subscriber that wants none of it (a prefix longer than the first message may match the
bytes after it), so a subscriber filters what it unpacks.
"""

from __future__ import annotations

import struct
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

__all__ = [
    "JOIN_TAG",
    "MAGIC",
    "NO_ORIGIN",
    "FramingError",
    "TopicTable",
    "frame_overhead",
    "frames",
    "origin_of",
    "pack",
    "split_by_topic",
    "unpack",
]

MAGIC = b"TEA2"
#: begins a subscriber's join prefix, and the publisher's acknowledgement of it (see ``joins``)
JOIN_TAG = b"\xff\xfeTEA-join:"
_COUNT = struct.Struct("<I")
#: n, epoch, origin
_TAIL = struct.Struct("<II8s")
_TRAILER = _TAIL.size + len(MAGIC)
#: the origin of frames made without one
NO_ORIGIN = bytes(8)


class FramingError(ValueError):
    """A ZeroMQ message that is not a stream-mode frame (from a peer not in stream mode?)."""


def frame_overhead(count: int) -> int:
    """The bytes a frame of ``count`` messages adds to them: its table and trailer."""
    return 4 * count + _TRAILER


def pack(messages: List[bytes], origin: bytes = NO_ORIGIN, epoch: int = 0) -> bytes:
    """Pack ``messages`` (at least one) into one frame from publisher ``origin`` at ``epoch``."""
    count = len(messages)
    lengths = struct.pack(f"<{count}I", *map(len, messages))
    return b"".join((*messages, lengths, _TAIL.pack(count, epoch, origin), MAGIC))


def origin_of(frame: bytes) -> Tuple[bytes, int]:
    """The (origin, epoch) of a frame that :func:`unpack` accepts."""
    _, epoch, origin = _TAIL.unpack_from(frame, len(frame) - _TRAILER)
    return origin, epoch


def unpack(frame: bytes) -> List[bytes]:
    """Return the messages packed in ``frame``, in order.

    :raises FramingError: ``frame`` is not a well-formed frame.
    """
    size = len(frame)
    if size < _TRAILER or not frame.endswith(MAGIC):
        raise FramingError(f"a {size}-byte message without the stream-mode trailer {MAGIC!r}")
    (count,) = _COUNT.unpack_from(frame, size - _TRAILER)
    table = size - _TRAILER - 4 * count
    if table < 0 or count == 0:
        raise FramingError(f"a {size}-byte frame cannot hold the {count} messages it declares")
    lengths = struct.unpack_from(f"<{count}I", frame, table)
    if sum(lengths) != table:
        raise FramingError(f"a frame whose {count} lengths add up to {sum(lengths)}, not {table} bytes")
    if count == 1:
        return [frame[:table]]
    messages: List[bytes] = []
    append = messages.append
    start = 0
    for length in lengths:
        end = start + length
        append(frame[start:end])
        start = end
    return messages


class TopicTable:
    """Which messages may share a frame, from the prefixes subscribed at the publisher.

    ``key(message)`` is the longest subscribed prefix ``message`` starts with (None if it
    matches none); ``same(key, message)`` says whether ``message`` has that key. Prefixes
    are kept in one set per length, so both cost a set lookup per distinct prefix length
    (at most as many as the longest prefix has bytes), however many prefixes there are:
    10,000 prefixes of one length cost what one does. ``add`` and ``discard`` change one
    set, so a subscription that comes or goes costs the same at 10,000 prefixes as at one.
    """

    def __init__(self, prefixes: Iterable[bytes] = ()) -> None:
        self._by_length: Dict[int, Set[bytes]] = {}
        #: the lengths with a prefix, longest first
        self._lengths: Tuple[int, ...] = ()
        for prefix in prefixes:
            self.add(prefix)

    def add(self, prefix: bytes) -> None:
        length = len(prefix)
        if length not in self._by_length:
            self._by_length[length] = set()
            self._lengths = tuple(sorted(self._by_length, reverse=True))
        self._by_length[length].add(prefix)

    def discard(self, prefix: bytes) -> None:
        length = len(prefix)
        prefixes = self._by_length.get(length)
        if prefixes is not None:
            prefixes.discard(prefix)
            if not prefixes:
                del self._by_length[length]
                self._lengths = tuple(sorted(self._by_length, reverse=True))

    @property
    def one_topic(self) -> bool:
        """Every message has the same key: any messages may share a frame."""
        return not self._lengths or self._lengths == (0,)

    def key(self, message: bytes) -> Optional[bytes]:
        size = len(message)
        by_length = self._by_length
        for length in self._lengths:
            if length <= size:
                head = message[:length]
                if head in by_length[length]:
                    return head
        return None

    def same(self, key: Optional[bytes], message: bytes) -> bool:
        return self.key(message) == key


def split_by_topic(messages: List[bytes], table: TopicTable) -> List[List[bytes]]:
    """Cut ``messages`` into runs that may each share a frame under ``table``, in order."""
    if table.one_topic:
        return [messages]
    runs: List[List[bytes]] = []
    key: Optional[bytes] = None
    for message in messages:
        if runs and table.same(key, message):
            runs[-1].append(message)
        else:
            key = table.key(message)
            runs.append([message])
    return runs


def frames(batch: List[bytes], table: TopicTable, most: int, room: int) -> Iterator[List[bytes]]:
    """``batch`` cut into frames: by topic, then within ``most`` messages and ``room`` bytes
    (threads that send at once may have added a few messages past them)."""
    for run in split_by_topic(batch, table) if batch else ():
        if len(run) <= most and sum(map(len, run)) <= room:
            yield run
            continue
        frame: List[bytes] = []
        size = 0
        for message in run:
            if frame and (len(frame) == most or size + len(message) > room):
                yield frame
                frame, size = [], 0
            frame.append(message)
            size += len(message)
        yield frame
