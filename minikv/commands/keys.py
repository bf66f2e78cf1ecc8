"""Generic key commands (DEL EXISTS TYPE KEYS SCAN RENAME COPY MOVE OBJECT ...), the expiry
commands (EXPIRE family, TTL family, PERSIST) and the whole-database ones (DBSIZE FLUSHDB
FLUSHALL SWAPDB), with Redis 7.0's replies and error texts.

Every change goes through ``Db`` methods so WATCH sees it, and adds to ``keyspace.dirty``.
What a value's type is called comes from ``minikv.valuetypes``, never from here.

OBJECT IDLETIME and OBJECT FREQ read the per-key access records ``minikv.eviction`` keeps (the
LRU clock, or the LFU counter under an LFU policy; each is an error under the other kind of
policy, as in Redis). EXISTS, TYPE and OBJECT look keys up without touching them
(Redis's LOOKUP_NOTOUCH); TOUCH touches them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.commands import KeySpec, command, container
from minikv.commands.util import SYNTAX
from minikv.keyspace import NSHARDS, now_ms
from minikv.parsing import LLONG_MAX, NOT_INTEGER, compile_pattern, parse_int
from minikv.persistence.snapshot import RDB_CHILD
from minikv.protocol import OK, ReplyError
from minikv.valuetypes import value_type

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

K = "generic"
SRV = "server"

NO_SUCH_KEY = ReplyError("ERR no such key")
SAME_OBJECT = ReplyError("ERR source and destination objects are the same")
DB_RANGE = ReplyError("ERR DB index is out of range")
INVALID_CURSOR = ReplyError("ERR invalid cursor")


def _cstr(b: bytes) -> str:
    """An argument as Redis's "%s" prints it: up to the first NUL byte."""
    return b.split(b"\0", 1)[0].decode(errors="replace")


INT_RANGE = ReplyError("ERR value is out of range, value must between -2147483648 and 2147483647")


def _parse_c_int(b: bytes, err: ReplyError | None = None) -> int:
    """Redis's getIntFromObjectOrReply: a long long that also fits a C int; ``err`` replaces
    both of its error texts."""
    v = parse_int(b, err or NOT_INTEGER)
    if not -(2**31) <= v < 2**31:
        raise err or INT_RANGE
    return v


def _db_index(c: Context, b: bytes) -> Db:
    idx = _parse_c_int(b)
    dbs = c.server.keyspace.dbs
    if not 0 <= idx < len(dbs):
        raise DB_RANGE
    return dbs[idx]


# --- existence and deletion ------------------------------------------------------------------


def _delete(c: Context, args: list[bytes]) -> int:
    db = c.db
    n = 0
    for key in args[1:]:
        # get() first: an expired key is reclaimed, not counted as deleted.
        if db.get(key) is not None and db.delete(key):
            db.changed(key, "del")
            n += 1
    return n


@command(
    "del",
    -2,
    "write",
    (1, -1, 1),
    group=K,
    summary="Delete a key",
    complexity="O(N) where N is the number of keys that will be removed. When a key to remove "
    "holds a value other than a string, the individual complexity for this key is O(M)"
    " where M is the number of elements in the list, set, sorted set or hash. Removing"
    " a single key that holds a string value is O(1).",
    args="key [key ...]",
    tips="request_policy:multi_shard response_policy:agg_sum",
    key_flags="RM delete",
)
def del_(c: Context, args: list[bytes]) -> Any:
    return _delete(c, args)


@command(
    "unlink",
    -2,
    "write fast",
    (1, -1, 1),
    group=K,
    summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, "
    "but non blocking.",
    since="4.0.0",
    complexity="O(1) for each key removed regardless of its size. Then the command does O(N) work"
    " in a different thread in order to reclaim memory, where N is the number of "
    "allocations the deleted objects where composed of.",
    args="key [key ...]",
    tips="request_policy:multi_shard response_policy:agg_sum",
    key_flags="RM delete",
)
def unlink(c: Context, args: list[bytes]) -> Any:
    return _delete(c, args)


@command(
    "exists",
    -2,
    "readonly fast",
    (1, -1, 1),
    group=K,
    summary="Determine if a key exists",
    complexity="O(N) where N is the number of keys to check.",
    args="key [key ...]",
    tips="request_policy:multi_shard response_policy:agg_sum",
    key_flags="RO",
    history=(("3.0.3", "Accepts multiple `key` arguments."),),
)
def exists(c: Context, args: list[bytes]) -> Any:
    db = c.db
    # Redis's EXISTS looks up with LOOKUP_NOTOUCH: the keys' access records stay.
    return sum(1 for key in args[1:] if db.read(key, touch=False) is not None)


@command(
    "touch",
    -2,
    "readonly fast",
    (1, -1, 1),
    group=K,
    summary="Alters the last access time of a key(s). Returns the number of existing keys "
    "specified.",
    since="3.2.1",
    complexity="O(N) where N is the number of keys that will be touched.",
    args="key [key ...]",
    tips="request_policy:multi_shard response_policy:agg_sum",
    key_flags="RO",
)
def touch(c: Context, args: list[bytes]) -> Any:
    db = c.db
    return sum(1 for key in args[1:] if db.read(key) is not None)


@command(
    "type",
    2,
    "readonly fast",
    (1, 1, 1),
    group=K,
    summary="Determine the type stored at key",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def type_(c: Context, args: list[bytes]) -> Any:
    v = c.db.read(args[1], touch=False)
    return "none" if v is None else value_type(v).name


# --- iteration ---------------------------------------------------------------------------------


@command(
    "keys",
    2,
    "readonly",
    group=K,
    summary="Find all keys matching the given pattern",
    complexity="O(N) with N being the number of keys in the database, under the assumption that "
    "the key names in the database and the given pattern have limited length.",
    args="pattern",
    acl="@dangerous",
    tips="request_policy:all_shards nondeterministic_output_order",
)
def keys(c: Context, args: list[bytes]) -> Any:
    pat = args[1]
    # Exactly "*" is special-cased by Redis (it also returns the empty key, which the matcher
    # would not).
    return c.db.live_keys(None if pat == b"*" else compile_pattern(pat))


_CURSOR_RE = re.compile(rb"([+-]?)([0-9]+)")
_ULONG = 2**64


def parse_cursor(b: bytes) -> int:
    """A SCAN cursor as Redis's strtoul-based check accepts it: no leading space, an optional
    sign ("-1" wraps around), nothing after the digits, at most 2**64-1. An empty argument is
    cursor 0, and parsing stops at a NUL byte, as in C."""
    if b[:1] in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        raise INVALID_CURSOR
    b = b.split(b"\0", 1)[0]
    if not b:
        return 0
    m = _CURSOR_RE.fullmatch(b)
    if m is None:
        raise INVALID_CURSOR
    v = int(m.group(2))
    if v >= _ULONG:
        raise INVALID_CURSOR
    return (_ULONG - v) % _ULONG if m.group(1) == b"-" else v


@command(
    "scan",
    -2,
    "readonly",
    group=K,
    summary="Incrementally iterate the keys space",
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
    "calls for the cursor to return back to 0. N is the number of elements inside the "
    "collection.",
    args="cursor [MATCH pattern] [COUNT count] [TYPE type]",
    tips="nondeterministic_output request_policy:special",
    history=(("6.0.0", "Added the `TYPE` subcommand."),),
)
def scan(c: Context, args: list[bytes]) -> Any:
    cursor = parse_cursor(args[1])
    count = 10
    match = None
    typename = None
    i, n = 2, len(args)
    while i < n:
        opt = args[i].lower()
        if opt == b"count" and n - i >= 2:
            count = parse_int(args[i + 1])
            if count < 1:
                raise SYNTAX
        elif opt == b"match" and n - i >= 2:
            match = None if args[i + 1] == b"*" else compile_pattern(args[i + 1])
        elif opt == b"type" and n - i >= 2:
            typename = args[i + 1].lower().decode(errors="replace")
        else:
            raise SYNTAX
        i += 2
    db = c.db
    # A cursor this server never returned has nothing left to visit.
    nxt, found = db.scan(cursor, count) if cursor < NSHARDS else (0, [])
    out = []
    for key in found:
        if match is not None and not match(key):
            continue
        # The lookup reclaims expired keys, as Redis's SCAN does; with TYPE it is a read.
        v = db.get(key) if typename is None else db.read(key)
        if v is None or (typename is not None and value_type(v).name != typename):
            continue
        out.append(key)
    return [b"%d" % nxt, out]


@command(
    "randomkey",
    1,
    "readonly",
    group=K,
    summary="Return a random key from the keyspace",
    complexity="O(1)",
    tips="request_policy:all_shards nondeterministic_output",
)
def randomkey(c: Context, args: list[bytes]) -> Any:
    return c.db.random_key()


# --- rename, copy, move ----------------------------------------------------------------------


def _rename(c: Context, args: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = args[1], args[2]
    v = db.get(src)
    if v is None:
        raise NO_SUCH_KEY
    if src == dst:
        return 0 if nx else OK
    if nx and db.get(dst) is not None:
        return 0
    deadline = db.get_expire(src)
    db.delete(src)
    db.delete(dst)  # an existing dst is replaced by a new key (Redis's "new" event)
    db.set(dst, v, deadline)  # the TTL moves with the value
    db.changed(src, "rename_from")
    db.changed(dst, "rename_to", 0)  # one change, as Redis counts it
    return 1 if nx else OK


@command(
    "rename",
    3,
    "write",
    group=K,
    summary="Rename a key",
    complexity="O(1)",
    args="key newkey",
    key_specs=(KeySpec("RW access delete", 1), KeySpec("OW update", 2)),
)
def rename(c: Context, args: list[bytes]) -> Any:
    return _rename(c, args, False)


@command(
    "renamenx",
    3,
    "write fast",
    group=K,
    summary="Rename a key, only if the new key does not exist",
    complexity="O(1)",
    args="key newkey",
    history=(
        (
            "3.2.0",
            "The command no longer returns an error when source and destination names are the "
            "same.",
        ),
    ),
    key_specs=(KeySpec("RW access delete", 1), KeySpec("OW insert", 2)),
)
def renamenx(c: Context, args: list[bytes]) -> Any:
    return _rename(c, args, True)


@command(
    "move",
    3,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Move a key to another database",
    complexity="O(1)",
    args="key db",
    key_flags="RW access update",
)
def move(c: Context, args: list[bytes]) -> Any:
    src = c.db
    dst = _db_index(c, args[2])
    if dst is src:
        raise SAME_OBJECT
    key = args[1]
    v = src.get(key)
    if v is None or dst.get(key) is not None:
        return 0
    dst.set(key, v, src.get_expire(key))
    src.delete(key)
    src.changed(key, "move_from")
    dst.changed(key, "move_to", 0)  # one change, as Redis counts it
    return 1


@command(
    "copy",
    -3,
    "write denyoom",
    group=K,
    summary="Copy a key",
    since="6.2.0",
    complexity="O(N) worst case for collections, where N is the number of nested items. O(1) for "
    "string values.",
    args="source destination [DB destination-db] [REPLACE]",
    key_specs=(KeySpec("RO access", 1), KeySpec("OW update", 2)),
)
def copy(c: Context, args: list[bytes]) -> Any:
    src = dst = c.db
    replace = False
    i, n = 3, len(args)
    while i < n:
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < n:
            dst = _db_index(c, args[i + 1])
            i += 1
        else:
            raise SYNTAX
        i += 1
    key, newkey = args[1], args[2]
    if src is dst and key == newkey:
        raise SAME_OBJECT
    v = src.read(key)
    if v is None:
        return 0
    if dst.get(newkey) is not None:
        if not replace:
            return 0
        dst.delete(newkey)  # replaced by a new key, as Redis's dbDelete + dbAdd ("new" event)
    dst.set(newkey, value_type(v).dup(v), src.get_expire(key))
    dst.changed(newkey, "copy_to")
    return 1


# --- expiry ------------------------------------------------------------------------------------

NX_CONFLICT = ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT_CONFLICT = ReplyError("ERR GT and LT options at the same time are not compatible")
_SECONDS_LIMIT = LLONG_MAX // 1000  # C's LLONG_MAX/1000 and -(LLONG_MIN/1000)


def _expire(c: Context, args: list[bytes], name: str, unit_ms: int, relative: bool) -> int:
    nx = xx = gt = lt = False
    for opt in args[3:]:
        o = opt.lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            raise ReplyError(f"ERR Unsupported option {_cstr(opt)}")
    if nx and (xx or gt or lt):
        raise NX_CONFLICT
    if gt and lt:
        raise GT_LT_CONFLICT
    when = parse_int(args[2])
    bad_time = ReplyError(f"ERR invalid expire time in '{name}' command")
    if unit_ms == 1000:
        if not -_SECONDS_LIMIT <= when <= _SECONDS_LIMIT:
            raise bad_time
        when *= 1000
    base = now_ms() if relative else 0
    if when > LLONG_MAX - base:
        raise bad_time
    when += base
    db = c.db
    key = args[1]
    if db.get(key) is None:
        return 0
    if nx or xx or gt or lt:
        cur = db.get_expire(key)  # None: no deadline, an infinite TTL for GT/LT
        if (
            (nx and cur is not None)
            or (xx and cur is None)
            or (gt and (cur is None or when <= cur))
            or (lt and cur is not None and when >= cur)
        ):
            return 0
    if when <= now_ms():
        db.delete(key)  # a deadline already past deletes the key at once
        db.changed(key, "del")
    else:
        db.set_expire(key, when)
        db.changed(key, "expire")
    return 1


@command(
    "expire",
    -3,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Set a key's time to live in seconds",
    complexity="O(1)",
    args="key seconds [NX | XX | GT | LT]",
    key_flags="RW update",
    history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
    propagate=propagation.pexpireat,
)
def expire(c: Context, args: list[bytes]) -> Any:
    return _expire(c, args, "expire", 1000, True)


@command(
    "pexpire",
    -3,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Set a key's time to live in milliseconds",
    since="2.6.0",
    complexity="O(1)",
    args="key milliseconds [NX | XX | GT | LT]",
    key_flags="RW update",
    history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
    propagate=propagation.pexpireat,
)
def pexpire(c: Context, args: list[bytes]) -> Any:
    return _expire(c, args, "pexpire", 1, True)


@command(
    "expireat",
    -3,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Set the expiration for a key as a UNIX timestamp",
    since="1.2.0",
    complexity="O(1)",
    args="key unix-time-seconds [NX | XX | GT | LT]",
    key_flags="RW update",
    history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
    propagate=propagation.pexpireat,
)
def expireat(c: Context, args: list[bytes]) -> Any:
    return _expire(c, args, "expireat", 1000, False)


@command(
    "pexpireat",
    -3,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    since="2.6.0",
    complexity="O(1)",
    args="key unix-time-milliseconds [NX | XX | GT | LT]",
    key_flags="RW update",
    history=(("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),),
    propagate=propagation.pexpireat_as_sent,
)
def pexpireat(c: Context, args: list[bytes]) -> Any:
    return _expire(c, args, "pexpireat", 1, False)


def _ttl(c: Context, key: bytes, ms: bool, absolute: bool) -> int:
    db = c.db
    if db.read(key) is None:
        return -2
    deadline = db.get_expire(key)
    if deadline is None:
        return -1
    ttl = max(deadline if absolute else deadline - now_ms(), 0)
    return ttl if ms else (ttl + 500) // 1000


@command(
    "ttl",
    2,
    "readonly fast",
    (1, 1, 1),
    group=K,
    summary="Get the time to live for a key in seconds",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    history=(("2.8.0", "Added the -2 reply."),),
)
def ttl(c: Context, args: list[bytes]) -> Any:
    return _ttl(c, args[1], False, False)


@command(
    "pttl",
    2,
    "readonly fast",
    (1, 1, 1),
    group=K,
    summary="Get the time to live for a key in milliseconds",
    since="2.6.0",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    history=(("2.8.0", "Added the -2 reply."),),
)
def pttl(c: Context, args: list[bytes]) -> Any:
    return _ttl(c, args[1], True, False)


@command(
    "expiretime",
    2,
    "readonly fast",
    (1, 1, 1),
    group=K,
    summary="Get the expiration Unix timestamp for a key",
    since="7.0.0",
    complexity="O(1)",
    args="key",
)
def expiretime(c: Context, args: list[bytes]) -> Any:
    return _ttl(c, args[1], False, True)


@command(
    "pexpiretime",
    2,
    "readonly fast",
    (1, 1, 1),
    group=K,
    summary="Get the expiration Unix timestamp for a key in milliseconds",
    since="7.0.0",
    complexity="O(1)",
    args="key",
)
def pexpiretime(c: Context, args: list[bytes]) -> Any:
    return _ttl(c, args[1], True, True)


@command(
    "persist",
    2,
    "write fast",
    (1, 1, 1),
    group=K,
    summary="Remove the expiration from a key",
    since="2.2.0",
    complexity="O(1)",
    args="key",
    key_flags="RW update",
)
def persist(c: Context, args: list[bytes]) -> Any:
    db = c.db
    if db.get(args[1]) is None or not db.persist(args[1]):
        return 0
    db.changed(args[1], "persist")
    return 1


# --- OBJECT ----------------------------------------------------------------------------------

container(
    "object",
    -2,
    "",
    group=K,
    summary="A container for object introspection commands",
    since="2.2.3",
    complexity="Depends on subcommand.",
)

_LFU_NOT_SELECTED = ReplyError(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust."
)
_LFU_SELECTED = ReplyError(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)


def _lfu_policy(c: Context) -> bool:
    return c.server.keyspace.memory.lfu


@command(
    "encoding",
    3,
    "readonly",
    (2, 2, 1),
    parent="object",
    group=K,
    summary="Inspect the internal encoding of a Redis object",
    since="2.2.3",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    key_flags="RO",
)
def object_encoding(c: Context, args: list[bytes]) -> Any:
    v = c.db.read(args[2], keymiss=False, touch=False)
    return None if v is None else value_type(v).encoding(v).encode()


@command(
    "refcount",
    3,
    "readonly",
    (2, 2, 1),
    parent="object",
    group=K,
    summary="Get the number of references to the value of the key",
    since="2.2.3",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    key_flags="RO",
)
def object_refcount(c: Context, args: list[bytes]) -> Any:
    v = c.db.read(args[2], keymiss=False, touch=False)
    return None if v is None else value_type(v).refcount(v)


@command(
    "idletime",
    3,
    "readonly",
    (2, 2, 1),
    parent="object",
    group=K,
    summary="Get the time since a Redis object was last accessed",
    since="2.2.3",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    key_flags="RO",
)
def object_idletime(c: Context, args: list[bytes]) -> Any:
    if c.db.read(args[2], keymiss=False, touch=False) is None:
        return None
    if _lfu_policy(c):
        raise _LFU_SELECTED
    return c.server.keyspace.memory.object_idletime(c.db, args[2])


@command(
    "freq",
    3,
    "readonly",
    (2, 2, 1),
    parent="object",
    group=K,
    summary="Get the logarithmic access frequency counter of a Redis object",
    since="4.0.0",
    complexity="O(1)",
    args="key",
    tips="nondeterministic_output",
    key_flags="RO",
)
def object_freq(c: Context, args: list[bytes]) -> Any:
    if c.db.read(args[2], keymiss=False, touch=False) is None:
        return None
    if not _lfu_policy(c):
        raise _LFU_NOT_SELECTED
    return c.server.keyspace.memory.object_freq(c.db, args[2])


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    "loading stale",
    parent="object",
    group=K,
    summary="Show helpful text about the different subcommands",
    since="6.2.0",
    complexity="O(1)",
    acl="@keyspace",
)
def object_help(c: Context, args: list[bytes]) -> Any:
    return _OBJECT_HELP


# --- whole databases ---------------------------------------------------------------------------


@command(
    "dbsize",
    1,
    "readonly fast",
    group=SRV,
    summary="Return the number of keys in the selected database",
    complexity="O(1)",
    acl="@keyspace",
    tips="request_policy:all_shards response_policy:agg_sum",
)
def dbsize(c: Context, args: list[bytes]) -> Any:
    # Counts keys past their deadline not yet reclaimed, as Redis does.
    return len(c.db)


def _flush_option(args: list[bytes]) -> None:
    """FLUSHDB/FLUSHALL take one optional ASYNC or SYNC; both flush at once here."""
    if len(args) == 1 or (len(args) == 2 and args[1].lower() in (b"async", b"sync")):
        return
    raise SYNTAX


@command(
    "flushdb",
    -1,
    "write",
    group=SRV,
    summary="Remove all keys from the current database",
    complexity="O(N) where N is the number of keys in the selected database",
    args="[ASYNC | SYNC]",
    acl="@keyspace @dangerous",
    tips="request_policy:all_shards response_policy:all_succeeded",
    history=(
        ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
        ("6.2.0", "Added the `SYNC` flushing mode modifier."),
    ),
)
def flushdb(c: Context, args: list[bytes]) -> Any:
    _flush_option(args)
    c.db.keyspace.changed_dataset(c.db.clear())
    return OK


@command(
    "flushall",
    -1,
    "write",
    group=SRV,
    summary="Remove all keys from all databases",
    complexity="O(N) where N is the total number of keys in all databases",
    args="[ASYNC | SYNC]",
    acl="@keyspace @dangerous",
    tips="request_policy:all_shards response_policy:all_succeeded",
    history=(
        ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
        ("6.2.0", "Added the `SYNC` flushing mode modifier."),
    ),
)
def flushall(c: Context, args: list[bytes]) -> Any:
    _flush_option(args)
    server = c.server
    ks = server.keyspace
    p = server.persistence
    # As Redis: a snapshot being written is now stale, so its child is killed; with save
    # points set, the (empty) dataset is saved at once.
    ks.changed_dataset(ks.flushall())
    p.kill_child(RDB_CHILD)  # a rewrite goes on: its log records the FLUSHALL
    if server.config.save:
        try:
            p.save()
        except OSError:
            pass  # logged by save(); status err makes writes refuse as configured
    ks.changed_dataset(1)
    return OK


@command(
    "swapdb",
    3,
    "write fast",
    group=SRV,
    summary="Swaps two Redis databases",
    since="4.0.0",
    complexity="O(N) where N is the count of clients watching or blocking on keys from both "
    "databases.",
    args="index1:integer index2:integer",
    acl="@keyspace @dangerous",
)
def swapdb(c: Context, args: list[bytes]) -> Any:
    a = _parse_c_int(args[1], ReplyError("ERR invalid first DB index"))
    b = _parse_c_int(args[2], ReplyError("ERR invalid second DB index"))
    ks = c.server.keyspace
    if not (0 <= a < len(ks.dbs) and 0 <= b < len(ks.dbs)):
        raise DB_RANGE
    ks.swap(a, b)
    ks.changed_dataset(1)
    return OK
