"""The append-only file with real servers, real files and real kills: what an acknowledged write
survives (kill -9 under load, per fsync policy), the multi-part layout and its manifest, rewrites
by fork (killed, scheduled, automatic, turned on at run time), torn and corrupt files, a full
disk, and Redis's replies and INFO fields side by side with redis-server."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from helpers import ROOT, ServerProcess, have_redis_server, run_raw, wait_for
from redis.backoff import NoBackoff
from redis.retry import Retry

from minikv.persistence.aoffiles import (
    Manifest,
    ManifestError,
    Truncated,
    encode_argv,
    read_commands,
)

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"


def aof_dir(d: Path | str) -> Path:
    return Path(d) / AOF_DIR


def manifest(d: Path | str) -> Manifest:
    return Manifest.parse((aof_dir(d) / MANIFEST).read_bytes())


def last_incr(d: Path | str) -> Path:
    return aof_dir(d) / manifest(d).incrs[-1].name


def logged(d: Path | str) -> list[list[bytes]]:
    """Every command in the incremental files, in order."""
    out: list[list[bytes]] = []
    for info in manifest(d).incrs:
        for item in read_commands(str(aof_dir(d) / info.name)):
            assert not isinstance(item, Truncated)
            out.append(item[2])
    return out


def kill9(s: ServerProcess) -> None:
    s.proc.kill()
    s.proc.wait()


def rewrite_done(r: redis.Redis) -> bool:
    return r.info("persistence")["aof_rewrite_in_progress"] == 0


def start(d: Path, *args: str) -> ServerProcess:
    return ServerProcess("--appendonly", "yes", *args, dir=str(d))


# --- the log -------------------------------------------------------------------------------------


def test_writes_survive_kill_and_are_logged_in_replayable_form(tmp_path: Path) -> None:
    s = start(tmp_path)
    try:
        r = s.client()
        r.set("a", "1")
        r.setex("ttl", 100, "x")
        r.expire("a", 500)
        r.incrbyfloat("f", "1.5")
        r.sadd("s", "m1", "m2", "m3")
        r.spop("s")
        r.set("same", "v")
        r.set("same", "v", nx=True)  # a no-op: not logged
        with r.pipeline(transaction=True) as p:
            p.set("m1", "1").set("m2", "2").execute()
        r.execute_command("SELECT", "2")
        r.set("db2", "yes")
        r.execute_command("SELECT", "0")
        r.rpush("q", "x")
        blocked = s.client()
        r.rpush("q2", "job")
        assert blocked.blpop(["q2"], 1) == (b"q2", b"job")
        cmds = logged(tmp_path)
    finally:
        kill9(s)
    names = [c[0].upper() for c in cmds]
    assert names[0] == b"SELECT"
    assert cmds[names.index(b"SET", 2)][:4] == [b"SET", b"ttl", b"x", b"PXAT"]
    assert any(c[0] == b"PEXPIREAT" and c[1] == b"a" for c in cmds)
    assert [b"SET", b"f", b"1.5", b"KEEPTTL"] in cmds
    srem = [c for c in cmds if c[0] == b"SREM"]
    assert len(srem) == 1 and srem[0][2] in (b"m1", b"m2", b"m3")
    assert sum(1 for c in cmds if c[:2] == [b"SET", b"same"]) == 1
    i = cmds.index([b"MULTI"])
    assert cmds[i + 1 : i + 4] == [[b"SET", b"m1", b"1"], [b"SET", b"m2", b"2"], [b"EXEC"]]
    assert [b"SELECT", b"2"] in cmds and [b"LPOP", b"q2"] in cmds
    assert b"BLPOP" not in names and b"SETEX" not in names and b"SPOP" not in names

    with start(tmp_path) as s2:
        r = s2.client()
        assert r.get("a") == b"1" and 0 < r.ttl("a") <= 500
        assert 0 < r.ttl("ttl") <= 100
        assert r.get("f") == b"1.5"
        assert r.scard("s") == 2
        assert r.mget("m1", "m2", "same") == [b"1", b"2", b"v"]
        assert r.lrange("q", 0, -1) == [b"x"] and not r.exists("q2")
        r.execute_command("SELECT", "2")
        assert r.get("db2") == b"yes"
        assert "DB loaded from append only file" in s2.log()


def test_expiry_is_absolute_across_restarts(tmp_path: Path) -> None:
    s = start(tmp_path)
    r = s.client()
    r.set("short", "x", px=300)
    r.set("long", "y", ex=100)
    kill9(s)
    time.sleep(0.5)  # 'short' passes its deadline while the server is down
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.get("short") is None
        assert r.get("long") == b"y" and 98 <= r.ttl("long") <= 100


@pytest.mark.parametrize(
    ("policy", "rewrites"), [("always", False), ("everysec", False), ("everysec", True)]
)
def test_acknowledged_writes_survive_kill_9_under_load(
    tmp_path: Path, policy: str, rewrites: bool
) -> None:
    """With ``rewrites``, one BGREWRITEAOF completes under the load and the kill comes while
    a second one runs."""
    s = start(tmp_path, "--appendfsync", policy)
    acked = [0] * 4
    stop = threading.Event()

    def writer(n: int) -> None:
        r = s.client(socket_timeout=5)
        try:
            while not stop.is_set():
                v = r.incr(f"counter:{n}")
                acked[n] = v
                r.rpush(f"list:{n}", v)
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: min(acked) > 200, what="writes")
    if rewrites:
        admin = s.client()
        admin.bgrewriteaof()
        wait_for(lambda: admin.info("persistence")["aof_rewrites"] == 1 and rewrite_done(admin))
        assert admin.info("persistence")["aof_last_bgrewrite_status"] == "ok"
        done = min(acked)
        wait_for(lambda: min(acked) > done + 200, what="writes after the rewrite")
        admin.config_set("rdb-key-save-delay", "200")
        admin.bgrewriteaof()
        wait_for(lambda: not rewrite_done(admin), what="second rewrite")
        time.sleep(0.2)
    kill9(s)
    stop.set()
    for t in threads:
        t.join(10)
    with start(tmp_path, "--appendfsync", policy) as s2:
        r = s2.client()
        for n in range(4):
            value = int(r.get(f"counter:{n}") or 0)
            # Every acknowledged INCR is there; at most the one in flight more.
            assert acked[n] <= value <= acked[n] + 1, (n, acked[n], value)
            items = [int(x) for x in r.lrange(f"list:{n}", 0, -1)]
            assert items == list(range(1, len(items) + 1))
            assert len(items) >= acked[n] - 1


def test_always_fsyncs_before_replying(tmp_path: Path) -> None:
    """With ``always`` the incremental file holds a write (and the kernel was asked to make
    it durable) by the time its reply arrives."""
    with start(tmp_path, "--appendfsync", "always") as s:
        r = s.client()
        for i in range(20):
            r.set(f"k{i}", i)
            assert [b"SET", f"k{i}".encode(), str(i).encode()] == logged(tmp_path)[-1]
        info = r.info("persistence")
        assert info["aof_pending_bio_fsync"] == 0 and info["aof_buffer_length"] == 0


def test_multi_exec_replays_atomically_and_a_torn_transaction_is_dropped(
    tmp_path: Path,
) -> None:
    s = start(tmp_path)
    r = s.client()
    r.set("before", "1")
    kill9(s)
    with open(last_incr(tmp_path), "ab") as f:  # a crash half way through a transaction
        f.write(encode_argv([b"MULTI"]) + encode_argv([b"SET", b"half", b"1"]))
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.get("before") == b"1" and r.get("half") is None
        assert "Revert incomplete MULTI/EXEC transaction" in s2.log()
        r.set("after", "2")
    with start(tmp_path) as s3:
        assert s3.client().mget("before", "half", "after") == [b"1", None, b"2"]


# --- torn and corrupt files ----------------------------------------------------------------------


def test_torn_tail_is_truncated_and_loaded(tmp_path: Path) -> None:
    s = start(tmp_path)
    r = s.client()
    for i in range(10):
        r.set(f"k{i}", i)
    kill9(s)
    path = last_incr(tmp_path)
    good = path.stat().st_size
    torn = b"*3\r\n$3\r\nSET\r\n$2\r\nzz\r\n$5\r\nab"  # a crash mid-command
    with open(path, "ab") as f:
        f.write(torn)
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.mget([f"k{i}" for i in range(10)]) == [str(i).encode() for i in range(10)]
        assert r.get("zz") is None
        log = s2.log()
        assert f"Truncating the AOF {path.name} at offset {good}" in log
        assert f"loaded anyway because aof-load-truncated is enabled ({len(torn)} bytes cut)" in log
    assert path.stat().st_size == good


def test_torn_tail_refused_without_aof_load_truncated(tmp_path: Path) -> None:
    s = start(tmp_path)
    s.client().set("k", "v")
    kill9(s)
    path = last_incr(tmp_path)
    with open(path, "ab") as f:
        f.write(b"*2\r\n$3\r\nGET")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="exited with 1") as e:
        start(tmp_path, "--aof-load-truncated", "no")
    assert "Unexpected end of file reading the append only file" in str(e.value)
    assert path.read_bytes() == before


def test_corruption_in_the_middle_refuses_to_start_naming_file_and_offset(
    tmp_path: Path,
) -> None:
    s = start(tmp_path)
    r = s.client()
    r.set("a", "1")
    r.set("b", "2")
    r.set("c", "3")
    kill9(s)
    path = last_incr(tmp_path)
    data = bytearray(path.read_bytes())
    cmds = list(read_commands(str(path)))
    start_of_b = cmds[2][0]  # SELECT, SET a, SET b
    data[start_of_b] = ord("?")
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="exited with 1") as e:
        start(tmp_path)
    msg = str(e.value)
    assert f"Bad file format reading the append only file {path.name} at offset {start_of_b}" in msg
    assert path.read_bytes() == bytes(data)  # untouched


def test_unknown_command_and_bad_manifest_refuse_to_start(tmp_path: Path) -> None:
    s = start(tmp_path)
    s.client().set("a", "1")
    kill9(s)
    with open(last_incr(tmp_path), "ab") as f:
        f.write(encode_argv([b"NOSUCHCMD", b"x"]))
    with pytest.raises(RuntimeError) as e:
        start(tmp_path)
    assert "Unknown command 'NOSUCHCMD' reading the append only file" in str(e.value)
    (aof_dir(tmp_path) / MANIFEST).write_text("file a seq 1 type b\nfile b seq 2 type b\n")
    with pytest.raises(RuntimeError) as e:
        start(tmp_path)
    assert "Found duplicate base file information" in str(e.value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"", "Found an empty AOF manifest"),
        (b"file a seq 1\n", "Invalid AOF manifest file format"),
        (b"file a seq 1 type\n", "Invalid AOF manifest file format"),
        (b"file a seq 1 type x\n", "Unknown AOF file type"),
        (b"file ../a seq 1 type b\n", "File can't be a path, just a filename"),
        (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
        (b"file a seq 1 type b\nfile b seq 1 type b\n", "Found duplicate base file information"),
        (b"file a seq 0 type b\n", "Invalid AOF manifest file format"),
        (b"file a seq 1 type b", "The AOF manifest file contains too long line"),
    ],
)
def test_manifest_errors_are_redis_s(text: bytes, error: str) -> None:
    with pytest.raises(ManifestError) as e:
        Manifest.parse(text)
    assert e.value.message == error


def test_manifest_round_trips_quoted_names() -> None:
    m = Manifest.parse(
        b'# comment\nfile "my file.1.base.mkv" seq 1 type b\n'
        b"file h.1.incr.aof seq 1 type h\nfile x.2.incr.aof seq 2 type i\n"
    )
    assert m.base is not None and m.base.name == "my file.1.base.mkv"
    assert [i.name for i in m.history] == ["h.1.incr.aof"] and m.incr_seq == 2
    assert Manifest.parse(m.render()) == m


# --- rewrites ------------------------------------------------------------------------------------


def test_bgrewriteaof_switches_files_and_keeps_writes_made_during_it(tmp_path: Path) -> None:
    s = start(tmp_path, "--rdb-key-save-delay", "2000")
    r = s.client()
    r.mset({f"k{i}": i for i in range(500)})
    old = manifest(tmp_path)
    assert r.bgrewriteaof() is True
    info = r.info("persistence")
    assert info["aof_rewrite_in_progress"] == 1
    with pytest.raises(redis.ResponseError, match="already in progress"):
        r.bgrewriteaof()
    with pytest.raises(redis.ResponseError, match=r"Another child process is active \(AOF\?\)"):
        r.execute_command("BGSAVE")
    during = manifest(tmp_path)  # the new incr file is listed at once
    assert [i.seq for i in during.incrs] == [1, 2] and during.base == old.base
    for i in range(100):
        r.set(f"during{i}", i)
    r.config_set("rdb-key-save-delay", "0")
    wait_for(lambda: rewrite_done(r), what="rewrite")
    new = manifest(tmp_path)
    assert new.base is not None and new.base.seq == 2 and [i.seq for i in new.incrs] == [2]
    assert new.history == []
    files = sorted(os.listdir(aof_dir(tmp_path)))
    assert files == sorted([MANIFEST, new.base.name, new.incrs[0].name])
    info = r.info("persistence")
    assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrites"] == 1
    assert info["aof_last_cow_size"] > 0
    on_disk = sum((aof_dir(tmp_path) / i.name).stat().st_size for i in new.files())
    assert info["aof_current_size"] == on_disk
    r.set("after", "x")
    kill9(s)
    assert "Fork CoW for AOF rewrite" in s.log()
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.dbsize() == 601
        assert r.get("during99") == b"99" and r.get("after") == b"x"


def test_killed_rewrite_child_changes_nothing(tmp_path: Path) -> None:
    s = start(tmp_path, "--rdb-key-save-delay", "100000")
    try:
        r = s.client()
        r.mset({f"k{i}": i for i in range(50)})
        r.bgrewriteaof()
        pid = wait_for(
            lambda: [
                int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == s.proc.pid
            ],
            what="child",
        )[0]
        r.set("during", "1")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: rewrite_done(r), what="reap")
        info = r.info("persistence")
        assert info["aof_last_bgrewrite_status"] == "err"
        assert info["aof_rewrites_consecutive_failures"] == 1
        assert not list(tmp_path.glob("temp-rewriteaof-bg-*"))
        m = manifest(tmp_path)
        assert m.base is not None and m.base.seq == 1 and [i.seq for i in m.incrs] == [1, 2]
        assert "Background AOF rewrite terminated by signal 9" in s.log()
        r.set("after", "2")
        r.config_set("rdb-key-save-delay", "0")
        r.bgrewriteaof()  # a later rewrite succeeds and drops both incr files
        wait_for(lambda: rewrite_done(r), what="rewrite")
        assert r.info("persistence")["aof_rewrites_consecutive_failures"] == 0
        assert [i.seq for i in manifest(tmp_path).incrs] == [3]
    finally:
        kill9(s)
    with start(tmp_path) as s2:
        assert s2.client().mget("k49", "during", "after") == [b"49", b"1", b"2"]


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_rewrite_during_bgsave_is_scheduled(tmp_path: Path) -> None:
    with start(tmp_path, "--rdb-key-save-delay", "20000") as s:
        r = s.client()
        r.mset({f"k{i}": i for i in range(50)})
        assert run_raw(s.port, [("BGSAVE",), ("BGREWRITEAOF",)]) == [
            b"+Background saving started\r\n",
            b"+Background append only file rewriting scheduled\r\n",
        ]
        assert r.info("persistence")["aof_rewrite_scheduled"] == 1
        r.config_set("rdb-key-save-delay", "0")
        wait_for(lambda: r.info("persistence")["aof_rewrites"] == 1, what="scheduled rewrite")
        wait_for(lambda: rewrite_done(r), what="rewrite")
        info = r.info("persistence")
        assert info["aof_rewrite_scheduled"] == 0 and info["aof_last_bgrewrite_status"] == "ok"
        assert info["rdb_last_bgsave_status"] == "ok"


def test_automatic_rewrite_on_growth(tmp_path: Path) -> None:
    with start(
        tmp_path, "--auto-aof-rewrite-min-size", "20kb", "--auto-aof-rewrite-percentage", "100"
    ) as s:
        r = s.client()
        for i in range(300):
            r.set(f"key:{i}", "v" * 100)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 1, what="automatic rewrite")
        wait_for(lambda: rewrite_done(r), what="rewrite")
        assert "Starting automatic rewriting of AOF on" in s.log()
        assert r.info("persistence")["aof_base_size"] > 0


def test_appendonly_turned_on_at_run_time(tmp_path: Path) -> None:
    s = ServerProcess("--rdb-key-save-delay", "5000", dir=str(tmp_path))
    try:
        r = s.client()
        r.mset({f"k{i}": i for i in range(200)})
        assert r.info("persistence")["aof_enabled"] == 0
        r.config_set("appendonly", "yes")
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_rewrite_in_progress"] == 1
        r.set("while-writing-base", "1")  # logged into the temporary incr file
        assert not (aof_dir(tmp_path) / MANIFEST).exists()
        r.config_set("rdb-key-save-delay", "0")
        wait_for(lambda: rewrite_done(r), what="first base")
        m = manifest(tmp_path)
        assert m.base is not None and len(m.incrs) == 1
        assert not list(aof_dir(tmp_path).glob("temp-*"))
        r.set("after", "2")
        # With everysec a write waits (up to 2 s) while a background fsync runs, as in
        # Redis: kill only once it is in the file.
        wait_for(lambda: [b"SET", b"after", b"2"] in logged(tmp_path), what="the last write")
    finally:
        kill9(s)
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.dbsize() == 202
        assert r.mget("k199", "while-writing-base", "after") == [b"199", b"1", b"2"]
        r.config_set("appendonly", "no")
        assert r.info("persistence")["aof_enabled"] == 0
        r.set("not-logged", "1")
        assert [b"SET", b"not-logged", b"1"] not in logged(tmp_path)


def test_shutdown_fsyncs_the_log(tmp_path: Path) -> None:
    s = start(tmp_path, "--appendfsync", "no")
    r = s.client()
    r.set("k", "v")
    r.shutdown(nosave=True)  # redis-py takes the closed connection as success
    s.proc.wait(10)
    assert "Calling fsync() on the AOF file." in s.log()
    with start(tmp_path) as s2:
        assert s2.client().get("k") == b"v"


def test_snapshot_is_loaded_when_the_aof_does_not_exist_yet(tmp_path: Path) -> None:
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        r.set("from-snapshot", "1")
        r.save()
    with start(tmp_path) as s2:
        r = s2.client()
        assert r.get("from-snapshot") == b"1"
        assert "Creating AOF base file appendonly.aof.1.base.mkv on server start" in s2.log()
        r.set("x", "2")
    os.unlink(tmp_path / "dump.mkv")
    with start(tmp_path) as s3:  # now the AOF has it all
        assert s3.client().mget("from-snapshot", "x") == [b"1", b"2"]


# --- a full disk ---------------------------------------------------------------------------------


def _limit_file_size(pid: int, soft: int) -> None:
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


@pytest.mark.parametrize("policy", ["everysec", "always"])
def test_full_disk_refuses_writes_then_recovers(tmp_path: Path, policy: str) -> None:
    """A file size limit (RLIMIT_FSIZE: write(2) fails with EFBIG, short writes at the edge)
    stands in for a full disk."""
    s = start(tmp_path, "--appendfsync", policy)
    try:
        r = s.client(retry=Retry(NoBackoff(), 0))  # see each failure as it is
        r.set("before", "1")
        size = last_incr(tmp_path).stat().st_size
        _limit_file_size(s.proc.pid, size + 3000)
        acked = []
        failed_with = None
        for i in range(20):
            try:
                r.set(f"big{i}", "x" * 1000)
                acked.append(i)
            except (redis.ResponseError, redis.ConnectionError) as e:
                failed_with = e
                break
        assert failed_with is not None
        if policy == "always":
            # The write it could not log was never acknowledged.
            assert isinstance(failed_with, redis.ConnectionError)
            assert "its replies are not acknowledged" in s.log()
            r = s.client()
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] == "err", what="err status")
        with pytest.raises(redis.ResponseError, match="MISCONF Errors writing to the AOF file: "):
            r.set("refused", "1")
        assert r.get("before") == b"1"  # reads still work
        _limit_file_size(s.proc.pid, resource.RLIM_INFINITY)
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] == "ok", what="recovery")
        assert "AOF write error looks solved, Redis can write again." in s.log()
        r.set("after", "1")
    finally:
        kill9(s)
    with start(tmp_path) as s2:  # no torn command was left in the file
        r = s2.client()
        assert r.mget("before", "after", "refused") == [b"1", b"1", None]
        for i in acked:
            assert r.strlen(f"big{i}") == 1000
        assert "Truncating" not in s2.log()


# --- configuration and replies, against redis-server ---------------------------------------------


def test_settings_refused_rather_than_ignored(server: ServerProcess) -> None:
    r = server.client()
    with pytest.raises(redis.ResponseError, match="aof-use-rdb-preamble must be 'yes'"):
        r.config_set("aof-use-rdb-preamble", "no")
    with pytest.raises(redis.ResponseError, match="aof-timestamp-enabled must be 'no'"):
        r.config_set("aof-timestamp-enabled", "yes")
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("appendfilename", "x.aof")
    assert r.config_get("aof-*")["aof-use-rdb-preamble"] == "yes"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--appendfilename", "a/b"], "appendfilename can't be a path, just a filename"),
        (["--appendfilename", ""], "appendfilename can't be empty"),
        (["--appenddirname", "x/y"], "appenddirname can't be a path, just a dirname"),
        (["--appendfsync", "sometimes"], "argument(s) must be one of the following"),
    ],
)
def test_bad_aof_settings_stop_the_start(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(RuntimeError) as e:
        ServerProcess(*args, dir=str(tmp_path))
    assert message in str(e.value)


needs_redis = pytest.mark.skipif(not have_redis_server(), reason="redis-server not installed")


@needs_redis
def test_info_fields_and_replies_match_redis(tmp_path: Path) -> None:
    (tmp_path / "mk").mkdir()
    (tmp_path / "rd").mkdir()
    args = ("--appendonly", "yes", "--rdb-key-save-delay", "20000")
    with (
        ServerProcess(*args, dir=str(tmp_path / "mk")) as mk,
        ServerProcess(*args, kind="redis", dir=str(tmp_path / "rd")) as rd,
    ):
        replies = {}
        fields = {}
        for name, s in (("minikv", mk), ("redis", rd)):
            r = s.client()
            wait_for(lambda r=r: rewrite_done(r), what="initial base")  # type: ignore[misc]
            r.mset({f"k{i}": i for i in range(100)})
            fields[name] = [k for k in r.info("persistence") if k.startswith("aof_")]
            out = run_raw(
                s.port,
                [("BGREWRITEAOF",), ("BGREWRITEAOF",), ("BGSAVE",), ("BGSAVE", "SCHEDULE")],
            )
            r.config_set("rdb-key-save-delay", "0")
            wait_for(
                lambda r=r: (
                    r.info("persistence")["rdb_bgsave_in_progress"] == 0  # type: ignore[misc]
                    and rewrite_done(r)
                ),
                what="children",
            )
            wait_for(lambda r=r: r.info("persistence")["rdb_bgsave_in_progress"] == 0)  # type: ignore[misc]
            r.config_set("rdb-key-save-delay", "20000")
            out += run_raw(s.port, [("BGSAVE",), ("BGREWRITEAOF",), ("SAVE",)])
            r.config_set("rdb-key-save-delay", "0")
            out += run_raw(
                s.port,
                [
                    ("CONFIG", "GET", p)
                    for p in (
                        "appendfsync",
                        "appendfilename",
                        "appenddirname",
                        "aof-use-rdb-preamble",
                        "aof-load-truncated",
                    )
                ],
            )
            replies[name] = out
        assert fields["minikv"] == fields["redis"]
        assert replies["minikv"] == replies["redis"]


def test_check_aof_reports_and_fixes_a_torn_tail(tmp_path: Path) -> None:
    s = start(tmp_path)
    s.client().set("k", "v")
    kill9(s)
    path = last_incr(tmp_path)
    good = path.stat().st_size
    cmd = [sys.executable, "-m", "minikv.check_aof"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ok = subprocess.run([*cmd, str(aof_dir(tmp_path))], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Checking base file appendonly.aof.1.base.mkv: OK" in ok.stdout
    with open(path, "ab") as f:
        f.write(b"*2\r\n$3\r\nGET")
    bad = subprocess.run(
        [*cmd, str(aof_dir(tmp_path) / MANIFEST)], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1
    assert f"ok_up_to={good}, diff=11" in bad.stdout
    fixed = subprocess.run(
        [*cmd, "--fix", "--yes", str(aof_dir(tmp_path))], capture_output=True, text=True, env=env
    )
    assert fixed.returncode == 0 and "Successfully truncated AOF" in fixed.stdout
    assert path.stat().st_size == good
    with start(tmp_path, "--aof-load-truncated", "no") as s2:
        assert s2.client().get("k") == b"v"


@pytest.fixture
def small_tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 2 MB tmpfs (root only; skipped elsewhere) with 1 MB of ballast to free later."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        (mnt / "ballast").write_bytes(b"\0" * 1024 * 1024)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
def test_full_tmpfs_refuses_writes_then_recovers(small_tmpfs: Path, policy: str) -> None:
    s = ServerProcess("--appendonly", "yes", "--appendfsync", policy, dir=str(small_tmpfs))
    try:
        r = s.client(retry=Retry(NoBackoff(), 0))
        acked = []
        for i in range(2000):
            try:
                r.set(f"big{i}", "x" * 4000)
                acked.append(i)
            except (redis.ResponseError, redis.ConnectionError):
                break
        else:
            pytest.fail("the disk never filled")
        r = s.client()
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] == "err", what="err")
        with pytest.raises(
            redis.ResponseError, match="MISCONF Errors writing to the AOF file: No space"
        ):
            r.set("refused", "1")
        (small_tmpfs / "ballast").unlink()
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] == "ok", what="recovery")
        r.set("after", "1")
    finally:
        kill9(s)
    with start(small_tmpfs) as s2:
        r = s2.client()
        assert r.get("after") == b"1" and r.get("refused") is None
        assert all(r.strlen(f"big{i}") == 4000 for i in acked)
        assert "Truncating" not in s2.log()


def test_shutdown_waits_for_the_first_base_unless_forced(tmp_path: Path) -> None:
    with ServerProcess("--rdb-key-save-delay", "100000", dir=str(tmp_path)) as s:
        r = s.client()
        r.mset({f"k{i}": i for i in range(50)})
        r.config_set("appendonly", "yes")  # the first base is being written: slowly
        run_raw(s.port, [("SHUTDOWN", "NOSAVE")])
        wait_for(lambda: "Writing initial AOF, can't exit." in s.log(), what="refusal")
        assert s.proc.poll() is None and r.ping()
        run_raw(s.port, [("SHUTDOWN", "NOSAVE", "FORCE")])
        assert s.proc.wait(10) == 0
        assert "Writing initial AOF. Exit anyway." in s.log()
        assert not list(aof_dir(tmp_path).glob("temp-*"))


def test_debug_loadaof_reloads_from_the_files(tmp_path: Path) -> None:
    with start(tmp_path) as s:
        r = s.client()
        r.set("a", "1")
        r.set("b", "2")
        with open(last_incr(tmp_path), "ab") as f:  # a write the server never saw
            f.write(encode_argv([b"SET", b"from-file", b"yes"]))
        assert r.get("from-file") is None
        assert r.execute_command("DEBUG", "LOADAOF") in (True, b"OK")
        assert r.mget("a", "b", "from-file") == [b"1", b"2", b"yes"]
        assert "Append Only File loaded by DEBUG LOADAOF" in s.log()
        r.config_set("appendonly", "no")
        with pytest.raises(redis.ResponseError, match="needs the append-only file on"):
            r.execute_command("DEBUG", "LOADAOF")
