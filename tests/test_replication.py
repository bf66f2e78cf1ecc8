"""Replication: real primaries and replicas on free ports (and redis-server for the replies)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import Raw, ServerProcess, have_redis_server, key_contents, run_raw, wait_for


def info(c: redis.Redis, section: str = "replication") -> dict[str, Any]:
    return c.info(section)


def linked(replica: redis.Redis) -> bool:
    return info(replica).get("master_link_status") == "up"


def caught_up(primary: redis.Redis, *replicas: redis.Redis) -> bool:
    want = info(primary)["master_repl_offset"]
    return all(linked(r) and info(r)["slave_repl_offset"] == want for r in replicas)


def dataset(c: redis.Redis) -> dict[tuple[int, bytes], Any]:
    """Every key of every database with its type, value and deadline."""
    out: dict[tuple[int, bytes], Any] = {}
    for db in range(16):
        c.execute_command("SELECT", db)
        for key in c.scan_iter(count=1000):
            out[(db, key)] = key_contents(c, key)
    c.execute_command("SELECT", 0)
    return out


def fill(c: redis.Redis, n: int = 200, prefix: str = "k") -> None:
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}:s:{i}", f"v{i}" * (i % 7 + 1))
    p.hset(f"{prefix}:h", mapping={f"f{i}": i for i in range(50)})
    p.rpush(f"{prefix}:l", *range(100))
    p.sadd(f"{prefix}:set", *range(30))
    p.zadd(f"{prefix}:z", {f"m{i}": i / 3 for i in range(40)})
    p.xadd(f"{prefix}:x", {"a": "1"})
    p.set(f"{prefix}:ttl", "x", ex=1000)
    p.execute()
    c.execute_command("SELECT", 3)
    c.set(f"{prefix}:db3", "three")
    c.execute_command("SELECT", 0)


@pytest.fixture
def primary() -> Iterator[ServerProcess]:
    s = ServerProcess("--repl-diskless-sync-delay", "0", "--loglevel", "verbose")
    yield s
    s.cleanup()


def make_replica(primary: ServerProcess, *args: str) -> ServerProcess:
    s = ServerProcess("--repl-diskless-sync-delay", "0", "--loglevel", "verbose", *args)
    s.client().replicaof("127.0.0.1", primary.port)
    return s


@pytest.fixture
def replica(primary: ServerProcess) -> Iterator[ServerProcess]:
    s = make_replica(primary)
    yield s
    s.cleanup()


@pytest.mark.parametrize("diskless", ["yes", "no"])
@pytest.mark.parametrize("protocol", [2, 3])
def test_full_sync_then_stream(primary: ServerProcess, diskless: str, protocol: int) -> None:
    p = primary.client(protocol=protocol)
    p.config_set("repl-diskless-sync", diskless)
    fill(p)
    p.function_load("#!lua name=lib\nredis.register_function('f', function(k, a) return 1 end)")
    with make_replica(primary) as rs:
        r = rs.client(protocol=protocol)
        wait_for(lambda: caught_up(p, r), what="replica in sync")
        assert dataset(r) == dataset(p)
        assert len(r.function_list()) == 1
        # Writes after the sync, of every kind the stream rewrites (relative expiry,
        # INCRBYFLOAT, SPOP, a script's effects, MULTI/EXEC, another database).
        p.expire("k:s:1", 500)
        p.incrbyfloat("k:float", 1.5)
        p.spop("k:set", 3)
        p.eval("redis.call('set', KEYS[1], ARGV[1]); return 1", 1, "k:script", "done")
        with p.pipeline(transaction=True) as t:
            t.lpush("k:l", "head").hincrby("k:h", "f1", 10).delete("k:s:2")
            t.execute()
        p.execute_command("SELECT", 5)
        p.set("k:db5", "five")
        p.execute_command("SELECT", 0)
        p.xadd("k:x", {"b": "2"})
        wait_for(lambda: caught_up(p, r), what="replica caught up")
        assert dataset(r) == dataset(p)
        assert r.ttl("k:s:1") > 400
        rinfo = info(p)
        assert rinfo["connected_slaves"] == 1
        assert rinfo["slave0"]["state"] == "online"
        assert info(p, "stats")["sync_full"] == 1
        kind = "replicas sockets" if diskless == "yes" else "disk"
        assert f"starting BGSAVE for SYNC with target: {kind}" in primary.log()
        if diskless == "no":  # the replica keeps what it received as its snapshot
            assert os.path.exists(os.path.join(rs.dir, "dump.mkv"))


def test_writes_under_load_reach_replica(primary: ServerProcess) -> None:
    """The replica joins while a client writes: what the primary changed during the fork
    reaches it through the held stream; both end equal at the same offset."""
    p = primary.client()
    fill(p, 2000)
    p.config_set("rdb-key-save-delay", "200")  # a slower snapshot: writes land during it
    stop = threading.Event()

    def writer() -> None:
        w = primary.client()
        i = 0
        while not stop.is_set():
            w.set(f"load:{i % 500}", i)
            w.incr("counter")
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        with make_replica(primary) as rs:
            r = rs.client()
            wait_for(lambda: linked(r), what="link up")
            time.sleep(0.5)
            stop.set()
            t.join()
            wait_for(lambda: caught_up(p, r), what="replica caught up")
            assert dataset(r) == dataset(p)
    finally:
        stop.set()
        t.join()


def test_partial_resync_after_link_drop(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    fill(p)
    wait_for(lambda: caught_up(p, r))
    assert r.client_kill_filter(_type="master") == 1
    p.set("while-down", "1")
    p.rpush("k:l", "more")
    wait_for(lambda: caught_up(p, r), what="reconnected")
    assert r.get("while-down") == b"1"
    assert dataset(r) == dataset(p)
    stats = info(p, "stats")
    assert stats["sync_full"] == 1
    assert stats["sync_partial_ok"] == 1
    assert "Partial resynchronization request from" in primary.log()
    assert "Successful partial resynchronization with master." in replica.log()


def test_backlog_too_small_means_full_resync(
    primary: ServerProcess, replica: ServerProcess
) -> None:
    p, r = primary.client(), replica.client()
    p.config_set("repl-backlog-size", "16384")
    wait_for(lambda: caught_up(p, r))
    r.config_set("repl-timeout", "60")
    # The replica, stopped, cannot reconnect before the backlog has moved past it.
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        p.client_kill_filter(_type="replica")
        for i in range(300):
            p.set(f"big:{i}", "x" * 200)
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    wait_for(lambda: caught_up(p, r), what="resynced")
    assert dataset(r) == dataset(p)
    stats = info(p, "stats")
    assert stats["sync_full"] == 2, primary.log()
    # Two refusals: the replica's first PSYNC named its own history (it was a primary until
    # REPLICAOF, as with Redis), the second an offset the backlog no longer holds.
    assert stats["sync_partial_err"] == 2, primary.log()
    assert "for lack of backlog" in primary.log()


def test_replica_restart_full_resync(primary: ServerProcess) -> None:
    p = primary.client()
    fill(p)
    rs = make_replica(primary)
    try:
        r = rs.client()
        wait_for(lambda: caught_up(p, r))
        rs.stop()
        p.set("after", "restart")
        rs2 = ServerProcess("--replicaof", f"127.0.0.1 {primary.port}", dir=rs.dir, port=rs.port)
        r2 = rs2.client()
        wait_for(lambda: caught_up(p, r2), what="restarted replica in sync")
        assert dataset(r2) == dataset(p)
        assert r2.config_get("replicaof") == {"replicaof": f"127.0.0.1 {primary.port}"}
        rs2.cleanup()
    finally:
        rs.cleanup()


def test_read_only_replica(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: linked(r))
    with pytest.raises(redis.ReadOnlyError):
        r.set("x", 1)
    with pytest.raises(redis.ResponseError, match="You can't write against a read only replica"):
        r.eval("return redis.call('set', 'x', 1)", 0)
    assert r.eval("return redis.call('get', 'x')", 0) is None
    with pytest.raises(redis.ResponseError, match="You can't write against a read only replica"):
        r.eval("#!lua\nreturn redis.call('set', 'x', 1)", 0)
    assert r.ping()
    p.set("x", "from-primary")
    wait_for(lambda: r.get("x") == b"from-primary")


def test_wait(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: caught_up(p, r))
    assert p.wait(0, 0) == 1  # no writes yet: every replica has them
    p.set("w", 1)
    assert p.wait(1, 5000) == 1
    t0 = time.monotonic()
    assert p.wait(2, 300) == 1  # only one replica: times out with the count
    assert time.monotonic() - t0 >= 0.25
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica"):
        r.wait(1, 0)
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        p.wait(1, -1)


def test_wait_blocks_until_ack(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: caught_up(p, r))
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        p.set("w", 2)
        assert p.wait(1, 200) == 0  # the replica cannot ack while stopped
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    assert p.wait(1, 5000) == 1


def test_chain(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: caught_up(p, r))
    with make_replica(replica) as cs:
        c = cs.client()
        fill(p)
        wait_for(lambda: caught_up(p, r, c), what="chain in sync")
        assert dataset(c) == dataset(p)
        assert info(c)["master_replid"] == info(p)["master_replid"]
        assert info(r)["connected_slaves"] == 1


def test_promotion_lets_peers_continue(primary: ServerProcess) -> None:
    """PSYNC2: a replica promoted by REPLICAOF NO ONE keeps the old ID as its second one;
    the other replica, repointed to it, continues with a partial resync."""
    p = primary.client()
    with make_replica(primary) as bs, make_replica(primary) as cs:
        b, c = bs.client(), cs.client()
        fill(p)
        wait_for(lambda: caught_up(p, b, c))
        old_id = info(p)["master_replid"]
        primary.stop()
        assert b.replicaof("NO", "ONE")
        bi = info(b)
        assert bi["role"] == "master"
        assert bi["master_replid2"] == old_id
        assert bi["second_repl_offset"] == bi["master_repl_offset"] + 1
        b.set("after-failover", 1)  # writable now
        c.replicaof("127.0.0.1", bs.port)
        wait_for(lambda: caught_up(b, c), what="peer follows the promoted replica")
        assert c.get("after-failover") == b"1"
        assert info(b, "stats")["sync_partial_ok"] == 1
        assert info(b, "stats")["sync_full"] == 0


def test_primary_restart_gives_fresh_id(tmp_path: Any) -> None:
    d = tmp_path / "p"
    d.mkdir()
    ps = ServerProcess("--repl-diskless-sync-delay", "0", dir=str(d))
    try:
        p = ps.client()
        fill(p)
        rs = make_replica(ps)
        try:
            r = rs.client()
            wait_for(lambda: caught_up(p, r))
            old_id = info(p)["master_replid"]
            p.save()
            ps.stop()
            ps2 = ServerProcess("--repl-diskless-sync-delay", "0", dir=str(d), port=ps.port)
            try:
                p2 = ps2.client()
                assert info(p2)["master_replid"] != old_id
                wait_for(lambda: caught_up(p2, r), what="resynced with the restarted primary")
                assert info(p2, "stats")["sync_full"] == 1
                assert dataset(r) == dataset(p2)
            finally:
                ps2.cleanup()
        finally:
            rs.cleanup()
    finally:
        ps.cleanup()


def test_replica_expiry_follows_primary(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: linked(r))
    p.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    p.set("soon", "x", px=100)
    wait_for(lambda: caught_up(p, r))
    time.sleep(0.2)
    assert r.get("soon") is None  # hidden from the replica's clients...
    assert r.dbsize() == 1  # ...but kept until the primary says
    assert p.get("soon") is None  # the primary expires it and sends DEL
    wait_for(lambda: r.dbsize() == 0, what="DEL from primary")


def test_min_replicas_to_write(primary: ServerProcess) -> None:
    p = primary.client()
    p.config_set("min-replicas-to-write", "1")
    with pytest.raises(redis.ResponseError, match="NOREPLICAS Not enough good replicas"):
        p.set("x", 1)
    assert p.get("x") is None
    with make_replica(primary) as rs:
        wait_for(lambda: caught_up(p, rs.client()))
        wait_for(lambda: info(p).get("min_slaves_good_slaves") == 1)
        assert p.set("x", 1)


def test_serve_stale_data_no() -> None:
    port = _closed_port()
    with ServerProcess(
        "--replicaof", f"127.0.0.1 {port}", "--replica-serve-stale-data", "no"
    ) as rs:
        r = rs.client()
        with pytest.raises(redis.ResponseError, match="Link with MASTER is down"):
            r.get("x")
        assert info(r)["master_link_status"] == "down"
        assert r.config_get("replica-serve-stale-data")  # commands flagged stale still run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a primary that misbehaves ------------------------------------------------------------


class FakePrimary:
    """A listening socket that answers the replica's handshake, then sends ``payload``."""

    def __init__(self, payload: bytes, close_after: bool = True) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.payload = payload
        self.close_after = close_after
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            # The replica sends one command and waits for its reply: answer each read
            # with +OK until PSYNC comes.
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                if b"PSYNC" in data:
                    break
                conn.sendall(b"+OK\r\n")
            conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 100\r\n" + self.payload)
            self.done.set()
            if not self.close_after:
                time.sleep(30)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    "payload",
    [
        b"$200\r\n" + os.urandom(200),  # garbage of the announced length
        b"$5000\r\n" + b"x" * 100,  # truncated: the primary goes away
        b"$EOF:" + b"m" * 40 + b"\r\n" + os.urandom(300) + b"m" * 40,  # garbage, EOF-marked
        b"$EOF:" + b"m" * 40 + b"\r\n" + os.urandom(300),  # EOF mark never comes
        b"-ERR something went wrong\r\n",
        b"not a payload\r\n",
    ],
    ids=["garbage", "truncated", "eof-garbage", "eof-truncated", "error", "bad-protocol"],
)
@pytest.mark.parametrize("load", ["disabled", "swapdb"])
def test_bad_payload_keeps_old_data(payload: bytes, load: str) -> None:
    fake = FakePrimary(payload)
    with ServerProcess("--loglevel", "verbose", "--repl-diskless-load", load) as rs:
        r = rs.client()
        r.set("old", "data")
        r.replicaof("127.0.0.1", fake.port)
        assert fake.done.wait(10)
        wait_for(
            lambda: (
                "sync failed" in rs.log()
                or "Failed trying to load" in rs.log()
                or "MASTER aborted" in rs.log()
                or "Bad protocol" in rs.log()
            ),
            what="the failure logged",
        )
        assert r.get("old") == b"data"
        assert info(r)["master_link_status"] == "down"
        assert not [f for f in os.listdir(rs.dir) if f.startswith("temp-")]
    fake.close()


def test_primary_killed_mid_transfer(primary: ServerProcess) -> None:
    p = primary.client()
    fill(p, 3000)
    p.config_set("rdb-key-save-delay", "2000")  # ~ seconds of transfer
    with ServerProcess("--loglevel", "verbose") as rs:
        r = rs.client()
        r.set("old", "data")
        r.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: info(r).get("master_sync_in_progress") == 1, what="transfer started")
        primary.proc.kill()
        primary.proc.wait()
        wait_for(lambda: info(r).get("master_sync_in_progress") == 0, what="transfer ended")
        assert r.get("old") == b"data"
        assert r.dbsize() == 1
        assert info(r)["master_link_status"] == "down"


# --- the same replies as Redis ------------------------------------------------------------


def _pair(kind: str) -> tuple[ServerProcess, ServerProcess]:
    p = ServerProcess("--repl-diskless-sync-delay", "0", kind=kind)
    r = ServerProcess("--repl-diskless-sync-delay", "0", kind=kind)
    r.client().replicaof("127.0.0.1", p.port)
    wait_for(lambda: linked(r.client()), what=f"{kind} replica linked")

    def acked() -> bool:
        # Redis puts a diskless replica online at its first ACK after the load: wait for
        # that (and the ACK of everything) on both, so replies do not depend on timing.
        i = info(p.client())
        s0 = i.get("slave0")
        return bool(s0) and s0["state"] == "online" and s0["offset"] == i["master_repl_offset"]

    wait_for(acked, what=f"{kind} replica online and acknowledged")
    return p, r


@pytest.fixture(scope="module")
def pairs() -> Iterator[dict[str, tuple[ServerProcess, ServerProcess]]]:
    if not have_redis_server():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    made = {"minikv": _pair("minikv"), "redis": _pair("redis")}
    yield made
    for p, r in made.values():
        r.cleanup()
        p.cleanup()


REPLICA_COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "x", "1"),
    ("GET", "x"),
    ("PING",),
    ("MULTI",),
    ("SET", "x", "1"),
    ("EXEC",),
    ("EVAL", "return redis.call('set','x','1')", "0"),
    ("EVAL", "#!lua\nreturn redis.call('get','x')", "0"),
    ("EVAL", "#!lua\nreturn 1", "0"),
    ("EVAL", "#!lua flags=no-writes\nreturn 1", "0"),
    ("WAIT", "1", "0"),
    ("REPLICAOF", "127.0.0.1", "notaport"),
    ("REPLICAOF", "127.0.0.1", "70000"),
    ("REPLCONF", "nosuchoption", "1"),
    ("REPLCONF", "listening-port"),
    ("INCR", "counter"),
    ("FAILOVER",),
    ("FAILOVER", "ABORT"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_replica_replies_match_redis(pairs: Any, resp: int) -> None:
    got = {}
    for kind, (_p, r) in pairs.items():
        got[kind] = run_raw(r.port, REPLICA_COMMANDS, resp)
    assert got["minikv"] == got["redis"]


PRIMARY_COMMANDS: list[tuple[Any, ...]] = [
    ("WAIT", "0", "0"),
    ("WAIT", "x", "0"),
    ("WAIT", "1", "x"),
    ("WAIT", "1", "-1"),
    ("REPLCONF", "listening-port", "notint"),
    ("REPLCONF", "capa", "eof"),
    ("CONFIG", "SET", "min-replicas-to-write", "5"),
    ("SET", "y", "1"),
    ("EVAL", "#!lua\nreturn 1", "0"),
    ("EVAL", "return redis.call('set','y','2')", "0"),
    ("CONFIG", "SET", "min-replicas-to-write", "0"),
    ("SET", "y", "1"),
    ("FAILOVER", "ABORT"),
    ("FAILOVER", "bogus"),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "TO", "127.0.0.1", "1"),
    ("FAILOVER", "TO", "127.0.0.1", "x"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "TO", "127.0.0.1", "1", "FORCE"),
    ("FAILOVER", "TIMEOUT", "10", "TIMEOUT", "10"),
]


def test_primary_replies_match_redis(pairs: Any) -> None:
    got = {}
    for kind, (p, _r) in pairs.items():
        got[kind] = run_raw(p.port, PRIMARY_COMMANDS, 2)
    assert got["minikv"] == got["redis"]


def test_info_replication_fields_match_redis(pairs: Any) -> None:
    for role in (0, 1):
        fields = {}
        for kind, pair in pairs.items():
            fields[kind] = list(info(pair[role].client()))
        assert fields["minikv"] == fields["redis"], f"role {'replica' if role else 'primary'}"


def test_role_shape_matches_redis(pairs: Any) -> None:
    shapes = {}
    for kind, (p, r) in pairs.items():
        pr = p.client().execute_command("ROLE")
        rr = r.client().execute_command("ROLE")
        shapes[kind] = (
            [type(x) for x in pr],
            [type(x) for x in pr[2][0]],
            [type(x) for x in rr],
            rr[0],
            rr[3],
        )
    assert shapes["minikv"] == shapes["redis"]


def test_client_list_flags(primary: ServerProcess, replica: ServerProcess) -> None:
    p, r = primary.client(), replica.client()
    wait_for(lambda: caught_up(p, r))
    assert [c["flags"] for c in p.client_list(_type="replica")] == ["S"]
    assert [c["flags"] for c in r.client_list(_type="master")] == ["M"]


def test_publish_reaches_replica_subscribers(
    primary: ServerProcess, replica: ServerProcess
) -> None:
    """PUBLISH is propagated to replicas (not to the AOF), as Redis outside cluster mode."""
    p, r = primary.client(), replica.client()
    wait_for(lambda: caught_up(p, r))
    sub = r.pubsub()
    sub.subscribe("news")
    wait_for(lambda: sub.get_message(timeout=0.1) is not None, what="subscribed")
    p.publish("news", "hello")
    msg = wait_for(lambda: sub.get_message(timeout=0.1), what="message on the replica")
    assert msg["data"] == b"hello"
    sub.close()


def test_replicas_arriving_together_share_one_fork(primary: ServerProcess) -> None:
    p = primary.client()
    fill(p)
    p.config_set("repl-diskless-sync-delay", "2")
    forks = info(p, "stats")["total_forks"]
    a = ServerProcess()
    b = ServerProcess()
    try:
        a.client().replicaof("127.0.0.1", primary.port)
        b.client().replicaof("127.0.0.1", primary.port)
        wait_for(lambda: caught_up(p, a.client(), b.client()), what="both replicas synced")
        assert info(p, "stats")["total_forks"] == forks + 1
        assert dataset(a.client()) == dataset(p) == dataset(b.client())
    finally:
        a.cleanup()
        b.cleanup()


def test_garbage_in_the_stream_drops_the_link_not_the_data(tmp_path: Any) -> None:
    """A primary that sends a good snapshot, then an unknown command and then bytes that are
    not RESP: the replica keeps what it loaded, skips the unknown command, and drops the link
    on the garbage (it reconnects and asks again)."""
    with ServerProcess() as src:
        src.client().set("from-snapshot", "yes")
        src.client().save()
        snapshot = Path(src.dir, "dump.mkv").read_bytes()
    stream = b"*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n" + b"*1\r\n$7\r\nNOTACMD\r\n"
    payload = b"$%d\r\n" % len(snapshot) + snapshot + stream + b"*x\r\n"
    fake = FakePrimary(payload)
    with ServerProcess("--loglevel", "verbose") as rs:
        r = rs.client()
        r.replicaof("127.0.0.1", fake.port)
        assert fake.done.wait(10)
        wait_for(lambda: "Protocol error from MASTER" in rs.log(), what="protocol error logged")
        assert r.get("from-snapshot") == b"yes"
        assert r.get("after") == b"1"
        assert "Command from MASTER failed" in rs.log()
    fake.close()


@pytest.mark.parametrize(
    ("load", "old_data", "where"),
    [("swapdb", True, "memory"), ("on-empty-db", False, "memory"), ("on-empty-db", True, "disk")],
)
def test_diskless_load(primary: ServerProcess, load: str, old_data: bool, where: str) -> None:
    p = primary.client()
    fill(p)
    with ServerProcess("--loglevel", "verbose", "--repl-diskless-load", load) as rs:
        r = rs.client()
        if old_data:
            r.set("old", "data")
        watcher = rs.client()
        watcher.execute_command("WATCH", "k:s:1")
        r.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: caught_up(p, r), what="replica in sync")
        assert f"from master to {where}" in rs.log()
        assert dataset(r) == dataset(p)
        assert r.get("old") is None
        # As in Redis, keys swapped in (swapdb) touch what was WATCHed; a flush and load
        # touches only keys that existed before.
        watcher.execute_command("MULTI")
        watcher.execute_command("GET", "k:s:1")
        touched = watcher.execute_command("EXEC") is None
        assert touched == (load == "swapdb")
        assert os.path.exists(os.path.join(rs.dir, "dump.mkv")) == (where == "disk")


def test_clients_get_loading_while_the_replica_loads(primary: ServerProcess) -> None:
    """While it loads its primary's snapshot a replica answers -LOADING (and INFO, flagged
    loading, answers with loading:1), to clients connected before and during the load."""
    p = primary.client()
    p.execute_command("DEBUG", "POPULATE", 300000)
    with ServerProcess() as rs:
        before = Raw(rs.port, timeout=10)
        r = rs.client()
        r.replicaof("127.0.0.1", primary.port)
        replies: list[bytes] = []
        infos: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # GET and INFO in one write: read in the same turn of the load, so an INFO that
            # follows a -LOADING GET was answered during the load too.
            before.send(b"GET key:1\r\nINFO persistence\r\n")
            both = before.read_reply()  # the GET's reply, then at least part of INFO's
            end = both.index(b"\r\n") + 2
            if both.startswith(b"$") and not both.startswith(b"$-1"):
                end = both.index(b"\r\n", end) + 2
            replies.append(both[:end])
            info = both[end:]
            while info.count(b"\r\n") < 2 or len(info) < int(info[1 : info.index(b"\r")]) + 8:
                info += before.sock.recv(65536)
            if replies[-1].startswith(b"-LOADING") and not infos:
                infos.append(info)
                # and a client that connects during the load is answered too
                [other] = run_raw(rs.port, [("GET", "key:1")])
                infos.append(other)
            if replies[-1].startswith(b"$") and not replies[-1].startswith(b"$-1"):
                break  # the key from the primary
        before.close()
        assert b"-LOADING Redis is loading the dataset in memory\r\n" in replies
        assert b"loading:1" in infos[0]
        assert infos[1] in (
            b"-LOADING Redis is loading the dataset in memory\r\n",
            b"$7\r\nvalue:1\r\n",
        )
        wait_for(lambda: caught_up(p, r))
        assert r.dbsize() == 300000


def test_failover_to_any_replica(primary: ServerProcess) -> None:
    """FAILOVER: writes pause, a caught-up replica becomes the primary, the old primary its
    replica; what was written before is on both, and writes resume on the new primary."""
    p = primary.client()
    fill(p)
    with make_replica(primary) as a_s, make_replica(primary) as b_s:
        a, b = a_s.client(), b_s.client()
        wait_for(lambda: caught_up(p, a, b))
        assert p.execute_command("FAILOVER") == b"OK"
        wait_for(lambda: info(p)["role"] == "slave", what="old primary demoted")
        # The old primary calls itself a replica as soon as it hands over; the target is
        # promoted only when its PSYNC ... FAILOVER arrives, a moment later (as in Redis).
        wait_for(lambda: "master" in (info(a)["role"], info(b)["role"]), what="a replica promoted")
        new = a if info(a)["role"] == "master" else b
        other = b if new is a else a
        assert info(other)["role"] == "slave"
        assert info(p)["master_port"] == (a_s.port if new is a else b_s.port)
        wait_for(lambda: linked(p), what="old primary linked to the new one")
        assert info(p)["master_failover_state"] == "no-failover"
        new.set("after-failover", "1")
        wait_for(lambda: p.get("after-failover") == b"1", what="the new write on the old primary")
        with pytest.raises(redis.ReadOnlyError):
            p.set("x", 1)
        assert dataset(new) == dataset(p)
        # The new primary continued the history: no full sync for the old one.
        assert info(new, "stats")["sync_full"] == 0
        assert info(new, "stats")["sync_partial_ok"] >= 1


def test_failover_to_a_named_replica_and_timeout(primary: ServerProcess) -> None:
    p = primary.client()
    with make_replica(primary) as a_s, make_replica(primary) as b_s:
        a, b = a_s.client(), b_s.client()
        wait_for(lambda: caught_up(p, a, b))
        # A stopped replica never catches up: the failover times out and writes go on.
        os.kill(b_s.proc.pid, signal.SIGSTOP)
        try:
            p.set("behind", 1)
            p.execute_command("FAILOVER", "TO", "127.0.0.1", b_s.port, "TIMEOUT", "300")
            assert info(p)["master_failover_state"] in ("waiting-for-sync", "no-failover")
            wait_for(lambda: info(p)["master_failover_state"] == "no-failover", what="timeout")
        finally:
            os.kill(b_s.proc.pid, signal.SIGCONT)
        assert info(p)["role"] == "master"
        assert "Replica never caught up before timeout" in primary.log()
        assert p.set("still-primary", 1)
        wait_for(lambda: caught_up(p, a, b))
        assert p.execute_command("FAILOVER", "TO", "127.0.0.1", a_s.port) == b"OK"
        wait_for(lambda: info(a)["role"] == "master", what="the named replica promoted")
        assert info(b)["role"] == "slave"
        wait_for(lambda: linked(p) and info(p)["master_port"] == a_s.port)


def test_replica_with_append_only_file(primary: ServerProcess, tmp_path: Any) -> None:
    """A replica's AOF is restarted from what the sync loaded (a rewrite) and then logs the
    stream it applies: restarted alone from its AOF it has the primary's data."""
    p = primary.client()
    fill(p)
    d = tmp_path / "replica"
    d.mkdir()
    rs = ServerProcess("--appendonly", "yes", dir=str(d))
    try:
        r = rs.client()
        r.set("before-sync", "gone")
        r.replicaof("127.0.0.1", primary.port)
        wait_for(lambda: caught_up(p, r), what="replica in sync")
        wait_for(
            lambda: (
                r.info("persistence")["aof_rewrite_in_progress"] == 0
                and r.info("persistence")["aof_rewrites"] >= 1
            ),
            what="the AOF rewritten from the loaded data",
        )
        p.set("after-sync", "kept")
        p.incr("counter")
        wait_for(lambda: caught_up(p, r), what="stream applied")
        want = dataset(p)
        rs.stop()
        alone = ServerProcess("--appendonly", "yes", dir=str(d), port=rs.port)
        try:
            a = alone.client()
            assert a.get("before-sync") is None
            assert dataset(a) == want
        finally:
            alone.cleanup()
    finally:
        rs.cleanup()
