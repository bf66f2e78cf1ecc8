"""MEMORY USAGE: replies and errors as redis-server's, and an estimate that holds up against
tracemalloc's count of what each kind of value really allocated."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Differential
from helpers import ServerProcess

from minikv.memory import key_usage, value_size
from minikv.quicklist import QuickList
from minikv.setvalue import SetValue
from minikv.stream import Stream, make_id
from minikv.zset import ZSet


def test_memory_usage_replies_and_errors(differential: Differential) -> None:
    differential.check(
        ("SET", "k", "v"),
        ("MEMORY", "USAGE", "missing"),
        ("MEMORY", "USAGE", "missing", "SAMPLES", "0"),
        ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
        ("MEMORY", "USAGE", "k", "SAMPLES", "-1"),
        ("MEMORY", "USAGE", "k", "SAMPLES"),
        ("MEMORY", "USAGE", "k", "NOPE"),
        ("MEMORY", "USAGE", "missing", "SAMPLES", "-1"),
        ("MEMORY", "USAGE"),
        ("MEMORY", "NOPE"),
        ("MEMORY",),
    )


def test_memory_usage_grows_with_the_value(server: ServerProcess) -> None:
    r = server.client()
    r.set("small", "v")
    r.set("big", "x" * 100_000)
    small, big = r.memory_usage("small"), r.memory_usage("big")
    assert 0 < small < 200
    assert 100_000 < big < 100_400
    r.rpush("l", *[b"e" * 100] * 5000)
    whole = r.memory_usage("l", samples=0)
    assert 5000 * 100 < whole < 5000 * 200
    sampled = r.memory_usage("l")
    assert abs(sampled - whole) < whole * 0.1
    r.expire("small", 100)
    assert r.memory_usage("small") > small  # the deadline's slot and integer


def _built(make: Callable[[], Any]) -> tuple[Any, int]:
    """A value made by ``make``, with the bytes tracemalloc saw it keep."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        v = make()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return v, after - before


def _stream() -> Stream:
    s = Stream()
    for i in range(3000):
        s.add(make_id(1, i), [b"field", b"value-%d" % i, b"other", b"%d" % (i * 7)])
    return s


def _big_zset() -> ZSet:
    return ZSet.from_scores({b"member:%06d" % i: i * 1.5 for i in range(5000)})


VALUES: dict[str, Callable[[], Any]] = {
    "string": lambda: b"x" * 5000,
    "list": lambda: QuickList(b"element-%d" % i for i in range(5000)),
    "hash": lambda: {b"field:%d" % i: b"value-%d" % i for i in range(5000)},
    "set": lambda: SetValue.fromkeys(b"member-%d" % i for i in range(5000)),
    "small zset": lambda: ZSet.from_scores({b"m%d" % i: i + 0.5 for i in range(100)}),
    "big zset": _big_zset,
    "stream": _stream,
}


@pytest.mark.parametrize("kind", VALUES)
def test_estimate_matches_tracemalloc(kind: str) -> None:
    """Counting everything (SAMPLES 0), the estimate is within 2 % of what the value
    allocated (it was exact when written); sampling 5 elements of uniform data, within 10 %."""
    v, measured = _built(VALUES[kind])
    exact = value_size(v, 0)
    assert abs(exact - measured) <= measured * 0.02, (exact, measured)
    sampled = value_size(v, 5)
    assert abs(sampled - measured) <= measured * 0.1, (sampled, measured)


def test_key_usage_adds_the_key_and_its_slots() -> None:
    v = b"v" * 100
    plain = key_usage(b"key", v, False)
    assert plain > value_size(v) + len(b"key")
    assert key_usage(b"key", v, True) > plain
