"""Stream mode's frame: many messages in one ZeroMQ message, and which may share one.

The frame, for a peer that reads it without this package (integers little-endian uint32)::

    message_1 | message_2 | ... | message_n | len_1 | ... | len_n | n | b"TEA1"

It begins with its first message, so libzmq's prefix filtering still routes it. Messages
share a frame only if the longest subscribed prefix (as the publisher knows them) that each
starts with is the same: the prefixes that match one message are prefixes of one another,
so that longest one decides exactly which subscribers want it, and every subscriber the
frame's first message matches wants every message in it. A frame can still reach a
subscriber that wants none of it (a prefix longer than the first message may match the
bytes after it), so a subscriber filters what it unpacks.
"""

from __future__ import annotations

import struct
from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ["JOIN_TAG", "MAGIC", "FramingError", "TopicTable", "pack", "split_by_topic", "unpack"]

MAGIC = b"TEA1"
#: begins a subscriber's one-off join prefix, and the publisher's acknowledgement of it
#: (the prefix itself, sent back as a bare ZeroMQ message, not a frame)
JOIN_TAG = b"\xff\xfeTEA-join:"
_COUNT = struct.Struct("<I")
_TRAILER = _COUNT.size + len(MAGIC)


class FramingError(ValueError):
    """A ZeroMQ message that is not a stream-mode frame (from a peer not in stream mode?)."""


def pack(messages: List[bytes]) -> bytes:
    """Pack ``messages`` (at least one) into one frame."""
    count = len(messages)
    return b"".join((*messages, struct.pack(f"<{count}I", *map(len, messages)), _COUNT.pack(count), MAGIC))


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
    matches none); ``same(key, message)`` says, in at most two C-level calls, whether
    ``message`` has that key.
    """

    def __init__(self, prefixes: Iterable[bytes] = ()) -> None:
        known = sorted(set(prefixes), key=len, reverse=True)
        self._longest_first: Tuple[bytes, ...] = tuple(known)
        # for each prefix, the longer prefixes that extend it: a message with that prefix
        # that also starts with one of those has a different (longer) key
        self._longer: Dict[Optional[bytes], Tuple[bytes, ...]] = {
            prefix: tuple(other for other in known if len(other) > len(prefix) and other.startswith(prefix))
            for prefix in known
        }
        self._longer[None] = tuple(known)

    @property
    def one_topic(self) -> bool:
        """Every message has the same key: any messages may share a frame."""
        return len(self._longest_first) <= 1 and not any(self._longest_first)

    def key(self, message: bytes) -> Optional[bytes]:
        for prefix in self._longest_first:
            if message.startswith(prefix):
                return prefix
        return None

    def same(self, key: Optional[bytes], message: bytes) -> bool:
        if key is not None and not message.startswith(key):
            return False
        longer = self._longer[key]
        return not (longer and message.startswith(longer))


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
