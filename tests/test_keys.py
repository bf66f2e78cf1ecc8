"""Generic key commands: DEL UNLINK EXISTS TOUCH TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX COPY
MOVE OBJECT DBSIZE FLUSHDB FLUSHALL SWAPDB, against redis-server where replies are
deterministic, and KEYS/SCAN glob patterns compared with redis-server as sets."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis
from helpers import ServerProcess


def _clients(server: ServerProcess, redis_server: ServerProcess) -> tuple[Any, Any]:
    mk, rd = server.client(), redis_server.client()
    mk.flushall()
    rd.flushall()
    return mk, rd


# --- DEL EXISTS TOUCH TYPE ------------------------------------------------------------------


def test_del_exists_touch_unlink(r: redis.Redis) -> None:
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.exists("a", "a", "nope", "b") == 3
    assert r.touch("a", "nope") == 1
    assert r.delete("a", "a", "nope") == 1
    assert r.unlink("b", "c") == 2
    assert r.exists("a", "b", "c") == 0
    assert r.dbsize() == 0


def test_del_family_differential(differential: Any) -> None:
    differential.check(
        ("SET", "a", "1"),
        ("SET", "b", "2"),
        ("EXISTS", "a", "b", "a", "nope"),
        ("TOUCH", "a", "nope", "b"),
        ("DEL", "a", "nope", "a"),
        ("UNLINK", "b", "b"),
        ("EXISTS", "a", "b"),
        ("DEL",),
        ("UNLINK",),
        ("EXISTS",),
        ("TOUCH",),
        ("TYPE", "nope"),
        ("SET", "s", "x"),
        ("TYPE", "s"),
        ("TYPE",),
        ("TYPE", "s", "extra"),
    )


# --- OBJECT ------------------------------------------------------------------------------------


def test_object_differential(differential: Any) -> None:
    differential.check(
        ("SET", "small", "123"),
        ("SET", "big", "123456"),
        ("SET", "neg", "-42"),
        ("SET", "negzero", "-0"),
        ("SET", "lead0", "007"),
        ("SET", "plus", "+5"),
        ("SET", "llmin", "-9223372036854775808"),
        ("SET", "over", "9223372036854775808"),
        ("SET", "twenty1", "123456789012345678901"),
        ("SET", "e44", "x" * 44),
        ("SET", "r45", "x" * 45),
        ("SET", "empty", ""),
        *[
            ("OBJECT", sub, key)
            for sub in ("ENCODING", "REFCOUNT")
            for key in (
                "small",
                "big",
                "neg",
                "negzero",
                "lead0",
                "plus",
                "llmin",
                "over",
                "twenty1",
                "e44",
                "r45",
                "empty",
                "missing",
            )
        ],
        ("OBJECT", "FREQ", "small"),
        ("OBJECT", "FREQ", "missing"),
        ("OBJECT", "IDLETIME", "missing"),
        ("OBJECT", "HELP"),
        ("object", "help"),
        ("OBJECT", "NOPE", "x"),
        ("OBJECT", "ENCODING"),
        ("OBJECT", "ENCODING", "a", "b"),
        ("OBJECT", "HELP", "x"),
        ("OBJECT",),
    )


def test_object_idletime(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.object("idletime", "k") == 0
    assert r.object("idletime", "nope") is None


# --- KEYS and glob patterns ---------------------------------------------------------------------

TRICKY_PATTERNS = [
    b"*",
    b"**",
    b"",
    b"?",
    b"??",
    b"a*",
    b"*a",
    b"*a*",
    b"a*b*c",
    b"*b*",
    b"[abc]",
    b"[^a]*",
    b"[a-c]*",
    b"[c-a]*",
    b"[a-]*",
    b"[-a]*",
    b"[]]*",
    b"[]",
    b"[^]",
    b"[^",
    b"[",
    b"[ab",
    b"\\*",
    b"\\?",
    b"\\[*",
    b"a\\",
    b"\\",
    b"[\\]]*",
    b"[\\",
    b"[a\\-c]",
    b"*[a-\xff]",
    b"[\x80-\xff]*",
    b"*\\",
    b"h?llo",
    b"h*llo",
    b"h[ae]llo",
    b"h[^e]llo",
    b"*a*a*a*a*a*b",
]

KEY_CORPUS = [
    b"",
    b"a",
    b"b",
    b"c",
    b"-",
    b"]",
    b"[",
    b"^",
    b"\\",
    b"*",
    b"?",
    b"ab",
    b"abc",
    b"a-c",
    b"ba",
    b"hello",
    b"hallo",
    b"hxllo",
    b"hllo",
    b"heeeello",
    b"\x80",
    b"\xff",
    b"a\xfe",
    b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    b"\x00a",
    b"a\\",
    b"*x",
    b"[x",
]


def _load(clients: tuple[Any, Any], keys: list[bytes]) -> None:
    for c in clients:
        c.flushall()
        c.mset({k: b"v" for k in keys})


def test_keys_tricky_patterns_match_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    mk, rd = _clients(server, redis_server)
    _load((mk, rd), KEY_CORPUS)
    for pat in TRICKY_PATTERNS:
        assert sorted(mk.keys(pat)) == sorted(rd.keys(pat)), pat


def test_keys_random_patterns_match_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    rng = random.Random(7)
    alphabet = [b"a", b"b", b"c", b"-", b"]", b"[", b"^", b"\\", b"*", b"?", b"\x80", b"\xff"]
    keys = sorted({b"".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(150)})
    mk, rd = _clients(server, redis_server)
    _load((mk, rd), keys)
    pipe_mk, pipe_rd = mk.pipeline(transaction=False), rd.pipeline(transaction=False)
    patterns = [b"".join(rng.choices(alphabet, k=rng.randint(0, 7))) for _ in range(800)]
    for pat in patterns:
        pipe_mk.keys(pat)
        pipe_rd.keys(pat)
    for pat, a, b in zip(patterns, pipe_mk.execute(), pipe_rd.execute(), strict=True):
        assert sorted(a) == sorted(b), pat


def test_keys_star_nesting_limit(server: ServerProcess, redis_server: ServerProcess) -> None:
    # Redis gives up on patterns that recurse through more than 1000 stars.
    mk, rd = _clients(server, redis_server)
    _load((mk, rd), [b"a" * 1100, b"ab"])
    for pat in (b"*a" * 1000, b"*a" * 1001, b"*a" * 1001 + b"*", b"a*" * 1001):
        assert sorted(mk.keys(pat)) == sorted(rd.keys(pat)), pat[:12]


def test_keys_differential(differential: Any) -> None:
    differential.check(
        ("KEYS", "*"),
        ("SET", "hello", "1"),
        ("KEYS", "*"),
        ("KEYS", "h?llo"),
        ("KEYS", "h[^e]llo"),
        ("KEYS", "nomatch*"),
        ("KEYS",),
        ("KEYS", "a", "b"),
    )


def test_keys_all_dbs_and_empty_key(r: redis.Redis) -> None:
    r.set("", "empty")
    r.set("x", "1")
    assert sorted(r.keys("*")) == [b"", b"x"]
    assert r.keys("**") == [b"x"]  # as Redis: only exactly "*" matches the empty key


# --- SCAN --------------------------------------------------------------------------------------


def _full_scan(r: redis.Redis, **kw: Any) -> list[bytes]:
    out: list[bytes] = []
    cursor = 0
    calls = 0
    while True:
        cursor, keys = r.scan(cursor, **kw)
        out.extend(keys)
        calls += 1
        assert calls < 5000
        if cursor == 0:
            return out


def test_scan_returns_every_key_once(r: redis.Redis) -> None:
    keys = [f"key:{i}".encode() for i in range(600)]
    r.mset({k: b"v" for k in keys})
    got = _full_scan(r)
    assert sorted(got) == sorted(keys)
    got = _full_scan(r, count=1)
    assert sorted(got) == sorted(keys)
    got = _full_scan(r, count=1000)
    assert sorted(got) == sorted(keys)


def test_scan_count_bounds_work(r: redis.Redis) -> None:
    r.mset({f"k{i}": "v" for i in range(3000)})
    cursor, keys = r.scan(0, count=20)
    assert cursor != 0
    # Whole shards are returned until COUNT keys were seen: COUNT plus less than one shard.
    assert 20 <= len(keys) < 60


def test_scan_match_and_type(r: redis.Redis) -> None:
    r.mset({f"user:{i}": "v" for i in range(50)})
    r.mset({f"item:{i}": "v" for i in range(50)})
    assert sorted(_full_scan(r, match="user:*")) == sorted(f"user:{i}".encode() for i in range(50))
    assert _full_scan(r, match="user:4?", count=5) != []
    assert len(_full_scan(r, _type="string")) == 100
    assert len(_full_scan(r, _type="STRING")) == 100
    assert _full_scan(r, _type="list") == []
    assert _full_scan(r, match="nomatch*") == []


def test_scan_guarantee_under_changes(r: redis.Redis) -> None:
    stable = {f"stable:{i}".encode() for i in range(300)}
    r.mset({k: b"v" for k in stable})
    seen: set[bytes] = set()
    cursor = 0
    i = 0
    while True:
        cursor, keys = r.scan(cursor, count=15)
        seen.update(keys)
        # Keys come and go while the iteration runs.
        r.set(f"new:{i}", "v")
        r.delete(f"new:{i - 3}")
        i += 1
        if cursor == 0:
            break
    assert stable <= seen


def test_scan_differential(differential: Any) -> None:
    differential.check(
        ("SCAN", "0"),
        # Large cursors only on an empty database: Redis masks them into its table size.
        ("SCAN", "-1"),
        ("SCAN", "18446744073709551615"),
        ("SET", "k", "v"),
        ("SCAN", "0"),
        ("SCAN", "0", "MATCH", "k*", "COUNT", "5"),
        ("SCAN", "0", "MATCH", "x*"),
        ("SCAN", "0", "TYPE", "string"),
        ("SCAN", "0", "TYPE", "hash"),
        ("SCAN", "0", "type", "STRING", "match", "*"),
        ("SCAN", "0", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "-1"),
        ("SCAN", "0", "COUNT", "x"),
        ("SCAN", "0", "COUNT"),
        ("SCAN", "0", "MATCH"),
        ("SCAN", "0", "BOGUS", "1"),
        ("SCAN", "x"),
        ("SCAN", " 1"),
        ("SCAN", "1 "),
        ("SCAN", "1.5"),
        ("SCAN", "18446744073709551616"),
        ("SCAN", ""),
        ("SCAN", "+0"),
        ("SCAN", "-"),
        ("SCAN",),
    )


# --- RANDOMKEY ---------------------------------------------------------------------------------


def test_randomkey(r: redis.Redis) -> None:
    assert r.randomkey() is None
    keys = {f"k{i}".encode() for i in range(20)}
    r.mset({k: b"v" for k in keys})
    picks = {r.randomkey() for _ in range(200)}
    assert picks <= keys
    assert len(picks) > 5


def test_randomkey_differential(differential: Any) -> None:
    differential.check(
        ("RANDOMKEY",),
        ("SET", "only", "1"),
        ("RANDOMKEY",),
        ("RANDOMKEY", "x"),
    )


# --- RENAME RENAMENX -----------------------------------------------------------------------------


def test_rename_differential(differential: Any) -> None:
    differential.check(
        ("RENAME", "nope", "x"),
        ("RENAMENX", "nope", "x"),
        ("RENAME", "nope", "nope"),
        ("SET", "a", "1"),
        ("RENAME", "a", "a"),
        ("RENAMENX", "a", "a"),
        ("RENAME", "a", "b"),
        ("GET", "a"),
        ("GET", "b"),
        ("SET", "c", "3"),
        ("RENAMENX", "b", "c"),
        ("GET", "b"),
        ("RENAME", "b", "c"),
        ("GET", "c"),
        ("EXISTS", "b"),
        ("RENAMENX", "c", "d"),
        ("GET", "d"),
        ("RENAME", "d"),
        ("RENAME", "d", "e", "f"),
    )


# --- COPY MOVE ---------------------------------------------------------------------------------


def test_copy_differential(differential: Any) -> None:
    differential.check(
        ("COPY", "nope", "x"),
        ("SET", "a", "1"),
        ("COPY", "a", "a"),
        ("COPY", "a", "a", "DB", "0"),
        ("COPY", "a", "b"),
        ("GET", "b"),
        ("SET", "a", "2"),
        ("COPY", "a", "b"),
        ("GET", "b"),
        ("COPY", "a", "b", "REPLACE"),
        ("GET", "b"),
        ("COPY", "a", "a", "DB", "1"),
        ("COPY", "a", "a", "db", "1"),
        ("COPY", "a", "b", "DB", "1", "replace"),
        ("COPY", "a", "b", "DB", "16"),
        ("COPY", "a", "b", "DB", "-1"),
        ("COPY", "a", "b", "DB", "x"),
        ("COPY", "a", "b", "DB", "4294967296"),
        ("COPY", "a", "b", "DB"),
        ("COPY", "a", "b", "BOGUS"),
        ("COPY", "a"),
        ("SELECT", "1"),
        ("GET", "a"),
        ("GET", "b"),
    )


def test_move_differential(differential: Any) -> None:
    differential.check(
        ("MOVE", "nope", "1"),
        ("SET", "a", "1"),
        ("MOVE", "a", "0"),
        ("MOVE", "a", "16"),
        ("MOVE", "a", "-1"),
        ("MOVE", "a", "x"),
        ("MOVE", "a", "2147483648"),
        ("MOVE", "a", "1"),
        ("EXISTS", "a"),
        ("SET", "a", "again"),
        ("SELECT", "1"),
        ("GET", "a"),
        ("MOVE", "a", "0"),
        ("SELECT", "0"),
        ("GET", "a"),
        ("MOVE", "a"),
    )


def test_copy_move_across_dbs(server: ServerProcess, r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.copy("k", "k2", destination_db=3) is True
    assert r.move("k", 3) is True
    db3 = server.client(db=3)
    try:
        assert db3.mget("k", "k2") == [b"v", b"v"]
        assert r.exists("k") == 0
    finally:
        db3.close()


# --- DBSIZE FLUSHDB FLUSHALL SWAPDB -------------------------------------------------------------


def test_db_commands_differential(differential: Any) -> None:
    differential.check(
        ("DBSIZE",),
        ("SET", "a", "1"),
        ("SET", "b", "2"),
        ("DBSIZE",),
        ("SELECT", "1"),
        ("SET", "c", "3"),
        ("DBSIZE",),
        ("FLUSHDB",),
        ("DBSIZE",),
        ("SELECT", "0"),
        ("DBSIZE",),
        ("SWAPDB", "0", "1"),
        ("DBSIZE",),
        ("SELECT", "1"),
        ("DBSIZE",),
        ("GET", "a"),
        ("SWAPDB", "1", "1"),
        ("SWAPDB", "0", "16"),
        ("SWAPDB", "16", "x"),
        ("SWAPDB", "x", "0"),
        ("SWAPDB", "-1", "0"),
        ("SWAPDB", "0", "2147483648"),
        ("SWAPDB", "0"),
        ("FLUSHDB", "ASYNC"),
        ("FLUSHDB", "sync"),
        ("FLUSHDB", "bogus"),
        ("FLUSHDB", "ASYNC", "SYNC"),
        ("FLUSHALL", "SYNC"),
        ("FLUSHALL", "async"),
        ("FLUSHALL", "x"),
        ("DBSIZE", "x"),
        ("SET", "a", "1"),
        ("FLUSHALL",),
        ("DBSIZE",),
    )


def test_swapdb_seen_by_connected_clients(server: ServerProcess, r: redis.Redis) -> None:
    db1 = server.client(db=1)
    try:
        r.set("in0", "zero")
        db1.set("in1", "one")
        assert r.swapdb(0, 1) is True
        # Clients stay on their database number and see the other's data.
        assert r.get("in1") == b"one"
        assert r.get("in0") is None
        assert db1.get("in0") == b"zero"
    finally:
        db1.close()


# --- WATCH sees every change -------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        [("RENAME", "w", "other")],
        [("RENAME", "other", "w")],
        [("RENAMENX", "other", "w2"), ("RENAME", "w2", "w")],
        [("COPY", "other", "w", "REPLACE")],
        [("MOVE", "w", "1")],
        [("SELECT", "1"), ("SET", "w", "1"), ("SWAPDB", "1", "0")],
        [("FLUSHDB",)],
        [("FLUSHALL",)],
        [("SWAPDB", "0", "1")],
        [("SELECT", "1"), ("SET", "w", "x"), ("SWAPDB", "0", "1")],
        [("EXPIRE", "w", "100")],
        [("EXPIRE", "w", "-1")],
        [("DEL", "w")],
        [("UNLINK", "w")],
    ],
)
def test_watch_sees_change(differential: Any, change: list[tuple[str, ...]]) -> None:
    replies = differential.check(
        ("SET", "w", "1"),
        ("SET", "other", "2"),
        ("PEXPIRE", "other", "1000000"),
        ("WATCH", "w"),
        *change,
        ("SELECT", "0"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
    )
    assert replies[-1] in (b"*-1\r\n", b"_\r\n")  # the transaction was aborted


def test_watch_untouched_by_flush_of_missing_key(differential: Any) -> None:
    # Redis only dirties WATCHes of keys that existed in the flushed/swapped databases.
    replies = differential.check(
        ("SET", "x", "1"),
        ("WATCH", "w"),
        ("FLUSHDB",),
        ("SWAPDB", "0", "2"),
        ("PERSIST", "nope"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
    )
    assert replies[-1] == b"*1\r\n+PONG\r\n"
