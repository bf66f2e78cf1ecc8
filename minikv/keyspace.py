"""The data: databases of keys, their values and their expiry times. Knows nothing of sockets.

Each database is split into ``NSHARDS`` plain dicts chosen by ``hash(key)``. One big dict would
be simpler, but a forked snapshot child can encode a small dict in one C call that never touches
the reference counts of its keys and values (``PyDict_Next``), and so never copies their pages;
walking one big dict from Python would copy nearly all of them (see docs on copy-on-write). The
cost is one ``hash()`` and an index per access.

Values are stored as ``bytes`` for strings (never ``str``: encoding a ``str`` writes a cached
UTF-8 copy into the object). Expiry deadlines are absolute unix milliseconds in a second dict per
shard, as Redis keeps a separate ``expires`` dict.

Expiry is lazy (a read of an expired key deletes it) plus an active cycle (``active_expire``)
that samples keys with a deadline, Redis-style, so keys nobody reads again are still freed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

NSHARDS = 1024
_MASK = NSHARDS - 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Db:
    """One numbered database."""

    __slots__ = ("_expire_cursor", "data", "expires", "id", "keyspace", "watched")

    def __init__(self, keyspace: Keyspace, dbid: int) -> None:
        self.id = dbid
        self.keyspace = keyspace
        self.data: list[dict[bytes, Any]] = [{} for _ in range(NSHARDS)]
        self.expires: list[dict[bytes, int]] = [{} for _ in range(NSHARDS)]
        # key -> set of clients WATCHing it; empty unless WATCH is in use.
        self.watched: dict[bytes, set[Any]] = {}
        self._expire_cursor = 0

    # --- reads ----------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The live value of ``key`` or None; deletes the key if its deadline has passed."""
        h = hash(key) & _MASK
        v = self.data[h].get(key)
        if v is not None:
            exp = self.expires[h]
            if exp and key in exp and exp[key] <= now_ms():
                self._expire_key(h, key)
                return None
        return v

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def get_expire(self, key: bytes) -> int | None:
        """Deadline in unix ms of a live key, or None (no key, or no deadline)."""
        h = hash(key) & _MASK
        return self.expires[h].get(key)

    def __len__(self) -> int:
        return sum(map(len, self.data))

    def expires_count(self) -> int:
        return sum(map(len, self.expires))

    def keys(self) -> Iterator[bytes]:
        """All keys, expired ones included (callers check with ``get`` when it matters)."""
        for shard in self.data:
            yield from shard

    def shard_keys(self, shard: int) -> list[bytes]:
        return list(self.data[shard])

    def live_keys(self) -> list[bytes]:
        now = now_ms()
        out = []
        for shard, exp in zip(self.data, self.expires, strict=True):
            if exp:
                out.extend(k for k in shard if not (k in exp and exp[k] <= now))
            else:
                out.extend(shard)
        return out

    def random_key(self) -> bytes | None:
        """A random live key, or None if the database is empty."""
        total = len(self)
        for _ in range(100):
            if total == 0:
                return None
            # Pick a shard weighted by size, then a key in it.
            i = random.randrange(total)
            for shard in self.data:
                n = len(shard)
                if i < n:
                    key = next(islice(iter(shard), i, None))
                    break
                i -= n
            if self.get(key) is not None:
                return key
            total = len(self)
        return None

    # --- writes ----------------------------------------------------------

    def set(
        self, key: bytes, value: Any, expire_at: int | None = None, keepttl: bool = False
    ) -> None:
        """Store ``value``; drops any deadline unless ``keepttl`` or a new ``expire_at``."""
        h = hash(key) & _MASK
        self.data[h][key] = value
        if expire_at is not None:
            self.expires[h][key] = expire_at
        elif not keepttl:
            exp = self.expires[h]
            if exp:
                exp.pop(key, None)
        self.touched(key)

    def replace_value(self, key: bytes, value: Any) -> None:
        """Overwrite the value of an existing key, keeping its deadline (APPEND, INCR...)."""
        self.data[hash(key) & _MASK][key] = value
        self.touched(key)

    def delete(self, key: bytes) -> bool:
        h = hash(key) & _MASK
        if self.data[h].pop(key, None) is None:
            return False
        exp = self.expires[h]
        if exp:
            exp.pop(key, None)
        self.touched(key)
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[hash(key) & _MASK][key] = when_ms
        self.touched(key)

    def persist(self, key: bytes) -> bool:
        if self.expires[hash(key) & _MASK].pop(key, None) is None:
            return False
        self.touched(key)
        return True

    def clear(self) -> int:
        n = len(self)
        for d in self.data:
            d.clear()
        for d in self.expires:
            d.clear()
        if self.watched:
            for clients in list(self.watched.values()):
                for c in clients:
                    c.watch_dirty = True
        return n

    def touched(self, key: bytes) -> None:
        """A key changed: WATCHers' transactions must fail (Redis's touchWatchedKey)."""
        w = self.watched
        if w:
            clients = w.get(key)
            if clients:
                for c in clients:
                    c.watch_dirty = True

    def _expire_key(self, h: int, key: bytes) -> None:
        self.data[h].pop(key, None)
        self.expires[h].pop(key, None)
        self.keyspace.stat_expired_keys += 1
        self.touched(key)

    # --- active expiry ----------------------------------------------------------

    def active_expire_round(self, now: int, sample: int) -> tuple[int, int]:
        """Look at up to ``sample`` keys with a deadline; delete the expired ones.

        Keys are visited round-robin: each shard's ``expires`` dict is consumed from its front,
        and a key still alive is moved to the back, so the next round sees other keys (dicts
        give no random access; rotation gives the same coverage as Redis's random sampling).
        Returns (sampled, expired).
        """
        sampled = expired = 0
        expires = self.expires
        for _ in range(NSHARDS):
            if sampled >= sample:
                break
            h = self._expire_cursor
            exp = expires[h]
            if exp:
                take = min(sample - sampled, len(exp))
                for key in list(islice(exp, take)):
                    sampled += 1
                    deadline = exp.pop(key)
                    if deadline <= now:
                        self.data[h].pop(key, None)
                        self.keyspace.stat_expired_keys += 1
                        self.touched(key)
                        expired += 1
                    else:
                        exp[key] = deadline
            self._expire_cursor = (h + 1) & _MASK
        return sampled, expired


class Keyspace:
    """All databases plus the counters that persistence and INFO read."""

    def __init__(self, databases: int = 16) -> None:
        self.dbs = [Db(self, i) for i in range(databases)]
        self.dirty = 0  # changes since the last successful save
        self.stat_expired_keys = 0
        self._expire_db = 0

    def flushall(self) -> int:
        return sum(db.clear() for db in self.dbs)

    def swap(self, a: int, b: int) -> None:
        da, db_ = self.dbs[a], self.dbs[b]
        for attr in ("data", "expires"):
            va, vb = getattr(da, attr), getattr(db_, attr)
            setattr(da, attr, vb)
            setattr(db_, attr, va)
        for d in (da, db_):
            for clients in list(d.watched.values()):
                for c in clients:
                    c.watch_dirty = True

    def active_expire_cycle(
        self, time_limit_s: float, clock: Callable[[], float] = time.monotonic
    ) -> int:
        """Redis's active expire cycle: per database, rounds of ~20 sampled keys, repeating
        while more than 25 % of a round was expired, all within ``time_limit_s``."""
        start = clock()
        total = 0
        ndb = len(self.dbs)
        for _ in range(ndb):
            db = self.dbs[self._expire_db]
            self._expire_db = (self._expire_db + 1) % ndb
            while True:
                sampled, expired = db.active_expire_round(now_ms(), 20)
                total += expired
                if sampled == 0 or expired * 4 <= sampled:
                    break
                if clock() - start > time_limit_s:
                    return total
            if clock() - start > time_limit_s:
                break
        return total
