"""The append-only file: every change logged as it happens, fsynced by policy, rewritten by fork.

The layers, as Redis's aof.c:

* **Feeding** — the AOF is a consumer of the propagation stream (``minikv.propagation``): each
  unit of execution arrives as the commands that replay it (absolute expiries, effects of
  scripts, MULTI/EXEC around several), with ``SELECT`` added when the database changes, and is
  appended to ``buf`` as RESP.
* **Flushing** (``flush``, Redis's flushAppendOnlyFile) — ``buf`` is written to the current
  incremental file before any reply of that work leaves: while it holds anything, clients
  hand their replies to ``before_reply``, which keeps them (``held``) until the end of the
  event-loop turn, when one write (and with ``appendfsync always`` one fdatasync) covers
  every write of the turn, as Redis writes its buffer in beforeSleep; ``everysec``
  hands an fdatasync to a worker thread at most once a second (never blocking the loop;
  while one is still running, writes wait up to 2 s, then go anyway and count
  ``aof_delayed_fsync``); ``no`` leaves it to the kernel. A failed or short write is undone
  (ftruncate to the last good size), the data stays in ``buf``, writes are refused with
  MISCONF, and the cron retries every second until it works.
* **Rewriting** (``rewrite``, Redis's rewriteAppendOnlyFileBackground) — a new incremental
  file is opened at once (listed in the manifest before the fork: Redis 7 keeps no rewrite
  buffer), then a child forked by ``Persistence.fork_child`` writes the frozen data as a new
  base with the snapshot writer. Only its done-handler changes the files the manifest names.
* **Loading** (``load``) — base (a snapshot) then the incremental files replayed on an
  internal client under a stopped clock, before the server listens.

One deliberate difference from Redis: with ``always``, a failed write or fsync does not end the
process; the replies it would have acknowledged are never sent (those clients are
disconnected) and writes are refused until the log can be written again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from minikv.commands import lookup
from minikv.internal_client import InternalClient
from minikv.keyspace import clock_stopped
from minikv.log import log
from minikv.persistence.aoffiles import (
    BASE,
    TEMP_PREFIX,
    AofFormatError,
    AofInfo,
    Manifest,
    ManifestError,
    Truncated,
    encode_argv,
    load_manifest,
    persist_manifest,
    read_commands,
)
from minikv.persistence.format import SnapshotError
from minikv.persistence.snapshot import AOF_CHILD, load_file, write_snapshot
from minikv.propagation import REPLICAS_ONLY, CommandStream, Op
from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import ServerView
    from minikv.config import Config
    from minikv.persistence.snapshot import Persistence

OFF = "off"
ON = "on"
#: Turned on at run time: logging into a temporary file until the first base is written.
WAIT_REWRITE = "wait_rewrite"
#: How long writes wait for a slow background fsync (everysec) before going anyway.
MAX_POSTPONE_SECS = 2
WRITE_ERROR_LOG_RATE = 30  # seconds between two logs of the same write error, as Redis
REWRITE_LIMIT_THRESHOLD = 3  # consecutive failures before automatic rewrites back off
REWRITE_LIMIT_MAX_MINUTES = 60


class AofLoadError(Exception):
    """The append-only file cannot be loaded: the server must not start (files untouched)."""


class Holder(Protocol):
    """A client whose replies ``always`` may hold back until they are durable."""

    def write_reply(self, data: bytes) -> None: ...

    def close_now(self) -> None: ...

    def drop_unacknowledged(self) -> None: ...


class AppendOnlyFile:
    """The append-only file of one server."""

    def __init__(self, config: Config, server: ServerView, persistence: Persistence) -> None:
        self.config = config
        self.server = server
        self.keyspace = server.keyspace
        self.persistence = persistence
        self._state = OFF
        #: ``state != OFF``, kept as a plain bool: clients read it before every write.
        self.active = False
        self.manifest = Manifest()
        self.fd = -1
        self.buf = bytearray()
        #: (client, reply bytes or None for "close") held until the turn's fsync (always).
        self.held: list[tuple[Any, bytes | None]] = []
        self.stream = CommandStream()
        self._flush_scheduled = False
        self.call_soon: Callable[[Callable[[], None]], Any] | None = None
        # sizes: the whole AOF (base + incr files) and the current incr file
        self.current_size = 0
        self.base_size = 0
        self.incr_size = 0
        self.incr_fsynced = 0  # how much of the current incr file is fsynced (or being)
        self.rewrite_base_size = 0  # current_size after the last rewrite (automatic growth)
        self.last_fsync = 0.0
        self._fsync: Future[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.postponed_since = 0.0
        self.delayed_fsync = 0
        self.write_ok = True  # the last write worked (Redis's aof_last_write_status)
        self.fsync_ok = True  # and the last fsync (aof_bio_fsync_status)
        self.write_errno = 0
        self._last_error_log = 0.0
        # rewrites
        self.rewrite_scheduled = False
        self.rewrite_start = -1.0
        self.last_rewrite_time_sec = -1
        self.last_rewrite_ok = True
        self.rewrites = 0
        self.consecutive_failures = 0
        self.last_cow_size = 0
        self._next_delay_minutes = 0
        self._next_rewrite_time = 0.0

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state = value
        self.active = value != OFF

    # --- paths -------------------------------------------------------------------------------

    @property
    def dirpath(self) -> str:
        return os.path.join(self.config.dir, self.config.appenddirname)

    @property
    def prefix(self) -> str:
        return self.config.appendfilename

    def _path(self, name: str) -> str:
        return os.path.join(self.dirpath, name)

    def _temp_incr_name(self) -> str:
        return f"{TEMP_PREFIX}{self.prefix}.incr"

    def _rewrite_temp(self, pid: int) -> str:
        return os.path.join(self.config.dir, f"temp-rewriteaof-bg-{pid}.aof")

    # --- feeding -----------------------------------------------------------------------------

    def __call__(self, ops: list[Op]) -> None:
        """The propagation consumer: append a unit of execution to the buffer."""
        if self.state == WAIT_REWRITE and self.persistence.child_type != AOF_CHILD:
            return  # the base that the coming rewrite writes will hold it
        ops = [op for op in ops if op[0] != REPLICAS_ONLY]
        if not ops:
            return
        buf = self.buf
        for argv in self.stream.commands(ops):
            buf += encode_argv(argv)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        if self.call_soon is None:
            self.end_of_turn()
        else:
            self.call_soon(self.end_of_turn)

    def before_reply(self, client: Holder, data: bytes | None) -> bool:
        """A client is about to send ``data`` (None: about to close). Returns True if the
        AOF holds it back until the end of this event-loop turn, when one write (and with
        ``always`` one fdatasync) covers every write of the turn, as Redis writes its buffer
        in beforeSleep: replies never leave before the writes they acknowledge are logged.
        Once a client's reply is held, its later ones are too (order)."""
        always = self.config.appendfsync == "always"
        if (
            self.state != OFF
            and (self.buf or self.held or (always and self.incr_fsynced != self.incr_size))
            # After a failure writes are refused (MISCONF), so later replies acknowledge no
            # write: they go out (a read may then see a write not yet on disk).
            and self.status_ok
        ):
            self.held.append((client, data))
            self._schedule_flush()
            return True
        return False

    @property
    def turn_pending(self) -> bool:
        """This turn has writes to log (and maybe replies held for them)."""
        return self._flush_scheduled

    def end_of_turn(self) -> None:
        """After the event-loop turn that produced writes: write (and with ``always``
        fsync) the buffer, then release the replies held for it."""
        self._flush_scheduled = False
        if self.state != OFF:
            self.flush(force=False)
        held, self.held = self.held, []
        if not held:
            return
        # With everysec and no a failed write is retried from the buffer and the replies go
        # out (Redis's behaviour); with always they would acknowledge what is not on disk.
        durable = self.config.appendfsync != "always" or (
            not self.buf and self.write_ok and self.fsync_ok
        )
        for client, data in held:
            if not durable:
                client.drop_unacknowledged()
            elif data is None:
                client.close_now()
            else:
                client.write_reply(data)

    # --- flushing ------------------------------------------------------------------------------

    def flush(self, force: bool) -> None:
        """Redis's flushAppendOnlyFile: write the buffer, then fsync as the policy says."""
        if self.fd < 0:
            return
        policy = self.config.appendfsync
        self._check_fsync_result()
        in_progress = self._fsync_in_progress()
        if not self.buf:
            if self.incr_fsynced != self.incr_size and (
                policy == "always"
                or (policy == "everysec" and time.time() - self.last_fsync >= 1 and not in_progress)
            ):
                self._sync(policy, in_progress)
            return
        if policy == "everysec" and not force and in_progress:
            now = time.time()
            if not self.postponed_since:
                self.postponed_since = now
                return
            if now - self.postponed_since < MAX_POSTPONE_SECS:
                return
            self.delayed_fsync += 1
            log.info(
                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF "
                "buffer without waiting for fsync to complete, this may slow down Redis."
            )
        self.postponed_since = 0.0
        t0 = time.perf_counter_ns()
        wrote = self._write()
        # The latency monitor's AOF write events, named as Redis names them.
        ms = (time.perf_counter_ns() - t0) // 1_000_000
        sample = self.server.watch.sample
        if in_progress:
            sample("aof-write-pending-fsync", ms)
        elif self.persistence.in_progress:
            sample("aof-write-active-child", ms)
        else:
            sample("aof-write-alone", ms)
        sample("aof-write", ms)
        if not wrote:
            return
        self._sync(policy, self._fsync_in_progress())

    def _write(self) -> bool:
        buf = self.buf
        expected = len(buf)
        written = 0
        err: OSError | None = None
        try:
            while written < expected:  # os.write may be partial; a full disk stops it
                n = os.write(self.fd, buf[written:] if written else buf)
                if n <= 0:
                    break
                written += n
        except OSError as e:
            err = e
        if written == expected:
            if not self.write_ok:
                log.warning("AOF write error looks solved, Redis can write again.")
                self.write_ok = True
            self.incr_size += written
            self.current_size += written
            buf.clear()
            return True
        can_log = time.time() - self._last_error_log > WRITE_ERROR_LOG_RATE
        if can_log:
            self._last_error_log = time.time()
        if written == 0 and err is not None:
            if can_log:
                log.warning("Error writing to the AOF file: %s", err.strerror)
            self.write_errno = err.errno or errno.EIO
        else:
            if can_log:
                log.warning(
                    "Short write while writing to the AOF file: (nwritten=%d, expected=%d)",
                    written,
                    expected,
                )
            try:
                os.ftruncate(self.fd, self.incr_size)
                os.lseek(self.fd, 0, os.SEEK_END)
                written = 0  # nothing partial is left in the file
            except OSError as e:
                if can_log:
                    log.warning(
                        "Could not remove short write from the append-only file.  Redis may "
                        "refuse to load the AOF the next time it starts.  ftruncate: %s",
                        e.strerror,
                    )
            self.write_errno = errno.ENOSPC
        self.write_ok = False
        if written > 0:  # kept in the file: drop it from the buffer
            self.incr_size += written
            self.current_size += written
            del buf[:written]
        return False

    def _sync(self, policy: str, in_progress: bool) -> None:
        if self.config.no_appendfsync_on_rewrite and self.persistence.in_progress:
            return
        if policy == "always":
            try:
                t0 = time.perf_counter_ns()
                os.fdatasync(self.fd)
                ms = (time.perf_counter_ns() - t0) // 1_000_000
                self.server.watch.sample("aof-fsync-always", ms)
            except OSError as e:
                log.warning(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': "
                    "%s. Writes are refused until it works again.",
                    e.strerror,
                )
                self.fsync_ok = False
                self.write_errno = e.errno or errno.EIO
                return
            self.fsync_ok = True
            self.incr_fsynced = self.incr_size
            self.last_fsync = time.time()
        elif policy == "everysec":
            now = time.time()
            if now - self.last_fsync < 1:
                return
            if not in_progress:
                self._background(os.fdatasync, self.fd)
                self.incr_fsynced = self.incr_size
            self.last_fsync = now

    def _background(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` in the one background thread (Redis's bio): jobs run in order, so a
        close queued after an fsync of the same file waits for it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="aof-fsync")
        fut = self._executor.submit(fn, *args)
        if fn is os.fdatasync:
            self._fsync = fut

    def _fsync_in_progress(self) -> bool:
        return self._fsync is not None and not self._fsync.done()

    @property
    def pending_fsync(self) -> int:
        return int(self._fsync_in_progress())

    def _check_fsync_result(self) -> None:
        fut = self._fsync
        if fut is None or not fut.done():
            return
        self._fsync = None
        exc = fut.exception()
        if isinstance(exc, OSError):
            log.warning("Fail to fsync the AOF file: %s", exc.strerror)
            self.fsync_ok = False
            self.write_errno = exc.errno or errno.EIO
            self.incr_fsynced = 0  # not known to be on disk: fsync again
        else:
            self.fsync_ok = True

    def sync_now(self) -> None:
        """Write and fsync everything (shutdown, turning the AOF off): waits for the disk."""
        if self.fd < 0:
            return
        self.flush(force=True)
        if self._executor is not None:
            self._executor.submit(lambda: None).result()  # the queued fsyncs and closes
        self._check_fsync_result()
        try:
            os.fsync(self.fd)
            self.incr_fsynced = self.incr_size
            self.last_fsync = time.time()
        except OSError as e:
            log.warning("Fail to fsync the AOF file: %s", e.strerror)

    @property
    def status_ok(self) -> bool:
        """INFO's aof_last_write_status: the last write and the last fsync worked."""
        return self.write_ok and self.fsync_ok

    def misconf(self) -> ReplyError | None:
        """Redis's MISCONF for a failed AOF write or fsync, or None."""
        if self.status_ok or self.state == OFF:
            return None
        return ReplyError(
            f"MISCONF Errors writing to the AOF file: {os.strerror(self.write_errno)}"
        )

    # --- opening files -------------------------------------------------------------------------

    def _open_incr(self, name: str, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
        return os.open(self._path(name), flags, 0o644)

    def _switch_fd(self, fd: int, size: int) -> None:
        old = self.fd
        if old >= 0:
            # The old file's data: fsynced by the background thread before it closes it.
            self._background(os.fdatasync, old)
            self._background(os.close, old)
        self.fd = fd
        self.incr_size = self.incr_fsynced = size
        self.last_fsync = time.time()

    def open_on_start(self) -> None:
        """Redis's aofOpenIfNeededOnServerStart: a base of the loaded data if the AOF has no
        file yet, the last incremental file opened for appending (or a new one), the
        manifest persisted. Raises OSError (the server must not start)."""
        os.makedirs(self.dirpath, exist_ok=True)
        m = self.manifest
        had_incr = bool(m.incrs)
        if m.base is None and not m.incrs:
            base = m.new_base(self.prefix)
            tmp = self._rewrite_temp(os.getpid())
            write_snapshot(self.keyspace, tmp, functions=self.persistence.codes())
            os.replace(tmp, self._path(base.name))
            log.info("Creating AOF base file %s on server start", base.name)
        if not m.incrs:
            m.new_incr(self.prefix)
        name = m.incrs[-1].name
        fd = self._open_incr(name, truncate=False)
        try:
            persist_manifest(self.dirpath, self.prefix, m)
        except BaseException:
            os.close(fd)
            raise
        self._switch_fd(fd, os.fstat(fd).st_size)
        log.info("%s AOF incr file %s on server start", "Opening" if had_incr else "Creating", name)
        self._delete_history()
        self._measure()
        self.rewrite_base_size = self.current_size
        self.stream.db = -1
        self.state = ON
        self._attach()

    def _attach(self) -> None:
        consumers = self.keyspace.propagation.consumers
        if self not in consumers:
            consumers.append(self)

    def _detach(self) -> None:
        consumers = self.keyspace.propagation.consumers
        if self in consumers:
            consumers.remove(self)

    def _measure(self) -> None:
        self.base_size = _size(self._path(self.manifest.base.name)) if self.manifest.base else 0
        incr = sum(_size(self._path(i.name)) for i in self.manifest.incrs)
        self.current_size = self.base_size + incr

    def _delete_history(self) -> None:
        m = self.manifest
        if not m.history:
            return
        for info in m.history:
            log.info("Removing the history file %s", info.name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(info.name))
        m.history = []
        try:
            persist_manifest(self.dirpath, self.prefix, m)
        except OSError as e:  # harmless: the files are gone, the next persist drops them
            log.warning("Can't persist the AOF manifest without history: %s", e.strerror)

    # --- turning it on and off at run time -------------------------------------------------------

    def start(self) -> bool:
        """CONFIG SET appendonly yes (Redis's startAppendOnly): log into a temporary file
        while a rewrite writes the first base. Returns False if that cannot start."""
        assert self.state == OFF
        self.state = WAIT_REWRITE
        p = self.persistence
        if p.in_progress and p.child_type != AOF_CHILD:
            self.rewrite_scheduled = True
            log.warning(
                "AOF was enabled but there is already another background operation. An AOF "
                "background was scheduled to start when possible."
            )
        else:
            if p.child_type == AOF_CHILD:
                log.warning(
                    "AOF was enabled but there is already an AOF rewriting in background. "
                    "Stopping background AOF and starting a rewrite now."
                )
                self.kill_child()
            if not self.rewrite():
                self.state = OFF
                log.warning(
                    "Redis needs to enable the AOF but can't trigger a background AOF rewrite "
                    "operation. Check the above logs for more info about the error."
                )
                return False
        self.last_fsync = time.time()
        self.write_ok = self.fsync_ok = True
        self._attach()
        return True

    def stop(self) -> None:
        """CONFIG SET appendonly no (Redis's stopAppendOnly)."""
        if self.state == OFF:
            return
        self.sync_now()
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
        self.state = OFF
        self._detach()
        self.stream.db = -1
        self.rewrite_scheduled = False
        self.incr_size = self.incr_fsynced = 0
        self.kill_child()
        self.buf.clear()
        self.end_of_turn()  # replies held for an fsync that has happened

    # --- rewriting -------------------------------------------------------------------------------

    def rewrite(self) -> bool:
        """Redis's rewriteAppendOnlyFileBackground: open a new incremental file, then fork a
        child that writes a new base. False (logged) if it could not start."""
        p = self.persistence
        assert not p.in_progress
        try:
            os.makedirs(self.dirpath, exist_ok=True)
        except OSError as e:
            log.warning("Can't open or create append-only dir %s: %s", self.dirpath, e.strerror)
            self.last_rewrite_ok = False
            return False
        self.flush(force=True)
        try:
            self._open_new_incr()
        except OSError:
            self.last_rewrite_ok = False
            return False
        self.stream.db = -1  # the new file starts with a SELECT
        self.rewrites += 1
        sizes = [len(db) for db in self.keyspace.dbs]
        dbs = [i for i, n in enumerate(sizes) if n]
        cfg = self.config
        codes = p.codes()
        try:
            pid = p.fork_child(
                AOF_CHILD,
                lambda progress: write_snapshot(
                    self.keyspace,
                    self._rewrite_temp(os.getpid()),
                    progress,
                    cfg.rdb_key_save_delay,
                    dbs,
                    codes,
                    incremental_fsync=cfg.aof_rewrite_incremental_fsync,
                ),
                self._rewrite_done,
                keys_total=sum(sizes),
            )
        except OSError as e:
            log.warning("Can't rewrite append only file in background: fork: %s", e.strerror)
            self.last_rewrite_ok = False
            return False
        log.info("Background append only file rewriting started by pid %d", pid)
        self.rewrite_scheduled = False
        self.rewrite_start = time.time()
        return True

    def _open_new_incr(self) -> None:
        """Redis's openNewIncrAofForAppend: ON — the next incremental file, in the manifest
        at once; WAIT_REWRITE — a temporary one, named in the manifest when the base exists."""
        if self.state == OFF:
            return
        if self.state == WAIT_REWRITE:
            name = self._temp_incr_name()
            manifest = None
        else:
            manifest = self.manifest.copy()
            name = manifest.new_incr(self.prefix).name
        try:
            fd = self._open_incr(name, truncate=True)
        except OSError as e:
            log.warning("Can't open the append-only file %s: %s", name, e.strerror)
            raise
        if manifest is not None:
            try:
                persist_manifest(self.dirpath, self.prefix, manifest)
            except OSError as e:
                log.warning("Can't persist the AOF manifest: %s", e.strerror)
                os.close(fd)
                raise
            self.manifest = manifest
        log.info("Creating AOF incr file %s on background rewrite", name)
        self._switch_fd(fd, 0)

    def _rewrite_done(self, ok: bool, sig: int, elapsed: float) -> None:
        """Redis's backgroundRewriteDoneHandler (the only place a rewrite's result changes
        the files): the new base renamed in, older files to history, the manifest switched,
        history deleted."""
        pid = self.persistence.child_pid
        tmp = self._rewrite_temp(pid)
        try:
            if ok:
                log.info("Background AOF rewrite terminated with success")
                self._install_rewrite(tmp)
            elif sig:
                log.warning("Background AOF rewrite terminated by signal %d", sig)
                if sig != signal.SIGUSR1:  # a kill on purpose is not a failure
                    self._rewrite_failed()
            else:
                log.warning("Background AOF rewrite terminated with error")
                self._rewrite_failed()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if self.state == WAIT_REWRITE:  # not switched on: start over
                self.buf.clear()
                with contextlib.suppress(OSError):
                    os.unlink(self._path(self._temp_incr_name()))
                if self.fd >= 0:
                    os.close(self.fd)
                    self.fd = -1
                self.rewrite_scheduled = True
            self.last_rewrite_time_sec = round(elapsed)
            self.rewrite_start = -1.0
            if ok:
                self.last_cow_size = self.persistence.child_cow

    def _rewrite_failed(self) -> None:
        self.last_rewrite_ok = False
        self.consecutive_failures += 1

    def _install_rewrite(self, tmp: str) -> None:
        m = self.manifest.copy()
        base = m.new_base(self.prefix)
        base_path = self._path(base.name)
        try:
            os.replace(tmp, base_path)
        except OSError as e:
            log.warning(
                "Error trying to rename the temporary AOF base file %s into %s: %s",
                os.path.basename(tmp),
                base_path,
                e.strerror,
            )
            self._rewrite_failed()
            return
        log.info(
            "Successfully renamed the temporary AOF base file %s into %s",
            os.path.basename(tmp),
            base.name,
        )
        keep: AofInfo | None = m.incrs[-1] if m.incrs else None
        new_incr_path = ""
        if self.state == WAIT_REWRITE:
            m.incrs_to_history(None)
            keep = m.new_incr(self.prefix)
            new_incr_path = self._path(keep.name)
            temp_incr = self._temp_incr_name()
            try:
                os.replace(self._path(temp_incr), new_incr_path)
            except OSError as e:
                log.warning(
                    "Error trying to rename the temporary AOF incr file %s into %s: %s",
                    temp_incr,
                    new_incr_path,
                    e.strerror,
                )
                with contextlib.suppress(OSError):
                    os.unlink(base_path)
                self._rewrite_failed()
                return
            log.info(
                "Successfully renamed the temporary AOF incr file %s into %s",
                temp_incr,
                keep.name,
            )
        else:
            m.incrs_to_history(keep)
        try:
            persist_manifest(self.dirpath, self.prefix, m)
        except OSError as e:
            log.warning("Can't persist the AOF manifest: %s", e.strerror)
            for path in (base_path, new_incr_path):
                if path:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            self._rewrite_failed()
            return
        self.manifest = m
        if self.state != OFF:
            self.base_size = _size(base_path)
            self.current_size = self.base_size + self.incr_size
            self.rewrite_base_size = self.current_size
        self._delete_history()
        self.last_rewrite_ok = True
        self.consecutive_failures = 0
        log.info("Background AOF rewrite finished successfully")
        if self.state == WAIT_REWRITE:
            self.state = ON

    def kill_child(self) -> None:
        """Stop a running rewrite (Redis's killAppendOnlyChild)."""
        p = self.persistence
        if p.child_type != AOF_CHILD:
            return
        log.info("Killing running AOF rewrite child: %d", p.child_pid)
        p.kill_child(AOF_CHILD)

    def rewrite_limited(self) -> bool:
        """Redis's aofRewriteLimited: after 3 failures in a row, automatic rewrites wait 1,
        2, 4... up to 60 minutes between tries (BGREWRITEAOF still runs at once)."""
        if self.consecutive_failures < REWRITE_LIMIT_THRESHOLD:
            self._next_delay_minutes = 0
            self._next_rewrite_time = 0.0
            return False
        now = time.time()
        if self._next_rewrite_time:
            if now < self._next_rewrite_time:
                return True
            self._next_rewrite_time = 0.0
            return False
        self._next_delay_minutes = min(
            max(1, self._next_delay_minutes * 2), REWRITE_LIMIT_MAX_MINUTES
        )
        self._next_rewrite_time = now + self._next_delay_minutes * 60
        log.warning(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry "
            "in %d minutes",
            self._next_delay_minutes,
        )
        return True

    # --- cron ------------------------------------------------------------------------------------

    def cron(self) -> None:
        """From the server's cron: postponed writes, the everysec fsync, retries after a write
        error, scheduled and automatic rewrites."""
        if self.state != OFF:
            self.flush(force=False)
            if self.held:
                self.end_of_turn()
        p = self.persistence
        if p.in_progress:
            return
        if self.rewrite_scheduled and not self.rewrite_limited():
            self.rewrite()
            return
        cfg = self.config
        if (
            self.state == ON
            and cfg.auto_aof_rewrite_percentage
            and self.current_size > cfg.auto_aof_rewrite_min_size
        ):
            base = self.rewrite_base_size or 1
            growth = self.current_size * 100 // base - 100
            if growth >= cfg.auto_aof_rewrite_percentage and not self.rewrite_limited():
                log.info("Starting automatic rewriting of AOF on %d%% growth", growth)
                self.rewrite()

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> bool:
        """Load the AOF named by the manifest into the empty keyspace; False if there is no
        AOF yet. Raises AofLoadError (logged) for anything that must stop the start."""
        try:
            m = load_manifest(self.dirpath, self.prefix)
        except ManifestError as e:
            log.warning("*** FATAL AOF MANIFEST FILE ERROR ***")
            if e.line:
                log.warning("Reading the manifest file, at line %d", e.lineno)
                log.warning(">>> '%s'", e.line)
            log.warning("%s", e.message)
            raise AofLoadError(e.message) from None
        except OSError as e:
            raise AofLoadError(
                f"Fatal error: can't open the AOF manifest file for reading: {e.strerror}"
            ) from None
        if m is None:
            return False
        self.manifest = m
        files = m.files()
        for info in files:
            if not os.path.exists(self._path(info.name)):
                log.warning("The AOF file %s doesn't exist", info.name)
                raise AofLoadError(f"The AOF file {info.name} doesn't exist")
        t0 = time.monotonic()
        p = self.persistence
        p.loading = True
        try:
            with clock_stopped():
                for i, info in enumerate(files):
                    path = self._path(info.name)
                    if info.type == BASE:
                        log.info("Reading RDB base file on AOF loading...")
                        try:
                            res = load_file(self.keyspace, path, p.libraries)
                        except SnapshotError as e:
                            log.warning("Error reading the base file %s: %s", info.name, e)
                            raise AofLoadError(str(e)) from None
                        p.last_load_keys_loaded = res.loaded
                    else:
                        self._replay(info.name, path, last=i == len(files) - 1)
        except BaseException:
            self.keyspace.flushall()
            raise
        finally:
            p.loading = False
        self.keyspace.dirty = 0
        self.keyspace.ready_keys.clear()
        log.info("DB loaded from append only file: %.3f seconds", time.monotonic() - t0)
        return True

    def _replay(self, name: str, path: str, last: bool) -> None:
        """Run an incremental file's commands (Redis's loadSingleAppendOnlyFile)."""
        if os.path.getsize(path) == 0:
            return
        client = InternalClient(self.server, self.keyspace.dbs[0], "aof-load")
        queued: list[tuple[Any, list[bytes]]] | None = None
        before_multi = 0
        errors = 0
        try:
            for item in read_commands(path):
                if isinstance(item, Truncated):
                    self._truncated(name, path, item.offset, last)
                    return
                start, _, argv = item
                cmd = lookup(argv)
                if cmd is None:
                    log.warning(
                        "Unknown command '%s' reading the append only file %s",
                        argv[0].decode(errors="replace"),
                        name,
                    )
                    raise AofLoadError(f"Unknown command in {name} at offset {start}")
                lname = cmd.name
                if lname == "multi":
                    queued = []
                    before_multi = start
                    continue
                if lname == "exec" and queued is not None:
                    batch, queued = queued, None
                    for qcmd, qargs in batch:
                        errors += _run(client, qcmd, qargs)
                    continue
                if queued is not None:
                    queued.append((cmd, argv))
                else:
                    errors += _run(client, cmd, argv)
        except AofFormatError as e:
            log.warning(
                "Bad file format reading the append only file %s at offset %d (%s): make a "
                "backup of your AOF file, then use minikv-check-aof --fix <filename.manifest>",
                name,
                e.offset,
                e.message,
            )
            raise AofLoadError(f"Bad file format reading {name} at offset {e.offset}") from None
        finally:
            if errors:
                log.warning("%d commands of %s failed with an error when replayed", errors, name)
        if queued is not None:
            log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", name)
            self._truncated(name, path, before_multi, last)

    def _truncated(self, name: str, path: str, offset: int, last: bool) -> None:
        if not last:
            log.warning("Fatal error: the truncated file is not the last file")
            raise AofLoadError(f"{name} is truncated and is not the last file")
        if not self.config.aof_load_truncated:
            log.warning(
                "Unexpected end of file reading the append only file %s. You can: 1) Make a "
                "backup of your AOF file, then use minikv-check-aof --fix <filename.manifest>. "
                "2) Alternatively you can set the 'aof-load-truncated' configuration option to "
                "yes and restart the server.",
                name,
            )
            raise AofLoadError(f"Unexpected end of file reading {name} at offset {offset}")
        size = os.path.getsize(path)
        log.warning("!!! Warning: short read while loading the AOF file %s!!!", name)
        log.warning("!!! Truncating the AOF %s at offset %d !!!", name, offset)
        try:
            os.truncate(path, offset)
        except OSError as e:
            log.warning("Error truncating the AOF file %s: %s", name, e.strerror)
            raise AofLoadError(f"Error truncating {name}") from None
        log.warning(
            "AOF %s loaded anyway because aof-load-truncated is enabled (%d bytes cut)",
            name,
            size - offset,
        )

    def shutdown(self) -> None:
        """Redis's prepareForShutdown for the AOF: stop a rewrite, write and fsync the log."""
        if self.persistence.child_type == AOF_CHILD:
            log.warning("There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if self.state != OFF and self.fd >= 0:
            log.info("Calling fsync() on the AOF file.")
            self.sync_now()
        self.end_of_turn()


def _run(client: InternalClient, cmd: Any, argv: list[bytes]) -> int:
    """One replayed command, on the handler itself (no stats, no propagation); 1 if it
    answered an error (Redis's fake client drops replies; minikv counts them)."""
    if not cmd.min_args <= len(argv) <= cmd.max_args:
        return 1
    try:
        reply = cmd.handler(client, argv)
    except ReplyError:
        return 1
    return int(isinstance(reply, ReplyError))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
