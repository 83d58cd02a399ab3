"""The framing of a pipe transport's messages: a 4-byte big-endian length, then the payload.

The producer writes a frame of at most :data:`ATOMIC_WRITE` bytes in one all-or-nothing
write; the consumer's :class:`FrameReader` turns the bytes it reads into whole messages.
"""

from __future__ import annotations

import collections
import os
import select
import struct
import threading
from typing import Callable, Deque, List, Optional, Tuple, Union

__all__ = ["ATOMIC_WRITE", "HEADER_SIZE", "FrameReader", "pack_header"]

_HEADER = struct.Struct(">I")
HEADER_SIZE = _HEADER.size
pack_header = _HEADER.pack
_unpack_header = _HEADER.unpack_from
_read = os.read
_READ_CHUNK = 1 << 16
#: a pipe write of at most this many bytes is all or nothing (POSIX PIPE_BUF); longer
#: frames may go in pieces, so they take the slow path, which marks the tail as pending
ATOMIC_WRITE: int = getattr(select, "PIPE_BUF", 512)


class FrameReader:
    """The consumer's bytes, made whole messages.

    ``inbox`` holds whole messages read and not yet returned; a receiver pops them without
    any lock, since no descriptor is touched there. ``lock`` guards the counters and the
    inbox together, so a statistics snapshot is of one moment.
    """

    def __init__(self) -> None:
        self.buffer = b""  # bytes read that do not make a whole frame yet
        self.inbox: Deque[bytes] = collections.deque()
        self.lock = threading.Lock()
        self._frames_read = self._payload_read = 0  # received = read - still in the inbox

    def fill(
        self,
        fd: int,
        wait: Callable[[], None],
        io_error: Callable[[OSError], Exception],
        eof_error: Callable[[bool], Exception],
    ) -> None:
        """Read ``fd`` until the buffer holds at least one whole frame, then move every
        whole frame into the inbox.

        :param wait: called when the pipe is empty; returns once it is readable, or raises.
        :param io_error: the error to raise for a failed read.
        :param eof_error: the error to raise when the producer closed the pipe; its argument
            says whether that cut a message short.
        """
        data: Union[bytes, bytearray] = self.buffer
        pending: Optional[bytearray] = None  # accumulates a frame longer than one read
        try:
            while True:
                if len(data) >= HEADER_SIZE and len(data) >= HEADER_SIZE + _unpack_header(data, 0)[0]:
                    break
                try:
                    chunk = _read(fd, _READ_CHUNK)
                except BlockingIOError:
                    wait()
                    continue
                except OSError as exc:
                    raise io_error(exc) from exc
                if not chunk:
                    raise eof_error(bool(data))
                if not data:
                    data = chunk  # the common case: no copy
                elif pending is None and len(data) < _READ_CHUNK:
                    data += chunk  # the tail of the last read, completed: one copy
                else:  # a long frame: grow in place, not by copying the whole each time
                    if pending is None:
                        pending = bytearray(data)
                    pending += chunk
                    data = pending
        finally:  # whatever happened, no byte read is lost
            self.buffer = bytes(data)  # no copy when it already is bytes
        self._split()

    def _split(self) -> None:
        """Move every whole frame of the buffer into the inbox; keep the partial tail."""
        data, pos = self.buffer, 0
        frames: List[bytes] = []
        size, append, unpack = len(data), frames.append, _unpack_header
        while size - pos >= HEADER_SIZE:
            end = pos + HEADER_SIZE + unpack(data, pos)[0]
            if end > size:
                break
            append(data[pos + HEADER_SIZE : end])
            pos = end
        self.buffer = data[pos:]
        with self.lock:
            self.inbox.extend(frames)
            self._frames_read += len(frames)
            self._payload_read += pos - len(frames) * HEADER_SIZE

    def received(self) -> Tuple[int, int]:
        """Messages and payload bytes returned so far (read, less what waits in the inbox)."""
        with self.lock:  # receivers pop without it: the snapshot is of one moment
            inbox = list(self.inbox)
            frames_read, payload_read = self._frames_read, self._payload_read
        return frames_read - len(inbox), payload_read - sum(map(len, inbox))

    def drop(self) -> None:
        """Forget what was read and not returned: it does not count as received."""
        self.buffer = b""
        with self.lock:
            self._frames_read -= len(self.inbox)
            self._payload_read -= sum(map(len, self.inbox))
            self.inbox.clear()
