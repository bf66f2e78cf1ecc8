"""List commands: replies, options and error texts checked against redis-server (differential,
RESP2 and RESP3), plus redis-py checks of the same behaviour on both protocols, WATCH seeing
in-place changes, and bigger lists through LRANGE/LTRIM from both ends. Big lists (thousands of
elements, many quicklist nodes) are checked at the node boundaries, for several
list-max-listpack-size values."""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import run_raw

from minikv import limits
from minikv.quicklist import QuickList

BIG = "9223372036854775807"
SMALL = "-9223372036854775808"
TOO_BIG = "9223372036854775808"


def test_push_pop_differential(differential: Differential) -> None:
    differential.check(
        ("LPUSH", "l", "a", "b", "c"),
        ("RPUSH", "l", "x", "y"),
        ("LRANGE", "l", "0", "-1"),
        ("LLEN", "l"),
        ("LLEN", "nosuch"),
        ("LPUSHX", "nosuch", "a"),
        ("RPUSHX", "nosuch", "a", "b"),
        ("EXISTS", "nosuch"),
        ("LPUSHX", "l", "p1", "p2"),
        ("RPUSHX", "l", "r1"),
        ("LRANGE", "l", "0", "-1"),
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPOP", "l", "2"),
        ("RPOP", "l", "2"),
        ("LPOP", "l", "0"),
        ("RPOP", "l", "0"),
        ("LRANGE", "l", "0", "-1"),
        ("LPOP", "l", "100"),
        ("EXISTS", "l"),  # emptied: deleted
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPOP", "l", "1"),  # missing key with a count: null array
        ("RPOP", "l", "0"),
        ("RPUSH", "l", "1", "2", "3"),
        ("RPOP", "l", "3"),
        ("EXISTS", "l"),
        ("RPUSH", "e", ""),
        ("LPOP", "e"),
        ("LPUSH", "t", "1"),
        ("EXPIRE", "t", "100"),
        ("LPUSH", "t", "2"),  # in place: the deadline stays
        ("TTL", "t"),
        ("TYPE", "t"),
        ("OBJECT", "ENCODING", "t"),
    )


def test_pop_errors_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "l", "a", "b"),
        ("LPOP", "l", "-1"),
        ("LPOP", "l", "abc"),
        ("RPOP", "l", TOO_BIG),
        ("LPOP", "nosuch", "-1"),  # the count is checked before the key
        ("LPOP", "l", "1", "2"),
        ("RPOP", "l", "1", "2"),
        ("LPOP",),
        ("LPUSH", "l"),
        ("RPUSHX", "l"),
        ("LRANGE", "l", "0", "-1"),
    )


def test_wrongtype_differential(differential: Differential) -> None:
    differential.check(
        ("SET", "s", "v"),
        ("LPUSH", "s", "a"),
        ("RPUSH", "s", "a"),
        ("LPUSHX", "s", "a"),
        ("RPUSHX", "s", "a"),
        ("LPOP", "s"),
        ("RPOP", "s", "2"),
        ("LLEN", "s"),
        ("LRANGE", "s", "0", "-1"),
        ("LRANGE", "s", "x", "-1"),  # the indexes are parsed first
        ("LINDEX", "s", "0"),
        ("LINDEX", "s", "x"),
        ("LSET", "s", "0", "v"),
        ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LINSERT", "s", "NEAR", "a", "b"),
        ("LREM", "s", "0", "a"),
        ("LTRIM", "s", "0", "1"),
        ("LPOS", "s", "a"),
        ("LMOVE", "s", "d", "LEFT", "RIGHT"),
        ("RPUSH", "l", "a"),
        ("LMOVE", "l", "s", "LEFT", "RIGHT"),  # wrong destination: nothing moves
        ("RPOPLPUSH", "l", "s"),
        ("LRANGE", "l", "0", "-1"),
        ("BLPOP", "s", "0"),
        ("BLPOP", "nosuch", "s", "0"),
        ("BRPOP", "s", "1"),
        ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "l", "s", "0"),
        ("GET", "s"),
    )


def test_lrange_lindex_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "l", "0", "1", "2", "3", "4", "5", "6"),
        ("LRANGE", "l", "0", "0"),
        ("LRANGE", "l", "2", "4"),
        ("LRANGE", "l", "-3", "-1"),
        ("LRANGE", "l", "-100", "2"),
        ("LRANGE", "l", "5", "100"),
        ("LRANGE", "l", "4", "2"),
        ("LRANGE", "l", "7", "10"),
        ("LRANGE", "l", "-1", "-2"),
        ("LRANGE", "l", SMALL, BIG),
        ("LRANGE", "l", "1", TOO_BIG),
        ("LRANGE", "l", "1.5", "2"),
        ("LRANGE", "nosuch", "0", "-1"),
        ("LRANGE", "nosuch", "a", "-1"),
        ("LINDEX", "l", "0"),
        ("LINDEX", "l", "6"),
        ("LINDEX", "l", "7"),
        ("LINDEX", "l", "-1"),
        ("LINDEX", "l", "-7"),
        ("LINDEX", "l", "-8"),
        ("LINDEX", "l", BIG),
        ("LINDEX", "l", "x"),
        ("LINDEX", "nosuch", "x"),  # missing key: looked up before the index is parsed
        ("LINDEX", "nosuch", "0"),
    )


def test_lset_linsert_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "l", "a", "b", "c", "b"),
        ("LSET", "l", "0", "A"),
        ("LSET", "l", "-1", "Z"),
        ("LSET", "l", "4", "x"),
        ("LSET", "l", "-5", "x"),
        ("LSET", "l", "x", "x"),
        ("LSET", "nosuch", "0", "x"),
        ("LSET", "nosuch", "x", "x"),
        ("LRANGE", "l", "0", "-1"),
        ("LINSERT", "l", "BEFORE", "b", "1"),  # the first match from the head is the pivot
        ("LINSERT", "l", "after", "b", "2"),
        ("LINSERT", "l", "AFTER", "Z", "end"),
        ("LINSERT", "l", "before", "A", "start"),
        ("LINSERT", "l", "BEFORE", "nope", "x"),
        ("LINSERT", "l", "MIDDLE", "b", "x"),
        ("LINSERT", "nosuch", "BEFORE", "b", "x"),
        ("LINSERT", "nosuch", "MIDDLE", "b", "x"),
        ("EXISTS", "nosuch"),
        ("LRANGE", "l", "0", "-1"),
    )


def test_lrem_differential(differential: Differential) -> None:
    base = ("RPUSH", "l", "x", "a", "x", "b", "x", "c", "x")
    differential.check(
        base,
        ("LREM", "l", "2", "x"),
        ("LRANGE", "l", "0", "-1"),
        ("DEL", "l"),
        base,
        ("LREM", "l", "-2", "x"),
        ("LRANGE", "l", "0", "-1"),
        ("DEL", "l"),
        base,
        ("LREM", "l", "0", "x"),
        ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "0", "nope"),
        ("LREM", "l", "1", "a"),
        ("LREM", "l", "-100", "b"),
        ("LREM", "l", "5", "c"),
        ("EXISTS", "l"),
        ("LREM", "nosuch", "0", "x"),
        ("LREM", "nosuch", "x", "x"),
        ("LREM", "l", "1.0", "x"),
    )


def test_ltrim_differential(differential: Differential) -> None:
    fill = ("RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7")
    cases = [("1", "-2"), ("0", "0"), ("-3", "-1"), ("-100", "2"), ("5", "100"), ("2", "4")]
    cmds: list[tuple[str, ...]] = []
    for start, stop in cases:
        cmds += [fill, ("LTRIM", "l", start, stop), ("LRANGE", "l", "0", "-1"), ("DEL", "l")]
    differential.check(
        *cmds,
        fill,
        ("LTRIM", "l", "5", "2"),  # empty range: the key goes
        ("EXISTS", "l"),
        fill,
        ("LTRIM", "l", "8", "10"),
        ("EXISTS", "l"),
        fill,
        ("LTRIM", "l", "-1", "-2"),
        ("EXISTS", "l"),
        ("LTRIM", "nosuch", "0", "1"),
        ("LTRIM", "nosuch", "x", "1"),
        ("LTRIM", "l", "0", TOO_BIG),
    )


def test_lpos_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"),
        ("LPOS", "l", "c"),
        ("LPOS", "l", "c", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "3"),
        ("LPOS", "l", "c", "RANK", "4"),
        ("LPOS", "l", "c", "RANK", "-1"),
        ("LPOS", "l", "c", "RANK", "-3"),
        ("LPOS", "l", "c", "COUNT", "0"),
        ("LPOS", "l", "c", "COUNT", "2"),
        ("LPOS", "l", "c", "COUNT", "2", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "-1", "COUNT", "2"),
        ("LPOS", "l", "c", "RANK", "-2", "COUNT", "0"),
        ("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"),
        ("LPOS", "l", "c", "MAXLEN", "2"),
        ("LPOS", "l", "c", "MAXLEN", "3"),
        ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"),
        ("LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"),
        ("LPOS", "l", "x"),
        ("LPOS", "l", "x", "COUNT", "5"),
        ("LPOS", "l", "c", "rank", "1", "count", "1", "maxlen", "0"),
        ("LPOS", "l", "c", "RANK", "0"),
        ("LPOS", "l", "c", "RANK", "x"),
        ("LPOS", "l", "c", "COUNT", "-1"),
        ("LPOS", "l", "c", "COUNT", "x"),
        ("LPOS", "l", "c", "MAXLEN", "-1"),
        ("LPOS", "l", "c", "MAXLEN", "x"),
        ("LPOS", "l", "c", "RANK"),
        ("LPOS", "l", "c", "FOO", "1"),
        ("LPOS", "l", "c", "RANK", SMALL),
        ("LPOS", "l", "c", "RANK", SMALL, "COUNT", "1"),
        ("LPOS", "l", "c", "RANK", BIG),
        ("LPOS", "nosuch", "c"),
        ("LPOS", "nosuch", "c", "COUNT", "1"),
        ("LPOS", "nosuch", "c", "RANK", "0"),  # options are parsed before the key
    )


def test_lmove_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "src", "1", "2", "3"),
        ("LMOVE", "src", "dst", "LEFT", "RIGHT"),
        ("LMOVE", "src", "dst", "right", "left"),
        ("LMOVE", "src", "dst", "LEFT", "LEFT"),
        ("LRANGE", "dst", "0", "-1"),
        ("EXISTS", "src"),
        ("LMOVE", "src", "dst", "LEFT", "LEFT"),
        ("LMOVE", "dst", "dst", "LEFT", "RIGHT"),  # rotation
        ("LRANGE", "dst", "0", "-1"),
        ("LMOVE", "dst", "dst", "RIGHT", "RIGHT"),
        ("LRANGE", "dst", "0", "-1"),
        ("LMOVE", "dst", "src", "UP", "LEFT"),
        ("LMOVE", "dst", "src", "LEFT", "DOWN"),
        ("LMOVE", "nosuch", "src", "UP", "LEFT"),
        ("RPOPLPUSH", "dst", "src"),
        ("RPOPLPUSH", "nosuch", "src"),
        ("RPUSH", "one", "x"),
        ("RPOPLPUSH", "one", "one"),
        ("LRANGE", "one", "0", "-1"),
        ("LRANGE", "src", "0", "-1"),
        ("LRANGE", "dst", "0", "-1"),
    )


def test_blocking_commands_immediate_differential(differential: Differential) -> None:
    """Blocking commands that find data, and argument errors (nothing blocks here)."""
    differential.check(
        ("RPUSH", "a", "1", "2"),
        ("RPUSH", "b", "3"),
        ("BLPOP", "nosuch", "a", "b", "0"),
        ("BRPOP", "nosuch", "b", "a", "0"),
        ("BRPOP", "b", "0.5"),
        ("BLPOP", "a", "a", "1"),
        ("EXISTS", "a", "b"),
        ("RPUSH", "a", "1", "2", "3"),
        ("BLMOVE", "a", "b", "RIGHT", "LEFT", "0"),
        ("BRPOPLPUSH", "a", "b", "0"),
        ("LRANGE", "b", "0", "-1"),
        ("BLMOVE", "a", "b", "UP", "LEFT", "0"),
        ("BLMOVE", "a", "b", "LEFT", "LEFT", "x"),
        ("BLMOVE", "nosuch", "b", "LEFT", "LEFT", "-1"),
        ("RPUSH", "full", *"abcdefghij"),
        ("BLPOP", "full", "x"),
        ("BLPOP", "full", "-1"),
        ("BLPOP", "nosuch", "-1"),
        ("BLPOP", "full", "nan"),
        ("BLPOP", "full", "inf"),
        ("BLPOP", "full", "-inf"),
        ("BLPOP", "full", "1e30"),
        ("BLPOP", "full", "9.3e15"),
        ("BLPOP", "full", "9.2e15"),
        ("BLPOP", "full", " 1"),
        ("BLPOP", "full", "1 "),
        ("BLPOP", "full", "1e400"),
        ("BLPOP", "full", "1e5000"),
        ("BLPOP", "full", "-0.001"),
        ("BLPOP", "full", "-0.0001"),
        ("BLPOP", "full", "0x10"),
        ("BLPOP", "full", "1e15"),
        ("BRPOPLPUSH", "full", "b", ""),
        ("LRANGE", "full", "0", "-1"),
        # Tiny timeouts that pass: rounded up to 1 ms, then null.
        ("BLPOP", "nosuch", "1e-10"),
        ("BRPOP", "nosuch", "0x0.1p-3"),
        ("BLMOVE", "nosuch", "b", "LEFT", "LEFT", "0.001"),
        ("BRPOPLPUSH", "nosuch", "b", "0.0001"),
        ("BLPOP", "a"),
        ("BLMOVE", "a", "b", "LEFT", "LEFT"),
    )


def test_blocking_in_multi_differential(differential: Differential) -> None:
    """Inside MULTI a blocking command never blocks: it replies as on a timeout."""
    differential.check(
        ("MULTI",),
        ("BLPOP", "nosuch", "0"),
        ("BRPOP", "nosuch", "other", "0"),
        ("BLMOVE", "nosuch", "d", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "nosuch", "d", "0"),
        ("RPUSH", "l", "x"),
        ("BLPOP", "l", "0"),
        ("EXEC",),
    )


def test_command_info_differential(differential: Differential) -> None:
    differential.check(
        ("COMMAND", "INFO", "lpush", "lpop", "llen", "lrange", "lindex", "lset", "lrem"),
        ("COMMAND", "INFO", "ltrim", "lpos", "linsert", "blpop", "brpop"),
        resp=(2,),
    )


# --- through redis-py, both protocols -----------------------------------------------------------


def test_redis_py_roundtrip(r: redis.Redis) -> None:
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.lpop("l", 2) == [b"z", b"a"]
    assert r.rpop("l") == b"c"
    assert r.lpop("nosuch", 2) is None
    assert r.lpos("l", "b") == 0
    assert r.lpos("l", "nope") is None
    assert r.lmove("l", "m", "LEFT", "RIGHT") == b"b"
    assert not r.exists("l")
    assert list(r.blpop(["l", "m"], timeout=1)) == [b"m", b"b"]
    assert r.blpop(["l", "m"], timeout=0.01) is None  # times out: null


def test_big_list_ranges(r: redis.Redis) -> None:
    """Ranges near either end of a longer list (the walk starts at the nearer end)."""
    n = 2000
    r.rpush("l", *range(n))
    expect = [str(i).encode() for i in range(n)]
    for start, stop in [(0, 9), (1990, 1999), (-10, -1), (995, 1005), (1500, -400), (0, -1)]:
        assert r.lrange("l", start, stop) == expect[start : (stop + 1) or None], (start, stop)
    assert r.lindex("l", 1500) == b"1500"
    assert r.lindex("l", -1500) == b"500"
    assert r.ltrim("l", 100, -101)
    assert r.llen("l") == n - 200
    assert r.lrange("l", 0, 0) == [b"100"]
    assert r.ltrim("l", 1, 2)
    assert r.lrange("l", 0, -1) == [b"101", b"102"]


def test_watch_sees_in_place_changes(r: redis.Redis) -> None:
    r.rpush("l", "a", "b")
    for change in (
        lambda o: o.rpush("l", "c"),
        lambda o: o.lset("l", 0, "x"),
        lambda o: o.linsert("l", "BEFORE", "b", "y"),
        lambda o: o.lrem("l", 1, "b"),
        lambda o: o.ltrim("l", 0, 0),
        lambda o: o.lpop("l"),
        lambda o: o.lmove("src", "l", "LEFT", "LEFT"),
    ):
        r.rpush("l", "a", "b")
        r.rpush("src", "s")
        with r.pipeline() as p:
            p.watch("l")
            change(r)
            p.multi()
            p.get("other")
            try:
                p.execute()
                raise AssertionError("EXEC should have failed")
            except redis.WatchError:
                pass


def test_failed_changes_do_not_touch(r: redis.Redis) -> None:
    """Commands that change nothing do not fail a WATCHing transaction."""
    r.rpush("l", "a", "b")
    with r.pipeline() as p:
        p.watch("l")
        r.linsert("l", "BEFORE", "nope", "x")
        r.lrem("l", 0, "nope")
        r.lpushx("other", "x")
        p.multi()
        p.llen("l")
        assert p.execute() == [2]


def test_dirty_counts(r: redis.Redis) -> None:
    before = r.info("persistence")["rdb_changes_since_last_save"]
    r.rpush("l", "a", "b", "c")
    r.lpop("l", 2)
    r.lset("l", 0, "z")
    after = r.info("persistence")["rdb_changes_since_last_save"]
    assert after - before == 6


def test_lmpop_blmpop_differential(differential: Differential) -> None:
    differential.check(
        ("RPUSH", "b", "1", "2", "3", "4"),
        ("LMPOP", "2", "a", "b", "LEFT"),
        ("LMPOP", "2", "a", "b", "right", "COUNT", "2"),
        ("LMPOP", "1", "b", "LEFT", "count", "10"),
        ("EXISTS", "b"),
        ("LMPOP", "2", "a", "b", "LEFT"),
        ("LMPOP", "0", "a", "LEFT"),
        ("LMPOP", "x", "a", "LEFT"),
        ("LMPOP", "3", "a", "b", "LEFT"),
        ("LMPOP", "1", "a", "UP"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "0"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "-1"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"),
        ("LMPOP", "1", "a", "LEFT", "COUNT"),
        ("LMPOP", "1", "a", "LEFT", "EXTRA"),
        ("SET", "s", "x"),
        ("LMPOP", "2", "a", "s", "LEFT"),
        ("RPUSH", "c", "x", "y", "z"),
        ("BLMPOP", "0", "2", "a", "c", "RIGHT", "COUNT", "2"),
        ("BLMPOP", "0.01", "1", "a", "LEFT"),
        ("BLMPOP", "x", "1", "c", "LEFT"),
        ("BLMPOP", "-1", "1", "c", "LEFT"),
        ("BLMPOP", "x", "0", "c", "LEFT"),  # numkeys is checked before the timeout
        ("BLMPOP", "0", "1", "s", "LEFT"),
        ("MULTI",),
        ("BLMPOP", "0", "1", "a", "LEFT"),
        ("BLMPOP", "0", "1", "c", "LEFT"),
        ("EXEC",),
        ("BLMPOP", "0", "1"),
    )


# --- big lists: many quicklist nodes --------------------------------------------------------


def _big_list_commands(n: int, fill: int) -> list[tuple[Any, ...]]:
    """Build a list of ``n`` elements and poke it around the boundaries of its nodes (where
    minikv's QuickList starts a new block for ``fill``): LINDEX, LRANGE, LSET, LINSERT, LPOS,
    LREM, LTRIM, each from both ends."""
    items: list[bytes] = []
    for i in range(n):
        if i % 97 == 0:
            items.append(b"%d" % (i * 1000))  # stored as an integer by listpack
        elif i % 331 == 0:
            items.append(b"s%d-" % i + b"x" * 300)
        else:
            items.append(b"e%d" % i)
    saved = limits.current.list_max_listpack_size
    limits.current.list_max_listpack_size = fill
    try:
        starts = list(accumulate(len(b) for b in QuickList(items).blocks()))[:-1]
    finally:
        limits.current.list_max_listpack_size = saved
    assert len(starts) >= 3, "the list should cross several nodes"
    step = max(1, len(starts) // 40)  # small nodes: a sample of the boundaries is enough
    starts = starts[::step]
    cmds: list[tuple[Any, ...]] = [("CONFIG", "SET", "list-max-listpack-size", fill)]
    for i in range(0, n, 1000):
        cmds.append(("RPUSH", "l", *items[i : i + 1000]))
    cmds.append(("LLEN", "l"))
    for b in starts:
        for i in (b - 1, b, b + 1):
            cmds += [("LINDEX", "l", i), ("LINDEX", "l", i - n)]
        cmds += [("LRANGE", "l", b - 3, b + 3), ("LRANGE", "l", b - n - 2, b - n + 2)]
        cmds += [("LPOS", "l", items[b]), ("LPOS", "l", items[b - 1], "RANK", -1)]
    # Duplicates at the boundaries, then searches and removals of them.
    for b in starts:
        cmds += [("LSET", "l", b, "dup"), ("LSET", "l", b - 1 - n, "dup")]
    cmds += [
        ("LPOS", "l", "dup", "COUNT", 0),
        ("LPOS", "l", "dup", "RANK", 2, "COUNT", 3),
        ("LPOS", "l", "dup", "RANK", -2, "COUNT", 0),
        ("LPOS", "l", "dup", "RANK", -1, "MAXLEN", starts[0] + 5),
        ("LPOS", "l", "dup", "COUNT", 0, "MAXLEN", starts[1] + 1),
        ("LREM", "l", 2, "dup"),
        ("LREM", "l", -2, "dup"),
        ("LPOS", "l", "dup", "COUNT", 0),
    ]
    # Inserts next to pivots at the boundaries (the pivots are unique), longer values too.
    for k, b in enumerate(starts):
        pivot = items[b + 2] if items[b + 2] != b"dup" else items[b + 3]
        cmds += [
            ("LINSERT", "l", "BEFORE", pivot, f"before{k}"),
            ("LINSERT", "l", "AFTER", pivot, b"after" + b"y" * 200),
            ("LSET", "l", b + 1, b"z" * 500),
            ("LINDEX", "l", b + 1),
            ("LRANGE", "l", b - 2, b + 6),
        ]
    cmds += [
        ("LREM", "l", 0, "dup"),
        ("LLEN", "l"),
        ("LRANGE", "l", 0, -1),
        ("LTRIM", "l", starts[0] - 1, -(n - starts[-1]) - 1),
        ("LRANGE", "l", 0, -1),
        ("LTRIM", "l", 1, -2),
        ("LPOP", "l", starts[0] + 1),
        ("RPOP", "l", 3),
        ("LRANGE", "l", 0, -1),
        ("CONFIG", "SET", "list-max-listpack-size", -2),
    ]
    return cmds


@pytest.mark.parametrize("fill", [-2, -1, 4, 100])
def test_big_list_node_boundaries_differential(differential: Differential, fill: int) -> None:
    try:
        differential.check(*_big_list_commands(5000, fill), resp=(2,))
    finally:
        for srv in (differential.mk, differential.rd):
            run_raw(srv.port, [("CONFIG", "SET", "list-max-listpack-size", -2)])


def test_big_push_pop_differential(differential: Differential) -> None:
    """Pushes of many elements at once and pops of many, across nodes, at both ends."""
    left = [b"L%d" % i for i in range(7000)]
    right = [b"%d" % i for i in range(7000)]
    differential.check(
        ("LPUSH", "l", *left),
        ("RPUSH", "l", *right),
        ("LPUSH", "l", *left[:3000]),
        ("LLEN", "l"),
        ("LRANGE", "l", 2990, 3010),
        ("LRANGE", "l", -7010, -6990),
        ("LINDEX", "l", 10_000),
        ("LPOP", "l", 4000),
        ("RPOP", "l", 5000),
        ("LMPOP", "1", "l", "LEFT", "COUNT", 1500),
        ("LMOVE", "l", "m", "LEFT", "RIGHT"),
        ("LRANGE", "l", 0, -1),
        ("RPOP", "l", 100_000),
        ("EXISTS", "l"),
        resp=(2,),
    )


def _ql_fields(port: int, commands: list[tuple[Any, ...]]) -> list[str]:
    replies = run_raw(port, [("FLUSHALL",), *commands, ("DEBUG", "OBJECT", "l")])
    assert replies[-1].startswith(b"+Value at:"), replies[-1]
    return [f for f in replies[-1].decode().split() if f.startswith("ql_")]


@pytest.mark.parametrize("fill", [-2, -1, 3, 64])
def test_debug_object_quicklist_fields(differential: Differential, fill: int) -> None:
    """DEBUG OBJECT's ql_nodes/ql_avg_node/ql_listpack_max/ql_uncompressed_size match Redis
    after pushes, pops, inserts (node splits and merges), LSET, LREM and LTRIM."""
    values = [b"v%d" % i for i in range(3000)] + [b"%d" % (i * 7919) for i in range(2000)]
    commands: list[tuple[Any, ...]] = [
        ("CONFIG", "SET", "list-max-listpack-size", fill),
        ("RPUSH", "l", *values[:2500]),
        ("LPUSH", "l", *values[2500:]),
        ("LPUSH", "l", b"x" * 5000, b"y" * 70, b"z" * 200),
    ]
    for i in range(0, 5000, 97):
        commands += [
            ("LINSERT", "l", "AFTER", values[i], b"after%d" % i),
            ("LINSERT", "l", "BEFORE", values[i], b"w" * (i % 150)),
        ]
    commands += [
        ("LSET", "l", 1234, b"q" * 3000),
        ("LREM", "l", 0, b"v1"),
        ("LREM", "l", -5, b"w" * 96),
        ("LPOP", "l", 777),
        ("RPOP", "l", 333),
        ("LTRIM", "l", 111, -222),
        ("CONFIG", "SET", "list-max-listpack-size", -2),
    ]
    try:
        mine = _ql_fields(differential.mk.port, commands)
        theirs = _ql_fields(differential.rd.port, commands)
    finally:
        for srv in (differential.mk, differential.rd):
            run_raw(srv.port, [("CONFIG", "SET", "list-max-listpack-size", -2)])
    assert mine == theirs
    assert len(mine) == 5 and mine[2] == f"ql_listpack_max:{fill}"
