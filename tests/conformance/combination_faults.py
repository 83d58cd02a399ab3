"""Faults of combination: transports that pass every fixed scenario of the catalogue and
break only when operations meet in an order no fixed scenario tries. Each is the reference
with one defect, and the model scenario (TEA-CONF-MODEL-001) must catch it."""

from __future__ import annotations

from typing import Any, Iterable, List, Set, Union

from tea_transports import NOBLOCK, TransportConfig
from tea_transports.options import as_prefix
from tea_transports.zeromq import ZeroMQPubSubTransport


class SendAfterBatchLost(ZeroMQPubSubTransport):
    """The first send() after a send_many() is lost (a flag the batch leaves set)."""

    def send_many(self, messages: Iterable[Any]) -> int:
        sent = super().send_many(messages)
        self._after_batch = True
        return sent

    def send(self, data: Any, flags: int = 0) -> int:
        if getattr(self, "_after_batch", False) and isinstance(data, bytes):
            self._after_batch = False
            return len(data)
        return super().send(data, flags)


class ResubscribeIgnored(ZeroMQPubSubTransport):
    """subscribe(p) after unsubscribe(p) does nothing: p stays remembered as removed."""

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        super().unsubscribe(prefix)
        self._removed: Set[bytes] = getattr(self, "_removed", set()) | {as_prefix(prefix)}

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        if as_prefix(prefix) not in getattr(self, "_removed", set()):
            super().subscribe(prefix)


class NoblockBatchLosesOne(ZeroMQPubSubTransport):
    """receive_many(n, NOBLOCK) takes one message more than n from the queue and drops it."""

    def receive_many(self, max_messages: int = 1024, flags: int = 0) -> List[bytes]:
        if flags & NOBLOCK and isinstance(max_messages, int) and max_messages >= 1:
            return super().receive_many(max_messages + 1, flags)[:max_messages]
        return super().receive_many(max_messages, flags)


class UnsubscribeSweepsLonger(ZeroMQPubSubTransport):
    """unsubscribe(p) also drops every longer prefix that starts with p."""

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        gone = as_prefix(prefix)
        for other in [f for f in self.filters if f.startswith(gone) and f != gone]:
            super().unsubscribe(other)
        super().unsubscribe(prefix)


def _latin1(prefix: Any) -> Any:
    return prefix.encode("latin-1", "replace") if isinstance(prefix, str) else prefix


class NonAsciiStrFilterMisencoded(ZeroMQPubSubTransport):
    """A str filter is encoded as Latin-1, not UTF-8: right for ASCII, wrong beyond it."""

    def __init__(self, config: TransportConfig) -> None:
        raw = config.options.get("subscribe_filter", b"")
        super().__init__(config)
        self._filters = [_latin1(p) for p in (raw if isinstance(raw, list) else [raw])]

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        super().subscribe(_latin1(prefix))

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        super().unsubscribe(_latin1(prefix))


#: every fault above; the model scenario catches each, the fixed scenarios none
COMBINATION_FAULTS = [
    "SendAfterBatchLost",
    "ResubscribeIgnored",
    "NoblockBatchLosesOne",
    "UnsubscribeSweepsLonger",
    "NonAsciiStrFilterMisencoded",
]
