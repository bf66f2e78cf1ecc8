"""String and bitmap commands: replies, options and error texts checked against redis-server
(differential, RESP2 and RESP3), expiry options and WATCH through redis-py, and the
proto-max-bulk-len limits on private servers started with a 1 MB limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, have_redis_server

BIG = "9223372036854775807"
SMALL = "-9223372036854775808"


# --- GET / SET and variants --------------------------------------------------------------------


def test_get_set_differential(differential: Differential) -> None:
    differential.check(
        ("GET", "k"),
        ("SET", "k", "v"),
        ("GET", "k"),
        ("SET", "k", ""),
        ("GET", "k"),
        ("SET", "k", "v2", "NX"),
        ("SET", "k", "v3", "XX"),
        ("GET", "k"),
        ("SET", "n", "v", "XX"),
        ("SET", "n", "v", "nx"),
        ("SET", "n", "w", "NX", "GET"),
        ("SET", "n", "x", "XX", "GET"),
        ("SET", "m", "x", "XX", "GET"),
        ("SET", "m2", "x", "NX", "GET"),
        ("SET", "n", "y", "get", "GET"),
        ("GET", "n"),
        ("SET", "k", "v", "NX", "XX"),
        ("SET", "k", "v", "XX", "NX"),
        ("SET", "k", "v", "NX", "NX"),
        ("SET", "k", "v", "FOO"),
        ("SET", "k", "v", "EX"),
        ("SET", "k", "v", "EX", "10", "PX", "100"),
        ("SET", "k", "v", "EX", "10", "KEEPTTL"),
        ("SET", "k", "v", "KEEPTTL", "EX", "10"),
        ("SET", "k", "v", "KEEPTTL", "KEEPTTL"),
        ("SET", "k", "v", "EX", "10", "EX", "20"),
        ("SET", "k", "v", "PX", "10000", "PX", "20000"),
        ("SET", "k", "v", "EXAT", "1", "PXAT", "1"),
        ("SET", "k", "v", "EX", "0"),
        ("SET", "k", "v", "EX", "-1"),
        ("SET", "k", "v", "PX", "0"),
        ("SET", "k", "v", "EXAT", "0"),
        ("SET", "k", "v", "PXAT", "-5"),
        ("SET", "k", "v", "EX", "abc"),
        ("SET", "k", "v", "EX", "1.5"),
        ("SET", "k", "v", "EX", BIG),
        ("SET", "k", "v", "EX", "9223372036854775"),
        ("SET", "k", "v", "PX", BIG),
        ("SET", "k", "v", "EXAT", "9223372036854775"),
        ("SET", "k", "v", "PXAT", BIG),
        ("GET", "k"),
        ("SET", "k", "v", "EX", "100"),
        ("GET", "k"),
        ("SET", "k", "v", "PXAT", "99999999999999"),
        ("SET", "past", "v", "EXAT", "1"),
        ("GET", "past"),
        ("SET", "past", "v", "PXAT", "1", "GET"),
        ("SET", "bad", "v", "EX", "0", "GET"),
        ("SET",),
        ("SET", "k"),
        ("GET",),
        ("GET", "a", "b"),
        ("SET", "k", "v", "GET", "NX"),
        ("SET", "k", "v", "EX", "10", "NX", "GET"),
        ("SET", "k\x00z", "bin\x00val\xff"),
        ("GET", "k\x00z"),
    )


def test_setnx_setex_psetex_getset_differential(differential: Differential) -> None:
    differential.check(
        ("SETNX", "k", "1"),
        ("SETNX", "k", "2"),
        ("GET", "k"),
        ("SETNX", "k"),
        ("SETEX", "e", "100", "v"),
        ("GET", "e"),
        ("SETEX", "e", "0", "v"),
        ("SETEX", "e", "-3", "v"),
        ("SETEX", "e", "x", "v"),
        ("SETEX", "e", BIG, "v"),
        ("SETEX", "e", "100"),
        ("PSETEX", "p", "100000", "v"),
        ("GET", "p"),
        ("PSETEX", "p", "0", "v"),
        ("PSETEX", "p", "1.0", "v"),
        ("PSETEX", "p", BIG, "v"),
        ("psetex", "p", "-1", "v"),
        ("GETSET", "k", "new"),
        ("GETSET", "missing", "first"),
        ("GET", "missing"),
        ("GETSET", "k"),
        ("GET", "k"),
    )


def test_getdel_getex_differential(differential: Differential) -> None:
    differential.check(
        ("SET", "k", "v"),
        ("GETDEL", "k"),
        ("GETDEL", "k"),
        ("EXISTS", "k"),
        ("GETDEL",),
        ("GETDEL", "a", "b"),
        ("SET", "k", "v"),
        ("GETEX", "k"),
        ("GETEX", "k", "EX", "100"),
        ("GETEX", "k", "PX", "100000"),
        ("GETEX", "k", "PXAT", "99999999999999"),
        ("GETEX", "k", "EXAT", "99999999999"),
        ("GETEX", "k", "PERSIST"),
        ("GETEX", "k", "persist", "PERSIST"),
        ("GETEX", "k", "EX", "100", "PERSIST"),
        ("GETEX", "k", "PERSIST", "EX", "100"),
        ("GETEX", "k", "EX", "100", "PX", "100"),
        ("GETEX", "k", "EX", "10", "EX", "20"),
        ("GETEX", "k", "EX"),
        ("GETEX", "k", "KEEPTTL"),
        ("GETEX", "k", "NX"),
        ("GETEX", "k", "GET"),
        ("GETEX", "k", "FOO"),
        ("GETEX", "k", "EX", "0"),
        ("GETEX", "k", "EX", "-1"),
        ("GETEX", "k", "EX", "x"),
        ("GETEX", "k", "EX", BIG),
        ("GETEX", "k", "PX", BIG),
        ("GETEX", "missing", "EX", "0"),
        ("GETEX", "missing", "EX", "x"),
        ("GETEX", "missing", "FOO"),
        ("GETEX", "missing"),
        ("GET", "k"),
        ("GETEX", "k", "EXAT", "1"),
        ("EXISTS", "k"),
        ("SET", "k", "v"),
        ("GETEX", "k", "PXAT", "1"),
        ("GET", "k"),
        ("GETEX",),
    )


def test_mget_mset_msetnx_differential(differential: Differential) -> None:
    differential.check(
        ("MSET", "a", "1", "b", "2"),
        ("MGET", "a", "b", "c"),
        ("MGET", "c"),
        ("MSET", "a"),
        ("MSET", "a", "1", "b"),
        ("MSET",),
        ("MGET",),
        ("MSET", "a", "x", "a", "y"),
        ("GET", "a"),
        ("MSETNX", "a", "1", "z", "2"),
        ("EXISTS", "z"),
        ("MSETNX", "y", "1", "z", "2"),
        ("MGET", "y", "z"),
        ("MSETNX", "q", "1", "q", "2"),
        ("GET", "q"),
        ("MSETNX", "a"),
        ("MSETNX", "a", "1", "b"),
    )


def test_ttl_options(r: redis.Redis) -> None:
    ttl = _ttl_or_skip(r)
    r.set("k", "v", ex=100)
    assert ttl("k") in (99, 100)
    r.set("k", "v2", keepttl=True)
    assert ttl("k") in (99, 100)
    r.set("k", "v3")  # a plain SET drops the deadline
    assert ttl("k") == -1
    r.set("k", "v", px=100_000)
    assert ttl("k") in (99, 100)
    r.set("k", "v", exat=int(time.time()) + 100)
    assert 98 <= ttl("k") <= 100
    r.set("k", "v", pxat=int(time.time() * 1000) + 100_000)
    assert 98 <= ttl("k") <= 100
    r.execute_command("SETEX", "k", 100, "v")
    assert ttl("k") in (99, 100)
    r.execute_command("PSETEX", "k", 100_000, "v")
    assert ttl("k") in (99, 100)
    r.execute_command("GETSET", "k", "w")  # GETSET drops it too
    assert ttl("k") == -1
    assert r.getex("k", ex=100) == b"w"
    assert ttl("k") in (99, 100)
    assert r.getex("k") == b"w"  # no option: deadline untouched
    assert ttl("k") in (99, 100)
    assert r.getex("k", persist=True) == b"w"
    assert ttl("k") == -1
    r.set("n", "5", ex=100)
    r.incr("n")
    r.incrbyfloat("n", 1.5)
    r.append("n", "0")
    r.setrange("n", 0, "7")
    r.setbit("n", 0, 1)
    assert ttl("n") in (99, 100)  # modifying commands keep the deadline


def _ttl_or_skip(r: redis.Redis) -> Any:
    try:
        r.ttl("probe")
    except redis.ResponseError as e:
        if "unknown command" in str(e):
            pytest.skip("TTL is not implemented yet")
        raise
    return r.ttl


def test_expiry_options_take_effect(r: redis.Redis) -> None:
    """Without TTL: deadlines are observed by waiting for keys to vanish (or not)."""
    r.set("a", "v", px=30)
    r.execute_command("PSETEX", "b", 30, "v")
    r.set("c", "v", px=30)
    r.set("c", "v2", keepttl=True)
    r.set("d", "v", px=30)
    assert r.getex("d", persist=True) == b"v"
    r.set("e", "v")
    assert r.getex("e", px=30) == b"v"
    r.set("f", "v", px=30)
    r.set("f", "v")  # plain SET clears the deadline
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and r.exists("a", "b", "c", "e"):
        time.sleep(0.02)
    assert r.exists("a", "b", "c", "e") == 0
    assert r.get("d") == b"v"
    assert r.get("f") == b"v"


def test_set_get_resp_types(r: redis.Redis) -> None:
    assert r.set("k", "v") is True
    assert r.set("k", "v", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.setnx("k", "x") is False
    assert r.setnx("k2", "x") is True
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.msetnx({"a": "1", "c": "2"}) is False
    assert r.mget("a", "b", "nope") == [b"1", b"2", None]
    assert r.getdel("a") == b"1"
    assert r.get("a") is None


# --- counters ----------------------------------------------------------------------------------


def test_incr_decr_differential(differential: Differential) -> None:
    differential.check(
        ("INCR", "n"),
        ("INCR", "n"),
        ("DECR", "n"),
        ("DECR", "m"),
        ("INCRBY", "n", "10"),
        ("INCRBY", "n", "-100"),
        ("DECRBY", "n", "5"),
        ("DECRBY", "n", "-5"),
        ("GET", "n"),
        ("INCRBY", "n", "1.5"),
        ("INCRBY", "n", "abc"),
        ("INCRBY", "n", ""),
        ("INCRBY", "n", "+1"),
        ("INCRBY", "n", " 1"),
        ("INCRBY", "n", "01"),
        ("INCRBY", "n", "99999999999999999999"),
        ("DECRBY", "n", SMALL),
        ("DECRBY", "n", "x"),
        ("SET", "max", BIG),
        ("INCR", "max"),
        ("INCRBY", "max", "0"),
        ("DECRBY", "max", "-1"),
        ("SET", "min", SMALL),
        ("DECR", "min"),
        ("INCRBY", "min", "-1"),
        ("INCRBY", "min", BIG),
        ("INCRBY", "min", SMALL),
        ("SET", "s", "abc"),
        ("INCR", "s"),
        ("SET", "s", " 1"),
        ("INCR", "s"),
        ("SET", "s", "1 "),
        ("INCR", "s"),
        ("SET", "s", "+1"),
        ("INCR", "s"),
        ("SET", "s", "-0"),
        ("INCR", "s"),
        ("SET", "s", "007"),
        ("DECR", "s"),
        ("SET", "s", ""),
        ("INCR", "s"),
        ("SET", "s", "1.0"),
        ("INCR", "s"),
        ("SET", "s", "9223372036854775808"),
        ("INCR", "s"),
        ("SET", "s", "-0001"),
        ("DECR", "s"),
        ("SET", "s", "10"),
        ("INCRBY", "s", "-10"),
        ("GET", "s"),
        ("INCR",),
        ("INCR", "a", "b"),
        ("INCRBY", "a"),
        ("DECRBY", "a", "1", "2"),
    )


def test_incrbyfloat_differential(differential: Differential) -> None:
    differential.check(
        *[("INCRBYFLOAT", "f", "0.1")] * 12,
        ("INCRBYFLOAT", "g", "5.0e3"),
        ("INCRBYFLOAT", "g", "10.5"),
        ("INCRBYFLOAT", "g", "-5010.5"),
        ("INCRBYFLOAT", "g", "-0.1"),
        ("INCRBYFLOAT", "h", "3.0e3"),
        ("INCRBYFLOAT", "h", "1.23456789e-5"),
        ("INCRBYFLOAT", "h", "1e17"),
        ("INCRBYFLOAT", "h", "1e-20"),
        ("INCRBYFLOAT", "i", "1e308"),
        ("INCRBYFLOAT", "i", "1e308"),
        ("INCRBYFLOAT", "j", "1.18e4932"),
        ("INCRBYFLOAT", "j", "1.18e4932"),
        ("INCRBYFLOAT", "j", "1e5000"),
        ("INCRBYFLOAT", "k", "1e-5000"),
        ("INCRBYFLOAT", "k", "3.6e-4951"),
        ("INCRBYFLOAT", "k", "-1e-20"),
        ("INCRBYFLOAT", "k", "0.000003814697265625"),
        ("INCRBYFLOAT", "k2", "0.000003814697265635"),
        ("INCRBYFLOAT", "l", "0x1p3"),
        ("INCRBYFLOAT", "l", "0X.8"),
        ("INCRBYFLOAT", "l", "-0x1.8P-2"),
        ("INCRBYFLOAT", "l", "0x"),
        ("INCRBYFLOAT", "l", "0x1p"),
        ("INCRBYFLOAT", "l", "+1"),
        ("INCRBYFLOAT", "l", "1."),
        ("INCRBYFLOAT", "l", ".5"),
        ("INCRBYFLOAT", "l", "-.5e1"),
        ("INCRBYFLOAT", "l", "."),
        ("INCRBYFLOAT", "l", "1e"),
        ("INCRBYFLOAT", "l", "e1"),
        ("INCRBYFLOAT", "l", "1_0"),
        ("INCRBYFLOAT", "l", " 1"),
        ("INCRBYFLOAT", "l", "1 "),
        ("INCRBYFLOAT", "l", "1\x00"),
        ("INCRBYFLOAT", "l", ""),
        ("INCRBYFLOAT", "l", "abc"),
        ("INCRBYFLOAT", "l", "nan"),
        ("INCRBYFLOAT", "l", "-NaN"),
        ("INCRBYFLOAT", "l", "inf"),
        ("INCRBYFLOAT", "l", "-Infinity"),
        ("INCRBYFLOAT", "l", "1e0000000000000000000002"),
        ("INCRBYFLOAT", "l", "0e999999999999999999999"),
        ("INCRBYFLOAT", "l", "1e-999999999999999999999"),
        ("INCRBYFLOAT", "l", "1" * 5200),
        ("GET", "l"),
        ("SET", "s", "abc"),
        ("INCRBYFLOAT", "s", "1"),
        ("SET", "s", "1.5 "),
        ("INCRBYFLOAT", "s", "1"),
        ("SET", "s", "inf"),
        ("INCRBYFLOAT", "s", "1"),
        ("SET", "s", "12"),
        ("INCRBYFLOAT", "s", "-12"),
        ("INCRBYFLOAT", "s", "-0.0"),
        ("SET", "s", "0.1"),
        ("INCRBYFLOAT", "s", "0.2"),
        ("INCRBYFLOAT", "s", "1.7976931348623157e308"),
        ("INCRBYFLOAT", "t", "123456789012345678901234567890.5"),
        ("INCRBYFLOAT", "u", "-9.99999999999999999999"),
        ("INCRBYFLOAT",),
        ("INCRBYFLOAT", "s"),
    )


def test_incrbyfloat_random_differential(differential: Differential) -> None:
    """Sums of assorted magnitudes: every rounding step must match long double arithmetic."""
    import random

    rnd = random.Random(11)
    cmds: list[tuple[Any, ...]] = []
    for n in range(80):
        mant = rnd.choice(["1", "0.1", "3.3", "-2.5", "123456789.987654321", "-0.000123"])
        exp = rnd.choice([0, 0, 1, -3, 7, -15, 18, 25, -30, 300, -300, 4000, -4900])
        key = f"f{n % 8}"
        cmds.append(("INCRBYFLOAT", key, f"{mant}e{exp}"))
        if n % 10 == 0:
            cmds.append(("GET", key))
    cmds.append(("INCRBYFLOAT", "tiny", "0." + "0" * 4900 + "1" * 100))
    cmds.append(("INCRBYFLOAT", "tiny", "1"))
    cmds.append(("INCRBYFLOAT", "long", "1" * 4933))
    cmds.append(("INCRBYFLOAT", "long", "1" * 4934))
    differential.check(*cmds)


def test_incr_fast_path_edges_differential(differential: Differential) -> None:
    # INCR (and the other counters) skip parse_int for canonical non-negative values of up to
    # 18 digits; every value just inside and just outside that shortcut, and what follows.
    cmds: list[tuple[str, ...]] = []
    for value in (
        "0",
        "9",
        "10",
        "999999999999999998",  # 18 digits: the shortcut, result still 18 digits
        "999999999999999999",  # 18 digits: the shortcut, result 19 digits
        "1000000000000000000",  # 19 digits: the general path
        "9223372036854775806",
        BIG,
        "00",
        "01",
        "0000000000000000001",
        "-1",
        "-0",
        "+0",
        "1_000",  # int() would take it, Redis does not
        "\u0661",  # an Arabic-Indic digit one (UTF-8): not an ASCII digit
        "\uff11",  # a fullwidth digit one
        "12\x00",
        "1\n",
        "\t1",
        "",
    ):
        cmds += [
            ("SET", "n", value),
            ("INCR", "n"),
            ("INCR", "n"),
            ("GET", "n"),
            ("SET", "n", value),
            ("INCRBY", "n", "5"),
            ("SET", "n", value),
            ("INCRBY", "n", BIG),
            ("SET", "n", value),
            ("DECRBY", "n", "1"),
            ("SET", "n", value),
            ("DECR", "n"),
        ]
    cmds += [("RPUSH", "l", "1"), ("INCR", "l"), ("INCRBY", "l", "2"), ("INCR", "missing")]
    differential.check(*cmds)


def test_incr_keeps_deadline_and_touches_watchers(server: ServerProcess) -> None:
    c = server.client()
    other = server.client()
    try:
        c.flushall()
        # (redis-py's incr() sends INCRBY: INCR itself has its own shortcut.)
        c.set("n", "41", ex=1000)
        assert c.execute_command("INCR", "n") == 42
        assert 990 <= c.ttl("n") <= 1000
        c.set("m", "7", ex=1000)
        assert c.incrby("m", 3) == 10
        assert 990 <= c.ttl("m") <= 1000
        # WATCH sees a change made by the shortcut path as by any other write.
        with c.pipeline() as p:
            p.watch("n")
            other.execute_command("INCR", "n")
            p.multi()
            p.get("n")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert c.get("n") == b"43"
    finally:
        c.close()
        other.close()


def test_incr_resp_types(r: redis.Redis) -> None:
    assert r.incr("n") == 1
    assert r.incrby("n", 9) == 10
    assert r.decrby("n", 3) == 7
    assert r.incrbyfloat("n", 0.5) == 7.5
    assert r.get("n") == b"7.5"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("n")
    r.set("max", 2**63 - 1)
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("max")
    with pytest.raises(redis.ResponseError, match="would produce NaN or Infinity"):
        r.incrbyfloat("n", float("inf"))


# --- ranges and lengths -----------------------------------------------------------------------


def test_append_strlen_differential(differential: Differential) -> None:
    differential.check(
        ("APPEND", "k", "hello"),
        ("APPEND", "k", " world"),
        ("APPEND", "k", ""),
        ("GET", "k"),
        ("STRLEN", "k"),
        ("STRLEN", "missing"),
        ("APPEND", "e", ""),
        ("EXISTS", "e"),
        ("STRLEN", "e"),
        ("SET", "n", "12"),
        ("INCR", "n"),
        ("APPEND", "n", "4"),
        ("INCR", "n"),
        ("STRLEN", "n"),
        ("APPEND", "k"),
        ("STRLEN",),
        ("STRLEN", "a", "b"),
    )


def test_getrange_differential(differential: Differential) -> None:
    cases: list[tuple[Any, ...]] = [("SET", "k", "Hello World"), ("SET", "e", "")]
    for start, end in [
        (0, 4),
        (0, -1),
        (-3, -1),
        (-1, -3),
        (-100, 4),
        (5, 100),
        (100, 200),
        (3, 2),
        (-1, -1),
        (0, 0),
        (-11, -11),
        (-12, 0),
        (0, -12),
        (10, 10),
        (11, 11),
        (-5, 100),
        (SMALL, BIG),
    ]:
        for key in ("k", "e", "missing"):
            cases.append(("GETRANGE", key, start, end))
        cases.append(("SUBSTR", "k", start, end))
    cases += [
        ("SET", "n", "1234"),
        ("GETRANGE", "n", "1", "2"),
        ("GETRANGE", "k", "a", "1"),
        ("GETRANGE", "k", "0", "1.5"),
        ("GETRANGE", "missing", "x", "1"),
        ("GETRANGE", "k", "0"),
        ("SUBSTR", "k", "0"),
        ("GETRANGE", "k", "0", "1", "2"),
    ]
    differential.check(*cases)


def test_setrange_differential(differential: Differential) -> None:
    differential.check(
        ("SETRANGE", "k", "0", "Hello"),
        ("SETRANGE", "k", "6", "World"),
        ("GET", "k"),
        ("SETRANGE", "k", "1", "ipp"),
        ("GET", "k"),
        ("SETRANGE", "k", "9", "xyzzy"),
        ("GET", "k"),
        ("SETRANGE", "k", "0", ""),
        ("SETRANGE", "k", "100", ""),
        ("STRLEN", "k"),
        ("SETRANGE", "missing", "5", ""),
        ("EXISTS", "missing"),
        ("SETRANGE", "z", "3", "a"),
        ("GET", "z"),
        ("SETRANGE", "k", "-1", "x"),
        ("SETRANGE", "missing", "-1", ""),
        ("SETRANGE", "k", "x", "a"),
        ("SETRANGE", "k", "1.5", "a"),
        ("SETRANGE", "k", BIG, "a"),
        ("SETRANGE", "k", "536870911", "ab"),
        ("SETRANGE", "k", "536870912", "a"),
        ("SETRANGE", "nk", "536870912", "a"),
        ("SETRANGE", "nk", "536870912", ""),
        ("EXISTS", "nk"),
        ("SET", "n", "12"),
        ("INCR", "n"),
        ("SETRANGE", "n", "1", "9"),
        ("INCR", "n"),
        ("SETRANGE", "k", "0"),
        ("SETRANGE", "k", "0", "a", "b"),
    )


# --- bits -------------------------------------------------------------------------------------


def test_setbit_getbit_differential(differential: Differential) -> None:
    differential.check(
        ("SETBIT", "b", "7", "1"),
        ("GET", "b"),
        ("SETBIT", "b", "7", "1"),
        ("SETBIT", "b", "7", "0"),
        ("SETBIT", "b", "0", "1"),
        ("SETBIT", "b", "100", "0"),
        ("STRLEN", "b"),
        ("GET", "b"),
        ("GETBIT", "b", "0"),
        ("GETBIT", "b", "1"),
        ("GETBIT", "b", "100"),
        ("GETBIT", "b", "100000"),
        ("GETBIT", "missing", "0"),
        ("SETBIT", "z", "0", "0"),
        ("GET", "z"),
        ("SETBIT", "b", "-1", "1"),
        ("SETBIT", "b", "x", "1"),
        ("SETBIT", "b", "1.0", "1"),
        ("SETBIT", "b", "#1", "1"),
        ("SETBIT", "b", "4294967296", "1"),
        ("SETBIT", "b", BIG, "1"),
        ("SETBIT", "b", "1", "2"),
        ("SETBIT", "b", "1", "-1"),
        ("SETBIT", "b", "1", "x"),
        ("SETBIT", "b", "1", ""),
        ("SETBIT", "b", "x", "x"),
        ("GETBIT", "b", "-1"),
        ("GETBIT", "b", "4294967296"),
        ("GETBIT", "b", "4294967295"),
        ("GETBIT", "missing", "x"),
        ("SET", "n", "1"),
        ("INCR", "n"),
        ("GETBIT", "n", "6"),
        ("GETBIT", "n", "7"),
        ("SETBIT", "n", "7", "1"),
        ("GET", "n"),
        ("SETBIT", "b", "1"),
        ("GETBIT", "b"),
    )


def test_bitcount_differential(differential: Differential) -> None:
    cases: list[tuple[Any, ...]] = [
        ("SET", "k", "foobar"),
        ("SET", "e", ""),
        ("BITCOUNT", "k"),
        ("BITCOUNT", "e"),
        ("BITCOUNT", "missing"),
        ("BITCOUNT", "missing", "x"),
        ("BITCOUNT", "missing", "0", "1", "FOO"),
        ("BITCOUNT", "k", "0"),
        ("BITCOUNT", "k", "0", "1", "2", "3"),
        ("BITCOUNT", "k", "a", "1"),
        ("BITCOUNT", "k", "0", "b"),
        ("BITCOUNT", "k", "0", "1", "FOO"),
        ("BITCOUNT", "k", "-1", "-2", "FOO"),
        ("BITCOUNT", "e", "0", "1", "FOO"),
        ("BITCOUNT",),
    ]
    for start, end in [
        (0, 0),
        (1, 1),
        (0, -1),
        (-2, -1),
        (-1, -2),
        (2, 1),
        (-100, 100),
        (5, 7),
        (1, 3),
        (3, 3),
        (7, 100),
        (47, 47),
        (48, 48),
        (0, 47),
        (-3, -1),
        (SMALL, BIG),
    ]:
        for unit in ((), ("BYTE",), ("BIT",), ("bit",)):
            cases.append(("BITCOUNT", "k", start, end, *unit))
            cases.append(("BITCOUNT", "e", start, end, *unit))
    differential.check(*cases)


# --- LCS --------------------------------------------------------------------------------------


def test_lcs_differential(differential: Differential) -> None:
    differential.check(
        ("MSET", "a", "ohmytext", "b", "mynewtext"),
        ("LCS", "a", "b"),
        ("LCS", "a", "b", "LEN"),
        ("LCS", "a", "b", "IDX"),
        ("LCS", "a", "b", "IDX", "WITHMATCHLEN"),
        ("LCS", "a", "b", "IDX", "MINMATCHLEN", "4"),
        ("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
        ("LCS", "a", "b", "idx", "minmatchlen", "-5", "withmatchlen"),
        ("LCS", "a", "b", "LEN", "WITHMATCHLEN"),
        ("LCS", "a", "b", "WITHMATCHLEN"),
        ("LCS", "a", "b", "LEN", "IDX"),
        ("LCS", "a", "b", "IDX", "LEN"),
        ("LCS", "a", "b", "MINMATCHLEN"),
        ("LCS", "a", "b", "MINMATCHLEN", "x"),
        ("LCS", "a", "b", "FOO"),
        ("LCS", "b", "a", "IDX", "WITHMATCHLEN"),
        ("LCS", "a", "a", "IDX", "WITHMATCHLEN"),
        ("LCS", "a", "missing"),
        ("LCS", "missing", "a", "LEN"),
        ("LCS", "missing", "other", "IDX"),
        ("MSET", "c", "abcabcbbaxyzaaab", "d", "bacbbxyzaabbbcabca"),
        ("LCS", "c", "d"),
        ("LCS", "c", "d", "IDX", "WITHMATCHLEN"),
        ("LCS", "d", "c", "IDX", "WITHMATCHLEN"),
        ("LCS", "c", "d", "IDX", "MINMATCHLEN", "2"),
        ("MSET", "x", "aaaa", "y", "bbbb"),
        ("LCS", "x", "y"),
        ("LCS", "x", "y", "IDX"),
        ("LCS", "a"),
    )


def test_lcs_random_differential(differential: Differential) -> None:
    import random

    rnd = random.Random(7)
    cmds: list[tuple[Any, ...]] = []
    for n in range(12):
        a = "".join(rnd.choice("abc") for _ in range(rnd.randint(0, 40)))
        b = "".join(rnd.choice("abcd") for _ in range(rnd.randint(0, 40)))
        cmds += [
            ("MSET", f"a{n}", a, f"b{n}", b),
            ("LCS", f"a{n}", f"b{n}"),
            ("LCS", f"a{n}", f"b{n}", "IDX", "WITHMATCHLEN"),
        ]
    differential.check(*cmds)


def test_lcs_resp_types(r: redis.Redis) -> None:
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.lcs("a", "b") == b"mytext"
    assert r.lcs("a", "b", len=True) == 6


# --- WATCH sees every modification ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        ("SET", "k", "x"),
        ("SET", "k", "x", "XX", "GET"),
        ("SETEX", "k", "100", "x"),
        ("PSETEX", "k", "100000", "x"),
        ("GETSET", "k", "x"),
        ("GETDEL", "k"),
        ("GETEX", "k", "EX", "100"),
        ("MSET", "k", "x"),
        ("APPEND", "k", "x"),
        ("INCR", "k"),
        ("DECRBY", "k", "2"),
        ("INCRBYFLOAT", "k", "1.5"),
        ("SETRANGE", "k", "0", "9"),
        ("SETBIT", "k", "0", "1"),
    ],
)
def test_watch_sees_changes(server: ServerProcess, cmd: tuple[str, ...]) -> None:
    watcher = server.client()
    other = server.client()
    try:
        watcher.flushall()
        watcher.set("k", "1")
        with watcher.pipeline() as p:
            p.watch("k")
            other.execute_command(*cmd)
            p.multi()
            p.get("k")
            with pytest.raises(redis.WatchError):
                p.execute()
    finally:
        watcher.close()
        other.close()


@pytest.mark.parametrize(
    "cmd",
    [
        ("SET", "k", "x", "NX"),
        ("SETNX", "k", "x"),
        ("MSETNX", "k", "x"),
        ("GETEX", "k", "PERSIST"),
        ("SETRANGE", "k", "0", ""),
        ("SETBIT", "k", "7", "1"),  # "1" is 0x31: bit 7 already set
        ("APPEND", "other", "x"),
        ("INCRBY", "k", "x"),
    ],
)
def test_watch_ignores_non_changes(server: ServerProcess, cmd: tuple[str, ...]) -> None:
    watcher = server.client()
    other = server.client()
    try:
        watcher.flushall()
        watcher.set("k", "1")
        with watcher.pipeline() as p:
            p.watch("k")
            try:
                other.execute_command(*cmd)
            except redis.ResponseError:
                pass
            p.multi()
            p.get("k")
            assert p.execute() == [b"1"]
    finally:
        watcher.close()
        other.close()


# --- proto-max-bulk-len (servers with a 1 MB limit) -----------------------------------------------

MB = 1024 * 1024


@pytest.fixture(scope="module")
def small_limit() -> Iterator[Differential]:
    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    with (
        ServerProcess("--proto-max-bulk-len", "1mb") as mk,
        ServerProcess("--proto-max-bulk-len", "1mb", kind="redis") as rd,
    ):
        yield Differential(mk, rd)


def test_size_limits_differential(small_limit: Differential) -> None:
    big = "x" * (MB - 10)
    small_limit.check(
        ("SET", "k", big),
        ("APPEND", "k", "0123456789"),
        ("APPEND", "k", "0"),
        ("STRLEN", "k"),
        ("SETRANGE", "k", str(MB - 2), "ab"),
        ("SETRANGE", "k", str(MB - 2), "abc"),
        ("SETRANGE", "new", str(MB), "a"),
        ("SETRANGE", "new", str(MB - 1), "ab"),
        ("SETRANGE", "new", "9223372036854775800", "abcdefghijk"),
        ("EXISTS", "new"),
        ("SETBIT", "bits", str(8 * MB), "1"),
        ("GETBIT", "bits", str(8 * MB)),
        ("SETBIT", "bits", str(8 * MB - 1), "1"),
        ("STRLEN", "bits"),
        ("GETBIT", "bits", str(8 * MB - 1)),
        ("DEL", "k", "bits"),
        ("MSET", "a", "a" * 600, "b", "b" * 600),
        ("LCS", "a", "b"),
        ("LCS", "a", "b", "LEN"),
        ("MSET", "a", "a" * 400, "b", "ab" * 200),
        ("LCS", "a", "b", "LEN"),
    )


def test_setrange_huge_offset_is_refused_cheaply(r: redis.Redis) -> None:
    """At the default 512 MB limit: refused before any padding is allocated."""
    with pytest.raises(redis.ResponseError, match="proto-max-bulk-len"):
        r.setrange("k", 512 * MB, "x")
    with pytest.raises(redis.ResponseError, match="bit offset is not an integer or out of range"):
        r.setbit("k", 4 * 1024 * MB, 1)
    assert r.exists("k") == 0
