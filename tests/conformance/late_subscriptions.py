"""A correct transport that applies subscription changes late, but in order: each is
applied ``REMOVAL_S`` (a removal) or ``ADDITION_S`` (an addition) after the one before it
was, or after the call if the transport was idle, as a busy broker or a slow network
would. The suite must certify it: a subscription change is in force only once the
transport shows it, and a fence that ends before the changes ahead of it are in force
would fail it for messages sent while they were not.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Deque, Optional, Tuple, Union

from tea_transports import TransportClosedError, TransportConfig, TransportStateError
from tea_transports.zeromq import ZeroMQPubSubTransport

__all__ = ["LateSubscriptions"]

REMOVAL_S = 0.02
ADDITION_S = 0.5


class LateSubscriptions(ZeroMQPubSubTransport):
    """The reference, with each ``subscribe()``/``unsubscribe()`` after ``connect()``
    applied by a thread of its own, late and in order (the reference is thread-safe)."""

    def __init__(self, config: Optional[TransportConfig] = None) -> None:
        super().__init__(config)
        self._changes: Deque[Tuple[float, bool, Union[bytes, str]]] = deque()
        self._pending = threading.Condition()
        self._applier: Optional[threading.Thread] = None
        self._stopping = False
        self._last_due = 0.0

    def subscribe(self, prefix: Union[bytes, str]) -> None:
        self._later(True, prefix, ADDITION_S)

    def unsubscribe(self, prefix: Union[bytes, str]) -> None:
        self._later(False, prefix, REMOVAL_S)

    def close(self) -> None:
        with self._pending:
            self._stopping = True
            self._pending.notify_all()
        applier = self._applier
        if applier is not None and applier is not threading.current_thread():
            applier.join()
        super().close()

    def _later(self, add: bool, prefix: Union[bytes, str], delay: float) -> None:
        if not self.is_connected:  # before connect() or after close(): as the reference does
            (super().subscribe if add else super().unsubscribe)(prefix)
            return
        if not isinstance(prefix, (bytes, str)):
            raise TypeError(f"a prefix must be bytes or str, got {type(prefix).__name__}")
        with self._pending:
            if self._stopping:
                raise TransportClosedError("cannot change subscriptions: the transport is closed")
            due = max(time.monotonic(), self._last_due) + delay
            self._last_due = due
            self._changes.append((due, add, prefix))
            self._pending.notify_all()
            if self._applier is None:
                self._applier = threading.Thread(target=self._apply, daemon=True)
                self._applier.start()

    def _apply(self) -> None:
        while True:
            with self._pending:
                while not self._stopping and (not self._changes or self._changes[0][0] > time.monotonic()):
                    wait = self._changes[0][0] - time.monotonic() if self._changes else None
                    self._pending.wait(wait)
                if self._stopping:
                    return
                _, add, prefix = self._changes.popleft()
            try:
                (super().subscribe if add else super().unsubscribe)(prefix)
            except (TransportClosedError, TransportStateError):
                return
