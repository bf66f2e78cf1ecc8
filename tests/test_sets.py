"""Set commands: replies, options and error texts checked against redis-server (differential,
RESP2 and RESP3; integer sets, which Redis lists in order, byte for byte; other sets through
sorted replies), random members and SSCAN of big sets through redis-py, encodings, and WATCH
seeing in-place changes."""

from __future__ import annotations

import pytest
import redis
from conftest import Differential

BIG = "9223372036854775807"
SMALL = "-9223372036854775808"


def sorted_members(r: redis.Redis, *cmd: str) -> list[bytes]:
    return sorted(r.execute_command(*cmd))


def test_sadd_srem_members_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "s", "3", "1", "2"),
        ("SADD", "s", "2", "5", "5", "-7"),  # duplicates count once
        ("SMEMBERS", "s"),
        ("SCARD", "s"),
        ("SCARD", "nosuch"),
        ("SMEMBERS", "nosuch"),
        ("SISMEMBER", "s", "5"),
        ("SISMEMBER", "s", "6"),
        ("SISMEMBER", "nosuch", "5"),
        ("SMISMEMBER", "s", "1", "9", "1", "-7"),
        ("SMISMEMBER", "nosuch", "1", "2"),
        ("SREM", "s", "1", "1", "9"),
        ("SREM", "nosuch", "1"),
        ("SMEMBERS", "s"),
        ("SADD", "s", BIG, SMALL, "0"),
        ("SMEMBERS", "s"),
        ("OBJECT", "ENCODING", "s"),
        ("TYPE", "s"),
        ("SREM", "s", "2", "3", "5", "-7", BIG, SMALL, "0"),
        ("EXISTS", "s"),  # an emptied set vanishes
        ("TYPE", "s"),
        ("SADD", "one", "x"),
        ("SMEMBERS", "one"),
        ("SADD", "e", ""),
        ("SISMEMBER", "e", ""),
        ("SCARD", "e"),
        ("SADD", "t", "1"),
        ("EXPIRE", "t", "100"),
        ("SADD", "t", "2"),  # an in-place change keeps the deadline
        ("TTL", "t"),
    )


def test_set_encodings_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "i", "1", "2", "3"),
        ("OBJECT", "ENCODING", "i"),
        ("SADD", "i", "a"),
        ("OBJECT", "ENCODING", "i"),
        ("SADD", "z", "01"),
        ("OBJECT", "ENCODING", "z"),
        ("SADD", "m", "-0"),
        ("OBJECT", "ENCODING", "m"),
        ("SADD", "o", "9223372036854775808"),
        ("OBJECT", "ENCODING", "o"),
        ("SADD", "p", " 1"),
        ("OBJECT", "ENCODING", "p"),
        ("SADD", "big", *[str(i) for i in range(512)]),
        ("OBJECT", "ENCODING", "big"),
        ("SADD", "big", "512"),
        ("OBJECT", "ENCODING", "big"),
        ("SCARD", "big"),
    )


def test_set_errors_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "s"),
        ("SREM", "s"),
        ("SISMEMBER", "s"),
        ("SMISMEMBER", "s"),
        ("SCARD",),
        ("SMEMBERS", "a", "b"),
        ("SPOP",),
        ("SRANDMEMBER",),
        ("SMOVE", "a", "b"),
        ("SINTER",),
        ("SINTERSTORE", "d"),
        ("SINTERCARD", "1"),
        ("SUNIONSTORE", "d"),
        ("SDIFFSTORE", "d"),
        ("SSCAN", "s"),
        ("SADD", "s", "1"),
        ("SPOP", "s", "1", "2"),
        ("SPOP", "s", "-1"),
        ("SPOP", "s", "x"),
        ("SPOP", "nosuch", "-1"),  # the count is checked before the key
        ("SRANDMEMBER", "s", "1", "2"),
        ("SRANDMEMBER", "s", "x"),
        ("SRANDMEMBER", "s", SMALL),
        ("SRANDMEMBER", "nosuch", "x"),
    )


def test_set_wrongtype_differential(differential: Differential) -> None:
    differential.check(
        ("SET", "str", "v"),
        ("SADD", "s", "1", "2"),
        ("SADD", "str", "1"),
        ("SREM", "str", "1"),
        ("SISMEMBER", "str", "1"),
        ("SMISMEMBER", "str", "1"),
        ("SMEMBERS", "str"),
        ("SCARD", "str"),
        ("SPOP", "str"),
        ("SPOP", "str", "2"),
        ("SRANDMEMBER", "str"),
        ("SRANDMEMBER", "str", "2"),
        ("SMOVE", "str", "s", "1"),
        ("SMOVE", "s", "str", "1"),
        ("SMOVE", "nosuch", "str", "1"),  # a missing source wins
        ("SINTER", "s", "str"),
        ("SINTER", "nosuch", "str"),  # every key is type-checked
        ("SINTERCARD", "2", "nosuch", "str"),
        ("SINTERSTORE", "d", "s", "str"),
        ("SINTERSTORE", "str", "s"),  # the destination's type does not matter
        ("TYPE", "str"),
        ("SUNION", "s", "str"),
        ("SUNIONSTORE", "d", "nosuch", "str"),
        ("SDIFF", "s", "str"),
        ("SDIFF", "nosuch", "str"),
        ("SDIFFSTORE", "d", "s", "str"),
        ("SSCAN", "str", "0"),
        ("GET", "s"),
        ("HGET", "s", "f"),
        ("INCR", "s"),
        ("EXISTS", "d"),
    )


def test_smove_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "a", "1", "2", "3"),
        ("SADD", "b", "3", "4"),
        ("SMOVE", "a", "b", "1"),
        ("SMOVE", "a", "b", "3"),  # already in the destination
        ("SMOVE", "a", "b", "9"),
        ("SMOVE", "nosuch", "b", "1"),
        ("SMOVE", "a", "a", "2"),
        ("SMOVE", "a", "a", "9"),
        ("SMEMBERS", "a"),
        ("SMEMBERS", "b"),
        ("SMOVE", "a", "new", "2"),  # the last member: source vanishes, destination created
        ("EXISTS", "a"),
        ("SMEMBERS", "new"),
        ("SMOVE", "b", "new", "x"),
    )


def test_set_algebra_integers_differential(differential: Differential) -> None:
    # Integer sets (intsets) are listed in order by Redis: byte-exact replies.
    differential.check(
        ("SADD", "a", "1", "2", "3", "4", "5"),
        ("SADD", "b", "4", "5", "6", "-1"),
        ("SADD", "c", "5", "2", "100"),
        ("SINTER", "a", "b"),
        ("SINTER", "a", "b", "c"),
        ("SINTER", "a"),
        ("SINTER", "a", "nosuch"),
        ("SINTER", "a", "a"),
        ("SUNION", "a", "b", "c"),
        ("SUNION", "a", "nosuch"),
        ("SUNION", "nosuch"),
        ("SDIFF", "a", "b"),
        ("SDIFF", "a", "b", "c"),
        ("SDIFF", "a", "nosuch"),
        ("SDIFF", "nosuch", "a"),
        ("SDIFF", "a", "a"),
        ("SINTERCARD", "2", "a", "b"),
        ("SINTERCARD", "3", "a", "b", "c"),
        ("SINTERCARD", "1", "a"),
        ("SINTERCARD", "2", "a", "nosuch"),
        ("SINTERCARD", "1", "a", "LIMIT", "3"),
        ("SINTERCARD", "1", "a", "limit", "0"),
        ("SINTERCARD", "1", "a", "LIMIT", "100"),
        ("SINTERCARD", "1", "a", "LIMIT", "-1"),
        ("SINTERCARD", "1", "a", "LIMIT", "x"),
        ("SINTERCARD", "1", "a", "LIMIT"),
        ("SINTERCARD", "1", "a", "FOO", "1"),
        ("SINTERCARD", "0", "a"),
        ("SINTERCARD", "-1", "a"),
        ("SINTERCARD", "x", "a"),
        ("SINTERCARD", "3", "a", "b"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "2"),
        ("SINTERSTORE", "d", "a", "b"),
        ("SMEMBERS", "d"),
        ("SUNIONSTORE", "d", "a", "b", "c"),
        ("SMEMBERS", "d"),
        ("SDIFFSTORE", "d", "a", "b"),
        ("SMEMBERS", "d"),
        ("SDIFFSTORE", "a", "a", "c"),  # the destination may be a source
        ("SMEMBERS", "a"),
        ("SET", "d2", "string"),
        ("EXPIRE", "d2", "100"),
        ("SUNIONSTORE", "d2", "c"),  # replaces any value and its deadline
        ("TTL", "d2"),
        ("TYPE", "d2"),
        ("SINTERSTORE", "d2", "a", "nosuch"),  # empty result: destination deleted
        ("EXISTS", "d2"),
        ("SDIFFSTORE", "d", "c", "c"),
        ("EXISTS", "d"),
        ("SUNIONSTORE", "d", "nosuch"),
        ("SINTERSTORE", "nosuch2", "a", "b", "c"),
    )


def test_set_algebra_strings(r: redis.Redis, differential: Differential) -> None:
    # Hashtable sets: Redis's order is unspecified; counts byte for byte, members sorted.
    cmds = [
        ("SADD", "a", "x", "y", "z", "1"),
        ("SADD", "b", "y", "z", "w"),
        ("SADD", "c", "z", "q"),
        ("SINTERSTORE", "d1", "a", "b"),
        ("SUNIONSTORE", "d2", "a", "b", "c"),
        ("SDIFFSTORE", "d3", "a", "b", "c"),
        ("SINTERCARD", "2", "a", "b"),
        ("SCARD", "d1"),
        ("SCARD", "d2"),
        ("SCARD", "d3"),
        ("SINTERSTORE", "i", "a", "d3"),  # a string set whose intersection is all integers
        ("OBJECT", "ENCODING", "i"),
        ("OBJECT", "ENCODING", "d2"),
    ]
    differential.check(*cmds)
    r.flushall()
    for cmd in cmds:
        r.execute_command(*cmd)
    assert sorted_members(r, "SMEMBERS", "d1") == [b"y", b"z"]
    assert sorted_members(r, "SMEMBERS", "d2") == [b"1", b"q", b"w", b"x", b"y", b"z"]
    assert sorted_members(r, "SMEMBERS", "d3") == [b"1", b"x"]
    assert sorted_members(r, "SINTER", "a", "b", "c") == [b"z"]
    assert sorted_members(r, "SUNION", "b", "c") == [b"q", b"w", b"y", b"z"]
    assert sorted_members(r, "SDIFF", "a", "b") == [b"1", b"x"]
    assert sorted_members(r, "SMEMBERS", "a") == [b"1", b"x", b"y", b"z"]
    assert r.sintercard(3, ["a", "b", "c"]) == 1


def test_spop_and_srandmember_deterministic_differential(differential: Differential) -> None:
    differential.check(
        ("SPOP", "nosuch"),
        ("SPOP", "nosuch", "3"),
        ("SRANDMEMBER", "nosuch"),
        ("SRANDMEMBER", "nosuch", "3"),
        ("SRANDMEMBER", "nosuch", "-3"),
        ("SADD", "s", "3", "1", "2"),
        ("SPOP", "s", "0"),
        ("SRANDMEMBER", "s", "0"),
        ("SRANDMEMBER", "s", "3"),  # the whole set, in order
        ("SRANDMEMBER", "s", "10"),
        ("SPOP", "s", "3"),  # the whole set, and the key is gone
        ("EXISTS", "s"),
        ("SADD", "s", "7"),
        ("SPOP", "s"),
        ("EXISTS", "s"),
        ("SADD", "s", "8"),
        ("SPOP", "s", "5"),
        ("SADD", "t", "only"),
        ("SRANDMEMBER", "t"),
        ("SRANDMEMBER", "t", "-3"),
        ("SRANDMEMBER", "t", "1"),
        ("SPOP", "t", "1"),
        ("EXISTS", "t"),
    )


def test_spop_random(r: redis.Redis) -> None:
    members = {str(i).encode() for i in range(30)} | {b"a"}
    r.sadd("s", *members)
    one = r.spop("s")
    assert one in members
    some = r.spop("s", 5)
    assert len(some) == 5 and len(set(some)) == 5 and one not in some
    assert set(some) <= members
    most = r.spop("s", 20)
    assert len(set(most)) == 20
    left = r.smembers("s")
    assert len(left) == 5
    assert {one, *some, *most, *left} == members  # nothing lost, nothing made up
    assert r.spop("s", 100) and not r.exists("s")


def test_srandmember_random(r: redis.Redis) -> None:
    members = {f"m{i}".encode() for i in range(20)}
    r.sadd("s", *members)
    assert r.srandmember("s") in members
    got = r.srandmember("s", 7)
    assert len(got) == 7 and len(set(got)) == 7 and set(got) <= members
    got = r.srandmember("s", 19)
    assert len(set(got)) == 19
    rep = r.srandmember("s", -60)
    assert len(rep) == 60 and set(rep) <= members and len(set(rep)) > 1
    assert r.scard("s") == 20  # nothing removed


def test_sscan_differential(differential: Differential) -> None:
    differential.check(
        ("SSCAN", "nosuch", "0"),
        ("SSCAN", "nosuch", "0", "COUNT", "0"),
        ("SADD", "s", "30", "1", "-2", "12"),
        ("SSCAN", "s", "0"),
        ("SSCAN", "s", "77"),
        ("SSCAN", "s", "0", "MATCH", "1*"),
        ("SSCAN", "s", "0", "COUNT", "1"),
        ("SSCAN", "s", "0", "COUNT", "0"),
        ("SSCAN", "s", "0", "COUNT", "-1"),
        ("SSCAN", "s", "0", "MATCH"),
        ("SSCAN", "s", "0", "TYPE", "set"),
        ("SSCAN", "s", "abc"),
    )


def test_sscan_big_set_returns_every_member(r: redis.Redis) -> None:
    members = {f"m:{i}".encode() for i in range(700)}
    r.sadd("s", *members)
    seen: list[bytes] = []
    cursor, calls = 0, 0
    while True:
        cursor, part = r.sscan("s", cursor, count=15)
        seen.extend(part)
        calls += 1
        r.srem("s", f"gone:{calls}")
        r.sadd("s", f"new:{calls}")
        if cursor == 0:
            break
    assert calls > 1
    old = [m for m in seen if m.startswith(b"m:")]
    assert len(old) == len(set(old)) and set(old) == members
    small = {str(i).encode() for i in range(5)} | {b"x"}
    r.sadd("small", *small)
    cursor, part = r.sscan("small", 0, match="[0-2]")
    assert cursor == 0 and sorted(part) == [b"0", b"1", b"2"]


@pytest.mark.parametrize(
    "change",
    [
        ("SADD", "s", "new"),
        ("SREM", "s", "a"),
        ("SPOP", "s"),
        ("SPOP", "s", "1"),
        ("SMOVE", "s", "t", "a"),
        ("SMOVE", "t", "s", "t1"),
        ("SINTERSTORE", "s", "t", "t"),
        ("SUNIONSTORE", "s", "t"),
        ("SDIFFSTORE", "s", "nosuch"),
    ],
)
def test_watch_sees_in_place_changes(r: redis.Redis, change: tuple[str, ...]) -> None:
    r.sadd("s", "a", "b")
    r.sadd("t", "t1")
    with r.pipeline() as p:
        p.watch("s")
        r.execute_command(*change)
        p.multi()
        p.scard("s")
        with pytest.raises(redis.WatchError):
            p.execute()


def test_watch_not_touched_by_no_ops(r: redis.Redis) -> None:
    r.sadd("s", "a")
    with r.pipeline() as p:
        p.watch("s")
        r.sadd("s", "a")
        r.srem("s", "nosuch")
        r.smove("s", "s", "a")
        r.smove("s", "t", "nosuch")
        p.multi()
        p.scard("s")
        assert p.execute() == [1]


def test_smembers_inside_multi_is_a_snapshot(r: redis.Redis) -> None:
    r.sadd("s", "a")
    with r.pipeline() as p:
        p.smembers("s")
        p.sadd("s", "b")
        p.spop("s", 10)
        members, added, popped = p.execute()
    assert members == {b"a"} and added == 1 and sorted(popped) == [b"a", b"b"]
    assert not r.exists("s")


def test_resp3_set_type(r3: redis.Redis) -> None:
    r3.sadd("s", "b", "a")
    assert r3.smembers("s") == {b"a", b"b"}
    assert r3.sunion("s", "nosuch") == {b"a", b"b"}
    assert r3.sinter("s", "nosuch") == set()


def test_dirty_counts_changes(r: redis.Redis) -> None:
    def dirty() -> int:
        return int(r.info("persistence")["rdb_changes_since_last_save"])

    before = dirty()
    r.sadd("s", "a", "b", "c", "a")  # 3
    r.srem("s", "a", "nosuch")  # 1
    r.smove("s", "t", "b")  # 2: removed and added
    r.sunionstore("u", ["s", "t"])  # 1
    r.spop("u", 5)  # 2
    r.sadd("s", "c")  # 0
    assert dirty() - before == 9


def test_copy_and_scan_type(r: redis.Redis) -> None:
    r.sadd("a", "1")
    r.copy("a", "b")
    r.sadd("b", "2")
    assert r.smembers("a") == {b"1"}
    assert r.smembers("b") == {b"1", b"2"}
    r.set("str", "x")
    assert sorted(r.scan(0, _type="set", count=100)[1]) == [b"a", b"b"]


def test_set_survives_reload_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "i", "3", "-1", "2"),
        ("SADD", "s", "a", "1"),
        ("DEBUG", "RELOAD"),
        ("SMEMBERS", "i"),
        ("OBJECT", "ENCODING", "i"),
        ("SCARD", "s"),
        ("SISMEMBER", "s", "a"),
        ("TYPE", "s"),
    )
