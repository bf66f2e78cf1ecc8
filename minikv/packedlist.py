"""The compact form of a small list: ``PackedList``, one object holding the elements as one
MessagePack array of bin, for lists that Redis would keep in a single quicklist node.

Why: a ``QuickList`` of two short elements is five Python objects (the QuickList, its node,
its ``sizes`` list and the two ``bytes``), ~448 B; a ``PackedList`` is two (itself, 48 B, and
its ``blob``, 33 B + the encoding), ~112 B for the same list, and a snapshot stores and loads
it as it is (one ``bytes`` per key, no object per element).

What it is: a ``msgspec.Struct`` (array-like, not tracked by the garbage collector: it holds
only a ``bytes`` and two small ints) of ``blob`` (``msgspec.msgpack.encode(elements)``),
``size`` (the element count) and ``fill`` (the list-max-listpack-size the list was created
with, as a QuickList keeps it). The snapshot encoder walks it in C as ``[blob, size, fill]``
(``minikv.persistence.format``). Every operation decodes the blob (in C), works on the plain
``list`` and encodes it back: O(n) in the list's length, which the limits below keep small.

When: a list is created packed (``new_list``) when its elements fit ``fits``: at most
``MAX_ENTRIES`` elements and no more than the fill's entry limit (a positive fill N allows N
per node), and a blob of at most ``MAX_BYTES``. Those limits are well inside one node for
every fill (the smallest node is 4 KiB), so a PackedList is always a one-node quicklist as
Redis would lay it out, and DEBUG OBJECT reports it as one. A write that would take it past
them first turns it into a ``QuickList`` of that one node (``to_quicklist``, in the keyspace
through ``Db.replace_value``: the key's TTL and LRU/LFU record are kept) and is then made on
the QuickList, so node boundaries are exactly Redis's. A QuickList is never turned back into a
PackedList (Redis 7.0 has no such conversion either, and every list is a "quicklist" to
OBJECT ENCODING whatever its form here).

The class offers the part of QuickList's interface that the list commands and the rest of
the server use (``size``, ``len``, iteration, indexing, the pushes and pops, ``get_range``,
``find``, ``index``, ``insert_at``, ``lrem``, ``trim``, ``blocks``, ``copy``,
``debug_fields``), with the same semantics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from minikv.quicklist import QuickList, clamp_fill, current_fill

#: A packed list holds at most this many elements (a positive fill below it lowers it).
MAX_ENTRIES = 128
#: ... and its blob at most this many bytes: with the per-element overhead a listpack adds,
#: well under the smallest node (4 KiB, fill -1), so a packed list is always one node.
MAX_BYTES = 2048
# What a new element may add to the blob beyond its bytes: a bin header (at most 5 bytes),
# and 2 more once for the array header growing (fixarray -> array 16).
_ELEMENT_OVERHEAD = 5
_HEADER_GROWTH = 2

#: Encodes a list of elements as a blob.
encode = _encode = msgspec.msgpack.encode
#: Decodes a blob; also the loader's check that a blob from a file is an array of bin.
decode = msgspec.msgpack.Decoder(list[bytes]).decode


def _entry_limit(fill: int) -> int:
    return fill if 0 < fill < MAX_ENTRIES else MAX_ENTRIES


class PackedList(msgspec.Struct, array_like=True, gc=False):
    """A small list as one MessagePack blob (see the module docstring)."""

    blob: bytes
    size: int
    fill: int

    # --- the representation -------------------------------------------------------------

    def fits(self, n: int, nbytes: int) -> bool:
        """Whether ``n`` more elements of ``nbytes`` bytes in all keep the list packed."""
        m = self.size + n
        fill = self.fill
        return (
            m <= MAX_ENTRIES
            and (fill <= 0 or m <= fill)
            and len(self.blob) + nbytes + n * _ELEMENT_OVERHEAD + _HEADER_GROWTH <= MAX_BYTES
        )

    def items(self) -> list[bytes]:
        """The elements, as a new list."""
        return decode(self.blob)

    def _store(self, items: list[bytes]) -> None:
        self.blob = _encode(items)
        self.size = len(items)

    def to_quicklist(self) -> QuickList:
        """The same list as a QuickList of one node, with the same fill."""
        return QuickList.with_fill(decode(self.blob), self.fill)

    def copy(self) -> PackedList:
        return PackedList(self.blob, self.size, self.fill)

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> PackedList:
        return self.copy()

    # --- reads --------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size != 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(decode(self.blob))

    def __reversed__(self) -> Iterator[bytes]:
        return reversed(decode(self.blob))

    def __contains__(self, x: object) -> bool:
        return x in decode(self.blob)

    def __repr__(self) -> str:
        return f"PackedList({decode(self.blob)!r})"

    def __getitem__(self, i: Any) -> Any:
        return decode(self.blob)[i]

    def get_range(self, start: int, stop: int) -> list[bytes]:
        """Elements ``start <= i < stop`` (0 <= start)."""
        return decode(self.blob)[start:stop]

    def index(self, x: bytes, start: int = 0, stop: int | None = None) -> int:
        items = decode(self.blob)
        return items.index(x, start) if stop is None else items.index(x, start, stop)

    def count(self, x: bytes) -> int:
        return decode(self.blob).count(x)

    def find(self, x: bytes, forward: bool = True, maxlen: int = 0) -> Iterator[int]:
        """Positions of ``x`` from the head (``forward``) or the tail, looking at no more than
        ``maxlen`` elements (0: all): LPOS's scan, as QuickList.find."""
        items = decode(self.blob)
        n = len(items)
        budget = maxlen if 0 < maxlen < n else n
        if forward:
            return (i for i in range(budget) if items[i] == x)
        return (i for i in range(n - 1, n - 1 - budget, -1) if items[i] == x)

    def blocks(self) -> Iterator[list[bytes]]:
        """The one node (what DUMP encodes)."""
        return iter((decode(self.blob),) if self.size else ())

    def block_count(self) -> int:
        return 1 if self.size else 0

    def debug_fields(self) -> str:
        """DEBUG OBJECT's quicklist fields: those of the one-node QuickList it stands for."""
        return self.to_quicklist().debug_fields()

    def check(self) -> None:
        """Assert the invariants (tests)."""
        items = decode(self.blob)
        assert items, "empty"
        assert self.size == len(items), "size"
        assert self.fill == clamp_fill(self.fill), "fill"
        assert self.size <= _entry_limit(self.fill) and len(self.blob) <= MAX_BYTES, "too big"

    # --- writes (the caller has checked ``fits`` for the ones that grow the list) -------

    # The four single-element operations are LPUSH/RPUSH/LPOP/RPOP's whole work on a small
    # list: written out, without the call to _store.

    def append(self, x: bytes) -> None:
        items = decode(self.blob)
        items.append(x)
        self.blob = _encode(items)
        self.size += 1

    def appendleft(self, x: bytes) -> None:
        items = decode(self.blob)
        items.insert(0, x)
        self.blob = _encode(items)
        self.size += 1

    def extend(self, xs: Iterable[bytes]) -> None:
        items = decode(self.blob)
        items += xs
        self._store(items)

    def extendleft(self, xs: Iterable[bytes]) -> None:
        """LPUSH each of ``xs`` in order (they end up reversed at the head)."""
        new = list(xs)
        new.reverse()
        new += decode(self.blob)
        self._store(new)

    def __setitem__(self, i: int, x: bytes) -> None:
        items = decode(self.blob)
        items[i] = x
        self._store(items)

    def insert_at(self, i: int, x: bytes, after: bool) -> None:
        """Insert ``x`` before or ``after`` the element at ``i`` (LINSERT)."""
        items = decode(self.blob)
        items.insert(i + 1 if after else i, x)
        self._store(items)

    def pop(self) -> bytes:
        """Remove and return the last element (RPOP)."""
        items = decode(self.blob)
        x = items.pop()
        self.blob = _encode(items)
        self.size -= 1
        return x

    def popleft(self) -> bytes:
        """Remove and return the first element (LPOP)."""
        items = decode(self.blob)
        x = items.pop(0)
        self.blob = _encode(items)
        self.size -= 1
        return x

    def pop_many(self, count: int, left: bool) -> list[bytes]:
        """Pop up to ``count`` elements from the head (``left``) or the tail, in pop order."""
        items = decode(self.blob)
        if left:
            out = items[:count]
            del items[:count]
        else:
            k = min(count, len(items))
            out = items[len(items) - k :]
            out.reverse()
            del items[len(items) - k :]
        self._store(items)
        return out

    def lrem(self, x: bytes, count: int) -> int:
        """LREM: remove the first ``count`` ``x`` (count > 0), the last -count (count < 0) or
        all (0); returns how many."""
        items = decode(self.blob)
        pos = [j for j, y in enumerate(items) if y == x]
        if count > 0:
            pos = pos[:count]
        elif count < 0:
            pos = pos[count:]
        if not pos:
            return 0
        for j in reversed(pos):
            del items[j]
        self._store(items)
        return len(pos)

    def trim(self, left: int, right: int) -> None:
        """Drop ``left`` elements from the head and ``right`` from the tail (LTRIM)."""
        items = decode(self.blob)
        del items[: min(left, len(items))]
        del items[max(len(items) - right, 0) :]
        self._store(items)


def pack(items: list[bytes]) -> PackedList | None:
    """``items`` (in order, not empty) as a new packed list, or None if they are too many or
    too big to be one (see the module docstring). The fill is the current one."""
    fill = current_fill()
    n = len(items)
    if n <= _entry_limit(fill):
        blob = _encode(items)
        if packable(n, len(blob), fill):
            return PackedList(blob, n, fill)
    return None


def new_list(items: list[bytes]) -> PackedList | QuickList:
    """A new list of ``items`` (in order, not empty) in the form that fits it: packed when it
    is small enough, else a QuickList with the current fill."""
    p = pack(items)
    return QuickList(items) if p is None else p


def packable(n: int, blob_len: int, fill: int) -> bool:
    """Whether a list of ``n`` elements encoded in ``blob_len`` bytes may be packed under
    ``fill`` (``pack``'s test; the loaders' too)."""
    return 0 < n <= _entry_limit(fill) and blob_len <= MAX_BYTES


def from_blocks(blocks: list[list[bytes]]) -> PackedList | QuickList:
    """A loaded list (RESTORE: its nodes, as ``QuickList.from_blocks`` takes them): packed if
    it is one node that ``pack`` takes, else the QuickList of those nodes."""
    if len(blocks) == 1:
        p = pack(blocks[0])
        if p is not None:
            return p
    return QuickList.from_blocks(blocks)
