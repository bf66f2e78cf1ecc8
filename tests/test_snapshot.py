"""Fork snapshots with real forks, real files and real clients: BGSAVE under writes, SAVE,
save points, SHUTDOWN SAVE, killed children, killed parents, corrupt files, full disks."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import ROOT, Raw, ServerProcess, encode, wait_for

from minikv.cow import sum_private_dirty
from minikv.persistence.format import FORMAT_VERSION


def persistence(r: redis.Redis) -> dict:  # type: ignore[type-arg]
    return r.info("persistence")


def bgsave_done(r: redis.Redis) -> bool:
    return persistence(r)["rdb_bgsave_in_progress"] == 0


def no_zombies(pid: int) -> bool:
    out = subprocess.run(
        ["ps", "-o", "stat=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return "Z" not in out


@pytest.fixture
def srv(tmp_path: Path):  # type: ignore[no-untyped-def]
    with ServerProcess(dir=str(tmp_path)) as s:
        yield s


def test_bgsave_under_writes_is_point_in_time(tmp_path: Path) -> None:
    with ServerProcess("--rdb-key-save-delay", "20", dir=str(tmp_path)) as s:
        r = s.client()
        for i in range(0, 3000, 100):
            r.mset(
                {f"a:{j}": f"{j}-0" for j in range(i, i + 100)}
                | {f"b:{j}": f"{j}-0" for j in range(i, i + 100)}
            )
        stop = threading.Event()
        rounds = [0]

        def writer() -> None:
            w = s.client()
            n = 0
            while not stop.is_set():
                n += 1
                j = n % 3000
                # a:j and b:j always change together (one MSET is atomic).
                w.mset({f"a:{j}": f"{j}-{n}", f"b:{j}": f"{j}-{n}"})
            rounds[0] = n

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.1)
        assert r.bgsave() is True
        assert persistence(r)["rdb_bgsave_in_progress"] == 1
        wait_for(lambda: bgsave_done(r), what="bgsave")
        stop.set()
        t.join()
        info = persistence(r)
        assert info["rdb_last_bgsave_status"] == "ok"
        assert rounds[0] > 0
        assert no_zombies(s.proc.pid)
        s.stop()
        assert not glob.glob(os.path.join(s.dir, "temp-*"))

    with ServerProcess(dir=str(tmp_path)) as s2:
        r2 = s2.client()
        assert r2.dbsize() == 6000
        a = r2.mget([f"a:{j}" for j in range(3000)])
        b = r2.mget([f"b:{j}" for j in range(3000)])
        assert a == b, "pairs written by one MSET differ: the snapshot is not point-in-time"
        assert r2.info("persistence")["rdb_last_load_keys_loaded"] == 6000


def test_save_lastsave_and_restart_keeps_expiry(srv: ServerProcess) -> None:
    r = srv.client()
    before = r.lastsave()
    r.set("plain", "1")
    r.set("ttl", "2", ex=1000)
    r.select(3)
    r.set("in-db3", "x")
    time.sleep(1.1)  # LASTSAVE has a one-second resolution
    r.select(0)
    r.set("short", "3", px=400)
    assert r.save() is True
    assert r.lastsave() > before
    assert persistence(r)["rdb_changes_since_last_save"] == 0
    srv.stop()
    time.sleep(0.5)  # "short" expires while the server is down
    with ServerProcess(dir=srv.dir) as again:
        r = again.client()
        assert r.get("plain") == b"1"
        assert 990 <= r.ttl("ttl") <= 1000
        assert r.get("short") is None
        assert persistence(r)["rdb_last_load_keys_expired"] == 1
        r.select(3)
        assert r.get("in-db3") == b"x"


def test_sum_private_dirty() -> None:
    smaps = (
        b"55d0-55d1 r--p 00000000 fe:00 1 /usr/bin/x\nRss:  8 kB\nPrivate_Dirty:     0 kB\n"
        b"7f00-7f10 rw-p 00000000 00:00 0\nPrivate_Clean:   4 kB\nPrivate_Dirty:   124 kB\n"
        b"Private_Hugetlb:  0 kB\n7f20-7f30 rw-p 00000000 00:00 0\nPrivate_Dirty:  8 kB\n"
    )
    assert sum_private_dirty(smaps) == 132 * 1024
    assert sum_private_dirty(b"Rss: 4 kB\n") == 0
    if not os.path.exists("/proc/self/smaps_rollup"):
        pytest.skip("no /proc/self/smaps_rollup on this system")
    with open("/proc/self/smaps_rollup", "rb") as f:
        rollup = f.read()
    line = next(x for x in rollup.splitlines() if x.startswith(b"Private_Dirty:"))
    assert sum_private_dirty(rollup) == int(line.split()[1]) * 1024


def test_bgsave_keeps_deadlines_in_every_database(srv: ServerProcess) -> None:
    # The child skips the expiry shards of the databases that had no volatile keys at the
    # fork (counted by the parent): the deadlines of the others must all be written.
    r = srv.client()
    for db, volatile in ((0, True), (2, False), (3, True), (9, False)):
        c = srv.client(db=db)
        try:
            pipe = c.pipeline(transaction=False)
            for i in range(300):
                pipe.set(f"k{i}", f"{db}", ex=1000 + db) if volatile else pipe.set(f"k{i}", "x")
            pipe.execute()
        finally:
            c.close()
    assert r.bgsave()
    wait_for(lambda: bgsave_done(r))
    assert persistence(r)["rdb_last_bgsave_status"] == "ok"
    srv.stop()
    with ServerProcess(dir=srv.dir) as again:
        for db, volatile in ((0, True), (2, False), (3, True), (9, False)):
            c = again.client(db=db)
            try:
                assert c.dbsize() == 300
                ttls = {c.ttl(f"k{i}") for i in range(0, 300, 7)}
                assert ttls <= set(range(990 + db, 1001 + db)) if volatile else ttls == {-1}
            finally:
                c.close()


def test_bgsave_replies(srv: ServerProcess) -> None:
    r = srv.client()
    # Slow saves (20 keys x 20 ms): a child must still be running for the second SCHEDULE,
    # however loaded the machine is.
    r.mset({f"k{i}": "v" for i in range(20)})
    r.config_set("rdb-key-save-delay", 20000)
    with Raw(srv.port) as raw:
        assert raw.request(encode("BGSAVE")) == b"+Background saving started\r\n"
        wait_for(lambda: bgsave_done(r))
        assert raw.request(encode("BGSAVE", "SCHEDULE")) == b"+Background saving started\r\n"
        # As Redis: SCHEDULE waits for another kind of child (an AOF rewrite, tests/test_aof.py),
        # not for a BGSAVE already writing.
        assert raw.request(encode("BGSAVE", "SCHEDULE")) == (
            b"-ERR Background save already in progress\r\n"
        )
        assert raw.request(encode("BGSAVE")) == (b"-ERR Background save already in progress\r\n")
        assert raw.request(encode("SAVE")) == b"-ERR Background save already in progress\r\n"
        assert raw.request(encode("BGSAVE", "NOW")) == b"-ERR syntax error\r\n"
    wait_for(lambda: bgsave_done(r))
    assert persistence(r)["rdb_saves"] == 2


def test_save_points_fire(tmp_path: Path) -> None:
    with ServerProcess("--save", "1 2", dir=str(tmp_path)) as s:
        r = s.client()
        r.set("a", "1")
        r.set("b", "2")
        wait_for(lambda: persistence(r)["rdb_saves"] >= 1, what="save point")
        assert os.path.exists(os.path.join(s.dir, "dump.mkv"))
        assert "changes in 1 seconds. Saving..." in s.log()


def test_shutdown_save(tmp_path: Path) -> None:
    s = ServerProcess(dir=str(tmp_path))
    r = s.client()
    r.set("k", "v")
    r.shutdown(save=True)  # redis-py swallows the closed connection
    assert s.proc.wait(10) == 0
    s.cleanup()
    with ServerProcess(dir=str(tmp_path)) as s2:
        assert s2.client().get("k") == b"v"


def test_killed_child(tmp_path: Path) -> None:
    with ServerProcess("--rdb-key-save-delay", "1000", dir=str(tmp_path)) as s:
        r = s.client()
        r.set("old", "1")
        r.save()
        snap = Path(s.dir, "dump.mkv")
        old = snap.read_bytes()
        r.execute_command("DEBUG", "POPULATE", "2000")
        r.bgsave()
        info = wait_for(lambda: (i := persistence(r))["rdb_bgsave_in_progress"] and i)
        child = int(wait_for(lambda: _child_pid(s.proc.pid), what="child pid"))
        wait_for(lambda: glob.glob(os.path.join(s.dir, "temp-*.mkv")), what="temp file")
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: bgsave_done(r), what="reap")
        info = persistence(r)
        assert info["rdb_last_bgsave_status"] == "err"
        assert snap.read_bytes() == old
        assert not glob.glob(os.path.join(s.dir, "temp-*"))
        assert no_zombies(s.proc.pid)
        r.config_set("rdb-key-save-delay", "0")
        r.bgsave()
        wait_for(lambda: bgsave_done(r))
        assert persistence(r)["rdb_last_bgsave_status"] == "ok"


def _child_pid(ppid: int) -> int | None:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(ppid)], capture_output=True, text=True
    ).stdout.split()
    return int(out[0]) if out else None


def test_kill9_parent_then_restart(tmp_path: Path) -> None:
    s = ServerProcess(dir=str(tmp_path))
    r = s.client()
    r.mset({f"k{i}": str(i) for i in range(500)})
    r.save()
    r.set("after-save", "lost")
    s.proc.kill()
    s.proc.wait()
    s.cleanup()
    with ServerProcess(dir=str(tmp_path)) as s2:
        r2 = s2.client()
        assert r2.dbsize() == 500
        assert r2.get("after-save") is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "version", "garbage"])
def test_bad_snapshot_refuses_to_start(tmp_path: Path, damage: str) -> None:
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        r.mset({f"k{i}": "v" * 50 for i in range(300)})
        r.save()
    snap = tmp_path / "dump.mkv"
    data = bytearray(snap.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x55
    elif damage == "version":
        import msgpack

        u = msgpack.Unpacker(strict_map_key=False)
        u.feed(bytes(data))
        header = next(u)
        hlen = len(msgpack.packb(header))
        header["format"] = 99
        data = bytearray(msgpack.packb(header)) + data[hlen:]
    else:
        data = bytearray(b"this is not a snapshot at all, not even close" * 3)
    snap.write_bytes(bytes(data))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "minikv", "--port", "0", "--dir", str(tmp_path), "--save", ""],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "dump.mkv" in out
    assert snap.read_bytes() == bytes(data), "a bad snapshot must never be overwritten"


def test_full_disk_gives_err_and_misconf(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount permission)")
    try:
        with ServerProcess("--save", "3600 1", dir=str(mnt)) as s:
            r = s.client()
            r.mset({f"k{i}": "v" * 1000 for i in range(1000)})  # ~1 MB > 256 KB
            r.bgsave()
            wait_for(lambda: bgsave_done(r))
            assert persistence(r)["rdb_last_bgsave_status"] == "err"
            assert not glob.glob(os.path.join(str(mnt), "temp-*"))
            with pytest.raises(redis.ResponseError, match=r"^MISCONF"):
                r.set("x", "1")
            with pytest.raises(redis.ResponseError, match=r"^MISCONF"):
                r.ping()  # as Redis 7: PING is refused too, so health checks notice
            assert r.get("k1") == b"v" * 1000  # reads still work
            r.config_set("stop-writes-on-bgsave-error", "no")
            assert r.set("x", "1") is True
            r.flushall()  # with save points set, FLUSHALL saves the (now small) dataset
            assert persistence(r)["rdb_last_bgsave_status"] == "ok"
            r.config_set("stop-writes-on-bgsave-error", "yes")
            assert r.set("y", "1") is True
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_cow_fields_plausible(srv: ServerProcess) -> None:
    r = srv.client()
    r.execute_command("DEBUG", "POPULATE", "20000", "key", "100")
    r.bgsave()
    wait_for(lambda: bgsave_done(r))
    info = persistence(r)
    for field in (
        "loading",
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
        "current_fork_perc",
        "current_save_keys_processed",
        "current_save_keys_total",
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec",
        "rdb_saves",
        "rdb_last_cow_size",
        "rdb_last_load_keys_expired",
        "rdb_last_load_keys_loaded",
    ):
        assert field in info, field
    rss = r.info("memory")["used_memory_rss"]
    assert 0 < info["rdb_last_cow_size"] < rss
    stats = r.info("stats")
    assert stats["total_forks"] == 1
    assert stats["latest_fork_usec"] > 0
    assert "Background saving terminated with success" in srv.log()
    assert "Fork CoW for snapshot: current" in srv.log()


def test_check_snapshot_tool(srv: ServerProcess) -> None:
    r = srv.client()
    r.set("a", "1")
    r.set("b", b"\xff\x00", ex=100)
    r.save()
    path = os.path.join(srv.dir, "dump.mkv")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "minikv.check_snapshot", path],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "2 keys read (1 with an expire)" in p.stdout
    p = subprocess.run(
        [sys.executable, "-m", "minikv.check_snapshot", "--json", path],
        capture_output=True,
        text=True,
        env=env,
    )
    import json

    recs = {rec["key"]: rec for rec in map(json.loads, p.stdout.splitlines())}
    assert recs["a"]["value"] == "1" and recs["a"]["expire_ms"] is None
    assert recs["b"]["value"] == {"base64": "/wA="} and recs["b"]["expire_ms"] > 0
    Path(path).write_bytes(Path(path).read_bytes()[:-5])
    p = subprocess.run(
        [sys.executable, "-m", "minikv.check_snapshot", path],
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 1 and "footer" in p.stderr


def _dump_all(r: redis.Redis) -> dict:  # type: ignore[type-arg]
    """Every key of db 0 and 2 with its type, value and whether it has a deadline."""
    out = {}
    for db in (0, 2):
        r.select(db)
        for key in r.keys("*"):
            t = r.type(key)
            t = t.decode() if isinstance(t, bytes) else t
            if t == "string":
                v: object = r.get(key)
            elif t == "hash":
                v = r.hgetall(key)
            elif t == "list":
                v = r.lrange(key, 0, -1)
            elif t == "set":
                v = sorted(r.smembers(key))
            else:
                v = r.zrange(key, 0, -1, withscores=True)
            out[(db, key)] = (t, v, r.ttl(key) > 0, r.object("encoding", key))
    r.select(0)
    return out


def test_every_type_round_trips_with_expiry(tmp_path: Path) -> None:
    def fill(r: redis.Redis) -> None:
        r.set("s", "text")
        r.set("n", "12345", ex=1000)
        r.hset("h", mapping={"f1": "v1", "f2": "v2"})
        r.hset("bigh", mapping={f"f{i}": "x" * 10 for i in range(600)})
        r.expire("h", 1000)
        r.rpush("l", "a", "b", "c", "a")
        r.rpush("bigl", *[str(i) for i in range(300)])
        r.sadd("iset", 1, 2, 3)
        r.sadd("sset", "x", "y", "z")
        r.pexpire("sset", 1000000)
        r.zadd("z", {"a": 1.5, "b": -2, "c": float("inf")})
        r.zadd("bigz", {f"m{i}": i / 3 for i in range(200)})
        r.select(2)
        r.zadd("z2", {"only": 0.1})
        r.expire("z2", 1000)
        r.rpush("l2", b"\x00\xff")
        r.select(0)

    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client(protocol=3)
        fill(r)
        before = _dump_all(r)
        assert r.execute_command("DEBUG", "RELOAD") in (b"OK", "OK", True)
        assert _dump_all(r) == before
        r.save()
    with ServerProcess(dir=str(tmp_path)) as s2:
        r2 = s2.client(protocol=3)
        assert _dump_all(r2) == before
        assert r2.info("persistence")["rdb_last_load_keys_loaded"] == len(before)


# --- format details: version 1 files, crafted values, copy-on-write of collections ---------------


def _write_snapshot(path: Path, version: int, chunks: list[list[object]]) -> None:
    """A snapshot file built by hand with msgpack (not minikv's writer): header, chunks, footer."""
    import zlib

    import msgpack

    from minikv.persistence.format import encode_footer

    header = {"magic": "MINIKV", "format": version, "minikv": "test", "created_ms": 0}
    body = msgpack.packb(header) + b"".join(msgpack.packb(c) for c in chunks)
    keys = sum(len(c[1]) for c in chunks)  # type: ignore[arg-type]
    path.write_bytes(body + encode_footer(keys, zlib.crc32(body)))


def _start_on(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "minikv", "--port", "0", "--dir", str(tmp_path), "--save", ""],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


def test_format_1_files_still_load(tmp_path: Path) -> None:
    import msgpack

    lst = msgpack.ExtType(1, msgpack.packb([b"a", b"b", b"c"]))
    zs = msgpack.ExtType(2, msgpack.packb({b"x": 1.5, b"y": -2.0}))
    chunk = [0, {b"s": [b"m1", b"m2"], b"l": lst, b"z": zs, b"h": {b"f": b"v"}, b"k": b"v"}, {}]
    _write_snapshot(tmp_path / "dump.mkv", 1, [chunk])
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.smembers("s") == {b"m1", b"m2"} and r.type("s") == b"set"
        assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"] and r.type("l") == b"list"
        assert r.zrange("z", 0, -1, withscores=True) == [(b"y", -2.0), (b"x", 1.5)]
        assert r.hgetall("h") == {b"f": b"v"} and r.get("k") == b"v"
        # Saved again, it is written in the current format and reads back the same.
        r.execute_command("DEBUG", "RELOAD")
        assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"] and r.type("s") == b"set"
    import msgpack as mp

    with open(tmp_path / "dump.mkv", "rb") as f:
        assert next(iter(mp.Unpacker(f, strict_map_key=False)))["format"] == FORMAT_VERSION


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({}, id="empty-map"),
        pytest.param([], id="empty-list"),
        pytest.param([[]], id="list-of-empty-node"),
        pytest.param({b"a": None, b"b": b"x"}, id="set-mixed-with-hash"),
        pytest.param({b"a": 1.0, b"b": None}, id="zset-mixed-with-set"),
        pytest.param({b"a": float("nan")}, id="zset-nan"),
        pytest.param({b"a": b"x", b"b": 3}, id="hash-int-value"),
        pytest.param([b"a", b"b"], id="list-not-of-nodes"),
        pytest.param([[b"a", 7]], id="list-int-element"),
        pytest.param(12, id="int-value"),
        pytest.param({"text": b"x"}, id="str-field"),
        pytest.param({b"a": b"x", b"b": None}, id="hash-nil-value"),
        pytest.param({b"a": None, b"b": 1.0}, id="set-with-score"),
        pytest.param({b"a": 1.0, b"b": 2}, id="zset-int-score"),
        pytest.param({b"a": 1.0, 5: 2.0}, id="zset-int-member"),
        pytest.param({b"a": 7}, id="map-of-int"),
        pytest.param([[b"a"], b"b"], id="list-second-node-not-array"),
        pytest.param([[b"a"], {b"b": b"c"}], id="list-node-is-map"),
        pytest.param([[b"a"], [None]], id="list-nil-element"),
        pytest.param(["stream"], id="stream-tag-in-format-2"),
    ],
)
def test_crafted_values_refuse_to_start(tmp_path: Path, value: object) -> None:
    snap = tmp_path / "dump.mkv"
    _write_snapshot(snap, 2, [[0, {b"good": b"v", b"bad": value}, {}]])
    data = snap.read_bytes()
    p = _start_on(tmp_path)
    assert p.returncode != 0
    assert "dump.mkv" in p.stdout + p.stderr and "corrupt" in p.stdout + p.stderr
    assert snap.read_bytes() == data, "a refused snapshot must never be overwritten"


def _plain_stream() -> list[Any]:
    """A stream with two entries and a group with one pending entry, as the snapshot holds it."""
    import msgpack
    import msgspec

    from minikv.stream import Group, Nack, Stream, make_id

    s = Stream()
    s.add(make_id(1, 1), [b"f", b"v"])
    s.add(make_id(1, 2), [b"f", b"w"])
    g = s.groups[b"g"] = Group(make_id(1, 1), 1, {}, {})
    g.add_consumer(b"c", 5)
    g.pel[make_id(1, 1)] = Nack(b"c", 5, 1)
    g.consumers[b"c"].pel[make_id(1, 1)] = None
    return msgpack.unpackb(msgspec.msgpack.encode(s), strict_map_key=False)


def _crafted(edit: str) -> list[Any]:
    v = _plain_stream()
    nodes, groups = v[1], v[6]
    if edit == "length":
        v[2] = 3
    elif edit == "id-size":
        v[3] = b"\x00" * 15
    elif edit == "order":
        nodes[0][2] = dict(reversed(list(nodes[0][2].items())))
    elif edit == "odd-fields":
        nodes[0][2][next(iter(nodes[0][2]))] = [b"f"]
    elif edit == "int-value":
        nodes[0][2][next(iter(nodes[0][2]))] = [b"f", 7]
    elif edit == "orphan-pending":
        groups[b"g"][3] = {}
    elif edit == "pending-elsewhere":
        groups[b"g"][2] = {}
    elif edit == "added":
        v[4] = 1
    elif edit == "tag":
        v[0] = "strem"
    return v


@pytest.mark.parametrize(
    "edit",
    ["length", "id-size", "order", "odd-fields", "int-value", "orphan-pending",
     "pending-elsewhere", "added", "tag"],
)  # fmt: skip
def test_crafted_streams_refuse_to_start(tmp_path: Path, edit: str) -> None:
    _write_snapshot(tmp_path / "dump.mkv", 4, [[0, {b"x": _crafted(edit)}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr


def test_a_stream_loads_from_format_4_only(tmp_path: Path) -> None:
    _write_snapshot(tmp_path / "dump.mkv", 3, [[0, {b"x": _plain_stream()}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr
    _write_snapshot(tmp_path / "dump.mkv", 4, [[0, {b"x": _plain_stream()}, {}]])
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        assert r.xrange("x") == [(b"1-1", {b"f": b"v"}), (b"1-2", {b"f": b"w"})]
        assert r.xpending("x", "g")["pending"] == 1


@pytest.mark.parametrize(
    "ext",
    [
        pytest.param((1, [b"a", 7]), id="list-int-element"),
        pytest.param((1, []), id="empty-list"),
        pytest.param((2, {b"a": b"x"}), id="zset-bin-score"),
        pytest.param((2, {b"a": float("nan")}), id="zset-nan"),
        pytest.param((3, [b"a"]), id="unknown-ext"),
    ],
)
def test_crafted_format_1_ext_values_refuse_to_start(tmp_path: Path, ext: Any) -> None:
    import msgpack

    code, payload = ext
    value = msgpack.ExtType(code, msgpack.packb(payload))
    _write_snapshot(tmp_path / "dump.mkv", 1, [[0, {b"good": b"v", b"bad": value}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr


def test_ext_values_refused_in_format_2(tmp_path: Path) -> None:
    import msgpack

    lst = msgpack.ExtType(1, msgpack.packb([b"a"]))
    _write_snapshot(tmp_path / "dump.mkv", 2, [[0, {b"l": lst}, {}]])
    p = _start_on(tmp_path)
    assert p.returncode != 0 and "corrupt" in p.stdout + p.stderr


def test_collections_cost_little_copy_on_write(tmp_path: Path) -> None:
    """The snapshot child must not write to the pages of the data it saves, whatever the type:
    with no writes during BGSAVE its copy-on-write stays a small share of the parent's RSS.
    (Sets kept as Python sets, lists as deques or sorted sets behind a Python hook copied
    40-80 % of it; the bound here is loose, the real figures are in benchmarks/README.md.)"""
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        per_type = 12_000
        p = r.pipeline(transaction=False)
        for i in range(per_type):
            p.sadd(f"s{i}", f"a{i}", f"b{i}", "c")
            p.rpush(f"l{i}", f"x{i}", f"y{i}")
            p.zadd(f"z{i}", {f"m{i}": i, "n": 2})
            p.hset(f"h{i}", mapping={"f": f"v{i}"})
            if i % 1000 == 999:
                p.execute()
        p.execute()
        r.bgsave()
        wait_for(lambda: bgsave_done(r))
        assert persistence(r)["rdb_last_bgsave_status"] == "ok"
        cow = persistence(r)["rdb_last_cow_size"]
        rss = r.info("memory")["used_memory_rss"]
        assert 0 < cow < rss * 0.10, f"child copied {cow} bytes of {rss} ({cow / rss:.1%})"


def test_check_snapshot_json_names_every_type(srv: ServerProcess) -> None:
    r = srv.client()
    r.set("a", "1")
    r.hset("h", "f", "v")
    r.sadd("s", "x", "y")
    r.rpush("l", "p", "q")
    r.zadd("z", {"m": 1.5})
    r.xadd("x", {"f": "v"}, id="1-1")
    r.xgroup_create("x", "g", "0")
    r.xreadgroup("g", "c", {"x": ">"})
    group = r.xinfo_stream("x", full=True)["groups"][0]
    seen, delivered = group["consumers"][0]["seen-time"], group["pending"][0][2]
    r.save()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "minikv.check_snapshot", "--json", f"{srv.dir}/dump.mkv"],
        capture_output=True,
        text=True,
        env=env,
    )
    import json

    lines = p.stdout.splitlines()
    recs = {rec["key"]: (rec["type"], rec["value"]) for rec in map(json.loads, lines)}
    assert recs == {
        "a": ("string", "1"),
        "h": ("hash", {"f": "v"}),
        "s": ("set", ["x", "y"]),
        "l": ("list", ["p", "q"]),
        "z": ("zset", {"m": 1.5}),
        "x": (
            "stream",
            {
                "entries": [["1-1", ["f", "v"]]],
                "last-generated-id": "1-1",
                "max-deleted-entry-id": "0-0",
                "entries-added": 1,
                "groups": {
                    "g": {
                        "last-delivered-id": "1-1",
                        "entries-read": 1,
                        "pending": [["1-1", "c", delivered, 1]],
                        "consumers": {"c": seen},
                    }
                },
            },
        ),
    }
