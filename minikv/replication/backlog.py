"""The replication backlog: the last ``size`` bytes of the replication stream, by offset.

A replica that lost its link asks for the stream from the byte after the last one it applied
(``PSYNC <replid> <offset>``); if the backlog still holds that byte the primary answers
``+CONTINUE`` and sends the rest, instead of a full resynchronisation. Offsets count bytes of
the stream from the start of the replication history (Redis's ``master_repl_offset``): the
backlog holds bytes ``first .. first + histlen - 1``.

The stream arrives as many small pieces (one per propagated unit of execution), so the backlog
is a deque of them rather than Redis's circular buffer: appending is O(1) with no copy. What
it serves is exactly the last ``size`` bytes; it physically keeps up to 1/16 more before
dropping the oldest pieces in one go (trimming on every append costs more than the write it
follows).
"""

from __future__ import annotations

from collections import deque


class Backlog:
    __slots__ = ("chunks", "first", "histlen", "size")

    def __init__(self, size: int, master_offset: int) -> None:
        self.size = size
        self.chunks: deque[bytes] = deque()
        #: Offset of the first byte held (the next one when empty).
        self.first = master_offset + 1
        self.histlen = 0

    def append(self, data: bytes) -> None:
        self.chunks.append(data)
        self.histlen += len(data)
        if self.histlen > self.size + (self.size >> 4):
            self._trim()

    def _trim(self) -> None:
        chunks = self.chunks
        excess = self.histlen - self.size
        while excess > 0:
            head = chunks[0]
            if len(head) <= excess:
                chunks.popleft()
                cut = len(head)
            else:
                chunks[0] = head[excess:]
                cut = excess
            excess -= cut
            self.histlen -= cut
            self.first += cut

    def resize(self, size: int) -> None:
        self.size = size
        if self.histlen > size:
            self._trim()

    @property
    def start(self) -> int:
        """Offset of the first byte served (INFO's repl_backlog_first_byte_offset)."""
        return self.first + max(0, self.histlen - self.size)

    @property
    def length(self) -> int:
        """Bytes served (INFO's repl_backlog_histlen): at most ``size``."""
        return min(self.histlen, self.size)

    def covers(self, offset: int) -> bool:
        """Whether the stream from byte ``offset`` on can be served (the end included:
        a replica that has everything continues with nothing to catch up)."""
        return self.start <= offset <= self.first + self.histlen

    def since(self, offset: int) -> bytes:
        """The bytes from ``offset`` to the end (``covers(offset)`` must hold)."""
        skip = offset - self.first
        out: list[bytes] = []
        for chunk in self.chunks:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            out.append(chunk[skip:] if skip else chunk)
            skip = 0
        return b"".join(out)
