"""How much memory a process holds and has copied since fork (``Private_Dirty``) from /proc.

Reads ``/proc/self/smaps_rollup`` (one summary, cheap) or, on kernels without it, sums
``Private_Dirty`` over ``/proc/self/smaps``. On a system without /proc it reports 0.
Reading costs ~1.5 ms at 170 MB of RSS and grows with the mapping count, so callers sample it
with a duty cycle (``CowSampler``) rather than per key.
"""

from __future__ import annotations

import os
import resource
import time


def private_dirty_bytes() -> int:
    """Private_Dirty of this process in bytes (0 where /proc is unavailable).

    Read with ``os.read`` and summed with ``bytes.find``: a fork child samples this while it
    saves, and every temporary object (a buffered file, one ``bytes`` per line) lands in
    memory the parent shared, copying its page."""
    for path in ("/proc/self/smaps_rollup", "/proc/self/smaps"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            parts = []
            while chunk := os.read(fd, 1 << 16):
                parts.append(chunk)
        except OSError:
            continue
        finally:
            os.close(fd)
        return sum_private_dirty(b"".join(parts))
    return 0


_FIELD = b"Private_Dirty:"


def sum_private_dirty(data: bytes) -> int:
    """The ``Private_Dirty:      123 kB`` lines of an smaps or smaps_rollup text, summed, in
    bytes."""
    total = 0
    i = data.find(_FIELD)
    while i >= 0:
        end = data.index(b"kB", i)
        total += int(data[i + len(_FIELD) : end])
        i = data.find(_FIELD, end)
    return total * 1024


def rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        # No /proc: the peak RSS is the closest figure getrusage gives.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return pages * resource.getpagesize()


def bytes_to_human(n: int) -> str:
    """Redis's bytesToHuman: 1023B, 1.00K, 1.50M..."""
    if n < 1024:
        return f"{n}B"
    for unit, power in (("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)):
        if n < 1024 ** (power + 1) or unit == "P":
            return f"{n / 1024**power:.2f}{unit}"
    return f"{n}B"


class CowSampler:
    """Samples ``private_dirty_bytes`` so that sampling takes at most ``duty`` of the time.

    After a sample that took ``t`` seconds, the next one is allowed ``t / duty`` later: with
    the default 1 %, a 2 ms read happens at most every 200 ms (Redis samples similarly).
    """

    def __init__(self, duty: float = 0.01, min_interval: float = 0.05) -> None:
        self.duty = duty
        self.min_interval = min_interval
        self.current = 0
        self.peak = 0
        self.samples = 0
        self.total = 0
        self._next = 0.0

    def maybe_sample(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self.sample()
        return True

    def sample(self) -> int:
        t0 = time.monotonic()
        v = private_dirty_bytes()
        t1 = time.monotonic()
        self.current = v
        self.peak = max(self.peak, v)
        self.samples += 1
        self.total += v
        self._next = t1 + max(self.min_interval, (t1 - t0) / self.duty)
        return v

    @property
    def average(self) -> int:
        return self.total // self.samples if self.samples else 0
