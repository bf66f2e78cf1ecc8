"""The propagation stream (minikv.propagation): what every write sends on, in replayable form.

Captured with DEBUG PROPAGATION from a real server while a workload runs, then
- replayed into a second, empty server: both must hold exactly the same data, deadlines to the
  millisecond (a relative expiry replayed later, a random SPOP replayed as SPOP, or a served
  BLPOP left out would each differ);
- compared with what redis-server itself propagates for the same workload, read from its
  replication stream (SYNC), absolute times masked.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from helpers import ServerProcess, have_redis_server


@pytest.fixture
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    a, b = ServerProcess(), ServerProcess()
    yield a, b
    a.cleanup()
    b.cleanup()


def _later_push(port: int, key: str, value: str) -> threading.Thread:
    def push() -> None:
        time.sleep(0.2)
        with redis.Redis(port=port) as other:
            other.lpush(key, value)

    t = threading.Thread(target=push)
    t.start()
    return t


def streams(r: redis.Redis, port: int, deterministic: bool) -> None:
    """Stream writes: generated IDs and approximate trims made explicit, consumer groups as
    their effects (XCLAIM / XGROUP SETID / CREATECONSUMER), a served blocked XREADGROUP."""
    if not deterministic:
        r.xadd("xs", {"a": "1"})
        r.xadd("xs", {"a": "2"}, maxlen=1, approximate=True)
    for i in range(30):
        r.xadd("x", {"f": i}, id=f"2-{i}", maxlen=25, approximate=True)
    r.xadd("x", {"f": "last"}, id="2-*", minid="2-3", approximate=True)
    r.xadd("xn", {"f": "v"}, id="1-1", nomkstream=True)  # nothing
    r.xtrim("x", maxlen=28, approximate=False)
    r.xtrim("x", minid="2-4")
    r.xtrim("x", maxlen=1000, approximate=True)  # nothing
    r.xdel("x", "2-10", "9-9")
    r.xgroup_create("x", "g", "0")
    r.xgroup_create("x", "h", "$")
    r.xgroup_create("xm", "g", "$", mkstream=True)
    r.xreadgroup("g", "c1", {"x": ">"}, count=2)
    r.xreadgroup("g", "c2", {"x": ">"}, count=2, noack=True)
    r.xreadgroup("g", "c1", {"x": "0"})  # history: changes delivery counts only
    r.xreadgroup("h", "c1", {"x": ">"}, count=1)
    r.xack("x", "g", "2-4")
    r.xclaim("x", "g", "c3", 0, ["2-5"], justid=True)
    r.xclaim("x", "g", "c3", 0, ["2-20"], force=True, idle=5000, retrycount=3)
    r.xautoclaim("x", "g", "c4", 0, "0", count=5)
    r.xgroup_createconsumer("x", "g", "c5")
    r.xgroup_delconsumer("x", "g", "c1")
    r.xgroup_setid("x", "h", "2-1")
    r.execute_command("XSETID", "xm", "5-5", "ENTRIESADDED", "7", "MAXDELETEDID", "3-3")
    r.xgroup_destroy("x", "h")

    def add() -> None:
        time.sleep(0.2)
        with redis.Redis(port=port) as other:
            other.xadd("xw", {"w": "1"}, id="1-1")

    r.xgroup_create("xw", "g", "$", mkstream=True)
    t = threading.Thread(target=add)
    t.start()
    assert r.xreadgroup("g", "blocked", {"xw": ">"}, block=5000)
    t.join()


def workload(r: redis.Redis, port: int, deterministic: bool = False) -> None:
    """Writes that each exercise a propagation rule (and some that change nothing)."""
    r.set("s", "v")
    r.set("s:ex", "v", ex=100)
    r.set("s:px", "v", px=100_000, get=True)
    r.set("s:keep", "v", keepttl=True)
    r.set("s:nx", "w", nx=True)
    r.set("s:nx", "never", nx=True)  # changes nothing: not propagated
    r.setex("s:setex", 100, "v")
    r.psetex("s:psetex", 100_000, "v")
    r.set("g", "v")
    r.getex("g", ex=200)
    r.set("g2", "v", ex=10)
    r.getex("g2", persist=True)
    r.set("gd", "v")
    r.getdel("gd")
    r.set("f", "1.5")
    r.incrbyfloat("f", "2.25")
    r.execute_command("BITFIELD", "bf", "SET", "i8", "3", "-5", "INCRBY", "u4", "#3", "7")
    r.execute_command("BITFIELD", "bf", "GET", "u8", "0")  # reads only: not propagated
    r.bitop("XOR", "bx", "bf", "f")
    r.bitop("AND", "bx", "missing")  # deletes bx
    r.hset("h", "x", "1")
    r.hincrbyfloat("h", "x", "0.5")
    r.incr("n")
    r.expire("n", 300)
    r.pexpire("s", 300_000, nx=True)
    r.expireat("s:nx", int(time.time()) + 500)
    r.set("gone", "v")
    r.expire("gone", -1)  # a deadline already past: DEL
    r.expire("missing", 10)  # no key: nothing
    r.sadd("one", "m")
    r.spop("one")
    if not deterministic:
        r.sadd("set", *range(20))
        r.spop("set", 5)
        r.spop("set")
    r.sadd("all", "a", "b")
    r.spop("all", 10)  # the whole set: DEL
    r.rpush("l", "a", "b", "c", "d")
    r.blpop(["l"], 1)
    r.execute_command("LMPOP", 1, "l", "RIGHT", "COUNT", 2)
    r.rpush("l2", "x", "y")
    r.blmove("l2", "l3", 1, "LEFT", "RIGHT")
    r.brpoplpush("l2", "l3", 1)
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    r.bzpopmin(["z"], 1)
    r.execute_command("ZMPOP", 1, "z", "MAX", "COUNT", 5)
    r.zadd("zb", {"a": 1, "b": 2, "c": 3})
    r.execute_command("BZMPOP", 1, 2, "nokey", "zb", "MIN", "COUNT", 2)
    streams(r, port, deterministic)
    t = _later_push(port, "wait", "w1")  # served while this client is blocked
    assert list(r.blpop(["wait"], 5)) == [b"wait", b"w1"]
    t.join()
    with r.pipeline(transaction=True) as p:  # MULTI/EXEC stays atomic
        p.set("t1", "1", ex=50)
        p.incr("t2")
        p.execute()
    with r.pipeline(transaction=True) as p:
        p.get("t1")
        p.execute()
    r.select(3)
    r.set("in3", "v")
    r.move("in3", 0)
    r.select(0)
    r.swapdb(0, 5)
    r.swapdb(0, 5)
    r.select(7)
    r.flushdb()  # an empty database: propagated anyway
    r.select(0)
    r.set("lazy", "v", px=50)
    time.sleep(0.2)
    assert r.get("lazy") is None  # read after its deadline: DEL
    r.rename("s:keep", "renamed")
    r.copy("renamed", "copied")
    restores(r)


def restores(r: redis.Redis) -> None:
    """RESTORE goes as sent, a relative TTL turned into ABSTTL and its deadline (after any
    other option), an already past deadline with REPLACE as DEL, and without REPLACE as
    nothing."""
    from minikv.persistence.dump import seal

    value = seal(b"\x00\x05hello")
    r.restore("rs", 0, value)
    r.restore("rs:ttl", 100_000, value)
    r.restore("rs:freq", 100_000, value, frequency=5)
    r.restore("rs:abs", int(time.time() * 1000) + 500_000, value, absttl=True)
    r.restore("rs", 0, seal(b"\x00\x03bye"), replace=True)
    r.restore("rs:gone", 1, value, absttl=True)  # already expired, nothing there: nothing
    r.restore("rs", 1, value, replace=True, absttl=True)  # already expired: the old one goes


def _stream_state(r: redis.Redis, key: bytes) -> Any:
    """A stream's entries, IDs, counters and groups with their pending entries (owner and
    delivery count) and consumers: all but times, which a replay sets to its own now, and the
    groups' entries-read, which Redis's propagated XCLAIM .. LASTID does not carry (a replica of
    redis-server too may show it unknown where its primary counted it)."""
    info = r.xinfo_stream(key)
    ids = (info["last-generated-id"], info["max-deleted-entry-id"], info["entries-added"])
    groups = []
    for g in r.xinfo_groups(key):
        name = g["name"]
        pending = [
            (p["message_id"], p["consumer"], p["times_delivered"])
            for p in r.xpending_range(key, name, "-", "+", 10_000)
        ]
        consumers = sorted(c["name"] for c in r.xinfo_consumers(key, name))
        groups.append((name, g["last-delivered-id"], pending, consumers))
    return r.xrange(key), ids, groups


def dump(r: redis.Redis) -> dict[tuple[int, bytes], Any]:
    out: dict[tuple[int, bytes], Any] = {}
    for db in range(16):
        r.select(db)
        for key in r.keys("*"):
            kind = r.type(key)
            value: Any
            if kind == b"string":
                value = r.get(key)
            elif kind == b"list":
                value = r.lrange(key, 0, -1)
            elif kind == b"hash":
                value = r.hgetall(key)
            elif kind == b"set":
                value = sorted(r.smembers(key))
            elif kind == b"stream":
                value = _stream_state(r, key)
            else:
                value = r.zrange(key, 0, -1, withscores=True)
            out[(db, key)] = (kind, value, r.pexpiretime(key))
    r.select(0)
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_replaying_the_stream_rebuilds_the_same_data(
    pair: tuple[ServerProcess, ServerProcess], protocol: int
) -> None:
    a, b = pair
    ra = a.client(protocol=protocol)
    rb = b.client(protocol=protocol)
    assert ra.execute_command("DEBUG", "PROPAGATION", "ON") == b"OK"
    workload(ra, a.port)
    stream = ra.execute_command("DEBUG", "PROPAGATION", "READ")
    names = [cmd[0].upper() for cmd in stream]
    for sent_as_is in (b"SPOP", b"BLPOP", b"EXPIRE", b"SETEX", b"INCRBYFLOAT", b"GETEX", b"LMPOP"):
        assert sent_as_is not in names
    assert names[0] == b"SELECT"
    assert [b"MULTI"] in stream and [b"EXEC"] in stream
    assert [b"DEL", b"lazy"] in stream
    assert [b"SET", b"f", b"3.75", b"KEEPTTL"] in stream
    assert [b"FLUSHDB"] in stream
    assert not any(cmd[:2] == [b"SET", b"s:nx"] and b"never" in cmd for cmd in stream)
    time.sleep(0.05)  # a relative expiry replayed now would land on another millisecond
    rb.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for cmd in stream:
        rb.execute_command(*cmd)
    assert dump(ra) == dump(rb)
    # Read and cleared: nothing new since.
    assert ra.execute_command("DEBUG", "PROPAGATION", "READ") == []
    assert ra.execute_command("DEBUG", "PROPAGATION", "OFF") == b"OK"
    with pytest.raises(redis.ResponseError, match="not being captured"):
        ra.execute_command("DEBUG", "PROPAGATION", "READ")


def test_active_expiry_is_propagated_as_del(server: ServerProcess) -> None:
    r = server.client()
    r.flushall()
    r.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        r.execute_command("DEBUG", "PROPAGATION", "READ")
        r.set("short", "v", px=1)
        deadline = time.monotonic() + 5
        while r.dbsize() and time.monotonic() < deadline:  # DBSIZE does not expire keys
            time.sleep(0.05)
        stream = r.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        r.execute_command("DEBUG", "PROPAGATION", "OFF")
    assert stream[-1] == [b"DEL", b"short"]
    assert [b"MULTI"] not in stream  # on its own, not wrapped with anything


# --- against redis-server's own replication stream ----------------------------------------------


def _redis_stream(port: int) -> tuple[socket.socket, Any]:
    """Attach to redis-server as a replica (SYNC): skip the snapshot, return the socket and a
    reader positioned at the command stream."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"SYNC\r\n")
    buf = b""
    while True:
        buf += sock.recv(65536)
        buf = buf.lstrip(b"\n")  # keep-alive newlines while the snapshot is made
        m = re.match(rb"\$(\d+)\r\n", buf)
        if m:
            break
    size = int(m.group(1))
    rest = buf[m.end() :]
    while len(rest) < size:
        rest += sock.recv(65536)
    reader = hiredis.Reader()
    reader.feed(rest[size:])
    return sock, reader


def _read_until(sock: socket.socket, reader: Any, last: list[bytes]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    while True:
        item = reader.gets()
        if item is False:
            reader.feed(sock.recv(65536))
            continue
        if [a.upper() for a in item] == [b"PING"]:
            continue
        out.append(item)
        if item == last:
            return out


_TIME = re.compile(rb"^\d{12,}$")


def _masked(stream: list[list[bytes]]) -> list[list[bytes]]:
    """Absolute times differ between two servers: mask them, and spell names one way."""
    return [
        [cmd[0].upper()] + [b"<ms>" if _TIME.match(a) else a for a in cmd[1:]] for cmd in stream
    ]


def test_stream_matches_redis_server(server: ServerProcess, redis_server: ServerProcess) -> None:
    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    end = [b"SET", b"__end__", b"1"]
    rd = redis_server.client()
    rd.flushall()
    sock, reader = _redis_stream(redis_server.port)
    try:
        workload(rd, redis_server.port, deterministic=True)
        rd.execute_command(*end)
        theirs = _read_until(sock, reader, end)
    finally:
        sock.close()
    mk = server.client()
    mk.flushall()
    mk.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        mk.execute_command("DEBUG", "PROPAGATION", "READ")
        workload(mk, server.port, deterministic=True)
        mk.execute_command(*end)
        ours = mk.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        mk.execute_command("DEBUG", "PROPAGATION", "OFF")
    assert _masked(ours) == _masked(theirs)


def test_commands_report_changes_only_through_the_hook() -> None:
    """The dirty count, WATCH and blocked-client wake-ups are the change hook's business
    (``Db.changed``): no command module bumps the counter or touches keys itself."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "minikv" / "commands"
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted(root.glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bdirty\s*[+-]=|\.touched\(|\.touch_all_watched\(", line)
    ]
    assert offenders == []


def test_capture_turned_on_mid_pipeline_sees_the_rest_of_it(server: ServerProcess) -> None:
    """The dispatcher decides its fast path once per batch: a command in the batch that adds a
    consumer (an admin command, never on the fast path) must make the writes after it in the
    same batch propagate."""
    r = server.client()
    r.flushall()
    try:
        with r.pipeline(transaction=False) as p:
            p.set("before", "1")
            p.execute_command("DEBUG", "PROPAGATION", "ON")
            p.set("after", "1")
            p.incr("counter")
            p.execute()
        stream = r.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        r.execute_command("DEBUG", "PROPAGATION", "OFF")
    assert stream == [[b"SELECT", b"0"], [b"SET", b"after", b"1"], [b"INCRBY", b"counter", b"1"]]
