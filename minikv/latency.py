"""Latency: per-command duration histograms (``latency-tracking``) and the latency monitor.

Histograms. Redis 7 records every call's duration in nanoseconds in an HdrHistogram of range
1 ns .. 1 s at 2 significant digits, and INFO ``latencystats`` / ``commandstats`` and LATENCY
HISTOGRAM read percentiles and buckets from it. minikv keeps the same histogram layout as a
plain list of counts: the dispatcher's whole update is ``hist[bucket(d)] += 1`` with
``bucket`` the HdrHistogram counts index (a ``bit_length``, two shifts and an add, see
``bucket_of``), and every statistic is computed at read time from the counts, the way
HdrHistogram computes it, so for the same durations the reported percentiles and buckets are
HdrHistogram's to the digit (tests/test_watch.py checks the arithmetic against values worked
out by hand from hdr_histogram.c's rules).

The latency monitor (``latency-monitor-threshold``, in ms, 0 = off) keeps, per event name
(``command``, ``fast-command``, ``fork``, ``expire-cycle``...), the last 160 samples of
(unix time, ms) at most one per second (the worst of that second) and the all-time maximum;
LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR read them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# HdrHistogram(lowest 1, highest 1e9, 2 significant digits): 256 sub-buckets (128 per half),
# unit magnitude 0, 23 buckets -> 24 * 128 counts.
_HALF_MAG = 7
_HALF = 1 << _HALF_MAG
_SUB_MASK = (1 << (_HALF_MAG + 1)) - 1
HIST_MIN = 1
HIST_MAX = 1_000_000_000
COUNTS_LEN = 24 * _HALF


def bucket_of(ns: int) -> int:
    """HdrHistogram's counts index of ``ns`` (already within HIST_MIN..HIST_MAX). The
    dispatcher inlines the same two lines."""
    b = (ns | _SUB_MASK).bit_length() - 8
    return (b << _HALF_MAG) + (ns >> b)


def new_histogram() -> list[int]:
    return [0] * COUNTS_LEN


def record_clamped(hist: list[int], ns: int) -> None:
    """A duration outside the histogram's range, clamped as Redis's
    updateCommandLatencyHistogram clamps it (the dispatcher's IndexError path)."""
    hist[bucket_of(min(max(ns, HIST_MIN), HIST_MAX))] += 1


def _value_at_index(index: int) -> int:
    bucket = (index >> _HALF_MAG) - 1
    sub = (index & (_HALF - 1)) + _HALF
    if bucket < 0:
        sub -= _HALF
        bucket = 0
    return sub << bucket


def _lowest_equivalent(value: int) -> int:
    b = (value | _SUB_MASK).bit_length() - 8
    return (value >> b) << b


def _range_size(value: int) -> int:
    b = (value | _SUB_MASK).bit_length() - 8
    sub = value >> b
    return 1 << (b + 1 if sub >= 2 * _HALF else b)


def _highest_equivalent(value: int) -> int:
    return _lowest_equivalent(value) + _range_size(value) - 1


def _normalised(hist: list[int]) -> list[int]:
    """Counts with index 0 (a zero duration) moved to the value 1, as recording clamps it."""
    if hist[0]:
        hist = list(hist)
        hist[bucket_of(1)] += hist[0]
        hist[0] = 0
    return hist


def total(hist: list[int]) -> int:
    return sum(hist)


def value_at_percentile(hist: list[int], percentile: float) -> int:
    """hdr_value_at_percentile: the highest value equivalent to the one at ``percentile``."""
    hist = _normalised(hist)
    count = sum(hist)
    wanted = int((min(percentile, 100.0) / 100) * count + 0.5)
    wanted = max(wanted, 1)
    seen = 0
    value = 0
    for idx, n in enumerate(hist):
        seen += n
        if seen >= wanted:
            value = _value_at_index(idx)
            break
    if percentile == 0.0:
        return _lowest_equivalent(value)
    return _highest_equivalent(value)


def cumulative_usec(hist: list[int]) -> list[tuple[int, int]]:
    """LATENCY HISTOGRAM's buckets: (usec, cumulative calls) at 1024 ns, doubling, with empty
    steps left out, as Redis walks hdr_iter_log_init(h, 1024, 2)."""
    hist = _normalised(hist)
    count = sum(hist)
    out: list[tuple[int, int]] = []
    level = 1024
    level_low = _lowest_equivalent(level)
    idx = -1
    value = 0
    cumulative = 0
    previous = 0
    while True:
        # One step of the logarithmic iterator.
        if not (cumulative < count or (idx < COUNTS_LEN and _value_at_index(idx + 1) > level_low)):
            break
        ended = False
        while value < level_low:
            idx += 1
            if idx >= COUNTS_LEN:
                ended = True
                break
            cumulative += hist[idx]
            value = _value_at_index(idx)
        if not ended:
            level *= 2
            level_low = _lowest_equivalent(level)
        usec = _highest_equivalent(value) // 1000
        if cumulative > previous:
            out.append((usec, cumulative))
        previous = cumulative
        if ended:
            break
    return out


def format_percentiles(hist: list[int], percentiles: list[float]) -> str:
    """``p50=1.003,p99=2.007,p99.9=5.023`` as INFO writes latency_percentiles_usec_*."""
    return ",".join(
        f"p{format_percentile_name(p)}={value_at_percentile(hist, p) / 1000.0:.3f}"
        for p in percentiles
    )


def format_percentile_name(p: float) -> str:
    """A percentile as Redis prints it: %f with trailing zeros (and a bare point) trimmed."""
    s = f"{p:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


# --- the latency monitor ------------------------------------------------------------------

HISTORY_LEN = 160


@dataclass(slots=True)
class Series:
    """One event's last samples (oldest first) and its all-time maximum."""

    samples: list[tuple[int, int]] = field(default_factory=list)
    max: int = 0


class LatencyMonitor:
    def __init__(self) -> None:
        self.events: dict[str, Series] = {}

    def add(self, event: str, ms: int) -> None:
        """Record a sample (the caller checked the threshold): one per event per second."""
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = Series()
        now = int(time.time())
        series.max = max(series.max, ms)
        samples = series.samples
        if samples and samples[-1][0] == now:
            if ms > samples[-1][1]:
                samples[-1] = (now, ms)
            return
        samples.append((now, ms))
        if len(samples) > HISTORY_LEN:
            del samples[0]

    def reset(self, names: list[str] | None = None) -> int:
        if names is None:
            n = len(self.events)
            self.events.clear()
            return n
        n = 0
        for name in names:
            for event in [e for e in self.events if e.lower() == name.lower()]:
                del self.events[event]
                n += 1
        return n

    def graph(self, event: str) -> str:
        series = self.events[event]
        now = int(time.time())
        values = [ms for _, ms in series.samples]
        labels = [_ago(now - t) for t, _ in series.samples]
        head = (
            f"{event} - high {max(values)} ms, low {min(values)} ms "
            f"(all time high {series.max} ms)\n" + "-" * 80 + "\n"
        )
        return head + sparkline(values, labels, columns=80, rows=4)

    def doctor(self, threshold: int, slowlog_slower_than: int) -> str:
        """A human report on the events seen (our own wording, in the spirit of Redis's)."""
        if not self.events and threshold == 0:
            return (
                "Latency monitoring is disabled in this minikv instance. Enable it with "
                '"CONFIG SET latency-monitor-threshold <milliseconds>" and ask again once '
                "something was slow.\n"
            )
        if not self.events:
            return (
                "No latency spike above the threshold of "
                f"{threshold} ms was observed since the monitor was enabled or reset.\n"
            )
        now = int(time.time())
        lines = ["Latency spikes were observed in this minikv instance:", ""]
        advice: list[str] = []
        for n, (event, series) in enumerate(self.events.items(), 1):
            values = [ms for _, ms in series.samples]
            avg = sum(values) // len(values)
            mad = sum(abs(avg - v) for v in values) // len(values)
            period = max(now - min(t for t, _ in series.samples), 1)
            lines.append(
                f"{n}. {event}: {len(values)} latency spikes (average {avg}ms, mean deviation "
                f"{mad}ms, period {period / len(values):.2f} sec). Worst all time event "
                f"{series.max}ms."
            )
            if event == "command":
                if slowlog_slower_than < 0:
                    advice.append(
                        "- Slow commands were seen while the slow log is off: "
                        f"'CONFIG SET slowlog-log-slower-than {threshold * 1000}' records them."
                    )
                advice.append(
                    "- SLOWLOG GET shows which commands were slow; commands on large values "
                    "(deleting, sorting or reading big keys) block every client meanwhile."
                )
            elif event == "fast-command":
                advice.append(
                    "- O(1) commands were slow: the process was likely not given the CPU "
                    "(machine load, a noisy neighbour, or a Python garbage collection pass)."
                )
            elif event == "fork":
                advice.append(
                    "- fork() is slow with a large resident set: fewer, smaller snapshots "
                    "(or a machine with faster page-table copies) shorten it."
                )
            elif event == "expire-cycle":
                advice.append(
                    "- Active expiry ran long: many keys expire together, or big values are "
                    "freed when they expire; spread the TTLs."
                )
            elif event.startswith("aof"):
                advice.append(
                    "- Disk writes or fsyncs were slow: a local, fast disk helps, and "
                    "'appendfsync everysec' avoids waiting for each fsync."
                )
        if advice:
            lines += ["", "Some advice:", "", *advice]
        return "\n".join(lines) + "\n"


def _ago(secs: int) -> str:
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m"
    if secs < 86400:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


_CHARS_FILL = "_o#"


def sparkline(values: list[int], labels: list[str], columns: int, rows: int) -> str:
    """LATENCY GRAPH's ASCII rendering: ``rows`` rows of ``_o#|`` (three levels per row),
    then each sample's label written vertically under it, ``columns`` samples per block."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    steps = len(_CHARS_FILL) * rows
    blocks = []
    for start in range(0, len(values), columns):
        part = range(start, min(start + columns, len(values)))
        text = []
        for row in range(rows):
            chars = []
            for j in part:
                step = min(max(int(int((values[j] - lo) * steps) / span), 0), steps - 1)
                ci = step - (rows - row - 1) * len(_CHARS_FILL)
                if 0 <= ci < len(_CHARS_FILL):
                    chars.append(_CHARS_FILL[ci])
                elif ci >= len(_CHARS_FILL):
                    chars.append("|")
                else:
                    chars.append(" ")
            text.append("".join(chars))
        text.append(" " * len(part))  # the margin above the labels
        depth = max((len(labels[j]) for j in part), default=0)
        for k in range(depth):
            text.append("".join(labels[j][k] if k < len(labels[j]) else " " for j in part))
        blocks.append("".join(line + "\n" for line in text))
    return "\n".join(blocks)
