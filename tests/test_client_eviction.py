"""maxmemory-clients (client eviction): the same scenarios run on minikv and on redis-server. A
client that pipelines big replies without reading them, and a subscriber that does not read
its messages, are evicted (logged, counted in evicted_clients) while clients that set
CLIENT NO-EVICT ON are kept; the setting's values and errors are compared with Redis's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, encode, have_redis_server, wait_for

BIG = 100_000  # bytes per reply / message
LIMIT = 1024 * 1024
KINDS = ["minikv", "redis"]


@pytest.fixture(params=KINDS)
def srv(request: Any) -> Iterator[ServerProcess]:
    """A server of its own per test (eviction closes clients; the shared ones must not be)."""
    if request.param == "redis" and not have_redis_server():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    s = ServerProcess(kind=request.param)
    yield s
    s.cleanup()


def control(s: ServerProcess) -> redis.Redis:
    """A client of the test that is never evicted itself."""
    c = s.client()
    assert c.execute_command("CLIENT", "NO-EVICT", "ON") in (b"OK", True)
    return c


def slow_reader(s: ServerProcess, name: str, no_evict: bool = False) -> socket.socket:
    """A raw connection with a small receive buffer, so the server soon holds its output."""
    k = socket.socket()
    k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    k.connect(("127.0.0.1", s.port))
    k.settimeout(30)
    k.sendall(encode("CLIENT", "SETNAME", name))
    assert k.recv(100) == b"+OK\r\n"
    if no_evict:
        k.sendall(encode("CLIENT", "NO-EVICT", "ON"))
        assert k.recv(100) == b"+OK\r\n"
    return k


def client_field(c: redis.Redis, name: str, field: str) -> int | None:
    """A CLIENT LIST field of the client named ``name`` (None once it is gone)."""
    for line in c.execute_command("CLIENT", "LIST").decode().splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        if fields.get("name") == name:
            return int(fields[field])
    return None


def evicted(c: redis.Redis) -> int:
    return int(c.info("stats")["evicted_clients"])


def read_all(k: socket.socket, n: int) -> bytes:
    """Read ``n`` bytes (the replies a kept client was sent); b"" tail if the server closed."""
    buf = bytearray()
    while len(buf) < n:
        chunk = k.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def closed_by_server(k: socket.socket) -> bool:
    try:
        while k.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    return True


@pytest.mark.parametrize("setting", ["1mb", "10%"])
def test_non_reading_pipeliner_is_evicted_no_evict_kept(srv: ServerProcess, setting: str) -> None:
    c = control(srv)
    c.set("big", b"x" * BIG)
    c.config_set("maxmemory", 10 * LIMIT)  # 10 % of it is LIMIT
    c.config_set("maxmemory-clients", setting)
    assert c.config_get("maxmemory-clients")["maxmemory-clients"] == (
        str(LIMIT) if setting == "1mb" else setting
    )
    n = 100  # 10 MB of replies
    hog = slow_reader(srv, "hog")
    hog.sendall(encode("GET", "big") * n)
    wait_for(lambda: evicted(c) == 1, what="the hog evicted")
    assert client_field(c, "hog", "tot-mem") is None
    assert closed_by_server(hog)
    assert "name=hog " in wait_for(
        lambda: "Evicting client: " in srv.log() and srv.log(), what="the eviction logged"
    )

    keeper = slow_reader(srv, "keeper", no_evict=True)
    keeper.sendall(encode("GET", "big") * n)
    # Over the limit (its own memory is past it), and the eviction that runs then spares it.
    wait_for(lambda: (client_field(c, "keeper", "tot-mem") or 0) > LIMIT, what="keeper's memory")
    wait_for(
        lambda: "Over client maxmemory after evicting all evictable clients" in srv.log(),
        what="eviction running over the limit",
    )
    assert client_field(c, "keeper", "omem") is not None
    one = b"$%d\r\n%s\r\n" % (BIG, b"x" * BIG)
    assert read_all(keeper, n * len(one)) == one * n  # every reply, in full
    assert evicted(c) == 1
    c.config_resetstat()
    assert evicted(c) == 0
    keeper.close()
    hog.close()
    c.config_set("maxmemory-clients", 0)


def test_non_reading_subscriber_is_evicted_no_evict_kept(srv: ServerProcess) -> None:
    c = control(srv)
    c.config_set("maxmemory-clients", "1mb")
    subs = {}
    for name, no_evict in (("sub", False), ("keepsub", True)):
        k = slow_reader(srv, name, no_evict)
        k.sendall(encode("SUBSCRIBE", "ch"))
        assert k.recv(100).startswith(b"*3\r\n$9\r\nsubscribe")
        subs[name] = k
    message = b"m" * BIG
    # Until the kernel's socket buffers are full and the server holds the rest (at most
    # 20 MB each: under the pubsub class's output limits).
    receivers = []
    for _ in range(200):
        receivers.append(c.publish("ch", message))
        if evicted(c):
            break
    wait_for(lambda: evicted(c) == 1, what="the subscriber evicted")
    assert client_field(c, "sub", "tot-mem") is None
    assert client_field(c, "keepsub", "tot-mem") is not None
    assert receivers[0] == 2
    assert c.publish("ch", b"after") == 1  # only the kept one is left
    assert closed_by_server(subs["sub"])
    assert "name=sub " in srv.log()
    assert "name=keepsub " not in srv.log()
    for k in subs.values():
        k.close()


def test_multi_memory_counted_as_redis(srv: ServerProcess) -> None:
    """multi-mem is the queued arguments' bytes plus a pointer each (Redis's argv_len_sums);
    tot-mem counts them."""
    c = control(srv)
    m = slow_reader(srv, "multi")
    before = client_field(c, "multi", "tot-mem")
    assert before is not None
    m.sendall(encode("MULTI") + encode("SET", "k", "v" * 10_000))
    assert read_all(m, len(b"+OK\r\n+QUEUED\r\n")) == b"+OK\r\n+QUEUED\r\n"
    assert client_field(c, "multi", "multi-mem") == 3 + 1 + 10_000 + 3 * 8
    after = client_field(c, "multi", "tot-mem")
    assert after is not None and after >= before + 10_000
    m.sendall(encode("DISCARD"))
    assert read_all(m, 5) == b"+OK\r\n"
    assert client_field(c, "multi", "multi-mem") == 0
    m.close()


def test_config_values_match_redis(differential: Differential) -> None:
    # Limits far above what the shared servers' clients hold: nothing is evicted meanwhile.
    values = ["abc", "5%", "101%", "-5", "-1%", "0%", "50.5%", " ", "%", "05%", "64mb", "1GB"]
    values += ["99999999999999999999gb", "9223372036854775808", "18446744073709551615", ""]
    commands: list[tuple[Any, ...]] = []
    for v in values:
        commands += [("CONFIG", "SET", "maxmemory-clients", v)]
        commands += [("CONFIG", "GET", "maxmemory-clients")]
    commands += [("CONFIG", "SET", "maxmemory-clients", "0"), ("INFO", "NOSUCHSECTION")]
    differential.check(*commands, resp=(2,))


def test_config_at_startup(tmp_path: Any) -> None:
    s = ServerProcess("--maxmemory-clients", "7%")
    try:
        c = s.client()
        assert c.config_get("maxmemory-clients") == {"maxmemory-clients": "7%"}
        assert c.info("stats")["evicted_clients"] == 0
    finally:
        s.cleanup()
    with pytest.raises(RuntimeError, match="argument must be a memory or percent value"):
        ServerProcess("--maxmemory-clients", "7.5%", dir=str(tmp_path))
