"""Lua scripting (EVAL and friends): a sandboxed Lua 5.1 interpreter with Redis's API.

The interpreter is ``lupa.lua51`` (Lua 5.1, the version Redis embeds), created on the first
script and reset by SCRIPT FLUSH. What a script can reach is built by ``_SANDBOX`` (Lua code
run once per interpreter, before any user code):

- the globals Redis 7 allows (``string``, ``table``, ``math``, ``pcall``, ``loadstring``...),
  nothing else: no ``io``, ``os``, ``debug``, ``package``/``require``, ``dofile``/``loadfile``,
  ``print``, ``setfenv``/``getfenv``, ``newproxy``, and none of lupa's ``python`` bridge;
- each run gets a fresh global environment whose reads of a missing name and writes raise
  Redis's errors ("Script attempted to access nonexistent global variable 'x'", "Attempt to
  modify a readonly table"); the library tables and the string metatable are read-only views
  (``rawset`` refuses them too), so no script can leave state or traps behind for the next one;
- ``loadstring``/``load`` refuse precompiled bytecode (stock Lua 5.1 trusts it, and crafted
  bytecode can corrupt memory);
- the Python functions behind ``redis.call`` and the like are what the sandbox hands out
  (lupa's callables, entered through C, so that ``return redis.call(...)`` keeps the script's
  frame for error lines); a script can only call them: every Python attribute lookup from Lua is
  refused, and the exception a callback raises to signal an error is swapped for its Lua error
  table wherever Lua code can catch it.

``redis.call`` runs a command through the same path as a client's (``minikv.commands.call``:
stats, the change hook, propagation) on a ``ScriptClient``, a context of its own with its own
selected database and protocol, as Redis's Lua client. The reply is encoded in the script's
protocol and parsed back into Lua values, as Redis converts it, so that every command's reply
converts by the same rules. The script's result is encoded for the caller by ``_Converter``,
Redis's luaReplyToRedisReply.

``cjson`` (lua-cjson with its default settings: encode, decode, null), ``cmsgpack``
(lua-cmsgpack: pack, unpack, unpack_one, unpack_limit), ``struct`` (pack, unpack, size) and
``bit`` (LuaBitOp) are written here in Python over the same callbacks, and checked against
redis-server's.

A script past ``busy-reply-threshold`` makes the server busy: a count hook (every 100000 Lua
instructions) lets the server answer the other clients (``serve_while_busy``, minikv.busy)
with BUSY, SCRIPT KILL (``kill``) or SHUTDOWN NOSAVE; a killed script gets its error from a
line hook, so that pcall cannot catch it for good.

Functions (FUNCTION LOAD / FCALL) run in a second interpreter, made on the first FUNCTION LOAD,
as Redis keeps one apart from EVAL's: a library's code runs once with only the load API
(``redis.register_function``, ``redis.log``), and what it registers is kept by the registry of
``minikv.functions``; the functions then run with the same globals, callbacks and conversions
as scripts, called with their keys and arguments. ``_vm`` is the interpreter the callbacks
work in: the one running (or loading) code now.

Not yet: SCRIPT DEBUG (refused with an error saying so).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shlex
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgpack

from minikv import acl
from minikv.commands import call as call_command
from minikv.commands import lookup
from minikv.eviction import OOM
from minikv.functions import BAD_NAME, Function, Functions, Library, valid_name
from minikv.internal_client import InternalClient
from minikv.protocol import Raw, ReplyError, format_double

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.config import Config

NOSCRIPT = ReplyError("NOSCRIPT No matching script. Please use EVAL.")
BUSY = ReplyError(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
)
BUSY_FUNCTION = ReplyError(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)

_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1

# Shebang flags (Redis 7's ``#!lua flags=...``). minikv has no replicas or cluster yet, so
# allow-stale, no-cluster and allow-cross-slot-keys relax checks that never fail here;
# no-writes makes the script read-only; allow-oom lets it run while memory is over maxmemory.
NO_WRITES = 1
ALLOW_OOM = 2
SCRIPT_FLAGS = {
    "no-writes": NO_WRITES,
    "allow-oom": ALLOW_OOM,
    "allow-stale": 4,
    "no-cluster": 8,
    "allow-cross-slot-keys": 16,
}
#: No shebang: Redis's EVAL compatibility mode (each write checked as it is made).
COMPAT = 1 << 10

# The sandbox. Called with the table of Python callbacks (``Scripting._api``); returns
# (compile, run, rawget, memory). Frames from this chunk ("=minikv") are skipped when an error
# is located in the script. The redis.* functions are the Python callbacks themselves: called
# through lupa's C entry point, they leave the caller's frame in place even for
# ``return redis.call(...)`` (a Lua wrapper would be a tail call and lose the script's line).
# A callback raises an error by raising ``LuaRaise`` holding the error table; every place where
# Lua code can catch an error (the error handler, pcall, xpcall, coroutine.resume) swaps the
# exception for its table (``api.unwrap``), so no script ever holds a Python object.
_SANDBOX = r"""
local api = ...
local unwrap = api.unwrap
local type, error, tostring, select, rawget, setmetatable, next =
      type, error, tostring, select, rawget, setmetatable, next
local unpack, pcall, xpcall, loadstring, load = unpack, pcall, xpcall, loadstring, load
local pairs = pairs
local setfenv, getinfo, sethook = setfenv, debug.getinfo, debug.sethook
local string_byte, table_concat = string.byte, table.concat
local co_resume = coroutine.resume

local function readonly_error() error("Attempt to modify a readonly table", 2) end

-- Read-only views of the library tables: empty proxies reading through to the real table.
-- rawset/rawget/next see through them too, so a script can neither plant a field in a
-- library (for the next script to trip on) nor tell a view from the table.
local real_of = setmetatable({}, {__mode = 'k'})  -- view or script globals -> real table
local function readonly(t)
  local view = setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
  real_of[view] = t
  return view
end
local raw_set, raw_next = rawset, next
local function safe_rawset(t, k, v)
  if real_of[t] then error("Attempt to modify a readonly table", 0) end
  return raw_set(t, k, v)
end
local function safe_rawget(t, k) return rawget(real_of[t] or t, k) end
local function safe_next(t, k) return raw_next(real_of[t] or t, k) end
local function safe_pairs(t)
  if real_of[t] then return safe_next, t, nil end
  return pairs(t)
end

local function pack(...) return {n = select('#', ...), ...} end

local function caught(e)
  if type(e) == 'userdata' then return unwrap(e) end
  return e
end

-- Redis 7's pcall: an error raised as a table with an 'err' string gives that string.
local function redis_pcall(f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then
    local e = caught(r[2])
    if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then e = rawget(e, 'err') end
    return false, e
  end
  return unpack(r, 1, r.n)
end

local function redis_xpcall(f, handler)
  return xpcall(f, function(e) return handler(caught(e)) end)
end

local function resume(co, ...)
  local r = pack(co_resume(co, ...))
  if not r[1] then r[2] = caught(r[2]) end
  return unpack(r, 1, r.n)
end

local current_env  -- the globals of the script that is running

-- A chunk a script loads shares the script's globals (not the interpreter's real ones).
local function no_bytecode(s, name)
  if type(s) == 'string' and string_byte(s, 1) == 27 then
    return nil, "minikv refuses to load precompiled Lua bytecode"
  end
  local f, e = loadstring(s, name)
  if f and current_env then setfenv(f, current_env) end
  return f, e
end

local function safe_load(f, name)
  if type(f) == 'string' then return no_bytecode(f, name) end
  if type(f) ~= 'function' then return load(f, name) end  -- load's own error
  local parts = {}
  while true do
    local piece = f()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  return no_bytecode(table_concat(parts), name)
end

-- cjson.null: a userdata no script can make, as Redis's lightuserdata NULL.
local null = newproxy()

local redis = {
  call = api.call, pcall = api.pcall, sha1hex = api.sha1hex,
  error_reply = api.error_reply, status_reply = api.status_reply,
  log = api.log, setresp = api.setresp, set_repl = api.set_repl,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = "7.0.15", REDIS_VERSION_NUM = 0x0007000f,
}


local allowed = {
  'tostring', 'setmetatable', 'next', 'assert', 'tonumber', 'rawequal',
  'collectgarbage', 'getmetatable', 'rawset', 'type', 'select', 'unpack', 'gcinfo',
  'pairs', 'rawget', 'ipairs', '_VERSION', 'error',
}
local G = {}
for _, name in ipairs(allowed) do G[name] = _G[name] end
G.pcall = redis_pcall
G.xpcall = redis_xpcall
G.rawset, G.rawget, G.next, G.pairs = safe_rawset, safe_rawget, safe_next, safe_pairs
G.loadstring = no_bytecode
G.load = safe_load
G.string = readonly(string)
-- The string metatable's __index is the real string table: scripts see a read-only stand-in.
getmetatable('').__metatable = readonly({__index = G.string})
G.table = readonly(table)
G.math = readonly(math)
local co = {}
for k, v in pairs(coroutine) do co[k] = v end
co.resume = resume
G.coroutine = readonly(co)
G.redis = readonly(redis)
G.cjson = readonly({encode = api.cjson_encode, decode = api.cjson_decode, null = null})
G.cmsgpack = readonly({
  pack = api.cmsgpack_pack, unpack = api.cmsgpack_unpack,
  unpack_one = api.cmsgpack_unpack_one, unpack_limit = api.cmsgpack_unpack_limit,
})
G.struct = readonly({pack = api.struct_pack, unpack = api.struct_unpack, size = api.struct_size})
G.bit = readonly({
  tobit = api.bit_tobit, tohex = api.bit_tohex, bnot = api.bit_bnot, band = api.bit_band,
  bor = api.bit_bor, bxor = api.bit_bxor, lshift = api.bit_lshift, rshift = api.bit_rshift,
  arshift = api.bit_arshift, rol = api.bit_rol, ror = api.bit_ror, bswap = api.bit_bswap,
})

-- The error of reading a global that does not exist, from an __index metamethod (level 3:
-- the code that read it).
local function missing(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end

local env_mt = {
  __index = function(env, k)
    if k == '_G' then return env end
    local v = G[k]
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
}

-- Where an error happened: the innermost frame of the user's code.
local function err_handler(err)
  err = caught(err)
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  for level = 2, 50 do
    local i = getinfo(level, 'Sl')
    if not i then break end
    if i.what ~= 'C' and i.source ~= '=minikv' then
      err.source = i.source
      err.line = i.currentline
      break
    end
  end
  return err
end

local function compile(body)
  local f, e = loadstring(body, '@user_script')
  if not f then return false, e end
  return true, f
end

-- A count hook (every 100000 instructions) asking check() whether to stop: once it says
-- so, the hook raises `message` on every line, so that no pcall can swallow it and carry on.
local function stopping_hook(check, message)
  local function every_line() error({err = message}) end
  return function()
    if check() then
      sethook(every_line, 'l')
      error({err = message})
    end
  end
end
-- A busy script: api.interrupt lets the server answer other clients, and says whether the
-- script was killed.
local count_hook = stopping_hook(api.interrupt, 'ERR Script killed by user with SCRIPT KILL...')

local function run(f, keys, argv, watch)
  local env = setmetatable({}, env_mt)
  real_of[env] = G
  G.KEYS, G.ARGV = keys, argv
  current_env = env
  setfenv(f, env)
  if watch then sethook(count_hook, '', 100000) end
  -- One line: after a kill the line hook fires on every new line, so the hook must be gone
  -- before this function reaches its next one.
  local ok, v = xpcall(f, err_handler) sethook() current_env = nil
  return ok, v
end

local collectgarbage = collectgarbage
local function memory() return collectgarbage('count') end

-- Functions (FUNCTION LOAD / FCALL; used only in the functions interpreter). Every library's
-- code runs with one environment: while a library loads it reads only the load API (a
-- `redis` with register_function and log, as Redis's), afterwards the full globals, which is
-- what the functions the code registered (closures of that environment) see when called.
-- It can never be written, so libraries share nothing but their own upvalues.
-- Its `redis` refuses a missing field as the globals do (Redis's error metatable).
local load_redis = {
  register_function = api.register_function, log = api.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local load_redis_view = setmetatable({}, {
  __index = function(_, k)
    local v = load_redis[k]
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})
real_of[load_redis_view] = load_redis
local load_api = {redis = load_redis_view}
local loading = false
local fenv = setmetatable({}, {
  __index = function(env, k)
    local v
    if loading then v = load_api[k] elseif k == '_G' then v = env else v = G[k] end
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})
real_of[fenv] = G

-- FUNCTION LOAD's time limit.
local load_hook = stopping_hook(api.load_timed_out, 'ERR FUNCTION LOAD timeout')

-- Compile a library's code and run it once; (true) or (false, 'compile'|'run', error).
local function load_library(code, limited)
  local f, e = loadstring(code, '@user_function')
  if not f then return false, 'compile', e end
  setfenv(f, fenv)
  loading = true
  if limited then sethook(load_hook, '', 100000) end
  local ok, err = pcall(f) sethook() loading = false
  if not ok then return false, 'run', caught(err) end
  return true
end

local function call_function(f, keys, args, watch)
  current_env = fenv
  if watch then sethook(count_hook, '', 100000) end
  local ok, v = xpcall(function() return f(keys, args) end, err_handler) sethook()
  current_env = nil
  return ok, v
end

-- luaL_where(1) for a library function the script called (cjson...): "user_script:<line>: "
-- of its caller, "" when the caller is C (pcall). Level 1 is this, 2 the library function.
local function where()
  local i = getinfo(3, 'Sl')
  if i and i.what ~= 'C' and (i.currentline or 0) > 0 then
    return i.short_src .. ':' .. i.currentline .. ': '
  end
  return ''
end

-- Nothing a script can name leads back here: drop every global the sandbox does not give.
local globals = _G
for k in next, globals do globals[k] = nil end
return compile, run, rawget, memory, null, where, load_library, call_function
"""


class LuaRaise(Exception):
    """Raised by a callback to raise ``table`` (a Lua error table) in the script."""

    def __init__(self, table: Any) -> None:
        super().__init__("lua error")
        self.table = table


@dataclass(slots=True)
class Script:
    """One cached script: the body EVAL / SCRIPT LOAD gave, its flags, its Lua function."""

    sha: str
    body: bytes
    flags: int
    fn: Any


def sha1hex(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


def parse_shebang(body: bytes) -> tuple[int, int]:
    """(flags, length of the shebang line) of a body, as Redis's evalExtractShebangFlags."""
    if not body.startswith(b"#!"):
        return COMPAT, 0
    end = body.find(b"\n")
    if end < 0:
        raise ReplyError("ERR Invalid script shebang")
    try:
        parts = shlex.split(body[:end].decode(errors="replace"))
    except ValueError:
        parts = []
    if not parts:
        raise ReplyError("ERR Invalid engine in script shebang")
    if parts[0] != "#!lua":
        raise ReplyError(f"ERR Unexpected engine in script shebang: {parts[0]}")
    flags = 0
    for part in parts[1:]:
        if not part.startswith("flags="):
            raise ReplyError(f"ERR Unknown lua shebang option: {part}")
        for name in part[6:].split(","):
            if name not in SCRIPT_FLAGS:
                raise ReplyError(f"ERR Unexpected flag in script shebang: {name}")
            flags |= SCRIPT_FLAGS[name]
    return flags, end


class ScriptClient(InternalClient):
    """The context ``redis.call`` runs commands in (Redis's Lua client): the caller's server,
    its own selected database (a SELECT in a script does not change the caller's) and its own
    protocol (RESP2 unless the script calls ``redis.setresp(3)``). ``last_cmd`` stays the
    script command, so blocking commands answer at once instead of blocking.

    It tracks keys for its caller (CLIENT TRACKING): as Redis does, each read command the
    script runs remembers the keys the script was given (``script_keys``), read or not, and
    not the keys the read names (``Tracking.remember``)."""

    #: MONITOR shows its commands as ``[db lua]``.
    is_script = True

    def __init__(self, caller: Context, last_cmd: str, keys: list[bytes] | None = None) -> None:
        super().__init__(caller.server, caller.db, last_cmd)
        self.tracking = caller.tracking
        self.script_keys = keys or []
        self.id = caller.id
        self.addr = caller.addr
        self.laddr = caller.laddr
        self.name = caller.name
        self.lib_name = caller.lib_name
        self.lib_ver = caller.lib_ver
        self.user = caller.user  # redis.call runs with the caller's permissions


@dataclass(slots=True)
class _Run:
    """What the callbacks need while one script runs."""

    client: ScriptClient
    caller: Context
    sha: str
    read_only: bool
    started: float = 0.0  # time.monotonic()
    threshold: float = 0.0  # busy-reply-threshold, seconds
    wrote: bool = False
    propagate: bool = True
    killed: bool = False
    #: A function (FCALL), not an EVAL script: what FUNCTION STATS shows, which KILL stops it.
    function: bool = False
    command: list[bytes] | None = None
    #: The shebang said allow-oom: denyoom commands run while over maxmemory.
    allow_oom: bool = False


@dataclass(slots=True)
class _Vm:
    """One Lua interpreter with the sandbox installed: the entry points it returned."""

    lua: Any
    table_from: Any
    lua_type: Any
    compile: Any
    run: Any
    rawget: Any
    memory: Any
    null: Any
    where: Any
    load_library: Any
    call_function: Any


class Scripting:
    """The script cache and the interpreter (Redis's ``lctx``), one per server."""

    def __init__(self, log: logging.Logger, config: Config) -> None:
        self.log = log
        self.config = config
        #: A script has run past busy-reply-threshold: other clients get BUSY (Redis's
        #: "timed out" state). Set and cleared only here.
        self.busy = False
        #: The server's hooks for a busy script: answer the other clients now (given the
        #: caller, whose own requests wait), and clean up once the script is over.
        self.serve_while_busy: Callable[[Context], None] | None = None
        self.busy_over: Callable[[], None] | None = None
        self.scripts: dict[str, Script] = {}
        # EVAL's interpreter, made on the first script and dropped by SCRIPT FLUSH, and the
        # functions' one (Redis keeps the two apart too), made on the first FUNCTION LOAD.
        self._eval_vm: _Vm | None = None
        self._fn_vm: _Vm | None = None
        #: The interpreter the callbacks work in: the one running (or loading) code now.
        self._vm: _Vm = None  # type: ignore[assignment]  # set before any callback can run
        self.functions = Functions(self)
        self._loading: Library | None = None  # the library FUNCTION LOAD is running
        self._load_deadline = 0.0
        self._struct_big = False  # byte order of the struct format being read
        self._run: _Run | None = None

    # --- the interpreter -------------------------------------------------------------------

    def _eval_runtime(self) -> _Vm:
        if self._eval_vm is None:
            self._eval_vm = self._new_vm()
        self._vm = self._eval_vm
        return self._eval_vm

    def _fn_runtime(self) -> _Vm:
        if self._fn_vm is None:
            self._fn_vm = self._new_vm()
        self._vm = self._fn_vm
        return self._fn_vm

    def _new_vm(self) -> _Vm:
        from lupa import lua51  # imported on the first script: costs nothing until then

        def deny_get(obj: object, name: object) -> Any:
            raise AttributeError("not available to scripts")

        def deny_set(obj: object, name: object, value: object) -> None:
            raise AttributeError("not available to scripts")

        lua = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_handlers=(deny_get, deny_set),
        )
        api = lua.table_from(
            {
                name.encode(): _guarded(fn, self._err_table)
                for name, fn in (
                    ("call", self._lua_call),
                    ("pcall", self._lua_pcall),
                    ("sha1hex", self._lua_sha1hex),
                    ("error_reply", self._lua_error_reply),
                    ("status_reply", self._lua_status_reply),
                    ("log", self._lua_log),
                    ("setresp", self._lua_setresp),
                    ("set_repl", self._lua_set_repl),
                    ("interrupt", self._interrupt),
                    ("register_function", self._lua_register_function),
                    ("load_timed_out", self._load_timed_out),
                    ("cjson_encode", self._cjson_encode),
                    ("cjson_decode", self._cjson_decode),
                    ("cmsgpack_pack", self._mp_pack),
                    ("struct_pack", self._struct_pack),
                    ("struct_unpack", self._struct_unpack),
                    ("struct_size", self._struct_size),
                    ("cmsgpack_unpack", self._mp_unpack),
                    ("cmsgpack_unpack_one", self._mp_unpack_one),
                    ("cmsgpack_unpack_limit", self._mp_unpack_limit),
                    *((f"bit_{name}", self._bit_function(name)) for name in _BIT_FUNCTIONS),
                )
            }
            | {b"unwrap": self._unwrap}
        )
        sandbox = lua.eval("function(src) return loadstring(src, '=minikv') end")(_SANDBOX.encode())
        return _Vm(lua, lua.table_from, lua51.lua_type, *sandbox(api))

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a new interpreter."""
        self.scripts.clear()
        self._eval_vm = None

    @property
    def memory(self) -> int:
        """Bytes EVAL's interpreter uses (INFO used_memory_lua), 0 before the first script."""
        return 0 if self._eval_vm is None else int(self._eval_vm.memory() * 1024)

    @property
    def functions_memory(self) -> int:
        """Bytes the functions' interpreter uses (INFO used_memory_vm_functions)."""
        return 0 if self._fn_vm is None else int(self._fn_vm.memory() * 1024)

    @property
    def cache_bytes(self) -> int:
        """What the script cache holds (INFO used_memory_scripts_eval): ids and bodies."""
        return sum(40 + len(sc.body) for sc in self.scripts.values())

    # --- the cache -------------------------------------------------------------------------

    def load(self, body: bytes) -> Script:
        """The cached script of ``body``, compiling it first if it is new (SCRIPT LOAD)."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, skip = parse_shebang(body)
        vm = self._eval_runtime()
        # The shebang line is cut but its newline kept, so line numbers stay the user's.
        ok, fn = vm.compile(body[skip:])
        if not ok:
            msg = fn.decode(errors="replace") if isinstance(fn, bytes) else str(fn)
            raise ReplyError(f"ERR Error compiling script (new function): {msg}")
        script = Script(sha, body, flags, fn)
        self.scripts[sha] = script
        return script

    def get(self, sha: bytes) -> Script | None:
        if len(sha) != 40:
            return None
        return self.scripts.get(sha.decode(errors="replace").lower())

    def declared_writes(self, name: str, args: list[bytes]) -> bool | None:
        """For an EVAL / EVALSHA / FCALL request (or an _RO one): whether the script it would
        run declares that it may write (flags without no-writes), as Redis's getCommandFlags
        makes processCommand see such a request (a write, or not even one that may replicate).
        None when nothing is declared (no shebang: Redis's compatibility mode; an unknown
        script or function; a bad shebang), or for any other command: its table flags rule."""
        base = name.removesuffix("_ro")
        if base == "fcall":
            fn = self.functions.get(args[1])
            if fn is None:
                return None
            flags = fn.flags
        elif base == "evalsha":
            script = self.get(args[1])
            if script is None:
                return None
            flags = script.flags
        elif base == "eval":
            cached = self.scripts.get(sha1hex(args[1]))
            if cached is not None:
                flags = cached.flags
            else:
                try:
                    flags = parse_shebang(args[1])[0]
                except ReplyError:
                    return None
        else:
            return None
        return None if flags & COMPAT else not flags & NO_WRITES

    # --- running ---------------------------------------------------------------------------

    def run(
        self,
        caller: Context,
        script: Script | Function,
        keys: list[bytes],
        argv: list[bytes],
        ro: bool,
        command: list[bytes] | None = None,
    ) -> Any:
        """Run an EVAL ``script`` or a function (FCALL, whose ``command`` FUNCTION STATS shows)
        for ``caller``; returns the reply, encoded for the caller's protocol. Raises ReplyError
        for an error reply (a script error, or a refusal to start)."""
        if self._run is not None:  # a script cannot run scripts (EVAL is noscript)
            raise ReplyError("ERR a script is already running")
        flags = script.flags
        if not flags & COMPAT and not flags & NO_WRITES:
            # A script that declares it may write is refused up front, as Redis 7 does.
            refusal = caller.server.write_refusal()
            if refusal is not None:
                raise ReplyError(
                    "MISCONF Redis is configured to save RDB snapshots, but it's currently "
                    "unable to persist to disk. Writable scripts are blocked. Use 'no-writes' "
                    "flag for read only scripts."
                )
            # As Redis's processCommand sees such a script: a write (NOREPLICAS, READONLY).
            repl_refusal = caller.server.replication.write_refusal()
            if repl_refusal is not None:
                raise repl_refusal
            if ro:
                raise ReplyError("ERR Can not execute a script with write flag using *_ro command.")
            memory = caller.server.keyspace.memory
            if memory.pre_command_oom and memory.maxmemory and not flags & ALLOW_OOM:
                if caller.last_cmd != "exec":
                    # Called directly: Redis refuses it before it runs, as a denyoom command
                    # (its flags come from the shebang); inside EXEC the script's own check.
                    raise OOM
                raise ReplyError(
                    "OOM allow-oom flag is not set on the script, can not run it when used "
                    "memory > 'maxmemory'"
                )
        function = isinstance(script, Function)
        if function:
            vm, name = self._fn_runtime(), script.name
        else:
            vm, name = self._eval_runtime(), script.sha
        read_only = ro or bool(not flags & COMPAT and flags & NO_WRITES)
        state = _Run(ScriptClient(caller, caller.last_cmd, keys), caller, name, read_only)
        state.function, state.command = function, command
        state.allow_oom = bool(not flags & COMPAT and flags & ALLOW_OOM)
        threshold = self.config.busy_reply_threshold
        state.threshold = threshold / 1000
        table_from = vm.table_from
        entry = vm.call_function if function else vm.run
        self._run = state
        state.started = time.monotonic()
        try:
            ok, value = entry(script.fn, table_from(keys), table_from(argv), threshold > 0)
        finally:
            self._run = None
            if self.busy:
                self.busy = False
                if self.busy_over is not None:
                    self.busy_over()
        if not ok:
            raise self._script_error(value, name)
        conv = _Converter(vm.rawget, vm.lua_type, caller.resp, state.client.resp)
        return Raw(conv.convert(value))

    @property
    def busy_error(self) -> ReplyError:
        """What other clients get while a script is busy: which KILL to use depends on what
        runs (Redis's slowevalerr and slowscripterr)."""
        return BUSY_FUNCTION if self._run is not None and self._run.function else BUSY

    def running(self) -> tuple[str, list[bytes], int] | None:
        """(function name, its FCALL command, milliseconds so far) of the running function,
        for FUNCTION STATS; None when none runs. ReplyError while an EVAL script is busy."""
        state = self._run
        if state is None:
            return None
        if not state.function:
            raise BUSY
        return state.sha, state.command or [], int((time.monotonic() - state.started) * 1000)

    # --- functions: the Lua side of FUNCTION LOAD (minikv.functions.Engine) ---------------

    def load_library(self, library: Library, body: bytes, timeout_ms: int) -> None:
        if self._run is not None or self._loading is not None:
            raise ReplyError("ERR a script is already running")
        vm = self._fn_runtime()
        self._loading = library
        self._load_deadline = time.monotonic() + timeout_ms / 1000
        try:
            res = vm.load_library(body, timeout_ms > 0)
        finally:
            self._loading = None
        if res is True:
            return
        _, stage, err = res
        library.functions.clear()  # what it registered before failing dies with it
        if stage == b"compile":
            text = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
            raise ReplyError(f"ERR Error compiling function: {text}")
        raise ReplyError(f"ERR Error registering functions: {self._error_text(err)}")

    def _error_text(self, err: Any) -> str:
        """The message of a Lua error value, as Redis's luaExtractErrorInformation: an error
        table's ``err``, or "ERR " and a string (a number is a string to Lua)."""
        if isinstance(err, bytes):
            return "ERR " + err.decode(errors="replace")
        if _is_number(err):
            return "ERR " + format_number(err)
        if self._vm.lua_type(err) == "table":
            raw = self._vm.rawget(err, b"err")
            if isinstance(raw, bytes):
                return raw.decode(errors="replace")
        return "ERR unknown error"

    def _load_timed_out(self) -> bool:
        return time.monotonic() > self._load_deadline

    def _lua_register_function(self, *args: Any) -> None:
        """redis.register_function(name, callback) or redis.register_function{function_name=,
        callback=, flags=, description=}, with Redis's checks in Redis's order."""
        library = self._loading
        if library is None:
            raise self._raise(
                "ERR redis.register_function can only be called on FUNCTION LOAD command"
            )
        lua_type = self._vm.lua_type
        if len(args) not in (1, 2):
            raise self._raise("ERR wrong number of arguments to redis.register_function")
        name: str | None = None
        desc: bytes | None = None
        callback: Any = None
        flags = 0
        if len(args) == 2:
            name = _lua_string(args[0])
            if name is None:
                raise self._raise("ERR first argument to redis.register_function must be a string")
            if lua_type(args[1]) != "function":
                raise self._raise(
                    "ERR second argument to redis.register_function must be a function"
                )
            callback = args[1]
        else:
            if lua_type(args[0]) != "table":
                raise self._raise(
                    "ERR calling redis.register_function with a single argument is only "
                    "applicable to Lua table (representing named arguments)."
                )
            for key, value in args[0].items():
                k = _lua_string(key)
                if k is None:
                    raise self._raise(
                        "ERR named argument key given to redis.register_function is not a string"
                    )
                k = k.lower()
                if k == "function_name":
                    name = _lua_string(value)
                    if name is None:
                        raise self._raise(
                            "ERR function_name argument given to redis.register_function must "
                            "be a string"
                        )
                elif k == "description":
                    text = _lua_string(value)
                    if text is None:
                        raise self._raise(
                            "ERR description argument given to redis.register_function must "
                            "be a string"
                        )
                    desc = text.encode("utf-8", "surrogateescape")
                elif k == "callback":
                    if lua_type(value) != "function":
                        raise self._raise(
                            "ERR callback argument given to redis.register_function must be a "
                            "function"
                        )
                    callback = value
                elif k == "flags":
                    if lua_type(value) != "table":
                        raise self._raise(
                            "ERR flags argument to redis.register_function must be a table "
                            "representing function flags"
                        )
                    flags = self._function_flags(value)
                else:
                    raise self._raise("ERR unknown argument given to redis.register_function")
            if name is None:
                raise self._raise("ERR redis.register_function must get a function name argument")
            if callback is None:
                raise self._raise("ERR redis.register_function must get a callback argument")
        if not valid_name(name):
            raise self._raise(BAD_NAME.message)
        if name in library.functions:
            raise self._raise("ERR Function already exists in the library")
        library.functions[name] = Function(name, library, callback, flags, desc)

    def _function_flags(self, table: Any) -> int:
        """The flags table of register_function: t[1], t[2]... up to the first nil."""
        flags = 0
        i = 1
        while True:
            v = table[i]
            if v is None:
                return flags
            text = _lua_string(v)
            bit = SCRIPT_FLAGS.get(text.lower()) if text is not None else None
            if bit is None:
                raise self._raise("ERR unknown flag given")
            flags |= bit
            i += 1

    # --- a busy script ---------------------------------------------------------------------

    def _interrupt(self) -> bool:
        """Lua's count hook: past busy-reply-threshold, let the server answer the other
        clients (BUSY, or SCRIPT KILL and SHUTDOWN NOSAVE); True once the script is killed."""
        state = self._run
        if state is None:
            return False
        if not self.busy:
            elapsed = time.monotonic() - state.started
            if elapsed < state.threshold:
                return False
            self.log.warning(
                "Slow script detected: still in execution after %d milliseconds. You can try "
                "killing the script using the SCRIPT KILL command. Script name is: %s.",
                elapsed * 1000,
                state.sha,
            )
            self.busy = True
        if self.serve_while_busy is not None:
            self.serve_while_busy(state.caller)
        return state.killed

    def kill(self, function: bool | None = None) -> None:
        """SCRIPT KILL (``function`` False) or FUNCTION KILL (True), each only for its own
        kind; None is SHUTDOWN NOSAVE, which stops anything, even a script that wrote."""
        state = self._run
        if state is None:
            raise ReplyError("NOTBUSY No scripts in execution right now.")
        if function is not None:
            if state.wrote:
                raise ReplyError(
                    "UNKILLABLE Sorry the script already executed write commands against the "
                    "dataset. You can either wait the script termination or kill the server in "
                    "a hard way using the SHUTDOWN NOSAVE command."
                )
            if function != state.function:
                raise self.busy_error
        state.killed = True

    def _script_error(self, value: Any, sha: str) -> ReplyError:
        """The error reply of a script that raised (Redis's luaCallFunction error path)."""
        if isinstance(value, bytes | bool | int | float) or self._vm.lua_type(value) != "table":
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            return ReplyError(f"ERR Error running script {sha}, {text[:100]}")
        get = self._vm.rawget
        raw = get(value, b"err")
        msg = raw.decode(errors="replace") if isinstance(raw, bytes) else "ERR unknown error"
        source, line = get(value, b"source"), get(value, b"line")
        if isinstance(source, bytes) and isinstance(line, int | float):
            msg += f" script: {sha}, on {source.decode(errors='replace')}:{int(line)}."
        err = ReplyError(msg.replace("\r", " ").replace("\n", " "))
        err.counted = get(value, b"ignore_error_stats_update") is True
        return err

    # --- callbacks from Lua ------------------------------------------------------------------
    #
    # Each is wrapped by ``_guarded``: an error is raised in the script only as ``LuaRaise``
    # with an error table, never as another Python exception.

    def _raise(self, msg: str) -> LuaRaise:
        return LuaRaise(self._err_table(msg))

    def _lib_error(self, msg: str) -> LuaRaise:
        """An error of a Lua library function (cjson...): a string with the script's position,
        as luaL_error raises it."""
        return LuaRaise(self._vm.where() + msg.encode())

    def _unwrap(self, e: Any) -> Any:
        """The error table a callback raised (what a script's pcall & co. see)."""
        if isinstance(e, LuaRaise):
            return e.table  # an error table, or a library's error string
        if isinstance(e, AttributeError):  # from the attribute handlers
            return self._err_table("ERR Python attributes are not available to scripts")
        return self._err_table("ERR internal error in a script callback")

    def _lua_call(self, *args: Any) -> Any:
        ok, value = self._call(True, args)
        if not ok:
            raise LuaRaise(value)
        return value

    def _lua_pcall(self, *args: Any) -> Any:
        return self._call(False, args)[1]

    def _call(self, raise_error: bool, args: tuple[Any, ...]) -> tuple[bool, Any]:
        state = self._run
        if state is None:
            return False, self._err_table(
                "ERR redis.call/pcall can only be called inside a script invocation"
            )
        if not args:
            return False, self._err_table(
                "ERR Please specify at least one argument for this redis lib call"
            )
        argv: list[bytes] = []
        for a in args:
            if isinstance(a, bytes):
                argv.append(a)
            elif isinstance(a, int | float) and not isinstance(a, bool):
                argv.append(b"%.17g" % a)
            else:
                return False, self._err_table(
                    "ERR Lua redis lib command arguments must be strings or integers"
                )
        c = state.client
        cmd = lookup(argv)
        err = None
        if cmd is None or not cmd.min_args <= len(argv) <= cmd.max_args:
            err = (
                "Unknown Redis command called from script"
                if cmd is None
                else "Wrong number of args calling Redis command from script"
            )
        elif "noscript" in cmd.flags:
            err = "This Redis command is not allowed from script"
        elif (
            (user := c.user) is not None
            and not user.unrestricted
            and (denied := user.check(cmd, argv))[0]
        ):
            result, pos = denied
            info = state.caller.info_line()  # the log names the client that ran the script
            c.server.acl.log_denial(user, cmd, argv, result, pos, acl.LUA, info)
            err = acl.script_error(result)
        elif state.read_only and (cmd.is_write or "may_replicate" in cmd.flags):
            err = "Write commands are not allowed from read-only scripts."
        elif cmd.is_write and not state.wrote:
            # Once the script has written, it cannot be stopped half way (Redis's rule).
            refusal = c.server.write_refusal(True)
            if refusal is not None:
                err = refusal.message
            elif self._oom_refused(cmd, state):
                err = OOM.message
        if err is not None:
            if cmd is not None:
                cmd.rejected_calls += 1
            e = ReplyError(err if err.split(" ", 1)[0].isupper() else "ERR " + err)
            c.server.stats.count_error(e)
            t = self._err_table(e.message)
            t[b"ignore_error_stats_update"] = True
            return False, t
        if cmd.is_write:
            state.wrote = True
        if state.propagate:
            reply = call_command(c, cmd, argv)
        else:  # redis.set_repl(redis.REPL_NONE): the effects are not propagated
            consumers = c.server.keyspace.propagation.consumers
            saved = list(consumers)
            consumers.clear()
            try:
                reply = call_command(c, cmd, argv)
            finally:
                consumers.extend(saved)
        data = c.encode(reply)
        value, _ = self._parse(data, 0)
        return not (raise_error and data[:1] == b"-"), value

    def _oom_refused(self, cmd: Any, state: _Run) -> bool:
        """Redis's scriptVerifyOOM: a denyoom command is refused while memory was over
        maxmemory when the script started, unless the script already wrote or its shebang
        says allow-oom."""
        memory = state.caller.server.keyspace.memory
        return (
            memory.pre_command_oom
            and bool(memory.maxmemory)
            and "denyoom" in cmd.flags
            and not state.allow_oom
        )

    def _err_table(self, msg: str) -> Any:
        return self._vm.table_from({b"err": msg.encode()})

    def _lua_sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._raise("ERR wrong number of arguments")
        (s,) = args
        if not isinstance(s, bytes):
            s = format_number(s).encode() if _is_number(s) else b""
        return sha1hex(s).encode()

    def _lua_error_reply(self, *args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], bytes):
            return self._err_table("ERR wrong number or type of arguments")
        text = args[0].decode(errors="replace")
        text = text[1:] if text.startswith("-") else text
        code, sep, msg = text.partition(" ")
        final = f"{code} {msg}" if sep else f"ERR {text}"
        return self._err_table(final.rstrip("\r\n"))

    def _lua_status_reply(self, *args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], bytes):
            return self._err_table("ERR wrong number or type of arguments")
        return self._vm.table_from({b"ok": args[0]})

    def _lua_log(self, *args: Any) -> None:
        if len(args) < 2:
            raise self._raise("ERR redis.log() requires two arguments or more.")
        if not _is_number(args[0]):
            raise self._raise("ERR First argument must be a number (log level).")
        level = _lua_int(args[0])
        if not 0 <= level <= 3:
            raise self._raise("ERR Invalid debug level.")
        text = " ".join(
            p.decode(errors="replace") if isinstance(p, bytes) else format_number(p)
            for p in args[1:]
            if isinstance(p, bytes) or _is_number(p)
        )
        py_level = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)[level]
        self.log.log(py_level, "%s", text)

    def _lua_setresp(self, *args: Any) -> None:
        state = self._run
        if state is None:
            raise self._raise("ERR redis.setresp can only be called inside a script invocation")
        if len(args) != 1:
            raise self._raise("ERR redis.setresp() requires one argument.")
        v = _lua_int(args[0]) if _is_number(args[0]) else 0
        if v not in (2, 3):
            raise self._raise("ERR RESP version must be 2 or 3.")
        state.client.set_resp(v)

    def _lua_set_repl(self, *args: Any) -> None:
        state = self._run
        if state is None:
            raise self._raise("ERR redis.set_repl can only be called inside a script invocation")
        if len(args) != 1:
            raise self._raise("ERR redis.set_repl() requires two arguments.")
        v = _lua_int(args[0]) if _is_number(args[0]) else 0
        if v & ~3:
            raise self._raise(
                "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
            )
        if v in (1, 2):
            # minikv has one propagation stream; it cannot send to only one of AOF/replicas.
            raise self._raise("ERR minikv supports only redis.REPL_ALL and redis.REPL_NONE")
        state.propagate = v == 3

    # --- cjson (Redis's bundled lua-cjson, default settings) --------------------------------

    def _cjson_encode(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._lib_error("bad argument #1 to 'encode' (expected 1 argument)")
        out: list[bytes] = []
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + 2500)  # cjson nests 1000 deep; two frames a level here
        try:
            self._json_value(args[0], out, 0)
        finally:
            sys.setrecursionlimit(limit)
        return b"".join(out)

    def _type_name(self, v: Any) -> str:
        if v is None:
            return "nil"
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, bytes):
            return "string"
        if _is_number(v):
            return "number"
        # Any other Python object a script holds is one of the redis.* callables.
        return self._vm.lua_type(v) or "function"

    def _json_value(self, v: Any, out: list[bytes], depth: int) -> None:
        if v is None:
            out.append(b"null")
        elif isinstance(v, bool):
            out.append(b"true" if v else b"false")
        elif isinstance(v, bytes):
            out.append(_json_string(v))
        elif _is_number(v):
            out.append(self._json_number(v))
        else:
            kind = self._type_name(v)
            if kind == "userdata":  # cjson.null: the one userdata a script can hold
                out.append(b"null")
            elif kind == "table":
                self._json_table(v, out, depth + 1)
            else:
                raise self._lib_error(f"Cannot serialise {kind}: type not supported")

    def _json_number(self, v: float) -> bytes:
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            raise self._lib_error("Cannot serialise number: must not be NaN or Inf")
        return format_number(v).encode()

    def _json_table(self, t: Any, out: list[bytes], depth: int) -> None:
        if depth > 1000:
            raise self._lib_error(f"Cannot serialise, excessive nesting ({depth})")
        items = list(t.items())  # lua_next order, as cjson walks it
        size = _json_array_size(items)
        if size is not None and size > 2 * len(items) and size > 10:
            raise self._lib_error("Cannot serialise table: excessively sparse array")
        if size:
            out.append(b"[")
            get = self._vm.rawget
            for i in range(1, size + 1):
                if i > 1:
                    out.append(b",")
                self._json_value(get(t, i), out, depth)
            out.append(b"]")
            return
        out.append(b"{")
        for n, (k, x) in enumerate(items):
            if n:
                out.append(b",")
            if isinstance(k, bytes):
                out.append(_json_string(k))
            elif _is_number(k):
                out.append(b'"%b"' % self._json_number(k))
            else:
                raise self._lib_error(
                    f"Cannot serialise {self._type_name(k)}: table key must be a number or string"
                )
            out.append(b":")
            self._json_value(x, out, depth)
        out.append(b"}")

    def _cjson_decode(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._lib_error("bad argument #1 to 'decode' (expected 1 argument)")
        (text,) = args
        if _is_number(text):
            text = format_number(text).encode()
        if not isinstance(text, bytes):
            raise self._lib_error(
                "bad argument #1 to 'decode' (string expected, got "
                f"{'nil' if text is None else self._vm.lua_type(text) or 'userdata'})"
            )
        try:
            value = json.loads(
                text.decode("utf-8", errors="surrogateescape"),
                parse_int=float,
                parse_constant=float,
                strict=False,
            )
        except json.JSONDecodeError as e:
            raise self._lib_error(_json_error(e)) from None
        except RecursionError:
            raise self._lib_error("Found too many nested data structures") from None
        return self._json_to_lua(value, 0)

    def _json_to_lua(self, v: Any, depth: int) -> Any:
        if v is None:
            return self._vm.null
        if isinstance(v, str):
            return v.encode("utf-8", errors="surrogateescape")
        if isinstance(v, bool | float):
            return v
        if depth >= 1000:
            raise self._lib_error("Found too many nested data structures (1001)")
        if isinstance(v, list):
            return self._vm.table_from([self._json_to_lua(x, depth + 1) for x in v])
        t = self._vm.table_from()
        for k, x in v.items():
            t[k.encode("utf-8", errors="surrogateescape")] = self._json_to_lua(x, depth + 1)
        return t

    # --- cmsgpack (Redis's bundled lua-cmsgpack) ---------------------------------------------

    def _mp_pack(self, *args: Any) -> bytes:
        if not args:
            raise self._lib_error("bad argument #0 to 'pack' (MessagePack pack needs input.)")
        out = bytearray()
        for v in args:
            self._mp_value(v, out, 0)
        return bytes(out)

    def _mp_value(self, v: Any, out: bytearray, level: int) -> None:
        if isinstance(v, bytes):
            n = len(v)
            if n < 32:
                out.append(0xA0 | n)
            elif n <= 0xFF:
                out += b"\xd9" + struct.pack(">B", n)
            elif n <= 0xFFFF:
                out += b"\xda" + struct.pack(">H", n)
            else:
                out += b"\xdb" + struct.pack(">I", n)
            out += v
        elif isinstance(v, bool):
            out.append(0xC3 if v else 0xC2)
        elif _is_number(v):
            f = float(v)
            if not math.isinf(f) and not math.isnan(f) and -(2**63) <= f < 2**63 and f == int(f):
                _mp_int(int(f), out)
            else:
                try:  # a double that a float holds exactly goes as a float, as lua-cmsgpack
                    single = struct.unpack(">f", struct.pack(">f", f))[0]
                except OverflowError:
                    single = None
                if single == f:
                    out += b"\xca" + struct.pack(">f", f)
                else:
                    out += b"\xcb" + struct.pack(">d", f)
        elif v is not None and self._vm.lua_type(v) == "table":
            if level == 16:  # lua-cmsgpack's nesting limit: deeper tables are nil
                out.append(0xC0)
                return
            items = list(v.items())
            keys = [k for k, _ in items]
            if all(_is_number(k) and k > 0 and k == int(k) for k in keys) and (
                not keys or max(keys) == len(keys)
            ):
                n = len(keys)
                _mp_header(out, n, 0x90, b"\xdc", b"\xdd")
                get = self._vm.rawget
                for i in range(1, n + 1):
                    self._mp_value(get(v, i), out, level + 1)
            else:
                _mp_header(out, len(items), 0x80, b"\xde", b"\xdf")
                for k, x in items:
                    self._mp_value(k, out, level + 1)
                    self._mp_value(x, out, level + 1)
        else:
            out.append(0xC0)

    def _mp_decode(self, data: bytes, offset: int, limit: int) -> tuple[int, list[Any]]:
        """Up to ``limit`` objects (0: all) from ``data[offset:]``: (offset after them, or -1
        at the end; the objects as Lua values)."""
        unpacker = msgpack.Unpacker(
            raw=True, strict_map_key=False, object_pairs_hook=list, use_list=True
        )
        unpacker.feed(data[offset:])
        out: list[Any] = []
        try:
            while not limit or len(out) < limit:
                start = unpacker.tell()
                try:
                    obj = unpacker.unpack()
                except msgpack.OutOfData:
                    if start < len(data) - offset:
                        raise self._lib_error("Missing bytes in input.") from None
                    break
                out.append(self._mp_to_lua(obj))
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError):
            raise self._lib_error("Bad data format in input.") from None
        used = offset + unpacker.tell()
        return (-1 if used >= len(data) else used), out

    def _mp_to_lua(self, v: Any) -> Any:
        if isinstance(v, list):
            if v and isinstance(v[0], tuple):  # a map, as pairs
                t = self._vm.table_from()
                for k, x in v:
                    t[self._mp_to_lua(k)] = self._mp_to_lua(x)
                return t
            return self._vm.table_from([self._mp_to_lua(x) for x in v])
        if isinstance(v, msgpack.ExtType):
            raise self._lib_error("Bad data format in input.")
        return v

    def _int_arg(self, fname: str, args: tuple[Any, ...], i: int, default: int) -> int:
        """luaL_optinteger: ``default`` when the argument is absent or nil."""
        if i >= len(args) or args[i] is None:
            return default
        return _lua_int(self._number_arg(fname, args, i))

    def _check_window(self, data: bytes, offset: int, limit: int) -> None:
        if offset < 0 or limit < 0:
            raise self._lib_error(
                f"Invalid request to unpack with offset of {offset} and limit of {len(data)}."
            )
        if offset > len(data):
            raise self._lib_error(f"Start offset {offset} greater than input length {len(data)}.")

    def _mp_unpack(self, *args: Any) -> Any:
        data = self._string_arg("unpack", args, 0)
        _, objs = self._mp_decode(data, 0, 0)
        return tuple(objs)

    def _mp_unpack_one(self, *args: Any) -> Any:
        data = self._string_arg("unpack_one", args, 0)
        offset = self._int_arg("unpack_one", args, 1, 0)
        self._check_window(data, offset, 1)
        nxt, objs = self._mp_decode(data, offset, 1)
        return (nxt, *objs)

    def _mp_unpack_limit(self, *args: Any) -> Any:
        data = self._string_arg("unpack_limit", args, 0)
        limit = _lua_int(self._number_arg("unpack_limit", args, 1))
        offset = self._int_arg("unpack_limit", args, 2, 0)
        self._check_window(data, offset, limit)
        nxt, objs = self._mp_decode(data, offset, limit) if limit else (offset, [])
        return (nxt, *objs)

    def _arg_error(self, fname: str, n: int, msg: str) -> LuaRaise:
        """luaL_argerror of a library function: "bad argument #n to 'f' (msg)", with the
        script's position; the name is '?' when pcall called it, as Lua cannot tell."""
        where = self._vm.where()
        name = fname if where else "?"
        return LuaRaise(where + f"bad argument #{n} to '{name}' ({msg})".encode())

    # --- struct (Roberto Ierusalimschy's struct library, as Redis bundles it) -------------

    def _number_arg(
        self, fname: str, args: tuple[Any, ...], i: int, nil_after: bool = False
    ) -> float:
        """luaL_checknumber of argument ``i`` (0-based) of library function ``fname``: a number
        or a numeric string. ``nil_after``: the function pushed a nil after its arguments
        (struct.pack), so the first one missing reads as nil rather than no value."""
        v = args[i] if i < len(args) else None if nil_after and i == len(args) else _NO_VALUE
        n = _lua_tonumber(v)
        if n is None:
            got = "no value" if v is _NO_VALUE else self._type_name(v)
            raise self._arg_error(fname, i + 1, f"number expected, got {got}")
        return n

    def _string_arg(
        self, fname: str, args: tuple[Any, ...], i: int, nil_after: bool = False
    ) -> bytes:
        """luaL_checklstring of argument ``i``: a string, or a number as Lua writes it."""
        v = args[i] if i < len(args) else None if nil_after and i == len(args) else _NO_VALUE
        if isinstance(v, bytes):
            return v
        if _is_number(v):
            return format_number(v).encode()
        got = "no value" if v is _NO_VALUE else self._type_name(v)
        raise self._arg_error(fname, i + 1, f"string expected, got {got}")

    def _struct_format(self, fname: str, fmt: bytes) -> Iterator[tuple[str, int, int]]:
        """(option, size, padding before it) for each option of ``fmt``, applying the
        endianness and alignment options; ``self._struct_big`` tells the byte order."""
        pos = 0
        align = 1
        self._struct_big = False  # native: little-endian
        i = 0
        while i < len(fmt):
            opt = chr(fmt[i])
            i += 1
            j = i
            while j < len(fmt) and 0x30 <= fmt[j] <= 0x39:
                j += 1
            digits = fmt[i:j]
            if opt in "bB":
                size = 1
            elif opt in "hH":
                size = 2
            elif opt in "lLTd":
                size = 8
            elif opt == "f":
                size = 4
            elif opt == "x":
                size = 1
            elif opt in ("c", "i", "I"):
                default = 1 if opt == "c" else 4
                size = int(digits) if digits else default
                i = j
                if opt in "iI" and size > 32:
                    raise self._lib_error(f"integral size {size} is larger than limit of 32")
            elif opt == "s":
                size = 0
            else:
                size = 0
                if opt == " ":
                    pass
                elif opt == ">":
                    self._struct_big = True
                elif opt == "<":
                    self._struct_big = False
                elif opt == "!":
                    align = int(digits) if digits else 8
                    i = j
                    if align <= 0 or align & (align - 1):
                        raise self._lib_error(f"alignment {align} is not a power of 2")
                else:
                    raise self._arg_error(fname, 1, f"invalid format option '{opt}'")
                continue
            pad = 0
            if size and opt != "c" and opt != "s":
                a = min(size, align)
                pad = (a - (pos & (a - 1))) & (a - 1)
            yield opt, size, pad
            pos += pad + size

    def _struct_pack(self, *args: Any) -> bytes:
        fmt = self._string_arg("pack", args, 0, nil_after=True)
        out = bytearray()
        arg = 1
        for opt, size, pad in self._struct_format("pack", fmt):
            out += b"\0" * pad
            order = "big" if self._struct_big else "little"
            if opt in "bBhHlLTiI":
                n = self._number_arg("pack", args, arg, nil_after=True)
                arg += 1
                value = (int(n) if -(2**63) <= n < 2**64 else 0) & (2**64 - 1)
                out += (value & ((1 << (8 * size)) - 1)).to_bytes(size, order)
            elif opt == "x":
                out += b"\0"
            elif opt in "fd":
                n = self._number_arg("pack", args, arg, nil_after=True)
                arg += 1
                code = ">" if self._struct_big else "<"
                try:
                    out += struct.pack(code + opt, n)
                except OverflowError:  # C's (float) of a double too big: infinity
                    out += struct.pack(code + "f", math.copysign(math.inf, n))
            elif opt in "cs":
                text = self._string_arg("pack", args, arg, nil_after=True)
                arg += 1
                n = size or len(text)
                if len(text) < n:
                    raise self._arg_error("pack", arg + 1, "string too short")
                out += text[:n]
                if opt == "s":
                    out += b"\0"
        return bytes(out)

    def _struct_unpack(self, *args: Any) -> Any:
        fmt = self._string_arg("unpack", args, 0)
        data = self._string_arg("unpack", args, 1)
        first = self._int_arg("unpack", args, 2, 1)
        if first <= 0:
            raise self._arg_error("unpack", 3, "offset must be 1 or greater")
        pos = first - 1
        out: list[Any] = []
        for opt, size, pad in self._struct_format("unpack", fmt):
            pos += pad
            if size > len(data) or pos > len(data) - size:
                raise self._arg_error("unpack", 2, "data string too short")
            chunk = data[pos : pos + size]
            order = "big" if self._struct_big else "little"
            if opt in "bBhHlLTiI":
                value = int.from_bytes(chunk, order) & (2**64 - 1)
                if opt.islower() and size <= 8 and value >> (8 * size - 1) & 1:
                    value -= 1 << (8 * size)
                elif opt.islower() and value >> 63:
                    value -= 1 << 64
                out.append(float(value))
            elif opt in "fd":
                code = (">" if self._struct_big else "<") + opt
                out.append(struct.unpack(code, chunk)[0])
            elif opt == "c":
                if size == 0:
                    if not out or not _is_number(out[-1]):
                        raise self._lib_error("format 'c0' needs a previous size")
                    size = int(out.pop())
                    if size > len(data) or pos > len(data) - size:
                        raise self._arg_error("unpack", 2, "data string too short")
                out.append(data[pos : pos + size])
            elif opt == "s":
                end = data.find(b"\0", pos)
                if end < 0:
                    raise self._lib_error("unfinished string in data")
                size = end - pos + 1
                out.append(data[pos:end])
            pos += size
        return (*out, float(pos + 1))

    def _struct_size(self, *args: Any) -> float:
        fmt = self._string_arg("size", args, 0)
        pos = 0
        for opt, size, pad in self._struct_format("size", fmt):
            if opt == "s":
                raise self._arg_error("size", 1, "option 's' has no fixed size")
            if opt == "c" and size == 0:
                raise self._arg_error("size", 1, "option 'c0' has no fixed size")
            pos += pad + size
        return float(pos)

    # --- bit (LuaBitOp: 32-bit operations on Lua numbers) ---------------------------------

    def _bit_arg(self, fname: str, args: tuple[Any, ...], i: int) -> int:
        """LuaBitOp's barg: argument ``i`` as the low 32 bits of ``n + 2^52 + 2^51`` (which
        rounds it to an integer, and is what LuaBitOp reads for any number)."""
        n = self._number_arg(fname, args, i)
        (bits,) = struct.unpack("<Q", struct.pack("<d", n + 6755399441055744.0))
        return int(bits & 0xFFFFFFFF)

    def _bit_function(self, name: str) -> Callable[..., Any]:
        op = _BIT_FUNCTIONS[name]

        def fn(*args: Any) -> Any:
            if name == "tohex":
                x = self._bit_arg(name, args, 0)
                n = self._bit_arg(name, args, 1) if len(args) > 1 and args[1] is not None else 8
                n = n - (1 << 32) if n >= 1 << 31 else n
                digits = "0123456789ABCDEF" if n < 0 else "0123456789abcdef"
                n = min(abs(n), 8)
                return "".join(digits[(x >> (4 * k)) & 15] for k in range(n - 1, -1, -1)).encode()
            if name in ("band", "bor", "bxor"):
                acc = self._bit_arg(name, args, 0)
                for i in range(1, len(args)):
                    acc = op(acc, self._bit_arg(name, args, i))
            elif op.__code__.co_argcount == 2:
                acc = op(self._bit_arg(name, args, 0), self._bit_arg(name, args, 1) & 31)
            else:
                acc = op(self._bit_arg(name, args, 0))
            acc &= 0xFFFFFFFF
            return float(acc - (1 << 32) if acc >= 1 << 31 else acc)

        return fn

    # --- Redis reply -> Lua value (Redis's redisProtocolToLuaType) -------------------------

    def _parse(self, data: bytes, pos: int) -> tuple[Any, int]:
        kind = data[pos]
        eol = data.index(b"\r\n", pos)
        line = data[pos + 1 : eol]
        nxt = eol + 2
        t = self._vm.table_from
        if kind == 0x24:  # $ bulk
            n = int(line)
            if n < 0:
                return False, nxt
            return data[nxt : nxt + n], nxt + n + 2
        if kind == 0x3A:  # : integer
            return int(line), nxt
        if kind == 0x2B:  # + status
            return t({b"ok": line}), nxt
        if kind == 0x2D:  # - error
            msg = line if b" " in line else b"ERR " + line
            return t({b"err": msg, b"ignore_error_stats_update": True}), nxt
        if kind in (0x2A, 0x7E, 0x25, 0x3E):  # * array, ~ set, % map, > push
            n = int(line)
            if n < 0:
                return False, nxt
            count = 2 * n if kind == 0x25 else n
            items = []
            pos = nxt
            for _ in range(count):
                v, pos = self._parse(data, pos)
                items.append(v)
            if kind == 0x25:
                m = t()
                for i in range(0, count, 2):
                    m[items[i]] = items[i + 1]
                return t({b"map": m}), pos
            if kind == 0x7E:
                s = t()
                for v in items:
                    s[v] = True
                return t({b"set": s}), pos
            return t(items), pos
        if kind == 0x5F:  # _ null
            return None, nxt
        if kind == 0x23:  # # boolean
            return line == b"t", nxt
        if kind == 0x2C:  # , double
            return t({b"double": float(line)}), nxt
        if kind == 0x28:  # ( big number
            return t({b"big_number": line}), nxt
        if kind == 0x3D:  # = verbatim
            n = int(line)
            body = data[nxt : nxt + n]
            vt = t({b"format": body[:3], b"string": body[4:]})
            return t({b"verbatim_string": vt}), nxt + n + 2
        if kind == 0x7C:  # | attribute: skipped, then the reply itself
            pos = nxt
            for _ in range(2 * int(line)):
                _, pos = self._parse(data, pos)
            return self._parse(data, pos)
        raise ValueError(f"unexpected reply type {chr(kind)!r}")


def _guarded(fn: Callable[..., Any], err_table: Callable[[str], Any]) -> Callable[..., Any]:
    """``fn`` as a script may call it: any exception but LuaRaise (a bug in minikv) becomes
    an error table, so a script never receives a Python exception object."""

    def guarded(*args: Any) -> Any:
        try:
            return fn(*args)
        except LuaRaise:
            raise
        except Exception as e:
            logging.getLogger("minikv").warning("Internal error in a script callback: %r", e)
            raise LuaRaise(err_table(f"ERR internal error in a script callback: {e}")) from None

    return guarded


_JSON_ESCAPES = {i: b"\\u%04x" % i for i in range(32)} | {
    8: b"\\b",
    9: b"\\t",
    10: b"\\n",
    12: b"\\f",
    13: b"\\r",
    34: b'\\"',
    47: b"\\/",
    92: b"\\\\",
    127: b"\\u007f",
}
_JSON_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"/\\\x7f]')


def _json_string(s: bytes) -> bytes:
    """A string as lua-cjson writes it: bytes as they are but for its escape table."""
    return b'"%b"' % _JSON_NEEDS_ESCAPE.sub(lambda m: _JSON_ESCAPES[m.group()[0]], s)


_JSON_TOKENS = {
    "{": "T_OBJ_BEGIN",
    "}": "T_OBJ_END",
    "[": "T_ARR_BEGIN",
    "]": "T_ARR_END",
    '"': "T_STRING",
    ":": "T_COLON",
    ",": "T_COMMA",
}
_JSON_WORDS = {"true": "T_BOOLEAN", "false": "T_BOOLEAN", "null": "T_NULL"}
_JSON_EXPECTED = {
    "Expecting value": "value",
    "Expecting property name enclosed in double quotes": "object key string",
    "Expecting ':' delimiter": "colon",
    "Extra data": "the end",
}


def _json_error(e: json.JSONDecodeError) -> str:
    """lua-cjson's parse error for the place Python's parser stopped (its wording and token
    names; the position is where the unexpected token starts)."""
    doc, pos = e.doc, e.pos
    if e.msg.startswith("Unterminated string"):
        return f"Expected value but found unexpected end of string at character {len(doc) + 1}"
    while pos < len(doc) and doc[pos] in " \t\n\r":
        pos += 1
    ch = doc[pos] if pos < len(doc) else ""
    if not ch:
        found = "T_END"
    elif ch in "-0123456789":
        found = "T_NUMBER"
    else:
        word = next((w for w in _JSON_WORDS if doc.startswith(w, pos)), "")
        found = _JSON_WORDS[word] if word else _JSON_TOKENS.get(ch, "invalid token")
    expected = _JSON_EXPECTED.get(e.msg)
    if expected is None:  # "Expecting ',' delimiter": inside an array or an object
        opener = max(doc.rfind("[", 0, pos), doc.rfind("{", 0, pos))
        inside_array = opener >= 0 and doc[opener] == "["
        expected = "comma or array end" if inside_array else "comma or object end"
    return f"Expected {expected} but found {found} at character {pos + 1}"


def _json_array_size(items: list[tuple[Any, Any]]) -> int | None:
    """lua-cjson's lua_array_length: the largest key if every key is an integer >= 1,
    None if the table is an object."""
    top = 0
    for k, _ in items:
        if not _is_number(k) or k < 1 or k != math.floor(k):
            return None
        top = max(top, int(k))
    return top


_NO_VALUE = object()


def _signed32(x: int) -> int:
    return x - (1 << 32) if x >= 1 << 31 else x


_BIT_FUNCTIONS: dict[str, Callable[..., int]] = {
    "tobit": lambda x: x,
    "tohex": lambda x: x,  # formatted by Scripting._bit_function
    "bnot": lambda x: ~x,
    "band": lambda a, b: a & b,
    "bor": lambda a, b: a | b,
    "bxor": lambda a, b: a ^ b,
    "lshift": lambda x, n: x << n,
    "rshift": lambda x, n: x >> n,
    "arshift": lambda x, n: _signed32(x) >> n,
    "rol": lambda x, n: (x << n) | (x >> (32 - n)),
    "ror": lambda x, n: (x >> n) | (x << (32 - n)),
    "bswap": lambda x: int.from_bytes(x.to_bytes(4, "little"), "big"),
}


def _lua_tonumber(v: Any) -> float | None:
    """lua_tonumber: a number, or a string that reads as one (decimal or 0x hex), else None."""
    if _is_number(v):
        return float(v)
    if isinstance(v, bytes):
        text = v.strip().decode(errors="replace")
        try:
            return float(text)
        except ValueError:
            try:
                return float(int(text, 16)) if text.lower().startswith("0x") else None
            except ValueError:
                return None
    return None


def _mp_header(out: bytearray, n: int, fix: int, h16: bytes, h32: bytes) -> None:
    if n <= 15:
        out.append(fix | n)
    elif n <= 0xFFFF:
        out += h16 + struct.pack(">H", n)
    else:
        out += h32 + struct.pack(">I", n)


def _mp_int(n: int, out: bytearray) -> None:
    """lua-cmsgpack's mp_encode_int: the smallest MessagePack integer that holds ``n``."""
    if n >= 0:
        if n <= 127:
            out.append(n)
        elif n <= 0xFF:
            out += b"\xcc" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", n)
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", n)
        else:
            out += b"\xcf" + struct.pack(">Q", n)
    elif n >= -32:
        out += struct.pack(">b", n)
    elif n >= -128:
        out += b"\xd0" + struct.pack(">b", n)
    elif n >= -32768:
        out += b"\xd1" + struct.pack(">h", n)
    elif n >= -(2**31):
        out += b"\xd2" + struct.pack(">i", n)
    else:
        out += b"\xd3" + struct.pack(">q", n)


def _lua_string(v: Any) -> str | None:
    """A Lua value as lua_isstring/lua_tostring see it (a number is a string), else None."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if _is_number(v):
        return format_number(v)
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def format_number(v: float) -> str:
    """A Lua number as Lua's tostring writes it (%.14g)."""
    return f"{v:.14g}"


def _lua_int(v: float) -> int:
    """(long long) of a Lua number, as C on x86-64 converts it: NaN and out-of-range values
    give LLONG_MIN."""
    if isinstance(v, int):
        return v if _LLONG_MIN <= v <= _LLONG_MAX else _LLONG_MIN
    if math.isnan(v) or not -9.223372036854775808e18 <= v < 9.223372036854775808e18:
        return _LLONG_MIN
    return int(v)


#: How deep a script's result may nest (Redis stops at Lua's C stack limit).
MAX_REPLY_DEPTH = 200


class _Converter:
    """A script's result as the caller's reply (Redis's luaReplyToRedisReply). Fields and
    elements are read raw (``rawget``), as Redis reads them: a metatable cannot make a result
    endless."""

    def __init__(self, rawget: Any, lua_type: Any, resp: int, script_resp: int) -> None:
        self.rawget = rawget
        self.lua_type = lua_type
        self.resp = resp
        self.script_resp = script_resp
        self.null = b"_\r\n" if resp == 3 else b"$-1\r\n"

    def is_table(self, v: Any) -> bool:
        return (
            v is not None
            and not isinstance(v, bytes | bool | int | float)
            and (self.lua_type(v) == "table")
        )

    def convert(self, v: Any, depth: int = 0) -> bytes:
        resp = self.resp
        if v is None:
            return self.null
        if isinstance(v, bool):
            if self.script_resp == 2:
                return b":1\r\n" if v else self.null
            if resp == 3:
                return b"#t\r\n" if v else b"#f\r\n"
            return b":1\r\n" if v else b":0\r\n"
        if isinstance(v, bytes):
            return b"$%d\r\n%b\r\n" % (len(v), v)
        if isinstance(v, int | float):
            return b":%d\r\n" % _lua_int(v)
        if not self.is_table(v):
            return self.null
        if depth > MAX_REPLY_DEPTH:
            return b"-ERR reached lua stack limit\r\n"
        get = self.rawget
        err = get(v, b"err")
        if isinstance(err, bytes):
            return b"-%b\r\n" % err.replace(b"\r", b" ").replace(b"\n", b" ")
        ok = get(v, b"ok")
        if isinstance(ok, bytes):
            return b"+%b\r\n" % ok.replace(b"\r", b" ").replace(b"\n", b" ")
        d = get(v, b"double")
        if isinstance(d, int | float) and not isinstance(d, bool):
            text = format_double(float(d))
            return b",%b\r\n" % text if resp == 3 else b"$%d\r\n%b\r\n" % (len(text), text)
        big = get(v, b"big_number")
        if isinstance(big, bytes):
            big = big.replace(b"\r", b" ").replace(b"\n", b" ")
            return b"(%b\r\n" % big if resp == 3 else b"$%d\r\n%b\r\n" % (len(big), big)
        vs = get(v, b"verbatim_string")
        if self.is_table(vs):
            fmt, text = get(vs, b"format"), get(vs, b"string")
            if isinstance(fmt, bytes) and isinstance(text, bytes):
                if resp == 3:
                    return b"=%d\r\n%b:%b\r\n" % (len(text) + 4, fmt[:3], text)
                return b"$%d\r\n%b\r\n" % (len(text), text)
        m = get(v, b"map")
        if self.is_table(m):
            parts = []
            for k, x in m.items():
                parts.append(self.convert(k, depth + 1))
                parts.append(self.convert(x, depth + 1))
            n = len(parts) // 2
            head = b"%%%d\r\n" % n if resp == 3 else b"*%d\r\n" % (2 * n)
            return head + b"".join(parts)
        st = get(v, b"set")
        if self.is_table(st):
            parts = [self.convert(k, depth + 1) for k in st]
            head = b"~%d\r\n" if resp == 3 else b"*%d\r\n"
            return head % len(parts) + b"".join(parts)
        parts = []
        j = 1
        while True:
            x = get(v, j)
            if x is None:
                break
            parts.append(self.convert(x, depth + 1))
            j += 1
        return b"*%d\r\n" % len(parts) + b"".join(parts)
