"""The value of a Redis set: ``SetValue``, a ``dict`` whose keys are the members (``bytes``) and
whose values are all ``None``.

Why not a Python ``set``: a snapshot is written by a forked child (see minikv/persistence), and
every page the child writes to is copied by the kernel. msgspec's MessagePack encoder walks a
``dict`` (subclasses included) with borrowed references, so it writes nothing to the pages
holding the members, whereas it iterates a ``set`` with new references, increfing (so dirtying)
every member. A ``SetValue`` is encoded natively as a map with nil values; that is how the
snapshot format recognises a set.

Members are added with ``s[m] = None`` (or ``add``), removed with ``s.pop(m, None)`` (or
``discard``); ``m in s`` is the membership test. A new set is ``SetValue.fromkeys(members)``;
``copy()`` (and ``SetValue(other)``, which clones the table in C) returns a ``SetValue``, never
the plain dict ``dict.copy`` would. For set algebra, ``s.keys()`` views support ``& | -`` (plain
``set`` results); minikv.commands.sets builds its results as SetValues directly instead.

A SetValue is a ``dict``, so the reply encoder (minikv.protocol) would send it as a RESP map:
replies listing members must be built from it (a ``set``, a ``list`` or pre-encoded ``Raw``).

Random members: a dict has no O(1) access by position, so picking a uniformly random member
walks the dict up to that position in C (from whichever end is nearer), which is O(N) where
Redis is O(1). Walking a dict's compact entry table is a few nanoseconds per member (faster than
iterating a ``set``); deleted entries are skipped but still walked until the dict is resized.
"""

from __future__ import annotations

import random
from itertools import islice

# Picking k of n members: walking to each pick costs about 5 ns per member passed plus ~1 us per
# pick (an islice, the sort); ``list(s)`` about 9 ns per member, then little per pick. Measured
# on 100k members the walk wins below about n/150 picks; with fewer members per pick than this,
# the keys are copied to a list.
_WALK_MIN_MEMBERS_PER_PICK = 128


class SetValue(dict[bytes, None]):
    """A set of ``bytes`` members, stored as ``{member: None}``."""

    __slots__ = ()

    def copy(self) -> SetValue:
        # dict.copy would return a plain dict; SetValue(self) clones the table in C.
        return SetValue(self)

    def add(self, member: bytes) -> None:
        self[member] = None

    def discard(self, member: bytes) -> None:
        self.pop(member, None)

    def __repr__(self) -> str:
        return f"SetValue({list(self)!r})"

    # --- random members ------------------------------------------------------------------------

    def random_member(self) -> bytes:
        """A uniformly random member (the set must not be empty)."""
        n = len(self)
        i = random.randrange(n)
        if i < n // 2:
            return next(islice(self, i, None))
        return next(islice(reversed(self), n - 1 - i, None))

    def _at(self, positions: list[int]) -> list[bytes]:
        """The members at ``positions`` (ascending, repeats allowed) in iteration order, walking
        the dict once."""
        out: list[bytes] = []
        it = iter(self)
        pos = 0  # the position of the member ``next(it)`` returns
        member = b""
        for p in positions:
            if p >= pos:  # else a repeat of the previous position
                member = next(islice(it, p - pos, None))
                pos = p + 1
            out.append(member)
        return out

    def sample(self, count: int) -> list[bytes]:
        """``count`` distinct random members, ``0 < count < len(self)``, in iteration order (the
        caller shuffles them if the order must be random too)."""
        n = len(self)
        if count * _WALK_MIN_MEMBERS_PER_PICK < n:
            return self._at(sorted(random.sample(range(n), count)))
        members = list(self)
        return [members[i] for i in sorted(random.sample(range(n), count))]

    def choices(self, k: int) -> list[bytes]:
        """``k`` independent uniformly random members (repetitions allowed), in random order."""
        n = len(self)
        if k * _WALK_MIN_MEMBERS_PER_PICK >= n:
            return random.choices(list(self), k=k)
        # Sorted picks walk the dict once; shuffling them back gives the distribution of k
        # independent draws (which is the same for every order of a given multiset).
        out = self._at(sorted(random.choices(range(n), k=k)))
        random.shuffle(out)
        return out
