"""Bitmap commands against a real redis-server 7.0: BITPOS (BYTE and BIT ranges), BITOP, BITFIELD
and BITFIELD_RO (every type width, offsets with ``#``, each OVERFLOW mode at its limits), byte
for byte in RESP2 and RESP3, and redis-py's bitfield helper through the real server."""

from __future__ import annotations

import random

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess

BITPOS_CASES = {
    "basics": [
        ("SET", "k", b"\xff\xf0\x00"),
        ("BITPOS", "k", "0"),
        ("BITPOS", "k", "1"),
        ("BITPOS", "k", "0", "1"),
        ("BITPOS", "k", "0", "2"),
        ("BITPOS", "k", "1", "2"),
        ("BITPOS", "k", "0", "0", "0"),
        ("BITPOS", "k", "0", "0", "-1"),
        ("BITPOS", "k", "1", "-1", "-3"),
        ("BITPOS", "k", "1", "-5", "-9"),
        ("BITPOS", "k", "0", "-100"),
        ("BITPOS", "k", "1", "5", "3"),
        ("BITPOS", "missing", "0"),
        ("BITPOS", "missing", "1"),
        ("BITPOS", "missing", "1", "5", "8", "BIT"),
    ],
    "all ones": [
        ("SET", "k", b"\xff\xff"),
        ("BITPOS", "k", "0"),
        ("BITPOS", "k", "0", "0"),
        ("BITPOS", "k", "0", "0", "1"),
        ("BITPOS", "k", "0", "0", "-1", "BIT"),
        ("BITPOS", "k", "0", "3", "BYTE"),
        ("SET", "e", ""),
        ("BITPOS", "e", "0"),
        ("BITPOS", "e", "1"),
        ("BITPOS", "e", "0", "0", "-1", "BIT"),
    ],
    "bit ranges": [
        ("SET", "k", b"\x00\x81\x00\x01"),
        *[
            ("BITPOS", "k", b, s, e, "BIT")
            for b in "01"
            for s, e in [
                ("0", "7"),
                ("8", "8"),
                ("9", "14"),
                ("9", "15"),
                ("3", "30"),
                ("-1", "-1"),
                ("-8", "-1"),
                ("-32", "-25"),
                ("24", "100"),
                ("5", "2"),
                ("15", "16"),
                ("-3", "-5"),
            ]
        ],
        ("BITPOS", "k", "1", "0", "-1", "byte"),
        ("BITPOS", "k", "1", "1", "1", "bit"),
    ],
    "errors": [
        ("SET", "k", "abc"),
        ("BITPOS", "k", "2"),
        ("BITPOS", "k", "x"),
        ("BITPOS", "k", "-1"),
        ("BITPOS", "k", "1", "x"),
        ("BITPOS", "k", "1", "0", "x"),
        ("BITPOS", "k", "1", "0", "1", "WORD"),
        ("BITPOS", "k", "1", "x", "1", "WORD"),
        ("BITPOS", "k", "1", "0", "x", "WORD"),
        ("BITPOS", "k", "1", "0", "1", "BIT", "extra"),
        ("BITPOS", "missing", "1", "0", "1", "BIT", "extra"),
        ("BITPOS", "k"),
        ("LPUSH", "l", "a"),
        ("BITPOS", "l", "1"),
        ("BITPOS", "l", "3"),
    ],
}


@pytest.mark.parametrize("case", BITPOS_CASES)
def test_bitpos_differential(differential: Differential, case: str) -> None:
    differential.check(*BITPOS_CASES[case])


def test_bitpos_random_ranges_match_redis(differential: Differential) -> None:
    rng = random.Random(7)
    cmds: list[tuple] = [
        ("SET", "k", bytes(rng.choice((0, 255, rng.randrange(256))) for _ in range(9)))
    ]
    for _ in range(120):
        s, e = rng.randint(-80, 80), rng.randint(-80, 80)
        unit = rng.choice(("BIT", "BYTE"))
        cmds.append(("BITPOS", "k", rng.choice("01"), s, e, unit))
        cmds.append(("BITCOUNT", "k", s, e, unit))
    differential.check(*cmds, resp=(2,))


BITOP_CASES = {
    "operations": [
        ("SET", "a", b"\x0f\xf0\xaa"),
        ("SET", "b", b"\xff"),
        ("SET", "c", b"\x01\x02\x03\x04\x05"),
        *[
            cmd
            for op in ("AND", "OR", "XOR", "and", "Or")
            for cmd in (("BITOP", op, "d", "a", "b", "c"), ("GET", "d"))
        ],
        ("BITOP", "NOT", "d", "a"),
        ("GET", "d"),
        ("BITOP", "AND", "d", "a", "missing"),
        ("GET", "d"),
        ("BITOP", "OR", "d", "a"),
        ("GET", "d"),
        ("BITOP", "XOR", "a", "a", "b"),
        ("GET", "a"),
    ],
    "empty result deletes": [
        ("SET", "d", "x"),
        ("EXPIRE", "d", "100"),
        ("BITOP", "AND", "d", "m1", "m2"),
        ("EXISTS", "d"),
        ("SET", "e", ""),
        ("SET", "d", "x"),
        ("BITOP", "OR", "d", "e"),
        ("EXISTS", "d"),
        ("BITOP", "NOT", "d", "m1"),
        ("SET", "d", "x"),
        ("EXPIRE", "d", "100"),
        ("SET", "s", "abc"),
        ("BITOP", "OR", "d", "s"),
        ("TTL", "d"),
    ],
    "long strings": [
        ("SET", "a", "x" * 100),
        ("SET", "b", "y" * 77),
        ("BITOP", "XOR", "d", "a", "b"),
        ("GET", "d"),
        ("BITOP", "NOT", "d", "d"),
        ("GET", "d"),
    ],
    "errors": [
        ("SET", "a", "abc"),
        ("LPUSH", "l", "x"),
        ("BITOP", "NAND", "d", "a"),
        ("BITOP", "NOT", "d", "a", "a"),
        ("BITOP", "NOT", "d", "l"),
        ("BITOP", "AND", "d", "a", "l"),
        ("BITOP", "AND", "l", "a"),
        ("TYPE", "l"),
        ("BITOP", "AND", "d"),
        ("BITOP", "NAND", "d"),
    ],
}


@pytest.mark.parametrize("case", BITOP_CASES)
def test_bitop_differential(differential: Differential, case: str) -> None:
    differential.check(*BITOP_CASES[case])


BITFIELD_CASES = {
    "get set incrby": [
        ("BITFIELD", "k", "SET", "u8", "0", "200", "GET", "u8", "0", "GET", "i8", "0"),
        ("BITFIELD", "k", "INCRBY", "u8", "0", "100", "INCRBY", "i5", "3", "-7"),
        ("BITFIELD", "k", "SET", "i64", "8", "-9223372036854775808", "GET", "i64", "8"),
        ("BITFIELD", "k", "GET", "u63", "8", "GET", "u1", "71", "GET", "i1", "8"),
        ("BITFIELD", "k", "SET", "u3", "#5", "7", "GET", "u3", "15", "GET", "u4", "#100"),
        ("BITFIELD", "k", "GET", "u8", "1000", "GET", "i16", "3"),
        ("GET", "k"),
        ("STRLEN", "k"),
        ("BITFIELD", "k"),
        ("BITFIELD", "missing"),
        ("EXISTS", "missing"),
        ("BITFIELD", "missing", "GET", "u8", "0"),
        ("EXISTS", "missing"),
    ],
    "overflow wrap": [
        ("BITFIELD", "k", "SET", "u8", "0", "255", "INCRBY", "u8", "0", "10"),
        ("BITFIELD", "k", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1"),
        ("BITFIELD", "k", "INCRBY", "i8", "0", "-1000"),
        ("BITFIELD", "k", "SET", "u8", "0", "-1", "SET", "u8", "0", "300", "GET", "u8", "0"),
        ("BITFIELD", "k", "SET", "i4", "0", "100", "GET", "i4", "0"),
        ("BITFIELD", "k", "SET", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"),
        ("BITFIELD", "k", "INCRBY", "i64", "0", "-1"),
        ("BITFIELD", "k", "SET", "u63", "0", "9223372036854775807", "INCRBY", "u63", "0", "5"),
        ("BITFIELD", "k", "INCRBY", "u63", "0", "-9223372036854775808"),
        ("GET", "k"),
    ],
    "overflow sat": [
        ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "255", "INCRBY", "u8", "0", "10"),
        ("BITFIELD", "k", "OVERFLOW", "sat", "INCRBY", "u8", "0", "-1000"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "-5", "GET", "u8", "0"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i8", "0", "-500", "GET", "i8", "0"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i8", "0", "500", "INCRBY", "i8", "0", "1"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "8", "9223372036854775807"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "8", "1"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i64", "8", "-9223372036854775808"),
        ("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "8", "-1"),
        ("GET", "k"),
    ],
    "overflow fail": [
        ("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u8", "0", "255", "INCRBY", "u8", "0", "1"),
        ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "-256", "GET", "u8", "0"),
        ("BITFIELD", "k", "INCRBY", "u2", "0", "1", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
        ("BITFIELD", "k", "OVERFLOW", "WRAP", "OVERFLOW", "FAIL", "SET", "i3", "5", "4"),
        ("GET", "k"),
        # Every write FAILs, yet Redis has grown (or created) the string.
        ("BITFIELD", "n", "OVERFLOW", "FAIL", "SET", "u2", "20", "9"),
        ("GET", "n"),
        ("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", "40", "9"),
        ("GET", "k"),
    ],
    "unchanged values": [
        ("SET", "k", "ab"),
        ("EXPIRE", "k", "100"),
        ("BITFIELD", "k", "SET", "u8", "0", "97"),
        ("BITFIELD", "k", "INCRBY", "u8", "8", "0"),
        ("TTL", "k"),
        ("BITFIELD", "k", "SET", "u8", "16", "0"),
        ("GET", "k"),
        ("TTL", "k"),
    ],
    "errors": [
        ("BITFIELD", "k", "GET", "u64", "0"),
        ("BITFIELD", "k", "GET", "i65", "0"),
        ("BITFIELD", "k", "GET", "i0", "0"),
        ("BITFIELD", "k", "GET", "x8", "0"),
        ("BITFIELD", "k", "GET", "u", "0"),
        ("BITFIELD", "k", "GET", "", "0"),
        ("BITFIELD", "k", "GET", "U8", "0"),
        ("BITFIELD", "k", "GET", "u8", "-1"),
        ("BITFIELD", "k", "GET", "u8", "x"),
        ("BITFIELD", "k", "GET", "u8", "#-1"),
        ("BITFIELD", "k", "GET", "u8", "##1"),
        ("BITFIELD", "k", "GET", "u8", "4294967296"),
        ("BITFIELD", "k", "GET", "u8", "#536870912"),
        ("BITFIELD", "k", "SET", "u8", "0", "x"),
        ("BITFIELD", "k", "SET", "u8", "0", "99999999999999999999"),
        ("BITFIELD", "k", "SET", "u8", "0"),
        ("BITFIELD", "k", "GET", "u8"),
        ("BITFIELD", "k", "INCRBY", "u8", "0"),
        ("BITFIELD", "k", "OVERFLOW"),
        ("BITFIELD", "k", "OVERFLOW", "CLAMP", "GET", "u8", "0"),
        ("BITFIELD", "k", "GET", "u8", "0", "NOPE"),
        ("BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u99", "0"),
        ("EXISTS", "k"),
        ("LPUSH", "l", "x"),
        ("BITFIELD", "l", "GET", "u8", "0"),
        ("BITFIELD", "l", "SET", "u8", "0", "1"),
        ("BITFIELD", "l", "GET", "u8", "x"),
        ("BITFIELD_RO", "l", "GET", "u8", "0"),
    ],
    "bitfield_ro": [
        ("SET", "k", "\x80abc"),
        ("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i8", "0", "GET", "u4", "#3"),
        ("BITFIELD_RO", "k"),
        ("BITFIELD_RO", "missing", "GET", "u8", "0"),
        ("BITFIELD_RO", "k", "SET", "u8", "0", "1"),
        ("BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"),
        ("BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", "0"),
        ("BITFIELD_RO", "k", "OVERFLOW", "SAT", "SET", "u8", "0", "x"),
        ("BITFIELD_RO", "k", "GET", "u64", "0"),
        ("GET", "k"),
    ],
    "getkeys": [
        ("COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8", "0"),
        ("COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8", "0", "SET", "u8", "0", "1"),
        ("COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "OVERFLOW", "SAT"),
        ("COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8"),
        ("COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k"),
        ("COMMAND", "GETKEYSANDFLAGS", "BITOP", "AND", "d", "a", "b"),
    ],
}


@pytest.mark.parametrize("case", BITFIELD_CASES)
def test_bitfield_differential(differential: Differential, case: str) -> None:
    differential.check(*BITFIELD_CASES[case])


def test_bitfield_random_operations_match_redis(differential: Differential) -> None:
    """Random fields at random (unaligned) offsets: every reply and the final bytes."""
    rng = random.Random(11)
    cmds: list[tuple] = []
    for _ in range(150):
        sign = rng.choice("iu")
        bits = rng.randint(1, 64 if sign == "i" else 63)
        off = rng.randint(0, 90)
        value = rng.randint(-(1 << 64), 1 << 64) if rng.random() < 0.2 else rng.randint(-300, 300)
        value = max(min(value, (1 << 63) - 1), -(1 << 63))
        cmds.append(
            (
                "BITFIELD", "k", "OVERFLOW", rng.choice(("WRAP", "SAT", "FAIL")),
                rng.choice(("SET", "INCRBY")), f"{sign}{bits}", off, value,
                "GET", f"{sign}{bits}", off, "GET", "u8", off // 8,
            )
        )  # fmt: skip
    cmds.append(("GET", "k"))
    differential.check(*cmds, resp=(2,))


def test_redis_py_bitfield_helper(server: ServerProcess) -> None:
    r = server.client()
    bf = r.bitfield("bf")
    got = bf.set("u8", 0, 250).incrby("u8", 0, 10).overflow("SAT").incrby("u8", "#1", 300).execute()
    assert got == [0, 4, 255]
    assert r.get("bf") == b"\x04\xff"
    assert r.bitfield_ro("bf", "u8", 8, items=[("i8", 8)]) == [255, -1]
    assert r.bitop("NOT", "inv", "bf") == 2
    assert r.get("inv") == b"\xfb\x00"
    assert r.bitpos("inv", 0) == 5
    assert r.bitpos("inv", 1, 1) == -1
    with pytest.raises(redis.ResponseError, match="BITFIELD_RO only supports the GET"):
        r.execute_command("BITFIELD_RO", "bf", "SET", "u8", 0, 1)
