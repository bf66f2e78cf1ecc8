"""String commands: GET SET and their variants, counters, ranges and LCS (bits are in
``minikv.commands.bits``).

Values are ``bytes``; any other value type is WRONGTYPE here. Every change goes through ``Db``
methods (so WATCH sees it) and adds to ``keyspace.dirty`` as Redis counts ``server.dirty``.

INCRBYFLOAT computes in the x87 80-bit ``long double`` that Redis uses, emulated exactly with
integers (parse, add and format each rounded as glibc does), so its replies match redis-server
digit for digit, including ``%.17Lf`` formatting of huge or tiny results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.commands import KeySpec, command
from minikv.commands.util import SYNTAX, WRONGTYPE
from minikv.keyspace import now_ms
from minikv.parsing import (
    LD_ZERO,
    LLONG_MAX,
    LLONG_MIN,
    NAN_OR_INF,
    Infinite,
    add_long_double,
    format_long_double,
    parse_int,
    parse_long_double,
)
from minikv.protocol import OK, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

S = "string"

TOO_BIG = ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
OVERFLOW = ReplyError("ERR increment or decrement would overflow")


def get_string(db: Db, key: bytes, read: bool = False) -> bytes | None:
    """The string at ``key``, None if missing; WRONGTYPE for other types. ``read`` as
    ``get_typed``'s."""
    v = db.read(key) if read else db.get(key)
    if v is None or type(v) is bytes:
        return v
    raise WRONGTYPE


def check_length(c: Context, total: int) -> None:
    """Refuse a string that would grow past proto-max-bulk-len (before building it)."""
    if total > c.server.config.proto_max_bulk_len:
        raise TOO_BIG


def put_string(c: Context, key: bytes, old: bytes | None, new: bytes, event: str) -> None:
    """Store a modified string: a new key, or a new value keeping the key's deadline."""
    if old is None:
        c.db.set(key, new)
    else:
        c.db.replace_value(key, new)
    c.db.changed(key, event)


# --- GET / SET and their variants ---------------------------------------------------------------


@command(
    "get",
    2,
    "readonly fast",
    (1, 1, 1),
    group=S,
    summary="Get the value of a key",
    args="key",
    complexity="O(1)",
)
def get(c: Context, args: list[bytes]) -> Any:
    v = c.db.read(args[1])
    if v is None or type(v) is bytes:
        return v
    raise WRONGTYPE


def parse_expire(name: str, unit_ms: int, arg: bytes, absolute: bool) -> int:
    """An EX/PX/EXAT/PXAT argument as an absolute deadline in ms (Redis's checks and text)."""
    err = ReplyError(f"ERR invalid expire time in '{name}' command")
    v = parse_int(arg)
    if v <= 0 or v > LLONG_MAX // unit_ms:
        raise err
    v *= unit_ms
    if not absolute:
        v += now_ms()
        if v > LLONG_MAX:
            raise err
    return v


# Option bits of SET and GETEX, as Redis's parseExtendedStringArgumentsOrReply knows them.
_NX, _XX, _GET, _KEEPTTL, _PERSIST = 1, 2, 4, 8, 16
_EX, _PX, _EXAT, _PXAT = 32, 64, 128, 256
_ANY_EXPIRE = _EX | _PX | _EXAT | _PXAT
# option -> (its bit, unit in ms, absolute?)
_EXPIRE_OPTS = {
    b"EX": (_EX, 1000, False),
    b"PX": (_PX, 1, False),
    b"EXAT": (_EXAT, 1000, True),
    b"PXAT": (_PXAT, 1, True),
}


def _parse_string_options(
    args: list[bytes], first: int, for_set: bool
) -> tuple[int, tuple[int, bytes, bool] | None]:
    """SET's (NX XX GET KEEPTTL) or GETEX's (PERSIST) options plus the expiry ones shared by
    both. Returns (option bits, (unit_ms, argument, absolute) or None). The same expiry option
    may repeat (the last wins), two different ones may not, as in Redis."""
    flags = 0
    expire: tuple[int, bytes, bool] | None = None
    i = first
    n = len(args)
    while i < n:
        opt = args[i].upper()
        spec = _EXPIRE_OPTS.get(opt)
        if spec is not None:
            bit, unit, absolute = spec
            if flags & (_KEEPTTL | _PERSIST | (_ANY_EXPIRE & ~bit)) or i + 1 >= n:
                raise SYNTAX
            flags |= bit
            expire = (unit, args[i + 1], absolute)
            i += 2
            continue
        if for_set and opt == b"NX" and not flags & _XX:
            flags |= _NX
        elif for_set and opt == b"XX" and not flags & _NX:
            flags |= _XX
        elif for_set and opt == b"GET":
            flags |= _GET
        elif for_set and opt == b"KEEPTTL" and not flags & _ANY_EXPIRE:
            flags |= _KEEPTTL
        elif not for_set and opt == b"PERSIST" and not flags & _ANY_EXPIRE:
            flags |= _PERSIST
        else:
            raise SYNTAX
        i += 1
    return flags, expire


def _set_getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """SET's key flags depend on its arguments (Redis's setGetKeys): with GET it reads the old
    value too."""
    if any(a.lower() == b"get" for a in args[3:]):
        return [(1, ("RW", "access", "update"))]
    return [(1, ("OW", "update"))]


@command(
    "set",
    -3,
    "write denyoom",
    group=S,
    summary="Set the string value of a key",
    args="key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds"
    " | PXAT unix-time-milliseconds | KEEPTTL]",
    complexity="O(1)",
    key_specs=(
        KeySpec(
            "RW access update variable_flags",
            1,
            notes="RW and ACCESS due to the optional `GET` argument",
        ),
    ),
    getkeys=_set_getkeys,
    propagate=propagation.set_pxat,
)
def set_(c: Context, args: list[bytes]) -> Any:
    if len(args) == 3:  # the common case, kept short
        db = c.db
        key = args[1]
        db.set(key, args[2])
        db.changed(key, "set")
        return OK
    flags, expire = _parse_string_options(args, 3, True)
    # Redis validates the expiry before looking at the key.
    when = parse_expire("set", *expire) if expire else None
    db = c.db
    key = args[1]
    get_old = flags & _GET
    old = db.read(key) if get_old else db.get(key)  # SET .. GET reads the key, as GET
    if get_old and old is not None and type(old) is not bytes:
        raise WRONGTYPE
    if (flags & _NX and old is not None) or (flags & _XX and old is None):
        return old if get_old else None
    db.set(key, args[2], when, bool(flags & _KEEPTTL))
    db.changed(key, "set")
    if when is not None:
        db.changed(key, "expire", 0)  # Redis notifies the expiry as a second event
    return old if get_old else OK


@command(
    "setnx",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Set the value of a key, only if the key does not exist",
    args="key value",
    complexity="O(1)",
    key_flags="OW insert",
)
def setnx(c: Context, args: list[bytes]) -> Any:
    if c.db.get(args[1]) is not None:
        return 0
    c.db.set(args[1], args[2])
    c.db.changed(args[1], "set")
    return 1


def _setex(c: Context, args: list[bytes], unit_ms: int) -> Any:
    when = parse_expire(args[0].decode(errors="replace").lower(), unit_ms, args[2], False)
    c.db.set(args[1], args[3], when)
    c.db.changed(args[1], "set")
    c.db.changed(args[1], "expire", 0)
    return OK


@command(
    "setex",
    4,
    "write denyoom",
    (1, 1, 1),
    group=S,
    summary="Set the value and expiration of a key",
    args="key seconds value",
    since="2.0.0",
    complexity="O(1)",
    key_flags="OW update",
    propagate=propagation.setex_pxat,
)
def setex(c: Context, args: list[bytes]) -> Any:
    return _setex(c, args, 1000)


@command(
    "psetex",
    4,
    "write denyoom",
    (1, 1, 1),
    group=S,
    summary="Set the value and expiration in milliseconds of a key",
    args="key milliseconds value",
    since="2.6.0",
    complexity="O(1)",
    key_flags="OW update",
    propagate=propagation.setex_pxat,
)
def psetex(c: Context, args: list[bytes]) -> Any:
    return _setex(c, args, 1)


@command(
    "getset",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Set the string value of a key and return its old value",
    args="key value",
    complexity="O(1)",
)
def getset(c: Context, args: list[bytes]) -> Any:
    old = get_string(c.db, args[1], read=True)
    c.db.set(args[1], args[2])  # drops any deadline, as SET does
    c.db.changed(args[1], "set")
    return old


@command(
    "getdel",
    2,
    "write fast",
    (1, 1, 1),
    group=S,
    summary="Get the value of a key and delete the key",
    args="key",
    since="6.2.0",
    complexity="O(1)",
    key_flags="RW access delete",
    propagate=propagation.as_del,
)
def getdel(c: Context, args: list[bytes]) -> Any:
    v = get_string(c.db, args[1], read=True)
    if v is not None and c.db.delete(args[1]):
        c.db.changed(args[1], "del")
    return v


@command(
    "getex",
    -2,
    "write fast",
    group=S,
    summary="Get the value of a key and optionally set its expiration",
    args="key [EX seconds | PX milliseconds | EXAT unix-time-seconds"
    " | PXAT unix-time-milliseconds | PERSIST]",
    since="6.2.0",
    complexity="O(1)",
    key_specs=(KeySpec("RW access update", 1, notes="RW and UPDATE because it changes the TTL"),),
    propagate=propagation.getex,
)
def getex(c: Context, args: list[bytes]) -> Any:
    flags, expire = _parse_string_options(args, 2, False)
    db = c.db
    key = args[1]
    v = get_string(db, key, read=True)
    if v is None:
        return None  # a missing key wins over a bad expire time, as in Redis
    if expire is not None:
        when = parse_expire("getex", *expire)
        if expire[2] and when <= now_ms():
            db.delete(key)  # an absolute time already past deletes the key
            db.changed(key, "del")
        else:
            db.set_expire(key, when)
            db.changed(key, "expire")
    elif flags & _PERSIST and db.persist(key):
        db.changed(key, "persist")
    return v


@command(
    "mget",
    -2,
    "readonly fast",
    (1, -1, 1),
    group=S,
    summary="Get the values of all the given keys",
    args="key [key ...]",
    complexity="O(N) where N is the number of keys to retrieve.",
    tips="request_policy:multi_shard",
)
def mget(c: Context, args: list[bytes]) -> Any:
    db = c.db
    out: list[bytes | None] = []
    for key in args[1:]:
        v = db.read(key)
        out.append(v if type(v) is bytes else None)
    return out


@command(
    "mset",
    -3,
    "write denyoom",
    (1, -1, 2),
    group=S,
    summary="Set multiple keys to multiple values",
    args="key value [key value ...]",
    since="1.0.1",
    complexity="O(N) where N is the number of keys to set.",
    tips="request_policy:multi_shard response_policy:all_succeeded",
    key_flags="OW update",
)
def mset(c: Context, args: list[bytes]) -> Any:
    _check_pairs(args)
    c.db.set_many(args)
    c.db.changed_keys(args[1::2], "set")
    return OK


@command(
    "msetnx",
    -3,
    "write denyoom",
    (1, -1, 2),
    group=S,
    summary="Set multiple keys to multiple values, only if none of the keys exist",
    args="key value [key value ...]",
    since="1.0.1",
    complexity="O(N) where N is the number of keys to set.",
    tips="request_policy:multi_shard response_policy:agg_min",
    key_flags="OW insert",
)
def msetnx(c: Context, args: list[bytes]) -> Any:
    _check_pairs(args)
    db = c.db
    if any(db.get(args[i]) is not None for i in range(1, len(args), 2)):
        return 0
    db.set_many(args)
    db.changed_keys(args[1::2], "set")
    return 1


def _check_pairs(args: list[bytes]) -> None:
    """MSET/MSETNX take key value pairs: an odd count is an arity error (Redis checks it here,
    the table's arity of -3 cannot)."""
    if len(args) % 2 == 0:
        name = args[0].decode(errors="replace").lower()
        raise ReplyError(f"ERR wrong number of arguments for '{name}' command")


# --- counters ----------------------------------------------------------------------------------


def _incr(c: Context, key: bytes, delta: int) -> int:
    db = c.db
    v = db.get(key)
    if v is None:
        db.set(key, b"%d" % delta)
        db.changed(key, "incrby")
        return delta
    if type(v) is not bytes:
        raise WRONGTYPE
    if v.isdigit() and len(v) < 19 and (v[0] != 0x30 or v == b"0"):
        # A canonical non-negative number under 10**18 (the common counter): parse_int's
        # checks (format back, range) are not needed for it.
        new = int(v) + delta
    else:
        new = parse_int(v) + delta
    if not LLONG_MIN <= new <= LLONG_MAX:
        raise OVERFLOW
    db.replace_value(key, b"%d" % new)
    db.changed(key, "incrby")
    return new


@command(
    "incr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Increment the integer value of a key by one",
    args="key",
    complexity="O(1)",
)
def incr(c: Context, args: list[bytes]) -> Any:
    # _incr's work for a delta of 1, inline: INCR is the counter command of benchmarks and
    # real workloads. Up to 18 digits plus one cannot overflow. (isdigit() is False for b"".)
    db = c.db
    key = args[1]
    v = db.get(key)
    if type(v) is bytes and v.isdigit() and len(v) < 19 and (v[0] != 0x30 or v == b"0"):
        new = int(v) + 1
        db.replace_value(key, b"%d" % new)
        db.changed(key, "incrby")
        return new
    return _incr(c, key, 1)


@command(
    "decr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Decrement the integer value of a key by one",
    args="key",
    complexity="O(1)",
)
def decr(c: Context, args: list[bytes]) -> Any:
    return _incr(c, args[1], -1)


@command(
    "incrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Increment the integer value of a key by the given amount",
    args="key increment:integer",
    complexity="O(1)",
)
def incrby(c: Context, args: list[bytes]) -> Any:
    return _incr(c, args[1], parse_int(args[2]))


@command(
    "decrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Decrement the integer value of a key by the given number",
    args="key decrement:integer",
    complexity="O(1)",
)
def decrby(c: Context, args: list[bytes]) -> Any:
    delta = parse_int(args[2])
    if delta == LLONG_MIN:
        raise ReplyError("ERR decrement would overflow")
    return _incr(c, args[1], -delta)


@command(
    "incrbyfloat",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Increment the float value of a key by the given amount",
    args="key increment:double",
    since="2.6.0",
    complexity="O(1)",
    propagate=propagation.incrbyfloat,
)
def incrbyfloat(c: Context, args: list[bytes]) -> Any:
    key = args[1]
    old = get_string(c.db, key)
    try:
        value = LD_ZERO if old is None else parse_long_double(old)
        incr = parse_long_double(args[2])
        total = add_long_double(value, incr)
    except Infinite:
        raise NAN_OR_INF from None
    new = format_long_double(total)
    put_string(c, key, old, new, "incrbyfloat")
    return new


# --- ranges and lengths -----------------------------------------------------------------------


def clamp_range(start: int, end: int, length: int) -> tuple[int, int] | None:
    """GETRANGE/BITCOUNT's inclusive range over ``length`` items: negative indexes count from
    the end, then both are clamped; None when the range is empty."""
    if start < 0 and end < 0 and start > end:
        return None
    if start < 0:
        start = max(start + length, 0)
    if end < 0:
        end = max(end + length, 0)
    end = min(end, length - 1)
    if start > end:
        return None
    return start, end


@command(
    "append",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Append a value to a key",
    args="key value",
    since="2.0.0",
    complexity="O(1)",
    key_flags="RW insert",
)
def append(c: Context, args: list[bytes]) -> Any:
    key = args[1]
    old = get_string(c.db, key)
    if old is None:
        new = args[2]
    else:
        check_length(c, len(old) + len(args[2]))
        new = old + args[2]
    put_string(c, key, old, new, "append")
    return len(new)


@command(
    "strlen",
    2,
    "readonly fast",
    (1, 1, 1),
    group=S,
    summary="Get the length of the value stored in a key",
    args="key",
    since="2.2.0",
    complexity="O(1)",
    key_flags="RO",
)
def strlen(c: Context, args: list[bytes]) -> Any:
    v = get_string(c.db, args[1], read=True)
    return 0 if v is None else len(v)


def _getrange(c: Context, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    v = get_string(c.db, args[1], read=True)
    if v is None:
        return b""
    r = clamp_range(start, end, len(v))
    return b"" if r is None else v[r[0] : r[1] + 1]


@command(
    "getrange",
    4,
    "readonly",
    (1, 1, 1),
    group=S,
    summary="Get a substring of the string stored at a key",
    args="key start:integer end:integer",
    since="2.4.0",
    complexity="O(N) where N is the length of the returned string.",
)
def getrange(c: Context, args: list[bytes]) -> Any:
    return _getrange(c, args)


@command(
    "substr",
    4,
    "readonly",
    (1, 1, 1),
    group=S,
    summary="Get a substring of the string stored at a key",
    args="key start:integer end:integer",
    complexity="O(N) where N is the length of the returned string.",
)
def substr(c: Context, args: list[bytes]) -> Any:
    return _getrange(c, args)


@command(
    "setrange",
    4,
    "write denyoom",
    (1, 1, 1),
    group=S,
    summary="Overwrite part of a string at key starting at the specified offset",
    args="key offset:integer value",
    since="2.2.0",
    complexity="O(1), not counting the time taken to copy the new string in place.",
    key_flags="RW update",
)
def setrange(c: Context, args: list[bytes]) -> Any:
    offset = parse_int(args[2])
    if offset < 0:
        raise ReplyError("ERR offset is out of range")
    key, value = args[1], args[3]
    old = get_string(c.db, key)
    if not value:  # writing nothing: no change, not even a length check
        return 0 if old is None else len(old)
    check_length(c, offset + len(value))  # before any zero padding is allocated
    if old is None:
        new = bytes(offset) + value
    else:
        head = old[:offset]
        if len(head) < offset:
            head += bytes(offset - len(head))
        new = head + value + old[offset + len(value) :]
    put_string(c, key, old, new, "setrange")
    return len(new)


# --- LCS --------------------------------------------------------------------------------------


def _lcs_rows(a: bytes, b: bytes) -> list[int]:
    """The LCS table of ``a`` and ``b`` as one bit-vector per row (Allison-Dix): bit j-1 of
    row i is 0 exactly when LCS(a[:i], b[:j]) is one more than LCS(a[:i], b[:j-1]), so the
    table entry LCS(i, j) is the count of zero bits below bit j. A row is one big-int
    operation instead of len(b) Python steps."""
    masks: dict[int, int] = {}
    for j, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | 1 << j
    full = (1 << len(b)) - 1
    row = full
    rows = [row]
    for ch in a:
        u = row & masks.get(ch, 0)
        row = ((row + u) | (row - u)) & full
        rows.append(row)
    return rows


@command(
    "lcs",
    -3,
    "readonly",
    (1, 2, 1),
    group=S,
    summary="Find longest common substring",
    args="key1:key key2:key [LEN] [IDX] [MINMATCHLEN len:integer] [WITHMATCHLEN]",
    since="7.0.0",
    complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
)
def lcs(c: Context, args: list[bytes]) -> Any:
    db = c.db
    a, b = db.read(args[1]), db.read(args[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise ReplyError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    i, n = 3, len(args)
    while i < n:
        opt = args[i].upper()
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and i + 1 < n:
            minmatchlen = max(parse_int(args[i + 1]), 0)
            i += 1
        else:
            raise SYNTAX
        i += 1
    if getlen and getidx:
        raise ReplyError("ERR If you want both the length and indexes, please just use IDX.")
    # Redis's table is 4 bytes a cell; refuse what it would refuse.
    if (len(a) + 1) * (len(b) + 1) * 4 > c.server.config.proto_max_bulk_len:
        raise ReplyError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    rows = _lcs_rows(a, b)
    alen, blen = len(a), len(b)
    total = blen - rows[alen].bit_count()
    if getlen:
        return total
    return _lcs_walk(a, b, rows, total, getidx, withmatchlen, minmatchlen)


def _lcs_walk(
    a: bytes,
    b: bytes,
    rows: list[int],
    total: int,
    getidx: bool,
    withmatchlen: bool,
    minmatchlen: int,
) -> Any:
    """Walk the table back from its corner as Redis does, building the LCS string and the
    matched ranges (longest-index first; on a tie between going up and left, go left)."""

    def cell(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    alen = len(a)
    out = bytearray(total)
    matches: list[list[Any]] = []
    k = total
    i, j = alen, len(b)
    open_range = False
    a_start = a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[k - 1] = a[i - 1]
            if not open_range:
                open_range = True
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:  # contiguous: extend backwards
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            k -= 1
            i -= 1
            j -= 1
        else:
            if cell(i - 1, j) > cell(i, j - 1):
                i -= 1
            else:
                j -= 1
            emit = open_range
        if emit:
            match_len = a_end - a_start + 1
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                m: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if withmatchlen:
                    m.append(match_len)
                matches.append(m)
            open_range = False
    if getidx:
        return {b"matches": matches, b"len": total}
    return bytes(out)
