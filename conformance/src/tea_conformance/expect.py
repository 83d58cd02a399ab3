"""Checks and message helpers the contracts share; failures name the first fault."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, List, Sequence, Tuple, Type, TypeVar, Union

from tea_transports import Transport

from .harness import HUNG_AFTER, ConformanceFailure, Harness

T = TypeVar("T")
ExceptionKinds = Union[Type[BaseException], Tuple[Type[BaseException], ...]]

#: the most messages a contract sends in one burst without reading: half the default
#: high_water_mark, since in drop mode a burst past the mark may legitimately lose messages
BURST = 500
#: a stalled subscriber is sent messages this large, so kernel socket buffers (a few MB)
#: cannot absorb the burst and hide the high water mark
STALL_PAYLOAD = b"." * 4096


#: messages of this size measure queue bounds: large enough that kernel buffers hold few
BIG_PAYLOAD = b"." * (64 * 1024)
#: kernel socket buffers where /proc does not say (macOS and Windows buffers are smaller)
_DEFAULT_KERNEL_BUFFERS = 16 * 1024 * 1024


def stall_burst(pub: Transport, count: int, payload: bytes = STALL_PAYLOAD) -> None:
    """Send ``count`` large numbered messages, as to a subscriber that does not read."""
    for i in range(count):
        pub.send(b"%06d" % i + payload)


def kernel_allowance(protocol: str) -> int:
    """Bytes the kernel may hold between a publisher's queue and a subscriber's.

    inproc has no kernel buffer. ipc and tcp have a send and a receive buffer, which
    Linux grows up to ``tcp_wmem``/``tcp_rmem`` (max) for tcp and ``wmem_max``/``rmem_max``
    for Unix sockets — read here, not assumed; elsewhere 16 MiB. Measured on the
    reference (hwm 10, 4 KiB messages): 19 / 64 / 319 messages got through a stall on
    inproc / ipc / tcp, i.e. at most 1.3 MB of kernel buffer.
    """
    if protocol == "inproc":
        return 0
    try:
        tcp = sum(int(_proc(f"ipv4/{n}").split()[2]) for n in ("tcp_wmem", "tcp_rmem"))
        unix = sum(int(_proc(f"core/{n}")) for n in ("wmem_max", "rmem_max"))
    except (OSError, ValueError, IndexError):
        return _DEFAULT_KERNEL_BUFFERS
    return max(tcp, unix)


def _proc(name: str) -> str:
    return Path("/proc/sys/net", name).read_text()


def queue_bound(protocol: str, hwm_publisher: int, hwm_subscriber: int, payload: int) -> int:
    """The most messages of ``payload`` bytes a stalled subscriber may get after a burst:
    both high water marks, what the kernel buffers hold, and 10 % + 5 for batching."""
    exact = hwm_publisher + hwm_subscriber + kernel_allowance(protocol) // payload
    return exact + exact // 10 + 5


def numbered(count: int, prefix: bytes = b"m") -> List[bytes]:
    """``count`` distinct messages that sort in sending order."""
    return [b"%s-%06d" % (prefix, i) for i in range(count)]


def linked(h: Harness, subscribers: int = 1, **options: Any) -> Tuple[Transport, List[Transport]]:
    """A bound publisher and ``subscribers`` connected subscribers, synchronised."""
    pub = h.publisher(**options)
    subs = [h.subscriber(pub, **options) for _ in range(subscribers)]
    h.sync(pub, subs)
    return pub, subs


def send_all(pub: Transport, messages: Sequence[bytes]) -> None:
    for message in messages:
        sent = pub.send(message)
        if sent != len(message):
            raise ConformanceFailure(f"send() returned {sent} for a {len(message)}-byte message")


def expect_equal(got: Sequence[bytes], expected: Sequence[bytes], who: str = "the subscriber") -> None:
    """Exact delivery: the same messages, each once, in order; the message names the first fault."""
    if list(got) == list(expected):
        return
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    duplicates = len(got) - len(set(got))
    if missing or extra or duplicates:
        raise ConformanceFailure(
            f"{who} got {len(got)} of {len(expected)} message(s): {len(missing)} missing "
            f"(first {_short(missing[:3])}), {len(extra)} unexpected or corrupted "
            f"(first {_short(extra[:3])}), "
            f"{duplicates} duplicate(s)"
        )
    first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
    raise ConformanceFailure(
        f"{who} got every message but out of order: position {first} holds {_short([got[first]])}, "
        f"expected {_short([expected[first]])}"
    )


def _short(messages: Sequence[bytes]) -> str:
    """Messages as their first 24 bytes and length: a failure line stays readable."""
    return "[" + ", ".join(repr(m[:24]) + (f"…({len(m)} B)" if len(m) > 24 else "") for m in messages) + "]"


def expect_delivered_concurrently(
    h: Harness, pub: Transport, sub: Transport, messages: List[bytes], who: str
) -> None:
    """Send ``messages`` while another thread receives them; require exact delivery."""
    received: List[List[bytes]] = []
    reader = threading.Thread(target=lambda: received.append(h.collect(sub, len(messages))), daemon=True)
    reader.start()
    send_all(pub, messages)
    reader.join(max(0.0, h.remaining()))
    if not received:
        raise ConformanceFailure(f"{who} did not get all {len(messages):,} messages before the deadline")
    expect_equal(received[0], messages, who)


def expect_at_once(
    h: Harness, call: Callable[[], T], what: str, release: Callable[[], object]
) -> Union[T, BaseException]:
    """Run ``call``, which must not wait, in a thread; return its result or the exception it
    raised. Still waiting after :data:`HUNG_AFTER` s (or the scenario's remaining time) it
    waits for something — no loaded machine delays a call that long: then ``release`` (e.g.
    reading the queue it waits on) frees it, and the contract fails."""
    outcome: List[Union[T, BaseException]] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    patience = max(1.0, min(HUNG_AFTER, h.remaining()))
    thread.join(patience)
    if thread.is_alive():
        release()
        thread.join(max(0.0, h.remaining()))
        raise ConformanceFailure(f"{what} was still waiting after {patience:.0f} s; NOBLOCK must never wait")
    return outcome[0]


def expect_raises(kinds: ExceptionKinds, call: Callable[[], object], what: str) -> BaseException:
    """Run ``call`` and require it to raise one of ``kinds``."""
    try:
        call()
    except kinds as exc:
        return exc
    except Exception as exc:
        raise ConformanceFailure(
            f"{what} raised {type(exc).__name__}: {exc}, expected {_names(kinds)}"
        ) from exc
    raise ConformanceFailure(f"{what} did not raise; expected {_names(kinds)}")


def _names(kinds: ExceptionKinds) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(k.__name__ for k in kinds)
