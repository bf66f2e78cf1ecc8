"""MIGRATE against a real redis-server 7.0: the same replies and errors as Redis's for the same
calls (each source server moving keys into a third server of its own), keys of every type
moved minikv -> redis-server -> minikv with their TTLs, AUTH / AUTH2, COPY, REPLACE, KEYS,
SELECT of the target database, the cached connection surviving a target restart, and the
move propagated as DEL (so the append-only file replays it without migrating again)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import ServerProcess, free_port, run_raw, wait_for


@pytest.fixture
def target() -> Iterator[ServerProcess]:
    with ServerProcess(kind="redis") as t:
        yield t


def _both(
    server: ServerProcess, redis_server: ServerProcess, target: ServerProcess, cmds: list[Any]
) -> list[list[bytes]]:
    """The raw replies of ``cmds`` on minikv and on redis-server (``TARGET`` in a command
    is the target's port), the target flushed before each, and what the target then holds."""
    out = []
    for srv in (server, redis_server):
        run_raw(srv.port, [("FLUSHALL",)])
        run_raw(target.port, [("FLUSHALL",)])
        port = str(target.port)
        replies = run_raw(srv.port, [tuple(port if a == "TARGET" else a for a in c) for c in cmds])
        held = run_raw(target.port, [("KEYS", "*"), ("SELECT", "3"), ("KEYS", "*")])
        out.append([*replies, b"".join(sorted(held))])
    return out


CASES = {
    "moves": [
        ("SET", "k", "v"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000"),
        ("EXISTS", "k"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000"),
        ("SET", "k", "again"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000"),
        ("EXISTS", "k"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "REPLACE"),
        ("EXISTS", "k"),
    ],
    "copy and keys": [
        ("MSET", "a", "1", "b", "2", "c", "3"),
        ("MIGRATE", "127.0.0.1", "TARGET", "", "3", "5000", "COPY", "KEYS", "a", "nokey", "b"),
        ("EXISTS", "a", "b"),
        ("MIGRATE", "127.0.0.1", "TARGET", "", "3", "5000", "KEYS", "a", "b", "c"),
        ("EXISTS", "a", "b", "c"),
        ("MIGRATE", "127.0.0.1", "TARGET", "", "3", "5000", "REPLACE", "KEYS", "a", "b", "c"),
        ("EXISTS", "a", "b", "c"),
        ("MIGRATE", "127.0.0.1", "TARGET", "", "0", "5000", "KEYS", "nokey", "nokey2"),
        ("MIGRATE", "127.0.0.1", "TARGET", "nokey", "0", "5000"),
    ],
    "errors": [
        ("SET", "k", "v"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "NOPE"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "AUTH"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "AUTH2", "u"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "KEYS", "k"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "x", "5000"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "x"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "x", "x"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "99", "5000"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "AUTH", "secret"),
        ("MIGRATE", "127.0.0.1", "TARGET", "k", "0", "5000", "AUTH2", "u", "p"),
        ("MIGRATE", "127.0.0.1", "1", "k", "0", "100"),
        ("MIGRATE", "127.0.0.1", "nope", "k", "0", "100"),
        ("MIGRATE", "127.0.0.1", "TARGET"),
        ("EXISTS", "k"),
        ("GET", "k"),
    ],
    "ttl": [
        ("SET", "k", "v", "PX", "100000"),
        ("SET", "gone", "v", "PX", "1"),
        ("DEBUG", "SLEEP", "0.01"),
        ("MIGRATE", "127.0.0.1", "TARGET", "", "0", "5000", "KEYS", "gone", "k"),
        ("EXISTS", "k", "gone"),
    ],
}


@pytest.mark.parametrize("case", CASES)
def test_migrate_replies_match_redis(
    server: ServerProcess, redis_server: ServerProcess, target: ServerProcess, case: str
) -> None:
    mine, theirs = _both(server, redis_server, target, CASES[case])
    assert mine == theirs


def _closed_port() -> int:
    return free_port()  # nothing listens there


def test_unreachable_target_is_an_ioerr_and_keeps_the_key(server: ServerProcess) -> None:
    r = server.client()
    r.set("k", "v")
    # Refused: Redis finds out when it writes.
    with pytest.raises(redis.ResponseError, match="IOERR error or timeout writing"):
        r.migrate("127.0.0.1", _closed_port(), "k", 0, 200)
    # A host that cannot be resolved: the connect itself fails.
    with pytest.raises(redis.ResponseError, match="IOERR error or timeout connecting"):
        r.migrate("no-such-host.invalid", 6379, "k", 0, 200)
    assert r.get("k") == b"v"


def _state(r: redis.Redis, key: str) -> Any:
    kind = r.type(key)
    if kind == b"string":
        value: Any = r.get(key)
    elif kind == b"list":
        value = r.lrange(key, 0, -1)
    elif kind == b"hash":
        value = r.hgetall(key)
    elif kind == b"set":
        value = sorted(r.smembers(key))
    elif kind == b"zset":
        value = r.zrange(key, 0, -1, withscores=True)
    else:
        value = (r.xrange(key), r.xinfo_groups(key))
    return kind, value


def _fill(r: redis.Redis) -> list[str]:
    r.set("str", "x" * 3000)
    r.set("int", 12345)
    r.rpush("list", *[f"e{i}" for i in range(600)])
    r.hset("hash", mapping={f"f{i}": i for i in range(200)})
    r.sadd("set", *range(600))
    r.zadd("zset", {f"m{i}": i / 3 for i in range(300)})
    for i in range(50):
        r.xadd("stream", {"f": i}, id=f"1-{i + 1}")
    r.xgroup_create("stream", "g", "0")
    r.xreadgroup("g", "c", {"stream": ">"}, count=5)
    r.pexpire("hash", 500_000)
    return ["str", "int", "list", "hash", "set", "zset", "stream"]


def test_every_type_moves_to_redis_and_back(server: ServerProcess, target: ServerProcess) -> None:
    mk, rd = server.client(), target.client()
    keys = _fill(mk)
    before = {k: _state(mk, k) for k in keys}
    assert mk.migrate("127.0.0.1", target.port, keys, 0, 5000) == b"OK"
    assert mk.exists(*keys) == 0
    assert {k: _state(rd, k) for k in keys} == before
    assert 0 < rd.pttl("hash") <= 500_000
    with ServerProcess() as back:
        assert rd.migrate("127.0.0.1", back.port, keys, 0, 5000) == b"OK"
        b = back.client()
        assert {k: _state(b, k) for k in keys} == before
        assert 0 < b.pttl("hash") <= 500_000
        assert b.pttl("str") == -1


def test_auth_and_cached_connection(tmp_path: Path) -> None:
    with (
        ServerProcess() as src,
        ServerProcess("--requirepass", "s3cret", kind="redis", dir=str(tmp_path)) as dst,
    ):
        r = src.client()
        r.mset({"a": "1", "b": "2"})
        with pytest.raises(redis.ResponseError, match="Target instance replied with error: NOAUTH"):
            r.migrate("127.0.0.1", dst.port, "a", 0, 5000)
        assert r.exists("a") == 1
        assert r.migrate("127.0.0.1", dst.port, "a", 0, 5000, auth="s3cret") == b"OK"
        assert r.info("stats")["migrate_cached_sockets"] == 1
        d = redis.Redis(port=dst.port, password="s3cret")
        assert d.get("a") == b"1"
        # The target restarts: the cached connection is dead, and is replaced once.
        d.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert r.execute_command("MIGRATE", "127.0.0.1", dst.port, "b", 0, 5000, "AUTH2",
                                 "default", "s3cret") == b"OK"  # fmt: skip
        assert d.get("b") == b"2"


def test_migrate_propagates_as_del(tmp_path: Path, target: ServerProcess) -> None:
    """Replayed from the append-only file, MIGRATE is the DEL of what it moved: the key stays
    gone, and nothing is sent to the target again."""
    with ServerProcess("--appendonly", "yes", dir=str(tmp_path)) as s:
        r = s.client()
        r.set("moved", "v")
        r.set("copied", "v")
        r.migrate("127.0.0.1", target.port, "moved", 0, 5000)
        r.migrate("127.0.0.1", target.port, "copied", 0, 5000, copy=True)
        target.client().flushall()
        r.execute_command("DEBUG", "LOADAOF")
        assert r.exists("moved") == 0
        assert r.get("copied") == b"v"
        time.sleep(0.1)
        assert target.client().dbsize() == 0
        wait_for(lambda: r.ping(), what="server up")
