"""Server commands: INFO, CONFIG, COMMAND, DEBUG, TIME and SHUTDOWN, against real servers."""

from __future__ import annotations

import os
import re
import select
import time
from typing import Any

import hiredis
import pytest
import redis
from conftest import Differential
from helpers import Raw, ServerProcess, encode, run_raw

from minikv import REDIS_VERSION, __version__

# --- helpers ------------------------------------------------------------------------------------


def info_text(port: int, *sections: str, resp: int = 2) -> str:
    raw = run_raw(port, [("INFO", *sections)], resp)[0]
    reader = hiredis.Reader(notEnoughData=None) if resp == 2 else hiredis.Reader()
    reader.feed(raw)
    reply = reader.gets()
    if isinstance(reply, bytes):
        return reply.decode()
    return str(reply)


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """{section: {field: value}} from INFO text."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = out.setdefault(line[2:], {})
        elif line:
            k, _, v = line.partition(":")
            current[k] = v
    return out


def fields(port: int, *sections: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for sec in parse_info(info_text(port, *sections)).values():
        merged.update(sec)
    return merged


def decode_all(raw: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


DEFAULT_HEADERS = [
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Errorstats",
    "Cluster",
    "Keyspace",
]


# --- INFO ----------------------------------------------------------------------------------------


def test_info_default_sections_match_redis(server: ServerProcess, redis_server: ServerProcess):
    mine = info_text(server.port)
    theirs = info_text(redis_server.port)
    headers = [ln[2:] for ln in mine.split("\r\n") if ln.startswith("# ")]
    assert headers == [ln[2:] for ln in theirs.split("\r\n") if ln.startswith("# ")]
    assert headers == DEFAULT_HEADERS
    assert "\r\n\r\n# Clients\r\n" in mine  # Redis's blank line between sections
    assert mine.endswith("\r\n") and "\n" not in mine.replace("\r\n", "")


def test_info_fields_are_redis_names(server: ServerProcess, redis_server: ServerProcess):
    """Every field redis-server reports is reported by minikv too, except the jemalloc ones."""
    mine = parse_info(info_text(server.port, "everything"))
    theirs = parse_info(info_text(redis_server.port, "everything"))
    skip = {"gcc_version", "atomicvar_api"}
    for section, values in theirs.items():
        if section in ("Commandstats", "Errorstats", "Latencystats", "Keyspace"):
            continue
        missing = {
            k
            for k in values
            if k not in mine.get(section, {})
            and k not in skip
            and not k.startswith(("allocator_", "rss_overhead"))
        }
        assert not missing, f"{section}: {sorted(missing)}"


def test_info_server_values(server: ServerProcess):
    f = fields(server.port, "server")
    assert f["redis_version"] == REDIS_VERSION
    assert f["minikv_version"] == __version__
    assert f["redis_mode"] == "standalone"
    assert int(f["tcp_port"]) == server.port
    assert int(f["process_id"]) == server.proc.pid
    assert len(f["run_id"]) == 40
    assert int(f["arch_bits"]) in (32, 64)
    assert int(f["uptime_in_seconds"]) >= 0
    assert int(f["uptime_in_days"]) == int(f["uptime_in_seconds"]) // 86400
    assert int(f["hz"]) == 10
    assert f["config_file"] == ""


def test_info_memory_and_cpu_parse(server: ServerProcess):
    f = fields(server.port, "memory", "cpu")
    for name in ("used_memory", "used_memory_rss", "used_memory_peak", "total_system_memory"):
        assert int(f[name]) > 0, name
    assert int(f["used_memory_peak"]) >= int(f["used_memory"])
    assert f["used_memory_human"][-1] in "BKMGT"
    assert float(f["used_cpu_user"]) > 0
    float(f["used_cpu_sys"])
    assert f["maxmemory_policy"] == "noeviction"


def test_info_is_verbatim_in_resp3(server: ServerProcess):
    raw2 = run_raw(server.port, [("INFO", "server")], 2)[0]
    raw3 = run_raw(server.port, [("INFO", "server")], 3)[0]
    assert raw2.startswith(b"$") and b"# Server\r\nredis_version:" in raw2
    assert raw3.startswith(b"=") and b"\r\ntxt:# Server\r\n" in raw3


def test_info_section_selection(server: ServerProcess):
    def headers(*args: str) -> list[str]:
        return list(parse_info(info_text(server.port, *args)))

    assert headers("server") == ["Server"]
    assert headers("SERVER") == ["Server"]
    assert headers("keyspace", "server") == ["Server", "Keyspace"]
    assert headers("server", "server") == ["Server"]
    assert headers("default") == DEFAULT_HEADERS
    assert "Commandstats" not in headers()
    all_ = headers("all")
    assert "Commandstats" in all_ and "Latencystats" in all_
    assert headers("everything") == all_
    assert headers("nosuchsection") == []
    with_stats = [*DEFAULT_HEADERS[:8], "Commandstats", *DEFAULT_HEADERS[8:]]
    assert headers("default", "commandstats") == with_stats


def test_info_commandstats_count(r: redis.Redis, server: ServerProcess):
    r.config_resetstat()
    r.set("a", "1")
    for _ in range(3):
        r.get("a")
    r.set("s", "text")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR", "s")  # fails inside the handler: failed_calls
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")  # arity: rejected_calls
    r.config_get("maxclients")
    stats = fields(server.port, "commandstats")
    assert stats["cmdstat_get"].startswith("calls=3,usec=")
    assert stats["cmdstat_get"].endswith(",rejected_calls=1,failed_calls=0")
    assert "calls=2," in stats["cmdstat_set"]
    assert stats["cmdstat_incr"].startswith("calls=1,")
    assert stats["cmdstat_incr"].endswith("rejected_calls=0,failed_calls=1")
    assert stats["cmdstat_config|get"].startswith("calls=1,")
    assert "cmdstat_config|set" not in stats
    parts = dict(p.split("=") for p in stats["cmdstat_get"].split(","))
    assert float(parts["usec_per_call"]) == pytest.approx(int(parts["usec"]) / 3, abs=0.01)


def test_info_keyspace_line(r: redis.Redis, server: ServerProcess):
    assert fields(server.port, "keyspace") == {}
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.execute_command("SELECT", "3")
    r.set("c", "3")
    r.execute_command("SELECT", "0")
    ks = fields(server.port, "keyspace")
    assert set(ks) == {"db0", "db3"}
    assert ks["db3"] == "keys=1,expires=0,avg_ttl=0"
    db0 = dict(p.split("=") for p in ks["db0"].split(","))
    assert db0["keys"] == "2" and db0["expires"] == "1"
    assert 90_000 < int(db0["avg_ttl"]) <= 100_000


def test_info_stats_change(r: redis.Redis, server: ServerProcess):
    before = fields(server.port, "stats", "persistence", "clients")
    r.set("k", "v")
    r.set("gone", "v", px=1)
    time.sleep(0.01)
    assert r.get("gone") is None  # lazy expiry counts as an expired key
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    extra = server.client()
    extra.ping()
    after = fields(server.port, "stats", "persistence", "clients")
    n = lambda d, k: int(d[k])  # noqa: E731
    assert n(after, "total_commands_processed") > n(before, "total_commands_processed")
    assert n(after, "expired_keys") >= n(before, "expired_keys") + 1
    assert n(after, "total_error_replies") >= n(before, "total_error_replies") + 1
    assert n(after, "total_connections_received") > n(before, "total_connections_received")
    assert n(after, "rdb_changes_since_last_save") >= n(before, "rdb_changes_since_last_save") + 2
    assert n(after, "connected_clients") >= 2
    assert after["rdb_bgsave_in_progress"] == "0" and after["loading"] == "0"
    assert after["rdb_last_bgsave_status"] == "ok"
    extra.close()


def test_info_replication(server: ServerProcess):
    f = fields(server.port, "replication")
    assert f["role"] == "master"
    assert f["connected_slaves"] == "0"
    assert len(f["master_replid"]) == 40


def test_instantaneous_ops_per_sec(server: ServerProcess):
    fields(server.port, "stats")  # starts the sampler
    c = server.client()
    deadline = time.monotonic() + 10
    ops = 0
    while time.monotonic() < deadline and ops == 0:
        pipe = c.pipeline(transaction=False)
        for _ in range(200):
            pipe.ping()
        pipe.execute()
        ops = int(fields(server.port, "stats")["instantaneous_ops_per_sec"])
    assert ops > 0


# --- CONFIG --------------------------------------------------------------------------------------

SAME_DEFAULTS = [
    "maxclients",
    "databases",
    "hz",
    "timeout",
    "loglevel",
    "protected-mode",
    "stop-writes-on-bgsave-error",
    "rdbchecksum",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "no-appendfsync-on-rewrite",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
    "aof-load-truncated",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "aof-rewrite-incremental-fsync",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "requirepass",
    "save",
    "enable-debug-command",
    "enable-protected-configs",
    "daemonize",
]


def test_config_get_differential(differential):
    differential.check(
        *[("CONFIG", "GET", name) for name in SAME_DEFAULTS],
        ("CONFIG", "GET", "MAXCLIENTS"),
        ("CONFIG", "GET", "nosuchparam"),
        ("CONFIG", "GET", "maxclient?"),
        ("CONFIG", "GET", "maxclients", "MAXCLIENTS"),
        ("CONFIG", "GET", "nosuch*"),
        ("CONFIG", "GET"),
    )


def test_config_get_patterns(r: redis.Redis):
    got = r.config_get("*")
    assert {"port", "dir", "save", "maxclients", "loglevel"} <= set(got)
    multi = r.execute_command("CONFIG", "GET", "maxc*", "hz", "maxclients")
    if isinstance(multi, list):
        multi = dict(zip(multi[::2], multi[1::2], strict=True))
    keys = {k.decode() if isinstance(k, bytes) else k for k in multi}
    assert keys == {"maxclients", "hz"}
    assert set(r.config_get("*[vp]e")) >= {"save"}
    assert os.path.isabs(r.config_get("dir")["dir"])


def test_config_set_round_trip_differential(differential):
    differential.check(
        ("CONFIG", "SET", "maxclients", "500", "hz", "20"),
        ("CONFIG", "GET", "maxclients"),
        ("CONFIG", "GET", "hz"),
        ("CONFIG", "SET", "hz", "1000"),
        ("CONFIG", "GET", "hz"),
        ("CONFIG", "SET", "hz", "0"),
        ("CONFIG", "GET", "hz"),
        ("CONFIG", "SET", "save", "100 5 200 6"),
        ("CONFIG", "GET", "save"),
        ("CONFIG", "SET", "save", ""),
        ("CONFIG", "GET", "save"),
        ("CONFIG", "SET", "LOGLEVEL", "Warning"),
        ("CONFIG", "GET", "loglevel"),
        ("CONFIG", "SET", "maxclients", "10000", "hz", "10", "loglevel", "notice"),
        ("CONFIG", "GET", "maxclients"),
    )


def test_config_set_errors_differential(differential):
    differential.check(
        ("CONFIG", "SET", "nosuch", "1"),
        ("CONFIG", "SET", "hz", "5", "nosuch", "1"),
        ("CONFIG", "SET", "databases", "3"),
        ("CONFIG", "SET", "databases", "3", "nosuch", "1"),
        ("CONFIG", "SET", "daemonize", "yes"),
        ("CONFIG", "SET", "maxclients", "abc"),
        ("CONFIG", "SET", "maxclients", "0"),
        ("CONFIG", "SET", "MAXCLIENTS", "abc"),
        ("CONFIG", "SET", "timeout", "-1"),
        ("CONFIG", "SET", "proto-max-bulk-len", "10"),
        ("CONFIG", "SET", "loglevel", "loud"),
        ("CONFIG", "SET", "protected-mode", "maybe"),
        ("CONFIG", "SET", "save", "1"),
        ("CONFIG", "SET", "save", "0 1"),
        ("CONFIG", "SET", "save", " "),
        ("CONFIG", "SET", "maxclients", "10", "maxclients", "20"),
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "SET", "dbfilename", "x.rdb"),
        ("CONFIG", "SET", "hz", "20", "maxclients", "bad"),
        ("CONFIG", "GET", "hz"),  # the failed pair left hz unchanged
        ("CONFIG", "SET", "hz", "5", "maxclients"),
        ("CONFIG", "SET", "hz"),
        ("CONFIG", "NOSUCH"),
        ("CONFIG",),
        ("CONFIG", "HELP"),
        ("CONFIG", "REWRITE"),
    )


def test_config_set_requirepass_and_maxclients():
    with ServerProcess() as s:
        admin = s.client()
        assert admin.config_set("requirepass", "sekret")
        assert admin.ping()  # already-connected clients stay authenticated
        with Raw(s.port) as raw:
            assert raw.request(encode("GET", "x")).startswith(b"-NOAUTH")
            assert raw.request(encode("AUTH", "sekret")) == b"+OK\r\n"
        admin.config_set("requirepass", "")
        assert admin.config_set("maxclients", "2")
        with Raw(s.port) as second:
            assert second.request(encode("PING")) == b"+PONG\r\n"
            with Raw(s.port) as third:
                assert third.read_until_closed() == b"-ERR max number of clients reached\r\n"


def test_config_set_dir_and_loglevel(tmp_path):
    target = tmp_path / "newdir"
    target.mkdir()
    with ServerProcess("--enable-protected-configs", "yes") as s:
        c = s.client(decode_responses=True)
        assert c.config_set("dir", str(target))
        assert c.config_get("dir")["dir"] == str(target)
        with pytest.raises(redis.ResponseError, match="No such file or directory"):
            c.config_set("dir", str(tmp_path / "missing"))
        with pytest.raises(redis.ResponseError, match="can't be a path"):
            c.config_set("dbfilename", "a/b.mkv")
        assert c.config_get("dir")["dir"] == str(target)
        c.config_set("loglevel", "debug")
        assert c.config_get("loglevel")["loglevel"] == "debug"
        c.config_set("loglevel", "warning")
        assert c.config_get("loglevel")["loglevel"] == "warning"


def test_config_resetstat(r: redis.Redis, server: ServerProcess):
    r.get("x")
    r.set("x", "1")
    assert r.config_resetstat()
    stats = fields(server.port, "commandstats", "stats")
    # As in Redis, the RESETSTAT call itself is counted after the reset.
    assert [k for k in stats if k.startswith("cmdstat_")] == ["cmdstat_config|resetstat"]
    assert int(stats["total_commands_processed"]) == 1
    assert int(stats["total_connections_received"]) <= 1
    assert stats["total_error_replies"] == "0"
    assert "cmdstat_info" in fields(server.port, "commandstats")


# --- COMMAND -------------------------------------------------------------------------------------


def _command_info(port: int, names: list[str], resp: int) -> list[Any]:
    return decode_all(run_raw(port, [("COMMAND", "INFO", *names)], resp)[0])


def query(port: int, *args: str, resp: int = 3) -> Any:
    """One command's decoded reply (redis-py's COMMAND callbacks would reshape it)."""
    return decode_all(run_raw(port, [args], resp)[0])


@pytest.mark.parametrize("resp", [2, 3])
def test_command_info_shape_matches_redis(server, redis_server, resp):
    """Arity, flags and key positions of every command (and subcommand) both servers have."""
    names = [n.decode() for n in query(server.port, "COMMAND", "LIST")]
    mine = _command_info(server.port, names, resp)
    theirs = _command_info(redis_server.port, names, resp)
    compared = 0
    for name, a, b in zip(names, mine, theirs, strict=True):
        if b is None:
            continue  # newer than Redis 7.0 (CLIENT SETINFO)
        assert a[:6] == b[:6], f"{name}: minikv {a[:6]} != redis {b[:6]}"
        compared += 1
    assert compared > 30


def test_command_info_acl_and_key_specs(differential):
    # Commands whose whole COMMAND INFO entry is derivable from the table and equals Redis's.
    differential.check(
        ("COMMAND", "INFO", "get"),
        ("COMMAND", "INFO", "incr", "time", "config|get", "config|help"),
        ("COMMAND", "INFO", "nosuchcommand"),
        ("COMMAND", "INFO", "get", "nosuchcommand"),
    )


def test_command_key_specs_range(server, redis_server):
    names = ["get", "set", "mget", "mset", "del", "exists"]
    mine = _command_info(server.port, names, 3)
    theirs = _command_info(redis_server.port, names, 3)
    for name, a, b in zip(names, mine, theirs, strict=True):
        spec_a, spec_b = a[8][0], b[8][0]
        assert spec_a[b"begin_search"] == spec_b[b"begin_search"], name
        assert spec_a[b"find_keys"] == spec_b[b"find_keys"], name


def test_command_count_and_list(r3: redis.Redis, server: ServerProcess):
    count = query(server.port, "COMMAND", "COUNT")
    everything = query(server.port, "COMMAND")
    assert count == len(everything) > 20
    assert {e[0] for e in everything} == {n.encode() for n in _top_level(server.port)}
    names = [n.decode() for n in query(server.port, "COMMAND", "LIST")]
    assert len(names) > count  # subcommands listed as container|sub
    assert {"get", "set", "config|get", "command|docs", "info"} <= set(names)
    pattern = [
        n.decode() for n in query(server.port, "COMMAND", "LIST", "FILTERBY", "PATTERN", "conf*")
    ]
    assert "config" in pattern and "config|set" in pattern and "get" not in pattern
    strings = query(server.port, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "string")
    assert b"get" in strings and b"config" not in strings
    assert query(server.port, "COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []


def _top_level(port: int) -> list[str]:
    return [n.decode() for n in query(port, "COMMAND", "LIST") if b"|" not in n]


def test_command_list_errors_differential(differential):
    differential.check(
        ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcategory"),
        ("COMMAND", "LIST", "FILTERBY", "NOSUCH", "x"),
        ("COMMAND", "LIST", "x"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN"),
        ("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|rew*"),  # one match: order is random
        ("COMMAND", "COUNT", "extra"),
        ("COMMAND", "NOSUCH"),
        ("COMMAND", "HELP"),
    )


def test_command_getkeys_differential(differential):
    differential.check(
        ("COMMAND", "GETKEYS", "SET", "a", "b"),
        ("COMMAND", "GETKEYS", "get", "a"),
        ("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"),
        ("COMMAND", "GETKEYS", "DEL", "a", "b", "c"),
        ("COMMAND", "GETKEYS", "NOSUCH", "a"),
        ("COMMAND", "GETKEYS", "PING", "x"),
        ("COMMAND", "GETKEYS", "GET", "a", "b"),
        ("COMMAND", "GETKEYS", "GET"),
        ("COMMAND", "GETKEYSANDFLAGS", "GET", "a"),
    )


def test_command_docs(r3: redis.Redis, server, redis_server):
    docs = query(server.port, "COMMAND", "DOCS", "config", "nosuch", "get")
    assert set(docs) == {b"config", b"get"}
    cfg = docs[b"config"]
    assert cfg[b"group"] == b"server" and cfg[b"since"] == b"2.0.0"
    sub = cfg[b"subcommands"][b"config|get"]
    assert sub[b"summary"] == b"Get the values of configuration parameters"
    [arg] = sub[b"arguments"]
    assert arg[b"name"] == b"parameter" and b"multiple" in arg[b"flags"]
    everything = query(server.port, "COMMAND", "DOCS")
    assert len(everything) == query(server.port, "COMMAND", "COUNT")
    assert all(b"group" in d for d in everything.values())
    # Same summary/since/group as Redis for the commands this module owns.
    for name in ("info", "time", "config|set", "command|list", "shutdown"):
        [mine] = decode_all(run_raw(server.port, [("COMMAND", "DOCS", name)], 3)[0]).values()
        [theirs] = decode_all(
            run_raw(redis_server.port, [("COMMAND", "DOCS", name)], 3)[0]
        ).values()
        for key in (b"summary", b"since", b"group", b"complexity"):
            assert mine[key] == theirs[key], (name, key)


# --- DEBUG ---------------------------------------------------------------------------------------


def test_debug_populate_differential(differential):
    differential.check(
        ("DEBUG", "POPULATE", "10"),
        ("DBSIZE",),
        ("GET", "key:0"),
        ("GET", "key:9"),
        ("GET", "key:10"),
        ("DEBUG", "POPULATE", "5", "p", "3"),
        ("GET", "p:4"),
        ("DEBUG", "POPULATE", "3", "q", "20"),
        ("GET", "q:2"),
        ("DEBUG", "POPULATE", "2", "z", "0"),
        ("GET", "z:1"),
        ("SET", "key:1", "mine"),
        ("DEBUG", "POPULATE", "12"),
        ("GET", "key:1"),
        ("GET", "key:11"),
        ("DBSIZE",),
        ("DEBUG", "POPULATE", "-1"),
        ("DEBUG", "POPULATE", "abc"),
        ("DEBUG", "POPULATE", "1", "a", "b"),
        ("DEBUG", "POPULATE", "1", "a", "-5"),
        ("DEBUG", "POPULATE", "0"),
        ("DEBUG", "POPULATE"),
        ("DEBUG", "NOSUCH"),
        ("DEBUG", "OBJECT", "nokey"),
        ("DEBUG", "SLEEP", "0"),
        ("DEBUG", "SLEEP", "abc"),
        ("DEBUG",),
    )


def test_debug_object(r: redis.Redis):
    r.set("s", "hello")
    r.set("n", "12345")
    r.set("big", "x" * 100)
    obj = r.execute_command("DEBUG", "OBJECT", "s")
    text = obj.decode() if isinstance(obj, bytes) else str(obj)
    assert "encoding:embstr" in text and "serializedlength:6" in text
    assert "encoding:int" in str(r.execute_command("DEBUG", "OBJECT", "n"))
    assert "encoding:raw" in str(r.execute_command("DEBUG", "OBJECT", "big"))


def test_debug_sleep_blocks_the_server(server: ServerProcess):
    with Raw(server.port) as a, Raw(server.port) as b:
        a.send(encode("DEBUG", "SLEEP", "0.3"))
        time.sleep(0.05)  # let the sleep start
        b.send(encode("PING"))
        order = []
        pending = {a.sock: "sleep", b.sock: "ping"}
        while pending:
            ready, _, _ = select.select(list(pending), [], [], 5)
            assert ready, "no reply"
            for s in ready:
                s.recv(100)
                order.append(pending.pop(s))
        assert order == ["sleep", "ping"]


def test_debug_set_active_expire(r: redis.Redis, server: ServerProcess):
    try:
        assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") in (b"OK", True, "OK")
        for i in range(5):
            r.set(f"t{i}", "v", px=20)
        time.sleep(0.4)  # several cron periods: nothing is expired actively
        assert fields(server.port, "keyspace")["db0"].startswith("keys=5,")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and fields(server.port, "keyspace"):
        time.sleep(0.05)
    assert fields(server.port, "keyspace") == {}


def test_debug_refused_when_disabled():
    with ServerProcess("--enable-debug-command", "no") as s, Raw(s.port) as raw:
        reply = raw.request(encode("DEBUG", "POPULATE", "3"))
        assert reply == (
            b'-ERR DEBUG command not allowed. If the enable-debug-command option is set to "local"'
            b", you can run it from a local connection, otherwise you need to set this option in"
            b" the configuration file, and then restart the server.\r\n"
        )
        assert raw.request(encode("DBSIZE")) == b":0\r\n"
    with ServerProcess("--enable-debug-command", "local") as s, Raw(s.port) as raw:
        assert raw.request(encode("DEBUG", "POPULATE", "3")) == b"+OK\r\n"


def test_debug_help(r: redis.Redis):
    lines = r.execute_command("DEBUG", "HELP")
    first = lines[0].decode() if isinstance(lines[0], bytes) else lines[0]
    assert first.startswith("DEBUG <subcommand>")
    assert any("POPULATE" in str(x) for x in lines)


# --- TIME, SHUTDOWN ------------------------------------------------------------------------------


def test_time(r: redis.Redis):
    secs, usecs = r.time()
    assert abs(secs + usecs / 1e6 - time.time()) < 5
    assert 0 <= usecs < 1_000_000


def test_time_shape_differential(differential, server, redis_server):
    a = decode_all(run_raw(server.port, [("TIME",)])[0])
    b = decode_all(run_raw(redis_server.port, [("TIME",)])[0])
    assert len(a) == len(b) == 2 and all(x.isdigit() for x in a)
    differential.check(("TIME", "extra"))


def test_shutdown_argument_errors_differential(differential):
    differential.check(
        ("SHUTDOWN", "NOSUCH"),
        ("SHUTDOWN", "SAVE", "NOSAVE"),
        ("SHUTDOWN", "ABORT", "NOW"),
        ("SHUTDOWN", "ABORT"),
    )


def test_shutdown_in_multi_refused(r: redis.Redis):
    with Raw(int(r.connection_pool.connection_kwargs["port"])) as raw:
        assert raw.request(encode("MULTI")) == b"+OK\r\n"
        reply = raw.request(encode("SHUTDOWN", "NOSAVE"))
        assert reply == b"-ERR Command not allowed inside a transaction\r\n"


@pytest.mark.parametrize("args", [(), ("NOSAVE",), ("NOW", "FORCE")])
def test_shutdown_exits_zero_without_reply(args: tuple[str, ...]):
    s = ServerProcess()
    try:
        with Raw(s.port) as raw:
            raw.send(encode("SHUTDOWN", *args))
            assert raw.read_until_closed() == b""
        assert s.proc.wait(10) == 0
    finally:
        s.cleanup()


def test_errorstats_match_redis(server: ServerProcess, redis_server: ServerProcess):
    """INFO errorstats counts error replies by their first word, as Redis's afterErrorReply:
    handler errors, rejections (unknown command, arity, NOAUTH-free here), errors inside EXEC,
    EXECABORT; CONFIG RESETSTAT clears them."""
    calls: list[tuple[str, ...]] = [
        ("SET", "s", "x"),
        ("INCR", "s"),  # ERR not an integer
        ("LPUSH", "s", "a"),  # WRONGTYPE
        ("HGET", "s", "f"),  # WRONGTYPE
        ("NOSUCHCOMMAND",),  # ERR unknown command (rejected)
        ("GET",),  # ERR wrong number of arguments (rejected)
        ("MULTI",),
        ("INCR", "s"),
        ("EXEC",),  # ERR inside EXEC
        ("MULTI",),
        ("GET",),
        ("EXEC",),  # EXECABORT
        ("CLIENT", "KILL", "ID", "999999"),  # ERR No such client
    ]
    got = []
    for s in (server, redis_server):
        c = s.client(decode_responses=True)
        c.config_resetstat()
        c.flushall()
        run_raw(s.port, calls)
        got.append((c.info("errorstats"), c.info("stats")["total_error_replies"]))
        c.config_resetstat()
        assert c.info("errorstats") == {} and c.info("stats")["total_error_replies"] == 0
    assert got[0] == got[1]
    assert got[0][0]["errorstat_WRONGTYPE"] == {"count": 2}


# --- LOLWUT ------------------------------------------------------------------------------------


def test_lolwut_differential(differential: Differential) -> None:
    """The version line, and version 5's art where it is not random (squares tumble from the
    third row on): the same Braille picture as Redis's."""
    differential.check(
        ("LOLWUT",),
        ("LOLWUT", "VERSION", "7"),
        ("LOLWUT", "VERSION", "-1"),
        ("LOLWUT", "version", "5", "20", "4", "2"),
        ("LOLWUT", "VERSION", "5", "1", "1", "1"),
        ("LOLWUT", "VERSION", "5", "2000", "300", "1"),
        ("LOLWUT", "VERSION", "x"),
        ("LOLWUT", "VERSION", "5", "x"),
        ("LOLWUT", "VERSION", "6", "10", "y"),
        ("LOLWUT", "VERSION"),
        ("LOLWUT", "1", "2"),
    )


def test_lolwut_random_art_has_redis_shape(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    """Versions 5 and 6 with their random parts: the same caption, lines and characters per
    line (colour escapes left out) as Redis's."""

    def shape(port: int, cmd: tuple[str, ...]) -> tuple[list[bytes], list[int]]:
        lines = redis.Redis(port=port).execute_command(*cmd).split(b"\n")
        cells = [len(re.sub(rb"\x1b\[[0-9;]*m", b"", line).decode()) for line in lines[:-3]]
        return lines[-3:], cells

    for cmd in (("LOLWUT", "VERSION", "5"), ("LOLWUT", "VERSION", "6", "40", "10")):
        assert shape(server.port, cmd) == shape(redis_server.port, cmd)
