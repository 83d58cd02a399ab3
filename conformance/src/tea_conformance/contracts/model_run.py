"""The operations of the model test: each makes the real transport calls and keeps the model
(:mod:`.model`) in step, raising :class:`ConformanceFailure` when the transport departs from
it. A failing sequence is printed as calls on :class:`ModelRun`, a runnable script.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any, Dict, List, Sequence, Set, Type, Union

from tea_transports import (
    NOBLOCK,
    BrokenTransportError,
    Feature,
    Transport,
    TransportClosedError,
    TransportError,
    TransportStats,
    TransportTimeoutError,
    transport_class,
)

from ..harness import ConformanceFailure, Harness, Target
from .model import MAY, MUST, ModelSubscriber

__all__ = ["FENCE", "ModelRun", "OutOfTime"]

#: markers start with it; generated prefixes never start with 0xFF, so a fence prefix sorts
#: after them all (a subscriber re-sends its prefixes in byte order when it connects)
FENCE = b"\xff\xfetea-fence"
HWM = 1000
#: unread messages per subscriber: far below HWM (a reader reports progress every HWM/2)
MAX_PENDING = 200
#: unread bytes per subscriber: below a pipe's 64 KiB buffer, so no send waits for a reader
MAX_PENDING_BYTES = 32 * 1024
QUANTUM_MS = 10
#: the longest one example may take
EXAMPLE_S = 20.0
#: a stream's reader that receives nothing for this long stops (a fence then judges)
QUIET_S = 1.0
#: the longest a fence may wait for each subscription change ahead of it (they may take
#: effect one after another): a change not in force by then never took effect
FENCE_S = 3.0
Prefix = Union[bytes, str]


class OutOfTime(Exception):
    """The example's time ran out: no verdict on the transport, the sequence just stops."""


class ModelRun:
    """One publisher and its subscribers, driven in step with the model."""

    def __init__(self, h: Harness, on_hwm: str = "drop") -> None:
        self.h = h
        self.features = h.target.cls.capabilities.features
        self.filtering = Feature.FILTERING in self.features
        self.direct = h.pattern == "direct"  # one subscriber, and it gets what was sent before it
        options: Dict[str, Any] = {"high_water_mark": HWM, "on_hwm": on_hwm}
        if on_hwm == "block":
            options["send_timeout"] = 10_000
        self.pub = h.publisher(**options)
        self.subs: List[Transport] = []
        self.models: List[ModelSubscriber] = []
        self.orphans = ModelSubscriber("(no subscriber yet)", {b""})  # direct: wait in the pipe
        self.sent = [0, 0]  # messages, bytes
        self.fences = 0
        self.deadline = min(h.deadline, time.monotonic() + EXAMPLE_S)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    @classmethod
    def start(cls, transport: str, protocol: str, on_hwm: str = "drop", timeout: float = 60.0) -> ModelRun:
        """Outside the suite (a reproduction script): the run for ``transport`` over ``protocol``."""
        try:
            found: Type[Transport] = transport_class(transport, "pub_sub")
        except TransportError:  # not a pub_sub transport: a direct one, or the error says why
            found = transport_class(transport, "direct")
        target = Target(transport, found)
        pattern = target.pattern_for({"pub_sub", "direct"})
        return cls(Harness(target, pattern or "direct", protocol, timeout), on_hwm)

    def __enter__(self) -> ModelRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.h.close_all()

    def open(self) -> List[int]:
        return [i for i, m in enumerate(self.models) if not m.closed]

    # -- subscribers --------------------------------------------------------------------

    def connect(self, prefixes: Sequence[Prefix] = ()) -> None:
        """A new subscriber (index = how many came before it), filtering on ``prefixes``."""
        index = len(self.subs)
        options: Dict[str, Any] = {"receive_timeout": QUANTUM_MS}
        current = {b""}
        if self.filtering:
            fence = self._fence_prefix(index)
            options["subscribe_filter"] = [*prefixes, fence]
            current = {_bytes(p) for p in prefixes} | {fence}
        model = ModelSubscriber(f"subscriber {index}", current)
        if self.direct:  # what waits in the pipe reaches it, if it was not consumed
            model.filters = [([], [], [], 0)]  # sent before it was connected
            model.queue = [(m, MAY, 0) for m, _, _ in self.orphans.queue]
            self.orphans.queue = []
        self.subs.append(self.h.subscriber(self.pub, **options))
        self.models.append(model)

    def subscribe(self, index: int, prefix: Prefix) -> None:
        self.subs[index].subscribe(prefix)
        self.models[index].subscribe(_bytes(prefix))

    def unsubscribe(self, index: int, prefix: Prefix) -> None:
        self.subs[index].unsubscribe(prefix)
        self.models[index].unsubscribe(_bytes(prefix))

    def close(self, index: int) -> None:
        """Close subscriber ``index``; then every operation on it must raise TransportClosedError."""
        sub = self.subs[index]
        sub.close()
        sub.close()  # idempotent
        self.models[index].closed = True
        if sub.is_connected:
            raise ConformanceFailure(f"subscriber {index}: is_connected is True after close()")
        for what, call in (
            ("receive()", sub.receive),
            ("receive(flags=NOBLOCK)", lambda: sub.receive(flags=NOBLOCK)),
            ("receive_many()", sub.receive_many),
        ):
            _expect_closed(call, f"subscriber {index}: {what} after close()")

    def close_while_receiving(self, index: int) -> None:
        """Close subscriber ``index`` from this thread while another one waits in receive()."""
        sub, model = self.subs[index], self.models[index]
        got: List[bytes] = []
        ended: List[BaseException] = []
        waiting = threading.Event()

        def reader() -> None:
            try:
                while True:
                    waiting.set()
                    try:
                        got.append(sub.receive())
                    except TransportTimeoutError:
                        continue
            except BaseException as exc:
                ended.append(exc)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        waiting.wait(max(0.0, self.remaining()))
        sub.close()
        thread.join(max(0.0, self.remaining()))
        model.closed = True
        if thread.is_alive():
            raise ConformanceFailure(f"subscriber {index}: a receive() waiting in another thread never ended")
        if not isinstance(ended[0], TransportClosedError):
            raise ConformanceFailure(
                f"subscriber {index}: the receive() waiting while another thread closed it raised "
                f"{type(ended[0]).__name__}: {ended[0]}, expected TransportClosedError"
            )
        self._check(index, got)

    # -- sending ------------------------------------------------------------------------

    def send(self, message: bytes, flags: int = 0, kind: str = "bytes") -> None:
        """``send()`` of one message, passed as ``kind`` (bytes, bytearray or memoryview)."""
        payload: Any = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[kind](message)
        self._sending([message], lambda: self.pub.send(payload, flags), len(message))

    def send_many(self, messages: Sequence[bytes]) -> None:
        self._sending(list(messages), lambda: self.pub.send_many(list(messages)), sum(map(len, messages)))

    def send_bad(self, payload: Any) -> None:
        """A payload that is not bytes-like must raise TypeError and send nothing."""
        try:
            self.pub.send(payload)
        except TypeError:
            return
        except Exception as exc:
            raise ConformanceFailure(
                f"send({payload!r}) raised {type(exc).__name__}, expected TypeError"
            ) from exc
        raise ConformanceFailure(f"send({payload!r}) did not raise TypeError")

    def room(self, count: int, size: int) -> bool:
        """Whether ``count`` more messages of ``size`` bytes keep every queue within bounds."""
        for model in [self.orphans, *(m for m in self.models if not m.closed)]:
            messages, nbytes = model.pending()
            if messages + count > MAX_PENDING or nbytes + size + 8 * count > MAX_PENDING_BYTES:
                return False
        return True

    def _sending(self, messages: List[bytes], call: Any, expected: int) -> None:
        for model in self._listeners():
            for message in messages:
                model.sent(message)
        try:
            result = call()
        except BrokenTransportError:
            if self.direct and self.models and self.models[0].closed:
                return  # a pipe whose reader closed
            raise
        if type(result) is not int or result != expected:
            raise ConformanceFailure(
                f"sending {len(messages)} message(s) returned {result!r}, expected {expected}"
            )
        self.sent[0] += len(messages)
        self.sent[1] += expected

    def _listeners(self) -> List[ModelSubscriber]:
        listening = [m for m in self.models if not m.closed]
        return [self.orphans] if self.direct and not listening else listening

    def stream(self, messages: Sequence[bytes], chunk: int = 100) -> None:
        """Send ``messages`` (many, or large) by ``send_many`` chunks while every open
        subscriber receives in a thread of its own. A chunk waits until each reader has the
        one before last, so no queue nears the mark. Only when every open subscriber is
        stable (fenced since its last change): each message's verdict is then known. A
        reader that gets nothing for QUIET_S stops; a fence then says what is missing."""
        readers = self.open()
        if not all(self.models[i].stable for i in readers) or (self.direct and not readers):
            return
        bases = {i: len(self.models[i].queue) for i in readers}
        for i in readers:  # registered first: the readers check against these queues
            for message in messages:
                self.models[i].sent(message)
        progress = threading.Condition()
        errors: List[BaseException] = []

        def has(i: int, upto: int) -> bool:  # reader i has every MUST message among the first `upto`
            model, base = self.models[i], bases[i]
            return all(v != MUST for _, v, _ in model.queue[max(model.position, base) : base + upto])

        def reader(i: int) -> None:
            quiet_until = time.monotonic() + QUIET_S
            try:
                while not has(i, len(messages)) and time.monotonic() < min(quiet_until, self.deadline):
                    try:
                        message = self.subs[i].receive()
                    except TransportTimeoutError:
                        continue
                    quiet_until = time.monotonic() + QUIET_S
                    self._check(i, [message])
                    with progress:
                        progress.notify_all()
            except BaseException as exc:
                errors.append(exc)
            with progress:
                progress.notify_all()

        threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in readers]

        def ready(upto: int) -> bool:  # time to send the next chunk, or to stop
            stopped = errors or self.expired() or not all(t.is_alive() for t in threads)
            return bool(stopped) or all(has(i, upto) for i in readers)

        for thread in threads:
            thread.start()
        sent = 0
        try:
            while sent < len(messages):
                upto = max(0, sent - chunk)
                with progress:
                    progress.wait_for(partial(ready, upto), max(0.0, self.remaining()))
                if errors or self.expired() or not all(has(i, upto) for i in readers):
                    break
                batch = list(messages[sent : sent + chunk])
                result = self.pub.send_many(batch)
                if result != sum(map(len, batch)):
                    raise ConformanceFailure(f"send_many() of {len(batch)} message(s) returned {result!r}")
                sent += len(batch)
                self.sent[0] += len(batch)
                self.sent[1] += result
        finally:
            for thread in threads:
                thread.join(max(0.0, self.remaining()))
            for i in readers:  # what was not sent after all
                del self.models[i].queue[bases[i] + sent :]
        if errors:
            raise errors[0]
        for i in readers:
            if not has(i, sent):
                self.fence(i)

    # -- receiving ----------------------------------------------------------------------

    def receive(self, index: int, how: str = "wait", count: int = 3) -> None:
        """One receive on subscriber ``index``: ``wait`` (receive_timeout), ``size1``
        (receive(1) still returns whole messages), ``noblock``, or ``many`` and
        ``many_noblock``, which ask for up to ``count`` messages."""
        sub = self.subs[index]
        calls = {
            "wait": lambda: [sub.receive()],
            "size1": lambda: [sub.receive(1)],
            "noblock": lambda: [sub.receive(flags=NOBLOCK)],
            "many": lambda: sub.receive_many(count),
            "many_noblock": lambda: sub.receive_many(count, flags=NOBLOCK),
        }
        try:
            got = calls[how]()
        except TransportTimeoutError:
            return  # always allowed: a message may still be on its way
        most = count if how.startswith("many") else 1
        if not isinstance(got, list) or not 1 <= len(got) <= most or any(type(m) is not bytes for m in got):
            raise ConformanceFailure(f"subscriber {index}: receive ({how}) returned {got!r:.200}")
        self._check(index, got)

    def fence(self, index: int) -> None:
        """Send markers until subscriber ``index`` receives one: every earlier change to it
        is then in force, and every message sent before that marker has arrived or never will.

        The marker's prefix is fresh, subscribed after every other change, so its arrival
        shows them all in force — unless b"" (which every marker matches) may have let it
        through before a later change took b"" away. Then b"" is taken away here too, and
        the fence waits until it sees b"" out of force and its own prefix in (a probe that
        only b"" lets through missing, the marker sent after it arriving), once more than
        b"" came back in the meantime; then b"" is subscribed again and fenced plainly."""
        model = self.models[index]
        if not (self.filtering and model.flickers):
            return self._fence(index, 0)
        wanted = b"" in model.current
        if wanted:
            self._drain(index)  # what must arrive is checked before the unsubscribe forgives it
            self.unsubscribe(index, b"")
        self._fence(index, model.turned_on + 1)
        if wanted:
            self.subscribe(index, b"")
            self._fence(index, 0)

    def _drain(self, index: int) -> None:
        """Receive up to a marker under the fence prefix the last fence showed in force (it
        was not touched since): every ``MUST`` message sent before it must have arrived."""
        model, sub = self.models[index], self.subs[index]
        prefix = next((p for p in model.settled if p.startswith(FENCE)), None)
        if prefix is None:
            return  # never fenced: nothing is required yet
        self.fences += 1
        ours = prefix + b"#%d-" % self.fences
        give_up = time.monotonic() + FENCE_S
        for n in range(1_000_000):
            if time.monotonic() > give_up:
                raise ConformanceFailure(
                    f"subscriber {index} received no marker within {FENCE_S:.0f} s under a prefix a "
                    f"fence had shown in force, and untouched since: delivery stopped"
                )
            if self.expired():
                raise OutOfTime(f"the example's time ran out draining subscriber {index}")
            self.send(ours + b"%d" % n)
            while True:
                try:
                    message = sub.receive()
                except TransportTimeoutError:
                    break
                self._check(index, [message])
                if message.startswith(ours):
                    return

    def _fence(self, index: int, proofs: int) -> None:
        """One fence; with ``proofs``, it ends after that many markers arrived whose probe,
        sent just before, did not (only with b"" out of force, see ``fence``)."""
        self.fences += 1
        model, sub = self.models[index], self.subs[index]
        prefix = FENCE
        if self.filtering:  # a fresh prefix, subscribed after every other change
            old = next(p for p in model.current if p.startswith(FENCE))
            self.unsubscribe(index, old)
            prefix = self._fence_prefix(index)
            self.subscribe(index, prefix)
        ours = prefix + b"#%d-" % self.fences
        probe = FENCE + b"?%d-" % self.fences  # no fence prefix matches it: only b"" does
        probed: Set[bytes] = set()
        allowed = FENCE_S * max(1, model.changes + proofs)
        give_up = time.monotonic() + allowed
        for n in range(1_000_000):
            if time.monotonic() > give_up:
                raise ConformanceFailure(
                    f"subscriber {index} received no marker within {allowed:.0f} s ({FENCE_S:.0f} s for "
                    f"each of the {model.changes} subscription change(s) ahead of it, one after another): "
                    f"a subscription change did not take effect, or delivery stopped"
                )
            if self.expired():
                raise OutOfTime(f"the example's time ran out in a fence of subscriber {index}")
            if proofs:
                self.send(probe + b"%d" % n)
            self.send(ours + b"%d" % n)
            while True:
                try:
                    message = sub.receive()
                except TransportTimeoutError:
                    break
                self._check(index, [message])  # a MUST message not received before it is lost
                if message.startswith(probe):
                    probed.add(message[len(probe) :])
                elif message.startswith(ours) and message[len(ours) :] not in probed:
                    proofs -= 1
                if message.startswith(ours) and proofs <= 0:
                    model.fenced()
                    return

    def wait_for_subscribers(self) -> None:
        """``wait_for_subscribers(n)`` returns at least n: the subscriptions known in force."""
        known = sum(len(m.settled) for m in self.models if not m.closed)
        try:
            count = self.pub.wait_for_subscribers(known, timeout=min(FENCE_S, max(0.1, self.remaining())))
        except TransportTimeoutError as exc:
            raise ConformanceFailure(
                f"wait_for_subscribers({known}) timed out, but the model knows {known} subscription(s) "
                f"in force (one per prefix per subscriber, fence prefixes included): {exc}"
            ) from exc
        if type(count) is not int or count < known:
            raise ConformanceFailure(f"wait_for_subscribers({known}) returned {count!r}")

    def check_stats(self) -> None:
        """Every counter equals what the model counted."""
        stats = self.pub.get_stats()
        _expect_counts(stats, "publisher", messages_sent=self.sent[0], bytes_sent=self.sent[1])
        for i in self.open():
            model = self.models[i]
            counts = {"messages_received": model.received, "bytes_received": model.received_bytes}
            _expect_counts(self.subs[i].get_stats(), f"subscriber {i}", **counts)

    def finish(self) -> None:
        """Fence every open subscriber: what it must receive has arrived, nothing else did."""
        for i in self.open():
            self.fence(i)

    # -- internals ----------------------------------------------------------------------

    def _check(self, index: int, messages: List[bytes]) -> None:
        model = self.models[index]
        for message in messages:
            problem = model.receive(message)
            if problem:
                raise ConformanceFailure(problem)

    def _fence_prefix(self, index: int) -> bytes:
        self.fences += 1
        # ended by "/", so that no fence prefix is the start of a later one
        return FENCE + b"-%d-%d/" % (index, self.fences)


def _bytes(prefix: Prefix) -> bytes:
    return prefix.encode("utf-8") if isinstance(prefix, str) else bytes(prefix)


def _expect_closed(call: Any, what: str) -> None:
    try:
        call()
    except TransportClosedError:
        return
    except Exception as exc:
        raise ConformanceFailure(
            f"{what} raised {type(exc).__name__}, expected TransportClosedError"
        ) from exc
    raise ConformanceFailure(f"{what} did not raise TransportClosedError")


def _expect_counts(stats: TransportStats, who: str, **expected: int) -> None:
    if not isinstance(stats, TransportStats):
        raise ConformanceFailure(f"{who}: get_stats() returned {type(stats).__name__}, not TransportStats")
    for name, value in expected.items():
        if getattr(stats, name) != value:
            raise ConformanceFailure(
                f"{who}: get_stats().{name} is {getattr(stats, name)!r}, counted {value}"
            )
