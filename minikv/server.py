"""The server: listening sockets, the set of clients, the periodic cron, and graceful shutdown.

The server owns the ``Keyspace`` and the ``Config``; connections reach both through it. The
cron runs ``hz`` times a second (Redis's serverCron): active expiry, and the hooks that
persistence adds. Shutdown is a sequence: stop accepting, let pending replies go out, close
clients, exit 0.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from minikv import REDIS_VERSION, __version__, info, limits
from minikv.acl import Acl, load_users_at_startup
from minikv.busy import BusyServing
from minikv.commands import ALL, set_memory_tracking
from minikv.commands.catalog import load_all
from minikv.config import Config, ConfigError
from minikv.connection import Client
from minikv.eviction import clients_memory
from minikv.keyspace import Keyspace
from minikv.log import log
from minikv.persistence.aof import OFF, WAIT_REWRITE, AofLoadError, AppendOnlyFile
from minikv.persistence.format import SnapshotError
from minikv.persistence.snapshot import AOF_CHILD, Persistence
from minikv.protocol import ReplyError
from minikv.pubsub import Hub
from minikv.replication.link import ReplicaSide
from minikv.replication.primary import Replication
from minikv.scripting import Scripting
from minikv.syscheck import log_startup_warnings
from minikv.tracking import Tracking
from minikv.watch import Watch

MISCONF = ReplyError(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
    "RDB error."
)
MAXCLIENTS_ERR = b"-ERR max number of clients reached\r\n"
#: How long shutdown waits for clients to take the replies already queued for them.
SHUTDOWN_FLUSH_TIMEOUT = 5.0
DENIED_ERR = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    b"the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    b"Alternatively you can just disable the protected mode by editing the Redis configuration "
    b"file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    b"If you started the server manually just for testing, restart it with the "
    b"'--protected-mode no' option. 4) Setup a an authentication password for the default "
    b"user. NOTE: You only need to do one of the above things in order for the server to start "
    b"accepting connections from the outside.\r\n"
)


ERRORSTATS_LIMIT = 128


@dataclass
class Stats:
    total_connections_received: int = 0
    rejected_connections: int = 0
    total_commands_processed: int = 0
    error_replies: int = 0
    unknown_commands: int = 0
    protocol_errors: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    #: Reads of client sockets (data_received calls) and batch reply writes (INFO stats).
    total_reads_processed: int = 0
    total_writes_processed: int = 0
    #: Time spent in the active expire cycle (INFO's expire_cycle_cpu_milliseconds).
    expire_cycle_ns: int = 0
    #: INFO errorstats: error code (the reply's first word, "ERR", "WRONGTYPE"...) -> count.
    errorstats: dict[str, int] = field(default_factory=dict)

    def count_error(self, err: ReplyError) -> None:
        """One error reply (Redis's afterErrorReply): total_error_replies and errorstats. As
        Redis, at most 128 distinct codes are tracked (a flood of made-up codes would grow the
        table without bound); further new codes count only in the total."""
        self.error_replies += 1
        code = err.message.split(" ", 1)[0]
        stats = self.errorstats
        if code in stats:
            stats[code] += 1
        elif len(stats) < ERRORSTATS_LIMIT:
            stats[code] = 1


class Server:
    def __init__(self, config: Config) -> None:
        load_all()
        limits.use(config)  # the containers read their encoding thresholds from it
        self.config = config
        self.keyspace = Keyspace(config.databases)
        self.scripts = Scripting(log, config)
        self.persistence = Persistence(
            config, self.keyspace, self.close_inherited_sockets, self.scripts.functions
        )
        self.aof = AppendOnlyFile(config, self, self.persistence)
        self.stats = Stats()
        self.watch = Watch(config, self.keyspace, lambda: self.persistence.loading)
        self.persistence.latency_sample = self.watch.sample
        self.pubsub = Hub()
        self.acl = Acl(config)
        busy = self.busy = BusyServing(self)
        self.scripts.serve_while_busy = busy.serve
        self.scripts.busy_over = busy.over
        self.keyspace.use_notifications(config.notify_keyspace_events, self.pubsub)
        self._configure_memory()
        self.clients: dict[int, Client] = {}
        self.tracking = Tracking(self.clients, self.keyspace, self._call_soon)
        self.tracking.max_keys = config.tracking_table_max_keys
        self.replication = Replication(self)
        self.replication.link = ReplicaSide(self, self.replication)
        self.keyspace.replica_reads = bool(config.replicaof)
        self._push_waiting: list[Client] = []  # subscribers with messages queued
        self.log = log
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self._next_client_id = 0
        self._servers: list[asyncio.base_events.Server] = []
        self._cron_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Future[int] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ports: list[int] = []
        self.shutdown_asap = False
        self._shutdown_save: bool | None = None
        self._shutdown_force = False

    def config_changed(self) -> None:
        """Bring the parts that keep a setting outside ``config`` in line with it (after each
        CONFIG SET): the keyspace's notification classes, the append-only file turned on or
        off. Raises ConfigError (the setting rolled back) if the AOF cannot start."""
        cfg = self.config
        self.keyspace.use_notifications(cfg.notify_keyspace_events, self.pubsub)
        self.replication.refresh()
        self.acl.use_requirepass(cfg.requirepass)
        self.watch.configure()
        self._configure_memory()
        self.tracking.max_keys = cfg.tracking_table_max_keys
        aof = self.aof
        if cfg.appendonly and aof.state == OFF:
            if not aof.start():
                cfg.appendonly = False
                raise ConfigError(
                    "CONFIG SET failed (possibly related to argument 'appendonly') - "
                    "Unable to turn on AOF. Check server logs."
                )
        elif not cfg.appendonly and aof.state != OFF:
            aof.stop()

    def _configure_memory(self) -> None:
        """maxmemory and its policy into the keyspace's accounting (minikv.eviction); writes
        leave the dispatcher's fast path while a limit is set."""
        memory = self.keyspace.memory
        memory.configure(self.config)
        set_memory_tracking(memory.tracking)

    # --- clients ----------------------------------------------------------

    def _call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once this event-loop turn is done (at once without a loop)."""
        if self.loop is None:
            fn()
        else:
            self.loop.call_soon(fn)

    def queue_pushes(self, client: Client) -> None:
        """``client`` has pub/sub messages queued: write them when this loop turn is done."""
        self._push_waiting.append(client)
        if len(self._push_waiting) == 1:
            if self.loop is None:
                self._flush_pushes()
            else:
                self.loop.call_soon(self._flush_pushes)

    def flush_pushes_now(self) -> None:
        """Write every queued pub/sub message (the end of a loop turn, or a busy script's
        pause), after the append-only file has the writes they tell of."""
        if self.aof.turn_pending:
            self.aof.end_of_turn()
        waiting, self._push_waiting = self._push_waiting, []
        for client in waiting:
            client.flush_pushes()

    _flush_pushes = flush_pushes_now

    def next_client_id(self) -> int:
        self._next_client_id += 1
        return self._next_client_id

    def client_connected(self, client: Client, peer: Any) -> bytes | None:
        """Register a new client; returns an error to send before closing, or None."""
        self.stats.total_connections_received += 1
        if len(self.clients) >= self.config.maxclients:
            self.stats.rejected_connections += 1
            return MAXCLIENTS_ERR
        if self.config.protected_mode and self.acl.default.nopass and not _is_local(peer):
            self.stats.rejected_connections += 1
            return DENIED_ERR
        self.clients[client.id] = client
        return None

    def client_disconnected(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.replication.forget(client)

    def write_refusal(self, write: bool = False) -> ReplyError | None:
        """Why the commands refused while writes are (MISCONF's: writes, and PING) are refused
        right now: MISCONF after a failed save or a failed append-only file write; for a
        ``write``, also replication's rules (NOREPLICAS, READONLY). None if they may run."""
        if self.persistence.writes_refused():
            return MISCONF
        refusal = self.aof.misconf()
        if refusal is None and write:
            refusal = self.replication.write_refusal()
        return refusal

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.aof.call_soon = self.loop.call_soon
        self.keyspace.memory.call_soon = self.loop.call_soon
        self._stopping = self.loop.create_future()
        for host in self.config.bind:
            host = host.lstrip("-")
            try:
                srv = await self.loop.create_server(
                    lambda: Client(self),
                    host=host,
                    port=self.config.port,
                    reuse_address=True,
                    backlog=511,
                )
            except OSError as e:
                if host == "::1" and len(self.config.bind) > 1:
                    continue  # optional IPv6 loopback, as Redis's "-::1"
                raise SystemExit(
                    f"Could not create server TCP listening socket {host}:"
                    f"{self.config.port}: {e.strerror}"
                ) from None
            self._servers.append(srv)
            for sock in srv.sockets:
                self.ports.append(sock.getsockname()[1])
        assert self.replication.link is not None
        self.replication.link.start()  # replicaof in the config: the cron connects
        self._cron_task = self.loop.create_task(self._cron())
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):
                pass

    def listening_sockets(self) -> list[socket.socket]:
        return [s for srv in self._servers for s in srv.sockets]  # type: ignore[misc]

    def _on_signal(self, sig: int) -> None:
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        if self.shutdown_asap and sig == signal.SIGINT:
            # A second Ctrl-C while the shutdown is under way: stop waiting (Redis does too).
            log.warning("You insist... exiting now.")
            os._exit(1)
        log.warning("Received %s scheduling shutdown...", name)
        self.request_shutdown(save=None)

    def request_shutdown(self, save: bool | None = None, force: bool = False) -> None:
        """Begin the shutdown sequence (SHUTDOWN, SIGTERM, SIGINT); it runs once the current
        request batch is done. ``save`` None means 'as configured' (read by ``before_exit``);
        ``force`` exits even if the first AOF base is still being written."""
        self._shutdown_save = save
        self._shutdown_force = force
        self.shutdown_asap = True
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(0)

    async def serve_forever(self) -> int:
        while True:
            assert self._stopping is not None
            code = await self._stopping
            if await self._shutdown():
                return code
            # The final save failed: Redis logs it and keeps serving.
            assert self.loop is not None
            self._stopping = self.loop.create_future()
            self.shutdown_asap = False

    async def _shutdown(self) -> bool:
        """Redis's prepareForShutdown, then finish: returns False if the server must go on."""
        log.warning("User requested shutdown...")
        try:
            self.before_exit()
        except Exception:
            log.exception("Errors trying to shut down the server. Check the logs for more info.")
            return False
        for srv in self._servers:
            srv.close()  # stop accepting
        if self._cron_task is not None:
            self._cron_task.cancel()
        # Every client: stop reading, let the replies already queued go out, then close.
        # transport.close() flushes the write buffer before closing; wait for that, but not
        # forever (a client that never reads its replies is dropped).
        waiting = []
        for c in list(self.clients.values()):
            if c.transport is not None and not c.closed:
                c.closed = True
                waiting.append(c)
                c.transport.close()
        deadline = time.monotonic() + SHUTDOWN_FLUSH_TIMEOUT
        while any(c.transport is not None and not c.lost for c in waiting):
            if time.monotonic() > deadline:
                for c in waiting:
                    if c.transport is not None and not c.lost:
                        c.transport.abort()
                break
            await asyncio.sleep(0.01)
        log.warning("%s is now ready to exit, bye bye...", "minikv")
        return True

    def before_start(self) -> None:
        """Load the data before listening: the append-only file when it is enabled and
        exists, else the snapshot; then open the AOF for appending. A bad file stops the
        start (and is kept)."""
        load_users_at_startup(self.acl, self.config)
        p = self.persistence
        try:
            aof_loaded = self.config.appendonly and self.aof.load()
            # With appendonly on but no AOF yet, minikv loads the snapshot (Redis 7 would
            # start empty): the AOF's first base is then written from it.
            p.load_on_start(snapshot=not aof_loaded)
            if self.config.appendonly:
                self.aof.open_on_start()
        except AofLoadError as e:
            log.warning("Fatal error loading the append only file: %s", e)
            log.warning("The files were left untouched. Fix or move them away, then restart.")
            raise SystemExit(1) from None
        except SnapshotError as e:
            log.warning("Fatal error loading the snapshot: %s", e)
            log.warning("The file was left untouched. Fix or move it away, then restart.")
            raise SystemExit(1) from None
        except OSError as e:
            log.warning("Fatal error loading or opening the data files: %s", e)
            raise SystemExit(1) from None

    def before_exit(self) -> None:
        """Redis's prepareForShutdown: kill a saving child, write and fsync the append-only
        file, then save if asked or configured.

        Raises if the final save fails (or the first AOF base is still being written): the
        server then logs it and keeps serving."""
        p = self.persistence
        aof = self.aof
        if p.bgsave_in_progress:
            log.warning("There is a child saving a snapshot. Killing it!")
            p.kill_child()
        if aof.state != OFF:
            if p.child_type == AOF_CHILD and aof.state == WAIT_REWRITE:
                if not self._shutdown_force:
                    log.warning("Writing initial AOF, can't exit.")
                    raise RuntimeError("Writing initial AOF, can't exit.")
                log.warning("Writing initial AOF. Exit anyway.")
            aof.shutdown()
        save = self._shutdown_save
        if save is None:
            save = bool(self.config.save)
        if save:
            log.info("Saving the final snapshot before exiting.")
            try:
                p.save()
            except OSError:
                log.warning("Error trying to save the DB, can't exit.")
                raise

    def close_inherited_sockets(self) -> None:
        """In a forked child: close the listening and client sockets (the parent keeps its
        copies), so the child holds no connection open and accepts nothing."""
        fds = [s.fileno() for s in self.listening_sockets()]
        for c in self.clients.values():
            sock = c.transport.get_extra_info("socket") if c.transport is not None else None
            if sock is not None:
                fds.append(sock.fileno())
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    # --- cron ----------------------------------------------------------

    async def _cron(self) -> None:
        while True:
            period = 1.0 / self.config.hz
            await asyncio.sleep(period)
            try:
                self.cron()
            except Exception:  # the cron must never die
                log.exception("cron failed")

    def cron(self) -> None:
        self.persistence.check_child()
        self.aof.cron()  # first: a scheduled rewrite goes before a scheduled BGSAVE
        self.persistence.cron()
        repl = self.replication
        repl.cron()
        assert repl.link is not None
        repl.link.cron()
        self.keyspace.replica_reads = repl.is_replica
        # Active expiry may take up to 25 % of the cron period, as Redis's slow cycle. A
        # replica expires nothing itself: its primary sends a DEL for each key that expires.
        if not repl.is_replica:
            t0 = time.perf_counter_ns()
            self.keyspace.active_expire_cycle(0.25 / self.config.hz)
            spent = time.perf_counter_ns() - t0
            self.stats.expire_cycle_ns += spent
            self.watch.sample("expire-cycle", spent // 1_000_000)
        self.keyspace.memory.cron(clients_memory(self.clients.values()), len(self.aof.buf))

    # --- INFO helpers ----------------------------------------------------------

    def info_text(self, sections: list[str]) -> str:
        """INFO's text for ``sections`` (the INFO command asks the server: info.py reads it)."""
        return info.generate(self, sections)

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: every counter INFO stats, commandstats and errorstats show."""
        for f in fields(self.stats):
            default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
            setattr(self.stats, f.name, default)
        ks = self.keyspace
        ks.stat_expired_keys = ks.stat_expired_time_cap_reached = 0
        ks.stat_expired_stale_perc = 0.0
        ks.memory.reset_stats()
        self.keyspace.hits = self.keyspace.misses = 0
        for cmd in ALL.values():
            cmd.calls = cmd.usec_ns = cmd.rejected_calls = cmd.failed_calls = 0
            cmd.hist = None  # the latency-tracking histogram goes too, as in Redis
        info.metrics(self).reset()

    def uptime(self) -> float:
        return time.monotonic() - self.start_monotonic

    @property
    def version_info(self) -> tuple[str, str]:
        return REDIS_VERSION, __version__


def _is_local(peer: Any) -> bool:
    if not isinstance(peer, tuple):
        return True  # unix socket
    try:
        return ipaddress.ip_address(peer[0].split("%")[0]).is_loopback
    except ValueError:
        return False


def install_event_loop_policy() -> str:
    """Use uvloop when importable; returns the name of the loop in use."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    except ImportError:
        return "asyncio"


def run(config: Config) -> int:
    loop_name = install_event_loop_policy()

    async def main() -> int:
        server = Server(config)
        log.info("oO0OoO0OoO0Oo minikv is starting oO0OoO0OoO0Oo")
        log.info(
            "minikv version=%s, redis compatibility=%s, bits=64, pid=%d, loop=%s",
            __version__,
            REDIS_VERSION,
            os.getpid(),
            loop_name,
        )
        server.before_start()
        await server.start()
        log.info("Server initialized")
        log_startup_warnings(log)  # overcommit, THP, somaxconn, cgroup limit (minikv/syscheck.py)
        log.info("Ready to accept connections tcp")
        sys.stdout.flush()
        return await server.serve_forever()

    return asyncio.run(main())
