"""Blocking list commands with several connections: waking by pushes from other clients, FIFO
order, timeouts, BLMOVE chains, requests pipelined behind a blocked command, MULTI, clients that
go away while blocked, CLIENT LIST / INFO. Scenarios whose replies are deterministic run on
minikv and on redis-server and must produce the same raw bytes."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from helpers import Raw, ServerProcess, encode, run_raw

Scenario = Callable[[int], list[bytes]]


@pytest.fixture
def mk(server: ServerProcess) -> Iterator[int]:
    run_raw(server.port, [("FLUSHALL",)])
    yield server.port


def blocked_clients(port: int) -> int:
    info = run_raw(port, [("INFO", "clients")])[0]
    line = next(x for x in info.split(b"\r\n") if x.startswith(b"blocked_clients:"))
    return int(line.split(b":")[1])


def wait_blocked(port: int, n: int) -> None:
    """Poll until exactly ``n`` clients are blocked."""
    deadline = time.monotonic() + 10
    while blocked_clients(port) != n:
        assert time.monotonic() < deadline, f"never saw {n} blocked clients"
        time.sleep(0.005)


def nothing_pending(conn: Raw, wait: float = 0.2) -> bool:
    """True if no reply arrives within ``wait`` seconds (the client is still held)."""
    conn.sock.settimeout(wait)
    try:
        data = conn.sock.recv(65536)
    except TimeoutError:
        return True
    finally:
        conn.sock.settimeout(5)
    raise AssertionError(f"unexpected reply {data!r}")


def read_lines(conn: Raw, n: int) -> bytes:
    """Exactly the next ``n`` CRLF-terminated lines (replies of known shape)."""
    data = b""
    while data.count(b"\r\n") < n:
        chunk = conn.sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def blocker(port: int, *cmd: str, resp: int = 2) -> Raw:
    """A connection that sent ``cmd`` (a blocking command) and waits for its reply."""
    conn = Raw(port)
    if resp == 3:
        conn.request(encode("HELLO", "3"))
    conn.send(encode(*cmd))
    return conn


def same_on_redis(scenario: Scenario, mk: int, redis_server: ServerProcess) -> list[bytes]:
    """Run ``scenario`` on both servers (each flushed first) and compare all replies."""
    results = []
    for port in (mk, redis_server.port):
        run_raw(port, [("FLUSHALL",)])
        results.append(scenario(port))
    assert results[0] == results[1], f"minikv {results[0]!r} != redis {results[1]!r}"
    return results[0]


# --- waking -------------------------------------------------------------------------------------


def test_blpop_woken_by_push(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BLPOP", "k", "0") as a:
            wait_blocked(port, 1)
            pushed = run_raw(port, [("RPUSH", "k", "v1", "v2")])
            return [*pushed, a.read_reply(), *run_raw(port, [("LRANGE", "k", "0", "-1")])]

    out = same_on_redis(scenario, mk, redis_server)
    assert out[1] == b"*2\r\n$1\r\nk\r\n$2\r\nv1\r\n"


def test_fifo_order_among_blocked_clients(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        conns = []
        for i, cmd in enumerate(["BLPOP", "BRPOP", "BLPOP"]):
            conns.append(blocker(port, cmd, "k", "0"))
            wait_blocked(port, i + 1)
        out = run_raw(port, [("RPUSH", "k", "a", "b", "c", "d")])
        out += [c.read_reply() for c in conns]
        out += run_raw(port, [("LRANGE", "k", "0", "-1")])
        for c in conns:
            c.close()
        return out

    out = same_on_redis(scenario, mk, redis_server)
    assert out[1:4] == [
        b"*2\r\n$1\r\nk\r\n$1\r\na\r\n",
        b"*2\r\n$1\r\nk\r\n$1\r\nd\r\n",
        b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n",
    ]


def test_each_push_serves_before_the_next_command(mk: int, redis_server: ServerProcess) -> None:
    """Pipelined pushes: the blocked client is served right after the first one."""

    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BRPOP", "k", "0") as a:
            wait_blocked(port, 1)
            out = run_raw(port, [("RPUSH", "k", "x"), ("RPUSH", "k", "y"), ("LLEN", "k")])
            return [*out, a.read_reply()]

    assert same_on_redis(scenario, mk, redis_server)[-1] == b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n"


def test_multi_exec_serves_after_exec(mk: int, redis_server: ServerProcess) -> None:
    """Keys are served after the whole transaction: a push popped again inside it serves
    nobody, and among several ready keys the first one changed wins."""

    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BLPOP", "k1", "k2", "0") as a:
            wait_blocked(port, 1)
            out = run_raw(
                port,
                [("MULTI",), ("LPUSH", "k1", "gone"), ("LPOP", "k1"), ("EXEC",)],
            )
            assert nothing_pending(a, 0.1)
            out += run_raw(
                port,
                [("MULTI",), ("LPUSH", "k2", "two"), ("LPUSH", "k1", "one"), ("EXEC",)],
            )
            out.append(a.read_reply())
            return out

    assert same_on_redis(scenario, mk, redis_server)[-1] == b"*2\r\n$2\r\nk2\r\n$3\r\ntwo\r\n"


def test_key_of_another_type_keeps_waiting(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BLPOP", "k", "0") as a:
            wait_blocked(port, 1)
            out = run_raw(port, [("SET", "k", "str")])
            assert nothing_pending(a, 0.1)
            out += run_raw(port, [("DEL", "k"), ("RPUSH", "k", "v")])
            out.append(a.read_reply())
            return out

    same_on_redis(scenario, mk, redis_server)


def test_rename_and_swapdb_wake(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        out = []
        with blocker(port, "BLPOP", "k", "0") as a:
            wait_blocked(port, 1)
            out += run_raw(port, [("RPUSH", "tmp", "renamed"), ("RENAME", "tmp", "k")])
            out.append(a.read_reply())
        wait_blocked(port, 0)
        with blocker(port, "BLPOP", "k", "0") as a:
            wait_blocked(port, 1)
            out += run_raw(port, [("SELECT", "1"), ("RPUSH", "k", "swapped"), ("SWAPDB", "0", "1")])
            out.append(a.read_reply())
        return out

    same_on_redis(scenario, mk, redis_server)


def test_timeout_zero_waits_for_a_late_push(mk: int) -> None:
    with blocker(mk, "BRPOP", "a", "b", "0") as a:
        wait_blocked(mk, 1)
        assert nothing_pending(a, 0.3)
        run_raw(mk, [("LPUSH", "b", "late")])
        assert a.read_reply() == b"*2\r\n$1\r\nb\r\n$4\r\nlate\r\n"
    assert run_raw(mk, [("EXISTS", "b")]) == [b":0\r\n"]


# --- BLMOVE -------------------------------------------------------------------------------------


def test_blmove_woken_and_chained(mk: int, redis_server: ServerProcess) -> None:
    """A served BLMOVE pushes to its destination, which serves the next blocked client."""

    def scenario(port: int) -> list[bytes]:
        a = blocker(port, "BLMOVE", "src", "mid", "RIGHT", "LEFT", "0")
        wait_blocked(port, 1)
        b = blocker(port, "BRPOPLPUSH", "mid", "dst", "0")
        wait_blocked(port, 2)
        out = run_raw(port, [("RPUSH", "src", "x", "y")])
        out += [a.read_reply(), b.read_reply()]
        out += run_raw(
            port, [("LRANGE", "src", "0", "-1"), ("EXISTS", "mid"), ("LRANGE", "dst", "0", "-1")]
        )
        a.close()
        b.close()
        return out

    out = same_on_redis(scenario, mk, redis_server)
    assert out[1:3] == [b"$1\r\ny\r\n", b"$1\r\ny\r\n"]


def test_blmove_to_wrong_type_gets_wrongtype(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0") as a:
            wait_blocked(port, 1)
            out = run_raw(port, [("SET", "dst", "s"), ("RPUSH", "src", "v")])
            out.append(a.read_reply())
            out += run_raw(port, [("LRANGE", "src", "0", "-1"), ("TYPE", "dst")])
            return out

    assert same_on_redis(scenario, mk, redis_server)[2].startswith(b"-WRONGTYPE")
    wait_blocked(mk, 0)


# --- timeouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("resp", [2, 3])
def test_timeouts_reply_null(mk: int, redis_server: ServerProcess, resp: int) -> None:
    def scenario(port: int) -> list[bytes]:
        out = []
        for cmd in (
            ("BLPOP", "k", "0.05"),
            ("BRPOP", "k", "k2", "0.01"),
            ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.02"),
            ("BRPOPLPUSH", "k", "d", "0.01"),
        ):
            with blocker(port, *cmd, resp=resp) as conn:
                out.append(conn.read_reply())
        return out

    out = same_on_redis(scenario, mk, redis_server)
    assert set(out) == ({b"*-1\r\n"} if resp == 2 else {b"_\r\n"})
    wait_blocked(mk, 0)


def test_timeout_then_pipelined_requests_run(mk: int) -> None:
    with Raw(mk) as conn:
        conn.send(encode("BLPOP", "k", "0.05") + encode("PING") + encode("ECHO", "after"))
        assert read_lines(conn, 4) == b"*-1\r\n+PONG\r\n$5\r\nafter\r\n"


def test_redis_py_timeouts(r: redis.Redis) -> None:
    assert r.blpop(["a", "b"], timeout=0.01) is None
    assert r.brpop("a", timeout=0.01) is None
    assert r.blmove("a", "b", 0.01) is None
    assert r.brpoplpush("a", "b", 0.01) is None


# --- pipelining, MULTI ----------------------------------------------------------------------------


def test_pipelined_command_waits_for_blocked_one(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        with Raw(port) as a:
            a.send(encode("BLPOP", "k", "0") + encode("LLEN", "k") + encode("ECHO", "done"))
            wait_blocked(port, 1)
            assert nothing_pending(a)
            out = run_raw(port, [("RPUSH", "k", "v1", "v2")])
            out.append(read_lines(a, 8))  # the BLPOP reply, then LLEN's, then ECHO's
            return out

    out = same_on_redis(scenario, mk, redis_server)
    assert out[1] == b"*2\r\n$1\r\nk\r\n$2\r\nv1\r\n:1\r\n$4\r\ndone\r\n"


def test_requests_sent_while_blocked_are_held(mk: int) -> None:
    with blocker(mk, "BLPOP", "k", "0") as a:
        wait_blocked(mk, 1)
        a.send(encode("SET", "x", "1") + encode("GET", "x"))
        assert nothing_pending(a)
        assert run_raw(mk, [("EXISTS", "x")]) == [b":0\r\n"]  # not run yet
        run_raw(mk, [("RPUSH", "k", "v")])
        assert read_lines(a, 7) == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+OK\r\n$1\r\n1\r\n"


def test_blocking_in_multi_returns_null_at_once(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as p:
        p.blpop("k", 0)
        p.brpop(["k", "j"], 0)
        p.blmove("k", "d", 0)
        p.llen("k")
        assert p.execute() == [None, None, None, 0]
    assert blocked_clients_via(r) == 0


def blocked_clients_via(r: redis.Redis) -> int:
    return int(r.info("clients")["blocked_clients"])


# --- clients going away, introspection ---------------------------------------------------------


def test_client_list_and_info_show_blocked(mk: int, r2: redis.Redis) -> None:
    with blocker(mk, "BLPOP", "k", "0") as a:
        wait_blocked(mk, 1)
        a_id = [c for c in r2.client_list() if c["cmd"] == "blpop"]
        assert len(a_id) == 1 and a_id[0]["flags"] == "b"
        others = [c for c in r2.client_list() if c["cmd"] != "blpop"]
        assert all("b" not in c["flags"] for c in others)
        r2.rpush("k", "v")
        a.read_reply()
    wait_blocked(mk, 0)


def test_client_killed_while_blocked(mk: int, r2: redis.Redis) -> None:
    a = blocker(mk, "BLPOP", "k", "0")
    b = blocker(mk, "BLPOP", "k", "0")
    wait_blocked(mk, 2)
    blocked = [c for c in r2.client_list() if c["cmd"] == "blpop"]
    victim = min(blocked, key=lambda c: int(c["id"]))  # a, the first to connect
    assert r2.client_kill_filter(_id=victim["id"]) == 1
    wait_blocked(mk, 1)
    assert a.read_until_closed() == b""  # the first one was killed: it gets nothing
    a.close()
    r2.rpush("k", "v1", "v2")
    assert b.read_reply() == b"*2\r\n$1\r\nk\r\n$2\r\nv1\r\n"
    assert r2.lrange("k", 0, -1) == [b"v2"]
    b.close()


def test_disconnect_while_blocked_cleans_up(mk: int, r2: redis.Redis) -> None:
    a = blocker(mk, "BLPOP", "k", "k2", "0")
    wait_blocked(mk, 1)
    a.sock.shutdown(socket.SHUT_RDWR)
    a.close()
    wait_blocked(mk, 0)
    r2.rpush("k", "kept")
    assert r2.lrange("k", 0, -1) == [b"kept"]  # nobody popped it


def test_timed_out_client_is_not_served(mk: int, r2: redis.Redis) -> None:
    with blocker(mk, "BLPOP", "k", "0.01") as a:
        assert a.read_reply() == b"*-1\r\n"
        wait_blocked(mk, 0)
        r2.rpush("k", "v")
        assert r2.llen("k") == 1
        assert nothing_pending(a, 0.1)


def test_blmpop_woken_with_count(mk: int, redis_server: ServerProcess) -> None:
    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2") as a:
            wait_blocked(port, 1)
            out = run_raw(port, [("RPUSH", "b", "1", "2", "3")])
            out.append(a.read_reply())
            out += run_raw(port, [("LRANGE", "b", "0", "-1")])
            return out

    assert same_on_redis(scenario, mk, redis_server)[1] == (
        b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    )


# --- sorted sets: BZPOPMIN / BZPOPMAX --------------------------------------------------------


@pytest.mark.parametrize("resp", [2, 3])
def test_bzpop_immediate_timeout_and_wake(mk: int, redis_server: ServerProcess, resp: int) -> None:
    def scenario(port: int) -> list[bytes]:
        out = run_raw(
            port,
            [
                ("ZADD", "z", "1", "a", "2", "b", "3.5", "c"),
                ("BZPOPMIN", "missing", "z", "0"),
                ("BZPOPMAX", "z", "0"),
                ("BZPOPMIN", "nothing", "0.01"),
                ("SET", "str", "x"),
                ("BZPOPMIN", "str", "0"),
                ("BZPOPMIN", "z", "-1"),
                ("BZPOPMIN", "z", "notafloat"),
            ],
            resp,
        )
        waiter = blocker(port, "BZPOPMAX", "w1", "w2", "0", resp=resp)
        wait_blocked(port, 1)
        run_raw(port, [("ZADD", "w2", "7", "m", "9", "n")])
        out.append(read_lines(waiter, 7 if resp == 2 else 6))
        waiter.close()
        out += run_raw(port, [("ZRANGE", "w2", "0", "-1", "WITHSCORES")], resp)
        return out

    same_on_redis(scenario, mk, redis_server)


def test_bzpop_inside_multi_does_not_block(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(("MULTI",), ("BZPOPMIN", "none", "0"), ("BZPOPMAX", "none", "5"), ("EXEC",))


BZMPOP_CASES = [
    ("ZADD", "z", "1", "a", "2", "b", "3.5", "c"),
    ("BZMPOP", "0", "2", "missing", "z", "MIN"),
    ("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"),
    ("EXISTS", "z"),
    ("BZMPOP", "0.01", "1", "z", "MIN"),
    ("SET", "str", "x"),
    ("BZMPOP", "0", "1", "str", "MIN"),
    ("BZMPOP", "-1", "1", "z", "MIN"),
    ("BZMPOP", "x", "1", "z", "MIN"),
    ("BZMPOP", "x", "0", "z", "MIN"),
    ("BZMPOP", "0", "0", "z", "MIN"),
    ("BZMPOP", "0", "2", "z", "MIN"),
    ("BZMPOP", "0", "1", "z", "LEFT"),
    ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
    ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"),
    ("BZMPOP", "0", "1", "z", "MIN", "LIMIT", "1"),
    ("MULTI",),
    ("BZMPOP", "0", "1", "none", "MAX"),
    ("EXEC",),
]


def test_bzmpop_differential(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(*BZMPOP_CASES)


@pytest.mark.parametrize("resp", [2, 3])
def test_bzmpop_woken_with_count(mk: int, redis_server: ServerProcess, resp: int) -> None:
    def scenario(port: int) -> list[bytes]:
        with blocker(port, "BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2", resp=resp) as a:
            wait_blocked(port, 1)
            out = run_raw(port, [("ZADD", "b", "1", "x", "2", "y", "3", "z")], resp)
            out.append(a.read_reply())
            out += run_raw(port, [("ZRANGE", "b", "0", "-1", "WITHSCORES")], resp)
            return out

    got = same_on_redis(scenario, mk, redis_server)
    assert b"z" in got[1] and b"y" in got[1]


@pytest.mark.parametrize("mode", ["TIMEOUT", "ERROR"])
def test_client_unblock(mk: int, redis_server: ServerProcess, mode: str) -> None:
    def scenario(port: int) -> list[bytes]:
        waiter = blocker(port, "BLPOP", "nolist", "0")
        wait_blocked(port, 1)
        wid = int(run_raw(port, [("CLIENT", "LIST")])[0].split(b"id=")[1].split(b" ")[0])
        out = run_raw(
            port,
            [
                ("CLIENT", "UNBLOCK", str(wid), mode),
                ("CLIENT", "UNBLOCK", str(wid), mode),
                ("CLIENT", "UNBLOCK", str(wid), "BAD"),
            ],
        )
        out.append(waiter.read_reply())
        waiter.close()
        return out

    same_on_redis(scenario, mk, redis_server)


# --- stats of blocked calls ---------------------------------------------------------------------


def test_blocked_call_recorded_when_served(mk: int, redis_server: ServerProcess) -> None:
    """Redis 7.0's updateStatsOnUnblock: a blocking call counts once in commandstats when it
    blocks; its histogram entry and slow log entry come when it is served (or woken by CLIENT
    UNBLOCK, which counts as failed), never for a timeout."""

    def scenario(port: int) -> list[bytes]:
        c = redis.Redis(port=port)
        c.config_set("slowlog-log-slower-than", 0)
        c.config_set("latency-tracking", "yes")
        c.config_resetstat()
        served = blocker(port, "BLPOP", "q", "0")
        wait_blocked(port, 1)
        assert c.execute_command("LATENCY", "HISTOGRAM", "blpop") == {}  # not yet
        assert c.slowlog_get(128) and not any(
            e["command"].startswith(b"BLPOP") for e in c.slowlog_get(128)
        )
        c.rpush("q", "x")
        assert served.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
        timed_out = blocker(port, "BLPOP", "t", "0.01")
        assert timed_out.read_reply() == b"*-1\r\n"
        woken = blocker(port, "BLPOP", "u", "0")
        wait_blocked(port, 1)
        wid = next(x["id"] for x in c.client_list() if "b" in x["flags"])
        assert c.execute_command("CLIENT", "UNBLOCK", wid) == 1
        assert woken.read_reply() == b"*-1\r\n"
        stats = c.info("commandstats")["cmdstat_blpop"]
        calls = c.execute_command("LATENCY", "HISTOGRAM", "blpop")[b"blpop"][b"calls"]
        # CLIENT UNBLOCK's victim is logged with no arguments (Redis has reset them by then).
        logged = [
            e["command"]
            for e in c.slowlog_get(128)
            if e["command"].startswith(b"BLPOP") or not e["command"]
        ]
        c.config_set("slowlog-log-slower-than", 10000)
        c.slowlog_reset()
        for conn in (served, timed_out, woken):
            conn.close()
        c.close()
        return [
            b"calls=%d failed=%d histogram=%d" % (stats["calls"], stats["failed_calls"], calls),
            *logged,
        ]

    assert same_on_redis(scenario, mk, redis_server) == [
        b"calls=3 failed=1 histogram=2",
        b"",
        b"BLPOP q 0",
    ]
