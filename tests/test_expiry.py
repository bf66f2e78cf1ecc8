"""Expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT), TTL PTTL EXPIRETIME PEXPIRETIME
PERSIST, lazy expiry on access, the active expire cycle, and TTLs carried by RENAME MOVE COPY
SWAPDB. Differential checks use absolute far-future deadlines so every reply is deterministic."""

from __future__ import annotations

import time
from typing import Any

import redis
from helpers import ServerProcess

from minikv.keyspace import Keyspace, now_ms

FAR = 4_000_000_000  # seconds since the epoch, year 2096
FAR2 = 4_100_000_000


def _poll(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# --- setting deadlines -----------------------------------------------------------------------


def test_expire_options_differential(differential: Any) -> None:
    differential.check(
        ("EXPIRE", "nope", "100"),
        ("EXPIREAT", "nope", str(FAR)),
        ("SET", "k", "v"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("EXPIREAT", "k", str(FAR), "XX"),
        ("EXPIREAT", "k", str(FAR), "GT"),
        ("EXPIREAT", "k", str(FAR), "LT"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", str(FAR2), "NX"),
        ("EXPIREAT", "k", str(FAR), "nx"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("EXPIREAT", "k", str(FAR2), "XX", "LT"),
        ("EXPIREAT", "k", str(FAR - 1), "XX", "LT"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", str(FAR - 1), "GT"),
        ("EXPIREAT", "k", str(FAR2), "gt", "xx"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", str(FAR * 1000 + 1)),
        ("PEXPIRETIME", "k"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", str(FAR * 1000 + 1), "GT"),
        ("PEXPIREAT", "k", str(FAR * 1000 + 2), "GT", "GT"),
        ("PEXPIRETIME", "k"),
        ("PERSIST", "k"),
        ("PERSIST", "k"),
        ("PERSIST", "nope"),
        ("EXPIRETIME", "k"),
        ("EXPIRETIME", "nope"),
        ("PEXPIRETIME", "nope"),
        ("TTL", "k"),
        ("PTTL", "k"),
        ("TTL", "nope"),
        ("PTTL", "nope"),
    )


def test_expire_errors_differential(differential: Any) -> None:
    big = "9223372036854775807"
    differential.check(
        ("SET", "k", "v"),
        ("EXPIRE", "k", "10", "NX", "XX"),
        ("EXPIRE", "k", "10", "NX", "GT"),
        ("EXPIRE", "k", "10", "LT", "NX"),
        ("EXPIRE", "k", "10", "GT", "LT"),
        ("EXPIRE", "k", "10", "XX", "GT", "LT"),
        ("EXPIRE", "k", "10", "NX", "GT", "LT"),
        ("EXPIRE", "k", "10", "BOGUS"),
        ("EXPIRE", "k", "10", "NX", "bogus"),
        ("EXPIRE", "k", "x", "NX", "XX"),
        ("EXPIRE", "k", "x"),
        ("EXPIRE", "k", "1.5"),
        ("EXPIRE", "k", ""),
        ("EXPIRE", "nope", "x"),
        ("EXPIRE", "k", "9223372036854776"),
        ("EXPIRE", "k", "-9223372036854776"),
        ("EXPIRE", "k", "9223372036854775"),
        ("EXPIREAT", "k", "9223372036854776"),
        ("PEXPIRE", "k", big),
        ("PEXPIREAT", "k", big),
        ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", "9223372036854775808"),
        ("EXPIRE", "k"),
        ("PEXPIRE",),
        ("TTL", "k", "x"),
        ("PERSIST",),
        ("EXPIRETIME",),
    )


def test_past_deadline_deletes_differential(differential: Any) -> None:
    differential.check(
        ("SET", "a", "1"),
        ("EXPIRE", "a", "-1"),
        ("EXISTS", "a"),
        ("SET", "b", "1"),
        ("EXPIREAT", "b", "1"),
        ("EXISTS", "b"),
        ("SET", "c", "1"),
        ("PEXPIRE", "c", "0"),
        ("EXISTS", "c"),
        ("SET", "d", "1"),
        ("PEXPIREAT", "d", "-9223372036854775808"),
        ("EXISTS", "d"),
        ("SET", "e", "1"),
        ("EXPIRE", "e", "-9223372036854775"),
        ("EXISTS", "e"),
        ("SET", "f", "1"),
        ("EXPIREAT", "f", str(FAR)),
        ("EXPIRE", "f", "-5", "GT"),
        ("EXPIRE", "f", "-5", "LT"),
        ("EXISTS", "f"),
        ("SET", "g", "1"),
        ("EXPIRE", "g", "-5", "LT"),
        ("EXISTS", "g"),
        ("SET", "h", "1"),
        ("EXPIRE", "h", "-5", "XX"),
        ("EXPIRE", "h", "-5", "GT"),
        ("EXPIRE", "h", "-5", "NX"),
        ("EXISTS", "h"),
        ("DBSIZE",),
    )


def test_ttl_semantics(r: redis.Redis) -> None:
    assert r.ttl("nope") == -2
    assert r.pttl("nope") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99_000 <= r.pttl("k") <= 100_000
    assert r.pexpire("k", 5500) is True
    assert 5 <= r.ttl("k") <= 6  # rounded to the nearest second, as Redis
    t = int(time.time())
    assert r.expireat("k", t + 1000) is True
    assert r.expiretime("k") == t + 1000
    assert 998 <= r.ttl("k") <= 1000
    assert r.persist("k") is True
    assert r.ttl("k") == -1


def test_set_drops_ttl_and_keepttl_keeps_it(differential: Any) -> None:
    differential.check(
        ("SET", "k", "v"),
        ("EXPIREAT", "k", str(FAR)),
        ("INCR", "n"),
        ("EXPIREAT", "n", str(FAR)),
        ("INCR", "n"),
        ("EXPIRETIME", "n"),
        ("SET", "k", "v2", "KEEPTTL"),
        ("EXPIRETIME", "k"),
        ("SET", "k", "v3"),
        ("EXPIRETIME", "k"),
        ("TTL", "k"),
        ("SET", "k", "v4", "EXAT", str(FAR2)),
        ("EXPIRETIME", "k"),
        ("SET", "k", "v5", "PXAT", str(FAR * 1000 + 7)),
        ("PEXPIRETIME", "k"),
    )


def test_ttl_moves_with_rename_move_copy_swapdb(differential: Any) -> None:
    differential.check(
        ("SET", "src", "v"),
        ("EXPIREAT", "src", str(FAR)),
        ("SET", "dst", "old"),
        ("EXPIREAT", "dst", str(FAR2)),
        ("RENAME", "src", "dst"),
        ("EXPIRETIME", "dst"),
        ("EXPIRETIME", "src"),
        ("SET", "plain", "p"),
        ("RENAME", "plain", "dst"),
        ("EXPIRETIME", "dst"),  # dst's deadline is gone with its old value
        ("EXPIREAT", "dst", str(FAR)),
        ("RENAMENX", "dst", "n1"),
        ("EXPIRETIME", "n1"),
        ("COPY", "n1", "c1"),
        ("EXPIRETIME", "c1"),
        ("SET", "c2", "x"),
        ("EXPIREAT", "c2", str(FAR2)),
        ("SET", "plain2", "y"),
        ("COPY", "plain2", "c2", "REPLACE"),
        ("EXPIRETIME", "c2"),
        ("COPY", "n1", "c3", "DB", "2"),
        ("MOVE", "n1", "3"),
        ("SWAPDB", "3", "4"),
        ("SELECT", "2"),
        ("EXPIRETIME", "c3"),
        ("SELECT", "4"),
        ("EXPIRETIME", "n1"),
        ("SELECT", "3"),
        ("EXISTS", "n1"),
    )


# --- expiry happening --------------------------------------------------------------------------


def test_lazy_expiry_on_access() -> None:
    # hz 1: the active cycle rarely runs, so most of these deletions are lazy ones. Either way
    # an expired key must never be visible.
    with ServerProcess("--hz", "1") as srv:
        r = srv.client()
        try:
            r.set("k", "v", px=30)
            r.set("keep", "v")
            r.mset({"s1": "v", "s2": "v"})
            r.pexpire("s1", 30)
            r.pexpire("s2", 30)
            time.sleep(0.1)
            assert r.get("k") is None
            assert r.exists("s1") == 0
            assert r.ttl("s2") == -2
            assert r.keys("*") == [b"keep"]
            assert r.scan(0, count=1000) == (0, [b"keep"])
            assert r.randomkey() == b"keep"
            assert r.rename("keep", "keep2") is True
            r.set("gone", "v", px=20)
            time.sleep(0.06)
            assert r.copy("gone", "x") is False
            assert r.move("gone", 1) is False
            try:
                r.rename("gone", "x")
                raise AssertionError("RENAME of an expired key must fail")
            except redis.ResponseError as e:
                assert "no such key" in str(e)
            assert r.dbsize() == 1
        finally:
            r.close()


def test_dbsize_counts_unreclaimed_keys_like_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    # With the active cycle off only an access reclaims a key: DBSIZE still counts it until then.
    replies = []
    for srv in (server, redis_server):
        r = srv.client()
        r.flushall()
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        try:
            r.set("a", "1", px=20)
            r.set("b", "1", px=20)
            r.set("c", "1", px=20)
            r.set("keep", "1")
            time.sleep(0.1)
            got = [r.dbsize(), r.get("a"), r.dbsize(), r.exists("b"), r.dbsize()]
            got += [r.keys("*"), r.dbsize(), r.scan(0), r.dbsize(), r.ttl("zz")]
            replies.append(got)
        finally:
            r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            r.close()
    assert replies[0] == replies[1]
    assert replies[0][:5] == [4, None, 3, 0, 2]


def _set_volatile(r: redis.Redis, prefix: str, n: int) -> None:
    """``n`` keys ``<prefix><i>`` that expire in 50 ms, in one pipeline."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"{prefix}{i}", "v", px=50)
    pipe.execute()


def test_active_expiry_reclaims_unread_keys(server: ServerProcess, r: redis.Redis) -> None:
    _set_volatile(r, "vol:", 1000)
    r.set("stay", "v")
    other = server.client(db=5)
    try:
        _set_volatile(other, "o:", 300)
        # Nobody reads these keys again; only the active cycle can reclaim them.
        _poll(lambda: r.dbsize() == 1 and other.dbsize() == 0)
        assert r.get("stay") == b"v"
    finally:
        other.close()


def test_active_expiry_after_swapdb(server: ServerProcess, r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"s:{i}", "v", px=200)
    pipe.execute()
    r.swapdb(0, 7)
    db7 = server.client(db=7)
    try:
        assert db7.exists("s:0") in (0, 1)
        _poll(lambda: db7.dbsize() == 0)
    finally:
        db7.close()


def test_deadline_changes_abort_watch(differential: Any) -> None:
    for change in (("EXPIREAT", "w", str(FAR2)), ("PERSIST", "w"), ("PEXPIRE", "w", "-1")):
        replies = differential.check(
            ("SET", "w", "1"),
            ("EXPIREAT", "w", str(FAR)),
            ("WATCH", "w"),
            change,
            ("MULTI",),
            ("PING",),
            ("EXEC",),
        )
        assert replies[-1] == b"_\r\n", change  # aborted (RESP3 null)
    # Failed changes (NX on a key with a deadline, GT not greater) leave WATCH alone.
    replies = differential.check(
        ("SET", "w", "1"),
        ("EXPIREAT", "w", str(FAR)),
        ("WATCH", "w"),
        ("EXPIREAT", "w", str(FAR2), "NX"),
        ("EXPIREAT", "w", str(FAR - 1), "GT"),
        ("PERSIST", "nope"),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
    )
    assert replies[-1] == b"*1\r\n+PONG\r\n"


# --- the active cycle itself, in-process --------------------------------------------------------


def test_active_expire_cycle_unit() -> None:
    ks = Keyspace(4)
    past = now_ms() - 1000
    future = now_ms() + 3_600_000
    for i in range(500):
        ks.dbs[1].set(b"dead%d" % i, b"v", past)
    for i in range(50):
        ks.dbs[1].set(b"live%d" % i, b"v", future)
        ks.dbs[2].set(b"plain%d" % i, b"v")
    total = 0
    for _ in range(100):
        total += ks.active_expire_cycle(1.0)
        if len(ks.dbs[1]) == 50:
            break
    assert total == 500
    assert ks.stat_expired_keys == 500
    assert len(ks.dbs[1]) == 50 and ks.dbs[1].expires_count() == 50
    assert len(ks.dbs[2]) == 50
    # Keys that are not due are left alone however often the cycle runs.
    assert ks.active_expire_cycle(1.0) == 0


def test_active_expire_cycle_while_a_child_runs_unit() -> None:
    # Persistence counts the databases with volatile keys just before a fork; the cycle uses
    # that count only while nothing was written since, so a database given its first volatile
    # keys during the save (a write: dirty moves) is still expired.
    ks = Keyspace(8)
    past = now_ms() - 1000
    for i in range(30):
        ks.dbs[1].set(b"a%d" % i, b"v", past)
    ks.dbs[2].set(b"plain", b"v")
    ks.note_volatile(True)
    assert _drain_cycle(ks) == 30
    for i in range(40):
        ks.dbs[5].set(b"b%d" % i, b"v", past)
    ks.dirty += 40  # what the dispatcher counts for those writes
    assert _drain_cycle(ks) == 40
    assert len(ks.dbs[1]) == len(ks.dbs[5]) == 0 and len(ks.dbs[2]) == 1
    ks.note_volatile(False)
    ks.dbs[6].set(b"c", b"v", past)  # no count kept once the child is gone
    assert _drain_cycle(ks) == 1


def _drain_cycle(ks: Keyspace) -> int:
    total = 0
    for _ in range(100):
        n = ks.active_expire_cycle(1.0)
        total += n
        if n == 0:
            break
    return total


def test_active_expiry_during_a_bgsave(tmp_path: Any) -> None:
    # Keys given a deadline while a fork child writes a snapshot, in a database that had no
    # volatile keys at the fork and in one that was empty, are reclaimed by the active cycle.
    with ServerProcess("--rdb-key-save-delay", "500000", dir=str(tmp_path)) as srv:
        r = srv.client()
        r.mset({f"k{i}": "v" for i in range(20)})  # 20 keys x 0.5 s: a child for ~10 s
        assert r.bgsave()
        other = srv.client(db=5)
        try:
            _set_volatile(r, "vol:", 100)
            _set_volatile(other, "o:", 100)
            _poll(lambda: r.dbsize() == 20 and other.dbsize() == 0)
            assert r.info("persistence")["rdb_bgsave_in_progress"] == 1
        finally:
            other.close()


def test_active_expire_cycle_respects_time_limit() -> None:
    ks = Keyspace(2)
    past = now_ms() - 1000
    for i in range(2000):
        ks.dbs[0].set(b"k%d" % i, b"v", past)
    ticks = iter(range(10**6))

    def clock() -> float:
        return float(next(ticks))  # every reading is one "second" later

    # With a limit shorter than one tick the cycle stops after its first round.
    assert ks.active_expire_cycle(0.5, clock) == 20
    assert len(ks.dbs[0]) == 1980
