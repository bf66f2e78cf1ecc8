"""Connection commands (PING ECHO QUIT HELLO AUTH SELECT RESET CLIENT), requirepass, maxclients,
protected mode and flow control towards a client that does not read its replies."""

from __future__ import annotations

import socket
import time

import hiredis
import pytest
import redis
from helpers import Raw, ServerProcess, encode, have_redis_server


def test_connection_commands_same_as_redis(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("PING",),
        ("PING", "hello"),
        ("PING", "a", "b"),
        ("ECHO", "x"),
        ("ECHO",),
        ("SELECT", "1"),
        ("SELECT", "16"),
        ("SELECT", "-1"),
        ("SELECT", "abc"),
        ("AUTH", "pw"),
        ("AUTH", "default", "pw"),
        ("AUTH", "a", "b", "c"),
        ("HELLO", "4"),
        ("HELLO", "abc"),
        ("HELLO", "3", "AUTH", "default"),
        ("HELLO", "3", "SETNAME", "bad name"),
        ("HELLO", "2", "BOGUS"),
        ("CLIENT", "SETNAME", "bad name"),
        ("CLIENT", "SETNAME", "good-name"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", ""),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "NO-EVICT", "maybe"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
        ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "TYPE", "bogus"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "maybe"),
        ("CLIENT", "BOGUS"),
        ("CLIENT",),
    )


def test_ping_echo_select(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    r.set("k", "db0")
    r.execute_command("SELECT", 1)
    assert r.get("k") is None
    r.execute_command("SELECT", 0)
    assert r.get("k") == b"db0"


def test_hello(server) -> None:  # type: ignore[no-untyped-def]
    c = server.client(protocol=3)
    try:
        info = c.execute_command("HELLO", "3", "SETNAME", "me")
        assert info[b"server"] == b"redis" and info[b"proto"] == 3
        assert info[b"mode"] == b"standalone" and info[b"role"] == b"master"
        assert info[b"modules"] == [] and info[b"id"] == c.client_id()
        assert c.client_getname() == b"me"
    finally:
        c.close()
    with Raw(server.port) as raw:
        reply = raw.request(encode("HELLO"))  # no version: RESP2 reply, a flat array
        assert reply.startswith(b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
        assert raw.request(encode("HELLO", "3")).startswith(b"%7\r\n")
        assert raw.request(encode("GET", "nokey")) == b"_\r\n"
        assert raw.request(encode("HELLO", "2")).startswith(b"*14\r\n")
        assert raw.request(encode("GET", "nokey")) == b"$-1\r\n"


def test_client_subcommands(r: redis.Redis, server) -> None:  # type: ignore[no-untyped-def]
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    assert r.client_setname("worker") is True
    assert r.client_getname() in (b"worker", "worker")
    info = r.client_info()
    assert info["id"] == str(cid) or info["id"] == cid
    assert info["name"] == "worker"
    # redis-py 8 told the server who it is on connect.
    assert info["lib-name"].startswith("redis-py")
    listing = r.client_list()
    assert any(str(c["id"]) == str(cid) for c in listing)
    assert r.execute_command("CLIENT", "NO-EVICT", "off") in (b"OK", "OK", True)
    help_lines = r.execute_command("CLIENT", "HELP")
    assert any(b"GETNAME" in (x if isinstance(x, bytes) else x.encode()) for x in help_lines)
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib") in (b"OK", "OK", True)
    with pytest.raises(redis.ResponseError):
        r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "has space")


def test_client_kill(server) -> None:  # type: ignore[no-untyped-def]
    with Raw(server.port) as victim, Raw(server.port) as killer:
        victim_id = int(victim.request(encode("CLIENT", "ID"))[1:-2])
        assert killer.request(encode("CLIENT", "KILL", "ID", str(victim_id))) == b":1\r\n"
        assert victim.read_until_closed() == b""
        # SKIPME yes by default: a client does not kill itself with filters...
        my_id = int(killer.request(encode("CLIENT", "ID"))[1:-2])
        assert killer.request(encode("CLIENT", "KILL", "ID", str(my_id))) == b":0\r\n"
        # ...but may with SKIPME no, and gets its reply first.
        got = killer.request(encode("CLIENT", "KILL", "ID", str(my_id), "SKIPME", "no"))
        assert got == b":1\r\n"
        assert killer.read_until_closed() == b""


def test_quit_and_reset(server) -> None:  # type: ignore[no-untyped-def]
    with Raw(server.port) as c:
        for req in (encode("SELECT", "3"), encode("CLIENT", "SETNAME", "n"), encode("MULTI")):
            assert c.request(req) == b"+OK\r\n"
        assert c.request(encode("RESET")) == b"+RESET\r\n"
        assert c.request(encode("CLIENT", "GETNAME")) == b"$-1\r\n"
        assert c.request(encode("CLIENT", "INFO")).find(b" db=0 ") > 0
        c.send(encode("QUIT") + encode("PING"))
        assert c.read_until_closed() == b"+OK\r\n"  # nothing after QUIT is run


@pytest.fixture(scope="module")
def auth_servers():  # type: ignore[no-untyped-def]
    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    with (
        ServerProcess("--requirepass", "s3cret") as mk,
        ServerProcess("--requirepass", "s3cret", kind="redis") as rd,
    ):
        yield mk, rd


AUTH_SCRIPT = [
    encode("GET", "k"),
    encode("NOSUCH"),
    encode("PING"),
    encode("HELLO", "3"),
    encode("AUTH", "wrong"),
    encode("AUTH", "default", "wrong"),
    encode("AUTH", "nobody", "s3cret"),
    encode("HELLO", "2", "AUTH", "default", "wrong"),
    encode("AUTH", "s3cret"),
    encode("SET", "k", "v"),
    encode("GET", "k"),
    encode("RESET"),
    encode("GET", "k"),
    encode("HELLO", "2", "AUTH", "default", "s3cret"),
    encode("DEL", "k"),
    encode("AUTH", "default", "s3cret"),
]


def test_requirepass_same_as_redis(auth_servers) -> None:  # type: ignore[no-untyped-def]
    mk, rd = auth_servers
    with Raw(mk.port) as a, Raw(rd.port) as b:
        for req in AUTH_SCRIPT:
            mine, theirs = a.request(req), b.request(req)
            if b"HELLO" in req[:16] and theirs.startswith(b"*14"):
                continue  # the HELLO map holds ids and versions
            assert mine == theirs, req


def test_requirepass_with_redis_py(auth_servers) -> None:  # type: ignore[no-untyped-def]
    mk, _ = auth_servers
    for proto in (2, 3):
        with pytest.raises(redis.AuthenticationError):
            mk.client(protocol=proto).ping()
        c = mk.client(protocol=proto, password="s3cret")
        assert c.ping() is True
        with pytest.raises(redis.AuthenticationError):
            mk.client(protocol=proto, password="nope").ping()
        c.close()


def test_maxclients() -> None:
    kinds = ["minikv"] + (["redis"] if have_redis_server() else [])
    for kind in kinds:
        with ServerProcess("--maxclients", "2", kind=kind) as srv:
            with Raw(srv.port) as a, Raw(srv.port) as b:
                assert a.request(encode("PING")) == b"+PONG\r\n"
                assert b.request(encode("PING")) == b"+PONG\r\n"
                with Raw(srv.port) as c:
                    assert c.read_until_closed() == b"-ERR max number of clients reached\r\n"
            # Slots free again once clients leave.
            deadline = time.monotonic() + 5
            while True:
                with Raw(srv.port) as d:
                    d.send(encode("PING"))
                    if d.read_reply() == b"+PONG\r\n":
                        break
                assert time.monotonic() < deadline
                time.sleep(0.05)


NOAUTH = b"-NOAUTH Authentication required.\r\n"


def _own_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


@pytest.mark.parametrize(
    "flags,denied",
    [((), True), (("--requirepass", "pw"), False), (("--protected-mode", "no"), False)],
)
def test_protected_mode(flags: tuple[str, ...], denied: bool) -> None:
    ip = _own_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    replies = {}
    kinds = ["minikv"] + (["redis"] if have_redis_server() else [])
    for kind in kinds:
        with ServerProcess(*flags, kind=kind, bind="0.0.0.0") as srv:
            with Raw(srv.port, host=ip) as c:
                c.send(encode("PING"))
                replies[kind] = c.read_until_closed() if denied else c.read_reply()
            with Raw(srv.port) as local:  # loopback is always fine
                assert local.request(encode("PING")) in (
                    b"+PONG\r\n",
                    b"-NOAUTH Authentication required.\r\n",
                )
    if denied:
        assert replies["minikv"].startswith(b"-DENIED Redis is running in protected mode")
    else:
        assert replies["minikv"] in (b"+PONG\r\n", NOAUTH)
    if "redis" in replies:
        assert replies["minikv"] == replies["redis"]


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_client_not_reading_replies_does_not_grow_memory() -> None:
    with ServerProcess() as srv:
        with Raw(srv.port) as setup:
            assert setup.request(encode("SET", "big", b"x" * 1_000_000)) == b"+OK\r\n"
        base = _rss_kb(srv.proc.pid)
        hog = socket.create_connection(("127.0.0.1", srv.port))
        hog.setblocking(False)
        request = encode("GET", "big") * 500
        sent = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and sent < 5000:  # up to 5 GB of replies asked for
            try:
                hog.send(request)
                sent += 500
            except BlockingIOError:
                time.sleep(0.02)
        try:
            time.sleep(0.5)
            grown_mb = (_rss_kb(srv.proc.pid) - base) / 1024
            assert grown_mb < 100, f"server grew by {grown_mb:.0f} MB for a non-reading client"
            with Raw(srv.port) as other:
                assert other.request(encode("PING")) == b"+PONG\r\n"
                assert other.request(encode("STRLEN", "big")) == b":1000000\r\n"
            # Once the client reads, the replies flow again, in order and complete.
            hog.setblocking(True)
            hog.settimeout(10)
            want = b"$1000000\r\n" + b"x" * 1_000_000 + b"\r\n"
            got = b""
            while len(got) < 3 * len(want):
                got += hog.recv(1 << 20)
            assert got[: 3 * len(want)] == want * 3
        finally:
            hog.close()


# --- pipelines: the dispatcher's shortcut next to the full checks --------------------------------


def _pipeline(port: int, data: bytes, resp: int) -> bytes:
    """Send ``data`` and QUIT in one write (after HELLO 3 if ``resp`` is 3); return every reply
    byte until the server closes."""
    with Raw(port) as c:
        if resp == 3:
            c.request(encode("HELLO", "3"))
        c.send(data + encode("QUIT"))
        return c.read_until_closed()


PIPELINE_MIX: list[tuple[str, ...] | bytes] = [
    ("FLUSHALL",),
    ("SET", "a", "1"),
    ("GET", "a"),
    ("INCR", "a"),
    ("INCR", "a"),
    ("GET", "missing"),
    ("INCR", "n"),
    ("DECR", "a"),
    ("INCRBY", "a", "10"),
    b"GET a\r\nPING\r\n",  # inline requests between multibulk ones, in the same read
    ("SET", "s", "abc"),
    ("INCR", "s"),
    ("SET", "z", "007"),
    ("INCR", "z"),
    ("INCR", "s", "x"),
    ("GET",),
    ("NOSUCH", "x"),
    ("get", "a"),
    ("gEt", "a"),
    ("ECHO", "x"),
    ("PING",),
    ("PING", "hi"),
    ("MULTI",),
    ("SET", "m", "1"),
    ("INCR", "m"),
    ("GET", "m"),
    ("EXEC",),
    ("MULTI",),
    ("INCR", "s"),
    ("GETX",),
    ("EXEC",),
    ("RPUSH", "l", "x"),
    ("INCR", "l"),
    ("GET", "l"),
    ("LLEN", "l"),
    ("SET", "f", "1.5"),
    ("INCRBYFLOAT", "f", "1"),
    ("EXISTS", "a", "f", "missing"),
    ("MGET", "a", "missing", "f"),
    ("HSET", "h", "f", "v"),
    ("HGETALL", "h"),
    ("SET", "big", "x" * 3000),
    ("GET", "big"),
    ("WATCH", "a"),
    ("INCR", "a"),
    ("MULTI",),
    ("PING",),
    ("EXEC",),
    ("WATCH", "a"),
    ("MULTI",),
    ("INCR", "a"),
    ("EXEC",),
    ("RPUSH", "q", "1"),
    ("BLPOP", "q", "0"),
    ("BLPOP", "q", "0.01"),
    ("INCR", "a"),
    ("SELECT", "1"),
    ("GET", "a"),
    ("SET", "a", "db1"),
    ("INCR", "a"),
    ("SELECT", "0"),
    ("GET", "a"),
    ("DEL", "a"),
    ("GET", "a"),
    ("INCR", "a"),
    ("FLUSHALL",),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_pipelined_mix_same_as_redis(server, redis_server, resp: int) -> None:  # type: ignore[no-untyped-def]
    # Shortcut commands (SET GET INCR...) and ones that take the full checks (errors, MULTI,
    # WATCH, blocking, SELECT...) interleaved in one read, byte for byte as Redis answers them.
    data = b"".join(c if isinstance(c, bytes) else encode(*c) for c in PIPELINE_MIX)
    mine = _pipeline(server.port, data, resp)
    assert mine == _pipeline(redis_server.port, data, resp)
    assert mine.endswith(b"+OK\r\n+OK\r\n")


def test_protocol_switch_inside_a_pipeline(server) -> None:  # type: ignore[no-untyped-def]
    data = encode("GET", "nokey") + encode("INCR", "ctr-switch") + encode("HELLO", "3")
    data += encode("GET", "nokey") + encode("INCR", "ctr-switch") + encode("DEL", "ctr-switch")
    got = _pipeline(server.port, data, 2)
    assert got.startswith(b"$-1\r\n:1\r\n%7\r\n")
    assert got.endswith(b"_\r\n:2\r\n:1\r\n+OK\r\n")


def _read_replies(c: Raw, n: int) -> list[object]:
    reader = hiredis.Reader()
    replies: list[object] = []
    while len(replies) < n:
        reader.feed(c.sock.recv(65536))
        replies.extend(iter(reader.gets, False))
    return replies


def _commandstats(text: bytes) -> dict[str, dict[str, str]]:
    stats = {}
    for line in text.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line.partition(":")
            stats[name] = dict(f.split("=") for f in fields.split(","))
    return stats


def test_commandstats_of_pipelines_same_as_redis(server, redis_server) -> None:  # type: ignore[no-untyped-def]
    # Consecutive calls of one command are timed together: counts stay exact, every call's
    # time is charged before anything can read it, and RESETSTAT in a pipeline resets it all.
    data = encode("CONFIG", "RESETSTAT") + encode("SET", "a", "1") * 200 + encode("GET", "a") * 3
    data += encode("GET") + encode("INCR", "a") * 2 + encode("SET", "s", "x") + encode("INCR", "s")
    data += encode("INFO", "commandstats") * 2 + encode("MULTI") + encode("INCR", "a")
    data += encode("EXEC") + encode("PING") * 3 + encode("DEL", "a", "s")
    counts = {}
    for srv in (server, redis_server):
        reader = hiredis.Reader()
        reader.feed(_pipeline(srv.port, data, 2))
        replies = iter(reader.gets, False)
        infos = [r for r in replies if isinstance(r, bytes) and r.startswith(b"# Commandstats")]
        first, second = map(_commandstats, infos)
        with Raw(srv.port) as c:
            final = _commandstats(c.request(encode("INFO", "commandstats")))
        counts[srv.kind] = [
            {k: (v["calls"], v["rejected_calls"], v["failed_calls"]) for k, v in s.items()}
            for s in (first, second, final)
        ]
        if srv is server:
            assert "cmdstat_info" not in first
            assert second["cmdstat_info"]["calls"] == "1"
            assert int(second["cmdstat_info"]["usec"]) > 0  # the first INFO, charged at once
            assert int(first["cmdstat_set"]["usec"]) > 0
            assert final["cmdstat_set"]["calls"] == "201"
    assert counts["minikv"] == counts["redis"]
    with Raw(server.port) as c:
        # A run that ends its read is charged when the read is done.
        assert c.request(encode("CONFIG", "RESETSTAT")) == b"+OK\r\n"
        c.send(encode("SET", "a", "1") * 300)
        assert _read_replies(c, 300) == [b"OK"] * 300
        stats = _commandstats(c.request(encode("INFO", "commandstats")))
        assert stats["cmdstat_set"]["calls"] == "300"
        assert int(stats["cmdstat_set"]["usec"]) > 0
        # RESETSTAT after a run: nothing of the run is left (time included).
        data = encode("SET", "a", "1") * 300 + encode("CONFIG", "RESETSTAT") + encode("DEL", "a")
        c.send(data + encode("INFO", "commandstats"))
        got = b""
        while b"cmdstat_del" not in got or not got.endswith(b"\r\n\r\n"):
            got += c.sock.recv(65536)
    assert sorted(_commandstats(got)) == ["cmdstat_config|resetstat", "cmdstat_del"]


def test_client_list_names_the_last_command_of_a_pipeline(server) -> None:  # type: ignore[no-untyped-def]
    with Raw(server.port) as c, Raw(server.port) as other:
        c.request(encode("CLIENT", "SETNAME", "piped"))
        for batch, want in (
            (
                encode("GET", "a") * 2 + encode("CLIENT", "SETNAME", "piped") + encode("GET", "a"),
                b"get",
            ),
            (encode("GET", "a") * 3 + encode("ECHO", "x") * 2, b"echo"),
            (encode("PING") + encode("CLIENT", "GETNAME"), b"client|getname"),
        ):
            c.send(batch)
            _read_replies(c, batch.count(b"*"))
            listing = other.request(encode("CLIENT", "LIST"))
            mine = [line for line in listing.split(b"\n") if b" name=piped " in line]
            assert len(mine) == 1 and b" cmd=" + want + b" " in mine[0], mine


def test_internal_error_is_answered_and_the_server_keeps_serving(server: ServerProcess) -> None:
    """A handler that raises something other than a reply error (DEBUG ASSERT raises one on
    purpose; otherwise it would be a bug) gets an error reply; the connection, the data and
    the other clients carry on, and the traceback is logged. Redis aborts here instead."""
    for protocol in (2, 3):
        r = server.client(protocol=protocol)
        other = server.client(protocol=protocol)
        r.set("kept", "1")
        with pytest.raises(redis.ResponseError, match=r"internal error in 'debug'.*AssertionError"):
            r.execute_command("DEBUG", "ASSERT")
        assert r.get("kept") == b"1" and other.ping()
        # In a pipeline the error takes its place among the replies, through the fast path too.
        p = r.pipeline(transaction=False)
        p.set("a", "1").execute_command("DEBUG", "ASSERT").get("a")
        replies = p.execute(raise_on_error=False)
        assert replies[0] is True and replies[2] == b"1"
        assert isinstance(replies[1], redis.ResponseError)
        # Inside MULTI it is one failed command of the EXEC reply, like any error.
        p = r.pipeline(transaction=True)
        p.incr("n").execute_command("DEBUG", "ASSERT").incr("n")
        replies = p.execute(raise_on_error=False)
        assert replies[0] == 1 and replies[2] == 2 and isinstance(replies[1], redis.ResponseError)
        r.flushall()
    assert "Internal error in 'debug'" in server.log() and "AssertionError" in server.log()
    stats = server.client().info("errorstats")
    assert stats["errorstat_ERR"]["count"] >= 6
