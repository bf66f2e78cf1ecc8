"""Small sorted sets kept packed (``minikv.zset.PackedZSet``): every command on both forms
against redis-server (differential, RESP2 and RESP3), crossing the thresholds both ways through
CONFIG SET, and what a differential test cannot see: the key's deadline kept across a write,
WATCH, a blocked client served from a packed set, snapshots in both forms (format 5), a format 4
file still loading packed, and crafted packed sets refused."""

from __future__ import annotations

import math
import shlex
import time
import zlib
from pathlib import Path
from typing import Any

import msgpack
import msgspec
import pytest
from conftest import Differential
from helpers import ServerProcess, wait_for

from minikv.persistence.format import encode_footer, load_values
from minikv.zset import PackedZSet, ZSet, stored


def cmds(text: str) -> list[tuple[str, ...]]:
    return [tuple(shlex.split(line)) for line in text.strip().splitlines() if line.strip()]


def test_reads_of_small_and_big_sets_differential(differential: Differential) -> None:
    differential.check(
        *cmds(
            """
            zadd s 1 a 2 b 2 bb 3 c -0 z inf i -inf ni
            object encoding s
            zcard s
            zscore s a
            zscore s z
            zscore s nosuch
            zmscore s a nosuch c
            zrank s c
            zrevrank s c
            zrank s nosuch
            zcount s 1 (3
            zlexcount s - +
            zrange s 0 -1
            zrange s 0 -1 withscores
            zrange s 1 3 withscores
            zrange s -2 -1
            zrange s 5 2
            zrange s 100 200 withscores
            zrange s 0 -1 rev withscores
            zrange s 1 2 rev
            zrevrange s 0 2 withscores
            zrange s (1 +inf byscore withscores limit 1 2
            zrange s +inf -inf byscore rev withscores
            zrange s - + bylex
            zrangebyscore s -inf inf withscores
            zrevrangebyscore s 3 1
            zscan s 0
            zrange s 0 -1 limit 0 1
            zunion 2 s s withscores
            zinter 2 s s weights 1 2 withscores
            zdiff 2 s s
            zintercard 1 s
            sort s by nosort
            sort s alpha desc limit 0 3
            type s
            get s
            lpush s x
            """
        )
    )


def test_writes_cross_the_thresholds_both_ways_differential(differential: Differential) -> None:
    differential.check(
        *cmds(
            """
            config set zset-max-listpack-entries 3
            zadd s 1 a 2 b 3 c
            object encoding s
            zadd s 4 d
            object encoding s
            zrem s d c b
            object encoding s
            zrange s 0 -1 withscores
            config set zset-max-listpack-entries 128
            zadd s 5 e
            object encoding s
            zadd t 1 a 2 b
            zincrby t 5 a
            zadd t xx ch gt 1 a 9 b
            zadd t nx 1 a 3 c
            zadd t incr 1 c
            zrange t 0 -1 withscores
            zpopmin t
            zpopmax t 5
            exists t
            zadd t 1 a 2 b 3 c 4 d
            zremrangebyrank t 0 0
            zremrangebyscore t 3 3
            zremrangebylex t - +
            exists t
            zadd u 1 a
            zadd u 2 abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz
            object encoding u
            config set zset-max-listpack-value 64
            zadd v 1 a 2 b 3 c
            zrangestore w v 0 1
            object encoding w
            zunionstore w2 2 v v
            object encoding w2
            zrange w2 0 -1 withscores
            config set zset-max-listpack-entries 1
            zadd v 4 d
            object encoding v
            zrangestore w3 v 0 -1
            object encoding w3
            config set zset-max-listpack-entries 128
            geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
            object encoding g
            geodist g Palermo Catania km
            geopos g Palermo nosuch
            geosearchstore g2 g fromlonlat 15 37 byradius 200 km asc
            object encoding g2
            zrange g2 0 -1 withscores
            copy v vc
            zadd vc 9 z
            zrange v 0 -1 withscores
            zrange vc 0 -1 withscores
            """
        )
    )


def test_dump_restore_of_a_small_set_differential(differential: Differential) -> None:
    out = differential.check(
        *cmds(
            """
            zadd s 1 a 2.5 b -0 c 1e100 d
            dump s
            """
        )
    )
    assert out[1].startswith(b"$")


def test_dump_payload_restores_packed(r: Any) -> None:
    r.zadd("s", {"a": 1, "b": 2.5})
    payload = r.dump("s")
    r.restore("t", 0, payload)
    assert r.object("encoding", "t") == b"listpack"
    assert list(map(tuple, r.zrange("t", 0, -1, withscores=True))) == [(b"a", 1.0), (b"b", 2.5)]
    r.zadd("t", {"c": 3})
    assert r.zcard("t") == 3


@pytest.mark.parametrize("command", ["zadd", "zincrby", "zrem", "zpopmin", "zrangestore"])
def test_a_write_keeps_the_deadline(r: Any, command: str) -> None:
    r.zadd("s", {"a": 1, "b": 2, "c": 3})
    r.expire("s", 1000)
    r.set("x", "1")
    if command == "zadd":
        r.zadd("s", {"d": 4})
    elif command == "zincrby":
        r.zincrby("s", 5, "a")
    elif command == "zrem":
        r.zrem("s", "a")
    elif command == "zpopmin":
        r.zpopmin("s")
    else:
        r.zrangestore("s", "s", 0, 0)  # a store replaces the key: Redis drops the deadline
        assert r.ttl("s") == -1
        return
    assert 990 <= r.ttl("s") <= 1000
    assert r.object("encoding", "s") == b"listpack"


def test_watch_sees_a_write_to_a_packed_set(r: Any, server: ServerProcess) -> None:
    r.zadd("s", {"a": 1})
    p = r.pipeline()
    p.watch("s")
    other = server.client()
    other.zadd("s", {"b": 2})
    p.multi()
    p.zcard("s")
    with pytest.raises(Exception, match="Watched variable changed"):
        p.execute()
    other.close()


def test_a_blocked_pop_is_served_from_a_packed_set(r: Any, server: ServerProcess) -> None:
    blocked = server.client()
    import threading

    got: list[Any] = []
    t = threading.Thread(target=lambda: got.append(blocked.bzpopmin("s", 10)))
    t.start()
    wait_for(lambda: r.info("clients")["blocked_clients"] == 1, what="blocked client")
    r.zadd("s", {"a": 1, "b": 2})
    t.join(10)
    assert list(got[0]) == [b"s", b"a", 1.0]
    assert list(map(tuple, r.zrange("s", 0, -1, withscores=True))) == [(b"b", 2.0)]
    blocked.close()


def test_snapshot_both_forms_across_a_restart(tmp_path: Path) -> None:
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        c.zadd("small", {"a": 1, "b": 2, "z": -0.0})
        c.expire("small", 1000)
        c.zadd("big", {f"m{i}": i for i in range(200)})
        c.zadd("wasbig", {f"m{i}": i for i in range(200)})
        c.zremrangebyrank("wasbig", 2, -1)
        assert c.object("encoding", "wasbig") == b"skiplist"
        c.execute_command("DEBUG", "RELOAD")
        assert c.object("encoding", "wasbig") == b"listpack"  # as Redis loads a small set
        assert c.object("encoding", "small") == b"listpack"
        assert c.object("encoding", "big") == b"skiplist"
        c.save()
        c.close()
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client(protocol=3)
        assert c.zrange("small", 0, -1, withscores=True) == [[b"z", 0.0], [b"a", 1.0], [b"b", 2.0]]
        assert 990 <= c.ttl("small") <= 1000
        assert c.object("encoding", "small") == b"listpack"
        assert c.zcard("big") == 200 and c.object("encoding", "big") == b"skiplist"
        assert c.zrange("wasbig", 0, -1) == [b"m0", b"m1"]
        c.zadd("small", {"c": 3})
        assert c.zrange("small", -1, -1) == [b"c"]
        c.close()


def test_a_packed_set_past_the_thresholds_loads_big(tmp_path: Path) -> None:
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        c.zadd("s", {"a": 1, "b": 2, "c": 3})
        c.save()
        c.close()
    with ServerProcess("--zset-max-listpack-entries", "2", dir=str(tmp_path)) as srv:
        c = srv.client()
        assert c.object("encoding", "s") == b"skiplist"
        assert c.zrange("s", 0, -1) == [b"a", b"b", b"c"]
        c.close()


def _write_v4(path: Path, chunk: dict[bytes, Any]) -> None:
    """A format 4 file as the previous writer wrote it: every sorted set a map."""
    header = {
        "magic": "MINIKV",
        "format": 4,
        "minikv": "0.1.0",
        "redis_compat": "7.0.15",
        "created_ms": int(time.time() * 1000),
        "functions": [],
    }
    body = msgpack.packb(header) + msgpack.packb([0, chunk, {}], use_bin_type=True)
    path.write_bytes(body + encode_footer(len(chunk), zlib.crc32(body)))


def test_a_format_4_file_loads_small_sets_packed(tmp_path: Path) -> None:
    _write_v4(
        tmp_path / "dump.mkv",
        {b"s": {b"b": 2.0, b"a": 1.0, b"z": -0.0}, b"big": {b"m%d" % i: 1.0 for i in range(200)}},
    )
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        assert c.object("encoding", "s") == b"listpack"
        assert c.zrange("s", 0, -1, withscores=True) == [(b"z", 0.0), (b"a", 1.0), (b"b", 2.0)]
        assert c.object("encoding", "big") == b"skiplist"
        assert c.zrangebylex("big", "[m98", "+") == [b"m98", b"m99"]
        c.close()


def _packed(flat: list[Any]) -> list[Any]:
    return ["zset", msgspec.msgpack.encode(flat)]


@pytest.mark.parametrize(
    "flat",
    [
        [],
        [b"a"],
        [b"b", 1.0, b"a", 1.0],  # members out of order
        [b"a", 2.0, b"b", 1.0],  # scores out of order
        [b"a", 1.0, b"a", 1.0],  # twice
        [b"a", 1.0, b"a", 2.0],
        [b"a", math.nan],
        [b"a", b"b"],
        [1.0, 1.0],
        ["a", 1.0],
    ],
)
def test_a_crafted_packed_set_is_refused(flat: list[Any]) -> None:
    data = {b"k": _packed(flat)}
    with pytest.raises(ValueError):
        load_values(data, 5)


def test_packed_sets_load_and_earlier_formats_refuse_them() -> None:
    data: dict[bytes, Any] = {b"k": _packed([b"a", 1.0, b"b", 1.0]), b"s": b"x"}
    load_values(data, 5)
    assert type(data[b"k"]) is PackedZSet
    assert data[b"k"].unpack() == {b"a": 1.0, b"b": 1.0}
    with pytest.raises(ValueError):
        load_values({b"k": _packed([b"a", 1.0])}, 4)


def test_pack_round_trip() -> None:
    scores = {b"m%d" % i: float(i % 7) for i in range(100)}
    z = ZSet.from_scores(scores)
    p = stored(z)
    assert type(p) is PackedZSet and len(p) == 100
    u = p.unpack()
    assert u == z and u.index == z.index and not u.big
    assert p.get(b"m3") == 3.0 and p.get(b"nosuch") is None
    assert type(stored(ZSet.from_scores({b"m%d" % i: 1.0 for i in range(200)}))) is ZSet
