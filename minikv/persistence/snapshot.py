"""Fork-based snapshots: BGSAVE's fork and reap, SAVE, save points, loading on start.

The layers, as Redis's rdb.c:

* ``save_to_file`` — write a snapshot of the keyspace to ``temp-<pid>.mkv`` in ``dir``, fsync
  it, rename it over ``dbfilename`` and fsync the directory. Used by SAVE (in the server) and by
  the BGSAVE child.
* ``Persistence.bgsave`` — ``gc.disable()``, ``os.fork()``; the parent records the fork time and
  returns to its event loop at once; the child closes the sockets it inherited, disables GC,
  calls ``save_to_file`` with progress and copy-on-write reports through a pipe
  (``childinfo``), and leaves with ``os._exit``.
* ``Persistence.check_child`` — from the cron: drain the child's reports, reap it with
  ``waitpid(WNOHANG)``, and only then (the done-handler) change the parent's state: status,
  ``lastsave``, the dirty counter minus the changes made before the fork, ``gc.enable()``, and
  removal of a failed child's temp file.

The parent never writes the dataset while a child runs; the child never touches the event loop.
"""

from __future__ import annotations

import _signal
import contextlib
import gc
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from minikv.cow import CowSampler, private_dirty_bytes, rss_bytes
from minikv.eviction import anon_rss
from minikv.keyspace import NSHARDS, now_ms
from minikv.log import log, set_role
from minikv.persistence import childinfo
from minikv.persistence.aoffiles import fsync_dir
from minikv.persistence.format import SnapshotError, SnapshotWriter, read_snapshot
from minikv.protocol import ReplyError
from minikv.syscheck import fork_headroom_warning, fork_memory_warning

if TYPE_CHECKING:
    from minikv.config import Config
    from minikv.keyspace import Keyspace

MB = 1024 * 1024
BGSAVE_RETRY_DELAY = 5  # seconds before retrying a failed automatic save, as Redis
AUTOSYNC_BYTES = 4 * MB  # Redis's REDIS_AUTOSYNC_BYTES
TICK_INTERVAL = 0.05  # seconds between two ``load_file`` ticks
#: The kinds of forked child (Redis's CHILD_TYPE_RDB, CHILD_TYPE_AOF).
RDB_CHILD = "rdb"
AOF_CHILD = "aof"


def temp_path(directory: str, pid: int) -> str:
    return os.path.join(directory, f"temp-{pid}.mkv")


def write_snapshot(
    keyspace: Keyspace,
    tmp: str,
    progress: Any = None,
    key_delay_us: int = 0,
    dbs: list[int] | None = None,
    functions: Iterable[bytes] = (),
    incremental_fsync: bool = False,
) -> int:
    """Write the whole keyspace to ``tmp`` and fsync it; returns keys written. On any error
    ``tmp`` is removed and the exception propagates.

    ``progress(keys_written)`` is called after each chunk. ``dbs`` limits the walk to those
    database ids (a forked child passes the non-empty ones, counted before the fork: touching
    the 1024 shard dicts of an empty database would still copy the pages that hold them).
    ``functions`` are the function libraries' codes, kept in the header. With
    ``incremental_fsync`` the file is fsynced every 4 MB written (Redis's
    aof-rewrite-incremental-fsync: no burst of dirty pages for the final fsync to flush).
    """
    try:
        # The default small buffer: a chunk (one shard, ~100 KB at 1M keys) larger than it is
        # written straight from the encoder's buffer, where a 1 MB one would copy every chunk
        # into 1 MB of the child's own pages first (copy-on-write counts them).
        with open(tmp, "wb") as f:
            keys = write_stream(
                keyspace, f, progress, key_delay_us, dbs, functions, incremental_fsync
            )
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return keys


def write_stream(
    keyspace: Keyspace,
    f: Any,
    progress: Any = None,
    key_delay_us: int = 0,
    dbs: list[int] | None = None,
    functions: Iterable[bytes] = (),
    incremental_fsync: bool = False,
) -> int:
    """The format writer over any binary stream ``f`` (a file, or the pipe a replication
    child writes to): ``write_snapshot``'s walk without the file. Returns keys written."""
    w = SnapshotWriter(f, functions=functions)
    synced = 0
    volatile = keyspace.volatile_at_fork()
    for db in keyspace.dbs if dbs is None else [keyspace.dbs[i] for i in dbs]:
        # A forked child knows which databases had volatile keys: the expiry shards of the
        # others are not looked at (each look writes a shard dict's reference count).
        shard_expires = db.expires if volatile is None or db.id in volatile else _NO_EXPIRES
        for data, expires in zip(db.data, shard_expires, strict=True):
            if data:
                w.write_chunk(db.id, data, expires)
                if key_delay_us > 0:  # rdb-key-save-delay, for tests
                    time.sleep(key_delay_us * len(data) / 1e6)
                if incremental_fsync and w.bytes_written - synced >= AUTOSYNC_BYTES:
                    f.flush()
                    os.fsync(f.fileno())
                    synced = w.bytes_written
                if progress is not None:
                    progress(w.keys)
    w.finish()
    return w.keys


#: What ``write_stream`` pairs with each shard of a database known to have no volatile keys.
_NO_EXPIRES: list[dict[bytes, int]] = [{}] * NSHARDS


def save_to_file(
    keyspace: Keyspace,
    directory: str,
    filename: str,
    progress: Any = None,
    key_delay_us: int = 0,
    dbs: list[int] | None = None,
    functions: Iterable[bytes] = (),
) -> int:
    """Write the whole keyspace to ``directory/filename`` atomically (``write_snapshot`` to
    ``temp-<pid>.mkv``, rename, fsync the directory); returns keys written. On any error the
    old snapshot is never touched."""
    tmp = temp_path(directory, os.getpid())
    keys = write_snapshot(keyspace, tmp, progress, key_delay_us, dbs, functions)
    try:
        os.replace(tmp, os.path.join(directory, filename))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return keys


@dataclass
class LoadResult:
    loaded: int = 0
    expired: int = 0


def load_file(
    keyspace: Keyspace,
    path: str,
    libraries: Libraries | None = None,
    data: bytes | bytearray | None = None,
    tick: Callable[[], None] | None = None,
) -> LoadResult:
    """Stream a snapshot into an empty keyspace, skipping keys already expired; its function
    libraries go to ``libraries`` first, as Redis loads them before the keys.

    Raises SnapshotError (naming the file and the problem) for a corrupt, truncated or
    unknown-version file, or a library that does not load; the keyspace is then cleared again.
    With ``data`` the snapshot comes from memory (``path`` names it in messages). ``tick`` is
    called between chunks, at most every 50 ms (a replica answers its clients -LOADING then).
    """
    header, chunks, finish = read_snapshot(path, data=data)
    res = LoadResult()
    now = now_ms()
    ndb = len(keyspace.dbs)
    size = len(data) if data is not None else os.path.getsize(path)
    next_report = time.monotonic() + 1.0
    next_tick = time.monotonic() + TICK_INTERVAL
    mask = NSHARDS - 1
    # Nothing being loaded is garbage: a collection pass over a growing heap only costs time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if libraries is not None and header.functions:
            try:
                libraries.restore_codes(header.functions)
            except ReplyError as e:
                raise SnapshotError(
                    f"{path}: a function library does not load: {e.message}"
                ) from None
        for dbid, data, expires in chunks:
            if not 0 <= dbid < ndb:
                raise SnapshotError(f"{path}: database {dbid} out of range (databases {ndb})")
            db = keyspace.dbs[dbid]
            shards = db.data
            # A chunk was one shard where it was written, but the hash seed differs between
            # processes, so every key is placed again: inline here, it is the load's hot loop.
            if expires:
                exp_shards = db.expires
                for key, value in data.items():
                    deadline = expires.get(key)
                    if deadline is not None:
                        if deadline <= now:
                            res.expired += 1
                            continue
                        exp_shards[hash(key) & mask][key] = deadline
                    shards[hash(key) & mask][key] = value
                    res.loaded += 1
            else:
                for key, value in data.items():
                    shards[hash(key) & mask][key] = value
                res.loaded += len(data)
            now_t = time.monotonic()
            if now_t >= next_report:
                log.info(
                    "Loading %s: %d keys so far (file is %.1f MB)", path, res.loaded, size / MB
                )
                next_report += 1.0
            if tick is not None and now_t >= next_tick:
                tick()
                next_tick = time.monotonic() + TICK_INTERVAL
        finish()
    except BaseException:
        keyspace.flushall()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return res


class Libraries(Protocol):
    """The function libraries, as snapshots see them (``minikv.functions.Functions``): data
    kept beside the keyspace, as code."""

    def codes(self) -> list[bytes]: ...

    def restore_codes(self, codes: list[bytes]) -> None: ...


class Persistence:
    """Snapshot state of one server: the running child, last results, COW figures."""

    def __init__(
        self,
        config: Config,
        keyspace: Keyspace,
        close_inherited_fds: Callable[[], None],
        libraries: Libraries | None = None,
    ) -> None:
        """``close_inherited_fds`` runs first thing in a forked child: the server's sockets
        (listeners and clients) are the server's business, not this module's."""
        self.config = config
        self.keyspace = keyspace
        self.libraries = libraries
        self.close_inherited_fds = close_inherited_fds
        self.child_pid = -1
        #: RDB_CHILD or AOF_CHILD while a child runs ("" otherwise), and its done-handler.
        self.child_type = ""
        self._child_done: Callable[[bool, int, float], None] = lambda ok, sig, secs: None
        #: The running child's copy-on-write at its end (its final report).
        self.child_cow = 0
        self.gc_was_enabled = True
        self.child_start = 0.0
        self.child_fd = -1
        self.dirty_before_fork = 0
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_time_sec = -1
        self.saves = 0
        self.last_cow_size = 0
        self.latest_fork_usec = 0
        #: The latency monitor's hook (minikv.watch.Watch.sample), set by the server.
        self.latency_sample: Callable[[str, int], None] = lambda event, ms: None
        self.total_forks = 0
        self.bgsave_scheduled = False
        self.loading = False
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        # current child's reports
        self.cow_current = 0
        self.cow_peak = 0
        self.cow_updated = 0.0
        self.keys_processed = 0
        self.keys_total = 0
        self._cow_samples = 0
        self._cow_sum = 0
        self._dbs_to_save: list[int] = []
        #: Called with the outcome (ok) after each BGSAVE's done-handler: a disk-based
        #: replication sync sends the file it waited for (minikv.replication.primary).
        self.bgsave_listeners: list[Callable[[bool], None]] = []

    def codes(self) -> list[bytes]:
        """The function libraries' codes, which snapshots keep beside the keys."""
        return self.libraries.codes() if self.libraries is not None else []

    @property
    def path(self) -> str:
        cfg = self.config
        return os.path.join(cfg.dir, cfg.dbfilename)

    @property
    def in_progress(self) -> bool:
        """A child (of either kind) is running: one at a time, as Redis."""
        return self.child_pid > 0

    @property
    def bgsave_in_progress(self) -> bool:
        return self.child_type == RDB_CHILD

    # --- loading -----------------------------------------------------------------------------

    def load_on_start(self, snapshot: bool = True) -> None:
        """Load the snapshot (unless ``snapshot`` is False: the AOF was loaded instead)."""
        if snapshot and os.path.exists(self.path):
            self.load(self.path)
        elif self.keyspace.memory.tracking:  # the AOF was loaded: maxmemory's count
            self.keyspace.memory.recount()
        # Everything alive now (the loaded dataset, the server's own objects) lives until it is
        # deleted, and values hold no reference cycles, so the collector need never scan it
        # again: with 1M mixed keys one full collection is a ~330 ms stall. No client exists
        # yet, so nothing frozen here can become cyclic garbage later. (Freed by reference
        # counting as usual when deleted.)
        gc.freeze()

    def load(self, path: str) -> None:
        """Load ``path`` into the (empty) keyspace; raises SnapshotError for a bad file."""
        self.loading = True
        t0 = time.monotonic()
        try:
            res = load_file(self.keyspace, path, self.libraries)
        finally:
            self.loading = False
        if self.keyspace.memory.tracking:  # loaded keys were not measured one by one
            self.keyspace.memory.recount()
        self.last_load_keys_loaded = res.loaded
        self.last_load_keys_expired = res.expired
        log.info(
            "Done loading snapshot, keys loaded: %d, keys expired: %d.", res.loaded, res.expired
        )
        log.info("DB loaded from disk: %.3f seconds", time.monotonic() - t0)

    # --- SAVE ----------------------------------------------------------------------------------

    def save(self) -> None:
        """Synchronous save in the server process (SAVE, SHUTDOWN)."""
        cfg = self.config
        ks = self.keyspace
        dirty = ks.dirty
        try:
            save_to_file(ks, cfg.dir, cfg.dbfilename, functions=self.codes())
        except OSError as e:
            log.warning(
                "Failed opening the temp snapshot file %s (in server root dir %s) for saving: %s",
                f"temp-{os.getpid()}.mkv",
                cfg.dir,
                e.strerror,
            )
            self.last_bgsave_ok = False
            raise
        log.info("DB saved on disk")
        ks.dirty -= dirty
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1

    # --- BGSAVE ---------------------------------------------------------------------------------

    def bgsave(self) -> int:
        """Fork a child that writes the snapshot; returns its pid. Raises OSError if fork fails."""
        ks = self.keyspace
        sizes = [len(db) for db in ks.dbs]
        self._dbs_to_save = [i for i, n in enumerate(sizes) if n]
        self.dirty_before_fork = ks.dirty
        self.last_bgsave_try = time.time()
        cfg = self.config
        codes = self.codes()  # here, as the AOF rewrite does: less Python in the child
        try:
            pid = self.fork_child(
                RDB_CHILD,
                lambda progress: save_to_file(
                    self.keyspace,
                    cfg.dir,
                    cfg.dbfilename,
                    progress,
                    cfg.rdb_key_save_delay,
                    self._dbs_to_save,
                    codes,
                ),
                self._bgsave_done,
                keys_total=sum(sizes),
            )
        except OSError:
            self.last_bgsave_ok = False
            raise
        self.bgsave_scheduled = False
        log.info("Background saving started by pid %d", pid)
        return pid

    def fork_child(
        self,
        kind: str,
        work: Callable[[Callable[[int], None]], int],
        done: Callable[[bool, int, float], None],
        keys_total: int,
    ) -> int:
        """Fork a child of ``kind`` (``RDB_CHILD``, ``AOF_CHILD``) that runs
        ``work(progress) -> keys written`` on the frozen data, reporting progress and
        copy-on-write through a pipe; returns its pid. When the cron reaps it, ``done(ok,
        signal, seconds)`` is its done-handler (``signal`` the one that ended it, or 0). One
        child at a time: the caller checks ``in_progress``. Raises OSError if fork fails."""
        assert self.child_pid <= 0, "one child at a time"
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        for warning in (fork_memory_warning(rss_bytes()), fork_headroom_warning(anon_rss())):
            if warning:
                log.warning("WARNING %s", warning)
        # No collection in the parent while the child runs: it would write the GC header of
        # every tracked object (copy-on-write). Disabled rather than frozen, so the objects
        # frozen at start-up stay frozen after the save.
        self.gc_was_enabled = gc.isenabled()
        gc.disable()
        self.keyspace.note_volatile(True)
        t0 = time.perf_counter_ns()
        try:
            pid = os.fork()
        except OSError:
            self.keyspace.note_volatile(False)
            self._restore_gc()
            os.close(rfd)
            os.close(wfd)
            raise
        if pid == 0:  # child: never returns
            os.close(rfd)
            self._child(wfd, kind, work)
        self.latest_fork_usec = (time.perf_counter_ns() - t0) // 1000
        self.latency_sample("fork", self.latest_fork_usec // 1000)  # LATENCY's "fork" event
        self.keyspace.memory.child_running(True)  # no access records written meanwhile
        self.total_forks += 1
        os.close(wfd)
        self.child_pid = pid
        self.child_type = kind
        self._child_done = done
        self.child_fd = rfd
        self.child_start = time.time()
        self.keys_total = keys_total
        self.cow_current = self.cow_peak = 0
        self.cow_updated = 0.0
        self.keys_processed = 0
        self.child_cow = 0
        self._cow_samples = self._cow_sum = 0
        return pid

    def _child(self, wfd: int, kind: str, work: Callable[[Callable[[int], None]], int]) -> None:
        code = 1
        try:
            set_role("C")
            gc.disable()
            # _signal's functions, not signal.py's wrappers: those convert through the enum
            # machinery, cold code whose first run here would copy its pages.
            _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
            _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
            try:
                _signal.set_wakeup_fd(-1)
            except ValueError:
                pass
            self.close_inherited_fds()
            sampler = CowSampler()
            next_report = time.monotonic() + 1.0

            def progress(keys: int) -> None:
                nonlocal next_report
                if sampler.maybe_sample():
                    now = time.monotonic()
                    if now >= next_report:
                        childinfo.send(
                            wfd,
                            childinfo.PROGRESS,
                            keys,
                            sampler.current,
                            sampler.peak,
                            time.time(),
                        )
                        next_report = now + 1.0

            keys = work(progress)
            cow = sampler.sample()
            childinfo.send(wfd, childinfo.FINAL, keys, cow, sampler.peak, time.time())
            if kind == RDB_CHILD:
                log.info("DB saved on disk")
            log.info(
                "Fork CoW for %s: current %d MB, peak %d MB, average %d MB",
                "snapshot" if kind == RDB_CHILD else "AOF rewrite",
                sampler.current // MB,
                sampler.peak // MB,
                sampler.average // MB,
            )
            code = 0
        except BaseException as e:  # the child must never return into the event loop
            with contextlib.suppress(BaseException):
                if kind == RDB_CHILD:
                    log.warning("Write error saving DB on disk: %s", e)
                else:
                    log.warning("Write error writing append only file on disk: %s", e)
        finally:
            os._exit(code)

    def check_child(self) -> None:
        """From the cron: read reports; reap a finished child and apply its result."""
        if self.child_pid <= 0:
            return
        self._drain()
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child_pid, 255 << 8
        if pid == 0:
            return
        self._drain()
        self._done(status)

    def _drain(self) -> None:
        for msg in childinfo.receive(self.child_fd):
            self.keys_processed = msg.keys
            self.cow_current = msg.cow
            self.cow_peak = max(self.cow_peak, msg.cow_peak)
            self.cow_updated = msg.when
            self._cow_samples += 1
            self._cow_sum += msg.cow
            if msg.kind == childinfo.FINAL:
                self.child_cow = msg.cow

    def _done(self, status: int) -> None:
        """The common part of the done-handlers (the only place a child's result changes the
        parent's state): the child's own handler, then the child's state cleared."""
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        elapsed = time.time() - self.child_start
        done = self._child_done
        try:
            done(ok, sig, elapsed)
        finally:
            os.close(self.child_fd)
            self.child_fd = -1
            self.child_pid = -1
            self.child_type = ""
            self.cow_current = 0
            self.keyspace.memory.child_running(False)
            self.keyspace.note_volatile(False)
            self._restore_gc()

    def _bgsave_done(self, ok: bool, sig: int, elapsed: float) -> None:
        """BGSAVE's done-handler: status, ``lastsave``, the dirty counter minus the changes
        made before the fork, removal of a failed child's temp file."""
        self.last_bgsave_time_sec = round(elapsed)
        ks = self.keyspace
        if ok:
            log.info("Background saving terminated with success")
            ks.dirty -= self.dirty_before_fork
            self.lastsave = int(time.time())
            self.last_bgsave_ok = True
            self.saves += 1
            self.last_cow_size = self.child_cow
            if self.last_cow_size:
                log.info(
                    "Snapshot: %d MB of memory used by copy-on-write", self.last_cow_size // MB
                )
        else:
            if sig:
                log.warning("Background saving terminated by signal %d", sig)
            else:
                log.warning("Background saving error")
            # A save killed on purpose (SIGUSR1: FLUSHALL, SHUTDOWN) is not a failed one.
            self.last_bgsave_ok = sig == signal.SIGUSR1
            with contextlib.suppress(OSError):
                os.unlink(temp_path(self.config.dir, self.child_pid))
        for listener in list(self.bgsave_listeners):
            listener(ok)

    def _restore_gc(self) -> None:
        if self.gc_was_enabled:
            gc.enable()

    def kill_child(self, kind: str = "") -> None:
        """Stop a running child (of ``kind``, or any) and wait for it (FLUSHALL, SHUTDOWN,
        DEBUG RELOAD): SIGUSR1, which its done-handler does not count as a failure."""
        if self.child_pid <= 0 or (kind and self.child_type != kind):
            return
        pid = self.child_pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR1)
        _, status = os.waitpid(pid, 0)
        self._drain()
        self._done(status)

    def wait_child(self) -> None:
        """Block until the running child ends and apply its result (SHUTDOWN, tests)."""
        if self.child_pid > 0:
            _, status = os.waitpid(self.child_pid, 0)
            self._drain()
            self._done(status)

    # --- cron ------------------------------------------------------------------------------------

    def cron(self) -> None:
        self.check_child()
        if self.child_pid > 0:
            return
        cfg = self.config
        now = time.time()
        if self.bgsave_scheduled:
            self._try_bgsave("scheduled")
            return
        dirty = self.keyspace.dirty
        for secs, changes in cfg.save:
            if (
                dirty >= changes
                and now - self.lastsave > secs
                and (self.last_bgsave_ok or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY)
            ):
                log.info("%d changes in %d seconds. Saving...", changes, secs)
                self._try_bgsave("save point")
                break

    def _try_bgsave(self, why: str) -> None:
        try:
            self.bgsave()
        except OSError as e:
            log.warning("Can't save in background (%s): fork: %s", why, e.strerror)

    # --- MISCONF ---------------------------------------------------------------------------------

    def writes_refused(self) -> bool:
        cfg = self.config
        return bool(cfg.stop_writes_on_bgsave_error and cfg.save and not self.last_bgsave_ok)

    def cow_average(self) -> int:
        return self._cow_sum // self._cow_samples if self._cow_samples else 0


def child_private_dirty() -> int:
    """Exposed for tests and benchmarks."""
    return private_dirty_bytes()
