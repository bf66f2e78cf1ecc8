"""Helpers shared by command handlers: argument parsing with Redis's error texts, typed value
lookup (WRONGTYPE) and the HSCAN/SSCAN/ZSCAN options and cursor."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, TypeVar

from minikv.parsing import NOT_INTEGER, compile_pattern, parse_int
from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.keyspace import Db

T = TypeVar("T")

SYNTAX = ReplyError("ERR syntax error")
WRONGTYPE = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")

# --- shared by the collection types (hashes, sets, lists, sorted sets) -------------------------


def parse_on_off(arg: bytes) -> bool:
    """ON / OFF (any case), as CLIENT NO-EVICT and NO-TOUCH take it; else a syntax error."""
    v = arg.lower()
    if v == b"on":
        return True
    if v == b"off":
        return False
    raise SYNTAX


def get_typed(db: Db, key: bytes, cls: type[T], read: bool = False) -> T | None:
    """The value at ``key`` if it is a ``cls`` (the Python class that is its Redis type), None
    if the key is missing; WRONGTYPE for a value of any other type. ``read``: the command reads
    the key (``Db.read``: counted as a hit or miss), rather than looking it up to change it."""
    v = db.read(key) if read else db.get(key)
    if v is None or type(v) is cls:
        return v
    raise WRONGTYPE


def parse_long_range(b: bytes, lo: int, hi: int, msg: str | None = None) -> int:
    """An integer in ``[lo, hi]`` as Redis's getRangeLongFromObjectOrReply checks it: ``msg``
    (when given) is the error both for a non-integer and for a value out of range."""
    err = ReplyError(msg) if msg is not None else NOT_INTEGER
    v = parse_int(b, err)
    if not lo <= v <= hi:
        if msg is not None:
            raise err
        raise ReplyError(f"ERR value is out of range, value must between {lo} and {hi}")
    return v


def parse_scan_options(args: list[bytes], first: int) -> tuple[int, Callable[[bytes], bool] | None]:
    """HSCAN/SSCAN/ZSCAN's ``[MATCH pattern] [COUNT count]`` from ``args[first:]``: (count,
    predicate or None). Redis parses these only once it has found the key."""
    count = 10
    match = None
    i, n = first, len(args)
    while i < n:
        opt = args[i].lower()
        if opt == b"count" and n - i >= 2:
            count = parse_int(args[i + 1])
            if count < 1:
                raise SYNTAX
        elif opt == b"match" and n - i >= 2:
            match = None if args[i + 1] == b"*" else compile_pattern(args[i + 1])
        else:
            raise SYNTAX
        i += 2
    return count, match


_HASH_SPACE = 1 << 64
_HASH_MASK = _HASH_SPACE - 1
# A step of a big collection returns at least 1/_SCAN_MIN_STEPS of it, whatever COUNT says, so
# that a whole iteration costs O(N) per step times at most about this many steps.
_SCAN_MIN_STEPS = 32


def scan_slice(members: Collection[bytes], cursor: int, count: int) -> tuple[int, list[bytes]]:
    """One HSCAN/SSCAN/ZSCAN step over a collection too big to be returned whole.

    The cursor is a position in the 64-bit space of the members' ``hash()``: a step returns
    the members whose hash lies in ``[cursor, next)``, a range sized so that about ``count``
    members fall in it. A member's hash never changes (within this process), so the SCAN
    guarantee holds: a member present for the whole iteration is returned exactly once, however
    the collection changes in between. Each step costs O(N) hash lookups (cached in ``bytes``).
    """
    n = len(members)
    per_step = max(count, -(-n // _SCAN_MIN_STEPS))
    if cursor == 0 and n <= per_step:
        return 0, list(members)
    end = cursor + _HASH_SPACE * per_step // max(n, 1)
    if end >= _HASH_SPACE:
        return 0, [m for m in members if hash(m) & _HASH_MASK >= cursor]
    return end, [m for m in members if cursor <= hash(m) & _HASH_MASK < end]
