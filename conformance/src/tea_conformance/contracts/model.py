"""A model of PUB/SUB: what each subscriber may, must and must never receive.

One publisher; any number of subscribers, each with a set of prefixes. When a message is
sent, each open subscriber files it under one verdict:

* ``MUST``: it matches a *settled* prefix (one known to be in force: a fence has shown it,
  and it has not been touched since). It must arrive, once, intact, in send order.
* ``NEVER``: it matches no prefix the subscriber has, nor one it dropped since the last
  fence. It must not arrive.
* ``MAY``: anything else — a prefix subscribed or unsubscribed since the last fence
  (subscriptions take effect asynchronously), or sent before the subscriber was fenced at
  all. It may arrive or not, but if it arrives it is in order, once and intact.

A *fence* settles a subscriber: once a marker sent after its last change has arrived, every
change before it is in force — if only the fence's own fresh prefix could have let that
marker through. The empty prefix matches every marker too, so where it may have been in
force before a later moment when it was not (``flickers``), a marker's arrival shows
nothing: the fence must see the empty prefix out of force (see ``ModelRun.fence``).

An ``unsubscribe`` may also discard what is already queued, so it demotes the queued
``MUST`` messages it covers to ``MAY``. Nothing else is lost: the driver keeps every burst
far below the high water mark, and in block mode nothing is lost at all. Receiving checks
order by position: a message must be found after the last one received, skipping only
``MAY`` and ``NEVER`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Set, Tuple

__all__ = ["MAY", "MUST", "NEVER", "ModelSubscriber", "matches"]

MUST, MAY, NEVER = "must", "may", "never"


def matches(message: bytes, prefixes: Iterable[bytes]) -> bool:
    return any(message.startswith(p) for p in prefixes)


@dataclass
class ModelSubscriber:
    """What one subscriber has asked for and what it has been sent, received, and may get."""

    name: str
    current: Set[bytes]  # the prefixes as subscribed
    settled: Set[bytes] = field(default_factory=set)  # known in force (fenced, untouched since)
    fading: Set[bytes] = field(default_factory=set)  # dropped since the last fence: may still match
    #: (message, verdict, index in ``filters``: the filters it was sent under) in send order
    queue: List[Tuple[bytes, str, int]] = field(default_factory=list)
    position: int = 0  # queue entries before it are received or skipped
    received: int = 0
    received_bytes: int = 0
    closed: bool = False
    known: Set[bytes] = field(default_factory=set)  # every prefix it ever had
    #: whether b"" was subscribed, state by state since the last fence (before connect: no)
    everything: List[bool] = field(default_factory=lambda: [False])
    changes: int = 0  # subscription changes since the last fence (connect counts as one)
    fences: int = 0  # fences it has had
    #: the filters messages were sent under: (subscribed, settled, dropped since the fence, fences)
    filters: List[Tuple[List[bytes], List[bytes], List[bytes], int]] = field(default_factory=list)
    _changed: bool = True  # filters changed since the last message was sent

    def __post_init__(self) -> None:
        self.known |= self.current
        self.everything.append(b"" in self.current)
        self.changes = 1

    def verdict(self, message: bytes) -> str:
        if matches(message, self.settled):
            return MUST
        if matches(message, self.current | self.fading):
            return MAY
        return NEVER

    def sent(self, message: bytes) -> None:
        if self._changed or not self.filters:
            state = (sorted(self.current), sorted(self.settled), sorted(self.fading), self.fences)
            self.filters.append(state)
            self._changed = False
        self.queue.append((message, self.verdict(message), len(self.filters) - 1))

    def subscribe(self, prefix: bytes) -> None:
        self.current.add(prefix)
        self.known.add(prefix)
        self.everything.append(b"" in self.current)
        self.changes += 1
        self._changed = True

    def unsubscribe(self, prefix: bytes) -> None:
        self.current.discard(prefix)
        self.settled.discard(prefix)
        self.fading.add(prefix)
        self.everything.append(b"" in self.current)
        self.changes += 1
        self._changed = True
        # queued messages it covered may now be discarded by the subscriber
        for i in range(self.position, len(self.queue)):
            message, verdict, when = self.queue[i]
            if verdict == MUST and not matches(message, self.settled):
                self.queue[i] = (message, MAY, when)

    def fenced(self) -> None:
        self.settled, self.fading = set(self.current), set()
        self.everything = [b"" in self.current]
        self.changes = 0
        self.fences += 1
        self._changed = True

    @property
    def flickers(self) -> bool:
        """Whether b"" may have been in force since the last fence, and out of force later:
        then no marker's arrival can show that the changes ahead of it are in force."""
        history = self.everything
        return any(on and not later for i, on in enumerate(history) for later in history[i + 1 :])

    @property
    def turned_on(self) -> int:
        """How many times b"" was subscribed again since the last fence, after a time without it."""
        history = self.everything
        return sum(1 for before, after in zip(history, history[1:]) if after and not before)

    @property
    def stable(self) -> bool:
        """No change since the last fence: every verdict is MUST or NEVER."""
        return self.settled == self.current and not self.fading

    def pending(self) -> Tuple[int, int]:
        """Messages and bytes sent but not yet received (an upper bound on its queue)."""
        rest = [m for m, v, _ in self.queue[self.position :] if v != NEVER]
        return len(rest), sum(len(m) + 8 for m in rest)

    def receive(self, message: bytes) -> Optional[str]:
        """Record ``message`` as received; return what is wrong with it, or None."""
        lost: Optional[Tuple[bytes, str, int]] = None
        for i in range(self.position, len(self.queue)):
            expected, verdict, _ = self.queue[i]
            if expected == message and verdict != NEVER:
                if lost is not None:
                    return (
                        f"{self.name} received {_short(message)} but never {_short(lost[0])} sent before "
                        f"it, which it must receive: {self._when(lost[2])}"
                    )
                self.position = i + 1
                self.received += 1
                self.received_bytes += len(message)
                return None
            if verdict == MUST and lost is None:
                lost = self.queue[i]
        return f"{self.name} received {_short(message)}, which it must not: {self._why(message)}"

    def _why(self, message: bytes) -> str:
        earlier = [m for m, _, _ in self.queue[: self.position] if m == message]
        if earlier:
            return "a duplicate, or out of order (it was sent and received before)"
        when = [w for m, _, w in self.queue[self.position :] if m == message]
        if when:
            return f"no prefix it had matched it, nor one it had just dropped: {self._when(when[0])}"
        return "it was never sent to it (altered, or from another publisher?)"

    def _when(self, index: int) -> str:
        """The filters a message was sent under, in words."""
        subscribed, settled, dropped, fences = self.filters[index]
        if not fences:
            return f"it was sent before any fence, while subscribing to {_prefixes(subscribed)}"
        return (
            f"it was sent while subscribing to {_prefixes(subscribed)}, of which fence {fences} had "
            f"shown {_prefixes(settled)} in force"
            + (f", and {_prefixes(dropped)} dropped since that fence" if dropped else "")
            + f" (its prefixes now: {_prefixes(sorted(self.current))})"
        )


def _prefixes(prefixes: List[bytes]) -> str:
    return "[" + ", ".join(_short(p) for p in prefixes) + "]" if prefixes else "nothing"


def _short(message: bytes) -> str:
    return repr(message) if len(message) <= 40 else f"{message[:24]!r}…({len(message)} bytes)"
