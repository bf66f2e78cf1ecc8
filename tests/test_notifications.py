"""Keyspace notifications against a real redis-server: every write command minikv implements
runs on both servers with ``notify-keyspace-events`` set, and the ``__keyspace@…`` /
``__keyevent@…`` messages a pattern subscriber receives are compared in order, for several
class selections. Then expiry (lazy and active), the configuration's syntax, and that nothing
is published with the setting off.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
from helpers import ServerProcess, encode, run_raw

from minikv.commands import ALL
from minikv.commands.catalog import load_all
from minikv.persistence import dump

#: DUMP payloads of "hello" and of the list [a, b], for RESTORE.
_STRING_PAYLOAD = dump.seal(b"\x00\x05hello")
_LIST_PAYLOAD = dump.seal(b"\x12\x01\x02\x0d\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff")

#: One or more calls of every write command, with no-ops and failures among them (which
#: publish nothing). Deterministic: random pops take whole collections.
WORKLOAD: list[tuple[Any, ...]] = [
    # strings
    ("SET", "s", "v"),
    ("SET", "s", "v2", "EX", "100"),
    ("SET", "s", "v3", "KEEPTTL"),
    ("SET", "s", "x", "NX"),  # no-op
    ("SET", "s2", "v", "PX", "100000", "GET"),
    ("SETNX", "s3", "v"),
    ("SETNX", "s3", "v"),
    ("SETEX", "s4", "100", "v"),
    ("PSETEX", "s5", "100000", "v"),
    ("GETSET", "s", "new"),
    ("GETDEL", "s5"),
    ("GETDEL", "s5"),
    ("GETEX", "s4", "EX", "200"),
    ("GETEX", "s4", "PERSIST"),
    ("GETEX", "s4"),
    ("GETEX", "s4", "PX", "-5"),  # in the past: deleted
    ("MSET", "m1", "a", "m2", "b"),
    ("MSET", "m1", "x", "m6", "y", "m6", "z"),  # an existing key, a new one twice
    ("MSETNX", "m3", "a", "m4", "b"),
    ("MSETNX", "m3", "a", "m5", "b"),
    ("APPEND", "m1", "xyz"),
    ("APPEND", "fresh", "xyz"),
    ("SETRANGE", "m1", "1", "ZZ"),
    ("SETRANGE", "m1", "1", ""),
    ("SETRANGE", "nokey", "0", ""),
    ("INCR", "n"),
    ("INCRBY", "n", "5"),
    ("DECR", "n"),
    ("DECRBY", "n", "2"),
    ("INCRBYFLOAT", "f", "1.5"),
    ("INCR", "m1"),  # not an integer: error, nothing
    ("SETBIT", "b", "7", "1"),
    ("SETBIT", "b", "7", "1"),
    # bitmaps
    ("BITOP", "OR", "bo", "b", "m1"),
    ("BITOP", "AND", "bo", "nokey"),  # empty result: the destination is deleted
    ("BITOP", "AND", "bo", "nokey"),  # nothing to delete
    ("BITFIELD", "bf", "SET", "u8", "0", "5", "INCRBY", "u8", "0", "1"),
    ("BITFIELD", "bf", "SET", "u8", "0", "6"),  # unchanged: no event
    ("BITFIELD", "bf", "GET", "u8", "0"),
    ("BITFIELD", "bf2", "OVERFLOW", "FAIL", "SET", "u2", "0", "9"),  # grown, silently
    # SORT
    ("RPUSH", "srt", "3", "1", "2"),
    ("SORT", "srt"),  # no STORE: nothing
    ("SORT", "srt", "STORE", "srtd"),
    ("SORT", "nokey", "STORE", "srtd"),  # empty result: the destination is deleted
    ("SORT_RO", "srt"),
    # HyperLogLog
    ("PFADD", "hl", "a", "b"),  # a new key: new, then pfadd
    ("PFADD", "hl", "a"),  # no register rises: nothing
    ("PFADD", "hl2"),
    ("PFCOUNT", "hl"),  # writes the cached count back: a change, but notified as nothing
    ("PFCOUNT", "nohl"),
    ("PFMERGE", "hlm", "hl", "hl2", "nohl"),
    ("PFMERGE", "hlm"),  # always notified, changed or not
    ("PFADD", "m2", "x"),  # not an HLL: error, nothing
    ("PFDEBUG", "TODENSE", "hlm"),  # converted: nothing
    # keys
    ("EXPIRE", "n", "100"),
    ("PEXPIRE", "n", "100000", "XX"),
    ("PEXPIRE", "n", "100000", "NX"),  # no-op
    ("EXPIREAT", "m1", "99999999999"),
    ("PEXPIREAT", "m2", "99999999999999"),
    ("PERSIST", "n"),
    ("PERSIST", "n"),
    ("EXPIRE", "m2", "-1"),  # in the past: deleted
    ("EXPIRE", "missing", "10"),
    ("DEL", "m3", "m4", "missing"),
    ("UNLINK", "f", "missing"),
    ("RENAME", "m1", "r1"),
    ("RENAME", "r1", "r1"),
    ("SET", "r3", "v"),
    ("RENAME", "r3", "r1"),  # onto an existing key
    ("RENAMENX", "r1", "b"),
    ("RENAMENX", "r1", "r2"),
    ("COPY", "r2", "c1"),
    ("COPY", "r2", "c1"),
    ("COPY", "r2", "c1", "REPLACE"),
    ("COPY", "r2", "c9", "DB", "3"),
    ("MOVE", "c1", "4"),
    ("MOVE", "nothing", "4"),
    # RESTORE, with payloads made here (DUMP itself writes nothing)
    ("RESTORE", "rs", "0", _STRING_PAYLOAD),  # a new key: new, then restore
    ("RESTORE", "rs", "0", _STRING_PAYLOAD),  # BUSYKEY: nothing
    ("RESTORE", "rs", "0", _LIST_PAYLOAD, "REPLACE"),  # replaced: new, restore
    ("RESTORE", "rs2", "100000", _LIST_PAYLOAD),
    ("RESTORE", "rs3", "1", _STRING_PAYLOAD, "ABSTTL"),  # already expired: nothing
    ("RESTORE", "rs", "1", _STRING_PAYLOAD, "ABSTTL", "REPLACE"),  # the old key goes: del
    ("RESTORE", "rs4", "0", b"corrupt"),  # an error: nothing
    # hashes
    ("HSET", "h", "a", "1", "b", "2"),
    ("HSET", "h", "a", "1"),
    ("HSETNX", "h", "a", "9"),
    ("HSETNX", "h", "c", "3"),
    ("HMSET", "h", "d", "4"),
    ("HINCRBY", "h", "a", "10"),
    ("HINCRBYFLOAT", "h", "a", "0.5"),
    ("HDEL", "h", "a", "zz"),
    ("HDEL", "h", "zz"),
    ("HDEL", "h", "b", "c", "d"),  # the last fields: the key goes too
    # lists
    ("RPUSH", "l", "a", "b", "c", "d", "e", "f"),
    ("LPUSH", "l", "z"),
    ("LPUSHX", "l", "y"),
    ("LPUSHX", "nolist", "y"),
    ("RPUSHX", "l", "g"),
    ("LPOP", "l"),
    ("RPOP", "l", "2"),
    ("LSET", "l", "0", "Z"),
    ("LINSERT", "l", "BEFORE", "b", "ins"),
    ("LINSERT", "l", "BEFORE", "nope", "ins"),
    ("LREM", "l", "0", "ins"),
    ("LREM", "l", "0", "absent"),
    ("LTRIM", "l", "0", "2"),
    ("LMOVE", "l", "l2", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "l", "l2"),
    ("BLMOVE", "l2", "l3", "RIGHT", "LEFT", "1"),
    ("BRPOPLPUSH", "l2", "l3", "1"),
    ("LMPOP", "2", "nolist", "l3", "LEFT", "COUNT", "1"),
    ("BLMPOP", "1", "1", "l3", "RIGHT"),
    ("RPUSH", "bl", "a", "b", "c"),
    ("BLPOP", "bl", "1"),
    ("BRPOP", "bl", "1"),
    ("LPOP", "bl", "5"),  # empties it
    ("LTRIM", "l", "5", "1"),  # trims everything: the key goes
    # sets
    ("SADD", "st", "a", "b", "c"),
    ("SADD", "st", "a"),
    ("SREM", "st", "a", "zz"),
    ("SREM", "st", "zz"),
    ("SADD", "st2", "c", "d"),
    ("SMOVE", "st", "st2", "b"),
    ("SMOVE", "st", "st2", "nope"),
    ("SINTERSTORE", "si", "st", "st2"),
    ("SUNIONSTORE", "su", "st", "st2"),
    ("SUNIONSTORE", "su", "st", "st2"),  # over the existing result
    ("SDIFFSTORE", "sd", "st2", "st"),
    ("SDIFFSTORE", "sd", "st", "st"),  # empty result: the destination is deleted
    ("SINTERSTORE", "empty", "nothing", "st"),  # empty result, no destination: nothing
    ("SPOP", "su", "10"),  # the whole set
    ("SADD", "one", "x"),
    ("SPOP", "one"),
    # sorted sets
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
    ("ZADD", "z", "1", "a"),
    ("ZADD", "z", "INCR", "1", "a"),
    ("ZINCRBY", "z", "2", "b"),
    ("ZREM", "z", "a", "zz"),
    ("ZREM", "z", "zz"),
    ("ZREMRANGEBYSCORE", "z", "0", "2"),
    ("ZREMRANGEBYRANK", "z", "0", "0"),
    ("ZADD", "zl", "0", "a", "0", "b", "0", "c"),
    ("ZREMRANGEBYLEX", "zl", "[a", "[a"),
    ("ZREMRANGEBYLEX", "zl", "[x", "[y"),
    ("ZUNIONSTORE", "zu", "2", "z", "zl"),
    ("ZUNIONSTORE", "zu", "2", "z", "zl"),
    ("ZINTERSTORE", "zi", "2", "z", "zl"),  # empty: nothing stored
    ("ZDIFFSTORE", "zd", "2", "zu", "zl"),
    ("ZRANGESTORE", "zr", "zu", "0", "1"),
    ("ZPOPMIN", "zu"),
    ("ZPOPMAX", "zu", "2"),
    ("BZPOPMIN", "zd", "1"),
    ("BZPOPMAX", "zr", "1"),
    ("ZADD", "zb", "1", "a", "2", "b", "3", "c"),
    ("BZMPOP", "1", "1", "zb", "MAX", "COUNT", "2"),
    ("BZMPOP", "1", "2", "nokey", "zb", "MIN", "COUNT", "5"),  # empties it: del
    ("ZMPOP", "1", "zr", "MIN", "COUNT", "10"),
    # geo (sorted sets: GEOADD notifies as the ZADD it runs)
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOADD", "geo", "NX", "13.361389", "38.115556", "Palermo"),  # no-op
    ("GEOADD", "geo", "XX", "CH", "13.4", "38.2", "Palermo"),
    ("GEOADD", "geo", "200", "100", "bad"),  # error
    ("GEOADD", "geonew", "CH", "1", "1", "a"),
    ("GEORADIUS", "geo", "15", "37", "200", "km", "STORE", "geost"),
    ("GEORADIUS", "geo", "15", "37", "200", "km", "STOREDIST", "geost"),
    ("GEORADIUS", "geo", "15", "37", "1", "m", "STORE", "geost"),  # nothing found: deleted
    ("GEORADIUS", "geo", "15", "37", "1", "m", "STORE", "geost"),  # nothing to delete
    ("GEORADIUS", "geo", "15", "37", "200", "km"),  # no store: nothing
    ("GEORADIUSBYMEMBER", "geo", "Palermo", "300", "km", "STORE", "geost"),
    ("GEORADIUSBYMEMBER", "nogeo", "x", "1", "km", "STORE", "geost"),  # no source: deleted
    ("GEOSEARCHSTORE", "gss", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km"),
    ("GEOSEARCHSTORE", "gss", "geo", "FROMLONLAT", "15", "37", "BYBOX", "1", "1", "m"),
    ("GEOSEARCHSTORE", "gss", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "3e5", "m", "STOREDIST"),
    ("GEOSEARCH", "nogeo", "FROMMEMBER", "x", "BYRADIUS", "1", "km"),  # reads only
    # streams
    ("XADD", "x", "1-1", "f", "v"),
    ("XADD", "x", "MAXLEN", "1", "2-1", "f", "v"),
    ("XADD", "nox", "NOMKSTREAM", "3-1", "f", "v"),
    ("XADD", "x", "3-1", "f", "v", "g", "w"),
    ("XADD", "x", "4-1", "f", "v"),
    ("XTRIM", "x", "MAXLEN", "2"),
    ("XTRIM", "x", "MAXLEN", "2"),
    ("XDEL", "x", "3-1", "9-9"),
    ("XDEL", "x", "9-9"),
    ("XADD", "x", "5-1", "f", "v"),
    ("XSETID", "x", "6-0"),
    ("XGROUP", "CREATE", "x", "g", "0"),
    ("XGROUP", "CREATE", "x", "g", "0"),
    ("XGROUP", "CREATE", "xm", "g", "$", "MKSTREAM"),
    ("XGROUP", "CREATECONSUMER", "x", "g", "c1"),
    ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", ">"),
    ("XREADGROUP", "GROUP", "g", "c6", "NOACK", "STREAMS", "x", "0"),
    ("XACK", "x", "g", "4-1"),
    ("XCLAIM", "x", "g", "c3", "0", "4-1", "FORCE"),
    ("XAUTOCLAIM", "x", "g", "c4", "0", "0"),
    ("XGROUP", "SETID", "x", "g", "0"),
    ("XGROUP", "DELCONSUMER", "x", "g", "c1"),
    ("XGROUP", "DELCONSUMER", "x", "g", "nobody"),
    ("XGROUP", "DESTROY", "x", "g"),
    ("XGROUP", "DESTROY", "x", "g"),
    ("XADD", "xt", "MINID", "5", "1-1", "f", "v"),  # added and trimmed at once
    ("XTRIM", "xt", "MAXLEN", "0"),  # the empty stream stays
    # MIGRATE (to a third server, whose port replaces MIGRATE_TARGET)
    ("SET", "mg1", "v"),
    ("MIGRATE", "127.0.0.1", "MIGRATE_TARGET", "mg1", "0", "5000", "REPLACE"),  # moved: del
    ("SET", "mg2", "v"),
    ("MIGRATE", "127.0.0.1", "MIGRATE_TARGET", "", "0", "5000", "COPY", "REPLACE", "KEYS", "mg2"),
    ("MIGRATE", "127.0.0.1", "MIGRATE_TARGET", "nomg", "0", "5000"),  # NOKEY
    # databases
    ("SELECT", "2"),
    ("SET", "in2", "v"),
    ("DEL", "in2"),
    ("SELECT", "0"),
    ("SWAPDB", "0", "6"),
    ("SWAPDB", "0", "6"),
    ("FLUSHDB",),
    ("FLUSHALL",),
]

COMMANDS_COVERED = {str(cmd[0]).lower() for cmd in WORKLOAD}

Messages = list[tuple[bytes, bytes, bytes]]


@pytest.fixture(scope="module")
def servers(redis_server: ServerProcess) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A minikv of its own (these tests change notify-keyspace-events) and redis-server."""
    with ServerProcess() as mk, ServerProcess() as target:
        _MIGRATE_TARGET[0] = str(target.port)
        yield mk, redis_server


#: The port MIGRATE_TARGET stands for in the workload (set by ``servers``).
_MIGRATE_TARGET = ["0"]


class Subscriber:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader()
        self.sock.sendall(encode("PSUBSCRIBE", "__key*__:*") + encode("SUBSCRIBE", "end"))
        self._read(2)

    def _read(self, n: int) -> list[Any]:
        out = []
        while len(out) < n:
            item = self.reader.gets()
            if item is False:
                self.reader.feed(self.sock.recv(65536))
                continue
            out.append(item)
        return out

    def until_end(self) -> Messages:
        """The keyspace messages until the ``end`` channel's message."""
        got: Messages = []
        while True:
            [m] = self._read(1)
            if m[0] == b"message" and m[1] == b"end":
                return got
            got.append((m[2], m[3], b""))

    def close(self) -> None:
        self.sock.close()


def run(port: int, flags: str, commands: list[tuple[Any, ...]]) -> Messages:
    target = _MIGRATE_TARGET[0]
    commands = [tuple(target if a == "MIGRATE_TARGET" else a for a in cmd) for cmd in commands]
    run_raw(port, [("FLUSHALL",), ("CONFIG", "SET", "notify-keyspace-events", "")])
    sub = Subscriber(port)
    try:
        run_raw(port, [("CONFIG", "SET", "notify-keyspace-events", flags)])
        run_raw(port, commands)
        run_raw(port, [("CONFIG", "SET", "notify-keyspace-events", ""), ("PUBLISH", "end", "x")])
        return sub.until_end()
    finally:
        sub.close()


@pytest.mark.parametrize(
    "flags", ["KEA", "KA", "EA", "Kg", "E$", "Kl", "Es", "Kh", "Ez", "Kt", "KEgx", "KEAn", "En"]
)
def test_every_write_command_notifies_as_redis(
    servers: tuple[ServerProcess, ServerProcess], flags: str
) -> None:
    mk, rd = servers
    mine = run(mk.port, flags, WORKLOAD)
    theirs = run(rd.port, flags, WORKLOAD)
    assert mine == theirs
    if flags == "KEA":
        assert len(theirs) > 200  # the workload exercises nearly every event


def test_workload_covers_every_write_command() -> None:
    load_all()
    writes = {name for name, c in ALL.items() if c.is_write and "|" not in name}
    assert writes - COMMANDS_COVERED == set()


def test_each_command_alone(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """Every command's own events, after the same setup, so a difference names its command."""
    mk, rd = servers
    for i, cmd in enumerate(WORKLOAD):
        setup = WORKLOAD[:i]
        a = run(mk.port, "KEA", [*setup, cmd])[len(run(mk.port, "KEA", setup)) :]
        b = run(rd.port, "KEA", [*setup, cmd])[len(run(rd.port, "KEA", setup)) :]
        assert a == b, f"{cmd}: minikv {a} redis {b}"


def test_expired_events_lazy_and_active(servers: tuple[ServerProcess, ServerProcess]) -> None:
    for srv in servers:
        run_raw(srv.port, [("FLUSHALL",), ("CONFIG", "SET", "notify-keyspace-events", "Ex")])
        sub = Subscriber(srv.port)
        try:
            # Active expiry is off until the lazy deletion has happened, so that it cannot
            # take both keys first.
            run_raw(
                srv.port,
                [
                    ("DEBUG", "SET-ACTIVE-EXPIRE", "0"),
                    ("SET", "lazy", "v", "PX", "30"),
                    ("SET", "active", "v", "PX", "30"),
                ],
            )
            time.sleep(0.1)
            # GET deletes on access.
            run_raw(srv.port, [("GET", "lazy"), ("DEBUG", "SET-ACTIVE-EXPIRE", "1")])
            deadline = time.monotonic() + 5
            while run_raw(srv.port, [("DBSIZE",)]) != [b":0\r\n"] and time.monotonic() < deadline:
                time.sleep(0.05)  # the active cycle takes the other
            run_raw(
                srv.port,
                [("CONFIG", "SET", "notify-keyspace-events", ""), ("PUBLISH", "end", "x")],
            )
            got = sub.until_end()
        finally:
            sub.close()
        assert got[0] == (b"__keyevent@0__:expired", b"lazy", b""), srv.kind
        assert got[1:] == [(b"__keyevent@0__:expired", b"active", b"")], srv.kind


def test_config_syntax_matches_redis(servers: tuple[ServerProcess, ServerProcess]) -> None:
    mk, rd = servers
    name = "notify-keyspace-events"
    for value in [
        "",
        "KEA",
        "AKE",
        "gK",
        "Elg$shzxe",
        "g$lshzxetdKE",
        "A",
        "K",
        "x",
        "Kx$",
        "KEAn",
        "KEm",
        "mA",
        "Kmn",
    ]:
        cmds = [("CONFIG", "SET", name, value), ("CONFIG", "GET", name)]
        assert run_raw(mk.port, cmds) == run_raw(rd.port, cmds), value
    bad = [("CONFIG", "SET", name, "KEQ")]
    assert run_raw(mk.port, bad) == run_raw(rd.port, bad)
    run_raw(mk.port, [("CONFIG", "SET", name, "")])
    run_raw(rd.port, [("CONFIG", "SET", name, "")])


def test_nothing_is_published_when_off(servers: tuple[ServerProcess, ServerProcess]) -> None:
    mk, _ = servers
    assert run(mk.port, "", WORKLOAD) == []
    # Classes without K or E publish nothing either, as in Redis.
    assert run(mk.port, "A", WORKLOAD) == []


@pytest.mark.parametrize(
    "blocker, push",
    [
        (("BLPOP", "q", "0"), ("RPUSH", "q", "a")),
        (("BLMOVE", "q", "dst", "LEFT", "RIGHT", "0"), ("LPUSH", "q", "a", "b")),
        (("BZPOPMIN", "zq", "0"), ("ZADD", "zq", "1", "m")),
        (("BLMPOP", "0", "1", "q", "RIGHT", "COUNT", "5"), ("RPUSH", "q", "a", "b")),
    ],
)
def test_served_blocked_client_notifies_as_redis(
    servers: tuple[ServerProcess, ServerProcess], blocker: tuple[str, ...], push: tuple[str, ...]
) -> None:
    """A push that serves a blocked client: the push's event, then the pop's, then the del."""
    got = []
    for srv in servers:
        run_raw(srv.port, [("FLUSHALL",), ("CONFIG", "SET", "notify-keyspace-events", "KEA")])
        sub = Subscriber(srv.port)
        blocked = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        try:
            blocked.sendall(encode(*blocker))
            deadline = time.monotonic() + 5
            while b"blocked_clients:1" not in run_raw(srv.port, [("INFO", "clients")])[0]:
                assert time.monotonic() < deadline, "the client never blocked"
                time.sleep(0.01)
            run_raw(srv.port, [push])
            assert blocked.recv(65536)  # served
            run_raw(
                srv.port,
                [("CONFIG", "SET", "notify-keyspace-events", ""), ("PUBLISH", "end", "x")],
            )
            got.append(sub.until_end())
        finally:
            blocked.close()
            sub.close()
    assert got[0] == got[1]
    assert len(got[1]) >= 4
