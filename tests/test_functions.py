"""Redis 7 functions (FUNCTION LOAD / FCALL and the rest of FUNCTION) against a real redis-server.

The transcript runs on minikv and on redis-server 7.0 and compares the raw reply bytes in RESP2
and RESP3: library metadata and naming errors, every register_function argument error, the
load environment (only ``redis.register_function`` and ``redis.log``), FCALL's results and
errors (function names, line numbers), flags and FCALL_RO, case rules, DELETE, FLUSH, LIST,
STATS, DUMP (byte for byte) and RESTORE's policies. Then what one transcript cannot show:
payloads crossing between the two servers (LZF-compressed ones included), libraries in
snapshots and across restarts, propagation, state kept by a library, and the sandbox.
"""

from __future__ import annotations

import os
from typing import Any

import msgpack
import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, run_raw
from test_snapshot import _write_snapshot, bgsave_done, wait_for

from minikv.persistence.format import FORMAT_VERSION

FL = ("FUNCTION", "LOAD")


def lib(name: str, body: str) -> str:
    return f"#!lua name={name}\n{body}"


REG = "redis.register_function"
LIB_RW = lib(
    "rw",
    "redis.register_function('setit', function(keys, args) return redis.call('set', keys[1], "
    "args[1]) end)",
)
LIB_FLAGS = lib(
    "fl",
    "redis.register_function{function_name='getit', callback=function(k, a) "
    "return redis.call('get', k[1]) end, flags={'no-writes', 'allow-oom', 'allow-stale', "
    "'no-cluster', 'allow-cross-slot-keys'}, description='reads a key'}",
)
LIB_ERRORS = lib(
    "errs",
    "redis.register_function('e_keys', function(k, a) return KEYS end)\n"
    "redis.register_function('e_error', function(k, a) error('bad') end)\n"
    "redis.register_function('e_reg', function(k, a) return "
    "redis.register_function('zz', function() end) end)\n"
    "redis.register_function('e_global', function(k, a) x = 5 end)\n"
    "redis.register_function('e_nosuch', function(k, a) return redis.call('nosuch') end)\n"
    "redis.register_function('e_table', function(k, a) error({err='MY own'}) end)\n"
    "redis.register_function('e_incr', function(k, a) return redis.call('incr', k[1]) end)\n"
    "redis.register_function('e_pcall', function(k, a) return redis.pcall('incr', k[1]) end)\n"
    "redis.register_function('ok_libs', function(k, a) return {string.len('abc'), "
    "cjson.encode({1}), #k, #a, type(redis.register_function), tostring(loadstring('return 7')())}"
    " end)\n"
    "redis.register_function('ok_args', function(k, a) return {k[1], k[2], a[1]} end)",
)

TRANSCRIPT: list[tuple[Any, ...]] = [
    ("FUNCTION", "FLUSH"),
    # metadata and names
    (*FL, "no shebang"),
    (*FL, "#!lua"),
    (*FL, "#!lua\n"),
    (*FL, "#!\n"),
    (*FL, "#! name=a\n"),
    (*FL, "#!js name=a\n"),
    (*FL, "#!lua name=a name=b\n"),
    (*FL, "#!lua foo=a\n"),
    (*FL, "#!lua name=a-b\n"),
    (*FL, '#!lua name="a b"\n'),
    (*FL, '#!lua name="a\n'),
    (*FL, "#!lua name=a\nlocal x = 1"),
    (*FL, "#!lua name=a\nlocal x = "),
    (*FL, "#!lua name=a\nreturn 1"),
    ("FUNCTION", "LOAD", "bad", lib("a", f"{REG}('f', function() return 1 end)")),
    ("FUNCTION", "LOAD", "REPLACE"),
    # the load environment
    (*FL, lib("a", "local s = string.len('a')")),
    (*FL, lib("a", "redis.call('set', 'x', 1)")),
    (*FL, lib("a", "error('boom')")),
    (*FL, lib("a", "foo = 1")),
    (*FL, lib("a", "local x = nil + 1")),
    (*FL, lib("a", "redis.log(redis.LOG_WARNING, 'loading a') return redis.REDIS_VERSION_NUM")),
    (*FL, lib("a", "local i = 0 while true do i = i + 1 end")),
    # register_function's arguments
    (*FL, lib("a", f"{REG}()")),
    (*FL, lib("a", f"{REG}('x', function() end, 3)")),
    (*FL, lib("a", f"{REG}(1, 2)")),
    (*FL, lib("a", f"{REG}({{}}, function() end)")),
    (*FL, lib("a", f"{REG}('x', 2)")),
    (*FL, lib("a", f"{REG}(5)")),
    (*FL, lib("a", f"{REG}({{}})")),
    (*FL, lib("a", f"{REG}({{function_name='x'}})")),
    (*FL, lib("a", f"{REG}({{callback=function() end}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=function() end, flags={{'bad'}}}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=function() end, flags='no-writes'}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=function() end, flags={{1}}}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=function() end, foo=1}})")),
    (*FL, lib("a", f"{REG}({{function_name={{}}, callback=function() end}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=1}})")),
    (*FL, lib("a", f"{REG}({{function_name='x', callback=function() end, description={{}}}})")),
    (*FL, lib("a", f"{REG}({{[1]='x'}})")),
    (*FL, lib("a", f"{REG}('f$', function() end)")),
    (*FL, lib("a", f"{REG}('g', function() end) {REG}('g', function() end)")),
    (*FL, lib("a", f"{REG}({{FUNCTION_NAME='num1', CALLBACK=function() return 1 end}})")),
    (*FL, lib("b", f"{REG}(12, function() return 12 end)")),
    ("FCALL", "num1", "0"),
    ("FCALL", "12", "0"),
    # FCALL
    (*FL, LIB_RW),
    (*FL, LIB_RW),
    (*FL, lib("rw2", f"{REG}('SETIT', function() return 1 end)")),
    ("FCALL", "setit", "1", "k", "v"),
    ("FCALL", "SetIt", "1", "k", "v2"),
    ("GET", "k"),
    ("FCALL_RO", "setit", "1", "k", "v"),
    ("FCALL", "nope", "0"),
    ("FCALL", "nope", "x"),
    ("FCALL", "setit", "x"),
    ("FCALL", "setit", "3", "k"),
    ("FCALL", "setit", "-1"),
    ("FCALL", "setit"),
    (*FL, LIB_FLAGS),
    ("FCALL", "getit", "1", "k"),
    ("FCALL_RO", "getit", "1", "k"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "fl"),
    ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "F*"),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "foo"),
    ("FUNCTION", "LIST", "withcode", "withcode"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "nothing*"),
    (*FL, LIB_ERRORS),
    ("SET", "s", "abc"),
    ("FCALL", "e_keys", "0"),
    ("FCALL", "e_error", "0"),
    ("FCALL", "e_reg", "0"),
    ("FCALL", "e_global", "0"),
    ("FCALL", "e_nosuch", "0"),
    ("FCALL", "e_table", "0"),
    ("FCALL", "e_incr", "1", "s"),
    ("FCALL", "e_pcall", "1", "s"),
    ("FCALL", "ok_libs", "0"),
    ("FCALL", "ok_args", "2", "k1", "k2", "a1"),
    ("EVAL", "return redis.call('fcall', 'ok_libs', 0)", "0"),
    ("EVAL", "return redis.call('function', 'list')", "0"),
    ("FUNCTION", "STATS"),
    # DELETE, REPLACE, FLUSH
    ("FUNCTION", "DELETE", "nope"),
    ("FUNCTION", "DELETE", "ERRS"),
    ("FUNCTION", "DELETE", "errs"),
    ("FCALL", "ok_args", "0"),
    ("FUNCTION", "LOAD", "REPLACE", lib("rw", f"{REG}('other', function() return 2 end)")),
    ("FCALL", "setit", "1", "k", "v"),
    ("FCALL", "other", "0"),
    ("FUNCTION", "LOAD", "REPLACE", lib("rw", f"{REG}('getit', function() return 3 end)")),
    ("FCALL", "other", "0"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "FLUSH", "x"),
    ("FUNCTION", "FLUSH", "x", "y"),
    ("FUNCTION", "FLUSH", "ASYNC"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "LIST"),
    # DUMP with one library too short for redis-server to compress: the same bytes on both
    ("FUNCTION", "DUMP"),
    (*FL, lib("d", f"{REG}('d', function() return 1 end)")),
    ("FUNCTION", "DUMP"),
    ("FUNCTION", "RESTORE", "garbage"),
    ("FUNCTION", "RESTORE", "x", "bogus"),
    ("FUNCTION", "RESTORE", "x", "FLUSH", "y"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "HELP"),
    ("FUNCTION", "NOPE"),
    ("FUNCTION",),
    ("FUNCTION", "DELETE"),
    ("FUNCTION", "DUMP", "x"),
]


def test_transcript_matches_redis(differential: Differential) -> None:
    differential.check(*TRANSCRIPT)


def _payload(port: int) -> bytes:
    (reply,) = run_raw(port, [("FUNCTION", "DUMP")])
    header, _, rest = reply.partition(b"\r\n")
    assert header.startswith(b"$")
    return rest[: int(header[1:])]


def test_restore_policies_match_redis(differential: Differential) -> None:
    """The same payload restored with each policy over libraries already there."""
    for srv in (differential.mk, differential.rd):
        run_raw(srv.port, [("FUNCTION", "FLUSH"), (*FL, LIB_FLAGS)])
    payload = _payload(differential.mk.port)  # restored by both: redis-server reads minikv's
    differential.check(
        ("FUNCTION", "RESTORE", payload),
        ("FUNCTION", "RESTORE", payload, "APPEND"),
        ("FUNCTION", "RESTORE", payload, "REPLACE"),
        ("FCALL", "getit", "1", "k"),
        ("FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1])),
        ("FUNCTION", "RESTORE", payload[:-10] + b"\x0b\x00" + payload[-8:]),
        ("FUNCTION", "FLUSH"),
        (*FL, lib("other", f"{REG}('getit', function() return 'theirs' end)")),
        ("FUNCTION", "RESTORE", payload, "REPLACE"),
        ("FCALL", "getit", "0"),
        ("FUNCTION", "RESTORE", payload, "FLUSH"),
        ("FCALL", "getit", "1", "k"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "other"),
        ("FUNCTION", "DELETE", "fl"),
    )


def _libraries(c: redis.Redis) -> dict[bytes, Any]:
    """FUNCTION LIST as {library: (engine, {function: (description, flags)}, code)}, whose
    order Redis does not define."""
    out = {}
    for entry in c.execute_command("FUNCTION", "LIST", "WITHCODE"):
        e = dict(zip(entry[::2], entry[1::2], strict=True)) if isinstance(entry, list) else entry
        fns = {}
        for f in e[b"functions"]:
            f = dict(zip(f[::2], f[1::2], strict=True)) if isinstance(f, list) else f
            fns[f[b"name"]] = (f[b"description"], sorted(f[b"flags"]))
        out[e[b"library_name"]] = (e[b"engine"], fns, e[b"library_code"])
    return out


#: Code long and repetitive enough that redis-server LZF-compresses it in a payload.
LONG = lib(
    "long",
    "\n".join(f"redis.register_function('long{i}', function() return {i} end)" for i in range(40)),
)


@pytest.mark.parametrize("protocol", [2, 3])
def test_payloads_cross_between_the_servers(
    server: ServerProcess, redis_server: ServerProcess, protocol: int
) -> None:
    """What FUNCTION DUMP gives on one server restores on the other, both ways, with the same
    libraries after; redis-server's payload of a long library is LZF-compressed."""
    mk = server.client(protocol=protocol)
    rd = redis.Redis(port=redis_server.port, protocol=protocol)
    try:
        for c in (mk, rd):
            c.execute_command("FUNCTION", "FLUSH")
        for code in (LIB_RW, LIB_FLAGS, LONG):
            rd.execute_command(*FL, code)
        from_redis = rd.execute_command("FUNCTION", "DUMP")
        assert len(from_redis) < len(LONG)  # compressed
        assert mk.execute_command("FUNCTION", "RESTORE", from_redis) == b"OK"
        assert _libraries(mk) == _libraries(rd)
        assert mk.execute_command("FCALL", "long39", "0") == 39
        from_minikv = mk.execute_command("FUNCTION", "DUMP")
        rd.execute_command("FUNCTION", "FLUSH")
        assert rd.execute_command("FUNCTION", "RESTORE", from_minikv) == b"OK"
        assert _libraries(mk) == _libraries(rd)
        assert rd.execute_command("FCALL", "setit", "1", "k", "v") == b"OK"
    finally:
        for c in (mk, rd):
            c.execute_command("FUNCTION", "FLUSH")
            c.close()


def test_a_corrupt_compressed_payload_is_refused(server: ServerProcess) -> None:
    from minikv.persistence import dump

    c = server.client()
    try:
        c.execute_command("FUNCTION", "FLUSH")
        # A back reference before the start of the output, in a correctly sealed payload.
        bad = dump.seal(b"\xf5\xc3\x03\x0a\x20\x05\x00")
        with pytest.raises(redis.ResponseError, match="failed loading the given functions"):
            c.execute_command("FUNCTION", "RESTORE", bad)
        with pytest.raises(redis.ResponseError, match="given type is not a function"):
            c.execute_command("FUNCTION", "RESTORE", dump.seal(b"\x00\x01a"))
        assert c.execute_command("FUNCTION", "LIST") == []
    finally:
        c.close()


def test_a_library_keeps_its_state_between_calls(server: ServerProcess) -> None:
    """A library's locals are its functions' upvalues: they live as long as the library (as
    in Redis), and the next library cannot see them."""
    c = server.client()
    try:
        c.execute_command("FUNCTION", "FLUSH")
        c.execute_command(
            *FL,
            lib("counter", "local n = 0\n" + f"{REG}('bump', function() n = n + 1 return n end)"),
        )
        assert [c.fcall("bump", 0) for _ in range(3)] == [1, 2, 3]
        c.execute_command(*FL, lib("peek", f"{REG}('peek', function() return n end)"))
        with pytest.raises(redis.ResponseError, match="nonexistent global variable 'n'"):
            c.fcall("peek", 0)
        c.execute_command(
            "FUNCTION",
            "LOAD",
            "REPLACE",
            lib("counter", "local n = 100\n" + f"{REG}('bump', function() n = n + 1 return n end)"),
        )
        assert c.fcall("bump", 0) == 101
    finally:
        c.execute_command("FUNCTION", "FLUSH")
        c.close()


@pytest.mark.parametrize(
    "body",
    [
        "return os.getenv('HOME')",
        "return io.open('/etc/passwd')",
        "return require('os')",
        "return python",
        "return debug.getinfo(1)",
        "return getfenv(1)",
        "return redis.call.__class__",
        "return rawget(_G, 'os')",
    ],
)
def test_functions_are_sandboxed_as_scripts(server: ServerProcess, body: str) -> None:
    c = server.client()
    try:
        c.execute_command("FUNCTION", "FLUSH")
        c.execute_command(*FL, lib("sb", f"{REG}('sb', function() {body} end)"))
        try:
            reply = c.fcall("sb", 0)
        except redis.ResponseError:
            return
        assert reply is None, reply
    finally:
        c.execute_command("FUNCTION", "FLUSH")
        c.close()


def test_function_writes_propagate(server: ServerProcess) -> None:
    """FUNCTION LOAD / DELETE / FLUSH go to the stream as sent (libraries are data); FCALL
    as the effects of the function."""
    c = server.client()
    try:
        c.execute_command("FUNCTION", "FLUSH")
        c.execute_command("DEBUG", "PROPAGATION", "ON")
        c.execute_command(*FL, LIB_RW)
        c.fcall("setit", 1, "pk", "pv")
        c.execute_command("FUNCTION", "DELETE", "rw")
        got = c.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        c.execute_command("DEBUG", "PROPAGATION", "OFF")
        c.close()
    assert [cmd for cmd in got if cmd[0].upper() != b"SELECT"] == [
        [b"FUNCTION", b"LOAD", LIB_RW.encode()],
        [b"set", b"pk", b"pv"],
        [b"FUNCTION", b"DELETE", b"rw"],
    ]


def test_functions_survive_a_restart(tmp_path: Any) -> None:
    """Libraries are in the snapshot (SAVE, BGSAVE and SHUTDOWN's): after a restart they are
    there with their flags and descriptions, and callable; DEBUG RELOAD keeps them too."""
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        c.execute_command(*FL, LIB_RW)
        c.execute_command(*FL, LIB_FLAGS)
        before = _libraries(c)
        c.bgsave()
        wait_for(lambda: bgsave_done(c), what="BGSAVE")
        c.execute_command(*FL, lib("later", f"{REG}('later', function() return 'l' end)"))
        assert c.execute_command("DEBUG", "RELOAD") == b"OK"
        assert c.execute_command("FCALL", "later", "0") == b"l"
        c.execute_command("FUNCTION", "DELETE", "later")
        c.save()
        c.close()
    path = os.path.join(str(tmp_path), "dump.mkv")
    with open(path, "rb") as f:
        header = next(iter(msgpack.Unpacker(f, strict_map_key=False)))
    assert header["format"] == FORMAT_VERSION
    assert sorted(header["functions"]) == sorted([LIB_RW.encode(), LIB_FLAGS.encode()])
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        assert _libraries(c) == before
        assert c.fcall("setit", 1, "k", "v") == b"OK"
        assert c.execute_command("FCALL_RO", "getit", "1", "k") == b"v"
        info = c.info("memory")
        assert info["number_of_libraries"] == 2
        assert info["number_of_functions"] == 2
        assert info["used_memory_vm_functions"] > 0
        c.close()


def test_a_snapshot_whose_library_fails_is_refused(tmp_path: Any) -> None:
    """A snapshot holding a library that does not load (made by hand here) stops the start
    with a message naming the file, and the file is left alone."""
    from minikv.persistence.format import SnapshotWriter

    path = os.path.join(str(tmp_path), "dump.mkv")
    with open(path, "wb") as f:
        w = SnapshotWriter(f, functions=[lib("broken", "local x = ").encode()])
        w.write_chunk(0, {b"k": b"v"}, {})
        w.finish()
    size = os.path.getsize(path)
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(dir=str(tmp_path))
    log = str(failed.value)
    assert "dump.mkv" in log and "a function library does not load" in log
    assert "Error compiling function" in log
    assert os.path.getsize(path) == size


def test_format_2_snapshots_still_load(tmp_path: Any) -> None:
    """A file written before functions existed (format 2: no ``functions`` in the header)."""
    _write_snapshot(tmp_path / "dump.mkv", 2, [[0, {b"k": b"old"}, {}]])
    with ServerProcess(dir=str(tmp_path)) as srv:
        c = srv.client()
        assert c.get("k") == b"old"
        assert c.execute_command("FUNCTION", "LIST") == []
        c.close()
