"""Read lookups, against a real redis-server: keyspace_hits / keyspace_misses and the ``m``
(key-miss) class of keyspace notifications.

Redis counts a hit or a miss, and publishes ``keymiss`` on a miss, for each key a command
*reads* (lookupKeyRead) and not for the keys a write looks up to change them (lookupKeyWrite),
nor for EXISTS-like checks with LOOKUP_NONOTIFY. Which commands read which keys is Redis's
choice command by command, so each one is run here on both servers, on present and missing
keys and keys of the wrong type, and the counters' deltas and the events published after each
are compared.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Raw, ServerProcess, encode, run_raw

SETUP: list[tuple[Any, ...]] = [
    ("FLUSHALL",),
    ("SET", "s", "5"),
    ("HSET", "h", "f", "v"),
    ("RPUSH", "l", "a", "b"),
    ("SADD", "st", "a", "b"),
    ("ZADD", "z", "1", "a", "2", "b"),
]

M = "nokey"  # never present

COMMANDS: list[tuple[Any, ...]] = [
    # strings
    ("GET", "s"),
    ("GET", M),
    ("GET", "h"),
    ("MGET", "s", M, "h"),
    ("STRLEN", "s"),
    ("STRLEN", M),
    ("GETRANGE", M, "0", "1"),
    ("SUBSTR", "s", "0", "1"),
    ("GETBIT", M, "1"),
    ("BITCOUNT", M),
    ("LCS", "s", M),
    ("GETDEL", M),
    ("GETEX", M),
    ("GETEX", "s", "PERSIST"),
    ("SET", "s", "6", "GET"),
    ("SET", M, "6", "GET"),
    ("DEL", "nokey"),
    ("GETSET", M, "x"),
    ("DEL", M),
    ("APPEND", M, "x"),
    ("DEL", M),
    ("INCR", M),
    ("DEL", M),
    ("SETRANGE", M, "0", "x"),
    ("DEL", M),
    ("SETBIT", M, "1", "1"),
    ("DEL", M),
    ("SETNX", M, "x"),
    ("DEL", M),
    ("MSETNX", M, "x"),
    ("DEL", M),
    # keys
    ("EXISTS", "s", M),
    ("TYPE", M),
    ("TYPE", "s"),
    ("TTL", M),
    ("PTTL", "s"),
    ("EXPIRETIME", M),
    ("PEXPIRETIME", "s"),
    ("TOUCH", "s", M),
    ("OBJECT", "ENCODING", M),
    ("OBJECT", "ENCODING", "s"),
    ("OBJECT", "REFCOUNT", "s"),
    ("EXPIRE", M, "100"),
    ("PERSIST", M),
    ("RENAME", M, "x"),
    ("RENAMENX", M, "x"),
    ("COPY", M, "x"),
    ("COPY", "s", "s2"),
    ("MOVE", M, "1"),
    ("DEL", "s2", M),
    ("UNLINK", M),
    ("SCAN", "0", "TYPE", "string"),
    ("RANDOMKEY",),
    ("KEYS", "*"),
    ("DBSIZE",),
    # hashes
    ("HGET", "h", "f"),
    ("HGET", M, "f"),
    ("HMGET", M, "f"),
    ("HGETALL", M),
    ("HKEYS", M),
    ("HVALS", M),
    ("HLEN", M),
    ("HEXISTS", M, "f"),
    ("HSTRLEN", M, "f"),
    ("HRANDFIELD", M),
    ("HSCAN", M, "0"),
    ("HDEL", M, "f"),
    ("HINCRBY", M, "f", "1"),
    ("DEL", M),
    ("HSETNX", M, "f", "v"),
    ("DEL", M),
    # lists
    ("LLEN", M),
    ("LRANGE", M, "0", "-1"),
    ("LRANGE", "l", "0", "-1"),
    ("LINDEX", M, "0"),
    ("LPOS", M, "a"),
    ("LPOP", M),
    ("RPOP", M),
    ("LMPOP", "2", M, "l", "LEFT"),
    ("RPUSH", "l", "a"),
    ("LPUSHX", M, "a"),
    ("LREM", M, "0", "a"),
    ("LTRIM", M, "0", "1"),
    ("LSET", M, "0", "a"),
    ("LINSERT", M, "BEFORE", "a", "b"),
    ("LMOVE", M, "l", "LEFT", "LEFT"),
    ("RPOPLPUSH", M, "l"),
    ("BLPOP", M, "l", "0.01"),
    ("BLMOVE", M, "l", "LEFT", "RIGHT", "0.01"),
    # sets
    ("SCARD", M),
    ("SISMEMBER", M, "a"),
    ("SMISMEMBER", M, "a"),
    ("SMEMBERS", M),
    ("SRANDMEMBER", M),
    ("SSCAN", M, "0"),
    ("SINTER", "st", M),
    ("SUNION", "st", M),
    ("SDIFF", "st", M),
    ("SINTERCARD", "2", "st", M),
    ("SINTERSTORE", "dst", "st", M),
    ("SUNIONSTORE", "dst", "st", M),
    ("SDIFFSTORE", "dst", "st", M),
    ("SMOVE", M, "st", "a"),
    ("SPOP", M),
    ("SREM", M, "a"),
    ("DEL", "dst"),
    # sorted sets
    ("ZCARD", M),
    ("ZSCORE", M, "a"),
    ("ZMSCORE", M, "a"),
    ("ZRANK", M, "a"),
    ("ZREVRANK", "z", "a"),
    ("ZCOUNT", M, "0", "1"),
    ("ZLEXCOUNT", M, "-", "+"),
    ("ZRANGE", M, "0", "-1"),
    ("ZRANGE", "z", "0", "-1"),
    ("ZREVRANGE", M, "0", "-1"),
    ("ZRANGEBYSCORE", M, "0", "1"),
    ("ZREVRANGEBYSCORE", M, "1", "0"),
    ("ZRANGEBYLEX", M, "-", "+"),
    ("ZREVRANGEBYLEX", M, "+", "-"),
    ("ZRANDMEMBER", M),
    ("ZSCAN", M, "0"),
    ("ZUNION", "2", "z", M),
    ("ZINTER", "2", "z", M),
    ("ZDIFF", "2", "z", M),
    ("ZINTERCARD", "2", "z", M),
    ("ZUNIONSTORE", "dst", "2", "z", M),
    ("ZINTERSTORE", "dst", "2", "z", M),
    ("ZDIFFSTORE", "dst", "2", "z", M),
    ("ZRANGESTORE", "dst", M, "0", "-1"),
    ("ZRANGESTORE", "dst", "z", "0", "-1"),
    ("ZINCRBY", M, "1", "a"),
    ("DEL", M, "dst"),
    ("ZREM", M, "a"),
    ("ZPOPMIN", M),
    ("ZMPOP", "2", M, "z", "MIN"),
    ("ZREMRANGEBYRANK", M, "0", "1"),
    ("BZPOPMIN", M, "z", "0.01"),
    # transactions and scripts read through the same lookups
    ("WATCH", M),
    ("UNWATCH",),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", M),
]


def _stats(raw: Raw) -> tuple[int, int]:
    text = raw.request(encode("INFO", "stats")).decode()
    fields = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


def _observe(srv: ServerProcess, flags: str) -> list[Any]:
    run_raw(srv.port, [*SETUP, ("CONFIG", "SET", "notify-keyspace-events", flags)])
    out: list[Any] = []
    with Raw(srv.port) as sub, Raw(srv.port) as c:
        sub.request(encode("PSUBSCRIBE", "__key*__:*"))
        for i, cmd in enumerate(COMMANDS):
            h0, m0 = _stats(c)
            c.request(encode(*cmd))
            h1, m1 = _stats(c)
            c.request(encode("PUBLISH", "__keyevent@0__:mark", str(i)))
            out.append((cmd, h1 - h0, m1 - m0))
        c.request(encode("PUBLISH", "__keyevent@0__:mark", "end"))
        events = b""
        while not events.endswith(b"$3\r\nend\r\n"):
            chunk = sub.sock.recv(65536)
            assert chunk, "subscriber closed"
            events += chunk
    run_raw(srv.port, [("CONFIG", "SET", "notify-keyspace-events", "")])
    out.append(events)
    return out


@pytest.mark.parametrize("flags", ["KEm", "Em", "KEA"])
def test_read_lookups_match_redis(
    server: ServerProcess, redis_server: ServerProcess, flags: str
) -> None:
    ours, theirs = _observe(server, flags), _observe(redis_server, flags)
    for a, b in zip(ours[:-1], theirs[:-1], strict=True):
        assert a == b, f"minikv {a} != redis {b}"
    assert ours[-1] == theirs[-1]
    if "m" in flags:
        assert b"keymiss" in ours[-1]
