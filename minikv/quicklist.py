"""The list value: ``QuickList``, a Python ``list`` of plain ``list`` blocks of ``bytes``
elements, shaped like Redis 7.0's quicklist of listpacks.

Why a list of lists: a forked snapshot child must encode the data without writing to its pages
(copy-on-write). msgspec's MessagePack encoder walks a ``list`` (or a list subclass) with
borrowed references and no refcount writes, so ``msgspec.msgpack.encode(ql)`` turns a QuickList
into an array of arrays of bin without touching any element; a ``deque`` went through Python
code and copied ~40% of its pages. So the QuickList's own items are its blocks (the real
``list`` length is the block count, which is what msgspec sees), each block is a plain ``list``
of ``bytes``, never empty, and the object holds nothing else (its bookkeeping is in
``__slots__``). The snapshot loader rebuilds one with ``QuickList.from_blocks``.

Everything else sees a deque-like sequence of elements: ``len`` is the element count,
iteration yields elements, indexing is by element position. Every inherited ``list`` method
that would act on blocks is overridden or shadowed, with element semantics (or raises where
there is no sensible meaning).

Block layout follows Redis 7.0's ``list-max-listpack-size`` (``fill``): negative -1..-5 limits a
node's listpack to 4/8/16/32/64 KiB, positive N to N entries (and 8 KiB, Redis's safety limit).
Each block's listpack byte size is tracked in ``sizes``, computed exactly as listpack encodes an
entry (integer-looking strings as integers, string header, back-length, 7 bytes of header and
terminator per listpack), and a push, LINSERT's split/merge, pop, LSET and the deletions treat
nodes as quicklist.c does, so ``DEBUG OBJECT``'s ``ql_nodes``/``ql_avg_node``/
``ql_uncompressed_size`` are Redis's for the same commands. Limits: as in Redis, the fill is
fixed when a list is created (CONFIG SET changes new lists only); elements of 1 GiB or more are
not given a "plain" node of their own; nodes are never compressed (``list-compress-depth`` is
accepted but ignored and ``ql_compressed`` is reported as 0).

Costs: push/pop at either end O(1) amortised (a push/pop at the head moves one block's item
pointers, at most a few thousand); access by index O(n / block size + block size) from the
nearer end; a range O(distance from the nearer end / block size + count).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain, islice, repeat
from operator import add
from typing import Any

from minikv import limits

# CONFIG list-max-listpack-size (``limits.current``) is read when a list is created (``fill``),
# as Redis does. list-compress-depth is accepted and never acted on (no node is compressed).

#: Listpack byte limit for fill -1..-5, indexed by the negative fill itself.
_SIZE_LIMITS = (0, 65536, 32768, 16384, 8192, 4096)
_SAFETY_LIMIT = 8192  # quicklist.c SIZE_SAFETY_LIMIT: the byte cap for a positive fill
_ESTIMATE_OVERHEAD = 8  # quicklist.c SIZE_ESTIMATE_OVERHEAD, added to an element's raw length
_FILL_MAX = (1 << 15) - 1  # quicklistSetFill clamps fill to [-5, FILL_MAX]
_LP_EMPTY = 7  # an empty listpack: 6 bytes of header and the end byte
_NO_COUNT_LIMIT = 1 << 62


def int_entry_size(v: int) -> int:
    """Bytes an integer element takes in a listpack; 0 if ``v`` is outside int64 (then it is
    stored as its string)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -(2**31) <= v < 2**31:
        return 6
    if -(2**63) <= v < 2**63:
        return 10
    return 0


def entry_size(x: bytes) -> int:
    """Bytes the element takes in a listpack (lpEncodeGetType + lpEncodeBacklen)."""
    n = len(x)
    if 0 < n <= 20:
        c = x[0]
        # lpStringToInt64: a canonical decimal ("0", or no leading zero, "-" not before 0)
        # that fits an int64 is stored as an integer.
        if (48 < c <= 57 and x.isdigit()) or (c == 45 and n > 1 and x[1] != 48 and x[1:].isdigit()):
            size = int_entry_size(int(x))
            if size:
                return size
        elif c == 48 and n == 1:
            return 2
    if n < 64:
        return n + 2
    enc = n + 2 if n < 4096 else n + 5
    if enc <= 127:
        return enc + 1
    if enc < 16383:
        return enc + 2
    if enc < 2097151:
        return enc + 3
    if enc < 268435455:
        return enc + 4
    return enc + 5


def entries_size(items: list[bytes]) -> int:
    """``sum(map(entry_size, items))``, mostly in C-level passes when every item is shorter
    than 64 bytes (the usual case): each is then ``len + 2`` unless it is an integer, and only
    the items that may be one (all digits, or a leading "-") go through ``entry_size``. Loading
    a snapshot sizes every block with this."""
    if not items:
        return 0
    lens = list(map(len, items))
    if max(lens) >= 64:
        return sum(map(entry_size, items))
    maybe_int = list(filter(bytes.isdigit, items))
    if len(maybe_int) * 4 > len(items):  # mostly numbers: the extra passes do not pay
        return sum(map(entry_size, items))
    if b"-" in b"".join(items):
        maybe_int += [x for x in items if x[:1] == b"-"]
    total = sum(lens) + 2 * len(items)
    for x in maybe_int:
        total += entry_size(x) - len(x) - 2
    return total


def clamp_fill(fill: int) -> int:
    """``fill`` (a list-max-listpack-size) as a list keeps it: clamped to [-5, 32767], as
    quicklistSetFill does."""
    return _FILL_MAX if fill > _FILL_MAX else -5 if fill < -5 else fill


def current_fill() -> int:
    """The fill a list made now gets: CONFIG list-max-listpack-size, clamped (``clamp_fill``).
    Every list (a ``QuickList`` or a ``minikv.packedlist.PackedList``) takes it when created."""
    return clamp_fill(limits.current.list_max_listpack_size)


def _limits(fill: int) -> tuple[int, int]:
    """(byte limit, entry limit) of a node for ``fill``, as _quicklistNodeAllowInsert reads it:
    ``sizes[b] + len(x) + 8 <= byte limit and len(block) < entry limit``."""
    if fill < 0:
        return _SIZE_LIMITS[fill], _NO_COUNT_LIMIT
    return _SAFETY_LIMIT, fill


# The list methods, on blocks: the QuickList overrides them all with element semantics.
_get = list.__getitem__
_set = list.__setitem__
_del = list.__delitem__
_nblocks = list.__len__
_blocks = list.__iter__
_rblocks = list.__reversed__
_add_block = list.append
_insert_block = list.insert
_pop_block = list.pop
_extend_blocks = list.extend
_clear_blocks = list.clear
_join = b"".join


class QuickList(list):  # type: ignore[type-arg]
    """A Redis list: a ``list`` of non-empty ``list[bytes]`` blocks, used as a sequence of
    elements (see the module docstring). ``size`` is the element count, ``sizes[b]`` block
    ``b``'s listpack byte size, ``fill`` the list-max-listpack-size it was created with."""

    __slots__ = ("fill", "limit", "maxn", "size", "sizes")

    size: int
    sizes: list[int]
    fill: int
    limit: int  # a node's byte limit for ``fill`` (see _limits)
    maxn: int  # a node's entry limit for ``fill``

    def __init__(self, iterable: Iterable[bytes] = ()) -> None:
        _clear_blocks(self)
        self.size = 0
        self.sizes = []
        self._set_fill(current_fill())
        if iterable:
            self.extend(iterable)

    def _set_fill(self, fill: int) -> None:
        self.fill = fill = clamp_fill(fill)
        self.limit, self.maxn = _limits(fill)

    # --- construction and copies ------------------------------------------------------------

    @classmethod
    def from_blocks(cls, blocks: Iterable[list[bytes]]) -> QuickList:
        """A QuickList made of ``blocks`` (lists of bytes, as a snapshot stores them): empty
        blocks are dropped, blocks within the current fill are kept as they are (Redis loads
        its nodes as saved), larger ones are cut as pushes would have cut them. The ``list``
        blocks are taken over, not copied: the caller must not use them afterwards. The
        elements are not checked to be ``bytes`` (the snapshot loader does that)."""
        # Built without __init__: loading a snapshot makes one per list key.
        ql = list.__new__(cls)
        ql.size = 0
        ql.sizes = sizes = []
        ql.fill = fill = current_fill()
        ql.limit, ql.maxn = lim, maxn = _limits(fill)
        for blk in blocks:
            if not blk:
                continue
            if type(blk) is not list:
                blk = list(blk)
            n = len(blk)
            # Short blocks (most lists are short) skip entries_size's whole-block passes.
            sz = _LP_EMPTY + (sum(map(entry_size, blk)) if n <= 8 else entries_size(blk))
            if n == 1 or (sz <= lim and n <= maxn):
                _add_block(ql, blk)
                sizes.append(sz)
                ql.size += n
            else:
                ql.extend(blk)
        return ql

    @classmethod
    def many_from_blocks(cls, all_blocks: list[list[list[bytes]]]) -> list[QuickList]:
        """``[from_blocks(b) for b in all_blocks]``, for loading a snapshot: when no block is
        empty, no element is 64 bytes or longer or could be an integer (all digits, or a
        leading "-") and every block is within the fill (the usual case), every block's size
        is ``7 + 2 * len(block) + its bytes`` and the lists are built in C-level passes over
        all of them at once, with no Python call per list or element; otherwise one
        ``from_blocks`` each. The elements must be ``bytes`` (the snapshot loader checks)."""
        blocks = list(chain.from_iterable(all_blocks))
        elems = list(chain.from_iterable(blocks))
        fill = current_fill()
        lim, maxn = _limits(fill)
        counts = list(map(len, blocks))
        joined = list(map(_join, blocks))
        if (
            not elems
            or not all(counts)
            or max(map(len, elems)) >= 64
            or any(map(bytes.isdigit, elems))
            or (b"-" in _join(joined) and any(map(bytes.startswith, elems, repeat(b"-"))))
        ):
            return list(map(cls.from_blocks, all_blocks))
        # 7 + 2 * count + bytes, in C.
        overheads = map(add, counts, map(add, counts, repeat(_LP_EMPTY)))
        sizes = list(map(add, map(len, joined), overheads))
        if max(sizes) > lim or max(counts) > maxn:  # some block needs cutting
            return list(map(cls.from_blocks, all_blocks))
        # list.__new__ leaves __init__ out; every slot is set below.
        qls = list(map(list.__new__, repeat(cls, len(all_blocks))))
        deque(map(_extend_blocks, qls, all_blocks), 0)
        if len(blocks) == len(all_blocks):  # one block each (short lists)
            deque(map(setattr, qls, repeat("sizes"), map(list, zip(sizes))), 0)
            deque(map(setattr, qls, repeat("size"), counts), 0)
        else:
            nblocks = list(map(len, all_blocks))
            it = iter(sizes)
            per_list = map(list, map(islice, repeat(it), nblocks))
            deque(map(setattr, qls, repeat("sizes"), per_list), 0)
            it = iter(counts)
            deque(map(setattr, qls, repeat("size"), map(sum, map(islice, repeat(it), nblocks))), 0)
        for name, v in (("fill", fill), ("limit", lim), ("maxn", maxn)):
            deque(map(setattr, qls, repeat(name), repeat(v)), 0)
        return qls

    @classmethod
    def with_fill(cls, items: list[bytes], fill: int) -> QuickList:
        """A QuickList of ``items`` pushed in order under ``fill`` (rather than the current
        list-max-listpack-size): a packed list growing past its limits
        (``minikv.packedlist``) keeps the fill it was created with, as Redis's lists do."""
        ql = cls()
        ql._set_fill(fill)
        ql.extend(items)
        return ql

    def copy(self) -> QuickList:
        """A copy sharing no block (elements are immutable bytes), same layout (quicklistDup)."""
        new = QuickList()
        _extend_blocks(new, [b[:] for b in _blocks(self)])
        new.size = self.size
        new.sizes = self.sizes[:]
        new._set_fill(self.fill)
        return new

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> QuickList:
        return self.copy()

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (self.fill, [b[:] for b in _blocks(self)])

    def blocks(self) -> Iterator[list[bytes]]:
        """The blocks themselves, in order (what a snapshot stores)."""
        return _blocks(self)

    def block_count(self) -> int:
        return _nblocks(self)

    # --- size, iteration, comparison --------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size != 0

    def __iter__(self) -> Iterator[bytes]:
        return chain.from_iterable(_blocks(self))

    def __reversed__(self) -> Iterator[bytes]:
        return chain.from_iterable(map(reversed, _rblocks(self)))

    def __contains__(self, x: object) -> bool:
        return any(x in b for b in _blocks(self))

    def __repr__(self) -> str:
        return f"QuickList({list(self)!r})"

    def _cmp(self, other: object, op: Any) -> Any:
        """Compare as element lists, with another QuickList or a plain list/tuple of elements
        (never block by block, which is what ``list``'s own comparisons would do)."""
        if isinstance(other, list | tuple):
            return op(list(self), list(other))
        return NotImplemented

    def __eq__(self, other: object) -> Any:
        if isinstance(other, QuickList) and self.size != other.size:
            return False
        return self._cmp(other, operator.eq)

    def __ne__(self, other: object) -> Any:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __lt__(self, other: object) -> Any:
        return self._cmp(other, operator.lt)

    def __le__(self, other: object) -> Any:
        return self._cmp(other, operator.le)

    def __gt__(self, other: object) -> Any:
        return self._cmp(other, operator.gt)

    def __ge__(self, other: object) -> Any:
        return self._cmp(other, operator.ge)

    __hash__ = None  # type: ignore[assignment]

    # --- positions --------------------------------------------------------------------------

    def _locate(self, i: int) -> tuple[int, int]:
        """(block index, offset in it) of element ``i`` (0 <= i < size), walking the blocks
        from the nearer end."""
        size = self.size
        if i < size - i:
            for b, blk in enumerate(_blocks(self)):
                n = len(blk)
                if i < n:
                    return b, i
                i -= n
        else:
            j = size - 1 - i  # distance from the tail
            b = _nblocks(self) - 1
            for blk in _rblocks(self):
                n = len(blk)
                if j < n:
                    return b, n - 1 - j
                j -= n
                b -= 1
        raise IndexError("QuickList index out of range")

    def _index(self, i: Any) -> int:
        i = operator.index(i)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError("QuickList index out of range")
        return i

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            start, stop, step = i.indices(self.size)
            if step == 1:
                return self.get_range(start, stop)
            return list(self)[i]
        b, off = self._locate(self._index(i))
        return _get(self, b)[off]

    def __setitem__(self, i: Any, x: bytes) -> None:
        """Replace one element in place (LSET; quicklistReplaceEntry keeps the node)."""
        if isinstance(i, slice):
            raise TypeError("QuickList does not support slice assignment")
        b, off = self._locate(self._index(i))
        blk = _get(self, b)
        self.sizes[b] += entry_size(x) - entry_size(blk[off])
        blk[off] = x

    def __delitem__(self, i: Any) -> None:
        if isinstance(i, slice):
            start, stop, step = i.indices(self.size)
            if step != 1:
                raise TypeError("QuickList only deletes contiguous slices")
            self.delete_range(start, stop)
            return
        i = self._index(i)
        self.delete_range(i, i + 1)

    def get_range(self, start: int, stop: int) -> list[bytes]:
        """Elements ``start <= i < stop`` (0 <= start, stop <= size), found from the nearer end
        of ``start`` and then copied a block slice at a time."""
        count = min(stop, self.size) - start
        if count <= 0:
            return []
        b, off = self._locate(start)
        blk = _get(self, b)
        out = blk[off : off + count]
        need = count - len(out)
        while need > 0:
            b += 1
            blk = _get(self, b)
            if len(blk) <= need:
                out += blk
                need -= len(blk)
            else:
                out += blk[:need]
                break
        return out

    # --- push -------------------------------------------------------------------------------

    # The four single-element operations below are LPUSH/RPUSH/LPOP/RPOP's whole work, so they
    # are written out flat; ``n + 2 if 0 < n < 64 and x[0] > 57`` is entry_size's answer for a
    # short string that cannot be an integer, without the call.

    def append(self, x: bytes) -> None:
        """RPUSH one element: into the tail node if it allows it, else a new node."""
        n = len(x)
        es = n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
        self.size += 1
        sizes = self.sizes
        if sizes:
            cur = sizes[-1]
            if cur + n + _ESTIMATE_OVERHEAD <= self.limit:
                blk = _get(self, -1)
                if len(blk) < self.maxn:
                    blk.append(x)
                    sizes[-1] = cur + es
                    return
        _add_block(self, [x])
        sizes.append(_LP_EMPTY + es)

    def appendleft(self, x: bytes) -> None:
        """LPUSH one element: into the head node if it allows it, else a new node."""
        n = len(x)
        es = n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
        self.size += 1
        sizes = self.sizes
        if sizes:
            cur = sizes[0]
            if cur + n + _ESTIMATE_OVERHEAD <= self.limit:
                blk = _get(self, 0)
                if len(blk) < self.maxn:
                    blk[:0] = (x,)  # a memmove; list.insert moves pointers one by one
                    sizes[0] = cur + es
                    return
        _insert_block(self, 0, [x])
        sizes.insert(0, _LP_EMPTY + es)

    def extend(self, items: Iterable[bytes]) -> None:
        """RPUSH each of ``items`` in order."""
        if type(items) is not list or items is self:
            items = list(items)
        self.size += len(items)
        lim, maxn = self.limit, self.maxn
        sizes = self.sizes
        if sizes:
            blk = _get(self, -1)
            cur = sizes[-1]
        else:
            blk = []
            cur = lim  # no tail node: the first element starts one
        for x in items:
            n = len(x)
            es = n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
            if cur + n + _ESTIMATE_OVERHEAD <= lim and len(blk) < maxn:
                blk.append(x)
                cur += es
            else:
                if blk:
                    sizes[-1] = cur
                blk = [x]
                cur = _LP_EMPTY + es
                _add_block(self, blk)
                sizes.append(cur)
        if blk:
            sizes[-1] = cur

    def extendleft(self, items: Iterable[bytes]) -> None:
        """LPUSH each of ``items`` in order (so they end up reversed at the head, as with
        ``deque.extendleft``). New head nodes are built by appending and reversed once, rather
        than inserting at position 0 of a growing block."""
        if type(items) is not list or items is self:
            items = list(items)
        self.size += len(items)
        lim, maxn = self.limit, self.maxn
        sizes = self.sizes
        new_blocks: list[list[bytes]] = []  # in push order, each reversed
        new_sizes: list[int] = []
        if sizes:
            head = _get(self, 0)
            cur = sizes[0]
            head_n = len(head)
        else:
            head = []
            cur = lim
            head_n = 0
        blk: list[bytes] = []  # the node being filled (reversed), or the old head's prefix
        onto_head = bool(sizes)
        for x in items:
            n = len(x)
            es = n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
            if cur + n + _ESTIMATE_OVERHEAD <= lim and head_n + len(blk) < maxn:
                blk.append(x)
                cur += es
            else:
                if onto_head:
                    if blk:
                        blk.reverse()
                        head[0:0] = blk
                    sizes[0] = cur
                    onto_head = False
                elif blk:
                    new_blocks.append(blk)
                    new_sizes.append(cur)
                blk = [x]
                cur = _LP_EMPTY + es
                head_n = 0
        if onto_head:
            if blk:
                blk.reverse()
                head[0:0] = blk
            sizes[0] = cur
        elif blk:
            new_blocks.append(blk)
            new_sizes.append(cur)
        if new_blocks:
            for b in new_blocks:
                b.reverse()
            new_blocks.reverse()
            new_sizes.reverse()
            _set(self, slice(0, 0), new_blocks)
            sizes[0:0] = new_sizes

    def __iadd__(self, items: Iterable[bytes]) -> QuickList:  # type: ignore[override,misc]
        self.extend(items)
        return self

    def __add__(self, items: Iterable[bytes]) -> QuickList:  # type: ignore[override]
        new = self.copy()
        new.extend(items)
        return new

    def __mul__(self, n: Any) -> QuickList:
        return QuickList(list(self) * n)

    __rmul__ = __mul__

    def __imul__(self, n: Any) -> QuickList:  # type: ignore[override,misc]
        items = list(self) * n
        self.clear()
        self.extend(items)
        return self

    # --- pop --------------------------------------------------------------------------------

    def pop(self, i: Any = -1) -> bytes:
        """Remove and return element ``i`` (default the last: RPOP)."""
        if not self.size:
            raise IndexError("pop from an empty QuickList")
        if i != -1:
            i = self._index(i)
            x = self[i]
            self.delete_range(i, i + 1)
            return x
        blk = _get(self, -1)
        x = blk.pop()
        self.size -= 1
        if blk:
            n = len(x)
            self.sizes[-1] -= n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
        else:
            _pop_block(self)
            self.sizes.pop()
        return x

    def popleft(self) -> bytes:
        """Remove and return the first element (LPOP)."""
        if not self.size:
            raise IndexError("pop from an empty QuickList")
        blk = _get(self, 0)
        x = blk.pop(0)
        self.size -= 1
        if blk:
            n = len(x)
            self.sizes[0] -= n + 2 if 0 < n < 64 and x[0] > 57 else entry_size(x)
        else:
            _pop_block(self, 0)
            del self.sizes[0]
        return x

    def pop_many(self, count: int, left: bool) -> list[bytes]:
        """Pop up to ``count`` elements from the head (``left``) or the tail, in pop order,
        taking whole blocks where it can."""
        need = min(count, self.size)
        self.size -= need
        out: list[bytes] = []
        sizes = self.sizes
        while need:
            blk = _get(self, 0 if left else -1)
            n = len(blk)
            if n <= need:
                _pop_block(self, 0 if left else -1)
                sizes.pop(0 if left else -1)
                if left:
                    out += blk
                else:
                    blk.reverse()
                    out += blk
                need -= n
            else:
                if left:
                    part = blk[:need]
                    del blk[:need]
                    sizes[0] -= entries_size(part)
                else:
                    part = blk[n - need :]
                    del blk[n - need :]
                    sizes[-1] -= entries_size(part)
                    part.reverse()
                out += part
                break
        return out

    # --- search -----------------------------------------------------------------------------

    def index(self, x: bytes, start: int = 0, stop: int | None = None) -> int:  # type: ignore[override]
        """Position of the first ``x`` in ``start <= i < stop`` (ValueError if none)."""
        size = self.size
        start = max(start + size, 0) if start < 0 else start
        stop = size if stop is None else (max(stop + size, 0) if stop < 0 else min(stop, size))
        base = 0
        for blk in _blocks(self):
            n = len(blk)
            if base + n > start and x in blk:
                lo = max(start - base, 0)
                hi = min(stop - base, n)
                if lo < hi:
                    try:
                        return base + blk.index(x, lo, hi)
                    except ValueError:
                        pass
            base += n
            if base >= stop:
                break
        raise ValueError(f"{x!r} is not in QuickList")

    def count(self, x: bytes) -> int:  # type: ignore[override]
        return sum(b.count(x) for b in _blocks(self))

    def find(self, x: bytes, forward: bool = True, maxlen: int = 0) -> Iterator[int]:
        """Positions of ``x``, from the head (``forward``) or from the tail, looking at no more
        than ``maxlen`` elements (0: all) — LPOS's scan. Blocks without ``x`` are skipped at C
        speed."""
        budget = maxlen if maxlen > 0 else self.size
        if forward:
            base = 0
            for blk in _blocks(self):
                if budget <= 0:
                    return
                n = len(blk)
                hi = min(n, budget)
                if x in blk:
                    j = 0
                    while True:
                        try:
                            j = blk.index(x, j, hi)
                        except ValueError:
                            break
                        yield base + j
                        j += 1
                base += n
                budget -= n
        else:
            end = self.size  # one past the block's last position
            for blk in _rblocks(self):
                if budget <= 0:
                    return
                n = len(blk)
                lo = max(0, n - budget)
                if x in blk:
                    first = end - n
                    for j in range(n - 1, lo - 1, -1):
                        if blk[j] == x:
                            yield first + j
                end -= n
                budget -= n

    # --- changes in the middle --------------------------------------------------------------

    def _allow_insert(self, b: int, n: int) -> bool:
        """_quicklistNodeAllowInsert for block ``b`` (which may not exist) and an element of
        raw length ``n``."""
        if not 0 <= b < _nblocks(self):
            return False
        lim, maxn = self.limit, self.maxn
        return self.sizes[b] + n + _ESTIMATE_OVERHEAD <= lim and len(_get(self, b)) < maxn

    def _allow_merge(self, a: int, b: int) -> bool:
        """_quicklistNodeAllowMerge for blocks ``a`` and ``b`` (either may not exist)."""
        nb = _nblocks(self)
        if not (0 <= a < nb and 0 <= b < nb):
            return False
        merged = self.sizes[a] + self.sizes[b] - 11
        fill = self.fill
        if fill < 0:
            return merged <= _SIZE_LIMITS[fill]
        return merged <= _SAFETY_LIMIT and len(_get(self, a)) + len(_get(self, b)) <= fill

    def _merge(self, a: int) -> None:
        """Merge block ``a + 1`` into block ``a`` (lpMerge keeps the bigger listpack and moves
        the smaller into it)."""
        first = _get(self, a)
        second = _get(self, a + 1)
        if len(first) >= len(second):
            first += second
            _del(self, a + 1)
        else:
            second[0:0] = first
            _del(self, a)
        sizes = self.sizes
        sizes[a] = sizes[a] + sizes[a + 1] - _LP_EMPTY
        del sizes[a + 1]

    def _merge_around(self, c: int) -> None:
        """_quicklistMergeNodes around block ``c``."""
        if self._allow_merge(c - 2, c - 1):
            self._merge(c - 2)
            c -= 1
        if self._allow_merge(c + 1, c + 2):
            self._merge(c + 1)
        if self._allow_merge(c - 1, c):
            self._merge(c - 1)
            c -= 1
        if self._allow_merge(c, c + 1):
            self._merge(c)

    def insert_at(self, i: int, x: bytes, after: bool) -> None:
        """Insert ``x`` before or ``after`` the element at ``i`` (0 <= i < size), choosing the
        node as quicklist.c's _quicklistInsert does (LINSERT)."""
        b, off = self._locate(i)
        blk = _get(self, b)
        sizes = self.sizes
        n = len(x)
        es = entry_size(x)
        self.size += 1
        if self._allow_insert(b, n):
            at = off + 1 if after else off
            blk[at:at] = (x,)
            sizes[b] += es
            return
        at_tail = after and off == len(blk) - 1
        at_head = not after and off == 0
        if at_tail and self._allow_insert(b + 1, n):
            _get(self, b + 1)[:0] = (x,)
            sizes[b + 1] += es
        elif at_head and self._allow_insert(b - 1, n):
            _get(self, b - 1).append(x)
            sizes[b - 1] += es
        elif at_tail or at_head:
            at = b + 1 if after else b
            _insert_block(self, at, [x])
            sizes.insert(at, _LP_EMPTY + es)
        else:
            # Split the full node at the element; the new node takes ``x`` next to it.
            if after:
                new = blk[off + 1 :]
                del blk[off + 1 :]
                moved = entries_size(new)
                new[:0] = (x,)
                at, center = b + 1, b
            else:
                new = blk[:off]
                del blk[:off]
                moved = entries_size(new)
                new.append(x)
                at, center = b, b + 1
            sizes[b] -= moved
            _insert_block(self, at, new)
            sizes.insert(at, _LP_EMPTY + moved + es)
            self._merge_around(center)

    def insert(self, i: Any, x: bytes) -> None:
        """``list.insert`` semantics on elements: ``x`` goes before position ``i``."""
        i = operator.index(i)
        size = self.size
        if i < 0:
            i = max(i + size, 0)
        if i >= size:
            self.append(x)
        else:
            self.insert_at(i, x, False)

    def remove(self, x: bytes) -> None:
        if not self.lrem(x, 1):
            raise ValueError(f"{x!r} is not in QuickList")

    def lrem(self, x: bytes, count: int) -> int:
        """LREM: remove the first ``count`` ``x`` from the head (count > 0), the last -count
        from the tail (count < 0), or all (0); returns how many. Emptied nodes are dropped,
        nodes are not merged (as quicklistDelEntry)."""
        limit = abs(count) if count else self.size
        es = entry_size(x)
        sizes = self.sizes
        removed = 0
        emptied = False
        nb = _nblocks(self)
        order = range(nb) if count >= 0 else range(nb - 1, -1, -1)
        for b in order:
            if removed >= limit:
                break
            blk = _get(self, b)
            if x not in blk:
                continue
            left = limit - removed
            hits = blk.count(x)
            if hits <= left:
                blk[:] = [y for y in blk if y != x]
                k = hits
            else:
                pos = [j for j, y in enumerate(blk) if y == x]
                drop = pos[:left] if count >= 0 else pos[-left:]
                for j in reversed(drop):
                    del blk[j]
                k = left
            removed += k
            sizes[b] -= k * es
            if not blk:
                emptied = True
        if emptied:
            keep = [j for j in range(nb) if _get(self, j)]
            _set(self, slice(None), [_get(self, j) for j in keep])
            self.sizes = [sizes[j] for j in keep]
        self.size -= removed
        return removed

    def delete_range(self, start: int, stop: int) -> None:
        """Delete elements ``start <= i < stop`` (clamped); whole blocks are dropped, partly
        covered ones cut, no merge (quicklistDelRange, LTRIM)."""
        start = max(start, 0)
        stop = min(stop, self.size)
        count = stop - start
        if count <= 0:
            return
        b, off = self._locate(start)
        sizes = self.sizes
        self.size -= count
        while count:
            blk = _get(self, b)
            n = len(blk)
            end = min(n, off + count)
            if off == 0 and end == n:
                _del(self, b)
                del sizes[b]
            else:
                cut = end - off
                if cut <= n - cut:
                    sizes[b] -= entries_size(blk[off:end])
                    del blk[off:end]
                else:
                    del blk[off:end]
                    sizes[b] = _LP_EMPTY + entries_size(blk)
                b += 1
            count -= end - off
            off = 0

    def trim(self, left: int, right: int) -> None:
        """Drop ``left`` elements from the head and ``right`` from the tail (LTRIM)."""
        if left:
            self.delete_range(0, left)
        if right:
            self.delete_range(self.size - right, self.size)

    def clear(self) -> None:
        _clear_blocks(self)
        self.sizes = []
        self.size = 0

    def reverse(self) -> None:
        list.reverse(self)
        for b in _blocks(self):
            b.reverse()
        self.sizes.reverse()

    def sort(self, *, key: Any = None, reverse: bool = False) -> None:
        items = sorted(self, key=key, reverse=reverse)
        self.clear()
        self.extend(items)

    # --- DEBUG OBJECT -----------------------------------------------------------------------

    def debug_fields(self) -> str:
        """DEBUG OBJECT's quicklist fields as Redis 7.0 prints them (debug.c), with a leading
        space. ql_compressed is 0: nodes are never compressed here."""
        nodes = _nblocks(self)
        avg = self.size / nodes if nodes else 0.0
        return (
            f" ql_nodes:{nodes} ql_avg_node:{avg:.2f} ql_listpack_max:{self.fill}"
            f" ql_compressed:0 ql_uncompressed_size:{sum(self.sizes)}"
        )

    def check(self) -> None:
        """Assert the invariants (tests): non-empty plain-list blocks of bytes, counts and
        listpack sizes consistent."""
        blocks = list(_blocks(self))
        assert all(type(b) is list and b for b in blocks), "empty or non-list block"
        assert all(type(x) is bytes for b in blocks for x in b), "non-bytes element"
        assert self.size == sum(map(len, blocks)), "size"
        assert self.sizes == [_LP_EMPTY + sum(map(entry_size, b)) for b in blocks], "sizes"


def _restore(fill: int, blocks: list[list[bytes]]) -> QuickList:
    """Unpickling: the same blocks and fill."""
    ql = QuickList()
    _extend_blocks(ql, blocks)
    ql.size = sum(map(len, blocks))
    ql.sizes = [_LP_EMPTY + entries_size(b) for b in blocks]
    ql._set_fill(fill)
    return ql
