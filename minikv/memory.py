"""What a key costs in memory: MEMORY USAGE's estimate, in the bytes Python allocates for it.

Redis adds up its allocator's sizes for the value's structures, walking at most ``samples``
elements of a collection and scaling their average up to the whole (``objectComputeSize``).
minikv does the same over its own objects: ``sys.getsizeof`` of each container and element
(what CPython asked its allocator for, headers included), shared objects counted once per
key, collections sampled the same way (``samples`` 0 walks everything). To that it adds the
key's own bytes object, its slot in the keyspace dict and in the access-record dict (the
LRU/LFU record ``minikv.eviction`` keeps; the int in it is shared between keys), and for a key
with a deadline the expiry dict's slot and the integer in it.

What it leaves out: CPython's allocator rounding (small objects are rounded up to 16 bytes)
and free slots inside blocks, small integers and other objects the interpreter shares with
the rest of the process. ``tests/test_memory.py`` checks the estimate against tracemalloc's
count of the bytes each value really allocated.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
from sortedcontainers import SortedList

from minikv.quicklist import QuickList
from minikv.zset import ZSet

#: A keyspace dict's bytes per entry (entry and index slots, at the load dicts settle at),
#: measured with sys.getsizeof over dicts of 1M keys: 42.
DICT_SLOT = 42
#: Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES.
DEFAULT_SAMPLES = 5

_getsizeof = sys.getsizeof
_ATOMS = (bytes, int, float, str, bool, type(None))


def key_usage(key: bytes, value: Any, has_expiry: bool, samples: int = DEFAULT_SAMPLES) -> int:
    """MEMORY USAGE of ``key`` holding ``value``: value, key and keyspace slot(s)."""
    # Two slots: the keyspace dict's and the access records' (minikv.eviction's LRU/LFU).
    if type(value) is bytes:  # the common case, without a _Sizer (maxmemory sizes each write)
        total = _getsizeof(value) + _getsizeof(key) + 2 * DICT_SLOT
    else:
        total = value_size(value, samples) + _getsizeof(key) + 2 * DICT_SLOT
    if has_expiry:
        total += DICT_SLOT + _getsizeof(2**40)  # a deadline in ms is a 4-digit int
    return total


def value_size(value: Any, samples: int = DEFAULT_SAMPLES) -> int:
    """The bytes ``value`` holds, its collections sampled ``samples`` elements at a time
    (0: all of them)."""
    return _Sizer(samples or sys.maxsize).size(value)


class _Sizer:
    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.seen: set[int] = set()

    def size(self, obj: Any) -> int:
        i = id(obj)
        if i in self.seen:
            return 0
        self.seen.add(i)
        if isinstance(obj, _ATOMS):
            if type(obj) is int and -5 <= obj <= 256:
                return 0  # the interpreter's shared small integers
            return _getsizeof(obj)
        if type(obj) is ZSet:
            return self._zset(obj)
        if type(obj) is QuickList:
            # A list of blocks iterated as its elements: the blocks and their byte sizes
            # are its structure.
            total = _getsizeof(obj) + self.size(obj.sizes) + sum(map(_getsizeof, obj.blocks()))
            return total + self._sampled(((x,) for x in obj), len(obj))
        if isinstance(obj, SortedList):
            return self._sorted_list(obj)
        total = _getsizeof(obj)
        if isinstance(obj, dict):
            return total + self._sampled(obj.items(), len(obj))
        if isinstance(obj, (list, tuple, set, frozenset)):
            return total + self._sampled(((x,) for x in obj), len(obj))
        if isinstance(obj, msgspec.Struct):
            fields = obj.__struct_fields__
            return total + sum(self.size(getattr(obj, f)) for f in fields)
        return total

    def _sampled(self, items: Any, n: int) -> int:
        """The deep size of ``n`` children (each a tuple of objects), from the first
        ``samples`` of them scaled up."""
        if not n:
            return 0
        measured = k = 0
        for parts in items:
            for p in parts:
                measured += self.size(p)
            k += 1
            if k >= self.samples:
                break
        return measured if k >= n else measured * n // k

    def _sorted_list(self, sl: SortedList) -> int:
        return _sorted_list_structure(sl) + self._sampled(((x,) for x in sl), len(sl))

    def _zset(self, z: ZSet) -> int:
        # The dict and the index share members and scores: count each element once, from the
        # dict, and of the index only its own structure (a big set's (score, member) tuples).
        n = len(z)
        total = _getsizeof(z) + self._sampled(z.items(), n)
        if not z.big:
            return total + _getsizeof(z.index)
        return total + _sorted_list_structure(z.index) + n * _getsizeof((0.0, b""))


def _sorted_list_structure(sl: SortedList) -> int:
    """A SortedList's own lists, without the elements."""
    lists = sl._lists
    total = _getsizeof(sl) + _getsizeof(lists) + _getsizeof(sl._maxes) + _getsizeof(sl._index)
    return total + sum(map(_getsizeof, lists))
