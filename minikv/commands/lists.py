"""List commands: pushes and pops at both ends (LMPOP from the first non-empty of several lists),
ranges, indexes, LINSERT LREM LTRIM LPOS, the moves between lists, and the blocking BLPOP BRPOP
BLMPOP BLMOVE BRPOPLPUSH.

A list is a ``minikv.packedlist.PackedList`` while it is small (one MessagePack blob), else a
``minikv.quicklist.QuickList``: a ``list`` of plain ``list`` blocks of ``bytes`` laid out like
Redis's quicklist of listpacks (so a forked snapshot child encodes it without copy-on-write),
used as a sequence of elements: O(1) at both ends, indexes and ranges found from the nearer end
a block at a time. Both offer the same methods; a write that grows a packed list past its
limits first replaces it with the QuickList of its one node (``_room``). Redis 7.0 reports
every list as OBJECT ENCODING "quicklist".

Changes are made in place, so every mutating handler reports them through ``db.changed`` (the
change hook: dirty count, WATCH, clients blocked on the key); a list left empty is
deleted. The blocking commands wait through ``minikv.blocking``: each passes a ``serve``
callback that pops for the woken client once its key holds a list again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.blocking import block, may_block, parse_timeout
from minikv.commands import ALL, KeySpec, arity_error, command
from minikv.commands.util import SYNTAX, WRONGTYPE, parse_long_range
from minikv.packedlist import PackedList, new_list, pack
from minikv.parsing import LLONG_MAX, LLONG_MIN, parse_int
from minikv.protocol import NULL_ARRAY, OK, Raw, ReplyError
from minikv.quicklist import QuickList

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

L = "list"

NO_SUCH_KEY = ReplyError("ERR no such key")
OUT_OF_RANGE = ReplyError("ERR index out of range")
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
RANK_ZERO = ReplyError(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)


#: A list value in either form.
AnyList = QuickList | PackedList


def is_list(v: object) -> bool:
    """Whether ``v`` is a list value (either form)."""
    t = type(v)
    return t is QuickList or t is PackedList


def get_list(db: Db, key: bytes, read: bool = False) -> AnyList | None:
    """The list at ``key`` (either form), None if the key is missing, WRONGTYPE for any other
    value (``get_typed`` for the two classes)."""
    v = db.read(key) if read else db.get(key)
    if v is None or type(v) is PackedList or type(v) is QuickList:
        return v
    raise WRONGTYPE


def _room(db: Db, key: bytes, d: AnyList, n: int, nbytes: int) -> AnyList:
    """``d``, about to get ``n`` more elements of ``nbytes`` bytes in all; if it is packed and
    they would take it past the packed limits, the QuickList that replaces it at ``key`` (same
    node, fill, TTL and access record), so the write is made as Redis would make it."""
    if type(d) is PackedList and not d.fits(n, nbytes):
        d = d.to_quicklist()
        db.replace_value(key, d)
    return d


def _pop(d: AnyList, left: bool) -> bytes:
    return d.popleft() if left else d.pop()


def _popped(c: Context, key: bytes, d: AnyList, count: int, event: str) -> None:
    """After ``count`` elements were taken from ``d``: report it; delete the key if it is
    empty."""
    db = c.db
    db.changed(key, event, count)
    if not d.size:  # the element count; ``size`` rather than len(): this is every pop's path
        db.delete(key)
        db.changed(key, "del", 0)


def _where(arg: bytes) -> bool:
    """LEFT/RIGHT (any case) as "is left"."""
    a = arg.lower()
    if a == b"left":
        return True
    if a == b"right":
        return False
    raise SYNTAX


# --- push ---------------------------------------------------------------------------------------


def _push(c: Context, args: list[bytes], left: bool, only_existing: bool) -> int:
    db = c.db
    key = args[1]
    d = get_list(db, key)
    if d is None:
        if only_existing:
            return 0
        d = pack(args[:1:-1] if left else args[2:])
        if d is None:  # too big to pack: pushed one by one, as Redis lays out the nodes
            d = QuickList()
            d.extendleft(args[2:]) if left else d.extend(args[2:])
        db.set(key, d)
    elif len(args) == 3:
        x = args[2]
        if type(d) is PackedList and not d.fits(1, len(x)):  # _room, inline on the hot path
            d = _room(db, key, d, 1, len(x))
        d.appendleft(x) if left else d.append(x)
    else:
        d = _room(db, key, d, len(args) - 2, sum(map(len, args[2:])))
        d.extendleft(args[2:]) if left else d.extend(args[2:])
    db.changed(key, "lpush" if left else "rpush", len(args) - 2)
    return d.size


_PUSH_COMPLEXITY = (
    "O(1) for each element added, so O(N) to add N elements when the command is called with "
    "multiple arguments."
)


@command(
    "lpush",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=L,
    summary="Prepend one or multiple elements to a list",
    complexity=_PUSH_COMPLEXITY,
    args="key element [element ...]",
    key_flags="RW insert",
    history=(("2.4.0", "Accepts multiple `element` arguments."),),
)
def lpush(c: Context, args: list[bytes]) -> Any:
    return _push(c, args, True, False)


@command(
    "rpush",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=L,
    summary="Append one or multiple elements to a list",
    complexity=_PUSH_COMPLEXITY,
    args="key element [element ...]",
    key_flags="RW insert",
    history=(("2.4.0", "Accepts multiple `element` arguments."),),
)
def rpush(c: Context, args: list[bytes]) -> Any:
    return _push(c, args, False, False)


@command(
    "lpushx",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=L,
    summary="Prepend an element to a list, only if the list exists",
    since="2.2.0",
    complexity=_PUSH_COMPLEXITY,
    args="key element [element ...]",
    key_flags="RW insert",
    history=(("4.0.0", "Accepts multiple `element` arguments."),),
)
def lpushx(c: Context, args: list[bytes]) -> Any:
    return _push(c, args, True, True)


@command(
    "rpushx",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=L,
    summary="Append an element to a list, only if the list exists",
    since="2.2.0",
    complexity=_PUSH_COMPLEXITY,
    args="key element [element ...]",
    key_flags="RW insert",
    history=(("4.0.0", "Accepts multiple `element` arguments."),),
)
def rpushx(c: Context, args: list[bytes]) -> Any:
    return _push(c, args, False, True)


# --- pop ----------------------------------------------------------------------------------------


def _pop_command(c: Context, args: list[bytes], left: bool) -> Any:
    n = len(args)
    if n > 3:
        raise arity_error(ALL[args[0].lower().decode()])
    count = parse_long_range(args[2], 0, LLONG_MAX, MUST_BE_POSITIVE) if n == 3 else None
    key = args[1]
    d = get_list(c.db, key)
    if d is None:
        return None if count is None else NULL_ARRAY
    if count is None:
        v = _pop(d, left)
        _popped(c, key, d, 1, "lpop" if left else "rpop")
        return v
    if count == 0:
        return []
    out = d.pop_many(count, left)
    _popped(c, key, d, len(out), "lpop" if left else "rpop")
    return out


@command(
    "lpop",
    -2,
    "write fast",
    (1, 1, 1),
    group=L,
    summary="Remove and get the first elements in a list",
    complexity="O(N) where N is the number of elements returned",
    args="key [count]",
    key_flags="RW access delete",
    history=(("6.2.0", "Added the `count` argument."),),
)
def lpop(c: Context, args: list[bytes]) -> Any:
    return _pop_command(c, args, True)


@command(
    "rpop",
    -2,
    "write fast",
    (1, 1, 1),
    group=L,
    summary="Remove and get the last elements in a list",
    complexity="O(N) where N is the number of elements returned",
    args="key [count]",
    key_flags="RW access delete",
    history=(("6.2.0", "Added the `count` argument."),),
)
def rpop(c: Context, args: list[bytes]) -> Any:
    return _pop_command(c, args, False)


# --- reads --------------------------------------------------------------------------------------


@command(
    "llen",
    2,
    "readonly fast",
    (1, 1, 1),
    group=L,
    summary="Get the length of a list",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def llen(c: Context, args: list[bytes]) -> Any:
    d = get_list(c.db, args[1], read=True)
    return 0 if d is None else d.size


def list_range(d: AnyList, start: int, end: int) -> list[bytes]:
    """Elements ``start..end`` (inclusive, negative from the end) as Redis's LRANGE clamps them,
    walked from the nearer end."""
    n = len(d)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return []
    return d.get_range(start, min(end, n - 1) + 1)


@command(
    "lrange",
    4,
    "readonly",
    (1, 1, 1),
    group=L,
    summary="Get a range of elements from a list",
    complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, from "
    "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
    "specified range.",
    args="key start stop",
)
def lrange(c: Context, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    d = get_list(c.db, args[1], read=True)
    if d is None:
        return []
    items = list_range(d, start, end)
    # Pre-encoded (the same in RESP2 and RESP3): about a fifth faster than the generic encoder
    # for the long replies LRANGE is used for.
    return Raw(b"*%d\r\n" % len(items) + b"".join([b"$%d\r\n%b\r\n" % (len(x), x) for x in items]))


@command(
    "lindex",
    3,
    "readonly",
    (1, 1, 1),
    group=L,
    summary="Get an element from a list by its index",
    complexity="O(N) where N is the number of elements to traverse to get to the element at "
    "index. This makes asking for the first or the last element of the list O(1).",
    args="key index",
)
def lindex(c: Context, args: list[bytes]) -> Any:
    d = get_list(c.db, args[1], read=True)
    if d is None:
        return None
    i = parse_int(args[2])
    return d[i] if -len(d) <= i < len(d) else None


@command(
    "lpos",
    -3,
    "readonly",
    (1, 1, 1),
    group=L,
    summary="Return the index of matching elements on a list",
    since="6.0.6",
    complexity="O(N) where N is the number of elements in the list, for the average case. When "
    "searching for elements near the head or the tail of the list, or when the MAXLEN option "
    "is provided, the command may run in constant time.",
    args="key element [RANK rank] [COUNT num-matches:integer] [MAXLEN len:integer]",
)
def lpos(c: Context, args: list[bytes]) -> Any:
    rank, count, maxlen = 1, None, 0  # count None: no COUNT option
    i, n = 3, len(args)
    while i < n:
        opt = args[i].lower()
        if i + 1 >= n:
            raise SYNTAX
        if opt == b"rank":
            rank = parse_int(args[i + 1])
            if rank == 0:
                raise RANK_ZERO
        elif opt == b"count":
            count = parse_long_range(args[i + 1], 0, LLONG_MAX, "ERR COUNT can't be negative")
        elif opt == b"maxlen":
            maxlen = parse_long_range(args[i + 1], 0, LLONG_MAX, "ERR MAXLEN can't be negative")
        else:
            raise SYNTAX
        i += 2
    d = get_list(c.db, args[1], read=True)
    if d is None:
        return None if count is None else []
    forward = rank > 0
    if rank == LLONG_MIN:
        # Redis negates the rank in a C long: LLONG_MIN stays negative, so every match counts
        # and the COUNT limit (computed with an overflow) never ends the search.
        rank, count = 1, (None if count is None else 0)
    rank = abs(rank)
    found: list[int] = []
    for matches, pos in enumerate(d.find(args[2], forward, maxlen), 1):
        if matches >= rank:
            if count is None:
                return pos
            found.append(pos)
            if count and len(found) >= count:
                break
    return None if count is None else found


# --- in-place changes ---------------------------------------------------------------------------


@command(
    "lset",
    4,
    "write denyoom",
    (1, 1, 1),
    group=L,
    summary="Set the value of an element in a list by its index",
    complexity="O(N) where N is the length of the list. Setting either the first or the last "
    "element of the list is O(1).",
    args="key index element",
    key_flags="RW update",
)
def lset(c: Context, args: list[bytes]) -> Any:
    key = args[1]
    d = get_list(c.db, key)
    if d is None:
        raise NO_SUCH_KEY
    i = parse_int(args[2])
    if not -len(d) <= i < len(d):
        raise OUT_OF_RANGE
    d = _room(c.db, key, d, 0, len(args[3]))
    d[i] = args[3]
    c.db.changed(key, "lset")
    return OK


@command(
    "linsert",
    5,
    "write denyoom",
    (1, 1, 1),
    group=L,
    summary="Insert an element before or after another element in a list",
    since="2.2.0",
    complexity="O(N) where N is the number of elements to traverse before seeing the value "
    "pivot. This means that inserting somewhere on the left end on the list (head) can be "
    "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
    args="key <BEFORE | AFTER> pivot element",
    key_flags="RW insert",
)
def linsert(c: Context, args: list[bytes]) -> Any:
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise SYNTAX
    key = args[1]
    d = get_list(c.db, key)
    if d is None:
        return 0
    try:
        i = d.index(args[3])
    except ValueError:
        return -1
    d = _room(c.db, key, d, 1, len(args[4]))
    d.insert_at(i, args[4], where == b"after")
    c.db.changed(key, "linsert")
    return len(d)


@command(
    "lrem",
    4,
    "write",
    (1, 1, 1),
    group=L,
    summary="Remove elements from a list",
    complexity="O(N+M) where N is the length of the list and M is the number of elements removed.",
    args="key count element",
    key_flags="RW delete",
)
def lrem(c: Context, args: list[bytes]) -> Any:
    count = parse_int(args[2])
    key = args[1]
    d = get_list(c.db, key)
    if d is None:
        return 0
    removed = d.lrem(args[3], count)
    if removed:
        _popped(c, key, d, removed, "lrem")
    return removed


@command(
    "ltrim",
    4,
    "write",
    (1, 1, 1),
    group=L,
    summary="Trim a list to the specified range",
    complexity="O(N) where N is the number of elements to be removed by the operation.",
    args="key start stop",
    key_flags="RW delete",
)
def ltrim(c: Context, args: list[bytes]) -> Any:
    start = parse_int(args[2])
    end = parse_int(args[3])
    key = args[1]
    d = get_list(c.db, key)
    if d is None:
        return OK
    n = len(d)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        left, right = n, 0
    else:
        end = min(end, n - 1)
        left, right = start, n - 1 - end
    d.trim(left, right)
    _popped(c, key, d, left + right, "ltrim")
    return OK


# --- moves between lists ------------------------------------------------------------------------


def _lmove(c: Context, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> Any:
    """LMOVE's work: None if ``src`` is missing; WRONGTYPE for either key (nothing moved)."""
    db = c.db
    d = get_list(db, src)
    if d is None:
        return None
    target = get_list(db, dst)
    v = _pop(d, from_left)
    if target is None:
        db.set(dst, new_list([v]))
    else:
        target = _room(db, dst, target, 1, len(v))
        target.appendleft(v) if to_left else target.append(v)
        if src == dst:  # one list: ``d`` may have just been replaced by ``target``
            d = target
    # dst first: clients blocked on it are served before those on src, as before.
    db.changed(dst, "lpush" if to_left else "rpush", 0)  # a move counts as one change
    _popped(c, src, d, 1, "lpop" if from_left else "rpop")
    return v


@command(
    "lmove",
    5,
    "write denyoom",
    group=L,
    summary="Pop an element from a list, push it to another list and return it",
    since="6.2.0",
    complexity="O(1)",
    args="source destination <LEFT | RIGHT> <LEFT | RIGHT>",
    key_specs=(KeySpec("RW access delete", 1), KeySpec("RW insert", 2)),
)
def lmove(c: Context, args: list[bytes]) -> Any:
    return _lmove(c, args[1], args[2], _where(args[3]), _where(args[4]))


@command(
    "rpoplpush",
    3,
    "write denyoom",
    group=L,
    summary="Remove the last element in a list, prepend it to another list and return it",
    since="1.2.0",
    complexity="O(1)",
    args="source destination",
    key_specs=(KeySpec("RW access delete", 1), KeySpec("RW insert", 2)),
)
def rpoplpush(c: Context, args: list[bytes]) -> Any:
    return _lmove(c, args[1], args[2], False, True)


def _parse_mpop(args: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP's ``numkeys key [key ...] LEFT|RIGHT [COUNT count]`` from ``numkeys_idx``:
    (keys, from the left, count)."""
    numkeys = parse_long_range(
        args[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0"
    )
    where_idx = numkeys_idx + numkeys + 1
    n = len(args)
    if where_idx >= n:
        raise SYNTAX
    left = _where(args[where_idx])
    count = -1
    j = where_idx + 1
    while j < n:
        if count == -1 and args[j].lower() == b"count" and j + 1 < n:
            count = parse_long_range(
                args[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0"
            )
            j += 2
        else:
            raise SYNTAX
    return args[numkeys_idx + 1 : where_idx], left, max(count, 1)


def _pop_with_key(c: Context, key: bytes, d: AnyList, left: bool, count: int) -> Any:
    """[key, [elements]] of up to ``count`` elements popped from the non-empty ``d``."""
    out = d.pop_many(count, left)
    _popped(c, key, d, len(out), "lpop" if left else "rpop")
    return [key, out]


@command(
    "lmpop",
    -4,
    "write",
    group=L,
    summary="Pop elements from a list",
    since="7.0.0",
    complexity="O(N+M) where N is the number of provided keys and M is the number of elements "
    "returned.",
    args="numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
    key_specs=(KeySpec("RW access delete", 1, keynum=0),),
    propagate=propagation.list_mpop,
)
def lmpop(c: Context, args: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(args, 1)
    db = c.db
    for key in keys:
        d = get_list(db, key)
        if d:
            return _pop_with_key(c, key, d, left, count)
    return NULL_ARRAY


# --- blocking -----------------------------------------------------------------------------------


def _bpop(c: Context, args: list[bytes], left: bool) -> Any:
    timeout = parse_timeout(args[-1])
    keys = args[1:-1]
    db = c.db
    for key in keys:
        d = get_list(db, key)
        if d:
            v = _pop(d, left)
            _popped(c, key, d, 1, "lpop" if left else "rpop")
            return [key, v]

    def serve(c: Context, key: bytes) -> Any:
        d = c.db.get(key)
        if not is_list(d) or not d:
            return None  # not a list (any more): keep waiting
        v = _pop(d, left)
        _popped(c, key, d, 1, "lpop" if left else "rpop")
        return [key, v]

    return block(c, args, keys, timeout, serve, NULL_ARRAY)


_BPOP_HISTORY = (("6.0.0", "`timeout` is interpreted as a double instead of an integer."),)


@command(
    "blpop",
    -3,
    "write noscript blocking",
    (1, -2, 1),
    group=L,
    summary="Remove and get the first element in a list, or block until one is available",
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys.",
    args="key [key ...] timeout:double",
    key_flags="RW access delete",
    history=_BPOP_HISTORY,
    propagate=propagation.blocking_pop,
)
def blpop(c: Context, args: list[bytes]) -> Any:
    return _bpop(c, args, True)


@command(
    "brpop",
    -3,
    "write noscript blocking",
    (1, -2, 1),
    group=L,
    summary="Remove and get the last element in a list, or block until one is available",
    since="2.0.0",
    complexity="O(N) where N is the number of provided keys.",
    args="key [key ...] timeout:double",
    key_flags="RW access delete",
    history=_BPOP_HISTORY,
    propagate=propagation.blocking_pop,
)
def brpop(c: Context, args: list[bytes]) -> Any:
    return _bpop(c, args, False)


def _blmove(
    c: Context,
    args: list[bytes],
    src: bytes,
    dst: bytes,
    from_left: bool,
    to_left: bool,
    timeout: float,
) -> Any:
    if get_list(c.db, src) is not None:
        return _lmove(c, src, dst, from_left, to_left)

    def serve(c: Context, key: bytes) -> Any:
        d = c.db.get(src)
        if not is_list(d) or not d:
            return None
        try:
            return _lmove(c, src, dst, from_left, to_left)
        except ReplyError as e:  # the destination is not a list: the client gets WRONGTYPE
            return e

    if not may_block(c):
        return None  # inside EXEC: a null bulk, though a timeout replies with a null array
    return block(c, args, [src], timeout, serve, NULL_ARRAY)


@command(
    "blmpop",
    -5,
    "write blocking",
    group=L,
    summary="Pop elements from a list, or block until one is available",
    since="7.0.0",
    complexity="O(N+M) where N is the number of provided keys and M is the number of elements "
    "returned.",
    args="timeout:double numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
    key_specs=(KeySpec("RW access delete", 2, keynum=0),),
    propagate=propagation.list_mpop,
)
def blmpop(c: Context, args: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(args, 2)
    timeout = parse_timeout(args[1])
    db = c.db
    for key in keys:
        d = get_list(db, key)
        if d:
            return _pop_with_key(c, key, d, left, count)

    def serve(c: Context, key: bytes) -> Any:
        d = c.db.get(key)
        if not is_list(d) or not d:
            return None
        return _pop_with_key(c, key, d, left, count)

    return block(c, args, keys, timeout, serve, NULL_ARRAY)


@command(
    "blmove",
    6,
    "write denyoom noscript blocking",
    group=L,
    summary="Pop an element from a list, push it to another list and return it; or block until "
    "one is available",
    since="6.2.0",
    complexity="O(1)",
    args="source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout:double",
    key_specs=(KeySpec("RW access delete", 1), KeySpec("RW insert", 2)),
    propagate=propagation.blmove,
)
def blmove(c: Context, args: list[bytes]) -> Any:
    from_left = _where(args[3])
    to_left = _where(args[4])
    timeout = parse_timeout(args[5])
    return _blmove(c, args, args[1], args[2], from_left, to_left, timeout)


@command(
    "brpoplpush",
    4,
    "write denyoom noscript blocking",
    group=L,
    summary="Pop an element from a list, push it to another list and return it; or block until "
    "one is available",
    since="2.2.0",
    complexity="O(1)",
    args="source destination timeout:double",
    history=_BPOP_HISTORY,
    key_specs=(KeySpec("RW access delete", 1), KeySpec("RW insert", 2)),
    propagate=propagation.brpoplpush,
)
def brpoplpush(c: Context, args: list[bytes]) -> Any:
    timeout = parse_timeout(args[3])
    return _blmove(c, args, args[1], args[2], False, True, timeout)
