"""What a stored value is to Redis: its type name and its encoding.

The keyspace stores Python objects without looking at them; this module is the one place that
maps each Python class to what TYPE, OBJECT ENCODING, OBJECT REFCOUNT, SCAN ... TYPE and COPY
need (``ValueType``), for the six types minikv has:

==========  ==============  ==========================================================
Redis type  Python class    encodings (as Redis 7.0 reports them)
==========  ==============  ==========================================================
string      ``bytes``       int, embstr, raw
hash        ``PackedHash``  listpack (``minikv.packedhash``)
hash        ``dict``        hashtable
set         ``SetValue``    intset, hashtable
list        ``QuickList``   quicklist
list        ``PackedList``  quicklist (how the keyspace holds a small list: one node)
zset        ``PackedZSet``  listpack (how the keyspace holds a small sorted set)
zset        ``ZSet``        skiplist (small ones only while a command works on them)
stream      ``Stream``      stream
==========  ==============  ==========================================================

Encodings follow the thresholds in ``minikv.limits`` (CONFIG's ``*-max-*`` parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from minikv import limits
from minikv.packedhash import PackedHash
from minikv.packedlist import PackedList
from minikv.parsing import as_long
from minikv.quicklist import QuickList
from minikv.setvalue import SetValue
from minikv.stream import Stream
from minikv.zset import PackedZSet, ZSet


@dataclass(frozen=True, slots=True)
class ValueType:
    """What the generic commands need to know about one kind of value."""

    name: str  # TYPE's reply, also SCAN ... TYPE's filter
    encoding: Callable[[Any], str]  # OBJECT ENCODING's reply for a value
    dup: Callable[[Any], Any]  # COPY: a copy that shares nothing mutable with the original
    refcount: Callable[[Any], int] = lambda v: 1  # OBJECT REFCOUNT


#: Python class of a stored value -> its ValueType.
VALUE_TYPES: dict[type, ValueType] = {}


def value_type(v: Any) -> ValueType:
    return VALUE_TYPES[type(v)]


# --- strings ------------------------------------------------------------------------------

_SHARED_INTEGERS = 10000  # Redis shares the objects for 0..9999 (OBJ_SHARED_INTEGERS)
_SHARED_REFCOUNT = 2**31 - 1


def _string_encoding(v: bytes) -> str:
    # Redis picks the encoding when a value is stored by SET and the like; values changed in
    # place by APPEND/SETRANGE are "raw" there whatever their length, which we do not track.
    if as_long(v) is not None:
        return "int"
    return "embstr" if len(v) <= 44 else "raw"


def _string_refcount(v: bytes) -> int:
    n = as_long(v)
    return _SHARED_REFCOUNT if n is not None and 0 <= n < _SHARED_INTEGERS else 1


# --- sets ----------------------------------------------------------------------


def _is_int(m: bytes) -> bool:
    return as_long(m) is not None


def is_intset(s: Collection[bytes]) -> bool:
    """Whether Redis would keep this set as an intset (few members, all integers)."""
    return len(s) <= limits.current.set_max_intset_entries and all(map(_is_int, s))


VALUE_TYPES[bytes] = ValueType("string", _string_encoding, lambda v: v, _string_refcount)
VALUE_TYPES[PackedHash] = ValueType("hash", lambda h: "listpack", PackedHash.copy)
VALUE_TYPES[dict] = ValueType("hash", lambda h: "hashtable", dict)
VALUE_TYPES[SetValue] = ValueType(
    "set", lambda s: "intset" if is_intset(s) else "hashtable", SetValue.copy
)
VALUE_TYPES[QuickList] = ValueType("list", lambda d: "quicklist", QuickList.copy)
VALUE_TYPES[PackedList] = ValueType("list", lambda d: "quicklist", PackedList.copy)
VALUE_TYPES[ZSet] = ValueType("zset", ZSet.encoding, ZSet.copy)
VALUE_TYPES[PackedZSet] = ValueType("zset", lambda p: "listpack", lambda p: p)  # immutable
VALUE_TYPES[Stream] = ValueType("stream", lambda s: "stream", Stream.copy)
