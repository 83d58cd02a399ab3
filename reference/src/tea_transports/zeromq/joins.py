"""Stream mode's joins: how a subscriber learns from which frame on a new filter is exact.

A publisher in stream mode sends a message when its frame leaves, so a frame may hold
messages sent before a subscription arrived. With each filter a subscriber therefore also
subscribes a *join* prefix, which stays subscribed as long as the filter::

    JOIN_TAG | token (32 hex digits) | options "|" | filter

(``options``: the subscriber's high_water_mark, max_message_size, frame_messages and
stream_max_bytes, comma separated, for the publisher to compare with its own.)

It follows the filter through the same pipe, so when the publisher reads it libzmq already
routes the filter. The publisher counts the subscriber then (not at the filter), sends
what is pending, counts one more *epoch*, and answers with an acknowledgement::

    join | "@" | origin (16 hex digits) | "#" | epoch

Frames carry their origin and the epoch at which their first message was sent: the
subscriber delivers a frame's messages for a filter only from the acknowledged epoch of the
same origin on. So nothing sent before the subscription arrives, and nothing after it is
ignored, whenever the acknowledgement arrives.

An acknowledgement is a message like any other and a full queue drops it. A subscriber that
receives a frame of an epoch later than any it had seen when it joined, while the filter is
still unacknowledged, knows it may have been lost and joins again with a new token (one it
did not lose only costs a spare join). A restarted publisher (another origin) receives the
filters and their joins again from libzmq's reconnect, and acknowledges them anew; until
then its frames deliver nothing for them.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Callable, Dict, List, Optional, Set, Tuple

from .diagnostics import logger
from .framing import JOIN_TAG
from .publisher import Subscriptions

__all__ = [
    "OPTIONS",
    "JoinLedger",
    "JoinNotes",
    "Members",
    "acknowledgement",
    "make_join",
    "parse_ack",
    "parse_join",
]

_TOKEN = 32
#: what a join carries of its subscriber's options, in order
OPTIONS = ("high_water_mark", "max_message_size", "frame_messages", "stream_max_bytes")


def make_join(prefix: bytes, options: Tuple[int, ...]) -> bytes:
    """A new join for ``prefix``, carrying the subscriber's ``options`` (see :data:`OPTIONS`)."""
    text = b",".join(b"%d" % value for value in options)
    return b"%s%s%s|%s" % (JOIN_TAG, uuid.uuid4().hex.encode(), text, prefix)


def parse_join(join: bytes) -> Optional[Tuple[bytes, Tuple[int, ...]]]:
    """(filter, options) of a join; None if it is not one."""
    options, bar, prefix = join[len(JOIN_TAG) + _TOKEN :].partition(b"|")
    try:
        values = tuple(int(value) for value in options.split(b","))
    except ValueError:
        return None
    return (prefix, values) if bar and len(values) == len(OPTIONS) else None


def acknowledgement(join: bytes, origin: bytes, epoch: int) -> bytes:
    return b"%s@%s#%d" % (join, origin.hex().encode(), epoch)


def parse_ack(message: bytes) -> Optional[Tuple[bytes, bytes, int]]:
    """(join, origin, epoch) of an acknowledgement; None if it is not one."""
    join, at, rest = message.rpartition(b"@")
    origin, hash_, epoch = rest.partition(b"#")
    try:
        return (join, bytes.fromhex(origin.decode()), int(epoch)) if at and hash_ else None
    except ValueError:
        return None


class Members:
    """The publisher's count of joined subscriptions: one per join subscribed, by filter."""

    def __init__(self) -> None:
        self._filters: Dict[bytes, bytes] = {}  # join -> filter
        self.count: Counter[bytes] = Counter()

    def add(self, join: bytes, prefix: bytes) -> None:
        if join not in self._filters:
            self._filters[join] = prefix
            self.count[prefix] += 1

    def remove(self, join: bytes) -> None:
        prefix = self._filters.pop(join, None)
        if prefix is not None:
            self.count[prefix] -= 1
            if not self.count[prefix]:
                del self.count[prefix]

    def total(self) -> int:
        return sum(self.count.values())


class JoinLedger:
    """The subscriber's side: its joins, and from which epoch of which origin each filter counts."""

    def __init__(self) -> None:
        self._filter_of: Dict[bytes, bytes] = {}  # join -> filter, every join subscribed
        self._origin: Optional[bytes] = None
        self._since: Dict[bytes, int] = {}  # filter -> acknowledged epoch of _origin
        #: filter -> (origin, epoch): an unacknowledged filter joins again at a frame this late
        self._floor: Dict[bytes, Tuple[Optional[bytes], int]] = {}
        self._latest = -1  # the latest epoch seen of _origin
        self._eligible: Tuple[Optional[bytes], int, Tuple[bytes, ...]] = (None, -1, ())

    def joined(self, join: bytes, prefix: bytes) -> None:
        """``join`` was subscribed for ``prefix``."""
        self._filter_of[join] = prefix
        self._floor[prefix] = (self._origin, self._latest + 1)

    def forget(self, prefix: bytes) -> List[bytes]:
        """``prefix`` was unsubscribed: return its joins, to unsubscribe."""
        joins = [j for j, p in self._filter_of.items() if p == prefix]
        for join in joins:
            del self._filter_of[join]
        self._since.pop(prefix, None)
        self._floor.pop(prefix, None)
        self._eligible = (None, -1, ())
        return joins

    def acknowledged(self, message: bytes) -> List[bytes]:
        """Take an acknowledgement in; return the spare joins of its filter, to unsubscribe."""
        parsed = parse_ack(message)
        if parsed is None:
            return []
        join, origin, epoch = parsed
        prefix = self._filter_of.get(join)
        if prefix is None:
            return []  # another subscriber's (it also matches a filter of ours), or forgotten
        self._see(origin, epoch)
        if prefix not in self._since:
            self._since[prefix] = epoch
            self._floor.pop(prefix, None)
            self._eligible = (None, -1, ())
        spare = [j for j, p in self._filter_of.items() if p == prefix and j != join]
        for other in spare:
            del self._filter_of[other]
        return spare

    def eligible(
        self, origin: bytes, epoch: int, filters: List[bytes]
    ) -> Tuple[Tuple[bytes, ...], List[bytes]]:
        """For a frame of ``origin`` at ``epoch``: the filters whose messages it delivers, and
        the filters to join again (their acknowledgement may have been lost)."""
        self._see(origin, epoch)
        cached_origin, cached_epoch, cached = self._eligible
        rejoin: List[bytes] = []
        if len(self._since) < len(filters):
            for prefix in filters:
                if prefix in self._since:
                    continue
                floor_origin, floor = self._floor.get(prefix, (None, 0))
                if floor_origin != origin:
                    self._floor[prefix] = (origin, epoch + 1)  # watch from here
                elif epoch >= floor:
                    rejoin.append(prefix)
        if cached_origin != origin or cached_epoch != epoch:
            cached = tuple(p for p in filters if self._since.get(p, epoch + 1) <= epoch)
            self._eligible = (origin, epoch, cached)
        return cached, rejoin

    def _see(self, origin: bytes, epoch: int) -> None:
        if origin != self._origin:  # a new publisher: nothing is acknowledged by it yet
            self._origin, self._since, self._latest = origin, {}, -1
            self._eligible = (None, -1, ())
        self._latest = max(self._latest, epoch)


class JoinNotes:
    """A stream publisher's subscriptions: counted at their joins (only then does what
    follows reach them), the topic table's changes, and the joins to acknowledge."""

    def __init__(self, options: Tuple[int, ...], endpoint: Callable[[], Optional[str]]) -> None:
        self._plain = Subscriptions()
        self._options = options
        self._endpoint = endpoint
        self.members = Members()
        #: join prefixes seen and not yet acknowledged
        self.joins: List[bytes] = []
        #: prefixes subscribed (True) or cancelled (False) since the last flush began: the
        #: table changes only there, so a flush groups its whole batch under one table
        self.table_changes: List[Tuple[bool, bytes]] = []
        self._mismatches: Set[Tuple[str, int]] = set()  # option mismatches already reported

    def note(self, kind: bytes, prefix: bytes) -> None:
        if not prefix.startswith(JOIN_TAG):
            counts = self._plain.counts
            known = prefix in counts
            self._plain.note(kind, prefix)
            if known != (prefix in counts):
                self.table_changes.append((not known, prefix))
        elif kind == b"\x01":
            parsed = parse_join(prefix)
            if parsed is not None:  # (else a plain SUB's odd subscription: routed, not counted)
                self.members.add(prefix, parsed[0])
                self._compare_options(parsed[1])
                self.joins.append(prefix)
        else:
            self.members.remove(prefix)

    def count(self, peers: Optional[int]) -> int:
        return self.members.total()

    def _compare_options(self, theirs: Tuple[int, ...]) -> None:
        """Warn, once per value, of a subscriber whose options differ from ours: its queue
        then holds another number of messages than the mark says, or it refuses frames."""
        for name, mine, other in zip(OPTIONS, self._options, theirs):
            if mine != other and (name, other) not in self._mismatches:
                self._mismatches.add((name, other))
                logger.warning(
                    "stream mode on %s: a subscriber has %s=%d and this publisher %s=%d; give "
                    "both ends the same high_water_mark, max_message_size and stream options",
                    self._endpoint(),
                    name,
                    other,
                    name,
                    mine,
                )
