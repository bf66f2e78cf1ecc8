"""One client connection: an ``asyncio.Protocol`` that owns the client's buffering and state.

Bytes in go to ``RequestParser``; each request is checked against the command table (existence,
arity, auth, MULTI queueing, write refusal) and run; every reply produced from one
``data_received`` batch goes out in a single ``transport.write``. While the transport's write
buffer is above its high-water mark the client is not read from (``pause_writing``), so a client
that does not read its replies cannot grow the server's memory without bound.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from minikv import acl
from minikv.blocking import BLOCKED, disconnected, handle_ready_keys
from minikv.commands import (
    TABLE,
    arity_error,
    internal_error,
    lookup,
    record_change,
    unknown_command_error,
)
from minikv.commands import call as call_command
from minikv.commands.transactions import discard_transaction
from minikv.config import over_output_limit
from minikv.eviction import OOM
from minikv.fastpath import compiled_commands, run_batch
from minikv.protocol import (
    QUEUED,
    ProtocolError,
    QueryBufferOverflow,
    Raw,
    ReplyError,
    RequestParser,
    encode_resp2,
    encode_resp3,
)
from minikv.watch import REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT

if TYPE_CHECKING:
    from minikv.keyspace import Db
    from minikv.server import Server

NOAUTH = ReplyError("NOAUTH Authentication required.")
LOADING = ReplyError("LOADING Redis is loading the dataset in memory")

_HTTP_WORDS = frozenset({b"post", b"host:"})
_NOTHING = Raw(b"")

# Commands whose reply shows commandstats (see Client._run's timing).
_READS_COMMANDSTATS = frozenset({"info"})

# Commands that run at once inside MULTI instead of being queued.
_MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})

OUTPUT_HIGH_WATER = 1024 * 1024
OUTPUT_LOW_WATER = 256 * 1024
# A blocked client's later requests wait parsed; past this many, stop reading it.
BLOCKED_BACKLOG_MAX = 10_000
#: What an idle connection costs the server beyond its buffers (the Client, its parser, the
#: transport and libuv's handle): measured as the anonymous RSS 2000 idle connections added,
#: divided by 2000 (3940 bytes, Python 3.11 + uvloop). Redis counts its client struct likewise.
CLIENT_FIXED_BYTES = 3940
#: A pointer or a container slot, per argument, subscription or tracking prefix (Redis counts
#: ``sizeof(robj*)`` per argv entry and per subscription).
ENTRY_BYTES = 8


class Client(asyncio.Protocol):
    """A connected client and everything Redis keeps per client."""

    # minikv.blocking.BlockState while a BLPOP-like command waits, else None. A class default,
    # set on the instance only while blocked: CPython 3.11 keeps an instance's attributes inline
    # (fast to read) only up to 30 names, and __init__ below already sets 30 (the limit).
    blocked: Any = None
    # minikv.pubsub.Subscriptions while subscribed to anything (same reason: a class default).
    pubsub: Any = None
    # minikv.replication.primary.ReplicaInfo once the client sent REPLCONF (same reason).
    repl: Any = None
    # minikv.watch.MonitorOut while the client is in MONITOR mode (a class default too).
    monitor: Any = None
    # CLIENT REPLY: REPLY_ON, REPLY_OFF, REPLY_SKIP_NEXT (set by SKIP) or REPLY_SKIP (a class
    # default: __init__ sets 30 names already).
    reply_mode = REPLY_ON
    # CLIENT PAUSE holds this client's requests (kept in _backlog, the paused one first).
    pause_wait = False
    # CLIENT NO-TOUCH: the client's commands (but TOUCH) leave the keys' access records alone
    # (minikv.commands.call); such a client takes the slow path.
    no_touch = False
    # minikv.tracking.ClientTracking while CLIENT TRACKING is on (a class default too).
    tracking: Any = None

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = server.next_client_id()
        self.transport: asyncio.Transport | None = None
        cfg = server.config
        self.parser = RequestParser(cfg.proto_max_bulk_len, cfg.client_query_buffer_limit)
        self.db: Db = server.keyspace.dbs[0]
        self.resp = 2
        self.encode = encode_resp2
        # The ACL user (minikv.acl); authenticated at once if it needs no password.
        self.user = server.acl.default
        self.authenticated = self.user.nopass and self.user.enabled
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.addr = "?:0"
        self.laddr = "?:0"
        self.created = time.time()
        self.last_interaction = self.created
        self.last_cmd = "NULL"
        self.no_evict = False
        # MULTI state: queued (command, args) pairs, or None outside a transaction.
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.watched: set[tuple[int, bytes]] = set()
        # Watched keys that had a deadline at WATCH time: expired by EXEC means modified.
        self.watched_expiring: set[tuple[int, bytes]] = set()
        self.watch_dirty = False
        self.close_after_reply = False
        self.closed = False
        self.lost = False  # connection_lost has run
        self.paused = False
        # The replies of the batch _run is producing (None outside it): a pub/sub message for
        # this client joins them there, so it keeps its place after the replies before it.
        self._out: list[bytes] | None = None
        # Requests parsed but not run yet because the client is not reading its replies, and
        # a protocol error found after them (sent once they have run).
        self._backlog: list[list[bytes]] | None = None
        self._proto_error = ""
        self.parser.strict = not self.authenticated

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        old = self.transport
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=OUTPUT_HIGH_WATER, low=OUTPUT_LOW_WATER)
        if old is not None and hasattr(old, "handover"):
            # Accepted while a script was busy (minikv.busy): already registered; the
            # event loop's transport takes over the socket and the unsent output.
            pending = old.handover()
            if pending:
                self.transport.write(pending)
            return
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.addr = _fmt_addr(peer)
        self.laddr = _fmt_addr(sock)
        refusal = self.server.client_connected(self, peer)
        if refusal is not None:
            transport.write(refusal)
            self.closed = True
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = True
        self.unwatch_all()
        if self.blocked is not None:
            disconnected(self)
        if self.pubsub is not None:
            self.server.pubsub.drop(self)
        if self.repl is not None:
            self.server.replication.replica_gone(self)
        if self.monitor is not None or self.pause_wait:
            self.server.watch.forget(self)
        if self.tracking is not None:
            self.server.tracking.disable(self)
        self.server.client_disconnected(self)

    def pause_writing(self) -> None:
        self.paused = True
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()
            # Unsent output passed the high-water mark: a moment client eviction looks at.
            self.server.check_client_memory()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is None or self.closed:
            return
        if self._backlog is not None and self.blocked is None and not self.pause_wait:
            self._drain_backlog()
        else:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        parser = self.parser
        stats = self.server.stats
        stats.total_net_input_bytes += len(data)
        stats.total_reads_processed += 1
        try:
            requests = parser.feed(data)
        except ProtocolError as e:
            self._protocol_error(e)
            return
        except QueryBufferOverflow:
            self.server.log.warning(
                "Closing client that reached max query buffer length: id=%d addr=%s",
                self.id,
                self.addr,
            )
            self._close()
            return
        if self._backlog is not None:  # paused or blocked, yet data came: keep the order
            self._backlog.extend(requests)
            if (self.blocked is not None or self.pause_wait) and len(
                self._backlog
            ) > BLOCKED_BACKLOG_MAX:
                assert self.transport is not None
                self.transport.pause_reading()
        elif requests:
            self._run(requests)
        if parser.more:
            self._feed_more()

    def _feed_more(self) -> None:
        # The parser returns one request at a time while the client must AUTH (see
        # RequestParser.strict): run each before parsing the next, as Redis does.
        parser = self.parser
        while parser.more and not self.closed and self._backlog is None:
            parser.strict = not self.authenticated
            try:
                requests = parser.feed(b"")
            except ProtocolError as e:
                self._protocol_error(e)
                return
            except QueryBufferOverflow:
                self._close()
                return
            if requests:
                self._run(requests)

    def _protocol_error(self, e: ProtocolError) -> None:
        self.server.stats.protocol_errors += 1
        self.server.log.log(
            15, "Protocol error (%s) from client: id=%d addr=%s", e.message, self.id, self.addr
        )
        if e.requests:
            self._run(e.requests)
        if self.closed:
            return
        if self._backlog is not None:  # sent after the replies still to be produced
            self._proto_error = e.message
            return
        self._flush_and_close([self.encode(ReplyError(f"ERR Protocol error: {e.message}"))])

    def _run(self, requests: list[list[bytes]]) -> None:
        """Execute ``requests`` and send their replies in one write.

        Once the replies of this batch pass the output high-water mark, the rest of the batch
        waits (reading paused) until the transport drains: a client that pipelines requests
        without reading replies holds at most about one high-water mark of replies here.

        A command that blocks (BLPOP...) ends the batch too: the rest waits, still being read
        (so a disconnect is seen), until ``minikv.blocking`` unblocks the client. After each
        command, clients blocked on keys it changed are served.
        """
        out: list[bytes] = []
        self._out = out
        size = 0
        server = self.server
        keyspace = server.keyspace
        persistence = server.persistence
        ready_keys = keyspace.ready_keys  # never rebound: handle_ready_keys empties it
        propagation = keyspace.propagation
        consumers = propagation.consumers  # never rebound either
        table_get = TABLE.get
        clock = time.perf_counter_ns
        blocked = BLOCKED
        watch = server.watch
        # Per-call timing (minikv.watch): on when latency-tracking, the slow log or the latency
        # monitor needs each call's duration. A fast-path call's duration runs from the end of
        # the call before (or the batch's start) to the end of its reply's encoding: one clock
        # read per call. ``timed_cmd`` is the fast-path command whose reply was just encoded.
        timed, tracking, alert_ns = watch.timing
        timed_cmd: Any = None
        named: Any = None  # the command last_cmd names, on the timed fast path
        # Commandstats time, when nothing needs per-call timing: one clock read per run of
        # consecutive calls of one command (the common pipeline repeats one command): the
        # time since the last read belongs to ``run``, the command of the current run; a
        # command's time runs from the end of the one before, so it includes its dispatch and
        # the previous reply's encoding.
        # ``eager``: the run's command reads commandstats itself (INFO), so its own earlier
        # calls must be charged before each call, as Redis's would be.
        run: Any = None
        eager = False
        t_prev = clock() if timed else 0  # else read when the first run starts
        i = 0  # how many requests have been taken
        # What the fast path needs of the client and server state, computed once per batch and
        # again after each command that took the slow path: only non-plain commands (MULTI,
        # AUTH, HELLO, RESET, (UN)SUBSCRIBE, admin commands such as ACL SETUSER) can change it
        # (Command.plain). A user limited in commands, keys or channels takes the slow path.
        scripts = server.scripts
        replication = server.replication
        keys_tracked = server.tracking
        fast = (
            self.multi is None
            and self.authenticated
            and self.user.unrestricted
            and self.pubsub is None
            and not scripts.busy
            and not replication.stale_gate
            and not persistence.loading
            and not watch.divert
            and not self.reply_mode
            and not self.no_touch
        )
        if keys_tracked.tracking_clients and self.tracking is not None:
            # A tracking client's reads fill the tracking table (Client.call). Looked at only
            # while some client tracks: reading a class default is a slow lookup (~1 % at -P 1).
            fast = False
        # Writes may take the fast path only while nothing can refuse them (MISCONF after a
        # failed save or AOF write, a read-only replica, min-replicas-to-write): the slow
        # path knows those rules (Server.write_refusal).
        aof = server.aof
        writes_fast = (
            persistence.last_bgsave_ok and aof.write_ok and aof.fsync_ok and replication.writes_ok
        )
        if not fast and self.pubsub is not None and self.pubsub.pending:
            self.flush_pushes()  # messages queued before this batch go before its replies
        # The compiled hot path (minikv._fastc) takes runs of plain hot requests in one C call
        # each: at the batch's head and, after this loop has run a request it left, at the
        # next request of a command it mirrors (``compiled``) where this loop's own rules
        # allow it (``fast``, nothing propagated, no blocked client to serve first). It is
        # not asked again at the requests right after one it left of the same command
        # (``declined``: its arguments or value were the Python path's, likely so again), nor
        # (``compiled`` emptied) while the database's state rules it out, until a slow-path
        # command ran. At the head it is asked before this loop (its answer, ``taken``, is
        # handled in the loop when it left some): it looks the command up itself, and at -P 1
        # (one request per batch) this loop's lookup and checks, and a clock read once it
        # took the whole batch, cost ~10 % of the request (benchmarks/README.md).
        compiled = compiled_commands
        declined: Any = None
        n = len(requests)
        ask = fast and not consumers and not ready_keys and run_batch is not None
        taken: Any = None  # the compiled path's answer at request i, not handled yet
        if ask:
            taken = run_batch(  # type: ignore[misc]
                self, self.db, self.resp, requests, 0, out, writes_fast, timed, tracking,
                alert_ns, keyspace, watch, OUTPUT_HIGH_WATER, TABLE,
            )  # fmt: skip
            if taken == n:
                i = n  # the whole batch (the common case): nothing for the loop
        while i < n:
            if not ask:
                args = requests[i]
                cmd = table_get(args[0])
                if cmd is not declined:
                    declined = None
                ask = (
                    cmd in compiled
                    and declined is None
                    and fast
                    and not consumers
                    and not ready_keys
                )
            if ask:
                ask = False
                if taken is None:  # (else asked at the head)
                    if run is not None:  # the Python run ends here: the compiled path times its own
                        run.usec_ns += clock() - t_prev
                        run = None
                    timed_cmd = named = None
                    taken = run_batch(  # type: ignore[misc]  # compiled is empty without it
                        self, self.db, self.resp, requests, i, out, writes_fast, timed, tracking,
                        alert_ns, keyspace, watch, OUTPUT_HIGH_WATER - size, TABLE,
                    )  # fmt: skip
                if taken < 0:
                    compiled = {}
                elif taken:
                    i += taken
                    if i == n:
                        break  # (nothing after the loop reads t_prev: the run is None)
                    size += len(out[-1])
                    if timed:
                        t_prev = clock()
                    if size > OUTPUT_HIGH_WATER:
                        self._backlog = requests[i:]
                        break
                taken = None
                args = requests[i]
                cmd = declined = table_get(args[0])
            i += 1  # how many have been taken, this one included (the backlog's index below)
            # The common case, checked inline: a known plain command with the right arity from
            # an authenticated client outside MULTI, writes allowed (what it propagates is
            # recorded as ``call`` records it). Anything else (and every error) goes through
            # execute(), which knows all the rules; the checks here read the same derived
            # fields.
            if (
                fast
                and cmd is not None
                and cmd.plain
                and cmd.min_args <= len(args) <= cmd.max_args
                and (writes_fast or not cmd.denied_on_misconf)
            ):
                if timed:
                    timed_cmd = cmd
                    if cmd is not named:  # set once per run of one command, as below
                        named = cmd
                        self.last_cmd = cmd.name
                elif cmd is not run or eager:
                    t = clock()
                    if run is not None:
                        run.usec_ns += t - t_prev
                    t_prev = t
                    run = cmd
                    eager = cmd.name in _READS_COMMANDSTATS
                    # Set once per run: only this loop and execute() (which ends a run) set it.
                    self.last_cmd = cmd.name
                if consumers:
                    # Someone consumes the propagation stream (the append-only file,
                    # replicas): record what the call changed and end its unit of
                    # execution, as ``call`` and the slow path do (one rule).
                    db = self.db
                    dirty = keyspace.dirty
                    propagation.forced = False
                try:
                    value = cmd.handler(self, args)
                except ReplyError as e:
                    cmd.failed_calls += 1
                    if not e.counted:
                        server.stats.count_error(e)
                    value = e
                except Exception as e:
                    value = internal_error(self, cmd, e)
                cmd.calls += 1
                if consumers:
                    if cmd.is_write and (keyspace.dirty != dirty or propagation.forced):
                        record_change(propagation, cmd, args, value, db)
                    if propagation.pending:
                        propagation.flush()
                        replication.wrote(self)
            else:
                if run is not None:
                    run.usec_ns += clock() - t_prev
                    run = None
                timed_cmd = named = None
                if self.tracking is None:
                    value = self.execute(args)  # sets last_cmd; Client.call times the command
                    if self.reply_mode:
                        value = self._filter_reply(value)
                else:
                    value = self._execute_tracking(args)
                # One unit of execution: a command, or a whole EXEC (while a script is busy,
                # its own writes are pending: they are flushed when it ends).
                if propagation.pending and not scripts.busy:
                    propagation.flush()
                    replication.wrote(self)  # WAIT waits for this offset
                fast = (
                    self.multi is None
                    and self.authenticated
                    and self.user.unrestricted
                    and self.pubsub is None
                    and not scripts.busy
                    and not replication.stale_gate
                    and not persistence.loading
                    and not watch.divert
                    and not self.reply_mode
                    and not self.no_touch
                    and (not keys_tracked.tracking_clients or self.tracking is None)
                )
                writes_fast = (
                    persistence.last_bgsave_ok
                    and aof.write_ok
                    and aof.fsync_ok
                    and replication.writes_ok
                )
                # CONFIG SET latency-tracking / slowlog-log-slower-than may have changed what
                # the calls after it in this batch must record.
                timed, tracking, alert_ns = watch.timing
                compiled = compiled_commands  # (UN)WATCH, a blocked client... may have changed
                if timed:
                    t_prev = clock()
            if value is blocked:
                # A paused request runs again when the pause ends; a blocked one is done.
                self._backlog = requests[i - 1 if self.pause_wait else i :]
                break
            # The commonest reply types inline; each is the same in RESP2 and RESP3 (bool,
            # not an int here, differs and goes to the encoder). self.encode is read after
            # the call: HELLO switches protocol mid-batch.
            tv = type(value)
            if tv is bytes:
                reply = b"$%d\r\n%b\r\n" % (len(value), value)
            elif tv is Raw:
                reply = value
            elif tv is int:
                reply = b":%d\r\n" % value
            else:
                reply = self.encode(value)
            out.append(reply)
            if timed_cmd is not None:
                t = clock()
                d = t - t_prev
                t_prev = t
                timed_cmd.usec_ns += d
                if tracking:
                    # minikv.latency.bucket_of, inline, for d >= 256 ns; shorter (a negative
                    # shift), longer than the histogram, or the command's first call (no
                    # histogram yet) take the except path. Zero cost in 3.11 otherwise.
                    b = d.bit_length() - 8
                    try:
                        timed_cmd.hist[(b << 7) + (d >> b)] += 1
                    except (TypeError, IndexError, ValueError):
                        watch.record_duration(timed_cmd, d)
                if d >= alert_ns:
                    watch.slow_call(self, timed_cmd, args, d)
                timed_cmd = None
            if ready_keys and not scripts.busy:  # not half way through a busy script
                handle_ready_keys(keyspace)
            if self.close_after_reply:
                break
            size += len(reply)
            if size > OUTPUT_HIGH_WATER and i < n:
                self._backlog = requests[i:]
                break
        if run is not None:
            run.usec_ns += clock() - t_prev
        self._out = None
        if self.closed:
            return
        transport = self.transport
        assert transport is not None
        if out:
            data = b"".join(out) if len(out) > 1 else out[0]
            stats = server.stats
            stats.total_net_output_bytes += len(data)
            stats.total_writes_processed += 1
            # _send, inline: a method call per batch shows at -P 1
            if not (aof.active and aof.before_reply(self, data)):
                transport.write(data)
        if self.close_after_reply:
            self._backlog = None
            self._send_close()
        elif self.blocked is not None or self.pause_wait:
            if not self.paused and len(self._backlog or ()) <= BLOCKED_BACKLOG_MAX:
                transport.resume_reading()
        elif self._backlog is not None:
            transport.pause_reading()
            if not self.paused:  # the write went out at once: no resume_writing will come
                asyncio.get_running_loop().call_soon(self._drain_backlog)

    def _drain_backlog(self) -> None:
        backlog = self._backlog
        if (
            backlog is None
            or self.closed
            or self.paused
            or self.blocked is not None
            or self.pause_wait
        ):
            return
        self._backlog = None
        self._run(backlog)
        if self._backlog is None and not self.closed:
            if self._proto_error:
                err = ReplyError(f"ERR Protocol error: {self._proto_error}")
                self._flush_and_close([self.encode(err)])
                return
            assert self.transport is not None
            self.transport.resume_reading()
            if self.parser.more:
                self._feed_more()

    # --- command execution ----------------------------------------------------------

    def execute(self, args: list[bytes]) -> Any:
        """Check and run one request; returns the reply value (errors included)."""
        cmd = lookup(args)
        if cmd is None:
            if args[0].lower() in _HTTP_WORDS:
                return self._security_warning()
            self.server.stats.unknown_commands += 1
            return self._reject(unknown_command_error(args), None)
        self.last_cmd = cmd.name  # as Redis's lastcmd: set even if rejected or queued
        if not cmd.min_args <= len(args) <= cmd.max_args:
            return self._reject(arity_error(cmd), cmd)
        if not self.authenticated and "no_auth" not in cmd.flags and self._auth_required():
            return self._reject(NOAUTH, cmd)
        if self.multi is not None and "no_multi" in cmd.flags:
            return self._reject(ReplyError("ERR Command not allowed inside a transaction"), cmd)
        user = self.user
        if not user.unrestricted:  # Redis's ACLCheckAllPerm, where processCommand has it
            result, pos = user.check(cmd, args)
            if result:
                context = acl.MULTI if self.multi is not None else acl.TOPLEVEL
                self.server.acl.log_denial(user, cmd, args, result, pos, context, self.info_line())
                return self._reject(ReplyError(acl.denied_error(result, cmd)), cmd)
        if self.server.persistence.loading and "loading" not in cmd.flags:
            # A replica loading its primary's snapshot serves clients meanwhile.
            return self._reject(LOADING, cmd)
        if self.server.scripts.busy:
            if "allow_busy" not in cmd.flags:  # a script is running past busy-reply-threshold
                return self._reject(self.server.scripts.busy_error, cmd)
        elif (memory := self.server.keyspace.memory).maxmemory and memory.before_command(
            self.multi is not None, cmd, self.multi
        ):  # over maxmemory and nothing to evict (minikv.eviction)
            return self._reject(OOM, cmd)
        if (
            self.server.replication.stale_gate
            and "stale" not in cmd.flags
            and (refusal := self.server.replication.stale_refusal()) is not None
        ):
            return self._reject(refusal, cmd)
        if self.monitor is not None and (
            cmd.is_write or "readonly" in cmd.flags or "may_replicate" in cmd.flags
        ):
            # As Redis: a MONITOR client is a replica of sorts and may not use the keyspace.
            return self._reject(ReplyError("ERR Replica can't interact with the keyspace"), cmd)
        watch = self.server.watch
        if (
            (watch.pause_type or watch.failover_pause)
            and self.repl is None
            and watch.pause_blocks(cmd, args, self.multi)
        ):
            # (Replicas are never paused, as in Redis.)
            watch.hold(self)  # run again, from the start, when the pause ends
            return BLOCKED
        if self.multi is not None:
            if cmd.name not in _MULTI_IMMEDIATE:
                if cmd.is_write and (refusal := self.server.write_refusal(True)) is not None:
                    return self._reject(refusal, cmd)
                self.multi.append((cmd, args))
                return QUEUED
        elif (
            cmd.denied_on_misconf
            and (refusal := self.server.write_refusal(cmd.is_write)) is not None
        ):
            return self._reject(refusal, cmd)
        elif self.pubsub is not None and self.resp == 2 and not cmd.allowed_subscribed:
            return self._reject(
                ReplyError(
                    f"ERR Can't execute '{cmd.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                    "PING / QUIT / RESET are allowed in this context"
                ),
                cmd,
            )
        return self.call(cmd, args)

    def _execute_tracking(self, args: list[bytes]) -> Any:
        """``execute`` for a tracking client: invalidations of keys it changes itself are
        held while its command runs and follow the command's reply (minikv.tracking)."""
        tracking = self.server.tracking
        tracking.current = self
        value = self.execute(args)
        tracking.current = None
        if self.reply_mode:
            value = self._filter_reply(value)
        if value is BLOCKED:
            return value
        return Raw(tracking.after_command(self, self.encode(value)))

    #: Run a command's handler with stats and propagation (Redis's ``call()``): the one
    #: implementation, shared with the script client (``minikv.commands.call``).
    call = call_command

    def _filter_reply(self, value: Any) -> Any:
        """CLIENT REPLY OFF / SKIP: drop the reply (errors too, as Redis); SKIP's own command
        sets REPLY_SKIP_NEXT, which silences the command after it."""
        mode = self.reply_mode
        if mode == REPLY_SKIP_NEXT:
            self.reply_mode = REPLY_SKIP
            return value
        if value is BLOCKED:
            return value
        if mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON
        return _NOTHING

    def _security_warning(self) -> Raw:
        # "POST" / "Host:" is an HTTP request aimed at the port (cross-protocol scripting):
        # Redis drops the connection without a reply.
        self.server.log.warning(
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
            "commands to Redis. This is likely due to an attacker attempting to use Cross "
            "Protocol Scripting to compromise your Redis instance. Connection aborted."
        )
        self._close()  # replies of this batch are dropped too, as by Redis
        self.close_after_reply = True
        return _NOTHING

    def _reject(self, err: ReplyError, cmd: Any) -> ReplyError:
        if cmd is not None:
            cmd.rejected_calls += 1
            if cmd.name == "exec":  # as Redis's rejectCommand: the transaction goes too
                discard_transaction(self)
                text = err.message.removeprefix("ERR ")
                err = ReplyError(f"EXECABORT Transaction discarded because of: {text}")
        self.server.stats.count_error(err)
        if self.multi is not None:
            self.multi_error = True
        return err

    # --- state helpers ----------------------------------------------------------

    def _auth_required(self) -> bool:
        """Redis's authRequired: an unauthenticated client must AUTH unless the default user
        is enabled and needs no password (requirepass cleared since it connected)."""
        default = self.server.acl.default
        return not (default.nopass and default.enabled)

    def set_user(self, user: Any) -> None:
        """Authenticated as ``user`` (AUTH, HELLO AUTH)."""
        self.user = user
        self.set_authenticated(True)

    def set_authenticated(self, value: bool) -> None:
        self.authenticated = value
        # Unauthenticated clients get Redis's tighter request limits (slow parser path).
        self.parser.strict = not value

    def set_resp(self, version: int) -> None:
        self.resp = version
        self.encode = encode_resp3 if version == 3 else encode_resp2

    def select(self, index: int) -> None:
        self.db = self.server.keyspace.dbs[index]

    def unwatch_all(self) -> None:
        dbs = self.server.keyspace.dbs
        for dbid, key in self.watched:
            w = dbs[dbid].watched
            clients = w.get(key)
            if clients is not None:
                clients.discard(self)
                if not clients:
                    del w[key]
        self.watched.clear()
        self.watched_expiring.clear()
        self.watch_dirty = False

    def resume_after_block(self) -> None:
        """Unblocked: run the requests that arrived while the client waited."""
        self._drain_backlog()

    def _flush_and_close(self, out: list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            self._send(b"".join(out))
        self._send_close()

    # --- output: after the append-only file has what it acknowledges -----------------------

    def _send(self, data: bytes) -> None:
        """Write replies. While the append-only file is on, it writes what they acknowledge
        first, and with ``appendfsync always`` it may hold them until that is fsynced
        (``write_reply`` then sends them, in order)."""
        aof = self.server.aof
        if aof.active and aof.before_reply(self, data):
            return
        assert self.transport is not None
        self.transport.write(data)

    def _send_close(self) -> None:
        """Close once the replies already sent (or held by the AOF) are out."""
        aof = self.server.aof
        if aof.active and aof.before_reply(self, None):
            self.closed = True  # read nothing more; ``close_now`` closes it
            return
        self._close()

    def write_reply(self, data: bytes) -> None:
        """Replies the append-only file held until they were durable."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close_now(self) -> None:
        transport = self.transport
        self.closed = True
        if transport is not None and not transport.is_closing():
            transport.close()

    def drop_unacknowledged(self) -> None:
        """The append-only file could not make this client's writes durable: its replies
        are never sent (it must not believe they were logged); it is disconnected."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.server.log.warning(
            "Disconnecting client id=%d addr=%s: the AOF write or fsync failed, its replies "
            "are not acknowledged",
            self.id,
            self.addr,
        )
        self.closed = True
        transport.abort()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def kill(self) -> None:
        """CLIENT KILL / shutdown: close now, dropping unsent output."""
        self._close()

    def evict(self) -> None:
        """Client eviction (minikv.client_eviction): the connection and what it holds go at
        once, unsent output included, as Redis's freeClient; counted in evicted_clients."""
        self.server.stats.evicted_clients += 1
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def kind(self) -> str:
        """CLIENT LIST / KILL's type: normal, slave (a replica's link) or pubsub."""
        if self.repl is not None and self.repl.state:
            return "slave"
        return "pubsub" if self.pubsub is not None else "normal"

    def send_raw(self, data: bytes) -> None:
        """Replication output (the stream, a snapshot): straight to the socket, not held by
        the append-only file (it carries no reply)."""
        transport = self.transport
        if transport is not None and not self.closed:
            self.server.stats.total_net_output_bytes += len(data)
            transport.write(data)

    def output_pending(self) -> int:
        """Bytes written but not yet sent to the socket."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def deliver(self, frame: bytes) -> None:
        """A pub/sub message (or keyspace notification) for this client. While the client's own
        batch runs (it published to itself) the message joins that batch's replies; otherwise
        it is queued and written with the others of this event-loop turn (``flush_pushes``),
        one write per subscriber however many messages. A subscriber that does not read is
        disconnected once its output passes ``client-output-buffer-limit pubsub`` (it never
        makes the server's memory grow without bound)."""
        out = self._out
        if out is not None:
            out.append(frame)
            return
        transport = self.transport
        if transport is None or self.closed:
            return
        self.server.stats.total_net_output_bytes += len(frame)
        subs = self.pubsub
        if subs is None:  # only subscribers get messages; written at once all the same
            transport.write(frame)
            return
        if not subs.pending:
            self.server.queue_pushes(self)
        subs.pending.append(frame)
        subs.pending_bytes += len(frame)
        self._check_output_limit(transport.get_write_buffer_size() + subs.pending_bytes)

    def deliver_monitor(self, line: bytes) -> None:
        """A MONITOR line: queued and written with the others of this event-loop turn (after
        the replies of a batch of the monitor's own), and limited as a subscriber's messages
        are (``client-output-buffer-limit pubsub``)."""
        mon = self.monitor
        transport = self.transport
        if mon is None or transport is None or self.closed:
            return
        self.server.stats.total_net_output_bytes += len(line)
        if not mon.pending:
            self.server.queue_pushes(self)
        mon.pending.append(line)
        mon.pending_bytes += len(line)
        self._check_output_limit(transport.get_write_buffer_size() + mon.pending_bytes)

    def flush_pushes(self) -> None:
        """Write the messages queued by ``deliver`` and the lines by ``deliver_monitor`` (a
        monitor may subscribe too)."""
        subs = self.pubsub
        if self.monitor is not None and self.monitor.pending:
            subs = self.monitor if subs is None or not subs.pending else subs
            if subs is not self.monitor:  # both: the messages, then the lines
                subs.pending.extend(self.monitor.pending)
                subs.pending_bytes += self.monitor.pending_bytes
                self.monitor.pending.clear()
                self.monitor.pending_bytes = 0
        if subs is None or not subs.pending:
            return
        data = b"".join(subs.pending)
        subs.pending.clear()
        subs.pending_bytes = 0
        transport = self.transport
        if transport is None or self.closed:
            return
        transport.write(data)
        self._check_output_limit(transport.get_write_buffer_size())

    def batch_output(self) -> list[bytes] | None:
        """The encoded replies of the batch being run, in order (None outside one). A command
        that writes its reply in parts (EXEC) appends them here, so that messages delivered
        to this client meanwhile keep their place between them."""
        return self._out

    def _check_output_limit(self, used: int) -> None:
        """Redis's checkClientOutputBufferLimits for the pubsub class, on the bytes the
        transport has not sent yet: over the hard limit, or over the soft limit for longer than
        its seconds, closes the subscriber at once, dropping its unsent output. (Normal clients
        need no limit: they are not read while their unsent replies pass the high-water mark.)
        A MONITOR client gets the pubsub class too: its lines are pushed like messages (Redis
        gives it the normal class, unlimited by default, which minikv does not offer).
        """
        pubsub = self.pubsub if self.pubsub is not None else self.monitor
        if pubsub is None:
            return
        limit = self.server.config.client_output_buffer_limit["pubsub"]
        if not over_output_limit(pubsub, used, limit, time.time()):
            return
        self.server.log.warning(
            "Client %s closed for overcoming of output buffer limits.", self.info_line()
        )
        self.server.pubsub.drop(self)
        if self.monitor is not None:
            self.server.watch.forget(self)
        self.closed = True
        assert self.transport is not None
        self.transport.abort()

    def write_async(self, data: bytes) -> None:
        """Send bytes outside the request path (e.g. to a client woken from a block)."""
        if self.pubsub is not None:
            self.flush_pushes()  # messages queued before it go first
        if self.transport is not None and not self.closed:
            self._send(data)

    # --- CLIENT LIST / INFO ----------------------------------------------------------------------

    def memory_usage(self) -> tuple[int, int]:
        """(output, total): the bytes this client holds, as Redis's getClientMemoryUsage counts
        them (CLIENT LIST's omem and tot-mem, client eviction, INFO mem_clients_normal): unsent
        output (the transport's buffer and queued pushes), the unparsed query buffer, parsed
        requests waiting (blocked, paused, not reading its replies), MULTI's queued arguments,
        subscriptions and tracking prefixes, plus ``CLIENT_FIXED_BYTES``."""
        transport = self.transport
        out = transport.get_write_buffer_size() if transport is not None else 0
        total = CLIENT_FIXED_BYTES + self.parser.pending()
        if self.pubsub is not None:
            subs = self.pubsub
            out += subs.pending_bytes
            total += ENTRY_BYTES * subs.total()
        if self.monitor is not None:
            out += self.monitor.pending_bytes
        if self._backlog is not None:
            total += _args_bytes(self._backlog)
        total += self.multi_memory()
        if self.tracking is not None:
            total += sum(ENTRY_BYTES + len(p) for p in self.tracking.prefixes)
        return out, out + total

    def multi_memory(self) -> int:
        """CLIENT LIST's multi-mem: the queued commands' argument bytes."""
        return 0 if self.multi is None else _args_bytes([args for _, args in self.multi])

    def info_line(self) -> str:
        now = time.time()
        pubsub = self.pubsub
        flags = (
            ("S" if self.repl is not None and self.repl.state else "")
            + ("O" if self.monitor is not None else "")
            + ("P" if pubsub is not None else "")
            + ("x" if self.multi is not None else "")
            + ("b" if self.blocked is not None or self.pause_wait else "")
            + (self.tracking.list_flags() if self.tracking is not None else "")
            + ("e" if self.no_evict else "")
            + ("T" if self.no_touch else "")
        ) or "N"
        sub, psub, ssub = (
            (len(pubsub.channels), len(pubsub.patterns), len(pubsub.shard))
            if pubsub is not None
            else (0, 0, 0)
        )
        omem, tot_mem = self.memory_usage()
        qbuf = self.parser.pending()
        sub_multi = len(self.multi) if self.multi is not None else -1
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd=-1 "
            f"name={self.name.decode(errors='replace')} age={int(now - self.created)} "
            f"idle={int(now - self.last_interaction)} flags={flags} db={self.db.id} sub={sub} "
            f"psub={psub} ssub={ssub} multi={sub_multi} qbuf={qbuf} qbuf-free=0 argv-mem=0 "
            f"multi-mem={self.multi_memory()} rbs=0 rbp=0 obl=0 oll=0 omem={omem} "
            f"tot-mem={tot_mem} events=r "
            f"cmd={self.last_cmd} user={self.user.name.decode(errors='replace')} "
            f"redir={self.tracking.redirect if self.tracking is not None else -1} "
            f"resp={self.resp} "
            f"lib-name={self.lib_name.decode(errors='replace')} "
            f"lib-ver={self.lib_ver.decode(errors='replace')}"
        )


def _args_bytes(requests: list[list[bytes]]) -> int:
    """Parsed requests' size as Redis counts argv (argv_len_sum + a pointer per argument)."""
    return sum(sum(map(len, args)) + ENTRY_BYTES * len(args) for args in requests)


def _fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return "?:0"
