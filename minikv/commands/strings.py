"""String commands. Values are ``bytes``; any other value type is WRONGTYPE here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command
from minikv.commands.util import LLONG_MAX, SYNTAX, WRONGTYPE, parse_int
from minikv.keyspace import now_ms
from minikv.protocol import OK, ReplyError

if TYPE_CHECKING:
    from minikv.connection import Client
    from minikv.keyspace import Db

S = "string"
STRING_MAX = 512 * 1024 * 1024


def get_string(db: Db, key: bytes) -> bytes | None:
    """The string at ``key``, None if missing; WRONGTYPE for other types."""
    v = db.get(key)
    if v is None or type(v) is bytes:
        return v
    raise WRONGTYPE


@command("get", 2, "readonly fast", (1, 1, 1), group=S, summary="Get the value of a key")
def get(c: Client, args: list[bytes]) -> Any:
    v = c.db.get(args[1])
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


@command("set", -3, "write denyoom", (1, 1, 1), group=S, summary="Set the string value of a key")
def set_(c: Client, args: list[bytes]) -> Any:
    if len(args) == 3:  # the common case, kept short
        c.db.set(args[1], args[2])
        c.server.keyspace.dirty += 1
        return OK
    nx = xx = get_old = keepttl = False
    expire: tuple[int, bytes, bool] | None = None
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get_old = True
        elif opt == b"KEEPTTL" and expire is None:
            keepttl = True
        elif opt in _EXPIRE_UNITS and expire is None and not keepttl and i + 1 < n:
            unit, absolute = _EXPIRE_UNITS[opt]
            expire = (unit, args[i + 1], absolute)
            i += 1
        else:
            raise SYNTAX
        i += 1
    when = parse_expire("set", expire[0], expire[1], expire[2]) if expire else None
    db = c.db
    key = args[1]
    old = db.get(key)
    if get_old and old is not None and type(old) is not bytes:
        raise WRONGTYPE
    if (nx and old is not None) or (xx and old is None):
        return old if get_old else None
    db.set(key, args[2], when, keepttl)
    c.server.keyspace.dirty += 1
    return old if get_old else OK


_EXPIRE_UNITS = {b"EX": (1000, False), b"PX": (1, False), b"EXAT": (1000, True), b"PXAT": (1, True)}


def _incr(c: Client, key: bytes, delta: int) -> int:
    db = c.db
    v = get_string(db, key)
    if v is None:
        cur = 0
    else:
        try:
            cur = parse_int(v) if len(v) <= 20 else None
        except ReplyError:
            cur = None
        if cur is None:
            raise ReplyError("ERR value is not an integer or out of range")
    new = cur + delta
    if not -(2**63) <= new <= LLONG_MAX:
        raise ReplyError("ERR increment or decrement would overflow")
    if v is None:
        db.set(key, b"%d" % new)
    else:
        db.replace_value(key, b"%d" % new)
    c.server.keyspace.dirty += 1
    return new


@command(
    "incr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Increment the integer value of a key by one",
)
def incr(c: Client, args: list[bytes]) -> Any:
    return _incr(c, args[1], 1)


@command(
    "decr",
    2,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Decrement the integer value of a key by one",
)
def decr(c: Client, args: list[bytes]) -> Any:
    return _incr(c, args[1], -1)


@command(
    "incrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Increment the integer value of a key by the given amount",
)
def incrby(c: Client, args: list[bytes]) -> Any:
    return _incr(c, args[1], parse_int(args[2]))


@command(
    "decrby",
    3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Decrement the integer value of a key by the given number",
)
def decrby(c: Client, args: list[bytes]) -> Any:
    delta = parse_int(args[2])
    if delta == -(2**63):
        raise ReplyError("ERR decrement would overflow")
    return _incr(c, args[1], -delta)


@command(
    "mget",
    -2,
    "readonly fast",
    (1, -1, 1),
    group=S,
    summary="Get the values of all the given keys",
    since="1.0.0",
)
def mget(c: Client, args: list[bytes]) -> Any:
    db = c.db
    out: list[bytes | None] = []
    for key in args[1:]:
        v = db.get(key)
        out.append(v if type(v) is bytes else None)
    return out


@command(
    "mset",
    -3,
    "write denyoom",
    (1, -1, 2),
    group=S,
    summary="Set multiple keys to multiple values",
    since="1.0.1",
)
def mset(c: Client, args: list[bytes]) -> Any:
    if len(args) % 2 == 0:
        raise ReplyError("ERR wrong number of arguments for 'mset' command")
    db = c.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    c.server.keyspace.dirty += (len(args) - 1) // 2
    return OK
