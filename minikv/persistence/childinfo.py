"""The child -> parent report: a small fixed-size message over a non-blocking pipe.

Like Redis's childinfo.c, each message is one fixed-size record so a pipe write of it is atomic
(well under PIPE_BUF) and the parent never has to reassemble partial messages. The child sends
progress at most about once a second and a final report before it exits; the parent drains the
pipe from its event loop and keeps only the newest values.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

# kind (1 progress, 2 final), keys processed, COW bytes now, COW peak, wall time of the sample
_MSG = struct.Struct("<BQQQd")
MSG_SIZE = _MSG.size
PROGRESS = 1
FINAL = 2


@dataclass
class ChildInfo:
    kind: int
    keys: int
    cow: int
    cow_peak: int
    when: float


def send(fd: int, kind: int, keys: int, cow: int, cow_peak: int, when: float) -> None:
    """Write one message; a full pipe drops it (the parent only needs the newest one)."""
    try:
        os.write(fd, _MSG.pack(kind, keys, cow, cow_peak, when))
    except (BlockingIOError, BrokenPipeError, InterruptedError):
        pass


def receive(fd: int) -> list[ChildInfo]:
    """Every complete message waiting in the pipe (non-blocking)."""
    out: list[ChildInfo] = []
    while True:
        try:
            data = os.read(fd, MSG_SIZE * 64)
        except (BlockingIOError, InterruptedError):
            break
        if not data:
            break
        for i in range(0, len(data) - MSG_SIZE + 1, MSG_SIZE):
            out.append(ChildInfo(*_MSG.unpack_from(data, i)))
        if len(data) < MSG_SIZE * 64:
            break
    return out
