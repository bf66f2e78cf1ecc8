"""The sorted set value: members with double scores, ordered by (score, member).

``ZSet`` *is* a ``dict`` member -> score (O(1) ZSCORE and membership) and keeps a ``SortedList``
of ``(score, member)`` tuples (``.index``) for everything ordered: rank, range by rank/score/lex
and counts are O(log n) bisections plus the size of the reply, never a sort.

Why a dict subclass rather than an object holding a dict: the snapshot child encodes the value
itself with msgspec, which walks a dict (subclass included) in C with borrowed references, so
writing a sorted set dirties no page of the parent's data (copy-on-write). A wrapper object would
need a Python hook per value, and every Python touch writes a reference count. The dict's own
mutating methods (``__setitem__``, ``pop``, ``update``...) bypass the index: change a ``ZSet``
only through the methods defined here.

Redis stores small sorted sets as a listpack and big ones as a skiplist. Both order the same
way, so only two things leak through and are kept here: OBJECT ENCODING (``big``: set once the
set outgrows ``zset-max-listpack-entries``/``-value``, and never cleared, as Redis 7.0 does not
convert back on deletion), and the listpack's storage of a score: an integral score is stored as
an integer, so ``-0`` reads back as ``0`` while the set is small. ``add`` reproduces that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

#: zset-max-listpack-entries / zset-max-listpack-value (redis.conf defaults); see ``set_limits``.
MAX_LISTPACK_ENTRIES = 128
MAX_LISTPACK_VALUE = 64


def set_limits(entries: int, value: int) -> None:
    """Apply zset-max-listpack-entries/-value (for CONFIG SET); affects later insertions."""
    global MAX_LISTPACK_ENTRIES, MAX_LISTPACK_VALUE
    MAX_LISTPACK_ENTRIES = entries
    MAX_LISTPACK_VALUE = value


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
        self.index: SortedList = SortedList()
        #: OBJECT ENCODING is "skiplist" (else "listpack").
        self.big = False

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> ZSet:
        """A new set holding ``scores`` (store commands, snapshot loading), with the encoding
        Redis picks for a freshly built set of that size."""
        z = cls()
        z.big = len(scores) > MAX_LISTPACK_ENTRIES or any(
            len(m) > MAX_LISTPACK_VALUE for m in scores
        )
        if not z.big:
            # The listpack stores integral scores as integers: -0 becomes 0.
            scores = {m: (s if s else 0.0) for m, s in scores.items()}
        dict.update(z, scores)
        z.index = SortedList((s, m) for m, s in scores.items())
        return z

    def copy(self) -> ZSet:  # type: ignore[override]
        z = ZSet()
        dict.update(z, self)
        z.index = self.index.copy()
        z.big = self.big
        return z

    def encoding(self) -> str:
        return "skiplist" if self.big else "listpack"

    # --- changes -----------------------------------------------------------------------

    def add(self, member: bytes, score: float) -> None:
        """Insert ``member`` or move it to ``score`` (never NaN)."""
        old = self.get(member)
        if (
            old is None
            and not self.big
            and (len(self) >= MAX_LISTPACK_ENTRIES or len(member) > MAX_LISTPACK_VALUE)
        ):
            self.big = True  # converted before the insertion, as zsetAdd does
        if not self.big and score == 0:
            score = 0.0
        if old is not None:
            if old == score:  # -0 and 0 too: Redis keeps the old one
                return
            self.index.remove((old, member))
        dict.__setitem__(self, member, score)
        self.index.add((score, member))

    def remove(self, member: bytes) -> bool:
        score = dict.pop(self, member, None)
        if score is None:
            return False
        self.index.remove((score, member))
        return True

    def delete_slice(self, lo: int, hi: int) -> int:
        """Remove the entries of ranks [lo, hi); returns how many."""
        if hi <= lo:
            return 0
        for _, m in self.index.islice(lo, hi):
            dict.__delitem__(self, m)
        del self.index[lo:hi]
        return hi - lo

    def pop_end(self, last: bool) -> tuple[float, bytes]:
        """Remove and return the lowest (highest with ``last``) entry."""
        score, member = self.index.pop(-1 if last else 0)
        dict.__delitem__(self, member)
        return score, member

    # --- ordered reads ------------------------------------------------------------------

    def rank(self, member: bytes) -> int | None:
        score = self.get(member)
        if score is None:
            return None
        return self.index.bisect_left((score, member))

    def slice(self, lo: int, hi: int, reverse: bool = False) -> Iterator[tuple[float, bytes]]:
        """Entries of ranks [lo, hi), ascending (or descending with ``reverse``)."""
        return self.index.islice(lo, hi, reverse)

    def score_lo(self, value: float, exclusive: bool) -> int:
        """Rank of the first entry with score >= value (> value if ``exclusive``)."""
        if exclusive:
            return self.index.bisect_right((value, TOP))
        return self.index.bisect_left((value,))

    def score_hi(self, value: float, exclusive: bool) -> int:
        """One past the rank of the last entry with score <= value (< if ``exclusive``)."""
        if exclusive:
            return self.index.bisect_left((value,))
        return self.index.bisect_right((value, TOP))

    def lex_lo(self, bound: LexBound) -> int:
        """Rank of the first member >= bound (> for an exclusive bound)."""
        if bound is MINUS or not self.index:
            return 0
        if bound is PLUS:
            return len(self.index)
        member, exclusive = bound
        if exclusive:
            return self._lex_search(member, lambda m: m <= member, self.index.bisect_right)
        return self._lex_search(member, lambda m: m < member, self.index.bisect_left)

    def lex_hi(self, bound: LexBound) -> int:
        """One past the rank of the last member <= bound (< for an exclusive bound)."""
        if bound is MINUS or not self.index:
            return 0
        if bound is PLUS:
            return len(self.index)
        member, exclusive = bound
        if exclusive:
            return self._lex_search(member, lambda m: m < member, self.index.bisect_left)
        return self._lex_search(member, lambda m: m <= member, self.index.bisect_right)

    def _lex_search(
        self, member: bytes, before: Callable[[bytes], bool], bisect: Callable[[Any], int]
    ) -> int:
        """The first rank whose member is not ``before`` the bound. Lex ranges are meant for
        sets whose scores are all equal (as Redis documents): then the members are in order and
        one bisection finds it, O(log n). Otherwise this binary-searches the members by rank
        (O(log^2 n)), which is what Redis's skiplist walk amounts to, and agrees with its
        listpack scan whenever member order follows score order."""
        index = self.index
        first = index[0][0]
        if first == index[-1][0]:
            return bisect((first, member))
        lo, hi = 0, len(index)
        while lo < hi:
            mid = (lo + hi) // 2
            if before(index[mid][1]):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def entries(self) -> Iterable[tuple[float, bytes]]:
        """All (score, member) entries in order."""
        return self.index
