"""SORT and SORT_RO against a real redis-server 7.0, byte for byte in RESP2 and RESP3: numeric and
ALPHA sorting of lists, sets and sorted sets, BY (patterns, hash fields, ``nosort``), LIMIT at
and past the edges, GET (``#``, strings, hash fields, missing keys), ASC/DESC, STORE (and the
empty result deleting the destination), errors; and the keys COMMAND GETKEYS finds."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import Differential
from helpers import ServerProcess

_WEIGHTS = [
    ("MSET", "w_a", "3", "w_b", "1", "w_c", "2", "w_d", "10", "w_e", "-1.5"),
    ("HSET", "h_a", "f", "9", "name", "alpha"),
    ("HSET", "h_b", "f", "7", "name", "bravo"),
    ("HSET", "h_c", "f", "8", "name", "charlie"),
    ("MSET", "n_a", "x", "n_b", "y", "n_c", "z"),
]

SORT_CASES = {
    "numeric list": [
        ("RPUSH", "l", "3", "10", "-2", "1.5", "1e3", "0", "-0", "0x10", " 4", "7"),
        ("SORT", "l"),
        ("SORT", "l", "DESC"),
        ("SORT", "l", "LIMIT", "2", "3"),
        ("SORT", "l", "LIMIT", "2", "3", "DESC"),
        ("SORT", "l", "ALPHA"),
        ("SORT", "l", "ALPHA", "DESC", "LIMIT", "0", "4"),
        ("SORT_RO", "l", "DESC"),
    ],
    "limits": [
        ("RPUSH", "l", "5", "4", "3", "2", "1"),
        *[
            ("SORT", "l", "LIMIT", s, n)
            for s, n in [
                ("0", "0"),
                ("0", "-1"),
                ("-3", "2"),
                ("4", "10"),
                ("5", "1"),
                ("100", "1"),
                ("1", "-5"),
                ("-1", "-1"),
                ("3", "9223372036854775807"),
            ]
        ],
        ("SORT", "l", "BY", "nosort", "LIMIT", "1", "2"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "1", "2", "DESC"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "7", "2"),
        ("SORT", "empty", "LIMIT", "0", "1"),
        ("SORT", "empty"),
    ],
    "infinities": [
        ("RPUSH", "l", "1", "inf", "-inf", "", "2", "+inf", "-infinity"),
        ("SORT", "l"),
        ("SORT", "l", "DESC"),
        ("RPUSH", "big", "9007199254740993", "-9007199254740993", "9007199254740992", "-0", "0"),
        ("SORT", "big"),
        ("RPUSH", "huge", "1" + "0" * 400, "2"),
        ("SORT", "huge"),
    ],
    "not numbers": [
        ("RPUSH", "l", "1", "abc", "2"),
        ("SORT", "l"),
        ("SORT", "l", "ALPHA"),
        ("RPUSH", "l2", "1", "nan"),
        ("SORT", "l2"),
        ("RPUSH", "l3", "1", "1e400"),
        ("SORT", "l3"),
        ("RPUSH", "l4", "1", "2 "),
        ("SORT", "l4"),
        ("RPUSH", "l5", "1", "1e-310"),  # glibc: ERANGE
        ("SORT", "l5"),
        ("SORT", "l", "BY", "nosort"),
    ],
    "by patterns": [
        *_WEIGHTS,
        ("RPUSH", "l", "a", "b", "c", "d", "e", "missing"),
        ("SORT", "l", "BY", "w_*"),
        ("SORT", "l", "BY", "w_*", "DESC"),
        ("SORT", "l", "BY", "w_*", "LIMIT", "1", "3"),
        ("SORT", "l", "BY", "h_*->f"),
        ("SORT", "l", "BY", "h_*->name", "ALPHA"),
        ("SORT", "l", "BY", "h_*->name", "ALPHA", "DESC", "LIMIT", "0", "3"),
        ("SORT", "l", "BY", "n_*", "ALPHA", "GET", "#"),
        ("SORT", "l", "BY", "n_*"),
        ("SORT", "l", "BY", "nosort"),
        ("SORT", "l", "BY", "nosort", "DESC"),
        ("SORT", "l", "BY", "w_*->"),
        ("SORT", "l", "BY", "h_*->f", "BY", "w_*"),
    ],
    "get": [
        *_WEIGHTS,
        ("RPUSH", "l", "b", "a", "c", "zz"),
        ("SORT", "l", "ALPHA", "GET", "w_*"),
        ("SORT", "l", "ALPHA", "GET", "#", "GET", "w_*", "GET", "h_*->name", "GET", "nostar"),
        ("SORT", "l", "BY", "w_*", "GET", "h_*->f", "GET", "h_*->nofield", "GET", "n_*->f"),
        ("SORT", "l", "BY", "nosort", "GET", "#", "LIMIT", "1", "2"),
        ("SORT", "l", "ALPHA", "GET", "h_*->", "GET", "*"),
        ("SET", "a", "the element itself as a key"),
        ("SORT", "l", "ALPHA", "GET", "*"),
        ("SORT_RO", "l", "ALPHA", "GET", "#", "GET", "w_*"),
    ],
    "sets and sorted sets": [
        *_WEIGHTS,
        ("SADD", "ints", "5", "-3", "100", "7", "0"),
        ("SORT", "ints"),
        ("SORT", "ints", "DESC", "LIMIT", "1", "2"),
        ("SORT", "ints", "BY", "nosort"),
        ("SORT", "ints", "BY", "nosort", "DESC", "LIMIT", "1", "3"),
        ("SADD", "s", "a", "b", "c", "d"),
        ("SORT", "s", "ALPHA"),
        ("SORT", "s", "BY", "w_*"),
        ("SORT", "s", "BY", "nosort", "STORE", "dst"),
        ("LRANGE", "dst", "0", "-1"),
        ("ZADD", "z", "3", "a", "1", "b", "2", "c", "2", "e"),
        ("SORT", "z", "ALPHA"),
        ("SORT", "z", "BY", "w_*"),
        ("SORT", "z", "BY", "nosort"),
        ("SORT", "z", "BY", "nosort", "DESC"),
        ("SORT", "z", "BY", "nosort", "LIMIT", "1", "2"),
        ("SORT", "z", "BY", "nosort", "LIMIT", "1", "2", "DESC"),
        ("SORT", "z", "BY", "nosort", "GET", "w_*", "DESC"),
    ],
    "store": [
        *_WEIGHTS,
        ("RPUSH", "l", "b", "a", "c"),
        ("SET", "dst", "old"),
        ("EXPIRE", "dst", "100"),
        ("SORT", "l", "ALPHA", "STORE", "dst"),
        ("TYPE", "dst"),
        ("TTL", "dst"),
        ("LRANGE", "dst", "0", "-1"),
        ("SORT", "l", "ALPHA", "GET", "#", "GET", "nope_*", "STORE", "dst"),
        ("LRANGE", "dst", "0", "-1"),
        ("SORT", "l", "LIMIT", "5", "5", "ALPHA", "STORE", "dst"),
        ("EXISTS", "dst"),
        ("SORT", "missing", "STORE", "dst"),
        ("SORT", "l", "ALPHA", "STORE", "a", "STORE", "dst"),
        ("LRANGE", "dst", "0", "-1"),
        ("EXISTS", "a"),
        ("SORT", "l", "ALPHA", "STORE", "l"),
        ("LRANGE", "l", "0", "-1"),
        ("SORT", "l", "STORE", "x"),
        ("EXISTS", "x"),
    ],
    "binary and nul": [
        ("RPUSH", "l", "b\x00z", "b\x00a", "a", "", "\xff", "B"),
        ("SORT", "l", "ALPHA", "STORE", "dst"),
        ("LRANGE", "dst", "0", "-1"),
        ("RPUSH", "n", "5\x00junk", "3", ""),
        ("SORT", "n"),
    ],
    "errors": [
        ("SET", "str", "v"),
        ("RPUSH", "l", "1"),
        ("SORT", "str"),
        ("SORT", "str", "BY", "nosort"),
        ("SORT", "l", "LIMIT", "1"),
        ("SORT", "l", "LIMIT", "x", "1"),
        ("SORT", "l", "LIMIT", "1", "x"),
        ("SORT", "l", "BY"),
        ("SORT", "l", "GET"),
        ("SORT", "l", "STORE"),
        ("SORT", "l", "NOPE"),
        ("SORT", "str", "NOPE"),
        ("SORT_RO", "l", "STORE", "dst"),
        ("SORT_RO", "str"),
        ("HSET", "h", "f", "v"),
        ("SORT", "h"),
        ("XADD", "x", "1-1", "f", "v"),
        ("SORT", "x"),
        ("EXISTS", "dst"),
    ],
    "getkeys": [
        ("COMMAND", "GETKEYS", "SORT", "k"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE", "d"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE", "d", "STORE", "e", "ALPHA"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "GET", "store", "LIMIT", "store", "1"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "BY", "x", "STORE"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "k", "STORE", "d"),
    ],
}


@pytest.mark.parametrize("case", SORT_CASES)
def test_sort_differential(differential: Differential, case: str) -> None:
    differential.check(*SORT_CASES[case])


def test_sort_random_lists_match_redis(differential: Differential) -> None:
    rng = random.Random(5)
    values = [str(rng.choice((rng.randint(-50, 50), rng.random() * 100))) for _ in range(60)]
    weights = [f"{rng.randint(0, 20)}" for _ in values]
    cmds: list[tuple] = [
        ("RPUSH", "l", *[f"e{i}" for i in range(len(values))]),
        ("RPUSH", "v", *values),
        *[("SET", f"w{i}", w) for i, w in enumerate(weights)],
    ]
    for _ in range(40):
        s, n = rng.randint(-5, 70), rng.randint(-3, 70)
        order = rng.choice(("ASC", "DESC"))
        cmds.append(("SORT", "v", order, "LIMIT", s, n))
        # Weights tie: numeric ties fall back to comparing the elements, so this is defined.
        cmds.append(("SORT", "l", "BY", "w*", order, "LIMIT", s, n, "GET", "#", "GET", "w*"))
    differential.check(*cmds, resp=(2,))


def test_sort_inside_a_script_sorts_an_unsorted_set(
    differential: Differential, server: ServerProcess
) -> None:
    differential.check(
        ("SADD", "s", "c", "a", "b", "10"),
        ("EVAL", "return redis.call('SORT', KEYS[1], 'BY', 'nosort')", "1", "s"),
    )


def test_sort_store_is_logged_and_replayed(tmp_path: Any) -> None:
    """SORT .. STORE through the append-only file: the stored list survives a reload."""
    with ServerProcess("--appendonly", "yes", dir=str(tmp_path)) as s:
        r = s.client()
        r.rpush("src", "3", "1", "2")
        assert r.sort("src", store="dst") == 3
        assert r.sort("src", desc=True) == [b"3", b"2", b"1"]
        r.execute_command("DEBUG", "LOADAOF")
        assert r.lrange("dst", 0, -1) == [b"1", b"2", b"3"]
