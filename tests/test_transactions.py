"""MULTI / EXEC / DISCARD / WATCH / UNWATCH: queueing errors, EXECABORT, runtime errors inside
EXEC, and WATCH against changes, expiry, SELECT, SWAPDB and FLUSHALL; compared with Redis."""

from __future__ import annotations

import time

import pytest
import redis
from helpers import Raw, encode


def test_basic_transactions_same_as_redis(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("MULTI",),
        ("SET", "a", "1"),
        ("INCR", "a"),
        ("GET", "a"),
        ("EXEC",),
        ("EXEC",),
        ("DISCARD",),
        ("MULTI",),
        ("MULTI",),  # nested: an error, the transaction goes on
        ("SET", "b", "2"),
        ("DISCARD",),
        ("GET", "b"),
        ("MULTI",),
        ("EXEC",),  # empty transaction
    )


def test_queueing_errors_abort_exec(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("MULTI",),
        ("SET", "a", "1"),
        ("NOSUCHCOMMAND", "x"),
        ("GET",),
        ("EXEC",),
        ("GET", "a"),
        ("MULTI",),
        ("SET", "a", "1"),
        ("GET", "a", "b"),
        ("EXEC",),
        ("MULTI",),
        ("SHUTDOWN",),  # not allowed inside a transaction (so never run)
        ("EXEC",),
        ("EXISTS", "a"),
    )


def test_runtime_errors_are_returned_in_the_array(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("SET", "s", "notanumber"),
        ("MULTI",),
        ("INCR", "s"),
        ("SET", "t", "1"),
        ("INCRBY", "t", "x"),
        ("INCR", "t"),
        ("EXEC",),
        ("GET", "t"),
    )


def test_watch_same_as_redis(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("SET", "w", "1"),
        ("WATCH", "w"),
        ("SET", "w", "2"),  # our own change counts too
        ("MULTI",),
        ("GET", "w"),
        ("EXEC",),
        ("WATCH", "w"),
        ("MULTI",),
        ("WATCH", "x"),  # WATCH inside MULTI: an error, not an abort
        ("GET", "w"),
        ("EXEC",),
        ("WATCH", "w", "other"),
        ("UNWATCH",),
        ("SET", "w", "3"),
        ("MULTI",),
        ("GET", "w"),
        ("EXEC",),
        ("WATCH", "missing"),
        ("FLUSHALL",),  # a watched key that does not exist is not changed by a flush
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("SET", "w", "4"),
        ("WATCH", "w"),
        ("FLUSHALL",),
        ("MULTI",),
        ("PING",),
        ("EXEC",),
    )


def test_watch_across_select_and_swapdb(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("SET", "k", "0"),
        ("WATCH", "k"),
        ("SELECT", "1"),
        ("SET", "k", "1"),  # another db's key of the same name
        ("MULTI",),
        ("PING",),
        ("EXEC",),
        ("SELECT", "0"),
        ("WATCH", "k"),
        ("SWAPDB", "0", "1"),
        ("MULTI",),
        ("GET", "k"),
        ("EXEC",),
        ("SELECT", "1"),
        ("FLUSHDB",),
        ("SELECT", "0"),
        ("FLUSHDB",),
    )


def test_watch_changed_by_another_client(r: redis.Redis, server) -> None:  # type: ignore[no-untyped-def]
    other = server.client()
    try:
        r.set("acct", 10)
        with r.pipeline(transaction=True) as p:
            p.watch("acct")
            assert p.get("acct") == b"10"
            other.set("acct", 20)
            p.multi()
            p.set("acct", 11)
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r.get("acct") == b"20"
        # Unchanged: EXEC runs.
        with r.pipeline(transaction=True) as p:
            p.watch("acct")
            p.multi()
            p.incr("acct")
            assert p.execute() == [21]
    finally:
        other.close()


def test_watch_key_that_expires(r: redis.Redis) -> None:
    r.set("t", "v", px=50)
    with r.pipeline(transaction=True) as p:
        p.watch("t")
        time.sleep(0.1)
        p.multi()
        p.get("t")
        with pytest.raises(redis.WatchError):
            p.execute()
    # A key already expired when watched stays unchanged when it is deleted.
    r.set("t2", "v", px=20)
    time.sleep(0.05)
    with r.pipeline(transaction=True) as p:
        p.watch("t2")
        p.multi()
        p.exists("t2")
        assert p.execute() == [0]


def test_pipeline_transaction(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as p:
        p.set("x", 1).incr("x").get("x").delete("x")
        assert p.execute() == [True, 2, b"2", 1]
    r.set("str", "abc")
    with r.pipeline(transaction=True) as p:
        p.incr("str").set("y", "ok")
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("y") == b"ok"  # the other command ran: errors inside EXEC are per command


def test_execabort_via_pipeline(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as p:
        p.set("z", 1)
        p.execute_command("NOSUCHCOMMAND")
        with pytest.raises(redis.ResponseError, match=r"EXECABORT|unknown command"):
            p.execute()
    assert r.get("z") is None


def test_multi_state_in_client_list_and_reset(server) -> None:  # type: ignore[no-untyped-def]
    with Raw(server.port) as c:
        assert c.request(encode("WATCH", "k")) == b"+OK\r\n"
        assert c.request(encode("MULTI")) == b"+OK\r\n"
        assert c.request(encode("SET", "k", "v")) == b"+QUEUED\r\n"
        with Raw(server.port) as other:
            listing = other.request(encode("CLIENT", "LIST"))
        mine = [line for line in listing.split(b"\n") if b" cmd=set " in line]
        assert len(mine) == 1 and b" flags=x " in mine[0] and b" multi=1 " in mine[0]
        assert c.request(encode("RESET")) == b"+RESET\r\n"
        assert c.request(encode("EXEC")) == b"-ERR EXEC without MULTI\r\n"
        assert c.request(encode("GET", "k")) == b"$-1\r\n"
