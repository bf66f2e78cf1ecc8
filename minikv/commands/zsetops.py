"""Sorted set algebra (Redis 7.0's zunionInterDiffGenericCommand): ZUNION, ZINTER, ZDIFF,
their STORE forms and ZINTERCARD. Inputs may be sorted sets or plain sets (every member scored
1); WEIGHTS scale each input, AGGREGATE combines the scores of a member found in several, and
NaN from inf * 0 becomes 0 as in Redis. Results are stored or replied with the helpers of
``minikv.commands.zsets``, which holds the rest of the sorted set commands.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command
from minikv.commands.util import SYNTAX, WRONGTYPE, parse_long_range
from minikv.commands.zsets import Z, entries_reply, scores_for, store_result
from minikv.parsing import LLONG_MAX, parse_double, parse_int
from minikv.protocol import ReplyError
from minikv.valuetypes import value_type
from minikv.zset import PackedZSet, ZSet

if TYPE_CHECKING:
    from minikv.commands.context import Context


_SUM, _MIN, _MAX = b"SUM", b"MIN", b"MAX"


def _source(c: Context, key: bytes) -> ZSet | Collection[bytes] | None:
    """A ZUNION/ZINTER/ZDIFF input: a sorted set (member -> score), a set's members (score 1),
    or None."""
    v = c.db.read(key)
    if v is None:
        return None
    if type(v) is ZSet:
        return v
    if type(v) is PackedZSet:
        return v.unpack()
    if value_type(v).name == "set":
        return v
    raise WRONGTYPE


def _items(src: ZSet | Collection[bytes]) -> Iterable[tuple[bytes, float]]:
    if type(src) is ZSet:
        return src.items()
    return ((m, 1.0) for m in src)


def _find(src: ZSet | Collection[bytes], member: bytes) -> float | None:
    if type(src) is ZSet:
        return src.get(member)
    return 1.0 if member in src else None


def _aggregate(target: float, value: float, how: bytes) -> float:
    if how is _SUM:
        r = target + value
        return 0.0 if math.isnan(r) else r  # inf + -inf
    if how is _MIN:
        return value if value < target else target
    return value if value > target else target


def _setop(
    c: Context, args: list[bytes], numkeys_idx: int, op: str, store: bool, card: bool = False
) -> Any:
    """ZUNION ZINTER ZDIFF, their STORE forms and ZINTERCARD (Redis's
    zunionInterDiffGenericCommand): the result as a member -> score dict, or the reply."""
    setnum = parse_int(args[numkeys_idx])
    if setnum < 1:
        raise ReplyError(
            f"ERR at least 1 input key is needed for '{args[0].decode(errors='replace').lower()}'"
            " command"
        )
    if setnum > len(args) - numkeys_idx - 1:
        raise SYNTAX
    j = numkeys_idx + 1
    srcs = [_source(c, k) for k in args[j : j + setnum]]
    weights = [1.0] * setnum
    how = _SUM
    withscores = False
    limit = 0
    j += setnum
    n = len(args)
    while j < n:
        opt = args[j].upper()
        left = n - j
        if op != "diff" and not card and left >= setnum + 1 and opt == b"WEIGHTS":
            weights = [
                parse_double(w, ReplyError("ERR weight value is not a float"))
                for w in args[j + 1 : j + 1 + setnum]
            ]
            j += setnum + 1
        elif op != "diff" and not card and left >= 2 and opt == b"AGGREGATE":
            how = {b"SUM": _SUM, b"MIN": _MIN, b"MAX": _MAX}.get(args[j + 1].upper())
            if how is None:
                raise SYNTAX
            j += 2
        elif not store and not card and opt == b"WITHSCORES":
            withscores = True
            j += 1
        elif card and left >= 2 and opt == b"LIMIT":
            limit = parse_long_range(args[j + 1], 0, LLONG_MAX, "ERR LIMIT can't be negative")
            j += 2
        else:
            raise SYNTAX

    result: dict[bytes, float] = {}
    if op == "diff":
        first = srcs[0]
        if first:
            rest = [s for s in srcs[1:] if s]
            for m, s in _items(first):
                if not any(m in r for r in rest):
                    result[m] = s
    else:
        # Smallest inputs first, as Redis orders them (it matters for float sums).
        order = sorted(range(setnum), key=lambda i: len(srcs[i] or ()))
        inputs = [(srcs[i] or {}, weights[i]) for i in order]
        if op == "inter":
            src0, w0 = inputs[0]
            count = 0
            for m, s in _items(src0):
                score = w0 * s
                if math.isnan(score):
                    score = 0.0
                for other, w in inputs[1:]:
                    v = _find(other, m)
                    if v is None:
                        break
                    score = _aggregate(score, v * w, how)
                else:
                    if card:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[m] = score
            if card:
                return count
        else:
            for src, w in inputs:
                for m, s in _items(src):
                    score = w * s
                    if math.isnan(score):
                        score = 0.0
                    old = result.get(m)
                    result[m] = score if old is None else _aggregate(old, score, how)
    if store:
        return store_result(c, args[1], ZSet.from_scores(result), args[0])
    ordered = [m for _, m in sorted(zip(result.values(), result, strict=True))]
    return entries_reply(c, ordered, scores_for(result, ordered, withscores))


_UNION_DOC = (
    "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being "
    "the number of elements in the resulting sorted set."
)
_INTER_DOC = (
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "
    "number of input sorted sets and M being the number of elements in the resulting sorted set."
)
_DIFF_DOC = (
    "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "
    "is the size of the first set, and K is the size of the result set."
)
_WEIGHTS_AGG = "[WEIGHTS weight:integer [weight:integer ...]] [AGGREGATE SUM | MIN | MAX]"


@command(
    "zunion",
    -3,
    "readonly",
    group=Z,
    summary="Add multiple sorted sets",
    since="6.2.0",
    complexity=_UNION_DOC,
    args=f"numkeys key [key ...] {_WEIGHTS_AGG} [WITHSCORES]",
    key_specs=(KeySpec("RO access", 1, keynum=0),),
)
def zunion(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 1, "union", False)


@command(
    "zinter",
    -3,
    "readonly",
    group=Z,
    summary="Intersect multiple sorted sets",
    since="6.2.0",
    complexity=_INTER_DOC,
    args=f"numkeys key [key ...] {_WEIGHTS_AGG} [WITHSCORES]",
    key_specs=(KeySpec("RO access", 1, keynum=0),),
)
def zinter(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 1, "inter", False)


@command(
    "zdiff",
    -3,
    "readonly",
    group=Z,
    summary="Subtract multiple sorted sets",
    since="6.2.0",
    complexity=_DIFF_DOC,
    args="numkeys key [key ...] [WITHSCORES]",
    key_specs=(KeySpec("RO access", 1, keynum=0),),
)
def zdiff(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 1, "diff", False)


@command(
    "zunionstore",
    -4,
    "write denyoom",
    group=Z,
    summary="Add multiple sorted sets and store the resulting sorted set in a new key",
    since="2.0.0",
    complexity=_UNION_DOC,
    args=f"destination numkeys key [key ...] {_WEIGHTS_AGG}",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2, keynum=0)),
)
def zunionstore(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 2, "union", True)


@command(
    "zinterstore",
    -4,
    "write denyoom",
    group=Z,
    summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
    since="2.0.0",
    complexity=_INTER_DOC,
    args=f"destination numkeys key [key ...] {_WEIGHTS_AGG}",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2, keynum=0)),
)
def zinterstore(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 2, "inter", True)


@command(
    "zdiffstore",
    -4,
    "write denyoom",
    group=Z,
    summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
    since="6.2.0",
    complexity=_DIFF_DOC,
    args="destination numkeys key [key ...]",
    key_specs=(KeySpec("OW update", 1), KeySpec("RO access", 2, keynum=0)),
)
def zdiffstore(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 2, "diff", True)


@command(
    "zintercard",
    -3,
    "readonly",
    group=Z,
    summary="Intersect multiple sorted sets and return the cardinality of the result",
    since="7.0.0",
    complexity="O(N*K) worst case with N being the smallest input sorted set, K being the "
    "number of input sorted sets.",
    args="numkeys key [key ...] [LIMIT limit]",
    key_specs=(KeySpec("RO access", 1, keynum=0),),
)
def zintercard(c: Context, args: list[bytes]) -> Any:
    return _setop(c, args, 1, "inter", False, card=True)
