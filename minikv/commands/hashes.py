"""Hash commands: HSET HGET HDEL HINCRBY HRANDFIELD HSCAN and the rest.

A hash is one of two classes (``minikv.packedhash``): a small one a ``PackedHash`` (Redis's
listpack encoding: one blob of fields and values), a big one a plain ``dict[bytes, bytes]`` (the
hashtable encoding). Both keep insertion order, as Redis's listpack does, so replies listing a
small hash (HGETALL, HKEYS, HSCAN...) come in the same order as from redis-server. A write that
takes a packed hash past the thresholds turns it into a dict (``packedhash.settle``), which
stays one, as Redis never converts a hashtable back.

Changes are made in place (a packed hash's blob is replaced in the same object), so every
mutating handler reports them through ``db.changed`` (the change hook); a hash left empty is
deleted. A conversion to a dict replaces the stored value with ``Db.replace_value``, which keeps
the key's deadline.
"""

from __future__ import annotations

import random
from itertools import islice
from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.commands import command
from minikv.commands.keys import parse_cursor
from minikv.commands.util import (
    SYNTAX,
    WRONGTYPE,
    parse_long_range,
    parse_scan_options,
    scan_slice,
)
from minikv.packedhash import PackedHash, settle
from minikv.parsing import (
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

H = "hash"


Hash = dict[bytes, bytes] | PackedHash


def get_hash(db: Db, key: bytes, read: bool = False) -> Hash | None:
    """The hash at ``key`` in either form (None if missing), WRONGTYPE for another type;
    ``read`` as in ``commands.util.get_typed``."""
    v = db.read(key) if read else db.get(key)
    if v is None or type(v) is PackedHash or type(v) is dict:
        return v
    raise WRONGTYPE


def get_fields(db: Db, key: bytes) -> dict[bytes, bytes] | None:
    """The fields of the hash at ``key`` as a dict to read (a packed hash's is a new one)."""
    h = get_hash(db, key, read=True)
    return h.to_dict() if type(h) is PackedHash else h


def _for_write(c: Context, key: bytes) -> tuple[dict[bytes, bytes], Hash | None]:
    """(the fields to change, the stored hash): a packed hash's fields are a new dict, a big
    hash's its own dict, a missing key's an empty one; ``_stored`` puts them back."""
    h = get_hash(c.db, key)
    if h is None:
        return {}, None
    if type(h) is PackedHash:
        return h.to_dict(), h
    return h, h


def _stored(
    c: Context,
    key: bytes,
    h: dict[bytes, bytes],
    old: Hash | None,
    changes: int,
    event: str,
    written: list[bytes],
) -> None:
    """Record a change of the fields ``h`` (from ``_for_write``), which set ``written`` (fields
    and values): store them in the form ``packedhash.settle`` gives, and report the change."""
    new = settle(h, old, written)
    if new is not None:
        if old is None:
            c.db.set(key, new)
        else:
            c.db.replace_value(key, new)
    c.db.changed(key, event, changes)


# --- setting and getting fields ---------------------------------------------------------------


def _hset(c: Context, args: list[bytes]) -> int:
    if len(args) % 2:
        name = args[0].decode(errors="replace").lower()
        raise ReplyError(f"ERR wrong number of arguments for '{name}' command")
    key = args[1]
    db = c.db
    v = db.get(key)
    if type(v) is PackedHash:  # the common case, in one call
        added, big = v.set_pairs(args, 2)
        if big is not None:
            db.replace_value(key, big)
        db.changed(key, "hset", (len(args) - 2) // 2)
        return added
    h, old = _for_write(c, key)
    before = len(h)
    for i in range(2, len(args), 2):
        h[args[i]] = args[i + 1]
    _stored(c, key, h, old, (len(args) - 2) // 2, "hset", args[2:])
    return len(h) - before


@command(
    "hset",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    group=H,
    summary="Set the string value of a hash field",
    since="2.0.0",
    complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs when "
    "the command is called with multiple field/value pairs.",
    args="key field value [field value ...]",
    key_flags="RW update",
    history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
)
def hset(c: Context, args: list[bytes]) -> Any:
    return _hset(c, args)


@command(
    "hmset",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    group=H,
    summary="Set multiple hash fields to multiple values",
    since="2.0.0",
    complexity="O(N) where N is the number of fields being set.",
    args="key field value [field value ...]",
    key_flags="RW update",
)
def hmset(c: Context, args: list[bytes]) -> Any:
    _hset(c, args)
    return OK


@command(
    "hsetnx",
    4,
    "write denyoom fast",
    (1, 1, 1),
    group=H,
    summary="Set the value of a hash field, only if the field does not exist",
    since="2.0.0",
    complexity="O(1)",
    args="key field value",
    key_flags="RW insert",
)
def hsetnx(c: Context, args: list[bytes]) -> Any:
    key, field = args[1], args[2]
    h, old = _for_write(c, key)
    if field in h:
        return 0
    h[field] = args[3]
    _stored(c, key, h, old, 1, "hset", args[2:])
    return 1


@command(
    "hget",
    3,
    "readonly fast",
    (1, 1, 1),
    group=H,
    summary="Get the value of a hash field",
    since="2.0.0",
    complexity="O(1)",
    args="key field",
)
def hget(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    return None if h is None else h.get(args[2])


@command(
    "hmget",
    -3,
    "readonly fast",
    (1, 1, 1),
    group=H,
    summary="Get the values of all the given hash fields",
    since="2.0.0",
    complexity="O(N) where N is the number of fields being requested.",
    args="key field [field ...]",
)
def hmget(c: Context, args: list[bytes]) -> Any:
    h = get_fields(c.db, args[1])  # a packed hash decoded once
    if h is None:
        return [None] * (len(args) - 2)
    return [h.get(f) for f in args[2:]]


@command(
    "hdel",
    -3,
    "write fast",
    (1, 1, 1),
    group=H,
    summary="Delete one or more hash fields",
    since="2.0.0",
    complexity="O(N) where N is the number of fields to be removed.",
    args="key field [field ...]",
    key_flags="RW delete",
    history=(("2.4.0", "Accepts multiple `field` arguments."),),
)
def hdel(c: Context, args: list[bytes]) -> Any:
    db = c.db
    key = args[1]
    h, old = _for_write(c, key)
    if old is None:
        return 0
    deleted = 0
    for f in args[2:]:
        if h.pop(f, None) is not None:
            deleted += 1
    if deleted:
        if h and type(old) is PackedHash:
            old.blob = PackedHash.of(h).blob  # never converts: nothing grew
        db.changed(key, "hdel", deleted)
        if not h:
            db.delete(key)
            db.changed(key, "del", 0)
    return deleted


@command(
    "hexists",
    3,
    "readonly fast",
    (1, 1, 1),
    group=H,
    summary="Determine if a hash field exists",
    since="2.0.0",
    complexity="O(1)",
    args="key field",
    key_flags="RO",
)
def hexists(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    return int(h is not None and args[2] in h)


@command(
    "hlen",
    2,
    "readonly fast",
    (1, 1, 1),
    group=H,
    summary="Get the number of fields in a hash",
    since="2.0.0",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def hlen(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    return 0 if h is None else len(h)


@command(
    "hstrlen",
    3,
    "readonly fast",
    (1, 1, 1),
    group=H,
    summary="Get the length of the value of a hash field",
    since="3.2.0",
    complexity="O(1)",
    args="key field",
    key_flags="RO",
)
def hstrlen(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    v = None if h is None else h.get(args[2])
    return 0 if v is None else len(v)


# --- whole-hash replies -----------------------------------------------------------------------

_ORDER = "nondeterministic_output_order"


@command(
    "hkeys",
    2,
    "readonly",
    (1, 1, 1),
    group=H,
    summary="Get all the fields in a hash",
    since="2.0.0",
    complexity="O(N) where N is the size of the hash.",
    args="key",
    tips=_ORDER,
)
def hkeys(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    if h is None:
        return []
    return h.keys() if type(h) is PackedHash else list(h)


@command(
    "hvals",
    2,
    "readonly",
    (1, 1, 1),
    group=H,
    summary="Get all the values in a hash",
    since="2.0.0",
    complexity="O(N) where N is the size of the hash.",
    args="key",
    tips=_ORDER,
)
def hvals(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    if h is None:
        return []
    return h.values() if type(h) is PackedHash else list(h.values())


@command(
    "hgetall",
    2,
    "readonly",
    (1, 1, 1),
    group=H,
    summary="Get all the fields and values in a hash",
    since="2.0.0",
    complexity="O(N) where N is the size of the hash.",
    args="key",
    tips=_ORDER,
)
def hgetall(c: Context, args: list[bytes]) -> Any:
    h = get_hash(c.db, args[1], read=True)
    if h is None:
        return {}
    # A copy: inside MULTI the reply is encoded after later commands ran.
    return h.to_dict() if type(h) is PackedHash else dict(h)


# --- counters ---------------------------------------------------------------------------------


@command(
    "hincrby",
    4,
    "write denyoom fast",
    (1, 1, 1),
    group=H,
    summary="Increment the integer value of a hash field by the given number",
    since="2.0.0",
    complexity="O(1)",
    args="key field increment",
    key_flags="RW access update",
)
def hincrby(c: Context, args: list[bytes]) -> Any:
    incr = parse_int(args[3])
    key, field = args[1], args[2]
    h, stored = _for_write(c, key)
    old = h.get(field)
    total = (0 if old is None else parse_int(old, _NOT_INT_HASH)) + incr
    if not LLONG_MIN <= total <= LLONG_MAX:
        raise ReplyError("ERR increment or decrement would overflow")
    text = b"%d" % total
    h[field] = text
    _stored(c, key, h, stored, 1, "hincrby", [field, text])
    return total


_NOT_INT_HASH = ReplyError("ERR hash value is not an integer")
_NOT_FLOAT_HASH = ReplyError("ERR hash value is not a float")


@command(
    "hincrbyfloat",
    4,
    "write denyoom fast",
    (1, 1, 1),
    group=H,
    summary="Increment the float value of a hash field by the given amount",
    since="2.6.0",
    complexity="O(1)",
    args="key field increment:double",
    key_flags="RW access update",
    propagate=propagation.hincrbyfloat,
)
def hincrbyfloat(c: Context, args: list[bytes]) -> Any:
    # Computed in the x87 long double Redis uses (see strings.INCRBYFLOAT).
    try:
        incr = parse_long_double(args[3])
    except Infinite:
        raise ReplyError("ERR value is NaN or Infinity") from None
    key, field = args[1], args[2]
    h, stored = _for_write(c, key)
    old = h.get(field)
    try:
        try:
            value = (0, 0) if old is None else parse_long_double(old)
        except ReplyError:
            raise _NOT_FLOAT_HASH from None
        total = add_long_double(value, incr)
    except Infinite:
        raise NAN_OR_INF from None
    text = format_long_double(total)
    h[field] = text
    _stored(c, key, h, stored, 1, "hincrbyfloat", [field, text])
    return text


# --- random fields and iteration --------------------------------------------------------------


@command(
    "hrandfield",
    -2,
    "readonly",
    (1, 1, 1),
    group=H,
    summary="Get one or multiple random fields from a hash",
    since="6.2.0",
    complexity="O(N) where N is the number of fields returned",
    args="key [count [WITHVALUES]]",
    tips="nondeterministic_output",
)
def hrandfield(c: Context, args: list[bytes]) -> Any:
    if len(args) == 2:
        h = get_fields(c.db, args[1])
        if h is None:
            return None
        return _sample(h, 1)[0]
    count = parse_long_range(args[2], -LLONG_MAX, LLONG_MAX)
    withvalues = False
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withvalues"):
        raise SYNTAX
    if len(args) == 4:
        withvalues = True
        if not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:
            raise ReplyError("ERR value is out of range")
    h = get_fields(c.db, args[1])
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:
        fields = random.choices(list(h), k=abs(count))  # with repetitions
    elif count >= len(h):
        fields = list(h)  # the whole hash, in its order
    else:
        fields = _sample(h, count)
    if not withvalues:
        return fields
    if c.resp == 3:
        return [[f, h[f]] for f in fields]
    return [x for f in fields for x in (f, h[f])]


def _sample(h: dict[bytes, bytes], count: int) -> list[bytes]:
    """``count`` distinct random fields (``count < len(h)``)."""
    if count == 1:
        return [next(islice(h, random.randrange(len(h)), None))]
    return random.sample(list(h), count)


@command(
    "hscan",
    -3,
    "readonly",
    (1, 1, 1),
    group=H,
    summary="Incrementally iterate hash fields and associated values",
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
    "calls for the cursor to return back to 0. N is the number of elements inside the "
    "collection..",
    args="key cursor [MATCH pattern] [COUNT count]",
    tips="nondeterministic_output",
)
def hscan(c: Context, args: list[bytes]) -> Any:
    cursor = parse_cursor(args[2])
    stored = get_hash(c.db, args[1], read=True)
    if stored is None:
        return [b"0", []]
    count, match = parse_scan_options(args, 3)
    h = stored.to_dict() if type(stored) is PackedHash else stored
    if type(stored) is PackedHash:
        # Redis returns a compact hash whole, whatever the cursor.
        nxt, fields = 0, list(h)
    else:
        nxt, fields = scan_slice(h, cursor, count)
    if match is not None:
        fields = [f for f in fields if match(f)]
    return [b"%d" % nxt, [x for f in fields for x in (f, h[f])]]
