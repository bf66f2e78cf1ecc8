"""CLIENT TRACKING (client-side caching): invalidation pushes and messages, the CLIENT
subcommands, INFO and CLIENT LIST, redis-py's client-side cache.

The scripted sequences run on several connections at once, against minikv and a real
redis-server, and compare every byte each connection received (replies and pushes) after
each step. A step ends with ``PING <sentinel>`` on every connection, read up to its reply: the
messages a step caused are out before it (same loop turn), so the transcript does not depend
on timing. Client ids differ between the servers; they are replaced by the connections' names.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis
from helpers import ServerProcess, encode, wait_for

SENTINEL = b"sentinel-7f3a"
_PING_REPLIES = (  # a subscribed RESP2 connection's first: the other is its tail
    b"*2\r\n$4\r\npong\r\n$%d\r\n%b\r\n" % (len(SENTINEL), SENTINEL),
    b"$%d\r\n%b\r\n" % (len(SENTINEL), SENTINEL),
)

Step = tuple[Any, ...]


class Conn:
    def __init__(self, port: int, resp: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        if resp == 3:
            self.exchange([encode("HELLO", "3")])
        self.id = int(self.exchange([encode("CLIENT", "ID")])[1:-2])

    def exchange(self, requests: list[bytes]) -> bytes:
        """Send ``requests`` and a sentinel PING; everything received before its reply."""
        self.sock.sendall(b"".join(requests) + encode("PING", SENTINEL))
        while True:
            for tail in _PING_REPLIES:
                if self.buf.endswith(tail):
                    out, self.buf = self.buf[: -len(tail)], b""
                    return out
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed; got {self.buf!r}"
            self.buf += chunk


def transcript(port: int, conns: dict[str, int], script: list[Step]) -> list[tuple[Any, ...]]:
    """Run ``script`` (steps ``(name, *command)``, ``(name, [command, ...])`` for a pipeline,
    ``("close", name)``); ``"@name"`` in a command is that connection's id. Returns, per step,
    what each open connection received."""
    open_: dict[str, Conn] = {n: Conn(port, resp) for n, resp in conns.items()}
    ids = {n: c.id for n, c in open_.items()}
    out: list[tuple[Any, ...]] = []

    def arg(a: Any) -> Any:
        return ids[a[1:]] if isinstance(a, str) and a.startswith("@") else a

    for step in script:
        name = step[0]
        if name == "close":
            open_.pop(step[1]).sock.close()
            # Wait until the server saw it go (its id leaves CLIENT LIST).
            gone = b"id=%d " % ids[step[1]]
            probe = open_["b"]
            wait_for(
                lambda p=probe, g=gone: g not in p.exchange([encode("CLIENT", "LIST")]),
                what="the close to be seen",
            )
            out.append((step, []))
            continue
        cmds = list(step[1:]) if isinstance(step[1], list) else [step[1:]]
        got = {name: open_[name].exchange([encode(*map(arg, c)) for c in cmds])}
        for other, c in open_.items():
            if other != name:
                got[other] = c.exchange([])
        for n, data in got.items():
            data = b"\r\n" + data  # an integer reply starts after a CRLF, like the others
            for cname, cid in ids.items():
                data = data.replace(b"\r\n:%d\r\n" % cid, b"\r\n:<%b>\r\n" % cname.encode())
            got[n] = data[2:]
        out.append((step, sorted(got.items())))
    for c in open_.values():
        c.sock.close()
    return out


def check(
    server: ServerProcess, redis_server: ServerProcess, conns: dict[str, int], script: list[Step]
) -> list[tuple[Any, ...]]:
    results = []
    for srv in (server, redis_server):
        redis.Redis(port=srv.port).flushall()
        results.append(transcript(srv.port, conns, script))
    mine, theirs = results
    for a, b in zip(mine, theirs, strict=True):
        assert a == b, f"minikv {a!r}\n!= redis {b!r}"
    return mine


def received(result: list[tuple[Any, ...]], i: int, name: str) -> bytes:
    return dict(result[i][1])[name]


def test_default_mode_resp3_differential(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    script: list[Step] = [
        ("a", "CLIENT", "TRACKING", "on"),
        ("b", "SET", "k", "1"),
        ("a", "GET", "k"),
        ("b", "SET", "k", "2"),  # 3: a is told
        ("b", "SET", "k", "3"),  # 4: not again until a reads it again
        ("a", "MGET", "k", "x"),
        ("a", "SET", "k", "4"),  # 6: a's own write: after its reply
        ("a", "GET", "k"),
        ("a", ["MULTI"], ["SET", "k", "5"], ["GET", "x"], ["SET", "x", "1"], ["EXEC"]),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "GET", "k"),
        ("b", "FLUSHALL"),  # 11: null invalidation
        ("a", "FLUSHDB"),  # 12: own flush: after the reply
        ("a", "CLIENT", "GETREDIR"),
        ("a", "CLIENT", "TRACKING", "on", "PREFIX", "x"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST"),
        ("a", "CLIENT", "TRACKING", "maybe"),
        ("a", "CLIENT", "TRACKING", "on", "REDIRECT", "nope"),
        ("a", "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "TRACKING", "off"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "GETREDIR"),
    ]
    got = check(server, redis_server, {"a": 3, "b": 2}, script)
    push_k = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    assert received(got, 3, "a") == push_k
    assert received(got, 4, "a") == b""
    assert received(got, 6, "a") == b"+OK\r\n" + push_k
    assert received(got, 11, "a") == b">2\r\n$10\r\ninvalidate\r\n_\r\n"


def test_bcast_prefixes_and_noloop_differential(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    script: list[Step] = [
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"),
        ("n", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1"),  # overlaps
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p", "PREFIX", "pq"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("b", "MSET", "user:1", "a", "obj:2", "b", "other", "c"),  # 5
        ("n", "SET", "user:9", "x"),  # 6: n is not told of its own write, a is
        ("n", "MSET", "mine", "1", "user:7", "2"),
        ("b", "DEL", "other"),  # 8: n only
        ("a", "OPTIN"),
        ("a", "CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
        ("a", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("b", "INCR", "user:n"),
    ]
    got = check(server, redis_server, {"a": 3, "n": 3, "b": 2}, script)
    assert b"user:1" in received(got, 5, "a") and b"other" not in received(got, 5, "a")
    assert received(got, 6, "n") == b"+OK\r\n"
    assert b"user:9" in received(got, 6, "a")
    assert b"other" in received(got, 8, "n")


def test_optin_optout_caching_differential(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    script: list[Step] = [
        ("i", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("o", "CLIENT", "TRACKING", "on", "OPTOUT"),
        ("i", "GET", "k1"),  # not remembered (OPTIN without CACHING yes)
        (
            "i",
            ["CLIENT", "CACHING", "yes"],
            ["CLIENT", "TRACKINGINFO"],
            ["GET", "k2"],
            ["GET", "k3"],
        ),
        ("i", ["CLIENT", "CACHING", "yes"], ["MULTI"], ["GET", "k4"], ["GET", "k5"], ["EXEC"]),
        ("o", "GET", "k1"),
        (
            "o",
            ["CLIENT", "CACHING", "no"],
            ["CLIENT", "TRACKINGINFO"],
            ["GET", "k2"],
            ["GET", "k6"],
        ),
        ("b", "MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4", "k5", "5", "k6", "6"),  # 7
        ("i", "CLIENT", "CACHING", "no"),
        ("o", "CLIENT", "CACHING", "yes"),
        ("o", "CLIENT", "CACHING", "maybe"),
        ("b", "CLIENT", "CACHING", "yes"),
        ("i", "CLIENT", "TRACKING", "on", "OPTOUT"),
    ]
    got = check(server, redis_server, {"i": 3, "o": 3, "b": 3}, script)
    to_i, to_o = received(got, 7, "i"), received(got, 7, "o")
    assert b"k1" not in to_i and b"k2" in to_i and b"k3" not in to_i
    assert b"k4" in to_i and b"k5" in to_i
    assert b"k1" in to_o and b"k2" not in to_o and b"k6" in to_o


def test_keys_read_by_scripts_differential(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    """As Redis's call(): each read a script runs remembers, for the calling tracking client,
    every key the script was given (read or not), never the keys it reads undeclared; a
    script that only writes remembers nothing; OPTIN's CLIENT CACHING yes covers the script."""
    read_first = "redis.call('get', KEYS[1]) return 1"
    library = (
        "#!lua name=tracklib\n"
        "redis.register_function('getter', function(keys) return redis.call('get', keys[1]) end)"
    )
    script: list[Step] = [
        ("a", "CLIENT", "TRACKING", "on"),
        ("i", "CLIENT", "TRACKING", "on", "OPTIN"),
        ("b", "FUNCTION", "LOAD", "REPLACE", library),
        ("a", "EVAL", read_first, "2", "k1", "k2"),  # k2 given, not read: remembered too
        ("a", "EVAL", "return redis.call('get', 'k3')", "0"),  # undeclared: not remembered
        ("a", "EVAL", "redis.call('set', KEYS[1], 'x') return 1", "1", "k4"),  # no read
        ("a", "EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k5"),
        ("a", "FCALL", "getter", "1", "k6"),
        ("i", "EVAL", read_first, "1", "k7"),  # OPTIN without CACHING yes
        ("i", ["CLIENT", "CACHING", "yes"], ["EVAL", read_first, "1", "k8"]),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("b", "MSET", *(x for n in range(1, 9) for x in (f"k{n}", n))),  # 11
        ("b", "FUNCTION", "FLUSH"),
    ]
    got = check(server, redis_server, {"a": 3, "i": 3, "b": 3}, script)
    to_a, to_i = received(got, 11, "a"), received(got, 11, "i")
    for key in (b"k1", b"k2", b"k5", b"k6"):
        assert b"$2\r\n" + key in to_a
    for key in (b"k3", b"k4"):
        assert key not in to_a
    assert b"k8" in to_i and b"k7" not in to_i


def test_redirect_resp2_subscriber_and_broken_differential(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    script: list[Step] = [
        ("s", "SUBSCRIBE", "__redis__:invalidate"),
        ("t", "CLIENT", "TRACKING", "on", "REDIRECT", "@s"),
        ("t", "CLIENT", "GETREDIR"),
        ("t", "GET", "k"),
        ("b", "SET", "k", "1"),  # 4: the message goes to s
        ("t", "GET", "k"),
        ("t", "SET", "k", "2"),  # own write, told to s
        ("t", "GET", "k"),
        ("b", "FLUSHALL"),
        ("t3", "CLIENT", "TRACKING", "on", "REDIRECT", "@r3"),
        ("t3", "GET", "k"),
        ("b", "SET", "k", "3"),  # 10: a RESP3 target gets a push
        ("t", "GET", "k"),
        ("t3", "GET", "k"),
        ("close", "s"),
        ("close", "r3"),
        ("b", "SET", "k", "4"),  # 16: the targets are gone
        ("t", "CLIENT", "TRACKINGINFO"),
        ("t3", "CLIENT", "TRACKINGINFO"),
        ("t", "CLIENT", "TRACKING", "on", "REDIRECT", "@t", "REDIRECT", "@t"),
    ]
    got = check(server, redis_server, {"s": 2, "t": 2, "t3": 3, "r3": 3, "b": 2}, script)
    msg = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    assert received(got, 4, "s") == msg
    assert received(got, 11, "r3") == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    assert received(got, 16, "t3") == b">2\r\n$21\r\ntracking-redir-broken\r\n:<r3>\r\n"


def _served_blocked_command(port: int) -> bytes:
    admin = redis.Redis(port=port)
    admin.flushall()
    c = Conn(port, 3)
    c.exchange([encode("CLIENT", "TRACKING", "on"), encode("GET", "dst")])
    c.sock.sendall(encode("BLMOVE", "src", "dst", "LEFT", "LEFT", "0"))
    wait_for(lambda: admin.info("clients")["blocked_clients"] == 1, what="BLMOVE to block")
    admin.rpush("src", "x")
    got = c.exchange([])
    c.sock.close()
    admin.close()
    return got


def test_served_blocked_command_reply_before_its_invalidation(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    got = _served_blocked_command(server.port)
    assert got == _served_blocked_command(redis_server.port)
    assert got == b"$1\r\nx\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\ndst\r\n"


def test_expiry_invalidates(server: ServerProcess) -> None:
    other = server.client()
    other.flushall()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        conn = Conn.__new__(Conn)
        conn.sock, conn.buf = s, b""
        conn.exchange([encode("HELLO", "3"), encode("CLIENT", "TRACKING", "on")])
        other.set("gone", "1", px=30)
        assert conn.exchange([encode("GET", "gone")]) in (b"$1\r\n1\r\n", b"_\r\n")
        wait_for(lambda: other.exists("gone") == 0, what="the key to expire")
        # Expired by the other client's read (or the active cycle): the reader is told.
        assert conn.exchange([]) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\ngone\r\n"
    other.close()


def _info(c: redis.Redis) -> dict[str, Any]:
    return c.info("everything")


def test_expiry_info_client_list_and_reset(server: ServerProcess) -> None:
    t = server.client(protocol=3)
    other = server.client()
    t.flushall()
    t.execute_command("CLIENT", "TRACKING", "on")
    other.set("gone", "1", px=1)
    other.set("kept", "1")
    assert t.get("kept") == b"1"
    wait_for(lambda: other.get("gone") is None, what="gone to expire")
    info = _info(other)
    assert info["tracking_clients"] == 1
    assert info["tracking_total_keys"] == 1
    assert info["tracking_total_items"] == 1
    me = t.client_id()
    line = other.execute_command("CLIENT", "LIST", "ID", me).decode()
    assert " flags=t " in line and " redir=0 " in line
    t.execute_command("RESET")
    assert _info(other)["tracking_clients"] == 0
    assert _info(other)["tracking_total_keys"] == 0
    t.execute_command("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b")
    assert _info(other)["tracking_total_prefixes"] == 2
    line = other.execute_command("CLIENT", "LIST", "ID", me).decode()
    assert " flags=tB " in line
    t.close()
    wait_for(lambda: _info(other)["tracking_clients"] == 0, what="the close")
    assert _info(other)["tracking_total_prefixes"] == 0
    other.close()


def test_table_max_keys_evicts_with_invalidation(server: ServerProcess) -> None:
    admin = server.client()
    admin.flushall()
    admin.config_set("tracking-table-max-keys", 2)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            conn = Conn.__new__(Conn)
            conn.sock, conn.buf = s, b""
            conn.exchange([encode("HELLO", "3"), encode("CLIENT", "TRACKING", "on")])
            conn.exchange([encode("GET", "a"), encode("GET", "b")])
            assert _info(admin)["tracking_total_keys"] == 2
            got = conn.exchange([encode("GET", "c")])
            # The oldest entry went, with an invalidation, as if "a" had changed.
            assert got == b"_\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n"
            assert _info(admin)["tracking_total_keys"] == 2
    finally:
        admin.config_set("tracking-table-max-keys", 1_000_000)
    assert admin.config_get("tracking-table-max-keys") == {"tracking-table-max-keys": "1000000"}
    with pytest.raises(redis.ResponseError):
        admin.config_set("tracking-table-max-keys", -1)
    admin.close()


def test_redis_py_client_side_cache_sees_other_clients_write(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.cache import CacheConfig
    from redis.connection import CacheProxyConnection

    # redis-py 8.2 offers its cache only to servers whose HELLO says 7.4 or later (a version
    # gate, not a feature probe); minikv reports the Redis it follows, 7.0.15, whose CLIENT
    # TRACKING is what redis-py uses. Lower the gate for this client only.
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")
    cached = redis.Redis(port=server.port, protocol=3, cache_config=CacheConfig())
    writer = server.client()
    writer.flushall()
    writer.config_resetstat()
    writer.set("page", "v1")
    assert cached.get("page") == b"v1"
    assert cached.get("page") == b"v1"  # served from the cache: no second GET sent
    hits = writer.info("commandstats")["cmdstat_get"]["calls"]
    assert hits == 1
    writer.set("page", "v2")
    # The invalidation push reaches redis-py before its next read is answered.
    assert cached.get("page") == b"v2"
    assert writer.info("commandstats")["cmdstat_get"]["calls"] == 2
    cached.close()
    writer.close()


def test_eviction_invalidates() -> None:
    with ServerProcess() as srv:  # of its own: it fills maxmemory
        admin = srv.client()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            conn = Conn.__new__(Conn)
            conn.sock, conn.buf = s, b""
            conn.exchange([encode("HELLO", "3"), encode("CLIENT", "TRACKING", "on")])
            tracked = [f"t:{i}".encode() for i in range(20)]
            admin.mset({k: b"v" * 1000 for k in tracked})
            conn.exchange([encode("GET", k) for k in tracked])
            admin.config_set("maxmemory-policy", "allkeys-lru")
            admin.config_set("maxmemory", 2**40)
            admin.config_set("maxmemory", int(admin.info("memory")["used_memory"]) + 50_000)
            p = admin.pipeline(transaction=False)
            for i in range(200):
                p.set(f"fill:{i}", b"v" * 1000)
            p.execute()
            assert admin.info("stats")["evicted_keys"] > 0
            gone = {k for k in tracked if not admin.exists(k)}
            assert gone  # the idle tracked keys went first
            pushes = conn.exchange([])
            told = {k for k in tracked if b"$%d\r\n%b\r\n" % (len(k), k) in pushes}
            assert told == gone
        admin.close()
