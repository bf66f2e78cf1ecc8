"""The data: databases of keys, their values and their expiry times. Knows nothing of sockets.

Each database is split into ``NSHARDS`` plain dicts chosen by ``hash(key)``. One big dict would
be simpler, but a forked snapshot child can encode a small dict in one C call that never touches
the reference counts of its keys and values (``PyDict_Next``), and so never copies their pages;
walking one big dict from Python would copy nearly all of them (see docs on copy-on-write). The
cost is one ``hash()`` and an index per access.

Values are stored as ``bytes`` for strings (never ``str``: encoding a ``str`` writes a cached
UTF-8 copy into the object). Expiry deadlines are absolute unix milliseconds in a second dict per
shard, as Redis keeps a separate ``expires`` dict.

Expiry is lazy (a read of an expired key deletes it) plus an active cycle
(``Keyspace.active_expire_cycle``) that samples keys with a deadline, Redis-style, so keys
nobody reads again are still freed.

What a value's Redis type and encoding are is ``minikv.valuetypes``'s business; the keyspace
stores values without looking at them.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

from minikv import native, notify
from minikv.eviction import NO_TOUCH, TOUCH_LRU, Memory, lru_clock
from minikv.propagation import Propagation
from minikv.stream import Stream

NSHARDS = 1024
_MASK = NSHARDS - 1


_clock_stopped = False


def now_ms() -> int:
    """The time expiry deadlines are compared with, unix ms. While a log is replayed
    (``clock_stopped``) it is 0: nothing expires during the load, as in Redis, so a command
    later in the log still finds the key it changed; the active cycle expires them after."""
    if _clock_stopped:
        return 0
    return time.time_ns() // 1_000_000


@contextlib.contextmanager
def clock_stopped() -> Iterator[None]:
    global _clock_stopped
    old, _clock_stopped = _clock_stopped, True
    try:
        yield
    finally:
        _clock_stopped = old


class Db:
    """One numbered database."""

    __slots__ = (
        "_expire_cursor",
        "access",
        "blocking_keys",
        "data",
        "expires",
        "id",
        "keyspace",
        "tracking",
        "used",
        "watched",
    )

    def __init__(self, keyspace: Keyspace, dbid: int) -> None:
        self.id = dbid
        self.keyspace = keyspace
        self.data: list[dict[bytes, Any]] = [{} for _ in range(NSHARDS)]
        self.expires: list[dict[bytes, int]] = [{} for _ in range(NSHARDS)]
        # key -> its last access: the LRU clock or the LFU value (minikv.eviction); a key
        # not in it was not touched since the server started (or loaded it).
        self.access: list[dict[bytes, int]] = [{} for _ in range(NSHARDS)]
        # The bytes each shard's keys hold, counted while maxmemory is set (minikv.eviction).
        self.used: list[int] = [0] * NSHARDS
        # key -> set of clients WATCHing it; empty unless WATCH is in use.
        self.watched: dict[bytes, set[Any]] = {}
        # key -> clients blocked on it (BLPOP...), in arrival order; see minikv.blocking.
        self.blocking_keys: dict[bytes, dict[Any, None]] = {}
        self._expire_cursor = 0
        # minikv.tracking.Tracking while some client tracks keys (CLIENT TRACKING), else None.
        self.tracking: Any = None

    # --- reads ----------------------------------------------------------

    def get(self, key: bytes) -> Any:
        """The live value of ``key`` or None; deletes the key if its deadline has passed."""
        h = hash(key) & _MASK
        v = self.data[h].get(key)
        if v is not None:
            exp = self.expires[h]
            if exp and key in exp and exp[key] < now_ms():
                self._expire_key(h, key)
                return None
        return v

    def read(self, key: bytes, keymiss: bool = True, touch: bool = True) -> Any:
        """``get`` for a key a command reads (Redis's lookupKeyRead): counted as a hit or a
        miss in INFO's keyspace_hits / keyspace_misses, and a miss is a ``keymiss`` event for
        ``NotifyingDb`` unless ``keymiss`` is False (OBJECT's LOOKUP_NONOTIFY), and the key's
        LRU/LFU record is updated unless ``touch`` is False (LOOKUP_NOTOUCH). The keys a
        write looks up to change use ``get``, as Redis's lookupKeyWrite.

        ``get``'s lookup is inlined (GET's hot path: the extra call cost ~10 % of GET's
        throughput at -P 16); the expiry itself is ``_expire_key``'s, as in ``get``."""
        h = hash(key) & _MASK
        v = self.data[h].get(key)
        if v is not None:
            exp = self.expires[h]
            if not (exp and key in exp and exp[key] < now_ms()):
                ks = self.keyspace
                ks.hits += 1
                if not touch:
                    pass
                elif ks.access == TOUCH_LRU:  # the LRU clock, inline: GET's hot path
                    self.access[h][key] = ks.lru_clock
                elif ks.access:
                    ks.memory.lfu_touch(self.access[h], key)
                return v
            self._expire_key(h, key)
        self.keyspace.misses += 1
        return None

    def access_value(self, key: bytes) -> int | None:
        """The key's access record (LRU clock or LFU value), None if never touched."""
        return self.access[hash(key) & _MASK].get(key)

    def set_access(self, key: bytes, value: int) -> None:
        """Set the key's access record (RESTORE ... IDLETIME / FREQ)."""
        self.access[hash(key) & _MASK][key] = value

    def touch(self, key: bytes) -> None:
        """An access that is not a ``read`` (a write, TOUCH): Redis's LRU/LFU update."""
        ks = self.keyspace
        if ks.access == TOUCH_LRU:
            self.access[hash(key) & _MASK][key] = ks.lru_clock
        elif ks.access:
            ks.memory.lfu_touch(self.access[hash(key) & _MASK], key, write=True)

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def get_expire(self, key: bytes) -> int | None:
        """Deadline in unix ms of a live key, or None (no key, or no deadline)."""
        h = hash(key) & _MASK
        return self.expires[h].get(key)

    def __len__(self) -> int:
        return _total_len(self.data)

    def expires_count(self) -> int:
        return _total_len(self.expires)

    def deadline_sample(self, now_ms: int, sample: int) -> tuple[int, int]:
        """(sum of the remaining ms, count) of the deadlines still in the future, shard by
        shard, stopping after the shard that brings the count to ``sample``."""
        return _deadline_sample(self.expires, now_ms, sample)

    def keys(self) -> Iterator[bytes]:
        """All keys, expired ones included (callers check with ``get`` when it matters)."""
        for shard in self.data:
            yield from shard

    def shard_keys(self, shard: int) -> list[bytes]:
        return list(self.data[shard])

    def live_keys(self, match: Callable[[bytes], bool] | None = None) -> list[bytes]:
        """Keys not past their deadline (not deleted: KEYS does not expire keys either),
        optionally only those ``match`` accepts."""
        now = now_ms()
        out: list[bytes] = []
        for shard, exp in zip(self.data, self.expires, strict=True):
            if not shard:
                continue
            keys = shard if match is None else filter(match, shard)
            if exp:
                out.extend(k for k in keys if not (k in exp and exp[k] < now))
            else:
                out.extend(keys)
        return out

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: whole shards from ``cursor`` on until ``count`` keys were seen.

        The cursor is a shard index and a key's shard never changes, so SCAN's guarantee holds
        (a key present for the whole iteration is returned, at least once — here exactly once)
        and the reply is never cut inside a shard. Limit: one call returns at least one whole
        shard (about dbsize/1024 keys) whatever COUNT says. Returned keys may be expired;
        the caller filters them through ``get``.
        """
        out: list[bytes] = []
        data = self.data
        while cursor < NSHARDS:
            shard = data[cursor]
            cursor += 1
            if shard:
                out.extend(shard)
                if len(out) >= count:
                    break
        return (0 if cursor >= NSHARDS else cursor), out

    def random_key(self) -> bytes | None:
        """A random live key, or None if the database is empty (expired picks are deleted)."""
        tries = 0
        while True:
            total = len(self)
            if total == 0:
                return None
            tries += 1
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
            if tries >= 100 and self.keyspace.replica_reads:
                # A replica deletes nothing: with only logically expired keys left the
                # loop would never end. Redis returns such a key then, too.
                return key

    # --- writes ----------------------------------------------------------
    #
    # The methods below only store. A write command reports each change through ``changed``
    # (the one change hook) once it has made it.

    def changed(self, key: bytes, event: str, n: int = 1, touch: bool = True) -> None:
        """The one change hook: a command changed ``key`` (``n`` changes, for the dirty count
        that save points read; 0 for a change Redis does not count, such as the deletion of a
        container a pop emptied).

        It tells WATCHers (their EXEC fails), clients blocked on the key (they may now be
        served) and, when ``notify-keyspace-events`` selects it, keyspace notification
        subscribers (``NotifyingDb``): ``event`` is the name Redis's notifications give the
        change ("set", "lpush", "del", "expire"...; ``minikv.notify.EVENT_CLASS``). What a
        command propagates (to an append-only file or replicas) is decided by the dispatcher
        from the command table's rule (``minikv.propagation``), not here.

        ``touch=False`` is for the changes Redis does not signal to WATCHers (a stream's
        consumer groups: XREADGROUP, XACK, XCLAIM, XGROUP).
        """
        ks = self.keyspace
        ks.dirty += n
        access = ks.access
        if access == TOUCH_LRU:  # ``touch`` inline: every write comes here
            self.access[hash(key) & _MASK][key] = ks.lru_clock
        elif access:
            self.touch(key)
        if touch and (self.watched or self.blocking_keys):  # skip the call: nobody to tell
            self.touched(key)

    def changed_keys(self, keys: Sequence[bytes], event: str) -> None:
        """``changed(key, event)`` for each of ``keys`` (MSET): one check for listeners."""
        self.keyspace.dirty += len(keys)
        if self.keyspace.access:
            for key in keys:
                self.touch(key)
        if self.watched or self.blocking_keys:
            for key in keys:
                self.touched(key)

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

    def set_many(self, args: list[bytes], start: int = 1) -> None:
        """``set`` for each key/value pair in ``args[start:]`` (MSET): one loop with no call per
        key, since this is MSET's whole cost."""
        data = self.data
        expires = self.expires
        for i in range(start, len(args), 2):
            key = args[i]
            h = hash(key) & _MASK
            data[h][key] = args[i + 1]
            exp = expires[h]
            if exp:
                exp.pop(key, None)

    def replace_value(self, key: bytes, value: Any) -> None:
        """Overwrite the value of an existing key, keeping its deadline (APPEND, INCR...)."""
        self.data[hash(key) & _MASK][key] = value

    def delete(self, key: bytes) -> bool:
        h = hash(key) & _MASK
        if self.data[h].pop(key, None) is None:
            return False
        exp = self.expires[h]
        if exp:
            exp.pop(key, None)
        self.access[h].pop(key, None)
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[hash(key) & _MASK][key] = when_ms

    def persist(self, key: bytes) -> bool:
        return self.expires[hash(key) & _MASK].pop(key, None) is not None

    def clear(self, tell_tracking: bool = True) -> int:
        """FLUSHDB: drop every key; returns how many there were (expired ones included).
        Tracking clients get one null invalidation (FLUSHALL sends one for all databases)."""
        if tell_tracking and self.tracking is not None:
            self.tracking.flushed()
        self.touch_all_watched(None)
        self.signal_deleted_streams(None)
        n = len(self)
        for d in self.data:
            d.clear()
        for d in self.expires:
            d.clear()
        for d in self.access:
            d.clear()
        if self.keyspace.memory.tracking:
            self.keyspace.memory.cleared(self)
        return n

    def replace_contents(self, new: Db) -> None:
        """Take ``new``'s keys in place of this database's (a replica swapping in the data it
        loaded beside the old): WATCHers and blocked clients are told as by SWAPDB."""
        self.touch_all_watched(new)
        self.signal_deleted_streams(new)
        if self.tracking is not None:
            self.tracking.flushed()
        self.data, self.expires = new.data, new.expires
        self._expire_cursor = 0
        self.signal_ready_keys()

    def touch_all_watched(self, replaced_with: Db | None) -> None:
        """This database is emptied (FLUSHDB) or swapped with ``replaced_with`` (SWAPDB): a
        WATCHed key that exists on either side changes, as Redis's touchAllWatchedKeysInDb."""
        if not self.watched:
            return
        for key, clients in self.watched.items():
            h = hash(key) & _MASK
            if key in self.data[h] or (replaced_with is not None and key in replaced_with.data[h]):
                for c in clients:
                    c.watch_dirty = True

    def touched(self, key: bytes) -> None:
        """A key changed: WATCHers' transactions must fail (Redis's touchWatchedKey), and
        clients blocked on it may now be served (Redis's signalKeyAsReady), tracking clients
        that may have cached it are told (Redis's trackingInvalidateKey)."""
        if self.tracking is not None:
            self.tracking.invalidate(key)
        w = self.watched
        if w:
            clients = w.get(key)
            if clients:
                for c in clients:
                    c.watch_dirty = True
        if self.blocking_keys and key in self.blocking_keys:
            self.keyspace.ready_keys[(self, key)] = None

    def signal_ready(self, key: bytes) -> None:
        """Clients blocked on ``key`` must look again though it did not change (a consumer
        group was destroyed: its blocked readers get an error)."""
        if self.blocking_keys and key in self.blocking_keys:
            self.keyspace.ready_keys[(self, key)] = None

    def signal_deleted_streams(self, replaced_with: Db | None) -> None:
        """This database is emptied or swapped with ``replaced_with``: a waited-on key that
        holds a stream now and will not after must wake its clients (a blocked XREADGROUP
        gets an error), as Redis's scanDatabaseForDeletedStreams. Raw lookups, as Redis's
        dictFind: a stream past its deadline still counts."""
        if not self.blocking_keys:
            return
        for key in list(self.blocking_keys):
            h = hash(key) & _MASK
            was = type(self.data[h].get(key)) is Stream
            stays = replaced_with is not None and type(replaced_with.data[h].get(key)) is Stream
            if was and not stays:
                self.keyspace.ready_keys[(self, key)] = None

    def signal_ready_keys(self) -> None:
        """Keys appeared without a write to them (SWAPDB): queue every waited-on key that
        exists now (Redis's scanDatabaseForReadyKeys)."""
        for key in self.blocking_keys:
            if self.get(key) is not None:
                self.keyspace.ready_keys[(self, key)] = None

    def _expire_key(self, h: int, key: bytes) -> None:
        if self.keyspace.replica_reads:
            # A replica hides the key from its clients but keeps it: the primary decides
            # when it expires and sends the DEL (its commands run with the clock stopped,
            # so they still see the key).
            return
        if self.keyspace.expire_paused:
            return  # CLIENT PAUSE: the key reads as gone but is kept (Redis 7)
        v = self.data[h].pop(key, None)
        self.expires[h].pop(key, None)
        self.access[h].pop(key, None)
        mem = self.keyspace.memory
        if mem.tracking and v is not None:
            mem.forget(self, h, key, v, True)
        self.expired(key)

    def evicted(self, key: bytes) -> None:
        """``key`` was evicted (maxmemory): WATCHers and blocked clients are told, and it
        propagates as DEL, as Redis's performEvictions does."""
        self.touched(key)
        self.keyspace.propagation.expired(self.id, key)

    def expired(self, key: bytes) -> None:
        """``key`` was deleted because its deadline passed (lazily or by the active cycle): the
        change hook of expiry, which Redis does not count as dirty but propagates as DEL."""
        ks = self.keyspace
        ks.stat_expired_keys += 1
        self.touched(key)
        ks.propagation.expired(self.id, key)

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
                    if deadline < now:
                        v = self.data[h].pop(key, None)
                        self.access[h].pop(key, None)
                        mem = self.keyspace.memory
                        if mem.tracking and v is not None:
                            mem.forget(self, h, key, v, True)
                        self.expired(key)
                        self.keyspace.propagation.flush()  # each deletion on its own
                        expired += 1
                    else:
                        exp[key] = deadline
            self._expire_cursor = (h + 1) & _MASK
        return sampled, expired


class NotifyingDb(Db):
    """A ``Db`` whose change hooks also publish keyspace notifications.

    While ``notify-keyspace-events`` is empty every database is a plain ``Db``, whose hooks do
    not look at the setting at all; setting it re-classes the databases
    (``Keyspace.use_notifications``), so notifications cost the write path nothing when off.
    """

    __slots__ = ()

    def changed(self, key: bytes, event: str, n: int = 1, touch: bool = True) -> None:
        Db.changed(self, key, event, n, touch)
        ks = self.keyspace
        notify.notify(ks.hub, ks.notify_flags, event, key, self.id)

    def changed_keys(self, keys: Sequence[bytes], event: str) -> None:
        Db.changed_keys(self, keys, event)
        ks = self.keyspace
        new, ks.new_keys = ks.new_keys, set()
        for key in keys:
            if key in new:  # MSET: Redis adds and notifies key by key
                new.discard(key)
                notify.notify(ks.hub, ks.notify_flags, "new", key, self.id)
            notify.notify(ks.hub, ks.notify_flags, event, key, self.id)

    def set(
        self, key: bytes, value: Any, expire_at: int | None = None, keepttl: bool = False
    ) -> None:
        # The lookup expires a dead key first (its "expired" event), as Redis's does.
        new = self.get(key) is None
        Db.set(self, key, value, expire_at, keepttl)
        if new:
            ks = self.keyspace
            notify.notify(ks.hub, ks.notify_flags, "new", key, self.id)

    def read(self, key: bytes, keymiss: bool = True, touch: bool = True) -> Any:
        v = Db.read(self, key, keymiss, touch)
        if v is None and keymiss:
            ks = self.keyspace
            notify.notify(ks.hub, ks.notify_flags, "keymiss", key, self.id)
        return v

    def set_many(self, args: list[bytes], start: int = 1) -> None:
        # "new" goes out with each key's own event, from changed_keys.
        self.keyspace.new_keys = {
            args[i] for i in range(start, len(args), 2) if self.get(args[i]) is None
        }
        Db.set_many(self, args, start)

    def expired(self, key: bytes) -> None:
        Db.expired(self, key)
        ks = self.keyspace
        notify.notify(ks.hub, ks.notify_flags, "expired", key, self.id)

    def evicted(self, key: bytes) -> None:
        Db.evicted(self, key)
        ks = self.keyspace
        notify.notify(ks.hub, ks.notify_flags, "evicted", key, self.id)


class TrackingDb(Db):
    """A ``Db`` while some client tracks keys (CLIENT TRACKING): its change hooks also
    invalidate the keys (``touched`` tells tracking too, for expiry and eviction; a key told
    twice is harmless: its table entry is gone after the first)."""

    __slots__ = ()

    def changed(self, key: bytes, event: str, n: int = 1, touch: bool = True) -> None:
        Db.changed(self, key, event, n, touch)
        if touch:
            self.tracking.invalidate(key)

    def changed_keys(self, keys: Sequence[bytes], event: str) -> None:
        Db.changed_keys(self, keys, event)
        for key in keys:
            self.tracking.invalidate(key)


class NotifyingTrackingDb(NotifyingDb):
    """``NotifyingDb`` and ``TrackingDb`` at once."""

    __slots__ = ()

    def changed(self, key: bytes, event: str, n: int = 1, touch: bool = True) -> None:
        NotifyingDb.changed(self, key, event, n, touch)
        if touch:
            self.tracking.invalidate(key)

    def changed_keys(self, keys: Sequence[bytes], event: str) -> None:
        NotifyingDb.changed_keys(self, keys, event)
        for key in keys:
            self.tracking.invalidate(key)


#: (notifying, tracking) -> the databases' class.
_DB_CLASSES: dict[tuple[bool, bool], type[Db]] = {
    (False, False): Db,
    (True, False): NotifyingDb,
    (False, True): TrackingDb,
    (True, True): NotifyingTrackingDb,
}


class Keyspace:
    """All databases plus the counters that persistence and INFO read."""

    def __init__(self, databases: int = 16) -> None:
        #: notify-keyspace-events (minikv.notify bits) and where notifications are published
        #: (the server's pub/sub hub); set through ``use_notifications``.
        self.notify_flags = 0
        #: Keys a NotifyingDb.set_many created, for the "new" events of changed_keys.
        self.new_keys: set[bytes] = set()
        self.hub: notify.Publisher | None = None
        self.dbs = [Db(self, i) for i in range(databases)]
        self.dirty = 0  # changes since the last successful save
        # (db, key) pairs with blocked clients that changed since the dispatcher last served
        # them (minikv.blocking.handle_ready_keys); a dict for order without duplicates.
        # Emptied in place, never rebound: the dispatcher keeps a reference to it.
        self.ready_keys: dict[tuple[Db, bytes], None] = {}
        self.stat_expired_keys = 0
        self.stat_expired_stale_perc = 0.0
        self.stat_expired_time_cap_reached = 0
        #: active-expire-effort (1-10), set with the memory settings (Memory.configure).
        self.active_expire_effort = 1
        #: INFO keyspace_hits / keyspace_misses: the lookups of keys commands read (Db.read).
        self.hits = 0
        self.misses = 0
        #: What the changes send on (append-only file, replicas): see minikv.propagation.
        self.propagation = Propagation()
        self._expire_db = 0
        #: (dirty, ids of the databases with volatile keys) counted just before a fork, while
        #: its child runs (``note_volatile``); None otherwise.
        self._volatile: tuple[int, frozenset[int]] | None = None
        self.active_expire_enabled = True  # DEBUG SET-ACTIVE-EXPIRE
        #: This server is a replica: keys past their deadline read as missing but are not
        #: deleted (see Db._expire_key).
        self.replica_reads = False
        self.expire_paused = False  # set while CLIENT PAUSE is in force (minikv.watch)
        #: How reads and writes touch their key (minikv.eviction: NO_TOUCH while a fork child
        #: runs) and the LRU clock they write; both kept by ``memory``.
        self.access = NO_TOUCH
        self.lru_clock = lru_clock()
        #: maxmemory: the count of what the data holds, access tracking, eviction.
        self.memory = Memory(self)

    def use_notifications(self, flags: int, hub: notify.Publisher | None) -> None:
        """Publish keyspace notifications of the classes in ``flags`` on ``hub`` (0: none)."""
        self.notify_flags = flags
        self.hub = hub
        self._reclass()

    def use_tracking(self, tracking: Any) -> None:
        """Tell ``tracking`` (minikv.tracking.Tracking; None: nobody tracks) of every change."""
        for db in self.dbs:
            db.tracking = tracking
        self._reclass()

    def _reclass(self) -> None:
        # The databases' class carries the optional listeners, so a plain Db's write path
        # does not even look at them (a check per write costs ~100 instructions per SET).
        notifying = bool(self.notify_flags and self.hub is not None)
        tracking = self.dbs[0].tracking is not None
        cls = _DB_CLASSES[notifying, tracking]
        for db in self.dbs:
            db.__class__ = cls

    def changed_dataset(self, n: int) -> None:
        """The change hook of whole databases (FLUSHDB, FLUSHALL, SWAPDB), whose WATCHers and
        blocked clients ``Db.clear`` and ``swap`` have told, and of the data kept beside
        them (the function libraries): ``n`` changes. Propagated even when ``n`` is 0
        (flushing an empty database), as Redis forces it."""
        self.dirty += n
        self.propagation.forced = True

    def flushall(self) -> int:
        tracking = self.dbs[0].tracking
        if tracking is not None:
            tracking.flushed()  # once for all the databases, as Redis
        return sum(db.clear(False) for db in self.dbs)

    def swap(self, a: int, b: int) -> None:
        """SWAPDB: exchange the contents, not the ``Db`` objects, so connected clients (and
        their WATCHes) stay on their database number and see the other's data."""
        if a == b:
            return
        da, db_ = self.dbs[a], self.dbs[b]
        if da.tracking is not None:
            da.tracking.flushed()  # as Redis 7's SWAPDB: every cached key may be stale
        da.touch_all_watched(db_)
        db_.touch_all_watched(da)
        da.signal_deleted_streams(db_)
        db_.signal_deleted_streams(da)
        for attr in ("data", "expires", "access", "used", "_expire_cursor"):
            va, vb = getattr(da, attr), getattr(db_, attr)
            setattr(da, attr, vb)
            setattr(db_, attr, va)
        # Blocked clients stay with their database number: the data they wait for may be here.
        da.signal_ready_keys()
        db_.signal_ready_keys()

    def note_volatile(self, forking: bool) -> None:
        """Called just before a fork (``forking``) and when its child is gone: while the child
        runs, the expire cycle takes the databases with volatile keys from this count as long
        as nothing was written (``dirty`` unchanged) instead of looking at every shard of every
        database each tick. That look (``any(db.expires)``) writes the reference count of each
        of the 16 x 1024 shard dicts, so the pages holding them (~1 MB) would be copied for
        the child."""
        self._volatile = None
        if forking:
            self._volatile = (self.dirty, frozenset(db.id for db in self.dbs if any(db.expires)))

    def volatile_at_fork(self) -> frozenset[int] | None:
        """In a fork child, and in its parent while nothing was written since the fork: the
        ids of the databases that had volatile keys at the fork. None when no such count is
        kept, or a write may have given another database some."""
        volatile = self._volatile
        if volatile is not None and volatile[0] != self.dirty:
            volatile = self._volatile = None  # written since the fork: look again
        return None if volatile is None else volatile[1]

    def active_expire_cycle(
        self, time_limit_s: float, clock: Callable[[], float] = time.monotonic
    ) -> int:
        """Redis 7's slow active expire cycle: per database, rounds of ``20 + 5 * effort``
        sampled keys (effort: ``active-expire-effort`` - 1), repeating while more than
        ``10 - effort`` % of a round was expired, all within ``time_limit_s`` (given for
        effort 1: 25 % of a cron period) scaled to ``25 + 2 * effort`` %. Keeps INFO's
        expired_stale_perc (Redis's moving average of the expired share of what was sampled),
        expired_time_cap_reached_count (the server times the cycle)."""
        if not self.active_expire_enabled or self.expire_paused:
            return 0
        effort = self.active_expire_effort - 1
        per_round = 20 + 5 * effort
        acceptable_stale = 10 - effort
        time_limit_s *= (25 + 2 * effort) / 25
        start = clock()
        total = sampled_total = 0
        capped = False
        ndb = len(self.dbs)
        volatile = self.volatile_at_fork()
        for _ in range(ndb):
            db = self.dbs[self._expire_db]
            self._expire_db = (self._expire_db + 1) % ndb
            if volatile is not None:
                if db.id not in volatile:
                    continue
            elif not any(db.expires):  # C-speed check; most databases have no volatile keys
                continue
            while True:
                sampled, expired = db.active_expire_round(now_ms(), per_round)
                total += expired
                sampled_total += sampled
                if sampled == 0 or expired * 100 // sampled <= acceptable_stale:
                    break
                if clock() - start > time_limit_s:
                    capped = True
                    break
            if capped:
                break
            if clock() - start > time_limit_s:
                break
        if capped:
            self.stat_expired_time_cap_reached += 1
        perc = total / sampled_total if sampled_total else 0.0
        self.stat_expired_stale_perc = perc * 0.05 + self.stat_expired_stale_perc * 0.95
        return total


def _py_deadline_sample(
    shards: list[dict[bytes, int]], now_ms: int, sample: int
) -> tuple[int, int]:
    total = n = 0
    for shard in shards:
        for deadline in shard.values():
            if deadline > now_ms:
                total += deadline - now_ms
                n += 1
        if n >= sample:
            break
    return total, n


# The counts over all shards, through minikv._noref when it is built: a Python walk takes a
# reference to each shard dict, a write that a live snapshot child pays for in copied pages.
_noref = native.load("_noref")
NOREF = _noref is not None
_total_len: Callable[[list[Any]], int] = (
    _noref.total_len if _noref is not None else lambda shards: sum(map(len, shards))
)
_deadline_sample: Callable[[list[dict[bytes, int]], int, int], tuple[int, int]] = (
    _noref.deadline_sample if _noref is not None else _py_deadline_sample
)
