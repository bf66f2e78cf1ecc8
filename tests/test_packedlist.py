"""Small lists in their packed form (minikv/packedlist.py) and the crossing to the QuickList: the
PackedList's methods against a plain ``list``; random list commands around the packed limits
on minikv and on redis-server with every reply and DEBUG OBJECT's ql_* fields compared (RESP2
and RESP3); TTL, WATCH, blocked clients, COPY, SORT, DUMP/RESTORE. Snapshots:
test_packedlist_format.py."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from helpers import ServerProcess

from minikv import limits
from minikv.packedlist import MAX_BYTES, MAX_ENTRIES, PackedList, new_list, pack
from minikv.quicklist import QuickList


@pytest.fixture
def fill() -> Iterator[None]:
    saved = limits.current.list_max_listpack_size
    yield
    limits.current.list_max_listpack_size = saved


# --- the class on its own -------------------------------------------------------------------


def test_methods_match_a_plain_list() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        model = [rnd.choice([b"a", b"b", b"1", b"", b"xyz"]) for _ in range(rnd.randrange(1, 12))]
        p = pack(list(model))
        assert type(p) is PackedList
        op = rnd.randrange(9)
        if op == 0:
            k = rnd.randrange(1, 15)
            left = rnd.random() < 0.5
            want = model[:k] if left else model[::-1][:k]
            assert p.pop_many(k, left) == want
            model = model[k:] if left else model[: max(len(model) - k, 0)]
        elif op == 1:
            x, count = rnd.choice([b"a", b"b"]), rnd.choice([0, 1, 2, -1, -2])
            pos = [i for i, y in enumerate(model) if y == x]
            drop = pos if count == 0 else pos[:count] if count > 0 else pos[count:]
            assert p.lrem(x, count) == len(drop)
            model = [y for i, y in enumerate(model) if i not in drop]
        elif op == 2:
            left, right = rnd.randrange(0, 6), rnd.randrange(0, 6)
            p.trim(left, right)
            model = model[left:]
            model = model[: max(len(model) - right, 0)]
        elif op == 3:
            x, maxlen = rnd.choice([b"a", b"b"]), rnd.randrange(0, 6)
            n = len(model)
            span = n if maxlen == 0 else min(maxlen, n)
            assert list(p.find(x, True, maxlen)) == [i for i in range(span) if model[i] == x]
            back = [i for i in range(n - 1, n - 1 - span, -1) if model[i] == x]
            assert list(p.find(x, False, maxlen)) == back
        elif op == 4:
            xs = [b"n1", b"n2", b"n3"]
            p.extendleft(xs)
            model = xs[::-1] + model
        elif op == 5:
            p.extend([b"e1", b"e2"])
            model += [b"e1", b"e2"]
        elif op == 6:
            i = rnd.randrange(len(model))
            after = rnd.random() < 0.5
            p.insert_at(i, b"ins", after)
            model.insert(i + 1 if after else i, b"ins")
        elif op == 7:
            i = rnd.randrange(-len(model), len(model))
            p[i] = b"set"
            model[i] = b"set"
            assert p[i] == b"set"
        else:
            assert (p.pop(), p.popleft()) == (model[-1], model[0]) if len(model) > 1 else True
            model = model[1:-1] if len(model) > 1 else model
        assert list(p) == model and len(p) == len(model) and list(reversed(p)) == model[::-1]
        if model:
            p.check()
            assert p.get_range(1, 3) == model[1:3]
            assert p.debug_fields() == QuickList(model).debug_fields()
            q = p.to_quicklist()
            assert list(q) == model and q.block_count() == 1 and q.fill == p.fill


def test_limits(fill: None) -> None:
    limits.current.list_max_listpack_size = -2
    assert type(new_list([b"x"] * MAX_ENTRIES)) is PackedList
    assert type(new_list([b"x"] * (MAX_ENTRIES + 1))) is QuickList
    assert type(new_list([b"x" * (MAX_BYTES - 10)])) is PackedList
    assert type(new_list([b"x" * MAX_BYTES])) is QuickList
    limits.current.list_max_listpack_size = 3  # a positive fill: at most 3 per node
    assert type(new_list([b"x"] * 3)) is PackedList
    assert type(new_list([b"x"] * 4)) is QuickList
    p = pack([b"x"] * 3)
    assert p is not None and not p.fits(1, 1) and p.fill == 3


def test_copy_shares_nothing_mutable() -> None:
    p = pack([b"a", b"b"])
    assert p is not None
    q = p.copy()
    q.append(b"c")
    assert list(p) == [b"a", b"b"] and list(q) == [b"a", b"b", b"c"]


# --- against redis-server -------------------------------------------------------------------


def _ql(conn: redis.Redis, key: str) -> str:
    reply = conn.execute_command("DEBUG", "OBJECT", key)
    if isinstance(reply, dict):  # redis-py parses it
        return " ".join(f"{k}:{v}" for k, v in reply.items() if k.startswith("ql_"))
    return " ".join(f for f in reply.decode().split() if f.startswith("ql_"))


def _element(rnd: random.Random) -> bytes:
    k = rnd.random()
    if k < 0.6:
        return rnd.choice([b"a", b"b", b"c", b"7", b"-12", b"300"])
    if k < 0.95:
        return b"s" * rnd.randrange(1, 200)
    return b"L" * rnd.randrange(1500, 3000)  # past the packed byte limit at once


@pytest.mark.parametrize("fill_value", [-2, -1, 1, 3, 64, 200])
@pytest.mark.parametrize("protocol", [2, 3])
def test_random_commands_match_redis(
    server: ServerProcess, redis_server: ServerProcess, fill_value: int, protocol: int
) -> None:
    """Lists that grow past the packed limits and shrink again, with every command that
    changes or reads a list: same replies, same nodes (DEBUG OBJECT) as redis-server."""
    mk = server.client(protocol=protocol)
    rd = redis_server.client(protocol=protocol)
    rnd = random.Random(fill_value * 10 + protocol)
    try:
        for c in (mk, rd):
            c.flushall()
            c.config_set("list-max-listpack-size", fill_value)
        for step in range(400):
            key = rnd.choice(["k1", "k2"])
            other = "k2" if key == "k1" else "k1"
            op = rnd.randrange(14)
            items = [_element(rnd) for _ in range(rnd.choice([1, 1, 2, 5, 40]))]
            cmd: tuple[Any, ...]
            if op < 3:
                cmd = ("RPUSH", key, *items)
            elif op < 5:
                cmd = ("LPUSH", key, *items)
            elif op == 5:
                cmd = (rnd.choice(["LPOP", "RPOP"]), key, rnd.randrange(1, 30))
            elif op == 6:
                cmd = ("LSET", key, rnd.randrange(-5, 5), items[0])
            elif op == 7:
                cmd = ("LINSERT", key, rnd.choice(["BEFORE", "AFTER"]), b"a", items[0])
            elif op == 8:
                cmd = ("LREM", key, rnd.choice([0, 1, -2]), rnd.choice([b"a", b"b"]))
            elif op == 9:
                cmd = ("LTRIM", key, rnd.randrange(0, 4), -rnd.randrange(1, 4))
            elif op == 10:
                where = [rnd.choice(["LEFT", "RIGHT"]) for _ in range(2)]
                cmd = ("LMOVE", key, rnd.choice([key, other]), *where)
            elif op == 11:
                cmd = ("LPOS", key, b"a", "RANK", rnd.choice([1, -1, 2]), "COUNT", 0)
            elif op == 12:
                cmd = ("LRANGE", key, rnd.randrange(-10, 10), rnd.randrange(-10, 10))
            else:
                cmd = ("LINDEX", key, rnd.randrange(-10, 10))
            mine = theirs = None
            try:
                mine = mk.execute_command(*cmd)
            except redis.ResponseError as e:
                mine = str(e)
            try:
                theirs = rd.execute_command(*cmd)
            except redis.ResponseError as e:
                theirs = str(e)
            assert mine == theirs, f"step {step} {cmd[:3]}"
            for k in ("k1", "k2"):
                assert mk.exists(k) == rd.exists(k)
                if rd.exists(k):
                    assert _ql(mk, k) == _ql(rd, k), f"step {step} {cmd[:3]} {k}"
                    assert mk.object("encoding", k) == rd.object("encoding", k)
            if step % 50 == 0:
                for k in ("k1", "k2"):
                    assert mk.lrange(k, 0, -1) == rd.lrange(k, 0, -1)
    finally:
        for c in (mk, rd):
            c.config_set("list-max-listpack-size", -2)
            c.close()


def test_small_list_is_compact(r: redis.Redis) -> None:
    """A 2-element list costs a fraction of the QuickList it becomes past the limits."""
    r.delete("small", "big")
    r.rpush("small", "x1", "y1")
    r.rpush("big", *[b"v%d" % i for i in range(MAX_ENTRIES + 1)])
    r.ltrim("big", 0, 1)  # the same two-element shape, but a QuickList: never packed back
    assert r.lrange("small", 0, -1) == [b"x1", b"y1"]
    assert r.memory_usage("small") + 150 < r.memory_usage("big")
    assert r.object("encoding", "small") == r.object("encoding", "big") == b"quicklist"


def test_ttl_and_watch_across_the_crossing(r: redis.Redis, server: ServerProcess) -> None:
    r.delete("l")
    r.rpush("l", "a", "b")
    r.pexpire("l", 100_000)
    with server.client() as other:
        p = r.pipeline()
        p.watch("l")
        other.rpush("l", *[b"x"] * MAX_ENTRIES)  # past the limits: a QuickList now
        p.multi()
        p.get("nothing")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert 0 < r.pttl("l") <= 100_000
    assert r.llen("l") == MAX_ENTRIES + 2
    assert _ql(r, "l").startswith("ql_nodes:1 ")


def test_blocked_client_served_by_a_packed_list(server: ServerProcess) -> None:
    import threading

    with server.client() as a, server.client() as b:
        a.delete("bq")
        got: list[Any] = []
        t = threading.Thread(target=lambda: got.append(a.blpop(["bq"], timeout=10)))
        t.start()
        while not any(c.get("cmd") == "blpop" for c in b.client_list()):
            pass
        b.rpush("bq", "one", "two")
        t.join(10)
        assert got == [(b"bq", b"one")]
        assert b.lrange("bq", 0, -1) == [b"two"]


def test_copy_sort_and_dump(differential: Any) -> None:
    small = ("RPUSH", "s", "3", "1", "2")
    big = ("RPUSH", "b", *[b"%d" % (i % 7) for i in range(MAX_ENTRIES + 5)])
    differential.check(
        small,
        big,
        ("COPY", "s", "s2"),
        ("RPUSH", "s2", "9"),
        ("LRANGE", "s", 0, -1),
        ("LRANGE", "s2", 0, -1),
        ("SORT", "s"),
        ("SORT", "s", "STORE", "sorted"),
        ("LRANGE", "sorted", 0, -1),
        ("SORT", "b", "LIMIT", 0, 5, "STORE", "b5"),
        ("LRANGE", "b5", 0, -1),
        ("DUMP", "s"),
        ("DUMP", "b"),
        ("OBJECT", "ENCODING", "s"),
    )


@pytest.mark.parametrize("n", [2, MAX_ENTRIES + 3])
def test_dump_restore_round_trip(r: redis.Redis, redis_server: ServerProcess, n: int) -> None:
    items = [b"e%d" % i for i in range(n)]
    r.delete("l", "l2")
    r.rpush("l", *items)
    payload = r.dump("l")
    with redis_server.client() as rd:
        rd.delete("l")
        rd.rpush("l", *items)
        assert rd.dump("l") == payload  # Redis's own encoding
        rd.delete("l3")
        rd.restore("l3", 0, payload)
        assert _ql(rd, "l3") == _ql(r, "l")
    r.restore("l2", 0, payload)
    assert r.lrange("l2", 0, -1) == items
    assert _ql(r, "l2") == _ql(r, "l")
    assert r.dump("l2") == payload
