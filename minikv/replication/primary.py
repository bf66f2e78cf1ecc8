"""Replication, the primary's side: the stream, the backlog, full sync by fork, WAIT.

Every server has one ``Replication``: its replication ID pair and offset, the backlog, and
the replicas connected to it (a replica can have replicas too: it passes its primary's stream
on byte for byte, so offsets and IDs are the same all along a chain).

* **The stream** — while this server is a primary with a backlog, it consumes the propagation
  stream (``minikv.propagation``: what the append-only file logs, effects of scripts, absolute
  expiries, ``SELECT`` when the database changes) and encodes it as RESP; ``feed`` appends it
  to the backlog, advances ``master_repl_offset`` and writes it to every online replica. A
  replica feeds the bytes it applied from its own primary instead (``minikv.replication.link``).
* **Partial resync** — ``PSYNC <replid> <offset>`` continues (``+CONTINUE``) when the ID is
  ours (or our previous one, up to ``second_repl_offset``: PSYNC2 after a failover) and the
  backlog still holds the offset.
* **Full sync** — as Redis's: the replica waits (``wait_bgsave``) until a forked child writes
  a point-in-time snapshot, the stream from that moment held for it meanwhile. Diskless
  (``repl-diskless-sync yes``, after ``repl-diskless-sync-delay`` so several replicas share one
  fork): the child writes the snapshot into a pipe and the event loop passes it on, framed as
  ``$EOF:<mark>`` ... ``<mark>``, to each replica's socket, with flow control; the mark is sent
  only once the child has exited with success, so a replica never takes a half snapshot for
  a whole one. On disk: a BGSAVE, then the file as ``$<length>`` and its bytes. Then the held
  stream, and the replica is online. The child is ``Persistence.fork_child``'s, with the same
  low copy-on-write walk and COW reports as BGSAVE.
* **WAIT** — blocks the caller until enough replicas acknowledged (``REPLCONF ACK``) the offset
  of its writes; ``REPLCONF GETACK *`` asks them at once.

The snapshot sent is minikv's own format: a minikv replica reads it, a redis-server replica
would not (README, "What differs").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minikv.blocking import BLOCKED, BlockState, unblock
from minikv.config import over_output_limit
from minikv.log import log
from minikv.parsing import parse_int
from minikv.persistence.aoffiles import encode_argv
from minikv.persistence.snapshot import RDB_CHILD, write_stream
from minikv.propagation import CommandStream, Op
from minikv.protocol import ReplyError
from minikv.replication.backlog import Backlog

if TYPE_CHECKING:
    from minikv.connection import Client
    from minikv.replication.link import ReplicaSide
    from minikv.server import Server

#: Replica states as INFO names them (Redis's replstateToString).
WAIT_BGSAVE_START = "wait_bgsave"
WAIT_BGSAVE_END = "wait_bgsave"
SEND_BULK = "send_bulk"
ONLINE = "online"

NO_ID = "0" * 40
EOF_MARK_LEN = 40
#: Stop reading the snapshot source while a replica has more than this unsent.
TRANSFER_HIGH_WATER = 4 * 1024 * 1024
TRANSFER_CHUNK = 256 * 1024

NOMASTERLINK = ReplyError("NOMASTERLINK Can't SYNC while not connected with my master")
#: INFO's master_failover_state values.
NO_FAILOVER = "no-failover"
WAIT_FOR_SYNC = "waiting-for-sync"
FAILOVER_IN_PROGRESS = "failover-in-progress"


def new_replid() -> str:
    return os.urandom(20).hex()


@dataclass(eq=False)
class ReplicaInfo:
    """What a primary knows of one replica connection (``Client.repl``). Created by its first
    REPLCONF; ``state`` stays "" until SYNC/PSYNC makes the client a replica."""

    state: str = ""
    listening_port: int = 0
    announced_ip: str = ""
    capa_eof: bool = False
    capa_psync2: bool = False
    ack_offset: int = 0
    ack_time: float = 0.0  # time.time() of the last ACK (or of going online)
    #: Stream bytes held while the snapshot goes out (None when nothing is held).
    pending: list[bytes] | None = None
    pending_bytes: int = 0
    #: SYNC rather than PSYNC: no +FULLRESYNC line, never diskless.
    old_protocol: bool = False
    wait_since: float = 0.0
    soft_limit_since: float = 0.0


@dataclass(eq=False)
class Transfer:
    """One snapshot on its way to replicas: from a child's pipe (diskless) or a file."""

    fd: int
    targets: list[Client]
    mark: bytes | None  # diskless EOF mark, None for a file sent with its length
    from_child: bool
    eof: bool = False
    child_ok: bool | None = None
    reading: bool = False
    sent: int = 0
    done: bool = False
    resume: asyncio.TimerHandle | None = None


class Replication:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.config = server.config
        self.replid = new_replid()
        self.replid2 = NO_ID
        self.second_offset = -1
        #: master_repl_offset: bytes of replication stream produced (or applied) so far.
        self.offset = 0
        self.backlog: Backlog | None = None
        #: Clients that are replicas (``repl.state`` set), in arrival order.
        self.replicas: list[Client] = []
        self.stream = CommandStream()
        self.no_replicas_since = time.monotonic()
        self.good_replicas = 0
        #: False when a write may be refused by replication rules (a read-only replica,
        #: min-replicas-to-write unmet): the dispatcher's fast path then leaves writes to
        #: the slow path, which asks ``write_refusal``. Kept current by ``refresh``.
        self.writes_ok = True
        #: True when every command must be checked (replica-serve-stale-data no and the
        #: link is down): the fast path is off.
        self.stale_gate = False
        self.transfer: Transfer | None = None
        #: The replicas waiting for the BGSAVE started for them (disk-based full sync).
        self._disk_targets: list[Client] = []
        self._waiting: list[tuple[Client, int, int]] = []  # WAIT: (client, offset, replicas)
        #: Redis's c->woff: the stream offset after each client's last write (what its WAIT
        #: waits for); only clients that wrote while the stream was consumed are listed.
        self.woff: dict[Any, int] = {}
        self._getack_scheduled = False
        #: Stream bytes for the online replicas, written at the end of the loop turn.
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._last_ping = time.monotonic()
        self._last_cron = 0.0
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.net_output_bytes = 0
        self._consuming = False
        # FAILOVER (a coordinated switch with one of our replicas)
        self.failover_state = NO_FAILOVER
        self.failover_target: tuple[str, int] | None = None
        self.failover_end = 0.0  # time.monotonic() deadline, 0 for none
        self.failover_force = False
        # The replica role (REPLICAOF): set by the server after both exist.
        self.link: ReplicaSide | None = None
        server.persistence.bgsave_listeners.append(self._bgsave_done)

    # --- role --------------------------------------------------------------------------------

    @property
    def is_replica(self) -> bool:
        return bool(self.config.replicaof)

    def refresh(self) -> None:
        """Recompute the dispatcher's flags and whether the propagation stream is consumed."""
        cfg = self.config
        link_up = self.link is not None and self.link.connected
        replica = self.is_replica
        self.writes_ok = not (replica and cfg.replica_read_only) and not self._min_replicas_unmet()
        self.stale_gate = replica and not cfg.replica_serve_stale_data and not link_up
        want = not replica and self.backlog is not None
        consumers = self.server.keyspace.propagation.consumers
        if want and not self._consuming:
            consumers.append(self)
            self._consuming = True
        elif not want and self._consuming:
            consumers.remove(self)
            self._consuming = False
        if self.backlog is not None and self.backlog.size != cfg.repl_backlog_size:
            self.backlog.resize(cfg.repl_backlog_size)

    def _min_replicas_unmet(self) -> bool:
        cfg = self.config
        return (
            not self.is_replica
            and cfg.min_replicas_to_write > 0
            and cfg.min_replicas_max_lag > 0
            and self.good_replicas < cfg.min_replicas_to_write
        )

    def write_refusal(self) -> ReplyError | None:
        """Why a write is refused by replication now (Redis's order: NOREPLICAS, READONLY)."""
        if self.writes_ok:
            return None
        if self._min_replicas_unmet():
            return ReplyError("NOREPLICAS Not enough good replicas to write.")
        if self.is_replica and self.config.replica_read_only:
            return ReplyError("READONLY You can't write against a read only replica.")
        return None

    def stale_refusal(self) -> ReplyError | None:
        if self.stale_gate:
            return ReplyError(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
            )
        return None

    def shift_replid(self) -> None:
        """A new history starts here (promotion): keep the old ID as the second one, valid up
        to the current offset, so replicas of the old primary can continue with us."""
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = new_replid()
        log.info(
            "Setting secondary replication ID to %s, valid up to offset: %d. New replication "
            "ID is %s",
            self.replid2,
            self.second_offset,
            self.replid,
        )

    def new_history(self) -> None:
        """A history unrelated to any other (Redis's changeReplicationId +
        clearReplicationId2): nobody can continue from what came before."""
        self.replid = new_replid()
        self.replid2 = NO_ID
        self.second_offset = -1

    def create_backlog(self) -> None:
        if self.backlog is None:
            self.backlog = Backlog(self.config.repl_backlog_size, self.offset)
        self.refresh()

    def disconnect_replicas(self) -> None:
        """Our history changed (we became someone's replica): our replicas reconnect, and
        may continue with PSYNC if they can (Redis's disconnectSlaves)."""
        for c in list(self.replicas):
            c.kill()

    # --- the stream ----------------------------------------------------------------------------

    def __call__(self, ops: list[Op]) -> None:
        """The propagation consumer (while primary with a backlog)."""
        if len(ops) == 1 and ops[0][0] == self.stream.db:  # the common unit: one command
            self.feed(encode_argv(ops[0][1]))
            return
        self.feed(b"".join([encode_argv(argv) for argv in self.stream.commands(ops)]))

    def feed(self, data: bytes) -> None:
        """Bytes of the replication stream: to the backlog, the offset and the replicas."""
        if not data:
            return
        self.offset += len(data)
        backlog = self.backlog
        if backlog is not None:
            backlog.append(data)
        online = False
        for c in self.replicas:
            r = c.repl
            if r.state == ONLINE:
                online = True
            elif r.pending is not None:
                r.pending.append(data)
                r.pending_bytes += len(data)
                self._check_limit(c)
        if online:
            self._out.append(data)
            if not self._flush_scheduled:
                self._schedule_flush()

    def _schedule_flush(self) -> None:
        loop = self.server.loop
        if loop is None:
            self.flush_out()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush_out)

    def flush_out(self) -> None:
        """The stream of this event-loop turn to the online replicas, in one write each (as
        Redis writes replica output once per loop iteration, not once per command). Also
        run before any replica changes state, so each gets exactly the bytes after the
        point it joined at."""
        self._flush_scheduled = False
        out = self._out
        if not out:
            return
        data = b"".join(out) if len(out) > 1 else out[0]
        out.clear()
        for c in self.replicas:
            if c.repl.state == ONLINE:
                self._send(c, data)

    def _send(self, c: Client, data: bytes) -> None:
        self.net_output_bytes += len(data)
        c.send_raw(data)
        self._check_limit(c)

    def _check_limit(self, c: Client) -> None:
        """client-output-buffer-limit replica: a replica that cannot keep up is dropped (it
        will resync), the server's memory never grows without bound for it."""
        r = c.repl
        used = c.output_pending() + r.pending_bytes
        limit = self.config.client_output_buffer_limit["slave"]
        if over_output_limit(r, used, limit, time.monotonic()):
            log.warning(
                "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                c.info_line(),
            )
            c.kill()

    # --- SYNC / PSYNC / REPLCONF -----------------------------------------------------------

    def replconf(self, c: Client, args: list[bytes]) -> Any:
        """REPLCONF <option> <value> ...; None means "no reply" (ACK)."""
        if len(args) % 2 == 0:
            raise ReplyError("ERR syntax error")
        r = c.repl
        if r is None:
            r = c.repl = ReplicaInfo()
        for i in range(1, len(args), 2):
            opt = args[i].lower()
            val = args[i + 1]
            if opt == b"listening-port":
                try:
                    r.listening_port = int(val)
                except ValueError:
                    raise ReplyError("ERR value is not an integer or out of range") from None
            elif opt == b"ip-address":
                r.announced_ip = val.decode(errors="replace")
            elif opt == b"capa":
                if val.lower() == b"eof":
                    r.capa_eof = True
                elif val.lower() == b"psync2":
                    r.capa_psync2 = True
            elif opt == b"ack":
                if not r.state:
                    return None
                try:
                    off = int(val)
                except ValueError:
                    return None
                r.ack_offset = max(r.ack_offset, off)
                r.ack_time = time.time()
                self._check_waiting()
                return None
            elif opt == b"getack":
                return None  # only a primary asks; a replica answers on its link
            else:
                raise ReplyError(
                    f"ERR Unrecognized REPLCONF option: {args[i].decode(errors='replace')}"
                )
        return True

    def sync(
        self, c: Client, replid: str | None, offset_arg: bytes | None, failover: bool = False
    ) -> None:
        """SYNC (``replid`` None) or PSYNC: continue from the backlog, or schedule a full
        sync. Writes its replies itself (it is the last thing a replica's link sends before
        the stream). ``PSYNC <replid> <offset> FAILOVER`` comes from our primary handing its
        role over (FAILOVER): with our replication ID we take it, then let it continue."""
        if c.repl is not None and c.repl.state:
            return  # already a replica: ignored, as Redis
        if failover:
            log.warning("Failover request received for replid %s.", replid)
            if not self.is_replica:
                raise ReplyError("ERR PSYNC FAILOVER can't be sent to a master.")
            if replid != self.replid:
                raise ReplyError("ERR PSYNC FAILOVER replid must match my replid.")
            assert self.link is not None
            self.link.replicaof_no_one()
            self.server.keyspace.replica_reads = False
            log.info("MASTER MODE enabled (failover request from '%s')", c.info_line())
        if self.failover_state != NO_FAILOVER:
            raise ReplyError("NOMASTERLINK Can't SYNC while failing over")
        if self.is_replica and (self.link is None or not self.link.connected):
            raise NOMASTERLINK
        r = c.repl
        if r is None:
            r = c.repl = ReplicaInfo()
        if replid is not None and self._try_partial(c, replid, offset_arg or b"-1"):
            return
        r.old_protocol = replid is None
        self.sync_full += 1
        log.info("Replica %s asks for synchronization", self.replica_name(c))
        if replid is not None and replid != "?":
            log.info(
                "Full resync requested by replica %s (replication ID %s, offset %s)",
                self.replica_name(c),
                replid,
                (offset_arg or b"").decode(errors="replace"),
            )
        if self.backlog is None:
            if not self.is_replica:
                self.new_history()
            self.create_backlog()
        r.state = WAIT_BGSAVE_START
        r.wait_since = time.monotonic()
        self.replicas.append(c)
        self._updated_replicas()
        self.start_pending_syncs()

    def _try_partial(self, c: Client, replid: str, offset_arg: bytes) -> bool:
        try:
            psync_offset = int(offset_arg)
        except ValueError:
            return False
        backlog = self.backlog
        ours = replid == self.replid or (
            replid == self.replid2 and psync_offset <= self.second_offset
        )
        if not ours or backlog is None or not backlog.covers(psync_offset):
            if replid != "?":
                self.sync_partial_err += 1
                if not ours:
                    log.info(
                        "Partial resynchronization not accepted: Replication ID mismatch "
                        "(Replica asked for '%s', my replication IDs are '%s' and '%s')",
                        replid,
                        self.replid,
                        self.replid2,
                    )
                else:
                    log.info(
                        "Unable to partial resync with replica %s for lack of backlog "
                        "(Replica request was: %d).",
                        self.replica_name(c),
                        psync_offset,
                    )
            return False
        self.flush_out()  # what the others are owed is in the backlog this one gets
        r = c.repl
        r.state = ONLINE
        r.ack_time = time.time()
        self.replicas.append(c)
        line = f"+CONTINUE {self.replid}\r\n" if r.capa_psync2 else "+CONTINUE\r\n"
        data = backlog.since(psync_offset)
        c.send_raw(line.encode())
        if data:
            self._send(c, data)
        self.sync_partial_ok += 1
        log.info(
            "Partial resynchronization request from %s accepted. Sending %d bytes of backlog "
            "starting from offset %d.",
            self.replica_name(c),
            len(data),
            psync_offset,
        )
        self._updated_replicas()
        return True

    def replica_gone(self, c: Client) -> None:
        """A replica's connection closed."""
        if c not in self.replicas:
            return
        self.replicas.remove(c)
        log.info("Connection with replica %s lost.", self.replica_name(c))
        t = self.transfer
        if t is not None and c in t.targets:
            t.targets.remove(c)
            if not t.targets and t.from_child and t.child_ok is None:
                log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
                self.server.persistence.kill_child(RDB_CHILD)
        self._updated_replicas()

    def _updated_replicas(self) -> None:
        if not self.replicas:
            self.no_replicas_since = time.monotonic()
        self._count_good()
        self.refresh()

    def replica_name(self, c: Client) -> str:
        r = c.repl
        ip = r.announced_ip if r is not None and r.announced_ip else c.addr.rsplit(":", 1)[0]
        port = r.listening_port if r is not None else 0
        return f"{ip}:{port}"

    # --- full sync ----------------------------------------------------------------------------

    def start_pending_syncs(self) -> None:
        """Start a full sync for the replicas waiting for one, if no child runs and (diskless)
        the delay that lets more replicas join has passed."""
        waiting = [
            c for c in self.replicas if c.repl.state == WAIT_BGSAVE_START and c.repl.pending is None
        ]
        if not waiting or self.server.persistence.in_progress or self.transfer is not None:
            return
        cfg = self.config
        diskless = cfg.repl_diskless_sync and all(
            c.repl.capa_eof and not c.repl.old_protocol for c in waiting
        )
        if diskless and cfg.repl_diskless_sync_delay > 0:
            oldest = min(c.repl.wait_since for c in waiting)
            full = 0 < cfg.repl_diskless_sync_max_replicas <= len(waiting)
            if time.monotonic() - oldest < cfg.repl_diskless_sync_delay and not full:
                return
        if diskless:
            self._start_diskless(waiting)
        else:
            self._start_disk(waiting)

    def _begin(self, targets: list[Client]) -> None:
        """The fork point: the offset the replicas start from, their held stream."""
        self.flush_out()
        self.stream.db = -1  # the stream after the snapshot names its database again
        line = f"+FULLRESYNC {self.replid} {self.offset}\r\n".encode()
        for c in targets:
            r = c.repl
            r.state = WAIT_BGSAVE_END
            r.pending = []
            r.pending_bytes = 0
            r.ack_offset = self.offset
            if not r.old_protocol:
                c.send_raw(line)
            log.info(
                "Full resync requested by replica %s: starting BGSAVE for SYNC with target: %s",
                self.replica_name(c),
                "replicas sockets" if self.transfer is not None else "disk",
            )

    def _fail(self, targets: list[Client], why: str) -> None:
        for c in targets:
            log.warning("SYNC failed for replica %s: %s", self.replica_name(c), why)
            c.kill()

    def _start_diskless(self, targets: list[Client]) -> None:
        p = self.server.persistence
        ks = self.server.keyspace
        sizes = [len(db) for db in ks.dbs]
        dbs = [i for i, n in enumerate(sizes) if n]
        cfg = self.config
        codes = p.codes()
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)

        def work(progress: Any) -> int:
            os.close(rfd)
            with open(wfd, "wb", buffering=1024 * 1024) as f:
                return write_stream(ks, f, progress, cfg.rdb_key_save_delay, dbs, codes)

        mark = os.urandom(EOF_MARK_LEN // 2).hex().encode()
        self.transfer = Transfer(rfd, list(targets), mark, from_child=True)
        try:
            pid = p.fork_child(RDB_CHILD, work, self._child_done, keys_total=sum(sizes))
        except OSError as e:
            os.close(rfd)
            os.close(wfd)
            self.transfer = None
            self._fail(targets, f"fork: {e.strerror}")
            return
        os.close(wfd)
        log.info("Starting BGSAVE for SYNC with target: replicas sockets (pid %d)", pid)
        self._begin(targets)
        for c in targets:
            c.repl.state = SEND_BULK
            c.send_raw(b"$EOF:" + mark + b"\r\n")
        self._read_more()

    def _start_disk(self, targets: list[Client]) -> None:
        try:
            pid = self.server.persistence.bgsave()
        except OSError as e:
            self._fail(targets, f"fork: {e.strerror}")
            return
        log.info("Starting BGSAVE for SYNC with target: disk (pid %d)", pid)
        self._begin(targets)
        self._disk_targets = list(targets)

    def _bgsave_done(self, ok: bool) -> None:
        """After any BGSAVE: the replicas waiting for this one get the file."""
        targets = [c for c in self._disk_targets if c in self.replicas]
        self._disk_targets = []
        if not targets:
            return
        if not ok:
            self._fail(targets, "the background save failed")
            return
        path = self.server.persistence.path
        try:
            fd = os.open(path, os.O_RDONLY)
            size = os.fstat(fd).st_size
        except OSError as e:
            self._fail(targets, f"can't open the snapshot: {e.strerror}")
            return
        self.transfer = Transfer(fd, targets, None, from_child=False)
        for c in targets:
            c.repl.state = SEND_BULK
            c.send_raw(b"$%d\r\n" % size)
        self._read_more()

    def _read_more(self) -> None:
        """Pass the snapshot on, chunk by chunk, while every target has room."""
        t = self.transfer
        if t is None or t.done:
            return
        t.resume = None
        loop = self.server.loop
        assert loop is not None
        if any(c.output_pending() > TRANSFER_HIGH_WATER for c in t.targets):
            self._stop_reading(t)
            t.resume = loop.call_later(0.01, self._read_more)
            return
        if t.from_child:
            if not t.reading:
                loop.add_reader(t.fd, self._readable)
                t.reading = True
        else:
            loop.call_soon(self._readable)

    def _stop_reading(self, t: Transfer) -> None:
        if t.reading:
            assert self.server.loop is not None
            self.server.loop.remove_reader(t.fd)
            t.reading = False

    def _readable(self) -> None:
        t = self.transfer
        if t is None or t.done:
            return
        for _ in range(16):
            try:
                data = os.read(t.fd, TRANSFER_CHUNK)
            except BlockingIOError:
                return
            except OSError as e:
                self._end_transfer(False, f"reading the snapshot: {e.strerror}")
                return
            if not data:
                self._stop_reading(t)
                t.eof = True
                if not t.from_child:
                    self._end_transfer(True, "")
                else:
                    self.server.persistence.check_child()  # reap now if it has exited
                    if t.child_ok is not None and not t.done:
                        self._end_transfer(t.child_ok, "the child failed")
                return
            t.sent += len(data)
            for c in t.targets:
                self._send(c, data)
            if any(c.output_pending() > TRANSFER_HIGH_WATER for c in t.targets):
                break
        self._read_more()

    def _child_done(self, ok: bool, sig: int, elapsed: float) -> None:
        """The diskless child's done-handler (the only place its result changes state)."""
        t = self.transfer
        if t is None or not t.from_child:
            return
        t.child_ok = ok
        if ok:
            log.info("Background RDB transfer terminated with success")
            # INFO's rdb_last_cow_size covers this child too, as Redis's.
            p = self.server.persistence
            p.last_cow_size = p.child_cow
            if p.last_cow_size:
                log.info(
                    "Replication snapshot: %d MB of memory used by copy-on-write",
                    p.last_cow_size // (1024 * 1024),
                )
        elif sig:
            log.warning("Background transfer terminated by signal %d", sig)
        else:
            log.warning("Background transfer error")
        if not ok:
            self._end_transfer(False, "the child failed")
            return
        # The child has exited: what is left in the pipe is all there is.
        while not t.eof:
            try:
                data = os.read(t.fd, TRANSFER_CHUNK)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                t.eof = True
                break
            t.sent += len(data)
            for c in t.targets:
                self._send(c, data)
        if t.eof:
            self._end_transfer(True, "")
        else:
            self._end_transfer(False, "the pipe did not end")

    def _end_transfer(self, ok: bool, why: str) -> None:
        t = self.transfer
        if t is None or t.done:
            return
        t.done = True
        self.transfer = None
        self._stop_reading(t)
        if t.resume is not None:
            t.resume.cancel()
        with contextlib.suppress(OSError):
            os.close(t.fd)
        if not ok:
            self._fail(list(t.targets), why)
            return
        self.flush_out()  # owed to the replicas already online, not to these
        now = time.time()
        for c in t.targets:
            r = c.repl
            if t.mark is not None:
                c.send_raw(t.mark)
            r.state = ONLINE
            r.ack_time = now
            held, r.pending, r.pending_bytes = r.pending or [], None, 0
            if held:
                self._send(c, b"".join(held))
            log.info("Synchronization with replica %s succeeded", self.replica_name(c))
        self._updated_replicas()
        self.start_pending_syncs()  # replicas that came during this transfer

    # --- WAIT ----------------------------------------------------------------------------------

    def wrote(self, c: Any) -> None:
        if self._consuming:
            self.woff[c] = self.offset

    def forget(self, c: Any) -> None:
        self.woff.pop(c, None)

    def acked(self, offset: int) -> int:
        return sum(
            1 for c in self.replicas if c.repl.state == ONLINE and c.repl.ack_offset >= offset
        )

    def wait(
        self, c: Client, cmd: Any, args: list[bytes], numreplicas: int, timeout_ms: int
    ) -> Any:
        if self.is_replica:
            raise ReplyError(
                "ERR WAIT cannot be used with replica instances. Please also note that since "
                "Redis 4.0 if a replica is configured to be writable (which is not the "
                "default) writes to replicas are just local and are not propagated."
            )
        offset = self.woff.get(c, 0)
        n = self.acked(offset)
        if n >= numreplicas or c.last_cmd != "wait":  # inside MULTI/EXEC: no blocking
            return n
        loop = self.server.loop
        assert loop is not None
        timer = None
        if timeout_ms > 0:
            timer = loop.call_later(timeout_ms / 1000, self._wait_timeout, c)
        c.blocked = BlockState(c.db, [], cmd, args, lambda _c, _k: None, n, timer)
        self._waiting.append((c, offset, numreplicas))
        self.request_acks()
        return BLOCKED

    def request_acks(self) -> None:
        """Ask the replicas for their offset (once per loop turn, however many ask)."""
        if self._getack_scheduled or self.server.loop is None:
            return
        self._getack_scheduled = True
        self.server.loop.call_soon(self._send_getack)

    def _send_getack(self) -> None:
        self._getack_scheduled = False
        if self.replicas and not self.is_replica:
            self.feed(encode_argv([b"REPLCONF", b"GETACK", b"*"]))

    def _wait_timeout(self, c: Client) -> None:
        for i, (w, offset, _) in enumerate(self._waiting):
            if w is c:
                del self._waiting[i]
                if c.blocked is not None:
                    c.blocked.timer = None
                    unblock(c, self.acked(offset))
                return

    def _check_waiting(self) -> None:
        if not self._waiting:
            return
        keep = []
        for c, offset, num in self._waiting:
            if c.blocked is None or c.closed:
                continue
            n = self.acked(offset)
            if n >= num:
                unblock(c, n)
            else:
                keep.append((c, offset, num))
        self._waiting = keep

    # --- cron ----------------------------------------------------------------------------------

    def cron(self) -> None:
        """From the server cron (``hz`` times a second): start waiting syncs; once a second,
        pings, keepalives, timeouts, the backlog's time to live, good-replica counts."""
        self.start_pending_syncs()
        if self.failover_state == WAIT_FOR_SYNC:
            self._update_failover()
        now = time.monotonic()
        if now - self._last_cron < 1.0:
            return
        self._last_cron = now
        cfg = self.config
        if self.replicas and not self.is_replica:
            if now - self._last_ping >= cfg.repl_ping_replica_period:
                self._last_ping = now
                self.feed(encode_argv([b"PING"]))
        else:
            self._last_ping = now
        wall = time.time()
        for c in list(self.replicas):
            r = c.repl
            if r.state in (WAIT_BGSAVE_START, WAIT_BGSAVE_END) and r.pending is None:
                c.send_raw(b"\n")  # keep the link alive until the snapshot starts
            elif r.state == WAIT_BGSAVE_END and self.transfer is None:
                c.send_raw(b"\n")  # disk save still running
            if r.state == ONLINE and not r.old_protocol and wall - r.ack_time > cfg.repl_timeout:
                log.warning(
                    "Disconnecting timedout replica (streaming sync): %s", self.replica_name(c)
                )
                c.kill()
        if (
            self.backlog is not None
            and not self.replicas
            and not self.is_replica
            and cfg.repl_backlog_ttl
            and now - self.no_replicas_since > cfg.repl_backlog_ttl
        ):
            self.new_history()
            self.backlog = None
            log.info(
                "Replication backlog freed after %d seconds without connected replicas.",
                cfg.repl_backlog_ttl,
            )
        self._count_good()
        self.refresh()

    def _count_good(self) -> None:
        lag = self.config.min_replicas_max_lag
        wall = time.time()
        self.good_replicas = sum(
            1 for c in self.replicas if c.repl.state == ONLINE and wall - c.repl.ack_time <= lag
        )

    # --- FAILOVER -----------------------------------------------------------------------------

    def failover(self, args: list[bytes]) -> None:
        """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: pause writes, wait until a
        replica (the one named, or any) has acknowledged the whole stream, then become its
        replica with ``PSYNC .. FAILOVER``, which makes it the primary (Redis 6.2's
        coordinated failover). Raises ReplyError with Redis's texts."""
        if len(args) == 2 and args[1].lower() == b"abort":
            if self.failover_state == NO_FAILOVER:
                raise ReplyError("ERR No failover in progress.")
            self.abort_failover("Failover manually aborted")
            return
        timeout_ms = 0
        force = False
        target: tuple[str, int] | None = None
        j = 1
        while j < len(args):
            word = args[j].lower()
            if word == b"timeout" and j + 1 < len(args) and timeout_ms == 0:
                timeout_ms = parse_int(args[j + 1])
                if timeout_ms <= 0:
                    raise ReplyError("ERR FAILOVER timeout must be greater than 0")
                j += 2
            elif word == b"to" and j + 2 < len(args) and target is None:
                port = parse_int(args[j + 2])
                target = (args[j + 1].decode(errors="replace"), port)
                j += 3
            elif word == b"force" and not force:
                force = True
                j += 1
            else:
                raise ReplyError("ERR syntax error")
        if self.failover_state != NO_FAILOVER:
            raise ReplyError("ERR FAILOVER already in progress.")
        if self.is_replica:
            raise ReplyError("ERR FAILOVER is not valid when server is a replica.")
        if not self.replicas:
            raise ReplyError("ERR FAILOVER requires connected replicas.")
        if force and (not timeout_ms or target is None):
            raise ReplyError(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
            )
        if target is not None:
            replica = self._find_replica(*target)
            if replica is None:
                raise ReplyError("ERR FAILOVER target HOST and PORT is not a replica.")
            if replica.repl.state != ONLINE:
                raise ReplyError("ERR FAILOVER target replica is not online.")
            log.info("FAILOVER requested to %s:%d.", *target)
        else:
            log.info("FAILOVER requested to any replica.")
        self.failover_target = target
        self.failover_end = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
        self.failover_force = force
        self.failover_state = WAIT_FOR_SYNC
        self.server.watch.pause_for_failover(True)
        self.request_acks()

    def _find_replica(self, host: str, port: int) -> Client | None:
        for c in self.replicas:
            r = c.repl
            ip = r.announced_ip or c.addr.rsplit(":", 1)[0]
            if ip == host and r.listening_port == port:
                return c
        return None

    def _update_failover(self) -> None:
        """From the cron while waiting: time out, or hand over to a caught-up replica."""
        if self.failover_end and time.monotonic() >= self.failover_end:
            if self.failover_force and self.failover_target is not None:
                log.info(
                    "FAILOVER to %s:%d time out exceeded, failing over.", *self.failover_target
                )
                self._hand_over(*self.failover_target)
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        self.request_acks()
        if self.failover_target is not None:
            c = self._find_replica(*self.failover_target)
            if c is not None and c.repl.ack_offset == self.offset:
                self._hand_over(*self.failover_target)
            return
        for c in self.replicas:
            r = c.repl
            if r.state == ONLINE and r.ack_offset == self.offset:
                self.failover_target = (
                    r.announced_ip or c.addr.rsplit(":", 1)[0],
                    r.listening_port,
                )
                self._hand_over(*self.failover_target)
                return

    def _hand_over(self, host: str, port: int) -> None:
        log.info("Failover target %s:%d is synced, failing over.", host, port)
        self.failover_state = FAILOVER_IN_PROGRESS
        assert self.link is not None
        self.link.replicaof(host, port, failover=True)
        self.server.keyspace.replica_reads = True

    def failover_done(self) -> None:
        """The target took the role (our PSYNC FAILOVER was answered): writes resume, here
        refused as a replica's."""
        self._clear_failover()

    def abort_failover(self, why: str) -> None:
        if self.failover_state == NO_FAILOVER:
            return
        if self.failover_target is not None:
            log.info("FAILOVER to %s:%d aborted: %s", *self.failover_target, why)
        else:
            log.info("FAILOVER to any replica aborted: %s", why)
        if self.failover_state == FAILOVER_IN_PROGRESS:
            assert self.link is not None
            self.link.replicaof_no_one()
            self.server.keyspace.replica_reads = False
        self._clear_failover()

    def _clear_failover(self) -> None:
        self.failover_state = NO_FAILOVER
        self.failover_target = None
        self.failover_end = 0.0
        self.failover_force = False
        self.server.watch.pause_for_failover(False)

    # --- INFO / ROLE ---------------------------------------------------------------------------

    def info_lines(self) -> list[str]:
        cfg = self.config
        out = [f"role:{'slave' if self.is_replica else 'master'}"]
        if self.is_replica and self.link is not None:
            out += self.link.info_lines()
        out.append(f"connected_slaves:{len(self.replicas)}")
        if cfg.min_replicas_to_write and cfg.min_replicas_max_lag:
            out.append(f"min_slaves_good_slaves:{self.good_replicas}")
        wall = time.time()
        for i, c in enumerate(self.replicas):
            r = c.repl
            lag = int(wall - r.ack_time) if r.state == ONLINE else 0
            ip = r.announced_ip or c.addr.rsplit(":", 1)[0]
            out.append(
                f"slave{i}:ip={ip},port={r.listening_port},state={r.state},"
                f"offset={r.ack_offset},lag={lag}"
            )
        b = self.backlog
        out += [
            f"master_failover_state:{self.failover_state}",
            f"master_replid:{self.replid}",
            f"master_replid2:{self.replid2}",
            f"master_repl_offset:{self.offset}",
            f"second_repl_offset:{self.second_offset}",
            f"repl_backlog_active:{int(b is not None)}",
            f"repl_backlog_size:{cfg.repl_backlog_size}",
            f"repl_backlog_first_byte_offset:{b.start if b is not None else 0}",
            f"repl_backlog_histlen:{b.length if b is not None else 0}",
        ]
        return out

    def role(self) -> list[Any]:
        if self.is_replica and self.link is not None:
            return self.link.role()
        return [
            b"master",
            self.offset,
            [
                [
                    (c.repl.announced_ip or c.addr.rsplit(":", 1)[0]).encode(),
                    str(c.repl.listening_port).encode(),
                    str(c.repl.ack_offset).encode(),
                ]
                for c in self.replicas
                if c.repl.state == ONLINE
            ],
        ]
