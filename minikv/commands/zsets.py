"""Sorted set commands (Redis 7.0's t_zset.c): ZADD and friends, ranges by rank/score/lex,
pops, random members and ZSCAN. The set algebra (ZUNION, ZINTER, ZDIFF...) is in ``zsetops``.

Values are ``minikv.zset.ZSet`` (big sets) or ``PackedZSet`` (small ones, immutable).
Handlers get a ``ZSet`` either way (``get_zset``: a small set decoded into one of its own),
change it in place, then ``_changed`` stores it back (packed again while small), deletes the
key if it became empty, and reports each change through ``db.changed`` (the change hook: the
dirty count as Redis counts ``server.dirty``, WATCH, blocked clients).

Numbers are parsed as Redis parses them, with C's ``strtod`` (``minikv.parsing``): scores and
weights as ``getDoubleFromObject`` (whole string, no leading space, hex floats accepted,
overflow and underflow to zero rejected), range ends as ``zslParseRange`` (leading spaces and
the empty string accepted, no overflow check).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from minikv import limits, propagation
from minikv.blocking import block, parse_timeout
from minikv.commands import KeySpec, command
from minikv.commands.keys import parse_cursor
from minikv.commands.util import (
    SYNTAX,
    WRONGTYPE,
    parse_long_range,
    parse_scan_options,
    scan_slice,
)
from minikv.parsing import LLONG_MAX, parse_double, parse_int, strtod
from minikv.protocol import NULL_ARRAY, ReplyError
from minikv.zset import MINUS, PLUS, PackedZSet, ZSet, stored

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

Z = "sorted-set"

NAN_RESULT = ReplyError("ERR resulting score is not a number (NaN)")
NOT_FLOAT_RANGE = ReplyError("ERR min or max is not a float")
NOT_LEX_RANGE = ReplyError("ERR min or max not valid string range item")
LIMIT_WITH_RANK = ReplyError(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
WITHSCORES_WITH_LEX = ReplyError(
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
)

# --- number parsing ---------------------------------------------------------------------------


def _range_end(b: bytes) -> tuple[float, bool]:
    """One end of a score range, "(" for exclusive (zslParseRange): (value, exclusive)."""
    b = b.split(b"\0", 1)[0]  # strtod stops at a NUL byte, and so does the check after it
    exclusive = b[:1] == b"("
    if exclusive:
        b = b[1:]
    if not b:
        return 0.0, exclusive  # strtod("") converts nothing and stops at the end: 0
    r = strtod(b)
    if r is None or math.isnan(r[0]):
        raise NOT_FLOAT_RANGE
    return r[0], exclusive


def _lex_end(b: bytes) -> Any:
    """One end of a lex range: "-", "+", "[member" or "(member" (zslParseLexRangeItem)."""
    head = b[:1]
    if head == b"(" or head == b"[":
        return (b[1:], head == b"(")
    if b == b"-":
        return MINUS
    if b == b"+":
        return PLUS
    raise NOT_LEX_RANGE


# --- shared helpers ---------------------------------------------------------------------------


def get_zset(db: Db, key: bytes, read: bool = False) -> ZSet | None:
    """The sorted set at ``key`` as a ``ZSet`` (a small one decoded: a copy, which
    ``_changed`` stores back if it is changed), None if the key is missing, WRONGTYPE for
    another type. ``read`` as ``get_typed``'s."""
    v = db.read(key) if read else db.get(key)
    t = type(v)
    if t is PackedZSet:
        return v.unpack()  # type: ignore[union-attr]
    if t is ZSet or v is None:
        return v
    raise WRONGTYPE


def _get(c: Context, key: bytes, read: bool = False) -> ZSet | None:
    return get_zset(c.db, key, read)


def _get_packed(c: Context, key: bytes) -> ZSet | PackedZSet | None:
    """The stored value for the reads that take a ``PackedZSet`` as it is (``Db.read``)."""
    v = c.db.read(key)
    t = type(v)
    if t is PackedZSet or t is ZSet or v is None:
        return v
    raise WRONGTYPE


def _changed(c: Context, key: bytes, z: ZSet, n: int, event: str) -> None:
    """``n`` changes were made to ``z`` (from ``_get``) in place: store it (keeping the key's
    deadline), report them; delete the key if it is empty now."""
    if not n:
        return
    db = c.db
    if z:
        db.replace_value(key, z if z.big else PackedZSet.pack(z))  # ``stored``, inline
        db.changed(key, event, n)
    else:
        db.changed(key, event, n)
        db.delete(key)
        db.changed(key, "del", 0)


def store_result(c: Context, dst: bytes, z: ZSet | None, name: bytes) -> int:
    """Store a computed set at ``dst`` (deleting ``dst`` if it is empty): the reply."""
    db = c.db
    if z is not None and z:
        db.set(dst, stored(z))
        db.changed(dst, name.lower().decode())  # the event is the command's name
        return len(z)
    if db.delete(dst):
        db.changed(dst, "del")
    return 0


def entries_reply(c: Context, members: list[bytes], scores: list[float] | None) -> list[Any]:
    """``members`` (a new list, owned by the reply), or with their ``scores`` if given: flat
    in RESP2, [member, score] pairs in RESP3."""
    if scores is None:
        return members
    if c.resp == 2:
        out: list[Any] = [None] * (2 * len(members))
        out[::2] = members
        out[1::2] = scores
        return out
    return list(map(list, zip(members, scores, strict=True)))


def scores_for(
    scores: dict[bytes, float], members: list[bytes], withscores: bool
) -> list[float] | None:
    """The scores of ``members`` for ``_entries`` if ``withscores``."""
    return list(map(scores.__getitem__, members)) if withscores else None


# --- ZADD ZINCRBY ZREM ------------------------------------------------------------------------

_NX, _XX, _GT, _LT, _INCR, _CH = 1, 2, 4, 8, 16, 32
_ZADD_OPTS = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT, b"INCR": _INCR, b"CH": _CH}


def _zadd(c: Context, key: bytes, flags: int, pairs: list[bytes]) -> Any:
    n = len(pairs)
    if n % 2 or not n:
        raise SYNTAX
    if flags & _NX and flags & _XX:
        raise ReplyError("ERR XX and NX options at the same time are not compatible")
    if (flags & _NX and flags & (_GT | _LT)) or (flags & _GT and flags & _LT):
        raise ReplyError("ERR GT, LT, and/or NX options at the same time are not compatible")
    incr = flags & _INCR
    if incr and n > 2:
        raise ReplyError("ERR INCR option supports a single increment-element pair")
    scores = [parse_double(pairs[i]) for i in range(0, n, 2)]
    db = c.db
    z = _get(c, key)
    if z is None:
        if flags & _XX:
            return None if incr else 0
        z = ZSet()
        db.set(key, z)
    added = updated = processed = 0
    score = 0.0
    nx, xx, gt, lt = flags & _NX, flags & _XX, flags & _GT, flags & _LT
    for j, score in enumerate(scores):
        member = pairs[2 * j + 1]
        cur = z.get(member)
        if cur is None:
            if xx:
                continue
            z.add(member, score)
            added += 1
        else:
            if nx:
                continue
            if incr:
                score += cur
                if math.isnan(score):
                    raise NAN_RESULT  # only INCR gets here: one pair, nothing changed yet
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            if score != cur:
                z.add(member, score)
                updated += 1
        processed += 1
    _changed(c, key, z, added + updated, "zincr" if incr else "zadd")
    if incr:
        return score if processed else None
    return added + updated if flags & _CH else added


@command(
    "zadd",
    -4,
    "write denyoom fast",
    (1, 1, 1),
    group=Z,
    summary="Add one or more members to a sorted set, or update its score if it already exists",
    since="1.2.0",
    complexity="O(log(N)) for each item added, where N is the number of elements in the sorted "
    "set.",
    args="key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
    key_flags="RW update",
    history=(
        ("2.4.0", "Accepts multiple elements."),
        ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
        ("6.2.0", "Added the `GT` and `LT` options."),
    ),
)
def zadd(c: Context, args: list[bytes]) -> Any:
    flags = 0
    i = 2
    while i < len(args):
        bit = _ZADD_OPTS.get(args[i].upper())
        if bit is None:
            break
        flags |= bit
        i += 1
    return _zadd(c, args[1], flags, args[i:])


@command(
    "zincrby",
    4,
    "write denyoom fast",
    (1, 1, 1),
    group=Z,
    summary="Increment the score of a member in a sorted set",
    since="1.2.0",
    complexity="O(log(N)) where N is the number of elements in the sorted set.",
    args="key increment:double member",
)
def zincrby(c: Context, args: list[bytes]) -> Any:
    return _zadd(c, args[1], _INCR, args[2:])


@command(
    "zrem",
    -3,
    "write fast",
    (1, 1, 1),
    group=Z,
    summary="Remove one or more members from a sorted set",
    since="1.2.0",
    complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the "
    "number of elements to be removed.",
    args="key member [member ...]",
    key_flags="RW delete",
    history=(("2.4.0", "Accepts multiple elements."),),
)
def zrem(c: Context, args: list[bytes]) -> Any:
    z = _get(c, args[1])
    if z is None:
        return 0
    deleted = 0
    for m in args[2:]:
        deleted += z.remove(m)
        if not z:
            break
    _changed(c, args[1], z, deleted, "zrem")
    return deleted


# --- reads by member ----------------------------------------------------------------------------


@command(
    "zcard",
    2,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Get the number of members in a sorted set",
    since="1.2.0",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def zcard(c: Context, args: list[bytes]) -> Any:
    z = _get_packed(c, args[1])
    return 0 if z is None else len(z)


@command(
    "zscore",
    3,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Get the score associated with the given member in a sorted set",
    since="1.2.0",
    complexity="O(1)",
    args="key member",
)
def zscore(c: Context, args: list[bytes]) -> Any:
    z = _get_packed(c, args[1])
    return None if z is None else z.get(args[2])


@command(
    "zmscore",
    -3,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Get the score associated with the given members in a sorted set",
    since="6.2.0",
    complexity="O(N) where N is the number of members being requested.",
    args="key member [member ...]",
)
def zmscore(c: Context, args: list[bytes]) -> Any:
    z = _get(c, args[1], read=True)
    if z is None:
        return [None] * (len(args) - 2)
    get = z.get
    return [get(m) for m in args[2:]]


def _rank(c: Context, args: list[bytes], reverse: bool) -> Any:
    z = _get(c, args[1], read=True)
    if z is None:
        return None
    r = z.rank(args[2])
    if r is None:
        return None
    return len(z) - 1 - r if reverse else r


@command(
    "zrank",
    3,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Determine the index of a member in a sorted set",
    since="2.0.0",
    complexity="O(log(N))",
    args="key member",
)
def zrank(c: Context, args: list[bytes]) -> Any:
    return _rank(c, args, False)


@command(
    "zrevrank",
    3,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Determine the index of a member in a sorted set, with scores ordered from high to low",
    since="2.0.0",
    complexity="O(log(N))",
    args="key member",
)
def zrevrank(c: Context, args: list[bytes]) -> Any:
    return _rank(c, args, True)


# --- counts and ranges --------------------------------------------------------------------------


def _score_bounds(z: ZSet, lo: tuple[float, bool], hi: tuple[float, bool]) -> tuple[int, int]:
    return z.score_lo(*lo), z.score_hi(*hi)


@command(
    "zcount",
    4,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Count the members in a sorted set with scores within the given values",
    since="2.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    args="key min:double max:double",
)
def zcount(c: Context, args: list[bytes]) -> Any:
    lo, hi = _range_end(args[2]), _range_end(args[3])
    z = _get(c, args[1], read=True)
    if z is None:
        return 0
    a, b = _score_bounds(z, lo, hi)
    return max(0, b - a)


@command(
    "zlexcount",
    4,
    "readonly fast",
    (1, 1, 1),
    group=Z,
    summary="Count the number of members in a sorted set between a given lexicographical range",
    since="2.8.9",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    args="key min max",
)
def zlexcount(c: Context, args: list[bytes]) -> Any:
    lo, hi = _lex_end(args[2]), _lex_end(args[3])
    z = _get(c, args[1], read=True)
    if z is None:
        return 0
    return max(0, z.lex_hi(hi) - z.lex_lo(lo))


_RANK, _SCORE, _LEX = "rank", "score", "lex"


def _rank_bounds(n: int, start: int, end: int) -> tuple[int, int] | None:
    """Redis's index sanitizing for rank ranges: [start, end] inclusive, or None if empty."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    if start > end or start >= n:
        return None
    return start, min(end, n - 1)


def _select(lo: int, hi: int, offset: int, limit: int, reverse: bool) -> tuple[int, int]:
    """What is left of ranks [lo, hi) after skipping ``offset`` and keeping ``limit`` (negative:
    all), walked from the low end or, with ``reverse``, the high end, as ranks [first, end):
    empty unless first < end. A negative offset gives nothing (Redis walks past the end)."""
    if offset < 0 or lo >= hi:
        return 0, 0
    if reverse:
        top = hi - offset
        return (lo if limit < 0 else max(lo, top - limit)), top
    first = lo + offset
    return first, (hi if limit < 0 else min(hi, first + limit))


def _range_reply(
    c: Context, z: ZSet, lo: int, hi: int, reverse: bool, withscores: bool
) -> list[Any]:
    """The reply of ranks [lo, hi) of ``z``."""
    if lo >= hi:
        return []
    if not withscores:
        return z.members(lo, hi, reverse)
    if not z.big:
        members = z.members(lo, hi, reverse)
        return entries_reply(c, members, list(map(z.__getitem__, members)))
    # A big set's entries are (score, member) tuples already: one walk over them measured
    # quicker than splitting them or looking each score up in its (big) dict.
    entries = z.entries(lo, hi, reverse)
    if c.resp != 2:
        return [[m, s] for s, m in entries]
    out: list[Any] = []
    for s, m in entries:
        out.append(m)
        out.append(s)
    return out


def _packed_rank_range(
    c: Context, flat: list[Any], start: int, end: int, reverse: bool, withscores: bool
) -> list[Any]:
    """ZRANGE by rank of a small set, read from its array (``PackedZSet.flat``) by slicing:
    what ``_range_reply`` gives for the same set."""
    size = len(flat) // 2
    bounds = _rank_bounds(size, start, end)
    if bounds is None:
        return []
    if reverse:
        lo, hi = size - 1 - bounds[1], size - bounds[0]
    else:
        lo, hi = bounds[0], bounds[1] + 1
    seg = flat[2 * lo : 2 * hi]
    if not reverse:
        if not withscores:
            return seg[::2]
        if c.resp == 2:
            return seg
        return entries_reply(c, seg[::2], seg[1::2])
    return entries_reply(c, seg[-2::-2], seg[::-2] if withscores else None)


def _zrange(
    c: Context, args: list[bytes], first: int, store: bool, kind: str | None, reverse: bool | None
) -> Any:
    """ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX]: ``kind`` and ``reverse``
    are None where the options may choose them."""
    withscores = False
    offset, limit = 0, -1
    j, n = first + 3, len(args)
    while j < n:
        opt = args[j].upper()
        if not store and opt == b"WITHSCORES":
            withscores = True
        elif opt == b"LIMIT" and n - j - 1 >= 2:
            offset = parse_int(args[j + 1])
            limit = parse_int(args[j + 2])
            j += 2
        elif reverse is None and opt == b"REV":
            reverse = True
        elif kind is None and opt == b"BYLEX":
            kind = _LEX
        elif kind is None and opt == b"BYSCORE":
            kind = _SCORE
        else:
            raise SYNTAX
        j += 1
    reverse = bool(reverse)
    kind = kind or _RANK
    if limit != -1 and kind is _RANK:
        raise LIMIT_WITH_RANK
    if withscores and kind is _LEX:
        raise WITHSCORES_WITH_LEX
    a, b = args[first + 1], args[first + 2]
    if reverse and kind is not _RANK:
        a, b = b, a  # given as max, min
    if kind is _RANK:
        start, end = parse_int(a), parse_int(b)
    elif kind is _SCORE:
        smin, smax = _range_end(a), _range_end(b)
    else:
        lmin, lmax = _lex_end(a), _lex_end(b)

    v = _get_packed(c, args[first])
    if v is None:
        return store_result(c, args[1], None, args[0]) if store else []
    if type(v) is PackedZSet:
        if kind is _RANK and not store:
            return _packed_rank_range(c, v.flat(), start, end, reverse, withscores)
        z = v.unpack()
    else:
        z = v  # type: ignore[assignment]
    size = len(z)
    if kind is _RANK:
        bounds = _rank_bounds(size, start, end)
        if bounds is None:
            lo = hi = 0
        elif reverse:
            lo, hi = size - 1 - bounds[1], size - bounds[0]
        else:
            lo, hi = bounds[0], bounds[1] + 1
    elif kind is _SCORE:
        if offset > 0 and offset >= size:
            lo = hi = 0
        else:
            lo, hi = _select(*_score_bounds(z, smin, smax), offset, limit, reverse)
    else:
        lo, hi = _select(z.lex_lo(lmin), z.lex_hi(lmax), offset, limit, reverse)

    if not store:
        return _range_reply(c, z, lo, hi, reverse, withscores)
    # Built as Redis builds it (a listpack converted on the way when it grows), so the
    # encoding and the listpack's -0 -> 0 come out the same.
    out = ZSet()
    if lo < hi:
        if kind is _RANK and hi - lo > limits.current.zset_max_listpack_entries:
            out.to_skiplist()
        for s, m in z.entries(lo, hi, reverse):
            out.add(m, s)
    return store_result(c, args[1], out, args[0])


_RANGE_DOC = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements returned."
)
_RANGEBY_DOC = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements being returned. If M is constant (e.g. always asking for the first 10 elements "
    "with LIMIT), you can consider it O(log(N))."
)


@command(
    "zrange",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set",
    since="1.2.0",
    complexity=_RANGE_DOC,
    args="key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
    history=(("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),),
)
def zrange(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, None, None)


@command(
    "zrangestore",
    -5,
    "write denyoom",
    group=Z,
    summary="Store a range of members from sorted set into another key",
    since="6.2.0",
    complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the "
    "number of elements stored into the destination key.",
    args="dst:key src:key min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2)),
)
def zrangestore(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 2, True, None, None)


@command(
    "zrevrange",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set, by index, with scores ordered from high "
    "to low",
    since="1.2.0",
    complexity=_RANGE_DOC,
    args="key start stop [WITHSCORES]",
)
def zrevrange(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, _RANK, True)


@command(
    "zrangebyscore",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set, by score",
    since="1.0.5",
    complexity=_RANGEBY_DOC,
    args="key min:double max:double [WITHSCORES] [LIMIT offset count]",
    history=(("2.0.0", "Added the `WITHSCORES` modifier."),),
)
def zrangebyscore(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, _SCORE, False)


@command(
    "zrevrangebyscore",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set, by score, with scores ordered from high "
    "to low",
    since="2.2.0",
    complexity=_RANGEBY_DOC,
    args="key max:double min:double [WITHSCORES] [LIMIT offset count]",
    history=(("2.1.6", "`min` and `max` can be exclusive."),),
)
def zrevrangebyscore(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, _SCORE, True)


@command(
    "zrangebylex",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set, by lexicographical range",
    since="2.8.9",
    complexity=_RANGEBY_DOC,
    args="key min max [LIMIT offset count]",
)
def zrangebylex(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, _LEX, False)


@command(
    "zrevrangebylex",
    -4,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Return a range of members in a sorted set, by lexicographical range, ordered from "
    "higher to lower strings.",
    since="2.8.9",
    complexity=_RANGEBY_DOC,
    args="key max min [LIMIT offset count]",
)
def zrevrangebylex(c: Context, args: list[bytes]) -> Any:
    return _zrange(c, args, 1, False, _LEX, True)


# --- removal by range ---------------------------------------------------------------------------


def _zremrange(c: Context, args: list[bytes], kind: str) -> Any:
    if kind is _RANK:
        start, end = parse_int(args[2]), parse_int(args[3])
    elif kind is _SCORE:
        smin, smax = _range_end(args[2]), _range_end(args[3])
    else:
        lmin, lmax = _lex_end(args[2]), _lex_end(args[3])
    z = _get(c, args[1])
    if z is None:
        return 0
    if kind is _RANK:
        bounds = _rank_bounds(len(z), start, end)
        if bounds is None:
            return 0
        lo, hi = bounds[0], bounds[1] + 1
    elif kind is _SCORE:
        lo, hi = _score_bounds(z, smin, smax)
    else:
        lo, hi = z.lex_lo(lmin), z.lex_hi(lmax)
    deleted = z.delete_slice(lo, hi)
    _changed(c, args[1], z, deleted, args[0].lower().decode())
    return deleted


_REMRANGE_DOC = (
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
    "elements removed by the operation."
)


@command(
    "zremrangebyrank",
    4,
    "write",
    (1, 1, 1),
    group=Z,
    summary="Remove all members in a sorted set within the given indexes",
    since="2.0.0",
    complexity=_REMRANGE_DOC,
    args="key start stop",
    key_flags="RW delete",
)
def zremrangebyrank(c: Context, args: list[bytes]) -> Any:
    return _zremrange(c, args, _RANK)


@command(
    "zremrangebyscore",
    4,
    "write",
    (1, 1, 1),
    group=Z,
    summary="Remove all members in a sorted set within the given scores",
    since="1.2.0",
    complexity=_REMRANGE_DOC,
    args="key min:double max:double",
    key_flags="RW delete",
)
def zremrangebyscore(c: Context, args: list[bytes]) -> Any:
    return _zremrange(c, args, _SCORE)


@command(
    "zremrangebylex",
    4,
    "write",
    (1, 1, 1),
    group=Z,
    summary="Remove all members in a sorted set between the given lexicographical range",
    since="2.8.9",
    complexity=_REMRANGE_DOC,
    args="key min max",
    key_flags="RW delete",
)
def zremrangebylex(c: Context, args: list[bytes]) -> Any:
    return _zremrange(c, args, _LEX)


# --- pops -------------------------------------------------------------------------------------


def pop_reply(
    c: Context, key: bytes, z: ZSet, last: bool, count: int, nested: bool, with_key: bool
) -> Any:
    """Pop up to ``count`` entries from the non-empty ``z`` at ``key`` (deleting the key when
    it empties) and build the reply: flat member/score list or [member, score] pairs
    (``nested``), preceded by the key for the blocking and multi-key pops."""
    n = min(count, len(z))
    popped = [z.pop_end(last) for _ in range(n)]
    _changed(c, key, z, n, "zpopmax" if last else "zpopmin")
    if nested:
        out: list[Any] = [[m, s] for s, m in popped]
        return [key, out] if with_key else out
    flat: list[Any] = [key] if with_key else []
    for s, m in popped:
        flat.append(m)
        flat.append(s)
    return flat


def _zpop(c: Context, args: list[bytes], last: bool) -> Any:
    if len(args) > 3:
        raise SYNTAX
    count = -1
    if len(args) == 3:
        count = parse_long_range(
            args[2], 0, LLONG_MAX, "ERR value is out of range, must be positive"
        )
    z = _get(c, args[1])
    if z is None or count == 0:
        return []
    return pop_reply(c, args[1], z, last, max(count, 1), c.resp > 2 and count != -1, False)


_POP_DOC = (
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number "
    "of elements popped."
)


@command(
    "zpopmin",
    -2,
    "write fast",
    (1, 1, 1),
    group=Z,
    summary="Remove and return members with the lowest scores in a sorted set",
    since="5.0.0",
    complexity=_POP_DOC,
    args="key [count]",
    key_flags="RW access delete",
)
def zpopmin(c: Context, args: list[bytes]) -> Any:
    return _zpop(c, args, False)


@command(
    "zpopmax",
    -2,
    "write fast",
    (1, 1, 1),
    group=Z,
    summary="Remove and return members with the highest scores in a sorted set",
    since="5.0.0",
    complexity=_POP_DOC,
    args="key [count]",
    key_flags="RW access delete",
)
def zpopmax(c: Context, args: list[bytes]) -> Any:
    return _zpop(c, args, True)


def parse_mpop(args: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """ZMPOP/BZMPOP's ``numkeys key [key ...] MIN|MAX [COUNT count]``: (keys, max?, count)."""
    numkeys = parse_long_range(
        args[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0"
    )
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(args):
        raise SYNTAX
    where = args[where_idx].upper()
    if where not in (b"MIN", b"MAX"):
        raise SYNTAX
    count = -1
    j = where_idx + 1
    while j < len(args):
        if count == -1 and args[j].upper() == b"COUNT" and j + 1 < len(args):
            count = parse_long_range(
                args[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0"
            )
            j += 2
        else:
            raise SYNTAX
    return args[numkeys_idx + 1 : where_idx], where == b"MAX", max(count, 1)


@command(
    "zmpop",
    -4,
    "write",
    group=Z,
    summary="Remove and return members with scores in a sorted set",
    since="7.0.0",
    complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number "
    "of elements in the sorted set, and M being the number of elements popped.",
    args="numkeys key [key ...] MIN | MAX [COUNT count]",
    key_specs=(KeySpec("RW access delete", 1, keynum=0),),
    propagate=propagation.zset_mpop,
)
def zmpop(c: Context, args: list[bytes]) -> Any:
    keys, last, count = parse_mpop(args, 1)
    return _pop_or_block(c, args, keys, last, count, True, None)


def _pop_or_block(
    c: Context,
    args: list[bytes],
    keys: list[bytes],
    last: bool,
    count: int,
    mpop: bool,
    timeout: float | None,
) -> Any:
    """ZMPOP and the blocking pops: pop from the first sorted set of ``keys``; with none, a
    nil reply, or (``timeout`` given) wait for one."""
    for key in keys:
        z = _get(c, key)
        if z is not None:
            return pop_reply(c, key, z, last, count, mpop, True)
    if timeout is None:
        return NULL_ARRAY

    def serve(c: Context, key: bytes) -> Any:
        v = c.db.get(key)
        if type(v) is PackedZSet:
            z = v.unpack()
        elif type(v) is ZSet and v:
            z = v
        else:
            return None  # not a sorted set (any more): keep waiting
        return pop_reply(c, key, z, last, count, mpop, True)

    return block(c, args, keys, timeout, serve, NULL_ARRAY)


@command(
    "bzmpop",
    -5,
    "write blocking",
    group=Z,
    summary="Remove and return members with scores in a sorted set or block until one is available",
    since="7.0.0",
    complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number "
    "of elements in the sorted set, and M being the number of elements popped.",
    args="timeout:double numkeys key [key ...] <MIN | MAX> [COUNT count]",
    key_specs=(KeySpec("RW access delete", 2, keynum=0),),
    propagate=propagation.zset_mpop,
)
def bzmpop(c: Context, args: list[bytes]) -> Any:
    keys, last, count = parse_mpop(args, 2)
    return _pop_or_block(c, args, keys, last, count, True, parse_timeout(args[1]))


# --- ZRANDMEMBER ------------------------------------------------------------------------------


@command(
    "zrandmember",
    -2,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Get one or multiple random elements from a sorted set",
    since="6.2.0",
    complexity="O(N) where N is the number of elements returned",
    args="key [count [WITHSCORES]]",
    tips="nondeterministic_output",
)
def zrandmember(c: Context, args: list[bytes]) -> Any:
    if len(args) == 2:
        z = _get(c, args[1], read=True)
        if z is None:
            return None
        return z.member_at(random.randrange(len(z)))
    n = parse_long_range(args[2], -LLONG_MAX, LLONG_MAX)
    withscores = False
    if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHSCORES"):
        raise SYNTAX
    if len(args) == 4:
        withscores = True
        if n < -LLONG_MAX // 2 or n > LLONG_MAX // 2:
            raise ReplyError("ERR value is out of range")
    z = _get(c, args[1], read=True)
    if z is None or n == 0:
        return []
    size = len(z)
    at = z.member_at
    if n < 0 or n == 1:
        # With repetitions, in random order.
        picks = [at(random.randrange(size)) for _ in range(abs(n))]
    elif n >= size:
        picks = z.members(0, size, reverse=True)  # the whole set, highest first, as Redis does
    else:
        picks = [at(i) for i in random.sample(range(size), n)]
    return entries_reply(c, picks, scores_for(z, picks, withscores))


# --- ZSCAN ------------------------------------------------------------------------------------


def _d2string(v: float) -> bytes:
    """A score as a listpack holds it (Redis's d2string): integral values as integers."""
    if -(2**62) <= v <= 2**62 and v == int(v):
        return b"%d" % int(v)
    return b"%.17g" % v


@command(
    "zscan",
    -3,
    "readonly",
    (1, 1, 1),
    group=Z,
    summary="Incrementally iterate sorted sets elements and associated scores",
    since="2.8.0",
    complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
    "calls for the cursor to return back to 0. N is the number of elements inside the "
    "collection..",
    args="key cursor [MATCH pattern] [COUNT count]",
    tips="nondeterministic_output",
)
def zscan(c: Context, args: list[bytes]) -> Any:
    cursor = parse_cursor(args[2])
    z = _get(c, args[1], read=True)
    if z is None:
        return [b"0", []]
    count, match = parse_scan_options(args, 3)
    out: list[bytes] = []
    if not z.big:
        # A listpack is returned whole, in order, scores as stored.
        for m in z.members(0, len(z)):
            if match is None or match(m):
                out.append(m)
                out.append(_d2string(z[m]))
        return [b"0", out]
    nxt, members = scan_slice(z, cursor, count)
    scores = z
    for m in members:
        if match is None or match(m):
            out.append(m)
            out.append(b"%.17g" % scores[m])
    return [b"%d" % nxt, out]


def _bzpop(c: Context, args: list[bytes], last: bool) -> Any:
    timeout = parse_timeout(args[-1])
    return _pop_or_block(c, args, args[1:-1], last, 1, False, timeout)


_BZPOP_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)


@command(
    "bzpopmin",
    -3,
    "write noscript blocking fast",
    (1, -2, 1),
    group=Z,
    summary="Remove and return the member with the lowest score from one or more sorted sets, "
    "or block until one is available",
    since="5.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    args="key [key ...] timeout:double",
    key_flags="RW access delete",
    history=_BZPOP_HISTORY,
    propagate=propagation.blocking_pop,
)
def bzpopmin(c: Context, args: list[bytes]) -> Any:
    return _bzpop(c, args, False)


@command(
    "bzpopmax",
    -3,
    "write noscript blocking fast",
    (1, -2, 1),
    group=Z,
    summary="Remove and return the member with the highest score from one or more sorted sets, "
    "or block until one is available",
    since="5.0.0",
    complexity="O(log(N)) with N being the number of elements in the sorted set.",
    args="key [key ...] timeout:double",
    key_flags="RW access delete",
    history=_BZPOP_HISTORY,
    propagate=propagation.blocking_pop,
)
def bzpopmax(c: Context, args: list[bytes]) -> Any:
    return _bzpop(c, args, True)
