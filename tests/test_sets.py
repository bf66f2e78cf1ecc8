"""Set commands: replies, options and error texts checked against redis-server (differential,
RESP2 and RESP3; integer sets, which Redis lists in order, byte for byte; other sets through
sorted replies), random members and SSCAN of big sets through redis-py, encodings, and WATCH
seeing in-place changes."""

from __future__ import annotations

import collections
import random

import msgpack
import msgspec
import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, run_raw

from minikv import setvalue
from minikv.setvalue import SetValue

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


# --- SetValue: the dict that holds a set -------------------------------------------------------


def split_members(raw: bytes) -> tuple[bytes, list[bytes]]:
    """A raw array or set reply of bulk strings: (its header line, its members sorted)."""
    head, _, rest = raw.partition(b"\r\n")
    parts = rest.split(b"\r\n")
    assert parts[-1] == b"" and all(p.startswith(b"$") for p in parts[0:-1:2]), raw
    return head, sorted(parts[1:-1:2])


@pytest.mark.parametrize("proto", [2, 3])
def test_member_lists_are_set_replies_not_maps(
    server: ServerProcess, redis_server: ServerProcess, proto: int
) -> None:
    # A set is a dict inside minikv: every reply listing members must still be a RESP3 set
    # (RESP2 array) of the members, never a map of member -> nil. Hashtable sets, whose order
    # is unspecified: the header byte for byte, the members sorted.
    setup = [("SADD", "a", "x", "y", "z", "1"), ("SADD", "b", "y", "z", "w"), ("SADD", "c", "q")]
    cmds = [
        ("SMEMBERS", "a"),
        ("SUNION", "a", "b"),
        ("SUNION", "a"),
        ("SINTER", "a", "b"),
        ("SINTER", "a"),
        ("SDIFF", "a", "b"),
        ("SDIFF", "a"),
        ("SDIFF", "a", "c", "nosuch"),
        ("SRANDMEMBER", "a", "4"),  # the whole set: an array in both protocols
        ("SRANDMEMBER", "a", "100"),
        ("SPOP", "b", "3"),  # the whole set
        ("SPOP", "a", "100"),
    ]
    replies = []
    for srv in (server, redis_server):
        run_raw(srv.port, [("FLUSHALL",)])
        replies.append(run_raw(srv.port, setup + cmds, proto)[len(setup) :])
    for cmd, mine, theirs in zip(cmds, *replies, strict=True):
        assert split_members(mine) == split_members(theirs), cmd
        if proto == 3 and cmd[0] != "SRANDMEMBER":
            assert mine.startswith(b"~"), (cmd, mine)


def test_partial_spop_and_srandmember_reply_types(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    cmds = [
        ("SADD", "s", *[f"m{i}" for i in range(40)]),
        ("SPOP", "s", "3"),  # few: picked one by one
        ("SPOP", "s", "30"),  # most: the rest kept
        ("SRANDMEMBER", "s", "2"),
        ("SRANDMEMBER", "s", "-5"),
    ]
    for proto in (2, 3):
        heads = []
        for srv in (server, redis_server):
            run_raw(srv.port, [("FLUSHALL",)])
            heads.append([split_members(x)[0] for x in run_raw(srv.port, cmds, proto)[1:]])
        assert heads[0] == heads[1]


def test_spop_most_of_an_intset_lists_it_in_order(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    # Redis pops most of a set by keeping random members and listing the others as the set
    # iterates: ascending for an intset. Few popped are listed in random order (not checked).
    members = ["-5", "100", "3", "-20", "7", "1000000", "42", "-1", "0", "9"]
    for srv in (server, redis_server):
        for _ in range(20):
            cmds = [("DEL", "s"), ("SADD", "s", *members), ("SPOP", "s", "9"), ("SCARD", "s")]
            for proto in (2, 3):
                out = run_raw(srv.port, cmds, proto)
                popped = out[2].split(b"\r\n")[2:-1:2]
                assert len(popped) == 9 and out[3] == b":1\r\n", srv.kind
                assert popped == sorted(popped, key=int), (srv.kind, popped)


def test_store_results_and_copies_are_independent_differential(
    differential: Differential,
) -> None:
    # Every stored result is a new set: changing it leaves its sources alone, and the reverse,
    # including the one-source forms (a copy of the source, not the source itself).
    differential.check(
        ("SADD", "a", "3", "1", "2"),
        ("SADD", "b", "2", "3", "4"),
        ("SINTERSTORE", "i1", "a"),
        ("SUNIONSTORE", "u1", "a"),
        ("SDIFFSTORE", "d1", "a"),
        ("SDIFFSTORE", "d2", "a", "nosuch"),
        ("SUNIONSTORE", "u2", "nosuch", "a"),
        ("SINTERSTORE", "i2", "a", "b"),
        ("SUNIONSTORE", "u3", "a", "b"),
        ("SDIFFSTORE", "d3", "a", "b"),
        ("COPY", "a", "c"),
        ("SADD", "i1", "10"),
        ("SREM", "u1", "1"),
        ("SADD", "d1", "11"),
        ("SPOP", "d2", "3"),
        ("SADD", "u2", "12"),
        ("SADD", "c", "13"),
        ("SMEMBERS", "a"),
        ("SADD", "a", "99"),
        ("SREM", "b", "2", "3"),
        ("SMEMBERS", "i1"),
        ("SMEMBERS", "u1"),
        ("SMEMBERS", "d1"),
        ("EXISTS", "d2"),
        ("SMEMBERS", "u2"),
        ("SMEMBERS", "c"),
        ("SMEMBERS", "i2"),
        ("SMEMBERS", "u3"),
        ("SMEMBERS", "d3"),
        ("SMEMBERS", "a"),
        ("SMEMBERS", "b"),
        ("TYPE", "i1"),
        ("TYPE", "c"),
        ("OBJECT", "ENCODING", "c"),
        ("SADD", "c", "x"),
        ("OBJECT", "ENCODING", "c"),
        ("OBJECT", "ENCODING", "a"),  # the source is still an intset
    )


def test_result_types_and_encodings_differential(differential: Differential) -> None:
    differential.check(
        ("SADD", "a", "x", "1", "2"),
        ("SADD", "b", "1", "2", "3"),
        ("SINTERSTORE", "i", "a", "b"),  # integers only: an intset
        ("TYPE", "i"),
        ("OBJECT", "ENCODING", "i"),
        ("SUNIONSTORE", "u", "a", "b"),
        ("TYPE", "u"),
        ("OBJECT", "ENCODING", "u"),
        ("SDIFFSTORE", "d", "a", "b"),
        ("OBJECT", "ENCODING", "d"),
        ("SMOVE", "a", "m", "2"),  # a new destination
        ("TYPE", "m"),
        ("OBJECT", "ENCODING", "m"),
        ("SPOP", "m", "1"),
        ("TYPE", "m"),  # popped empty: gone
        ("COPY", "u", "u2"),
        ("TYPE", "u2"),
        ("OBJECT", "ENCODING", "u2"),
        ("SCAN", "0", "TYPE", "hash", "COUNT", "100"),  # a set (a dict inside) is no hash
        ("HGETALL", "u"),
        ("HLEN", "i"),
    )


def test_sdiff_with_many_small_sets_differential(differential: Differential) -> None:
    # Many small sets to subtract from a big one: Redis removes their members from a copy of
    # the first (its algorithm 2) rather than probing each for every member.
    big = [str(i) for i in range(100)]
    smalls = [("SADD", f"s{i}", str(i * 3)) for i in range(60)]
    keys = [f"s{i}" for i in range(60)]
    differential.check(
        ("SADD", "big", *big),
        *smalls,
        ("SDIFF", "big", *keys),
        ("SDIFF", "big", *keys, "nosuch", "big"),  # the first set again: empty
        ("SDIFFSTORE", "d", "big", *keys),
        ("SCARD", "d"),
        ("SDIFFSTORE", "d2", "s0", "big", *keys),
        ("EXISTS", "d2"),
        ("SDIFF", "s1", "big"),
        ("SDIFF", "big", "s1", "s2"),
    )


def test_spop_is_uniform(r2: redis.Redis) -> None:
    # 10 members popped one at a time from fresh sets, 3000 times: each should be popped first
    # about 300 times (sd ~16); a walk biased to one end of the dict would not be.
    members = [f"m{i}".encode() for i in range(10)]
    counts = dict.fromkeys(members, 0)
    with r2.pipeline(transaction=False) as p:
        for _ in range(3000):
            p.delete("s")
            p.sadd("s", *members)
            p.spop("s")
        got = p.execute()[2::3]
    for m in got:
        counts[m] += 1
    assert all(200 < n < 400 for n in counts.values()), counts


def test_srandmember_count_order_is_random(r2: redis.Redis) -> None:
    # The members picked for a positive count come back in random order, as from Redis's hash
    # table, not in insertion order: the first one listed is an early member about half the time.
    members = [f"m{i:03d}".encode() for i in range(200)]
    r2.sadd("s", *members)
    early = set(members[:100])
    with r2.pipeline(transaction=False) as p:
        for _ in range(2000):
            p.srandmember("s", 5)
        got = p.execute()
    assert all(len(set(x)) == 5 and set(x) <= set(members) for x in got)
    first_early = sum(x[0] in early for x in got)
    assert 800 < first_early < 1200, first_early  # sd ~22; insertion order gives ~1940


def test_setvalue_msgpack_is_a_map_with_nil_values() -> None:
    # The snapshot writer relies on this: msgspec encodes the dict subclass natively.
    s = SetValue.fromkeys([b"a", b"bc"])
    assert msgspec.msgpack.encode(s) == b"\x82\xc4\x01a\xc0\xc4\x02bc\xc0"
    assert msgspec.msgpack.encode({b"k": s}) == b"\x81\xc4\x01k" + msgspec.msgpack.encode(s)
    assert msgpack.unpackb(msgspec.msgpack.encode(s), strict_map_key=False) == {
        b"a": None,
        b"bc": None,
    }


def test_setvalue_copy_and_basics() -> None:
    s = SetValue.fromkeys([b"a", b"b"])
    c = s.copy()
    assert type(c) is SetValue and c == s and c is not s
    c.add(b"c")
    c.discard(b"a")
    c.discard(b"nosuch")
    assert list(s) == [b"a", b"b"] and list(c) == [b"b", b"c"]
    assert type(SetValue(s)) is SetValue and set(SetValue(s).values()) == {None}
    assert not hasattr(SetValue(), "__dict__")  # slots only: nothing but the dict is encoded


@pytest.mark.parametrize("n", [2, 9, 1000])
def test_setvalue_random_helpers_are_uniform(n: int) -> None:
    rnd_state = random.getstate()
    random.seed(1234)  # a fixed sequence; the bounds below are many standard deviations wide
    try:
        s = SetValue.fromkeys(b"%d" % i for i in range(n))
        draws = 30000
        single = collections.Counter(s.random_member() for _ in range(draws))
        # Few picks per member take the walk path (1000 members), many the list path.
        k = max(1, n // (2 * setvalue._WALK_MIN_MEMBERS_PER_PICK))
        sampled: collections.Counter[bytes] = collections.Counter()
        firsts: collections.Counter[bytes] = collections.Counter()
        for _ in range(draws // k):
            picks = s.sample(k)
            assert len(set(picks)) == len(picks) == k
            sampled.update(picks)
            chosen = s.choices(k)
            assert len(chosen) == k
            firsts[chosen[0]] += 1  # the order of the picks is random too
        for counts, total in ((single, draws), (sampled, (draws // k) * k), (firsts, draws // k)):
            expect = total / n
            assert set(counts) == set(s)
            assert all(abs(c - expect) < 6 * expect**0.5 + 2 for c in counts.values()), counts
        big = s.sample(n - 1)
        assert len(set(big)) == n - 1 and set(big) < set(s)
        assert len(s.choices(5 * n)) == 5 * n
        members = list(s)
        assert s._at([0, 0, n - 1, n - 1]) == [members[0], members[0], members[-1], members[-1]]
    finally:
        random.setstate(rnd_state)
