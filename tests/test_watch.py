"""Watching the server: SLOWLOG, LATENCY (events and histograms), latency-tracking in INFO,
MONITOR, CLIENT PAUSE / UNPAUSE / REPLY / NO-TOUCH.

Replies and errors are compared with a real redis-server wherever they do not depend on
timing; where they do (durations, timestamps, ports) the same commands run on both and the
varying fields are masked. The histogram arithmetic is checked in-process against values
worked out by hand from HdrHistogram's rules (what Redis links).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import Raw, ServerProcess, encode, run_raw, wait_for

from minikv import latency

# --- the histogram, in-process ----------------------------------------------------------------


def test_histogram_buckets_are_hdr_histograms() -> None:
    # HdrHistogram(1, 1e9, 2 digits): values below 256 have their own bucket; above, each
    # power of two is cut in 128.
    assert latency.bucket_of(1) == 1
    assert latency.bucket_of(255) == 255
    assert latency.bucket_of(256) == 256
    assert latency.bucket_of(257) == 256  # 256..257 share a slot of width 2
    assert latency.bucket_of(1000) == 506
    # 1e9 = 238 << 22 (+ a remainder): bucket 22, slot 238 -> index 22 * 128 + 238.
    assert latency.bucket_of(1_000_000_000) == 3054
    assert latency.COUNTS_LEN == 3072


def test_percentiles_and_cumulative_buckets() -> None:
    h = latency.new_histogram()
    for ns in [1000] * 50 + [2000] * 49 + [10_000]:
        h[latency.bucket_of(ns)] += 1
    # 1000 ns is slot [1000, 1003]; 2000 is [2000, 2007]; 10000 is [9984, 10047].
    assert latency.value_at_percentile(h, 50) == 1003
    assert latency.value_at_percentile(h, 99) == 2007
    assert latency.value_at_percentile(h, 99.9) == 10047
    assert latency.value_at_percentile(h, 100) == 10047
    assert latency.value_at_percentile(h, 0) == 1000
    assert latency.format_percentiles(h, [50, 99, 99.9]) == "p50=1.003,p99=2.007,p99.9=10.047"
    # Logarithmic steps from 1024 ns: each counts what lies below the slot of 1024 * 2^k
    # (2000 < 2048 counts at the 2048 step) and reports that slot's highest value (2063 ns
    # -> 2 usec); steps that add nothing (4096, 8192) are left out.
    assert latency.cumulative_usec(h) == [(1, 50), (2, 99), (16, 100)]
    empty = latency.new_histogram()
    assert latency.cumulative_usec(empty) == []
    # Out of range: clamped to 1 ns .. 1 s.
    latency.record_clamped(empty, 0)
    latency.record_clamped(empty, 5 * 10**9)
    assert latency.value_at_percentile(empty, 50) == 1
    assert latency.value_at_percentile(empty, 100) == (239 << 22) - 1  # the slot of 1e9


def test_percentile_names_as_redis_prints_them() -> None:
    assert latency.format_percentile_name(50.0) == "50"
    assert latency.format_percentile_name(99.9) == "99.9"
    assert latency.format_percentile_name(99.99) == "99.99"
    assert latency.format_percentile_name(0.0) == "0"


# --- SLOWLOG ------------------------------------------------------------------------------------


def _mask_slowlog(entries: list[Any]) -> list[Any]:
    """An entry without what differs between servers: id, time, duration, client port."""
    return [[e[3], e[4].rsplit(b":", 1)[0], e[5]] for e in entries]


def _raw_slowlog(port: int, commands: list[tuple[Any, ...]]) -> list[Any]:
    with Raw(port) as conn:
        conn.request(encode("CONFIG", "SET", "slowlog-log-slower-than", "0"))
        conn.request(encode("SLOWLOG", "RESET"))
        for cmd in commands:
            conn.request(encode(*cmd))
        conn.request(encode("CONFIG", "SET", "slowlog-log-slower-than", "-1"))
    r = redis.Redis(port=port)
    try:
        return r.execute_command("SLOWLOG", "GET", "-1")  # type: ignore[no-any-return]
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.close()


def test_slowlog_entries_as_redis(server: ServerProcess, redis_server: ServerProcess) -> None:
    commands: list[tuple[Any, ...]] = [
        ("CLIENT", "SETNAME", "watcher"),
        ("SET", "k", "v" * 200),  # truncated at 128 bytes
        ("RPUSH", "l", *range(40)),  # at most 32 arguments
        ("AUTH", "nopass"),  # an error, still logged, with the password redacted
        ("HELLO", "2", "AUTH", "default", "secret"),
        ("MULTI",),
        ("INCR", "n"),
        ("EXEC",),  # not logged itself: its commands are
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "k"),
        ("CONFIG", "SET", "requirepass", "", "maxclients", "10000"),
        ("ACL", "SETUSER", "nobody", "off", ">secret"),
        ("ACL", "DELUSER", "nobody"),
    ]
    mine = _mask_slowlog(_raw_slowlog(server.port, commands))
    theirs = _mask_slowlog(_raw_slowlog(redis_server.port, commands))
    assert mine == theirs
    # Newest first; the long argument and the long argument list are cut as Redis cuts them.
    flat = [e[0] for e in mine]
    assert [b"SET", b"k", b"v" * 128 + b"... (72 more bytes)"] in flat
    assert [b"AUTH", b"(redacted)"] in flat
    assert any(len(a) == 32 and a[-1] == b"... (11 more arguments)" for a in flat)
    assert all(a[0] != b"EXEC" for a in flat)
    for r in (server, redis_server):
        redis.Redis(port=r.port).flushall()


def test_slowlog_debug_sleep_and_settings(r: redis.Redis) -> None:
    r.slowlog_reset()
    assert r.config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "10000"}
    r.execute_command("DEBUG", "SLEEP", "0.03")
    r.set("fast", "1")
    entries = r.execute_command("SLOWLOG", "GET")
    assert len(entries) == 1 and r.slowlog_len() == 1
    entry = entries[0]
    assert entry[3] == [b"DEBUG", b"SLEEP", b"0.03"]
    assert entry[2] >= 30_000
    assert abs(entry[1] - time.time()) < 60
    r.config_set("slowlog-max-len", 2)
    for _ in range(3):
        r.execute_command("DEBUG", "SLEEP", "0.011")
    assert r.slowlog_len() == 2
    assert len(r.execute_command("SLOWLOG", "GET", "1")) == 1
    r.config_set("slowlog-max-len", 1)
    assert r.slowlog_len() == 1
    r.config_set("slowlog-log-slower-than", -1)
    r.execute_command("DEBUG", "SLEEP", "0.011")
    assert r.slowlog_len() == 1
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)
    r.slowlog_reset()
    assert r.slowlog_len() == 0


def test_slowlog_and_latency_errors_as_redis(differential: Differential) -> None:
    differential.check(
        ("SLOWLOG", "GET", "-2"),
        ("SLOWLOG", "GET", "x"),
        ("SLOWLOG", "GET", "1", "2"),
        ("SLOWLOG", "LEN", "1"),
        ("SLOWLOG", "NOPE"),
        ("SLOWLOG", "HELP"),
        ("SLOWLOG",),
        ("LATENCY", "HELP"),
        ("LATENCY", "GRAPH", "nosuchevent"),
        ("LATENCY", "HISTORY", "nosuchevent"),
        ("LATENCY", "RESET", "nosuchevent"),
        ("LATENCY", "LATEST", "x"),
        ("LATENCY", "NOPE"),
        ("LATENCY", "HISTOGRAM", "nosuchcommand"),
        ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"),
        ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 abc"),
        ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
        ("CONFIG", "SET", "slowlog-max-len", "-1"),
        ("CONFIG", "SET", "latency-monitor-threshold", "-1"),
        ("CONFIG", "GET", "latency-tracking"),
        ("CONFIG", "GET", "latency-tracking-info-percentiles"),
        ("CONFIG", "GET", "slowlog-log-slower-than"),
        ("CONFIG", "GET", "slowlog-max-len"),
        ("CONFIG", "GET", "latency-monitor-threshold"),
    )


# --- LATENCY ------------------------------------------------------------------------------------


def test_latency_monitor_records_a_debug_sleep(r: redis.Redis) -> None:
    r.execute_command("LATENCY", "RESET")
    assert r.execute_command("LATENCY", "LATEST") == []
    assert b"disabled" in r.execute_command("LATENCY", "DOCTOR")
    r.config_set("latency-monitor-threshold", 10)
    try:
        r.execute_command("DEBUG", "SLEEP", "0.025")
        r.execute_command("DEBUG", "SLEEP", "0")  # under the threshold: no sample
        latest = r.execute_command("LATENCY", "LATEST")
        assert len(latest) == 1
        name, when, ms, worst = latest[0]
        assert name == b"command" and ms >= 25 and worst == ms
        assert abs(when - time.time()) < 60
        history = r.execute_command("LATENCY", "HISTORY", "command")
        assert history == [[when, ms]]
        graph = r.execute_command("LATENCY", "GRAPH", "command")
        graph = graph.decode() if isinstance(graph, bytes) else str(graph)
        lines = graph.split("\n")
        assert lines[0] == f"command - high {ms} ms, low {ms} ms (all time high {ms} ms)"
        assert lines[1] == "-" * 80
        assert lines[2:6] == [" ", " ", " ", "_"]  # one sample: the lowest step
        # Then a blank margin and the sample's age ("0s", or "1s" a second later) downwards.
        assert lines[6] == " " and lines[7] in ("0", "1") and lines[8:] == ["s", ""]
        doctor = r.execute_command("LATENCY", "DOCTOR")
        doctor = doctor.decode() if isinstance(doctor, bytes) else str(doctor)
        assert "1. command: 1 latency spikes" in doctor
        assert r.execute_command("LATENCY", "RESET", "COMMAND", "other") == 1
        assert r.execute_command("LATENCY", "LATEST") == []
    finally:
        r.config_set("latency-monitor-threshold", 0)


def test_latency_graph_matches_redis_for_equal_samples(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    # Samples of the same second merge; the graph of one sample is the same on both servers
    # once the latency (which differs by a millisecond or so) is masked.
    graphs = []
    for srv in (server, redis_server):
        c = srv.client()
        c.execute_command("LATENCY", "RESET")
        c.config_set("latency-monitor-threshold", 5)
        c.execute_command("DEBUG", "SLEEP", "0.012")
        g = c.execute_command("LATENCY", "GRAPH", "command")
        c.config_set("latency-monitor-threshold", 0)
        c.execute_command("LATENCY", "RESET")
        graphs.append(re.sub(rb"\d+ ms", b"N ms", g).replace(b"1s", b"0s"))
        c.close()
    assert graphs[0] == graphs[1]


def test_fork_is_a_latency_event(tmp_path: Any) -> None:
    with ServerProcess("--latency-monitor-threshold", "1", dir=str(tmp_path)) as srv:
        c = srv.client()
        c.execute_command("DEBUG", "POPULATE", "200000")
        c.bgsave()
        wait_for(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, what="bgsave")
        fork_ms = c.info("stats")["latest_fork_usec"] // 1000
        history = c.execute_command("LATENCY", "HISTORY", "fork")
        if fork_ms >= 1:
            assert history and history[-1][1] == fork_ms
        else:
            assert history == []
        c.close()


def test_latency_histogram_and_latencystats(r: redis.Redis, redis_server: ServerProcess) -> None:
    r.config_resetstat()
    for i in range(10):
        r.set(f"k{i}", i)
    r.get("k1")
    r.config_get("maxclients")
    hist = r.execute_command("LATENCY", "HISTOGRAM", "set", "config", "nosuch")
    hist = {_s(k): v for k, v in _pairs(hist)}
    # CONFIG RESETSTAT dropped every histogram, then its own call was recorded (as Redis).
    assert set(hist) == {"set", "config|get", "config|resetstat"}
    set_h = {_s(k): v for k, v in _pairs(hist["set"])}
    assert set_h["calls"] == 10
    buckets = list(_pairs(set_h["histogram_usec"]))
    counts = [n for _, n in buckets]
    assert counts == sorted(counts) and counts[-1] == 10
    # Each step reports the highest value of the slot holding 1024 * 2^k ns, in usec.
    allowed = {_step_usec(k) for k in range(20)}
    assert {us for us, _ in buckets} <= allowed
    everything = dict(_pairs(r.execute_command("LATENCY", "HISTOGRAM")))
    assert len(everything) >= 3
    stats = r.info("latencystats")
    assert set(stats["latency_percentiles_usec_set"]) == {"p50", "p99", "p99.9"}
    r.config_set("latency-tracking-info-percentiles", "0 50 100")
    stats = r.info("latencystats")
    got = stats["latency_percentiles_usec_get"]
    assert set(got) == {"p0", "p50", "p100"}
    assert got["p0"] <= got["p50"] <= got["p100"]
    r.config_set("latency-tracking", "no")
    assert r.info("latencystats") == {}
    r.config_set("latency-tracking", "yes")
    r.config_set("latency-tracking-info-percentiles", "50 99 99.9")
    # The same field names as redis-server's for the same commands.
    rd = redis_server.client()
    rd.config_resetstat()
    rd.set("k", 1)
    rd.get("k")
    r.config_resetstat()
    r.set("k", 1)
    r.get("k")
    assert set(rd.info("latencystats")) == set(r.info("latencystats"))
    rd.close()


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _step_usec(k: int) -> int:
    """The usec LATENCY HISTOGRAM reports at its k-th step: the highest value equivalent to
    1024 * 2^k ns (its slot is 2^(bucket) wide), in microseconds."""
    level = 1024 << k
    b = (level | 255).bit_length() - 8
    return (level + (1 << b) - 1) // 1000


def _pairs(v: Any) -> list[tuple[Any, Any]]:
    if isinstance(v, dict):
        return list(v.items())
    return list(zip(v[::2], v[1::2], strict=True))


# --- MONITOR ------------------------------------------------------------------------------------


def _monitor_lines(port: int, commands: list[tuple[Any, ...]], n: int) -> list[str]:
    mon = Raw(port)
    assert mon.request(encode("MONITOR")) == b"+OK\r\n"
    with Raw(port) as conn:
        for cmd in commands:
            conn.request(encode(*cmd))
    buf = b""
    mon.sock.settimeout(5)
    while buf.count(b"\r\n") < n:
        chunk = mon.sock.recv(65536)
        assert chunk, buf
        buf += chunk
    mon.close()
    lines = buf.decode().split("\r\n")[:n]
    # Mask the time and the client's port.
    return [re.sub(r"^\+\d+\.\d{6} \[(\d+) ([^\]]*?)(:\d+)?\]", r"+T [\1 \2]", x) for x in lines]


MONITORED: list[tuple[Any, ...]] = [
    ("SET", "foo", "bar"),
    ("GET", "foo"),
    ("SET", "q", 'a "quoted"\\ \n\r\t\x07\x08 \x00\x01\xff value'),
    ("SELECT", "3"),
    ("INCR", "n"),
    ("CONFIG", "GET", "maxclients"),  # admin: never shown
    ("NOSUCHCOMMAND",),  # rejected: never shown
    ("MULTI",),
    ("SET", "a", "1"),
    ("EXEC",),
    ("EVAL", "redis.call('set', KEYS[1], ARGV[1]) return 1", "1", "k", "v"),
    ("AUTH", "not-real"),
    ("AUTH", "not-real", "not-a-password"),
    ("HELLO", "2", "AUTH", "not-real", "not-a-password"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH", "pw"),
    ("MIGRATE", "127.0.0.1", "1", "", "0", "100", "AUTH2", "u", "pw", "KEYS", "a", "b"),
    ("MULTI",),
    ("NOSUCHCOMMAND",),
    ("EXEC",),
    ("PING",),
]


def test_monitor_lines_as_redis(server: ServerProcess, redis_server: ServerProcess) -> None:
    n = 19
    mine = _monitor_lines(server.port, MONITORED, n)
    theirs = _monitor_lines(redis_server.port, MONITORED, n)
    assert mine == theirs
    assert mine[0] == '+T [0 127.0.0.1] "SET" "foo" "bar"'
    assert '+T [3 lua] "set" "k" "v"' in mine  # the script runs on the caller's database
    for s in (server, redis_server):
        redis.Redis(port=s.port).flushall()


def test_monitor_client_may_not_use_the_keyspace(differential: Differential) -> None:
    differential.check(("MONITOR",), ("GET", "x"), ("SET", "x", "1"), ("EVAL", "return 1", "0"))


def test_monitor_that_does_not_read_is_disconnected() -> None:
    with ServerProcess("--client-output-buffer-limit", "pubsub 1mb 0 0") as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(encode("MONITOR"))
        r = srv.client()
        wait_for(lambda: "flags=O" in r.execute_command("CLIENT", "LIST").decode(), what="O")
        value = b"x" * 100_000
        for i in range(2000):
            r.set("k", value)
            if i % 20 == 0 and "flags=O" not in r.execute_command("CLIENT", "LIST").decode():
                break
        assert "flags=O" not in r.execute_command("CLIENT", "LIST").decode()
        assert "closed for overcoming of output buffer limits" in srv.log()
        assert r.ping()
        sock.close()


# --- CLIENT PAUSE / UNPAUSE ---------------------------------------------------------------------


def _in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def test_client_pause_write_holds_writes_only(server: ServerProcess) -> None:
    admin = server.client()
    writer = server.client()
    admin.set("k", "v")
    assert admin.execute_command("CLIENT", "PAUSE", "10000", "WRITE") == b"OK"
    try:
        t, out = _in_thread(lambda: writer.set("k", "new"))
        assert admin.get("k") == b"v"  # reads go on
        assert admin.execute_command("EVAL_RO", "return 1", "0") == 1
        time.sleep(0.2)
        assert out == [] and admin.get("k") == b"v"
        listed = admin.execute_command("CLIENT", "LIST").decode()
        assert re.search(r"flags=b .*cmd=set", listed)
        assert admin.info("clients")["blocked_clients"] == 1
    finally:
        assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
    t.join(5)
    assert out == [True] and admin.get("k") == b"new"
    admin.close()
    writer.close()


_LIBRARY = (
    "#!lua name=pauselib\n"
    "redis.register_function{function_name='ro_fn', callback=function() return 1 end,"
    " flags={'no-writes'}}\n"
    "redis.register_function('rw_fn', function() return 2 end)"
)
_NO_WRITES = "#!lua flags=no-writes\nreturn 1"
_PAUSE_CASES: list[tuple[str, list[tuple[Any, ...]]]] = [
    ("eval compat", [("EVAL", "return 1", "0")]),
    ("eval no-writes", [("EVAL", _NO_WRITES, "0")]),
    ("eval shebang", [("EVAL", "#!lua\nreturn 1", "0")]),
    ("eval bad shebang", [("EVAL", "#!bogus\nreturn 1", "0")]),
    ("eval_ro compat", [("EVAL_RO", "return 1", "0")]),
    ("eval_ro shebang", [("EVAL_RO", "#!lua\nreturn 1", "0")]),
    ("evalsha no-writes", [("EVALSHA", "SHA", "0")]),
    ("evalsha_ro no-writes", [("EVALSHA_RO", "SHA", "0")]),
    ("evalsha unknown", [("EVALSHA", "f" * 40, "0")]),
    ("fcall ro_fn", [("FCALL", "ro_fn", "0")]),
    ("fcall rw_fn", [("FCALL", "rw_fn", "0")]),
    ("fcall_ro ro_fn", [("FCALL_RO", "ro_fn", "0")]),
    ("fcall_ro rw_fn", [("FCALL_RO", "rw_fn", "0")]),
    ("fcall unknown", [("FCALL", "nosuch", "0")]),
    ("exec no-writes", [("MULTI",), ("EVAL", _NO_WRITES, "0"), ("EXEC",)]),
    ("exec compat", [("MULTI",), ("EVAL", "return 1", "0"), ("EXEC",)]),
]


def _read_replies(conn: Raw, n: int) -> list[Any]:
    import hiredis

    reader = hiredis.Reader()
    got: list[Any] = []
    while len(got) < n:
        chunk = conn.sock.recv(65536)
        assert chunk, f"closed after {got!r}"
        reader.feed(chunk)
        while (reply := reader.gets()) is not False:
            got.append(reply)
    return got


def _pause_outcomes(port: int) -> list[tuple[str, str, str]]:
    """Under CLIENT PAUSE WRITE, each case on its own connection, its requests pipelined:
    whether they ran or were held (CLIENT LIST's b flag), and the replies they got in the end
    (a queued command that may replicate is held too, as in Redis)."""
    import select

    admin = redis.Redis(port=port)
    admin.function_flush()
    admin.function_load(_LIBRARY)
    sha = admin.script_load(_NO_WRITES)
    started: list[tuple[str, Raw, int, str, str]] = []
    admin.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
    try:
        for i, (case, commands) in enumerate(_PAUSE_CASES):
            conn = Raw(port)
            name = f"pausecase{i}"
            conn.request(encode("CLIENT", "SETNAME", name))
            conn.send(b"".join(encode(*(sha if a == "SHA" else a for a in c)) for c in commands))

            def state(conn: Raw = conn, name: str = name) -> str:
                for x in admin.client_list():
                    if x["name"] == name and "b" in x["flags"]:
                        return "held"
                if select.select([conn.sock], [], [], 0)[0]:
                    return "ran"
                return ""

            how = wait_for(state, what=case)
            # One that ran has all its replies now; a held one gets them after the pause.
            ran = repr(_read_replies(conn, len(commands))) if how == "ran" else ""
            started.append((case, conn, len(commands), how, ran))
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    result = []
    for case, conn, n, how, ran in started:
        result.append((case, how, ran or repr(_read_replies(conn, n))))
        conn.close()
    admin.function_flush()
    admin.close()
    return result


def test_client_pause_write_runs_scripts_declaring_no_writes(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    """Redis's getCommandFlags under PAUSE WRITE: a script that declares flags is a write
    unless it says no-writes (whatever its command, _RO ones included), one without a shebang
    keeps its command's flags (EVAL, FCALL may replicate; EVAL_RO does not)."""
    mine = _pause_outcomes(server.port)
    theirs = _pause_outcomes(redis_server.port)
    assert mine == theirs
    ran = {case for case, how, _ in mine if how == "ran"}
    # Held ones ran once the pause ended: their _RO forms of a writing script failed then.
    assert (
        "Can not execute a script with write flag"
        in dict((c, r) for c, _, r in mine)["fcall_ro rw_fn"]
    )
    assert ran == {
        "eval no-writes",
        "eval_ro compat",
        "evalsha no-writes",
        "evalsha_ro no-writes",
        "fcall ro_fn",
        "fcall_ro ro_fn",
        "exec no-writes",
    }


def test_client_pause_all_and_its_timeout(server: ServerProcess) -> None:
    admin = server.client()
    reader = server.client()
    admin.set("k", "v")
    admin.execute_command("CLIENT", "PAUSE", "300")
    t, out = _in_thread(lambda: reader.get("k"))
    t.join(5)  # released when the pause times out
    assert out == [b"v"]
    admin.close()
    reader.close()


def test_keys_do_not_expire_while_paused(differential: Differential) -> None:
    # Lazy and active expiry stop: the key reads as gone but is still counted.
    for srv in (differential.mk, differential.rd):
        c = srv.client()
        c.flushall()
        c.set("gone", "1", px=50)
        c.execute_command("CLIENT", "PAUSE", "2000", "WRITE")
        time.sleep(0.4)
        assert c.get("gone") is None
        assert c.dbsize() == 1, srv.kind
        c.execute_command("CLIENT", "UNPAUSE")
        wait_for(lambda c=c: c.dbsize() == 0, what="expiry after the pause")
        c.close()


def test_client_pause_errors_as_redis(differential: Differential) -> None:
    differential.check(
        ("CLIENT", "PAUSE", "abc"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "10", "SOME"),
        ("CLIENT", "PAUSE", "abc", "SOME"),
        ("CLIENT", "PAUSE", "10", "WRITE", "x"),
        ("CLIENT", "PAUSE", "9223372036854775807"),
        ("CLIENT", "PAUSE", "0", "ALL"),
        ("CLIENT", "UNPAUSE"),
        ("CLIENT", "UNPAUSE", "x"),
        ("CLIENT", "REPLY", "maybe"),
        ("CLIENT", "REPLY"),
    )


# --- CLIENT REPLY / NO-TOUCH --------------------------------------------------------------------


def _replies_until_closed(port: int, commands: list[tuple[Any, ...]]) -> bytes:
    with Raw(port) as conn:
        conn.send(b"".join(encode(*c) for c in commands) + encode("QUIT"))
        return conn.read_until_closed()


def test_client_reply_as_redis(server: ServerProcess, redis_server: ServerProcess) -> None:
    commands: list[tuple[Any, ...]] = [
        ("SET", "a", "1"),
        ("CLIENT", "REPLY", "SKIP"),
        ("GET", "a"),
        ("INCR", "a"),
        ("CLIENT", "REPLY", "OFF"),
        ("GET", "a"),
        ("NOSUCHCOMMAND",),
        ("CLIENT", "REPLY", "SKIP"),  # ignored while OFF
        ("CLIENT", "REPLY", "ON"),
        ("GET", "a"),
        ("CLIENT", "REPLY", "SKIP"),
        ("CLIENT", "REPLY", "ON"),  # ON is answered even when it is the skipped one
        ("CLIENT", "REPLY", "OFF"),
    ]
    mine = _replies_until_closed(server.port, commands)
    theirs = _replies_until_closed(redis_server.port, commands)
    assert mine == theirs == b"+OK\r\n:2\r\n+OK\r\n$1\r\n2\r\n+OK\r\n"
    for s in (server, redis_server):
        redis.Redis(port=s.port).flushall()


def test_client_no_touch(r: redis.Redis) -> None:
    assert r.execute_command("CLIENT", "NO-TOUCH", "ON") in (b"OK", "OK", True)
    assert "T" in r.client_info()["flags"]
    r.set("k", "v")
    assert r.touch("k") == 1  # TOUCH still touches
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CLIENT", "NO-TOUCH", "MAYBE")
    r.execute_command("CLIENT", "NO-TOUCH", "OFF")
    assert "T" not in r.client_info()["flags"]
    r.execute_command("CLIENT", "NO-TOUCH", "ON")
    r.execute_command("RESET")
    assert "T" not in r.client_info()["flags"]


# --- INFO ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["clients", "stats", "errorstats"])
def test_info_fields_as_redis(
    server: ServerProcess, redis_server: ServerProcess, section: str
) -> None:
    for srv in (server, redis_server):
        run_raw(srv.port, [("NOSUCHCOMMAND",), ("GET",)])
    mine = run_raw(server.port, [("INFO", section)])[0]
    theirs = run_raw(redis_server.port, [("INFO", section)])[0]

    def names(raw: bytes) -> list[str]:
        body = raw.split(b"\r\n", 1)[1].decode()
        return [line.split(":")[0] for line in body.split("\r\n") if line and ":" in line]

    assert names(mine) == names(theirs)


def test_info_counters_have_real_values(server: ServerProcess) -> None:
    c = server.client()
    waiter = server.client()
    before = c.info("stats")
    for _ in range(3):
        c.ping()
    after = c.info("stats")
    assert after["total_reads_processed"] >= before["total_reads_processed"] + 4
    assert after["total_writes_processed"] >= before["total_writes_processed"] + 4
    t, out = _in_thread(lambda: waiter.blpop(["nothing-here"], timeout=5))
    wait_for(lambda: c.info("clients")["blocked_clients"] == 1, what="a blocked client")
    assert c.info("clients")["clients_in_timeout_table"] == 1
    c.rpush("nothing-here", "x")
    t.join(5)
    assert list(out[0]) == [b"nothing-here", b"x"]
    assert c.info("clients")["clients_in_timeout_table"] == 0
    c.close()
    waiter.close()


def test_info_clients_on_a_replica() -> None:
    # The replica's link to its primary is in the client list without a connection's buffers.
    with ServerProcess() as primary, ServerProcess() as replica:
        rc = replica.client()
        rc.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_for(lambda: rc.info("replication").get("master_link_status") == "up", what="the link")
        info = rc.info("clients")
        assert info["blocked_clients"] == 0 and info["clients_in_timeout_table"] == 0
        rc.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_latency_histogram_shape_as_redis(
    server: ServerProcess, redis_server: ServerProcess, protocol: int
) -> None:
    shapes = []
    for srv in (server, redis_server):
        c = srv.client(protocol=protocol)
        c.config_resetstat()
        for _ in range(3):
            c.set("k", "v")
        raw = run_raw(srv.port, [("LATENCY", "HISTOGRAM", "set", "nosuch")], protocol)[0]
        reply = c.execute_command("LATENCY", "HISTOGRAM", "set")
        entry = {_s(k): v for k, v in _pairs(reply)}
        inner = {_s(k): v for k, v in _pairs(entry["set"])}
        # The map / array framing and the fields, with the bucket values masked.
        head = re.sub(rb"histogram_usec\r\n[%*]\d+\r\n.*", b"", raw, flags=re.S)
        shapes.append((head, sorted(inner), inner["calls"]))
        c.close()
    assert shapes[0] == shapes[1]
    assert shapes[0][2] == 3
