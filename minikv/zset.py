"""The sorted set value: members with double scores, ordered by (score, member).

``ZSet`` *is* a ``dict`` member -> score (O(1) ZSCORE and membership) and keeps an index of the
members in order (``.index``) for everything ordered: rank, range by rank/score/lex and counts
are bisections plus the size of the reply, never a sort.

Why a dict subclass rather than an object holding a dict: the snapshot child encodes the value
itself with msgspec, which walks a dict (subclass included) in C with borrowed references, so
writing a sorted set dirties no page of the parent's data (copy-on-write). A wrapper object would
need a Python hook per value, and every Python touch writes a reference count. The dict's own
mutating methods (``__setitem__``, ``pop``, ``update``...) bypass the index: change a ``ZSet``
only through the methods defined here.

Redis stores small sorted sets as a listpack (one flat sorted array) and big ones as a skiplist;
so does this, for memory. While ``big`` is False (the set has never outgrown
``zset-max-listpack-entries``/``-value``) the index is a plain ``list`` of the members in order,
no more than 8 bytes a member: bisections read the scores from the dict (C's ``bisect`` with
``key=`` the dict lookup), and an insertion or removal moves the pointers after it, O(n) like
the listpack's, with n at most 128 by default. Once ``big`` it is a ``SortedList`` of
``(score, member)`` tuples: O(log n) everywhere, for some 70 bytes more a member and a few
hundred a set (a 2-member set with its key takes about 460 bytes instead of 990, a 100-member
one 13.5 kB instead of 20). ``to_skiplist`` converts.

The keyspace does not hold a small set as a ``ZSet`` at all but as a ``PackedZSet``: one
MessagePack array of the members and scores in order (``[member, score, member, score...]``) in
one ``bytes``, inside a tiny immutable msgspec Struct, about 100 bytes for a 2-member set where the
``ZSet`` takes some 370 (Redis's listpack is that flat array too). Commands decode it into a
``ZSet`` (``unpack``, in C but for a few slices) and a write stores the result packed again
(``stored``), so every rule stays written once, in ``ZSet``; the few hottest reads (ZSCORE,
ZCARD...) read the array directly. A set that grows past the thresholds becomes a ``ZSet`` with
``big`` set and stays one; a ``ZSet`` in the keyspace is always big.

Two more things of the encodings leak through and are kept: OBJECT ENCODING (``big`` is never
cleared, as Redis 7.0 does not convert back on deletion), and the listpack's storage of a score:
an integral score is stored as an integer, so ``-0`` reads back as ``0`` while the set is small.
``add`` reproduces that.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import msgspec
from sortedcontainers import SortedList

from minikv import limits

# zset-max-listpack-entries / -value (``limits.current``) are read on each insertion: a set
# past either becomes a big one (Redis's listpack -> skiplist) and never goes back.


class _Top:
    """Sorts after every member: ``(score, TOP)`` bounds all entries with that score."""

    __slots__ = ()

    def __lt__(self, other: Any) -> bool:
        return False

    def __gt__(self, other: Any) -> bool:
        return other is not self

    def __eq__(self, other: Any) -> bool:
        return other is self

    def __hash__(self) -> int:
        return 0


TOP = _Top()
_second = itemgetter(1)

#: A lex range end: ``MINUS`` ("-"), ``PLUS`` ("+") or ``(member, exclusive)``.
LexBound = Any
MINUS = "-"
PLUS = "+"


class ZSet(dict[bytes, float]):
    """A sorted set: member -> score. Mutate it only through the methods below (they keep the
    dict and the index in step)."""

    __slots__ = ("big", "index")

    def __init__(self) -> None:
        super().__init__()
        #: Small (listpack) sets: a plain list of the members in (score, member) order, whose
        #: scores are read from the dict. Big (skiplist) sets: a ``SortedList`` of
        #: ``(score, member)`` tuples. ``to_skiplist`` switches, when ``big`` becomes True.
        self.index: Any = []
        #: OBJECT ENCODING is "skiplist" (else "listpack").
        self.big = False

    @classmethod
    def many_from_scores(cls, all_scores: list[dict[bytes, float]]) -> list[ZSet]:
        """``[from_scores(s) for s in all_scores]``, for loading a snapshot: when every set is
        small and has no zero score (the usual case) it is built in C-level passes over all of
        them at once (each set's index is its ``sorted`` (score, member) pairs' members), with
        no Python call per set; otherwise one ``from_scores`` each."""
        lim = limits.current
        if (
            not all_scores
            or max(map(len, all_scores)) > lim.zset_max_listpack_entries
            or max(map(len, chain.from_iterable(all_scores)), default=0)
            > lim.zset_max_listpack_value
            or 0.0 in chain.from_iterable(map(dict.values, all_scores))  # -0.0 included
        ):
            return list(map(cls.from_scores, all_scores))
        # dict.__new__ leaves __init__ out; both slots are set below.
        zs = list(map(dict.__new__, repeat(cls, len(all_scores))))
        deque(map(dict.update, zs, all_scores), 0)
        pairs = map(sorted, map(zip, map(dict.values, all_scores), all_scores))
        indexes = map(list, map(map, repeat(_second), pairs))
        deque(map(setattr, zs, repeat("index"), indexes), 0)
        deque(map(setattr, zs, repeat("big"), repeat(False)), 0)
        return zs

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> ZSet:
        """A new set holding ``scores`` (store commands, snapshot loading), with the encoding
        Redis picks for a freshly built set of that size."""
        z = cls()
        lim = limits.current
        if len(scores) > lim.zset_max_listpack_entries or any(
            len(m) > lim.zset_max_listpack_value for m in scores
        ):
            dict.update(z, scores)
            z.index = SortedList((s, m) for m, s in scores.items())
            z.big = True
            return z
        # The listpack stores integral scores as integers: -0 becomes 0.
        dict.update(z, {m: (s if s else 0.0) for m, s in scores.items()})
        # Two stable sorts give (score, member) order, in C, in a list of exactly this size.
        index = sorted(z)
        index.sort(key=z.__getitem__)
        z.index = index
        return z

    def copy(self) -> ZSet:  # type: ignore[override]
        z = ZSet()
        dict.update(z, self)
        z.index = self.index.copy()
        z.big = self.big
        return z

    def encoding(self) -> str:
        return "skiplist" if self.big else "listpack"

    def to_skiplist(self) -> None:
        """Convert to the skiplist encoding, for good (Redis 7.0 never converts back)."""
        if not self.big:
            get = self.__getitem__
            self.index = SortedList([(get(m), m) for m in self.index])
            self.big = True

    def _small_rank(self, score: float, member: bytes) -> int:
        """A small set's rank of (score, member), present or not (``member`` itself must be
        absent from the list or have ``score`` in the dict). Bisections keyed by the dict's
        scores find the run of entries with that score; within it members are in byte order.
        They run in C."""
        index = self.index
        get = self.__getitem__
        lo = bisect_left(index, score, key=get)
        if lo == len(index):
            return lo
        first = index[lo]
        if first >= member or get(first) != score:
            return lo  # most often: ``member`` itself, or no other member with this score
        hi = bisect_right(index, score, lo + 1, key=get)
        return bisect_left(index, member, lo + 1, hi)

    # --- changes -----------------------------------------------------------------------

    def add(self, member: bytes, score: float) -> None:
        """Insert ``member`` or move it to ``score`` (never NaN)."""
        old = self.get(member)
        if not self.big:
            if old is None:
                lim = limits.current
                if (
                    len(self) >= lim.zset_max_listpack_entries
                    or len(member) > lim.zset_max_listpack_value
                ):
                    self.to_skiplist()  # converted before the insertion, as zsetAdd does
                    dict.__setitem__(self, member, score)
                    self.index.add((score, member))
                    return
            else:
                if old == score:  # -0 and 0 too: Redis keeps the old one
                    return
                del self.index[self._small_rank(old, member)]
            if score == 0:
                score = 0.0  # the listpack stores an integral score as an integer: no -0
            dict.__setitem__(self, member, score)
            self.index.insert(self._small_rank(score, member), member)
            return
        if old is not None:
            if old == score:
                return
            self.index.remove((old, member))
        dict.__setitem__(self, member, score)
        self.index.add((score, member))

    def remove(self, member: bytes) -> bool:
        score = self.get(member)
        if score is None:
            return False
        if self.big:
            self.index.remove((score, member))
        else:
            del self.index[self._small_rank(score, member)]
        dict.__delitem__(self, member)
        return True

    def delete_slice(self, lo: int, hi: int) -> int:
        """Remove the entries of ranks [lo, hi); returns how many."""
        if hi <= lo:
            return 0
        for m in self.members(lo, hi):
            dict.__delitem__(self, m)
        del self.index[lo:hi]
        return hi - lo

    def pop_end(self, last: bool) -> tuple[float, bytes]:
        """Remove and return the lowest (highest with ``last``) entry."""
        if self.big:
            score, member = self.index.pop(-1 if last else 0)
            dict.__delitem__(self, member)
            return score, member
        member = self.index.pop(-1 if last else 0)
        return dict.pop(self, member), member

    # --- ordered reads ------------------------------------------------------------------

    def rank(self, member: bytes) -> int | None:
        score = self.get(member)
        if score is None:
            return None
        if self.big:
            return self.index.bisect_left((score, member))
        return self._small_rank(score, member)

    def members(self, lo: int, hi: int, reverse: bool = False) -> list[bytes]:
        """The members of ranks [lo, hi), ascending (or descending with ``reverse``); their
        scores are ``self[m]``."""
        if self.big:
            return [m for _, m in self.index.islice(lo, hi, reverse)]
        ms: list[bytes] = self.index[lo:hi]
        if reverse:
            ms.reverse()
        return ms

    def entries(self, lo: int, hi: int, reverse: bool = False) -> Iterable[tuple[float, bytes]]:
        """The entries of ranks [lo, hi) as ``members`` orders them, as (score, member)."""
        if self.big:
            return self.index.islice(lo, hi, reverse)
        ms = self.members(lo, hi, reverse)
        return zip(map(self.__getitem__, ms), ms, strict=True)

    def member_at(self, rank: int) -> bytes:
        """The member of rank ``rank`` (0 <= rank < len)."""
        return self.index[rank][1] if self.big else self.index[rank]

    def score_lo(self, value: float, exclusive: bool) -> int:
        """Rank of the first entry with score >= value (> value if ``exclusive``)."""
        if not self.big:
            if exclusive:
                return bisect_right(self.index, value, key=self.__getitem__)
            return bisect_left(self.index, value, key=self.__getitem__)
        if exclusive:
            return self.index.bisect_right((value, TOP))
        return self.index.bisect_left((value,))

    def score_hi(self, value: float, exclusive: bool) -> int:
        """One past the rank of the last entry with score <= value (< if ``exclusive``)."""
        if not self.big:
            if exclusive:
                return bisect_left(self.index, value, key=self.__getitem__)
            return bisect_right(self.index, value, key=self.__getitem__)
        if exclusive:
            return self.index.bisect_left((value,))
        return self.index.bisect_right((value, TOP))

    def lex_lo(self, bound: LexBound) -> int:
        """Rank of the first member >= bound (> for an exclusive bound)."""
        if bound is MINUS or not self:
            return 0
        if bound is PLUS:
            return len(self)
        member, exclusive = bound
        return self._lex_search(member, exclusive)

    def lex_hi(self, bound: LexBound) -> int:
        """One past the rank of the last member <= bound (< for an exclusive bound)."""
        if bound is MINUS or not self:
            return 0
        if bound is PLUS:
            return len(self)
        member, exclusive = bound
        return self._lex_search(member, not exclusive)

    def _lex_search(self, member: bytes, after: bool) -> int:
        """The first rank whose member is > ``member`` (``after``) or >= ``member``. Lex ranges
        are meant for sets whose scores are all equal (as Redis documents): then the members
        are in order and one bisection finds it, O(log n). Otherwise this binary-searches the
        members by rank (O(log^2 n) for a big set), which is what Redis's skiplist walk amounts
        to, and agrees with its listpack scan whenever member order follows score order."""
        index = self.index
        if self.big:
            first = index[0][0]
            if first == index[-1][0]:
                return (
                    index.bisect_right((first, member))
                    if after
                    else index.bisect_left((first, member))
                )
        elif self[index[0]] == self[index[-1]]:
            return bisect_right(index, member) if after else bisect_left(index, member)
        at = self.member_at
        lo, hi = 0, len(index)
        while lo < hi:
            mid = (lo + hi) // 2
            m = at(mid)
            if m < member or (after and m == member):
                lo = mid + 1
            else:
                hi = mid
        return lo


_pack = msgspec.msgpack.Encoder().encode
_new_dict = dict.__new__
_update = dict.update
#: A packed set's array, checked (members bin, scores float) as it is decoded.
_unpack = msgspec.msgpack.Decoder(list[bytes | float]).decode


class PackedZSet(msgspec.Struct, array_like=True, gc=False, frozen=True, tag="zset"):
    """A small sorted set as the keyspace holds it (see the module docstring): ``blob`` is the
    MessagePack array ``[member, score, ...]`` in (score, member) order, at most
    ``zset-max-listpack-entries`` long (a snapshot stores the Struct itself: ``["zset",
    blob]``). Never empty, never changed: a write stores a new one (``stored``)."""

    blob: bytes

    @classmethod
    def pack(cls, z: ZSet) -> PackedZSet:
        """The small ``z`` (not ``big``, not empty) packed."""
        index = z.index
        flat: list[Any] = index + index
        flat[::2] = index
        flat[1::2] = list(map(z.__getitem__, index))
        return cls(_pack(flat))

    def flat(self) -> list[Any]:
        """``[member, score, ...]`` in order: a new list."""
        return _unpack(self.blob)

    def unpack(self) -> ZSet:
        """The set as a (small) ``ZSet`` of its own, to read or to change."""
        flat = _unpack(self.blob)
        members = flat[::2]
        z = _new_dict(ZSet)  # both slots set here: no __init__ (a Python call) to run
        _update(z, zip(members, flat[1::2], strict=True))
        z.index = members
        z.big = False
        return z

    def __len__(self) -> int:
        # The array's MessagePack header: fixarray (up to 15 items), array 16 or array 32.
        b = self.blob
        head = b[0]
        if head < 0xDC:
            return (head & 0x0F) // 2
        return int.from_bytes(b[1:3] if head == 0xDC else b[1:5]) // 2

    def get(self, member: bytes) -> float | None:
        """The score of ``member`` (``dict.get``'s, for ZSCORE): a scan of the array, in C (a
        score never equals a member)."""
        flat = _unpack(self.blob)
        try:
            return flat[flat.index(member) + 1]  # type: ignore[no-any-return]
        except ValueError:
            return None


def stored(z: ZSet) -> ZSet | PackedZSet:
    """What the keyspace holds for the non-empty ``z``: a small set packed, a big one as it is."""
    return z if z.big else PackedZSet.pack(z)
