"""Set commands: SADD SREM SPOP SRANDMEMBER SMOVE, the set algebra (SINTER SUNION SDIFF and
their STORE forms, SINTERCARD) and SSCAN.

A set is a ``SetValue`` (minikv/setvalue.py): a ``dict`` ``{member: None}``, so that a forked
snapshot child encodes it without copy-on-write. Being a dict, it is never returned as a reply
(the encoder would send a map): replies listing members are pre-encoded here (``set_reply``).
OBJECT ENCODING is derived from the contents with Redis 7.0's rules: "intset" while every member
is an integer in canonical form and there are at most ``set-max-intset-entries`` (CONFIG,
``minikv.limits``, read at each use), else "hashtable" (7.0 has no listpack sets). Redis
never converts a hashtable back to an intset; this reports what a freshly loaded copy would be.

Redis lists an intset in ascending numeric order, so replies listing such a set (SMEMBERS,
SUNION, SSCAN...) are sorted the same way here and match redis-server byte for byte; the order
of bigger or non-numeric sets is unspecified in both (here: the set's insertion order).

Limits: SPOP and SRANDMEMBER walk the dict to a random position, O(N) per call where Redis is
O(1) (see minikv/setvalue.py); SPOP/SRANDMEMBER with a count walk it once per call.

Changes are made in place, so every mutating handler reports them through ``db.changed`` (the
change hook); a set left empty is deleted.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from itertools import filterfalse, islice
from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.commands import KeySpec, command
from minikv.commands.keys import parse_cursor
from minikv.commands.util import (
    SYNTAX,
    get_typed,
    parse_long_range,
    parse_scan_options,
    scan_slice,
)
from minikv.parsing import LLONG_MAX
from minikv.protocol import Raw, ReplyError
from minikv.setvalue import SetValue
from minikv.valuetypes import is_intset

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

S = "set"

SPOP_MOVE_STRATEGY_MUL = 5  # Redis's t_set.c: SPOP with a count listing the set as it iterates


def get_set(db: Db, key: bytes, read: bool = False) -> SetValue | None:
    return get_typed(db, key, SetValue, read)


def _ordered(s: Collection[bytes]) -> Collection[bytes]:
    """The members in the order Redis lists them: ascending for an intset."""
    return sorted(s, key=int) if is_intset(s) else s


def _encode_members(head: bytes, members: Collection[bytes]) -> Raw:
    return Raw(head % len(members) + b"".join([b"$%d\r\n%b\r\n" % (len(m), m) for m in members]))


def _set_head(c: Context) -> bytes:
    return b"~%d\r\n" if c.resp == 3 else b"*%d\r\n"


def set_reply(c: Context, s: Collection[bytes]) -> Raw:
    """A set reply (RESP3 set, RESP2 array) of the members of ``s`` in Redis's order, encoded
    now: a SetValue is a dict, which the encoder would send as a map, and inside MULTI replies
    are encoded after later commands ran. One bulk format per member is also cheaper than the
    generic encoder."""
    return _encode_members(_set_head(c), _ordered(s))


def _store(c: Context, key: bytes, result: SetValue, name: bytes) -> int:
    """The *STORE commands: ``result`` replaces ``key`` (and its deadline), an empty result
    deletes it. Returns the reply (the result's size)."""
    db = c.db
    if result:
        db.set(key, result)
        db.changed(key, name.lower().decode())  # the event is the command's name
    elif db.delete(key):
        db.changed(key, "del")
    return len(result)


# --- members ----------------------------------------------------------------------------------


@command(
    "sadd",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=S,
    summary="Add one or more members to a set",
    complexity="O(1) for each element added, so O(N) to add N elements when the command is "
    "called with multiple arguments.",
    args="key member [member ...]",
    key_flags="RW insert",
    history=(("2.4.0", "Accepts multiple `member` arguments."),),
)
def sadd(c: Context, args: list[bytes]) -> Any:
    db = c.db
    key = args[1]
    s = get_set(db, key)
    if s is None:
        s = SetValue.fromkeys(args[2:])
        db.set(key, s)
        added = len(s)
    else:
        before = len(s)
        for m in args[2:]:
            s[m] = None
        added = len(s) - before
    if added:
        db.changed(key, "sadd", added)
    return added


@command(
    "srem",
    -3,
    "write fast",
    (1, 1, 1),
    group=S,
    summary="Remove one or more members from a set",
    complexity="O(N) where N is the number of members to be removed.",
    args="key member [member ...]",
    key_flags="RW delete",
    history=(("2.4.0", "Accepts multiple `member` arguments."),),
)
def srem(c: Context, args: list[bytes]) -> Any:
    db = c.db
    key = args[1]
    s = get_set(db, key)
    if s is None:
        return 0
    before = len(s)
    pop = s.pop
    for m in args[2:]:
        pop(m, None)
    removed = before - len(s)
    if removed:
        db.changed(key, "srem", removed)
        if not s:
            db.delete(key)
            db.changed(key, "del", 0)
    return removed


@command(
    "smove",
    4,
    "write fast",
    group=S,
    summary="Move a member from one set to another",
    complexity="O(1)",
    args="source destination member",
    key_specs=(KeySpec("RW access delete", 1), KeySpec("RW insert", 2)),
)
def smove(c: Context, args: list[bytes]) -> Any:
    db = c.db
    src_key, dst_key, member = args[1], args[2], args[3]
    src = get_set(db, src_key)
    if src is None:
        return 0  # even when the destination is not a set, as in Redis
    dst = get_set(db, dst_key)
    if src is dst:
        return int(member in src)
    if member not in src:
        return 0
    del src[member]
    db.changed(src_key, "srem")
    if not src:
        db.delete(src_key)
        db.changed(src_key, "del", 0)
    if dst is None:
        db.set(dst_key, SetValue.fromkeys((member,)))
        db.changed(dst_key, "sadd")
    elif member not in dst:
        dst[member] = None
        db.changed(dst_key, "sadd")
    return 1


@command(
    "sismember",
    3,
    "readonly fast",
    (1, 1, 1),
    group=S,
    summary="Determine if a given value is a member of a set",
    complexity="O(1)",
    args="key member",
    key_flags="RO",
)
def sismember(c: Context, args: list[bytes]) -> Any:
    s = get_set(c.db, args[1], read=True)
    return int(s is not None and args[2] in s)


@command(
    "smismember",
    -3,
    "readonly fast",
    (1, 1, 1),
    group=S,
    summary="Returns the membership associated with the given elements for a set",
    since="6.2.0",
    complexity="O(N) where N is the number of elements being checked for membership",
    args="key member [member ...]",
)
def smismember(c: Context, args: list[bytes]) -> Any:
    s = get_set(c.db, args[1], read=True)
    if s is None:
        return [0] * (len(args) - 2)
    return [int(m in s) for m in args[2:]]


@command(
    "smembers",
    2,
    "readonly",
    (1, 1, 1),
    group=S,
    summary="Get all the members in a set",
    complexity="O(N) where N is the set cardinality.",
    args="key",
    tips="nondeterministic_output_order",
)
def smembers(c: Context, args: list[bytes]) -> Any:
    s = get_set(c.db, args[1], read=True)
    return set() if s is None else set_reply(c, s)


@command(
    "scard",
    2,
    "readonly fast",
    (1, 1, 1),
    group=S,
    summary="Get the number of members in a set",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def scard(c: Context, args: list[bytes]) -> Any:
    s = get_set(c.db, args[1], read=True)
    return 0 if s is None else len(s)


# --- random members ---------------------------------------------------------------------------


@command(
    "spop",
    -2,
    "write fast",
    (1, 1, 1),
    group=S,
    summary="Remove and return one or multiple random members from a set",
    complexity="Without the count argument O(1), otherwise O(N) where N is the value of the "
    "passed count.",
    args="key [count]",
    key_flags="RW access delete",
    tips="nondeterministic_output",
    history=(("3.2.0", "Added the `count` argument."),),
    propagate=propagation.spop,
)
def spop(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise SYNTAX
    db = c.db
    key = args[1]
    popped: Any
    if len(args) == 2:
        s = get_set(db, key)
        if s is None:
            return None
        popped = s.random_member()
        del s[popped]
        n = 1
    else:
        count = parse_long_range(
            args[2], 0, LLONG_MAX, "ERR value is out of range, must be positive"
        )
        s = get_set(db, key)
        if s is None or count == 0:
            return set()
        size = len(s)
        if count >= size:
            popped = set_reply(c, s)
            db.delete(key)
            db.changed(key, "spop", size)
            db.changed(key, "del", 0)
            return popped
        intset = is_intset(s)
        members = s.sample(count)
        for m in members:
            del s[m]
        # Redis picks the members one by one when few are popped (random order), else picks
        # those to keep and lists the popped ones as the set iterates (ascending for an intset).
        if (size - count) * SPOP_MOVE_STRATEGY_MUL > count:
            random.shuffle(members)
        elif intset:
            members.sort(key=int)
        popped = _encode_members(_set_head(c), members)
        n = count
    db.changed(key, "spop", n)
    if not s:
        db.delete(key)
        db.changed(key, "del", 0)
    return popped


@command(
    "srandmember",
    -2,
    "readonly",
    (1, 1, 1),
    group=S,
    summary="Get one or multiple random members from a set",
    complexity="Without the count argument O(1), otherwise O(N) where N is the absolute value "
    "of the passed count.",
    args="key [count]",
    tips="nondeterministic_output",
    history=(("2.6.0", "Added the optional `count` argument."),),
)
def srandmember(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise SYNTAX
    if len(args) == 2:
        s = get_set(c.db, args[1], read=True)
        return None if s is None else s.random_member()
    count = parse_long_range(args[2], -LLONG_MAX, LLONG_MAX)
    s = get_set(c.db, args[1], read=True)
    if s is None or count == 0:
        return []
    if count < 0 or count == 1:
        return s.choices(abs(count))  # with repetitions
    if count >= len(s):
        return _encode_members(b"*%d\r\n", _ordered(s))
    members = s.sample(count)
    random.shuffle(members)
    return members


# --- set algebra ------------------------------------------------------------------------------


# Results are built as new SetValues straight from C-level iteration (``filter`` over
# ``__contains__``, dict merges). That is cheaper than ``&``/``-`` on ``keys()`` views, whose
# ``set`` would still have to become a SetValue for the *STORE forms; it costs about 1.4x what
# the same operation on two ``set``s did (a dict entry is bigger than a set entry).


def _sets(c: Context, keys: list[bytes]) -> list[SetValue | None]:
    """The sets at ``keys`` (None for a missing key); WRONGTYPE if any key holds another type,
    checked for every key before any work, as Redis does."""
    db = c.db
    return [get_set(db, k, read=True) for k in keys]


def _inter_members(sets: list[SetValue | None]) -> Iterable[bytes]:
    """The members of the intersection, lazily: the smallest set's members that are in all the
    others (each probe O(1)), as Redis's SINTER."""
    if any(s is None for s in sets):
        return ()
    present: list[SetValue] = sorted(sets, key=len)  # type: ignore[arg-type]
    members: Iterable[bytes] = present[0]
    for s in present[1:]:
        members = filter(s.__contains__, members)
    return members


def _inter(sets: list[SetValue | None]) -> SetValue:
    if len(sets) == 1 and sets[0] is not None:
        return sets[0].copy()
    return SetValue.fromkeys(_inter_members(sets))


def _union(sets: list[SetValue | None]) -> SetValue:
    present = sorted((s for s in sets if s is not None), key=len, reverse=True)
    if not present:
        return SetValue()
    out = present[0].copy()  # the biggest, cloned in C; the others merged into it
    for s in present[1:]:
        out.update(s)
    return out


def _diff(sets: list[SetValue | None]) -> SetValue:
    first = sets[0]
    if first is None:
        return SetValue()
    rest = [s for s in sets[1:] if s is not None]
    if not rest:
        return first.copy()
    if any(s is first for s in rest):
        return SetValue()
    # Redis's choice between its two SDIFF algorithms: probing the others for each member of
    # the first costs len(first) per set (halved: cheaper steps), removing the others' members
    # from a copy of the first costs the sum of all sizes.
    if len(first) * (len(rest) + 1) // 2 <= len(first) + sum(map(len, rest)):
        members: Iterable[bytes] = first
        for s in sorted(rest, key=len, reverse=True):  # the biggest drops the most first
            members = filterfalse(s.__contains__, members)
        return SetValue.fromkeys(members)
    out = first.copy()
    pop = out.pop
    for s in rest:
        for m in s:
            pop(m, None)
        if not out:
            break
    return out


_ORDER = "nondeterministic_output_order"
_INTER_COMPLEXITY = (
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
)
_UNION_COMPLEXITY = "O(N) where N is the total number of elements in all given sets."


@command(
    "sinter",
    -2,
    "readonly",
    (1, -1, 1),
    group=S,
    summary="Intersect multiple sets",
    complexity=_INTER_COMPLEXITY,
    args="key [key ...]",
    tips=_ORDER,
)
def sinter(c: Context, args: list[bytes]) -> Any:
    sets = _sets(c, args[1:])
    if len(sets) == 1 and sets[0] is not None:
        return set_reply(c, sets[0])  # encoded now: no copy needed
    return set_reply(c, _inter(sets))


@command(
    "sintercard",
    -3,
    "readonly",
    group=S,
    summary="Intersect multiple sets and return the cardinality of the result",
    since="7.0.0",
    complexity=_INTER_COMPLEXITY,
    args="numkeys key [key ...] [LIMIT limit:integer]",
    key_specs=(KeySpec("RO access", 1, keynum=0),),
)
def sintercard(c: Context, args: list[bytes]) -> Any:
    numkeys = parse_long_range(args[1], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(args) - 2:
        raise ReplyError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = parse_long_range(args[i + 1], 0, LLONG_MAX, "ERR LIMIT can't be negative")
            i += 2
        else:
            raise SYNTAX
    members = _inter_members(_sets(c, args[2 : 2 + numkeys]))
    if limit:
        members = islice(members, limit)
    return len(list(members))


@command(
    "sinterstore",
    -3,
    "write denyoom",
    group=S,
    summary="Intersect multiple sets and store the resulting set in a key",
    complexity=_INTER_COMPLEXITY,
    args="destination key [key ...]",
    key_specs=(KeySpec("RW update", 1), KeySpec("RO access", 2, lastkey=-1)),
)
def sinterstore(c: Context, args: list[bytes]) -> Any:
    return _store(c, args[1], _inter(_sets(c, args[2:])), args[0])


@command(
    "sunion",
    -2,
    "readonly",
    (1, -1, 1),
    group=S,
    summary="Add multiple sets",
    complexity=_UNION_COMPLEXITY,
    args="key [key ...]",
    tips=_ORDER,
)
def sunion(c: Context, args: list[bytes]) -> Any:
    return set_reply(c, _union(_sets(c, args[1:])))


@command(
    "sunionstore",
    -3,
    "write denyoom",
    group=S,
    summary="Add multiple sets and store the resulting set in a key",
    complexity=_UNION_COMPLEXITY,
    args="destination key [key ...]",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2, lastkey=-1)),
)
def sunionstore(c: Context, args: list[bytes]) -> Any:
    return _store(c, args[1], _union(_sets(c, args[2:])), args[0])


@command(
    "sdiff",
    -2,
    "readonly",
    (1, -1, 1),
    group=S,
    summary="Subtract multiple sets",
    complexity=_UNION_COMPLEXITY,
    args="key [key ...]",
    tips=_ORDER,
)
def sdiff(c: Context, args: list[bytes]) -> Any:
    return set_reply(c, _diff(_sets(c, args[1:])))


@command(
    "sdiffstore",
    -3,
    "write denyoom",
    group=S,
    summary="Subtract multiple sets and store the resulting set in a key",
    complexity=_UNION_COMPLEXITY,
    args="destination key [key ...]",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2, lastkey=-1)),
)
def sdiffstore(c: Context, args: list[bytes]) -> Any:
    return _store(c, args[1], _diff(_sets(c, args[2:])), args[0])


@command(
    "sscan",
    -3,
    "readonly",
    (1, 1, 1),
    group=S,
    summary="Incrementally iterate Set elements",
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
    "calls for the cursor to return back to 0. N is the number of elements inside the "
    "collection..",
    args="key cursor [MATCH pattern] [COUNT count]",
    tips="nondeterministic_output",
)
def sscan(c: Context, args: list[bytes]) -> Any:
    cursor = parse_cursor(args[2])
    s = get_set(c.db, args[1], read=True)
    if s is None:
        return [b"0", []]
    count, match = parse_scan_options(args, 3)
    if is_intset(s):
        # Redis returns an intset whole, in order, whatever the cursor.
        nxt, members = 0, sorted(s, key=int)
    else:
        nxt, members = scan_slice(s, cursor, count)
    if match is not None:
        members = [m for m in members if match(m)]
    return [b"%d" % nxt, members]
