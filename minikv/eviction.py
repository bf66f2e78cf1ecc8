"""maxmemory: the running count of the bytes the data holds, per-key access tracking (LRU clock,
LFU counter) and eviction by Redis's sampled approximation (evict.c).

**The count (``used_memory``).** CPython has no cheap counter of what it allocated (Redis reads
its allocator's ``zmalloc_used_memory``; tracemalloc would tax every allocation), so minikv
counts what the data holds with ``minikv.memory``'s sizing (what MEMORY USAGE answers: the
``sys.getsizeof`` of the key, the value and its elements, collections sampled, plus the dict
slots), per database shard, while ``maxmemory`` is set (``Memory.tracking``):

- every write command is measured: its keys (from the command table's key specs) are sized
  before and after the handler runs (``commands.call``), and the difference is added;
- a key that expires (lazily or by the active cycle) or is evicted is subtracted;
- a served blocked pop is measured like a command; FLUSHDB/FLUSHALL empty a database's count,
  SWAPDB swaps them;
- a background sweep (``Memory.cron``) re-sizes one shard per tick and corrects its count, so
  a path that escaped the measurement (DEBUG RELOAD, a change no key spec names) cannot make the
  count drift for long.

Setting ``maxmemory`` from 0 sizes the whole keyspace once (a blocking walk, about 1 µs per
key). With ``maxmemory`` 0 nothing is counted on the write path and INFO estimates the dataset
from a sample of keys (``estimate_dataset``). ``used_memory`` is ``used_memory_startup`` (the
anonymous resident memory when the server started: the interpreter, its modules and the empty
databases) plus the dataset count plus what clients hold (query and output buffers, refreshed
each cron tick).

**Access tracking.** Each shard has an ``access`` dict beside ``data``: key -> an int that is
the LRU clock of the last access (seconds, 24 bits, Redis's ``LRU_CLOCK_RESOLUTION``) or, under
an LFU policy, ``minutes << 8 | counter`` (Redis's 16-bit decay time and 8-bit logarithmic
counter). The ints are shared: every key touched in the same clock second refers to the same
int object (and under LFU to one of 256 cached per minute), so a key pays only its dict slot
(measured: see ``benchmarks/README.md``). Reads (``Db.read``) and writes (``Db.changed``) touch
the key; nothing is touched while a fork child runs, as Redis, so reads do not copy pages.

**Sampling.** Redis takes ``maxmemory-samples`` keys from random hash-table buckets. A Python
dict gives no random access, so minikv picks a random shard (keys are spread over 1024 shards by
hash), a random offset in it, and takes consecutive keys from there (``itertools.islice``, whose
skip runs in C): O(samples + shard size) with shard size = keys / 1024. The eviction pool
(16 best candidates kept across calls, ``EVPOOL_SIZE``) and the scores are Redis's: idle time for
LRU, ``255 - counter`` for LFU, the earliest deadline for volatile-ttl.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from itertools import islice, repeat
from operator import itemgetter, neg
from random import random as _random
from typing import TYPE_CHECKING, Any

from minikv.config import MAXMEMORY_POLICIES
from minikv.cow import rss_bytes
from minikv.memory import key_usage
from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.keyspace import Db, Keyspace

OOM = ReplyError("OOM command not allowed when used memory > 'maxmemory'.")

POLICIES = MAXMEMORY_POLICIES

LRU_CLOCK_MAX = (1 << 24) - 1
LRU_CLOCK_RESOLUTION = 1000  # ms
LFU_INIT_VAL = 5
EVPOOL_SIZE = 16

#: ``Keyspace.access`` values: how a read or write touches its key.
NO_TOUCH, TOUCH_LRU, TOUCH_LFU = 0, 1, 2

#: What the measured keys of a command may be found in besides the client's database: MOVE
#: and COPY ... DB move a key to another database.
_CROSS_DB = frozenset({"move", "copy"})
#: Evictions between checks of the time limit (Redis checks every 16).
_CHECK_EVERY = 16


_SCORE = itemgetter(0)  # a pool entry's score


def lru_clock() -> int:
    return (time.time_ns() // 1_000_000 // LRU_CLOCK_RESOLUTION) & LRU_CLOCK_MAX


def lfu_minutes() -> int:
    return (time.time_ns() // 60_000_000_000) & 0xFFFF


def anon_rss() -> int:
    """RssAnon of this process (heap and arenas, not mapped files), 0 without /proc."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def clients_memory(clients: Iterable[Any]) -> int:
    """What connected clients hold (Redis's mem_clients_normal): each client's own count
    (``Client.memory_usage``); the primary's link (no such count) by its unsent output."""
    total = 0
    for c in clients:
        usage = getattr(c, "memory_usage", None)
        if usage is not None:
            total += usage()[1]
            continue
        transport = getattr(c, "transport", None)
        if transport is not None:
            total += transport.get_write_buffer_size()
    return total


class Memory:
    """The keyspace's memory accounting and eviction (``Keyspace.memory``)."""

    def __init__(self, keyspace: Keyspace) -> None:
        self.ks = keyspace
        self.maxmemory = 0
        self.policy = "noeviction"
        self.samples = 5
        self.tenacity = 10
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        #: Counting the dataset (maxmemory > 0).
        self.tracking = False
        #: Bytes the data holds, while tracking: the sum of every database's shard counts.
        self.dataset = 0
        self.startup = anon_rss()
        self.clients = 0
        self.not_counted = 0  # the AOF buffer (Redis: not counted for eviction)
        self.peak = 0
        self.evicted_keys = 0
        self.exceeded_since = 0.0  # monotonic time eviction began to be needed, 0 if not
        self.exceeded_total = 0.0
        self.pre_command_oom = False  # OOM detected at the start of the running command
        self._pool: list[tuple[int, int, bytes]] = []  # (score, dbid, key), best last
        self._candidate_dbs: list[Db] | None = None
        self._next_db = 0
        self._sweep_db = 0
        self._sweep_shard = 0
        self._child = False
        self._estimate = 0  # estimate_dataset's last answer (maxmemory 0), and when
        self._estimated_at = -1e9
        #: The event loop's call_soon (set by the server): eviction past its time limit
        #: goes on from there, as Redis's evictionTimeProc.
        self.call_soon: Callable[[Callable[[], Any]], Any] | None = None
        #: LFU values of the current minute, shared by every key (index: counter).
        self._lfu_minute = -1
        self._lfu_ints: list[int] = []
        self.loaded_clock = lru_clock()
        self.tick()
        self._set_touch()

    # --- configuration -------------------------------------------------------------------

    def configure(self, cfg: Any) -> None:
        """Take the maxmemory settings (and active-expire-effort, the keyspace's other memory
        knob) from ``cfg``; start counting (a full walk) when maxmemory goes from 0 to a
        limit."""
        self.policy = cfg.maxmemory_policy
        self.samples = cfg.maxmemory_samples
        self.tenacity = cfg.maxmemory_eviction_tenacity
        self.lfu_log_factor = cfg.lfu_log_factor
        self.lfu_decay_time = cfg.lfu_decay_time
        self.ks.active_expire_effort = cfg.active_expire_effort
        was = self.tracking
        self.maxmemory = cfg.maxmemory
        self.tracking = self.maxmemory > 0
        if self.tracking and not was:
            self.recount()
        elif not self.tracking:
            self.dataset = 0
        self._pool.clear()
        self._candidate_dbs = None
        self._set_touch()

    @property
    def lfu(self) -> bool:
        return "lfu" in self.policy

    def child_running(self, running: bool) -> None:
        """A fork child runs: touch nothing (writing the access dicts copies their pages)."""
        self._child = running
        self._set_touch()

    def _set_touch(self) -> None:
        ks = self.ks
        if self._child:
            ks.access = NO_TOUCH
        else:
            ks.access = TOUCH_LFU if self.lfu else TOUCH_LRU

    def tick(self) -> None:
        """Advance the clocks (each cron tick): a new int only when the second changes, so the
        keys touched within a second share one object."""
        clock = lru_clock()
        if clock != self.ks.lru_clock:
            self.ks.lru_clock = clock
        minute = lfu_minutes()
        if minute != self._lfu_minute:
            self._lfu_minute = minute
            self._lfu_ints = [(minute << 8) | i for i in range(256)]

    # --- access: LRU and LFU ---------------------------------------------------------------

    def lfu_touch(self, access: dict[bytes, int], key: bytes, write: bool = False) -> None:
        """Redis's updateLFU: decay the counter by the periods elapsed, then a logarithmic
        increment. A key a write creates starts at LFU_INIT_VAL without one (Redis's new
        object)."""
        v = access.get(key)
        if v is None and write:
            access[key] = self._lfu_ints[LFU_INIT_VAL]
            return
        counter = LFU_INIT_VAL if v is None else self.lfu_decayed(v)
        if counter < 255:
            base = max(counter - LFU_INIT_VAL, 0)
            if random.random() < 1.0 / (base * self.lfu_log_factor + 1):
                counter += 1
        access[key] = self._lfu_ints[counter]

    def lfu_decayed(self, v: int) -> int:
        """Redis's LFUDecrAndReturn: the counter less one per ``lfu-decay-time`` minutes since
        the last access."""
        counter = v & 255
        if self.lfu_decay_time:
            ldt = v >> 8
            now = self._lfu_minute
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            periods = elapsed // self.lfu_decay_time
            if periods:
                counter = 0 if periods > counter else counter - periods
        return counter

    def idle_ms(self, v: int | None) -> int:
        """Redis's estimateObjectIdleTime for an access value (None: never touched since
        the server started)."""
        lru = self.loaded_clock if v is None else v & LRU_CLOCK_MAX
        now = self.ks.lru_clock
        if now >= lru:
            return (now - lru) * LRU_CLOCK_RESOLUTION
        return (now + (LRU_CLOCK_MAX - lru)) * LRU_CLOCK_RESOLUTION

    def set_access(self, db: Db, key: bytes, idle: int, freq: int) -> None:
        """RESTORE's IDLETIME / FREQ (Redis's objectSetLRUOrLFU): the LFU counter under an LFU
        policy, else the idle time in seconds; -1 leaves the record as it is."""
        if self.lfu:
            if freq >= 0:
                db.set_access(key, self._lfu_ints[freq])
        elif idle >= 0:
            ticks = idle * 1000 // LRU_CLOCK_RESOLUTION
            clock = self.ks.lru_clock - ticks
            if clock < 0:
                clock = LRU_CLOCK_MAX - (-clock % LRU_CLOCK_MAX)
            db.set_access(key, clock & LRU_CLOCK_MAX)

    def object_idletime(self, db: Db, key: bytes) -> int:
        return self.idle_ms(db.access_value(key)) // 1000

    def object_freq(self, db: Db, key: bytes) -> int:
        v = db.access_value(key)
        return LFU_INIT_VAL if v is None else self.lfu_decayed(v)

    # --- the count ---------------------------------------------------------------------------

    def used(self) -> int:
        """used_memory: startup + dataset + clients (the dataset is estimated when not
        tracking)."""
        if self.tracking:
            dataset = self.dataset
        else:
            # The sampled estimate, at most once a second and never while a fork child runs:
            # sizing values touches their reference counts (copy-on-write).
            now = time.monotonic()
            if not self._child and now - self._estimated_at >= 1.0:
                self._estimate = self.estimate_dataset()
                self._estimated_at = now
            dataset = self._estimate
        return self.startup + dataset + self.clients

    def recount(self) -> None:
        """Size every key (when counting starts, and after a load)."""
        total = 0
        for db in self.ks.dbs:
            for h in range(len(db.data)):
                n = self._size_shard(db, h) if db.data[h] else 0
                db.used[h] = n
                total += n
        self.dataset = total

    def _size_shard(self, db: Db, h: int) -> int:
        exp = db.expires[h]
        return sum(key_usage(k, v, k in exp) for k, v in db.data[h].items())

    def estimate_dataset(self, sample: int = 200) -> int:
        """Without counting: the keys times the mean MEMORY USAGE of a random sample."""
        total = 0
        for db in self.ks.dbs:
            n = len(db)
            if not n:
                continue
            keys = _sample(db.data, min(n, sample))[0]
            if keys:
                data = db.data
                mask = len(data) - 1
                sizes = [
                    key_usage(k, data[hash(k) & mask][k], db.get_expire(k) is not None)
                    for k in keys
                ]
                total += sum(sizes) * n // len(sizes)
        return total

    def key_size(self, db: Db, key: bytes) -> int:
        """What ``key`` costs now in ``db`` (0 if absent); expires it first if it is due, so
        the expiry's subtraction and this measure agree."""
        v = db.get(key)
        if v is None:
            return 0
        return key_usage(key, v, db.get_expire(key) is not None)

    def measure(self, c: Any, cmd: Any, args: list[bytes]) -> list[tuple[Db, bytes, int]]:
        """The sizes of the keys a write is about to change (see ``account``)."""
        if cmd.single_key:  # one key at args[1] (SET, INCR, LPUSH...): no key-spec walk
            db = c.db
            key = args[1]
            return [(db, key, self.key_size(db, key))]
        positions = cmd.get_keys(args)
        if not positions:
            return []
        dbs = self.ks.dbs if cmd.name in _CROSS_DB else [c.db]
        out = []
        for pos, _ in positions:
            key = args[pos]
            for db in dbs:
                out.append((db, key, self.key_size(db, key)))
        return out

    def account(self, before: list[tuple[Db, bytes, int]]) -> None:
        """After the write: add each key's change of size."""
        if len(before) == 1:
            db, key, size = before[0]
            delta = self.key_size(db, key) - size
            if delta:
                db.used[hash(key) & (len(db.data) - 1)] += delta
                self.dataset += delta
            return
        seen: set[tuple[int, bytes]] = set()
        for db, key, size in before:
            if (db.id, key) in seen:  # a key named twice (RENAME k k, SMOVE k k)
                continue
            seen.add((db.id, key))
            delta = self.key_size(db, key) - size
            if delta:
                db.used[hash(key) & (len(db.data) - 1)] += delta
                self.dataset += delta

    def forget(self, db: Db, h: int, key: bytes, value: Any, has_expiry: bool) -> None:
        """``key`` holding ``value`` left ``db`` outside a measured write (expired, evicted)."""
        n = key_usage(key, value, has_expiry)
        db.used[h] -= n
        self.dataset -= n

    def cleared(self, db: Db) -> None:
        """``db`` was emptied (FLUSHDB, FLUSHALL)."""
        self.dataset -= sum(db.used)
        db.used[:] = [0] * len(db.used)

    def cron(self, clients: int, not_counted: int, budget_keys: int = 2000) -> None:
        """Each server tick: the clocks, the clients' bytes, the peak, and one shard re-sized
        (at most ``budget_keys`` keys) to correct drift. Nothing is re-sized while a fork
        child runs (iterating touches reference counts: copy-on-write)."""
        self.tick()
        self._candidate_dbs = None
        self.clients = clients
        self.not_counted = not_counted
        if self.tracking and not self._child:
            self._sweep(budget_keys)
        self.peak = max(self.peak, self.used())
        if self.tracking and self.exceeded_since and not self.over():
            self._stop_exceeded()

    def _sweep(self, budget_keys: int) -> None:
        dbs = self.ks.dbs
        seen = 0
        for _ in range(64):  # at most this many empty shards looked at per tick
            db = dbs[self._sweep_db]
            h = self._sweep_shard
            self._sweep_shard += 1
            if self._sweep_shard >= len(db.data):
                self._sweep_shard = 0
                self._sweep_db = (self._sweep_db + 1) % len(dbs)
            shard = db.data[h]
            if not shard and not db.used[h]:
                continue
            if len(shard) > budget_keys:
                continue  # too big to size in one tick; measured writes keep it right
            n = self._size_shard(db, h)
            self.dataset += n - db.used[h]
            db.used[h] = n
            seen += len(shard)
            if seen >= budget_keys:
                return

    # --- eviction ----------------------------------------------------------------------------

    def over(self) -> int:
        """Bytes over maxmemory (0 when under or unlimited)."""
        if not self.maxmemory:
            return 0
        used = self.startup + self.dataset + self.clients - self.not_counted
        return max(0, used - self.maxmemory)

    def before_command(self, in_multi: bool, cmd: Any, queued: list[Any] | None) -> bool:
        """Redis's processCommand maxmemory step: evict what is needed; True if the command
        must be refused with OOM (a denyoom command, EXEC of a transaction with one, or any
        command queued into MULTI, while memory could not be brought under the limit)."""
        oom = self.perform_evictions() == "fail"
        self.pre_command_oom = oom
        if not oom:
            return False
        name = cmd.name
        if in_multi and name not in ("exec", "discard", "quit", "reset"):
            return True
        if "denyoom" in cmd.flags:
            return True
        if name == "exec" and queued:
            return any("denyoom" in q.flags for q, _ in queued)
        return False

    def perform_evictions(self) -> str:
        """Redis's performEvictions: "ok" (under the limit), "running" (time limit reached,
        more evicted from a timer) or "fail" (over and nothing can be evicted)."""
        if self.ks.replica_reads:
            # A replica applies its primary's stream, whose DELs do the evicting (Redis's
            # replica-ignore-maxmemory yes): nothing evicted or refused here.
            return "ok"
        tofree = self.over()
        if not tofree:
            if self.exceeded_since:
                self._stop_exceeded()
            return "ok"
        if not self.exceeded_since:
            self.exceeded_since = time.monotonic()
        if self.policy == "noeviction":
            return "fail"
        limit = self._time_limit()
        start = time.monotonic()
        freed = 0
        n = 0
        dbs = self._candidate_dbs
        if dbs is None:
            dbs = self._candidate_dbs = self._find_candidate_dbs()
        while freed < tofree:
            picked = self._pick(dbs)
            if picked is None:
                # Maybe a database got keys since the list was made: look once more.
                dbs = self._candidate_dbs = self._find_candidate_dbs()
                picked = self._pick(dbs)
            if picked is None:
                return "fail"
            db, key = picked
            freed += self.evict(db, key)
            n += 1
            if n % _CHECK_EVERY == 0:
                if self.over() == 0:
                    break
                if limit is not None and time.monotonic() - start > limit:
                    if self.call_soon is not None:
                        self.call_soon(self.perform_evictions)
                    return "running"
        if self.over() == 0:
            self._stop_exceeded()
        return "ok"

    def _find_candidate_dbs(self) -> list[Db]:
        """The databases with keys to evict under the policy (C-speed checks of 1024 shards
        each: ~5 µs a database, so the list is kept until the next cron tick or until it
        yields nothing)."""
        volatile = self.policy.startswith("volatile")
        return [db for db in self.ks.dbs if any(db.expires if volatile else db.data)]

    def _stop_exceeded(self) -> None:
        if self.exceeded_since:
            self.exceeded_total += time.monotonic() - self.exceeded_since
            self.exceeded_since = 0.0

    def current_exceeded(self) -> float:
        return time.monotonic() - self.exceeded_since if self.exceeded_since else 0.0

    def _time_limit(self) -> float | None:
        """Redis's evictionTimeLimitUs, in seconds (None: no limit)."""
        t = self.tenacity
        if t <= 10:
            return 50e-6 * t
        if t < 100:
            return 500e-6 * 1.15 ** (t - 10)
        return None

    def evict(self, db: Db, key: bytes) -> int:
        """Delete ``key`` as an eviction: counted, notified (``evicted``), told to WATCHers,
        propagated as DEL. Returns the bytes it held."""
        h = hash(key) & (len(db.data) - 1)
        value = db.data[h].get(key)
        if value is None:
            return 0
        n = key_usage(key, value, key in db.expires[h])
        db.used[h] -= n
        self.dataset -= n
        db.delete(key)
        self.evicted_keys += 1
        db.evicted(key)
        self.ks.propagation.flush()
        return n

    def _pick(self, dbs: list[Db]) -> tuple[Db, bytes] | None:
        """The next key to evict from ``dbs`` (the databases with candidates), or None."""
        volatile = self.policy.startswith("volatile")
        if not dbs:
            return None
        if self.policy.endswith("random"):
            for _ in range(len(dbs)):
                self._next_db = (self._next_db + 1) % len(dbs)
                db = dbs[self._next_db]
                for key in _sample(db.expires if volatile else db.data, 1)[0]:
                    return db, key
            return None
        # LRU, LFU, TTL: refill the pool from every database, then take the best candidate
        # still present.
        pool = self._pool
        while True:
            found = False
            for db in dbs:
                shards = db.expires if volatile else db.data
                sample, h = _sample(shards, self.samples)
                if sample:
                    found = True
                    self._populate(db, shards, sample, h)
            while pool:
                _, dbid, key = pool.pop()
                db = self.ks.dbs[dbid]
                h = hash(key) & (len(db.data) - 1)
                if key in (db.expires[h] if volatile else db.data[h]):
                    return db, key
            if not found:
                return None

    def _populate(
        self, db: Db, shards: list[dict[bytes, Any]], sample: list[bytes], h: int
    ) -> None:
        """Score the sampled keys of ``db`` into the pool (Redis's evictionPoolPopulate): the
        idle time for LRU (in clock ticks: the order of milliseconds), ``255 - counter`` for
        LFU, the deadline for volatile-ttl (the soonest first). The pool keeps the
        ``EVPOOL_SIZE`` best candidates in ascending order: the scored sample joins it and the
        whole is re-sorted (a key sampled again while in the pool is there twice, harmlessly:
        the copy left once it is evicted is skipped, as Redis's pool skips a candidate whose key
        is gone).

        One eviction scores ``maxmemory-samples`` keys per database, and this and the sampling
        are most of its cost, so the work is done by C calls over the whole sample (``map``,
        ``zip``, one sort) rather than a Python step per key: the sample usually comes from one
        shard (``h``; -1 when it spans several), whose dicts are then read directly."""
        policy = self.policy
        pool = self._pool
        if policy == "volatile-ttl":
            if h >= 0:
                deadlines = list(map(shards[h].__getitem__, sample))
            else:
                mask = len(shards) - 1
                deadlines = [shards[hash(k) & mask][k] for k in sample]
            scores: Iterable[int] = map(neg, deadlines)
        else:
            access = db.access
            if h >= 0:
                recs = list(map(access[h].get, sample))
            else:
                mask = len(access) - 1
                recs = [access[hash(k) & mask].get(k) for k in sample]
            if "lfu" in policy:
                decayed = self.lfu_decayed
                scores = [255 - (LFU_INIT_VAL if r is None else decayed(r)) for r in recs]
            else:
                if None in recs:  # never touched since the server started
                    loaded = self.loaded_clock
                    recs = [loaded if r is None else r for r in recs]
                # Idle ticks: now - the key's clock, plus a wrap of the 24-bit clock.
                scores = list(map(self.ks.lru_clock.__sub__, recs))
                if min(scores) < 0:
                    scores = [d if d >= 0 else d + LRU_CLOCK_MAX for d in scores]
        pool += zip(scores, repeat(db.id), sample)
        pool.sort(key=_SCORE)  # stable: a new key goes after an old one of the same score
        if len(pool) > EVPOOL_SIZE:
            del pool[: len(pool) - EVPOOL_SIZE]

    def figures(self, aof_buffer: int, scripts: int) -> dict[str, int]:
        """The figures INFO memory and MEMORY STATS share, in bytes: ``aof_buffer`` and
        ``scripts`` (the script and function caches) are the server's to give."""
        used = self.used()
        rss = rss_bytes()
        anon = anon_rss() or rss
        self.peak = max(self.peak, used)
        overhead = self.startup + self.clients + aof_buffer + scripts
        return {
            "used": used,
            "rss": rss,
            "anon": anon,
            "peak": self.peak,
            "startup": self.startup,
            "clients": self.clients,
            "aof": aof_buffer,
            "scripts": scripts,
            "overhead": overhead,
            "dataset": max(0, used - overhead),
        }

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: evicted_keys, the eviction time and the peak."""
        self.evicted_keys = 0
        self.exceeded_total = 0.0
        if self.exceeded_since:
            self.exceeded_since = time.monotonic()
        self.peak = self.used()


def _sample(shards: list[dict[bytes, Any]], count: int) -> tuple[list[bytes], int]:
    """Up to ``count`` keys from random places of ``shards`` (a database's ``data`` or
    ``expires``), and the shard they all come from (-1 if several): a random shard and offset
    (both from one random number), consecutive keys from there, the following shards if that
    one runs out (Redis's dictGetSomeKeys walks consecutive buckets too). The skip to the
    offset and the take run in C (``islice`` over the dict's keys)."""
    nshards = len(shards)
    r = _random() * nshards
    h = int(r)
    shard = shards[h]
    n = len(shard)
    if n:
        start = int((r - h) * n)
        if start + count <= n:  # the common case: all from this shard
            return list(islice(shard, start, start + count)), h
        out = list(islice(shard, start, None))
    else:
        out = []
    for _ in range(nshards - 1):
        h += 1
        if h == nshards:
            h = 0
        shard = shards[h]
        if shard:
            out += islice(shard, count - len(out))
            if len(out) >= count:
                break
    return out, -1


def dataset_of(values: Iterable[tuple[bytes, Any, bool]]) -> int:
    """The count ``Memory`` keeps for these (key, value, has deadline) triples: for checks."""
    return sum(key_usage(k, v, e) for k, v, e in values)
