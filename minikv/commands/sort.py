"""SORT and SORT_RO: sort a list, set or sorted set, or read its elements through other keys,
as Redis 7.0's sort.c does.

Elements sort as numbers (C's ``strtod`` on the whole string; one that is not a number makes
the command fail) or, with ALPHA, as strings. ``BY pattern`` sorts by the value of another key
(the first ``*`` of the pattern replaced by the element; ``key->field`` reads a hash field);
a pattern without ``*`` (``BY nosort``) skips sorting and keeps the value's own order.
``GET pattern`` answers with other keys' values instead (``#`` is the element itself).

Where Redis's answer is not determined, minikv's differs: the unstable qsort Redis uses leaves
ALPHA ties under BY in any order (minikv keeps the value's order), and a set returned
unsorted comes in minikv's own order (an intset's, ascending, like Redis's). ALPHA collates
in the C locale (byte order up to a NUL, as ``strcoll`` there) whatever the environment's
locale; Redis uses the locale it was started with.
"""

from __future__ import annotations

import math
import sys
from itertools import islice
from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command, lookup_by_name
from minikv.commands.util import SYNTAX, WRONGTYPE
from minikv.packedhash import PackedHash
from minikv.packedlist import PackedList, new_list
from minikv.parsing import parse_int, strtod
from minikv.protocol import ReplyError
from minikv.quicklist import QuickList
from minikv.scripting import ScriptClient
from minikv.setvalue import SetValue
from minikv.valuetypes import is_intset
from minikv.zset import PackedZSet, ZSet

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

_NOT_DOUBLE = ReplyError("ERR One or more scores can't be converted into double")


def _lookup(db: Db, pattern: bytes, element: bytes) -> bytes | None:
    """Redis's lookupKeyByPattern: the string (or hash field) ``pattern`` names for
    ``element``; None when there is none, or it is of another type."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2 :]
        pattern = pattern[:arrow]
    v = db.read(pattern[:star] + element + pattern[star + 1 :])
    if field is None:
        return v if type(v) is bytes else None
    if type(v) is PackedHash:
        return v.get(field)
    if type(v) is not dict:
        return None
    got: bytes | None = v.get(field)
    return got


def _score(v: bytes) -> float | None:
    """A sort weight as Redis reads one: C's strtod on the string up to its first NUL, all of
    it a number, not out of range (ERANGE) and not NaN (the empty string is 0)."""
    text = v.split(b"\0", 1)[0]
    if not text:
        return 0.0
    if len(text) < 300 and (text.isdigit() or (text[:1] == b"-" and text[1:].isdigit())):
        return float(int(text))  # the common case (no overflow), rounded as strtod rounds it
    r = strtod(text)
    if r is None or r[1] or math.isnan(r[0]):
        return None
    v = r[0]
    if v and abs(v) < sys.float_info.min:
        return None  # glibc's strtod flags a subnormal result ERANGE too
    return v


def _collate(v: bytes) -> bytes:
    # strcoll in the C locale: a NUL ends the string.
    return v.split(b"\0", 1)[0]


def _sort(c: Context, args: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    by: bytes | None = None
    store: bytes | None = None
    gets: list[bytes] = []
    i, n = 2, len(args)
    # BY and GET read keys named by the data: only a user who may read every key may use
    # them (Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess). A connectionless client
    # (the AOF's) has no user and may do anything.
    user = c.user
    full_access = user is None or user.unrestricted or user.full_key_access(_CMD[readonly], args)
    while i < n:
        opt, left = args[i].upper(), n - i - 1
        if opt == b"ASC":
            desc = False
        elif opt == b"DESC":
            desc = True
        elif opt == b"ALPHA":
            alpha = True
        elif opt == b"LIMIT" and left >= 2:
            limit_start = parse_int(args[i + 1])
            limit_count = parse_int(args[i + 2])
            i += 2
        elif opt == b"STORE" and left >= 1 and not readonly:
            store = args[i + 1]
            i += 1
        elif opt == b"BY" and left >= 1:
            by = args[i + 1]
            dontsort = b"*" not in by
            if not dontsort and not full_access:
                raise ReplyError(
                    "ERR BY option of SORT denied due to insufficient ACL permissions."
                )
            i += 1
        elif opt == b"GET" and left >= 1:
            if not full_access:
                raise ReplyError(
                    "ERR GET option of SORT denied due to insufficient ACL permissions."
                )
            gets.append(args[i + 1])
            i += 1
        else:
            raise SYNTAX
        i += 1

    db = c.db
    value = db.read(args[1])
    if value is None:
        value = QuickList()
    elif type(value) is PackedZSet:
        value = value.unpack()
    elif type(value) not in (QuickList, PackedList, SetValue, ZSet):
        raise WRONGTYPE
    is_set = type(value) is SetValue
    if dontsort and is_set and (store is not None or isinstance(c, ScriptClient)):
        # An unsorted set would come out in an order of its own: sorted, it replicates.
        dontsort, alpha, by = False, True, None

    size = len(value)
    start = min(max(limit_start, 0), size)
    count = min(max(limit_count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)

    elements: list[bytes]
    if dontsort and not is_set:
        # The value's own order, DESC reversing it, and only the LIMIT range read.
        if end < start:
            elements = []
        elif type(value) is ZSet:
            if desc:
                elements = value.members(size - 1 - end, size - start, True)
            else:
                elements = value.members(start, end + 1)
        else:
            seq = reversed(value) if desc else iter(value)
            elements = list(islice(seq, start, end + 1))
        start, end = 0, len(elements) - 1
    else:
        # An intset is walked in ascending order, as Redis walks one.
        elements = sorted(value, key=int) if is_set and is_intset(value) else list(value)
        if not dontsort:
            elements = _sorted(db, elements, by, alpha, desc, store is not None)

    picked = elements[start : end + 1] if end >= start else []
    if gets:
        out: list[bytes | None] = [_lookup(db, g, e) for e in picked for g in gets]
    else:
        out = list(picked)
    if store is None:
        return out
    if out:
        db.set(store, new_list([b"" if v is None else v for v in out]))
        db.changed(store, "sortstore", len(out))
    elif db.delete(store):
        db.changed(store, "del")
    return len(out)


def _sorted(
    db: Db, elements: list[bytes], by: bytes | None, alpha: bool, desc: bool, storing: bool
) -> list[bytes]:
    if alpha:
        if by is None:
            key = (lambda e: e) if storing else _collate
            return sorted(elements, key=key, reverse=desc)
        weights: dict[bytes, tuple[bool, bytes]] = {}
        for e in elements:
            w = _lookup(db, by, e)
            # A missing weight sorts before any other.
            weights[e] = (False, b"") if w is None else (True, w if storing else _collate(w))
        return sorted(elements, key=weights.__getitem__, reverse=desc)
    scores: dict[bytes, tuple[float, bytes]] = {}
    failed = False
    for e in elements:
        w = e if by is None else _lookup(db, by, e)
        s = 0.0 if w is None else _score(w)
        if s is None:
            failed = True
            continue
        # Equal weights fall back to comparing the elements, so the order is defined.
        scores[e] = (s, e)
    if failed:
        raise _NOT_DOUBLE
    return sorted(elements, key=scores.__getitem__, reverse=desc)


def _sort_getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Redis's sortGetKeys: the sorted key, and the last STORE's destination (options taking
    arguments skipped as SORT's parser would, anything else read as a flag)."""
    keys: list[tuple[int, tuple[str, ...]]] = [(1, ("RO", "access"))]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < len(args):
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ("OW", "update")))
    return keys


_SORT_SPECS = (
    KeySpec("RO access", 1),
    KeySpec(
        "RO access",
        unknown=True,
        notes="For the optional BY/GET keyword. It is marked 'unknown' because the key names"
        " derive from the content of the key we sort",
    ),
)
_SORT_USAGE = (
    "key [BY pattern@1] [LIMIT offset count] [GET pattern@1 [GET pattern@1 ...]] [ASC | DESC]"
    " [ALPHA]"
)
_COMPLEXITY = (
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the"
    " number of returned elements. When the elements are not sorted, complexity is O(N)."
)


@command(
    "sort",
    -2,
    "write denyoom",
    summary="Sort the elements in a list, set or sorted set",
    args=f"{_SORT_USAGE} [STORE destination@2]",
    complexity=_COMPLEXITY,
    acl="-@keyspace @set @sortedset @list @dangerous",
    key_specs=(
        *_SORT_SPECS,
        KeySpec(
            "OW update",
            unknown=True,
            notes="For the optional STORE keyword. It is marked 'unknown' because the keyword"
            " can appear anywhere in the argument array",
        ),
    ),
    getkeys=_sort_getkeys,
)
def sort(c: Context, args: list[bytes]) -> Any:
    return _sort(c, args, False)


@command(
    "sort_ro",
    -2,
    "readonly",
    summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
    args=_SORT_USAGE,
    since="7.0.0",
    complexity=_COMPLEXITY,
    acl="-@keyspace @set @sortedset @list @dangerous",
    key_specs=_SORT_SPECS,
    getkeys=lambda args: [(1, ("RO", "access"))],
)
def sort_ro(c: Context, args: list[bytes]) -> Any:
    return _sort(c, args, True)


#: The table's entries, for the ACL check of BY/GET (False: SORT, True: SORT_RO).
_CMD = {False: lookup_by_name("sort"), True: lookup_by_name("sort_ro")}
