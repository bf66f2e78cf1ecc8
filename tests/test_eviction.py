"""maxmemory: the dataset count against tracemalloc, eviction under every policy (which keys
go, checked statistically as Redis's own tests do), the OOM refusals of noeviction (commands,
MULTI, scripts) with Redis's texts, the access records behind OBJECT IDLETIME / FREQ, INFO's
memory fields against redis-server's, and a write-heavy cache staying under its limit while a
BGSAVE runs."""

from __future__ import annotations

import gc
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

N = 2_500  # keys of each kind in the tracemalloc comparison
#: The OOM error as redis-py reports it (it takes the "OOM" code off into the exception type).
OOM_TEXT = "command not allowed when used memory > 'maxmemory'."
VALUE = b"v" * 1000


@pytest.fixture(scope="module")
def mm() -> Iterator[ServerProcess]:
    """A server of its own: these tests change maxmemory and fill it."""
    s = ServerProcess()
    yield s
    s.cleanup()


@pytest.fixture
def c(mm: ServerProcess) -> Iterator[redis.Redis]:
    client = mm.client()
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.flushall()
    client.config_resetstat()
    yield client
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.flushall()
    client.close()


POLICIES = [
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


def used(c: redis.Redis) -> int:
    return int(c.info("memory")["used_memory"])


def limit_above_now(c: redis.Redis, room: int) -> int:
    """Set maxmemory ``room`` bytes above what is used now (counting starts with the limit)."""
    c.config_set("maxmemory", 2**40)
    limit = used(c) + room
    c.config_set("maxmemory", limit)
    return limit


def fill(c: redis.Redis, prefix: str, n: int, ex: int | None = None) -> None:
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}:{i}", VALUE, ex=ex)
    p.execute()


def evicted(c: redis.Redis) -> int:
    return int(c.info("stats")["evicted_keys"])


def count(c: redis.Redis, prefix: str) -> int:
    return sum(1 for _ in c.scan_iter(f"{prefix}:*", count=1000))


# --- the count --------------------------------------------------------------------------------


def test_dataset_count_is_close_to_tracemalloc() -> None:
    """The count maxmemory compares is within 5 % of what tracemalloc saw the data allocate,
    for a mixed dataset written through the real dispatcher (in process)."""
    from profile_hotpath import FakeTransport

    from minikv.config import Config
    from minikv.connection import Client
    from minikv.server import Server

    cfg = Config()
    cfg.maxmemory = 2**40
    cfg.save = []
    srv = Server(cfg)
    cl = Client(srv)
    cl.connection_made(FakeTransport())  # type: ignore[arg-type]
    mem = srv.keyspace.memory
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        d0 = mem.dataset
        # Built while tracing: the argument bytes become the keys and values.
        requests: list[list[bytes]] = []
        for i in range(N):
            k = b"%08d" % i
            requests += [
                [b"SET", b"s" + k, b"x" * (i % 200 + 1)],
                [b"SET", b"e" + k, b"y" * 40, b"EX", b"1000"],
                [b"HSET", b"h" + k, b"fa", b"10", b"fb", b"2" * 30, b"fc", b"30"],
                [b"RPUSH", b"l" + k, *[b"e%d" % j for j in range(15)]],
                [b"SADD", b"t" + k, *[b"m%d" % j for j in range(15)]],
                [b"ZADD", b"z" + k, *[x for j in range(15) for x in (b"%d" % j, b"m%d" % j)]],
            ]
        # Fresh objects, as hiredis makes each argument (literals would be shared constants).
        requests = [[bytes(bytearray(a)) for a in req] for req in requests]
        for req in requests:
            cl.execute(req)
        requests.clear()
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    counted = mem.dataset - d0
    # (One-byte bytes objects are shared singletons in CPython, which the count would charge
    # for: the arguments above are longer.)
    assert abs(counted - traced) <= 0.05 * traced, (counted, traced)
    # Deleting gives it all back.
    for prefix in b"setlz":
        for i in range(N):
            cl.execute([b"DEL", bytes([prefix]) + b"%08d" % i])
    cl.execute([b"DEL", *[b"h%08d" % i for i in range(N)]])
    assert mem.dataset == d0


def test_count_follows_writes_expiry_and_flush(c: redis.Redis) -> None:
    limit_above_now(c, 50_000_000)
    base = int(c.info("memory")["used_memory_dataset"])
    fill(c, "k", 1000)
    grown = int(c.info("memory")["used_memory_dataset"]) - base
    assert 1000 * 1000 < grown < 1000 * 1300
    c.rpush("list", *range(1000))
    c.delete(*[f"k:{i}" for i in range(500)])
    c.lpop("list", 1000)  # popped empty: the key goes
    after = int(c.info("memory")["used_memory_dataset"]) - base
    assert 500 * 1000 < after < 500 * 1300
    c.pexpire("k:500", 1)
    time.sleep(0.01)
    assert c.get("k:500") is None  # lazily expired: subtracted
    c.flushall()
    assert int(c.info("memory")["used_memory_dataset"]) - base < 1000


# --- policies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_limit_is_honoured(c: redis.Redis, policy: str) -> None:
    """Redis's "is the memory limit honoured?": writing far past maxmemory keeps used memory
    at the limit, by evicting (volatile policies: only keys with a deadline)."""
    c.config_set("maxmemory-policy", policy)
    limit = limit_above_now(c, 1_000_000)
    volatile = policy.startswith("volatile")
    fill(c, "keep", 100)  # no deadline: a volatile policy never takes these
    fill(c, "v", 3000, ex=1000 if volatile else None)
    assert used(c) <= limit + 20_000
    assert evicted(c) > 1000
    if volatile:
        assert count(c, "keep") == 100


def test_volatile_policy_without_candidates_refuses(c: redis.Redis) -> None:
    c.config_set("maxmemory-policy", "volatile-lru")
    limit_above_now(c, 200_000)
    with pytest.raises(redis.ResponseError, match=OOM_TEXT):
        fill(c, "k", 1000)
    assert evicted(c) == 0


def test_allkeys_lru_takes_the_idle_keys(c: redis.Redis) -> None:
    """Keys restored with an idle time of 10 000 s go before keys just written (sampled: most,
    not all, as in Redis's approximation)."""
    c.config_set("maxmemory-policy", "allkeys-lru")
    payload = _payload(c)
    p = c.pipeline(transaction=False)
    for i in range(800):
        p.restore(f"old:{i}", 0, payload, idletime=10_000)
    p.execute()
    fill(c, "new", 800)
    limit_above_now(c, 0)
    fill(c, "more", 400)
    old_gone = 800 - count(c, "old")
    new_gone = 800 - count(c, "new")
    assert old_gone >= 350
    assert new_gone <= 0.1 * old_gone


def test_allkeys_lfu_keeps_the_frequent_keys(c: redis.Redis) -> None:
    c.config_set("maxmemory-policy", "allkeys-lfu")
    payload = _payload(c)
    p = c.pipeline(transaction=False)
    for i in range(800):
        p.restore(f"hot:{i}", 0, payload, frequency=200)
    p.execute()
    fill(c, "cold", 800)
    limit_above_now(c, 0)
    fill(c, "more", 400)
    hot_gone = 800 - count(c, "hot")
    cold_gone = 800 - count(c, "cold")
    assert cold_gone >= 200
    assert hot_gone <= 0.1 * cold_gone


def test_volatile_ttl_takes_the_nearest_deadlines(c: redis.Redis) -> None:
    c.config_set("maxmemory-policy", "volatile-ttl")
    fill(c, "soon", 600, ex=1000)
    fill(c, "late", 600, ex=1_000_000)
    fill(c, "never", 200)
    limit_above_now(c, 0)
    fill(c, "more", 300)
    soon_gone = 600 - count(c, "soon")
    late_gone = 600 - count(c, "late")
    assert count(c, "never") == 200 and count(c, "more") == 300
    assert soon_gone >= 250
    assert late_gone <= 0.1 * soon_gone


def test_eviction_is_notified_and_propagated_as_del(c: redis.Redis, mm: ServerProcess) -> None:
    c.config_set("notify-keyspace-events", "Ee")
    sub = mm.client().pubsub()
    sub.subscribe("__keyevent@0__:evicted")
    try:
        c.config_set("maxmemory-policy", "allkeys-random")
        fill(c, "k", 200)
        limit_above_now(c, 0)
        c.set("one-more", VALUE)  # goes over the limit (checked before a command, as Redis)
        c.set("and-another", VALUE)  # evicts first
        deadline = time.monotonic() + 5
        got = []
        while time.monotonic() < deadline and len(got) < 1:
            m = sub.get_message(timeout=0.5)
            if m and m["type"] == "message":
                got.append(m["data"])
        assert got and got[0].startswith(b"k:")
        assert c.exists(got[0].decode()) == 0
    finally:
        c.config_set("notify-keyspace-events", "")
        sub.close()


def test_evictions_propagate_as_del(c: redis.Redis) -> None:
    """Each eviction goes to the propagation stream as a DEL of its own, before the write that
    caused it, so a replica or the AOF drops the same keys."""
    c.config_set("maxmemory-policy", "allkeys-lru")
    fill(c, "k", 300)
    limit_above_now(c, 0)
    assert c.execute_command("DEBUG", "PROPAGATION", "ON") == b"OK"
    try:
        fill(c, "more", 100)
        stream = c.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        c.execute_command("DEBUG", "PROPAGATION", "OFF")
    dels = [cmd[1] for cmd in stream if cmd[0].upper() == b"DEL"]
    assert len(dels) == evicted(c) > 50
    assert all(c.exists(k.decode()) == 0 for k in dels)
    sets = [cmd[1] for cmd in stream if cmd[0].upper() == b"SET"]
    assert len(sets) == 100
    # more:0 takes memory over the limit; the eviction before more:1 makes room, and its DEL
    # goes first.
    names = [cmd[0].upper() for cmd in stream]
    keys = [cmd[1] if len(cmd) > 1 else b"" for cmd in stream]
    assert keys.index(b"more:0") < names.index(b"DEL") < keys.index(b"more:1")


def _payload(c: redis.Redis) -> bytes:
    c.set("tmp", VALUE)
    payload = c.dump("tmp")
    c.delete("tmp")
    assert payload is not None
    return payload


# --- noeviction and the OOM refusals --------------------------------------------------------


def test_noeviction_refuses_denyoom_commands_only(c: redis.Redis) -> None:
    fill(c, "k", 100)
    c.config_set("maxmemory", 1)
    with pytest.raises(redis.exceptions.OutOfMemoryError, match=f"^{OOM_TEXT}$"):
        c.set("x", "y")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        c.lpush("l", "a")
    assert c.get("k:1") == VALUE  # reads go on
    assert c.delete("k:1") == 1  # DEL is not denyoom
    info = c.info("commandstats")
    assert info["cmdstat_set"]["rejected_calls"] >= 1
    assert evicted(c) == 0


def test_oom_replies_match_redis(differential: Differential) -> None:
    """Raw replies, RESP2 and RESP3, with maxmemory 1 byte on both servers: plain commands,
    a transaction (a queued write refused, EXEC aborted), scripts with and without flags."""
    try:
        differential.check(
            ("CONFIG", "SET", "maxmemory", "1"),
            ("SET", "k", "v"),
            ("GET", "k"),
            ("DEL", "k"),
            ("MULTI",),
            ("SET", "k", "v"),
            ("GET", "k"),
            ("EXEC",),
            ("EVAL", "return redis.pcall('set', 'k', 'v')", "0"),
            ("EVAL", "return redis.pcall('get', 'k')", "0"),
            ("EVAL", "#!lua\nreturn redis.call('get', 'k')", "0"),
            ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
            ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", "0"),
            ("CONFIG", "SET", "maxmemory", "0"),
        )
    finally:
        for srv in (differential.mk, differential.rd):
            cl = srv.client()
            cl.config_set("maxmemory", 0)
            cl.close()


def test_multi_queued_before_oom_aborts_at_exec(c: redis.Redis) -> None:
    conn = c.connection_pool.get_connection()
    try:
        conn.send_command("MULTI")
        assert conn.read_response() == b"OK"
        conn.send_command("SET", "a", "1")
        assert conn.read_response() == b"QUEUED"
        c.config_set("maxmemory", 1)
        conn.send_command("EXEC")
        with pytest.raises(
            redis.ResponseError, match="discarded because of: OOM command not allowed"
        ):
            conn.read_response()
    finally:
        c.connection_pool.release(conn)
    c.config_set("maxmemory", 0)
    assert c.exists("a") == 0


def test_config_values_match_redis(differential: Differential) -> None:
    differential.check(
        ("CONFIG", "SET", "maxmemory-policy", "bogus"),
        ("CONFIG", "SET", "maxmemory-samples", "0"),
        ("CONFIG", "SET", "maxmemory-eviction-tenacity", "101"),
        ("CONFIG", "SET", "maxmemory", "nope"),
        ("CONFIG", "SET", "maxmemory-samples", "7"),
        ("CONFIG", "GET", "maxmemory-samples"),
        ("CONFIG", "SET", "maxmemory-samples", "5"),
        ("CONFIG", "GET", "maxmemory-policy"),
        ("CONFIG", "GET", "lfu-log-factor"),
        ("CONFIG", "GET", "lfu-decay-time"),
        ("CONFIG", "GET", "maxmemory-clients"),
    )


# --- access records ---------------------------------------------------------------------------


def test_object_idletime_and_freq(c: redis.Redis) -> None:
    c.set("k", "v")
    payload = c.dump("k")
    assert payload is not None
    c.restore("idle", 0, payload, idletime=500)
    assert 500 <= c.object("idletime", "idle") <= 501
    c.exists("idle")  # EXISTS does not touch (LOOKUP_NOTOUCH)
    c.type("idle")
    assert c.object("idletime", "idle") >= 500
    c.get("idle")  # a read does
    assert c.object("idletime", "idle") <= 1
    c.restore("idle2", 0, payload, idletime=500)
    c.touch("idle2")
    assert c.object("idletime", "idle2") <= 1
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        c.object("freq", "k")
    c.config_set("maxmemory-policy", "allkeys-lfu")
    c.set("f", "v")
    assert c.object("freq", "f") == 5  # LFU_INIT_VAL, as a new Redis key
    for _ in range(100):
        c.get("f")
    assert 5 < c.object("freq", "f") < 100  # logarithmic: lfu-log-factor 10
    c.config_set("lfu-log-factor", 0)
    for _ in range(20):
        c.get("f")
    freq = c.object("freq", "f")
    for _ in range(20):
        c.get("f")
    assert c.object("freq", "f") == min(255, freq + 20)  # factor 0: every access counts
    c.config_set("lfu-log-factor", 10)
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is selected"):
        c.object("idletime", "f")


# --- INFO and MEMORY ------------------------------------------------------------------------------


def _fields(srv: ServerProcess, section: str) -> list[str]:
    cl = srv.client()
    try:
        text = cl.execute_command("INFO", section)
    finally:
        cl.close()
    if isinstance(text, dict):
        return list(text)
    return [ln.split(":")[0] for ln in text.decode().splitlines() if ":" in ln]


def test_info_memory_fields_are_redis_s(server: ServerProcess, redis_server: ServerProcess) -> None:
    assert _fields(server, "memory") == _fields(redis_server, "memory")
    stats = _fields(server, "stats")
    for name in (
        "evicted_keys",
        "total_eviction_exceeded_time",
        "expired_stale_perc",
        "expire_cycle_cpu_milliseconds",
    ):
        assert name in stats


def test_info_memory_figures(c: redis.Redis) -> None:
    c.config_set("maxmemory", "3gb")
    c.config_set("maxmemory-policy", "allkeys-lru")
    info = c.info("memory")
    assert info["maxmemory"] == 3 * 1024**3 and info["maxmemory_human"] == "3.00G"
    assert info["maxmemory_policy"] == "allkeys-lru"
    assert info["used_memory"] == info["used_memory_startup"] + info["used_memory_dataset"] + (
        info["mem_clients_normal"] + info["mem_aof_buffer"] + info["used_memory_scripts"]
    )
    assert info["used_memory"] < info["used_memory_rss"]
    assert info["used_memory_peak"] >= info["used_memory"]


def test_memory_stats_doctor_purge_malloc_stats(c: redis.Redis) -> None:
    fill(c, "k", 100)
    stats = c.memory_stats()
    assert stats["keys.count"] == 100
    assert "db.0" in stats and "overhead.hashtable.main" in stats["db.0"]
    for name in ("peak.allocated", "total.allocated", "dataset.bytes", "fragmentation"):
        assert name in stats
    assert "Sam" in c.execute_command("MEMORY", "DOCTOR").decode()
    assert c.memory_purge()
    text = c.execute_command("MEMORY", "MALLOC-STATS")
    assert b"arenas" in text


def test_memory_help_matches_redis(differential: Differential) -> None:
    differential.check(("MEMORY", "HELP"), ("MEMORY", "STATS", "x"), ("MEMORY", "PURGE", "x"))


# --- a cache under BGSAVE ----------------------------------------------------------------------


def test_cache_stays_under_the_limit_while_bgsave_runs(tmp_path: Path) -> None:
    """A write-heavy client keeps writing new keys while a slow BGSAVE runs: eviction keeps
    the count at maxmemory throughout, and the save succeeds."""
    s = ServerProcess("--maxmemory-policy", "allkeys-lru", dir=str(tmp_path))
    try:
        c = s.client()
        fill(c, "seed", 500)
        limit = limit_above_now(c, 300_000)
        c.config_set("rdb-key-save-delay", 2000)  # µs per key: the save takes ~1 s
        stop = threading.Event()
        errors: list[Any] = []

        def writer() -> None:
            w = s.client()
            i = 0
            try:
                while not stop.is_set():
                    p = w.pipeline(transaction=False)
                    for _ in range(50):
                        p.set(f"w:{i}", VALUE)
                        i += 1
                    p.execute()
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                w.close()

        t = threading.Thread(target=writer)
        t.start()
        try:
            c.bgsave()
            peak = 0
            saw_save = False
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                info = c.info()
                peak = max(peak, info["used_memory"])
                if info["rdb_bgsave_in_progress"]:
                    saw_save = True
                elif saw_save:
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            t.join()
        assert not errors, errors
        assert saw_save
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert peak <= limit + 60_000  # at most one pipeline of writes above it
        assert evicted(c) > 500
        c.close()
    finally:
        s.cleanup()


# --- in process: the sweep, the fork, expiry stats, the headroom warning -------------------------


def _keyspace_with(n: int, maxmemory: int = 2**40) -> Any:
    from minikv.config import Config
    from minikv.keyspace import Keyspace

    ks = Keyspace(2)
    db = ks.dbs[0]
    for i in range(n):
        db.set(b"k%d" % i, b"x" * 50)
    cfg = Config()
    cfg.maxmemory = maxmemory
    ks.memory.configure(cfg)
    return ks


def test_the_sweep_corrects_a_drifted_count() -> None:
    ks = _keyspace_with(3000)
    mem = ks.memory
    right = mem.dataset
    db = ks.dbs[0]
    for h in range(len(db.used)):  # a change no measurement saw
        if db.used[h]:
            db.used[h] += 100
            mem.dataset += 100
    assert mem.dataset > right
    for _ in range(64):  # 2 databases x 1024 shards, 64 looked at per tick at most
        mem.cron(0, 0)
    assert mem.dataset == right


def test_nothing_is_touched_or_swept_while_a_child_runs() -> None:
    ks = _keyspace_with(100)
    db = ks.dbs[0]
    ks.memory.child_running(True)
    db.read(b"k1")
    db.changed(b"k2", "set")
    assert db.access_value(b"k1") is None and db.access_value(b"k2") is None
    before = list(db.used)
    db.used[hash(b"k3") & (len(db.used) - 1)] += 7
    ks.memory.cron(0, 0)
    assert db.used != before  # the drift stays: no sweep during the fork
    ks.memory.child_running(False)
    db.read(b"k1")
    assert db.access_value(b"k1") == ks.lru_clock


def test_expire_cycle_stats_and_effort() -> None:
    from minikv import keyspace as kmod

    ks = _keyspace_with(0, maxmemory=0)
    db = ks.dbs[0]
    past = kmod.now_ms() - 1000
    for i in range(2000):
        db.set(b"e%d" % i, b"v", expire_at=past)
    for i in range(2000):
        db.set(b"l%d" % i, b"v", expire_at=past + 10**9)
    ks.active_expire_cycle(1.0)
    assert 0 < ks.stat_expired_stale_perc <= 0.05  # one cycle: 5 % weight of its share
    assert 0 < ks.stat_expired_keys <= 2000  # only the keys past their deadline
    # A time limit of 0 stops the first database's cycle and counts the cap.
    for i in range(2000):
        db.set(b"f%d" % i, b"v", expire_at=past)
    ks.active_expire_cycle(0.0, clock=iter(range(10**6)).__next__)
    assert ks.stat_expired_time_cap_reached == 1


def test_fork_headroom_warning(tmp_path: Path) -> None:
    from minikv import syscheck

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 4000000 kB\nMemAvailable: 1000000 kB\n")
    assert syscheck.fork_headroom_warning(500_000 * 1024, str(meminfo)) is None
    text = syscheck.fork_headroom_warning(2_000_000 * 1024, str(meminfo))
    assert text is not None and "1.91G of anonymous memory" in text and "976.56M" in text
    assert syscheck.fork_headroom_warning(1, str(tmp_path / "missing")) is None


def test_client_no_touch_leaves_access_records(c: redis.Redis, mm: ServerProcess) -> None:
    payload = _payload(c)
    c.restore("k", 0, payload, idletime=500)
    nt = mm.client()
    try:
        assert nt.execute_command("CLIENT", "NO-TOUCH", "ON") == b"OK"
        nt.get("k")
        assert c.object("idletime", "k") >= 500  # a no-touch read leaves it
        nt.touch("k")  # TOUCH still touches (Redis 7.2)
        assert c.object("idletime", "k") <= 1
    finally:
        nt.close()
