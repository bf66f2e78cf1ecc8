"""Hash commands: replies, options and error texts checked against redis-server (differential,
RESP2 and RESP3, small hashes whose order Redis defines), random fields and HSCAN of big hashes
through redis-py, encodings, and WATCH seeing in-place changes."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from conftest import Differential

BIG = "9223372036854775807"
SMALL = "-9223372036854775808"


def test_hset_hget_differential(differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "a", "1"),
        ("HSET", "h", "a", "2", "b", "3", "c", "4"),
        ("HSET", "h", "d", "5", "d", "6"),  # duplicate field in one call: counted once
        ("HGET", "h", "a"),
        ("HGET", "h", "d"),
        ("HGET", "h", "nosuch"),
        ("HGET", "nosuch", "a"),
        ("HMGET", "h", "a", "nosuch", "b", "a"),
        ("HMGET", "nosuch", "a", "b"),
        ("HGETALL", "h"),
        ("HKEYS", "h"),
        ("HVALS", "h"),
        ("HLEN", "h"),
        ("HLEN", "nosuch"),
        ("HGETALL", "nosuch"),
        ("HKEYS", "nosuch"),
        ("HVALS", "nosuch"),
        ("HSETNX", "h", "a", "x"),
        ("HSETNX", "h", "new", "x"),
        ("HSETNX", "h2", "f", "v"),
        ("HGETALL", "h2"),
        ("HMSET", "h", "e", "7", "a", "8"),
        ("HGETALL", "h"),
        ("HEXISTS", "h", "a"),
        ("HEXISTS", "h", "zz"),
        ("HEXISTS", "nosuch", "a"),
        ("HSTRLEN", "h", "a"),
        ("HSTRLEN", "h", "zz"),
        ("HSTRLEN", "nosuch", "a"),
        ("HSET", "h", "", ""),
        ("HGET", "h", ""),
        ("HSTRLEN", "h", ""),
        ("HSET", "bin", "f\x00\xff", "v\r\n\x00"),
        ("HGETALL", "bin"),
        ("TYPE", "h"),
        ("OBJECT", "ENCODING", "h"),
    )


def test_hash_arity_and_syntax_errors_differential(differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "a"),
        ("HSET", "h", "a", "1", "b"),
        ("HMSET", "h", "a", "1", "b"),
        ("HSET", "h"),
        ("HSETNX", "h", "a"),
        ("HGET", "h"),
        ("HMGET", "h"),
        ("HDEL", "h"),
        ("HLEN", "h", "x"),
        ("HGETALL",),
        ("HINCRBY", "h", "a"),
        ("HRANDFIELD",),
        ("HSCAN", "h"),
        ("EXISTS", "h"),
    )


def test_hdel_and_empty_hash_vanishes_differential(differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HDEL", "h", "a", "a", "nosuch"),
        ("HDEL", "nosuch", "a"),
        ("HGETALL", "h"),
        ("HSET", "h", "a", "9"),  # re-added at the end
        ("HGETALL", "h"),
        ("HDEL", "h", "b", "c", "a", "b"),
        ("EXISTS", "h"),
        ("TYPE", "h"),
        ("HLEN", "h"),
        ("HSET", "h", "x", "1"),
        ("EXPIRE", "h", "100"),
        ("HSET", "h", "y", "2"),  # in-place change keeps the deadline
        ("TTL", "h"),
    )


def test_hash_wrongtype_differential(differential: Differential) -> None:
    differential.check(
        ("SET", "s", "v"),
        ("HSET", "s", "a", "1"),
        ("HMSET", "s", "a", "1"),
        ("HSETNX", "s", "a", "1"),
        ("HGET", "s", "a"),
        ("HMGET", "s", "a"),
        ("HDEL", "s", "a"),
        ("HEXISTS", "s", "a"),
        ("HLEN", "s"),
        ("HSTRLEN", "s", "a"),
        ("HKEYS", "s"),
        ("HVALS", "s"),
        ("HGETALL", "s"),
        ("HINCRBY", "s", "a", "1"),
        ("HINCRBYFLOAT", "s", "a", "1"),
        ("HRANDFIELD", "s"),
        ("HRANDFIELD", "s", "2"),
        ("HSCAN", "s", "0"),
        ("HSET", "h", "a", "1"),
        ("GET", "h"),
        ("APPEND", "h", "x"),
        ("INCR", "h"),
        ("SADD", "h", "x"),
        ("SMEMBERS", "h"),
        ("GET", "s"),
        ("SET", "h", "v"),  # SET overwrites any type
        ("TYPE", "h"),
    )


def test_hincrby_differential(differential: Differential) -> None:
    differential.check(
        ("HINCRBY", "h", "n", "5"),
        ("HINCRBY", "h", "n", "-7"),
        ("HINCRBY", "h", "n", "0"),
        ("HGET", "h", "n"),
        ("HINCRBY", "h", "n", "x"),
        ("HINCRBY", "h", "n", "1.5"),
        ("HINCRBY", "h", "n", BIG + "0"),
        ("HSET", "h", "s", "abc", "z", "007", "sp", " 1", "big", BIG, "small", SMALL),
        ("HINCRBY", "h", "s", "1"),
        ("HINCRBY", "h", "z", "1"),
        ("HINCRBY", "h", "sp", "1"),
        ("HINCRBY", "h", "big", "1"),
        ("HINCRBY", "h", "big", "0"),
        ("HINCRBY", "h", "small", "-1"),
        ("HINCRBY", "h", "small", BIG),
        ("HINCRBY", "h2", "f", SMALL),
        ("HGETALL", "h"),
        ("HINCRBY", "new", "f", "x"),
        ("EXISTS", "new"),  # a failed increment does not create the key
    )


def test_hincrbyfloat_differential(differential: Differential) -> None:
    differential.check(
        ("HINCRBYFLOAT", "h", "f", "10.5"),
        ("HINCRBYFLOAT", "h", "f", "0.1"),
        ("HINCRBYFLOAT", "h", "f", "-5"),
        ("HINCRBYFLOAT", "h", "f", "1e3"),
        ("HINCRBYFLOAT", "h", "f", "0x10"),
        ("HINCRBYFLOAT", "h", "f", "3.0e-3"),
        ("HINCRBYFLOAT", "h", "g", "1.1"),
        ("HINCRBYFLOAT", "h", "g", "2.2"),
        ("HINCRBYFLOAT", "h", "f", "abc"),
        ("HINCRBYFLOAT", "h", "f", ""),
        ("HINCRBYFLOAT", "h", "f", " 1"),
        ("HINCRBYFLOAT", "h", "f", "nan"),
        ("HINCRBYFLOAT", "h", "f", "inf"),
        ("HINCRBYFLOAT", "h", "f", "-infinity"),
        ("HINCRBYFLOAT", "h", "f", "1e5000"),
        ("HSET", "h", "s", "abc", "i", "inf", "n", "nan", "e", "1e4931"),
        ("HINCRBYFLOAT", "h", "s", "1"),
        ("HINCRBYFLOAT", "h", "i", "1"),
        ("HINCRBYFLOAT", "h", "n", "1"),
        ("HINCRBYFLOAT", "h", "e", "1e4931"),
        ("HINCRBYFLOAT", "h", "e", "1"),
        ("HSET", "h", "int", "17"),
        ("HINCRBYFLOAT", "h", "int", "0.5"),
        ("HINCRBYFLOAT", "h", "int", "-17.5"),
        ("HMGET", "h", "f", "g", "s", "i", "n", "e", "int"),  # a hashtable now: no HGETALL
    )


def test_hrandfield_deterministic_differential(differential: Differential) -> None:
    # Errors, and the cases whose reply Redis defines: a count at least the hash's size
    # returns the whole (listpack) hash in order; RESP3 pairs the values.
    differential.check(
        ("HRANDFIELD", "nosuch"),
        ("HRANDFIELD", "nosuch", "5"),
        ("HRANDFIELD", "nosuch", "-5", "WITHVALUES"),
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HRANDFIELD", "h", "3"),
        ("HRANDFIELD", "h", "10"),
        ("HRANDFIELD", "h", "10", "WITHVALUES"),
        ("HRANDFIELD", "h", "3", "withvalues"),
        ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"),
        ("HRANDFIELD", "h", "x"),
        ("HRANDFIELD", "h", "1", "x"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
        ("HRANDFIELD", "h", "x", "WITHVALUES"),
        ("HRANDFIELD", "h", SMALL),
        ("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"),
        ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "nosuch", "x"),
        ("HSET", "one", "f", "v"),  # one field: even the random cases are determined
        ("HRANDFIELD", "one"),
        ("HRANDFIELD", "one", "1"),
        ("HRANDFIELD", "one", "1", "WITHVALUES"),
        ("HRANDFIELD", "one", "-3"),
        ("HRANDFIELD", "one", "-3", "WITHVALUES"),
        ("SET", "s", "v"),
        ("HRANDFIELD", "s", "x"),
    )


def test_hrandfield_random(r: redis.Redis) -> None:
    fields = {f"f{i}": str(i) for i in range(20)}
    r.hset("h", mapping=fields)
    assert r.hrandfield("h").decode() in fields
    got = r.hrandfield("h", 5)
    assert len(got) == 5 and len(set(got)) == 5
    assert {f.decode() for f in got} <= set(fields)
    many = r.hrandfield("h", -50)
    assert len(many) == 50 and {f.decode() for f in many} <= set(fields)
    assert len(set(many)) > 1
    pairs = r.hrandfield("h", -7, withvalues=True)
    if r.get_connection_kwargs().get("protocol") == 3:
        flat: list[Any] = [x for p in pairs for x in p]
    else:
        flat = pairs
    assert len(flat) == 14
    for k, v in zip(flat[::2], flat[1::2], strict=True):
        assert fields[k.decode()] == v.decode()
    uniq = r.hrandfield("h", 19, withvalues=True)
    keys = [p[0] for p in uniq] if isinstance(uniq[0], list) else uniq[::2]
    assert len(set(keys)) == 19
    assert r.hrandfield("nosuch") is None


def test_hscan_small_differential(differential: Differential) -> None:
    differential.check(
        ("HSCAN", "nosuch", "0"),
        ("HSCAN", "nosuch", "0", "COUNT", "0"),  # no key: options are not even looked at
        ("HSET", "h", "a1", "1", "b1", "2", "a2", "3"),
        ("HSCAN", "h", "0"),
        ("HSCAN", "h", "123"),  # a compact hash is returned whole whatever the cursor
        ("HSCAN", "h", "0", "MATCH", "a*"),
        ("HSCAN", "h", "0", "MATCH", "*", "COUNT", "1"),
        ("HSCAN", "h", "0", "match", "zz*"),
        ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0", "COUNT", "x"),
        ("HSCAN", "h", "0", "MATCH"),
        ("HSCAN", "h", "0", "TYPE", "string"),
        ("HSCAN", "h", "x"),
        ("HSCAN", "h", "-1"),
        ("HSCAN", "h", " 0"),
    )


def test_hscan_big_hash_returns_every_field(r: redis.Redis) -> None:
    fields = {f"field:{i}": str(i) for i in range(600)}
    r.hset("h", mapping=fields)
    assert r.object("encoding", "h") == b"hashtable"
    seen: dict[str, str] = {}
    cursor, calls = 0, 0
    while True:
        cursor, part = r.hscan("h", cursor, count=20)
        calls += 1
        for k, v in part.items():
            assert k.decode() not in seen
            seen[k.decode()] = v.decode()
        # Changes during the iteration do not hide fields present throughout.
        r.hset("h", f"extra:{calls}", "x")
        if cursor == 0:
            break
    assert calls > 1
    assert {k: v for k, v in seen.items() if not k.startswith("extra:")} == fields
    matched = {}
    cursor = 0
    while True:
        cursor, part = r.hscan("h", cursor, match="field:1?", count=50)
        matched.update(part)
        if cursor == 0:
            break
    assert sorted(matched) == sorted(f"field:1{i}".encode() for i in range(10))


def test_hash_encoding_thresholds(r: redis.Redis, differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "f", "x" * 64),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "g", "x" * 65),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "k", "f" * 65, "1"),
        ("OBJECT", "ENCODING", "k"),
        ("HSET", "n", *[str(i) for i in range(1024)]),  # 512 fields
        ("OBJECT", "ENCODING", "n"),
        ("HSET", "n", "x", "y"),
        ("OBJECT", "ENCODING", "n"),
        ("HGET", "n", "x"),
    )
    r.flushall()  # the differential check ran on the same server
    r.set("str", "x")
    r.hset("c", "a", "1")
    r.copy("c", "d")
    r.hset("d", "b", "2")
    assert r.hgetall("c") == {b"a": b"1"}  # COPY shares nothing
    assert r.hgetall("d") == {b"a": b"1", b"b": b"2"}
    assert r.type("d") == b"hash"
    assert sorted(r.scan(0, _type="hash", count=100)[1]) == [b"c", b"d"]


@pytest.mark.parametrize(
    "change",
    [
        ("HSET", "h", "a", "2"),
        ("HSETNX", "h", "new", "1"),
        ("HMSET", "h", "b", "1"),
        ("HDEL", "h", "a"),
        ("HINCRBY", "h", "a", "1"),
        ("HINCRBYFLOAT", "h", "a", "1.5"),
    ],
)
def test_watch_sees_in_place_changes(r: redis.Redis, change: tuple[str, ...]) -> None:
    r.hset("h", mapping={"a": "1", "keep": "x"})
    with r.pipeline() as p:
        p.watch("h")
        r.execute_command(*change)
        p.multi()
        p.hget("h", "a")
        with pytest.raises(redis.WatchError):
            p.execute()


def test_watch_not_touched_by_no_ops(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    with r.pipeline() as p:
        p.watch("h")
        r.hsetnx("h", "a", "2")
        r.hdel("h", "nosuch")
        p.multi()
        p.hget("h", "a")
        assert p.execute() == [b"1"]


def test_hgetall_inside_multi_is_a_snapshot(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    with r.pipeline() as p:
        p.hgetall("h")
        p.hset("h", "b", "2")
        p.hkeys("h")
        assert p.execute() == [{b"a": b"1"}, 1, [b"a", b"b"]]


def test_dirty_counts_changes(r: redis.Redis) -> None:
    def dirty() -> int:
        return int(r.info("persistence")["rdb_changes_since_last_save"])

    before = dirty()
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.hdel("h", "a", "nosuch")
    r.hincrby("h", "n", 1)
    r.hsetnx("h", "b", "x")  # no change
    assert dirty() - before == 4


def test_hash_survives_reload_differential(differential: Differential) -> None:
    differential.check(
        ("HSET", "h", "b", "1", "a", "", "c", "x" * 100),
        ("HSET", "small", "z", "1", "y", "2"),
        ("PEXPIRE", "small", "100000"),
        ("DEBUG", "RELOAD"),
        ("HMGET", "h", "a", "b", "c"),
        ("HGETALL", "small"),
        ("OBJECT", "ENCODING", "small"),
        ("TYPE", "h"),
        ("EXPIRE", "small", "100", "LT"),  # the deadline was kept
    )
