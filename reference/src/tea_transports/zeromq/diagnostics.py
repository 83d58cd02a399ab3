"""The slow-subscriber warning: logged at once, then at most once per interval."""

from __future__ import annotations

import logging
import time

__all__ = ["LOGGER_NAME", "SlowSubscriberWarning"]

LOGGER_NAME = "tea_transports.zeromq"
logger = logging.getLogger(LOGGER_NAME)


class SlowSubscriberWarning:
    """Reports high-water-mark events so that a storm of them never floods the log.

    The first event logs a WARNING at once; later ones are counted, and the next event
    after ``interval`` seconds logs one WARNING with the count since the last one.
    """

    def __init__(self, endpoint: str, high_water_mark: int, interval: float) -> None:
        self.endpoint = endpoint
        self.high_water_mark = high_water_mark
        self.interval = interval
        self.total = 0
        self._unreported = 0
        self._last_logged = float("-inf")

    def record(self) -> None:
        """Count one event, and log if the interval since the last warning has passed."""
        self.total += 1
        self._unreported += 1
        now = time.monotonic()
        if now - self._last_logged < self.interval:
            return
        if self.total == 1:
            logger.warning(
                "slow subscriber on %s: its queue reached high_water_mark=%d, so it misses "
                "messages (on_hwm='drop'); speed it up, raise high_water_mark, or use "
                "on_hwm='block' to make the publisher wait",
                self.endpoint,
                self.high_water_mark,
            )
        else:
            logger.warning(
                "slow subscriber on %s: high_water_mark=%d reached %d more time(s) "
                "(%d in all); subscribers are missing messages",
                self.endpoint,
                self.high_water_mark,
                self._unreported,
                self.total,
            )
        self._unreported = 0
        self._last_logged = now
