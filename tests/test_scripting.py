"""Lua scripting (EVAL, EVALSHA, SCRIPT) against a real redis-server, and the sandbox.

The transcript runs each script on minikv and on redis-server 7.0 and compares the raw reply
bytes in RESP2 and RESP3: results of every Lua type, errors (their texts, script ids and
line numbers), globals protection, redis.* helpers, shebang flags, the _RO forms. Then what
Redis's tests cannot show: that no script reaches the file system, the process or a Python
object, that scripts leave nothing behind for the next one, how script writes propagate, and
redis-py's Lock (whose acquire, extend and release are scripts).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, run_raw
from test_snapshot import _child_pid, bgsave_done, persistence, wait_for

S = ("SET", "s", "a")  # a string that is not an integer
E = "EVAL"

TRANSCRIPT: list[tuple[Any, ...]] = [
    S,
    ("HSET", "h", "a", "1"),
    ("ZADD", "z", "1.5", "m"),
    (E, "x = 5", "0"),
    (E, "return y", "0"),
    (E, "return redis.call('incr', KEYS[1])", "1", "counter"),
    (E, "return redis.call('incr', 's')", "0"),
    (E, "return redis.pcall('incr', 's')", "0"),
    (E, "error('boom')", "0"),
    (E, "error({err='MY thing'})", "0"),
    (E, "return {1,2,{3,'x'},nil,5}", "0"),
    (E, "return redis.call('nosuch')", "0"),
    (E, "return redis.call('get')", "0"),
    (E, "return +", "0"),
    (E, "return {ok='fine'}", "0"),
    (E, "return redis.error_reply('bad')", "0"),
    (E, "return redis.error_reply('-X bad')", "0"),
    (E, "return redis.status_reply('X\r\ny')", "0"),
    (E, "return redis.status_reply(1)", "0"),
    (E, "return 3.99", "0"),
    (E, "return -3.99", "0"),
    (E, "return 1/0", "0"),
    (E, "return 0/0", "0"),
    (E, "return true", "0"),
    (E, "return false", "0"),
    (E, "return nil", "0"),
    (E, "return {1, {err='x y'}, 3}", "0"),
    (E, "return {double=0.1}", "0"),
    (E, "return {map={a=1}}", "0"),
    (E, "return {set={a=true}}", "0"),
    (E, "return {big_number='123'}", "0"),
    (E, "return {verbatim_string={format='txt', string='hi'}}", "0"),
    (E, "redis.setresp(3); return true", "0"),
    (E, "redis.setresp(3); return false", "0"),
    (E, "redis.setresp(3); return redis.call('hgetall', 'h')", "0"),
    (E, "redis.setresp(3); return redis.call('hgetall', 'h').map.a", "0"),
    (E, "redis.setresp(3); return redis.call('zscore', 'z', 'm')", "0"),
    (E, "redis.setresp(3); return redis.call('smembers', 'nope')", "0"),
    (E, "redis.setresp(3); return tostring(redis.call('get', 'nope'))", "0"),
    (E, "return redis.setresp(4)", "0"),
    (E, "return tostring(redis.call('get', 'nope'))", "0"),
    (E, "return type(redis.call('hgetall', 'nope'))", "0"),
    (E, "return redis.call('type', 'z').ok", "0"),
    (E, "return redis.call('ping')", "0"),
    (E, "return redis.call('echo', 12)", "0"),
    (E, "return redis.call('echo', 0.1)", "0"),
    (E, "return redis.call('set', 'k', nil)", "0"),
    (E, "return redis.call('set', 'k', 3.5)", "0"),
    ("GET", "k"),
    (E, "return redis.call()", "0"),
    (E, "return redis.call({})", "0"),
    (E, "return redis.call('subscribe', 'x')", "0"),
    (E, "return redis.call('multi')", "0"),
    (E, "return redis.call('select', 1)", "0"),
    (E, "redis.call('select', 1); return redis.call('set', 'indb1', 'v')", "0"),
    ("EXISTS", "indb1"),  # the caller is still on db 0
    (E, "return redis.call('blpop', 'nolist', 0)", "0"),  # does not block
    (E, "return redis.sha1hex('')", "0"),
    (E, "return redis.sha1hex(1)", "0"),
    (E, "return redis.sha1hex()", "0"),
    (E, "return redis.REDIS_VERSION", "0"),
    (E, "return redis.log(redis.LOG_WARNING, 'from', 'lua')", "0"),
    (E, "return redis.log(redis.LOG_WARNING)", "0"),
    (E, "return redis.log('x', 'y')", "0"),
    (E, "return redis.log(9, 'y')", "0"),
    (E, "local ok, e = pcall(redis.call, 'incr', 's'); return e", "0"),
    (E, "local ok, e = pcall(redis.call, 'incr', 's'); return type(e)", "0"),
    (E, "local ok, e = pcall(redis.call, 'nosuch'); return e", "0"),
    (E, "return pcall(error, 'a')", "0"),
    (E, "return type(redis.pcall('incr', 's'))", "0"),
    (E, "return redis.pcall('incr', 's')['err']", "0"),
    (
        E,
        "local ok, e = xpcall(function() redis.call('incr', 's') end, "
        "function(e) return type(e) end); return e",
        "0",
    ),
    (
        E,
        "local co = coroutine.create(function() redis.call('incr','s') end); "
        "local ok, e = coroutine.resume(co); return {tostring(ok), type(e), e.err}",
        "0",
    ),
    (E, "return coroutine.wrap(function() coroutine.yield(7) end)()", "0"),
    # globals protection
    (E, "return os", "0"),
    (E, "return print", "0"),
    (E, "return setfenv", "0"),
    (E, "string.x = 1", "0"),
    (E, "rawset(string, 'format', 1)", "0"),
    (E, "return type(string.format)", "0"),
    (E, "rawset(_G, 'zz', 1)", "0"),
    (E, "_G.x = 1", "0"),
    (E, "return _G.redis ~= nil", "0"),
    (E, "return rawget(_G, 'redis') ~= nil", "0"),
    (E, "local n = 0; for k in pairs(string) do n = n + 1 end; return n > 5", "0"),
    (E, "return getmetatable('')", "0"),
    (E, "local t = setmetatable({}, {__index=function() return 1 end}); return t", "0"),
    (E, "return string.format('%d', 5)", "0"),
    (E, "return ('abc'):upper()", "0"),
    (E, "return loadstring('return 1')()", "0"),
    (E, "return loadstring('return redis.call(\"ping\")')()", "0"),
    # shebang flags and the read-only forms
    (E, "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)", "0"),
    (E, "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'x')", "0"),
    ("EVAL_RO", "return redis.call('set', 'x', 1)", "0"),
    ("EVAL_RO", "return redis.call('get', 's')", "0"),
    ("EVAL_RO", "#!lua\nreturn 1", "0"),
    (E, "#!lua\nreturn redis.call('set', 'x', 'y')", "0"),
    (E, "#!py\nreturn 1", "0"),
    (E, "#!lua flags=bogus\nreturn 1", "0"),
    (E, "#!lua foo=bar\nreturn 1", "0"),
    (E, "#!lua", "0"),
    # arguments and the cache
    (E, "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "k1", "k2", "a1", "a2"),
    (E, "return 1", "-1"),
    (E, "return 1", "2", "a"),
    (E, "return 1", "x"),
    ("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"),
    ("EVALSHA", "abc", "0"),
    ("SCRIPT", "LOAD", "return 'loaded'"),
    ("EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
    ("EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"),
    ("EVALSHA_RO", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
    ("SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ff"),
    ("SCRIPT", "LOAD", "return +"),
    ("SCRIPT", "FLUSH", "bad"),
    ("SCRIPT", "KILL"),
    ("SCRIPT", "FLUSH", "SYNC"),
    ("EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
    ("SCRIPT", "HELP"),
    ("SCRIPT", "NOPE"),
]


def test_transcript_matches_redis(differential: Differential) -> None:
    differential.check(*TRANSCRIPT)


#: cjson as Redis bundles it (lua-cjson with its default settings): the encoding of every Lua
#: type, key order, escapes, sparse arrays, nesting, decoding and its error texts.
CJSON: list[tuple[Any, ...]] = [
    ("EVAL", "return cjson.encode({1,2,{a=1}})", "0"),
    ("EVAL", "return cjson.encode({})", "0"),
    ("EVAL", 'return cjson.encode("a/b\\"c\\\\d\\n\\1\\127é")', "0"),
    ("EVAL", "return cjson.encode(3.5)", "0"),
    ("EVAL", "return cjson.encode(1e20)", "0"),
    ("EVAL", "return cjson.encode(0.1)", "0"),
    ("EVAL", "return cjson.encode(1/0)", "0"),
    ("EVAL", "return cjson.encode({[1]=1,[3]=3})", "0"),
    ("EVAL", "return cjson.encode({[1]=1,[30]=3})", "0"),
    ("EVAL", "return cjson.encode({[1.5]=1})", "0"),
    ("EVAL", "return cjson.encode({a=true,b=false,c=cjson.null})", "0"),
    ("EVAL", "return cjson.encode({[true]=1})", "0"),
    ("EVAL", "return cjson.encode(function() end)", "0"),
    ("EVAL", "return cjson.encode(nil)", "0"),
    ("EVAL", "return cjson.encode()", "0"),
    ("EVAL", "local t = {} t.x = t return cjson.encode(t)", "0"),
    ("EVAL", 'return cjson.encode({x={y={z={1,2,"q"}}}, k="v", n=5})', "0"),
    (
        "EVAL",
        'local t = cjson.decode("[1,2,{\\"a\\":\\"b\\"},null]"); '
        "return {t[1], t[3].a, tostring(t[4] == cjson.null), type(t[4])}",
        "0",
    ),
    ("EVAL", 'return cjson.decode("\\"\\\\u00e9\\\\n\\"")', "0"),
    ("EVAL", 'return cjson.decode("12.5")', "0"),
    ("EVAL", 'return type(cjson.decode("12"))', "0"),
    ("EVAL", 'return cjson.decode("{\\"a\\": [1, 2, 3]}").a[3]', "0"),
    (
        "EVAL",
        'return cjson.encode(cjson.decode("{\\"b\\":1,\\"a\\":2,\\"c\\":[true,false,null]}"))',
        "0",
    ),
    ("EVAL", "return cjson.decode(5)", "0"),
    ("EVAL", 'return cjson.decode("[1,")', "0"),
    ("EVAL", "return type(cjson.null)", "0"),
    ("EVAL", "cjson.encode = nil", "0"),
    ("EVAL", "return cjson.encode(redis.call)", "0"),
    ("EVAL", "return {pcall(cjson.encode, 1/0)}", "0"),
    ("EVAL", "local t = {} for i = 1, 900 do t = {t} end return #cjson.encode(t)", "0"),
    ("EVAL", "return cjson.decode(nil)", "0"),
] + [
    ("EVAL", "return cjson.decode(ARGV[1])", "0", doc)
    for doc in [
        "[1,",
        "[1 2]",
        '{"a" 1}',
        "{1:2}",
        '{"a":1,}',
        "[1]x",
        "",
        "  ",
        "nul",
        '{"a":1 "b":2}',
        "[1,]",
        "tru",
        '"abc',
        "[[1],[2] 3]",
    ]
]


def test_cjson_matches_redis(differential: Differential) -> None:
    differential.check(*CJSON)


#: cmsgpack (lua-cmsgpack): integer widths, float vs double, strings, arrays vs maps,
#: nesting, unpack / unpack_one / unpack_limit and their errors.
CMSGPACK_EXPRESSIONS = [
    "cmsgpack.pack(1, -1, 200, -200, 70000, -70000, 5000000000, -5000000000, 0.5, 0.1, 1/0, 1e300)",
    "cmsgpack.pack('abc', string.rep('x', 40), string.rep('y', 300), true, false, nil)",
    "cmsgpack.pack({1,2,3})",
    "cmsgpack.pack({a=1})",
    "cmsgpack.pack({[1]=1,[3]=3})",
    "cmsgpack.pack({})",
    "cmsgpack.pack()",
    "cmsgpack.pack(redis.call)",
    "{cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {x='y'}))}",
    "cmsgpack.unpack(cmsgpack.pack({x='y'})).x",
    "{cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 0)}",
    "{cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
    "{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "{cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
    "cmsgpack.unpack('\\205')",
    "cmsgpack.unpack('\\193')",
    "cmsgpack.unpack_one('abc', 10)",
    "cmsgpack.unpack_one('abc', -1)",
    "cmsgpack.unpack()",
    "tostring(cmsgpack.unpack(cmsgpack.pack(0.5)))",
    "cmsgpack.pack(string.rep('z', 70000)):len()",
    "(function() local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end "
    "return cmsgpack.pack(t) end)()",
    "cmsgpack.unpack(cmsgpack.pack(nil))",
    "#{cmsgpack.unpack(cmsgpack.pack(nil, 1))}",
]


def test_cmsgpack_matches_redis(differential: Differential) -> None:
    differential.check(*[("EVAL", f"return {e}", "0") for e in CMSGPACK_EXPRESSIONS])


#: struct: integer sizes and signs, byte order, alignment, floats, c/c0/s strings, offsets,
#: size, and the argument errors.
STRUCT_EXPRESSIONS = [
    "struct.pack('>I2', 258)",
    "struct.pack('<i', -2)",
    "struct.pack('bBhH', -1, 255, -2, 65535)",
    "struct.pack('>l', 1)",
    "struct.pack('!4 b i', 1, 2)",
    "struct.pack('!b d', 1, 0.5)",
    "struct.pack('f', 1.5)",
    "struct.pack('>d', 0.1)",
    "struct.pack('c3', 'abcdef')",
    "struct.pack('c0', 'abc')",
    "struct.pack('s', 'hi')",
    "struct.pack('x')",
    "struct.pack('c5', 'ab')",
    "struct.pack('q', 1)",
    "struct.pack('!3 i', 1)",
    "struct.pack('i40', 1)",
    "struct.pack('i')",
    "struct.pack('i', 'x')",
    "struct.pack('i', '12')",
    "struct.pack('I16', 1)",
    "struct.pack('i', 3.7)",
    "struct.pack('i', -3.7)",
    "struct.pack('f', 1e300)",
    "{struct.unpack('>I2', struct.pack('>I2', 258))}",
    "{struct.unpack('<i', struct.pack('<i', -2))}",
    "{struct.unpack('bBhH', struct.pack('bBhH', -1, 255, -2, 65535))}",
    "{struct.unpack('s', 'hi\\0rest')}",
    "{struct.unpack('B c0', '\\3abcd')}",
    "{struct.unpack('c0', 'abc')}",
    "{struct.unpack('i', 'ab')}",
    "{struct.unpack('b', 'abc', 2)}",
    "{struct.unpack('b', 'abc', 0)}",
    "{struct.unpack('s', 'abc')}",
    "{struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}",
    "tostring(struct.unpack('d', struct.pack('d', 0.1)))",
    "tostring(struct.unpack('f', struct.pack('f', 0.1)))",
    "struct.size('!4 b i')",
    "struct.size('bhld')",
    "struct.size('s')",
    "struct.size('c0')",
    "struct.size('c7 x')",
    "{pcall(struct.pack, 'i', 'x')}",
    "{struct.unpack('l', struct.pack('l', -1))}",
    "{struct.unpack('L', struct.pack('l', -1))}",
    "struct.pack('s')",
    "struct.pack('i i', 1)",
    "struct.unpack('i')",
    "struct.size()",
]


def test_struct_matches_redis(differential: Differential) -> None:
    differential.check(*[("EVAL", f"return {e}", "0") for e in STRUCT_EXPRESSIONS])


#: bit (LuaBitOp): 32-bit wrap-around, rounding, hex formatting, numeric strings, errors.
BIT_EXPRESSIONS = [
    "bit.tobit(0xffffffff)",
    "bit.tobit(2^32+5)",
    "bit.tobit(1.5)",
    "bit.tobit(2.5)",
    "bit.tobit(-1.5)",
    "bit.tohex(255)",
    "bit.tohex(255, 2)",
    "bit.tohex(255, -4)",
    "bit.tohex(-1)",
    "bit.tohex(1, 20)",
    "bit.bnot(0)",
    "bit.band(7, 3, 5)",
    "bit.bor(1, 2, 4)",
    "bit.bxor(5, 3)",
    "bit.lshift(1, 31)",
    "bit.lshift(1, 33)",
    "bit.rshift(-1, 28)",
    "bit.arshift(-256, 4)",
    "bit.rol(0x12345678, 12)",
    "bit.ror(0x12345678, 12)",
    "bit.bswap(0x12345678)",
    "bit.band('7', 3)",
    "bit.band('0x10', 0xff)",
    "bit.band()",
    "bit.band(1, nil)",
    "bit.band({})",
    "bit.bor('x')",
    "{pcall(bit.band, 'x')}",
    "bit.tobit(1e300)",
    "bit.band(1, 2, 3, 4, 5, 6, 7, 8)",
    "bit.tohex(0x7fffffff, -8)",
]


def test_bit_matches_redis(differential: Differential) -> None:
    differential.check(*[("EVAL", f"return {e}", "0") for e in BIT_EXPRESSIONS])


def test_errors_inside_scripts_count_once_in_errorstats(differential: Differential) -> None:
    differential.check(
        ("CONFIG", "RESETSTAT"),
        S,
        (E, "return redis.call('incr', 's')", "0"),  # the command's error, passed on
        (E, "return redis.pcall('incr', 's')", "0"),
        (E, "return redis.call('nosuch')", "0"),  # rejected before running
        (E, "error('mine')", "0"),
        ("INFO", "errorstats"),
        resp=(2,),
    )


@pytest.fixture
def mk(server: ServerProcess) -> Any:
    client = server.client()
    client.flushall()
    client.script_flush()
    yield client
    client.close()


SANDBOX_ESCAPES = [
    "return io.open('/etc/passwd')",
    "return os.execute('true')",
    "return debug.getinfo(1)",
    "return require('os')",
    "return package.loaded.os",
    "return dofile('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return python.eval('1')",
    "return getfenv(0)",
    "return newproxy(true)",
    "return module('x')",
]


@pytest.mark.parametrize("script", SANDBOX_ESCAPES)
def test_nothing_outside_the_sandbox_is_reachable(mk: redis.Redis, script: str) -> None:
    with pytest.raises(redis.ResponseError, match="nonexistent global variable"):
        mk.eval(script, 0)


def test_bytecode_is_refused(mk: redis.Redis) -> None:
    # Crafted bytecode can corrupt a stock Lua 5.1's memory: never loaded.
    got = mk.eval("local f, e = loadstring(string.dump(function() return 1 end)); return e", 0)
    assert got == b"minikv refuses to load precompiled Lua bytecode"
    got = mk.eval(
        "local s = string.dump(function() return 1 end); local done = false; "
        "local f, e = load(function() if done then return nil end; done = true; return s end); "
        "return e",
        0,
    )
    assert got == b"minikv refuses to load precompiled Lua bytecode"


def test_no_python_object_reaches_a_script(mk: redis.Redis) -> None:
    """Errors raised by the redis.* functions are caught as Lua tables or strings, never as
    the Python exception that carries them; and no value a script can name is userdata."""
    mk.set("s", "a")
    got = mk.eval(
        """
        local seen = {}
        local function note(x) seen[#seen + 1] = type(x) end
        note(select(2, pcall(redis.call, 'incr', 's')))
        note(select(2, pcall(redis.sha1hex)))
        note(select(2, pcall(redis.setresp, 9)))
        note(select(2, pcall(redis.log)))
        note(select(2, xpcall(function() redis.call('nosuch') end, function(e) return e end)))
        note(select(2, coroutine.resume(coroutine.create(function() redis.call('x') end))))
        for name, v in pairs(_G) do note(v) end
        for name, v in pairs(string) do note(v) end
        local bad = {}
        for _, t in ipairs(seen) do if t == 'userdata' then bad[#bad + 1] = t end end
        return {#seen, #bad}
        """,
        0,
    )
    assert got[0] > 30 and got[1] == 0


@pytest.mark.parametrize(
    "expr",
    [
        "redis.call.__class__",
        "redis.call.__self__",
        "redis.call.__func__",
        "redis.call.__globals__",
        "redis.call.__closure__",
        "redis.pcall.__call__",
        "redis.call[1]",
        "redis.call['__dict__']",
    ],
)
def test_the_python_functions_behind_redis_are_opaque(mk: redis.Redis, expr: str) -> None:
    """redis.call and friends are Python callables (so that the script's frame stays on the
    stack for error lines); nothing but calling them works from Lua."""
    with pytest.raises(redis.ResponseError, match="are not available to scripts"):
        mk.eval(f"return {expr}", 0)


def test_scripts_leave_nothing_for_the_next_one(mk: redis.Redis) -> None:
    for attempt in [
        "string.format = nil",
        "rawset(string, 'format', nil)",
        "getmetatable('').__index = {}",
        "setmetatable(_G, {})",
        "rawset(_G, 'planted', 1)",
        "planted = 1",
    ]:
        with pytest.raises(redis.ResponseError):
            mk.eval(attempt, 0)
    assert mk.eval("return string.format('%d', 7)", 0) == b"7"
    assert mk.eval("return ('x'):rep(3)", 0) == b"xxx"
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'planted'"):
        mk.eval("return planted", 0)
    # A chunk a script loads sees the script's globals, not a scratch space shared by all.
    with pytest.raises(redis.ResponseError, match="readonly table"):
        mk.eval("loadstring('shared = 1')()", 0)
    assert mk.eval("return loadstring('return KEYS[1]')()", 1, "k") == b"k"


def test_writes_propagate_as_their_effects(mk: redis.Redis) -> None:
    mk.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        mk.execute_command("DEBUG", "PROPAGATION", "READ")
        mk.eval(
            "redis.call('set', KEYS[1], 'v', 'EX', 100); redis.call('incr', 'n'); "
            "redis.call('get', 'n'); return 1",
            1,
            "k",
        )
        stream = mk.execute_command("DEBUG", "PROPAGATION", "READ")
        mk.eval("redis.call('get', 'n')", 0)  # no write: nothing
        mk.eval("redis.call('incr', 'n')", 0)  # one write: no MULTI
        mk.eval("redis.set_repl(redis.REPL_NONE); redis.call('incr', 'n')", 0)
        rest = mk.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        mk.execute_command("DEBUG", "PROPAGATION", "OFF")
    names = [cmd[0].upper() for cmd in stream]
    assert names == [b"SELECT", b"MULTI", b"SET", b"INCR", b"EXEC"]
    assert stream[2][3].upper() == b"PXAT"  # the script's relative expiry, made absolute
    assert rest == [[b"incr", b"n"]]  # as the script wrote it, like Redis's stream
    assert mk.get("n") == b"3"


def test_eval_in_multi_and_watch(mk: redis.Redis) -> None:
    pipe = mk.pipeline(transaction=True)
    pipe.eval("return redis.call('incr', KEYS[1])", 1, "c")
    pipe.eval("return redis.call('incr', KEYS[1])", 1, "c")
    assert pipe.execute() == [1, 2]
    # A script's write touches WATCHed keys like any other write.
    watcher = mk.pipeline(transaction=True)
    watcher.watch("c")
    mk.eval("return redis.call('incr', KEYS[1])", 1, "c")
    watcher.multi()
    watcher.set("c", "x")
    with pytest.raises(redis.WatchError):
        watcher.execute()
    assert mk.get("c") == b"3"


def test_a_script_write_wakes_a_blocked_client(server: ServerProcess, mk: redis.Redis) -> None:
    got: list[Any] = []
    blocker = server.client()
    t = threading.Thread(target=lambda: got.append(blocker.blpop(["q"], timeout=10)))
    t.start()
    deadline = time.monotonic() + 10
    while mk.info("clients")["blocked_clients"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    mk.eval("redis.call('rpush', KEYS[1], 'job')", 1, "q")
    t.join(10)
    blocker.close()
    assert got == [(b"q", b"job")]


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_scripts_and_lock(server: ServerProcess, protocol: int) -> None:
    """redis-py's Script objects (EVALSHA, falling back to EVAL on NOSCRIPT) and its Lock,
    whose acquire, extend and release are Lua scripts."""
    client = server.client(protocol=protocol)
    try:
        client.flushall()
        client.script_flush()
        add = client.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
        assert add(keys=["n"], args=[5]) == 5
        assert add(keys=["n"], args=[2]) == 7
        assert client.script_exists(add.sha) == [True]

        lock = client.lock("resource", timeout=5, blocking=False)
        other = client.lock("resource", timeout=5, blocking=False)
        assert lock.acquire()
        assert not other.acquire()
        assert lock.extend(10)
        assert 5000 < client.pttl("resource") <= 15000
        other.local.token = b"not-the-owner"
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            other.release()  # the release script checks the token
        other.local.token = b"not-the-owner"  # release() forgot it
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            other.extend(10)
        assert client.exists("resource") == 1
        lock.release()
        assert client.get("resource") is None
        assert other.acquire()
        other.release()
    finally:
        client.close()


def test_eval_refused_while_writes_are(tmp_path: Any) -> None:
    """After a failed background save (its child killed), writes inside a script get Redis's
    MISCONF error, and a script declaring it may write is refused before it runs."""
    with ServerProcess("--rdb-key-save-delay", "1000", "--save", "3600 1", dir=str(tmp_path)) as s:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", "2000")
        c.bgsave()
        child = int(wait_for(lambda: _child_pid(s.proc.pid), what="child pid"))
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: bgsave_done(c), what="reap")
        assert persistence(c)["rdb_last_bgsave_status"] == "err"
        with pytest.raises(redis.ResponseError, match=r"^MISCONF .* script: "):
            c.eval("return redis.call('set', 'k', 'x')", 0)
        with pytest.raises(redis.ResponseError, match="Writable scripts are blocked"):
            c.eval("#!lua\nreturn 1", 0)
        assert c.eval("return redis.call('get', 'key:1')", 0) == b"value:1"
        assert c.eval("#!lua flags=no-writes\nreturn redis.call('get', 'key:1')", 0) == b"value:1"
        c.config_set("rdb-key-save-delay", "0")


def test_commands_run_by_scripts_are_counted(mk: redis.Redis) -> None:
    mk.config_resetstat()
    mk.eval("redis.call('set', 'a', 1); redis.call('get', 'a'); redis.call('get', 'a')", 0)
    stats = mk.info("commandstats")
    assert stats["cmdstat_get"]["calls"] == 2
    assert stats["cmdstat_set"]["calls"] == 1
    assert stats["cmdstat_eval"]["calls"] == 1


def test_script_flush_resets_the_interpreter(mk: redis.Redis) -> None:
    sha = mk.script_load("return 1")
    info = mk.info("memory")
    assert info["number_of_cached_scripts"] == 1
    assert info["used_memory_scripts_eval"] == 40 + len("return 1")
    assert info["used_memory_lua"] > 10_000  # the interpreter with the sandbox loaded
    assert mk.script_exists(sha) == [True]
    mk.script_flush()
    assert mk.script_exists(sha) == [False]
    assert mk.info("memory")["number_of_cached_scripts"] == 0
    with pytest.raises(redis.exceptions.NoScriptError):
        mk.evalsha(sha, 0)
    assert mk.eval("return 2", 0) == 2


def test_raw_protocol_errors_of_eval(server: ServerProcess) -> None:
    replies = run_raw(server.port, [("EVAL",), ("EVAL", "return 1"), ("EVALSHA", "x")])
    assert all(r.startswith(b"-ERR wrong number of arguments") for r in replies)


def test_a_result_that_contains_itself_ends(server: ServerProcess) -> None:
    """A table holding itself is cut at a fixed depth with Redis's error, not followed until
    the server runs out of stack."""
    import socket

    from helpers import encode

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(encode(E, "local t = {}; t[1] = t; return t", "0") + encode("PING"))
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = sock.recv(65536)
            assert chunk, data[-200:]
            data += chunk
    assert b"-ERR reached lua stack limit\r\n" in data
