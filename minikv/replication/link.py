"""Replication, the replica's side: REPLICAOF, the link to the primary, loading, applying.

``ReplicaSide`` holds the role (``replicaof`` in the config) and reconnects from the cron
once a second while the link is down. ``MasterLink`` is the connection, an
``asyncio.Protocol`` that goes through Redis's states:

1. **handshake** — ``PING``, ``AUTH [masteruser] masterauth`` when set, ``REPLCONF
   listening-port``, ``REPLCONF capa eof capa psync2``, then ``PSYNC <replid> <offset+1>``
   with the history this server has (its own when it was a primary: a promoted replica's
   peers continue with it), or ``PSYNC ? -1``;
2. **transfer** (after ``+FULLRESYNC <replid> <offset>``) — the snapshot (``$<length>`` or
   ``$EOF:<mark>`` framing, newlines before it skipped) goes to a temp file while the old data
   keeps being served; when it is whole its checksum is verified *before* anything is
   dropped, so a garbage or truncated payload, or a primary that vanishes mid-transfer,
   leaves the old data in place. Then the data is emptied and the file loaded (the event loop
   waits meanwhile, as Redis's blocking load), and kept as ``dbfilename``;
3. **connected** (after the load, or ``+CONTINUE``) — the stream is parsed as requests and
   applied on the master client: with the expiry clock stopped (the primary decides what
   expired and sends DEL), MULTI/EXEC applied whole, ``REPLCONF GETACK`` answered. Each
   applied command's bytes advance the offset and are passed on to this server's own
   replicas (``Replication.feed``), so a chain shares one history. ``REPLCONF ACK <offset>``
   goes up once a second.

A replica hides keys whose deadline passed from its clients but does not delete them
(``Keyspace.replica_reads``): the primary's DEL does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import zlib
from typing import TYPE_CHECKING, Any

from minikv.blocking import handle_ready_keys
from minikv.commands import lookup
from minikv.internal_client import InternalClient
from minikv.keyspace import Keyspace, clock_stopped
from minikv.log import log
from minikv.persistence.aoffiles import encode_argv, fsync_dir
from minikv.persistence.format import FOOTER_SIZE, SnapshotError, decode_footer
from minikv.persistence.snapshot import load_file
from minikv.protocol import ProtocolError, QueryBufferOverflow, ReplyError, RequestParser

if TYPE_CHECKING:
    from minikv.replication.primary import Replication
    from minikv.server import Server

#: Link states as ROLE names them (and INFO's master_link_status derives from).
NONE = "none"
CONNECT = "connect"
CONNECTING = "connecting"
HANDSHAKE = "handshake"
SYNC = "sync"
CONNECTED = "connected"


class MasterClient(InternalClient):
    """The primary's commands run on this client (CLIENT LIST shows it with flag M)."""

    kind = "master"

    def __init__(self, server: Server, link: MasterLink) -> None:
        super().__init__(server, server.keyspace.dbs[0], "")
        self.link = link
        self.id = server.next_client_id()
        self.created = time.time()

    @property
    def transport(self) -> Any:
        return self.link.transport

    def info_line(self) -> str:
        now = time.time()
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd=-1 name= "
            f"age={int(now - self.created)} idle={int(now - self.link.last_io)} flags=M "
            f"db={self.db.id} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 "
            f"multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r "
            f"cmd={self.last_cmd or 'NULL'} user=default redir=-1 resp=2 lib-name= lib-ver="
        )

    def kill(self) -> None:
        self.link.close("killed")


class MasterLink(asyncio.Protocol):
    """The connection to the primary (one at a time)."""

    def __init__(self, side: ReplicaSide) -> None:
        self.side = side
        self.server = side.server
        self.transport: asyncio.Transport | None = None
        self.state = CONNECTING
        self.buf = bytearray()
        self.closed = False
        self.last_io = time.time()
        self._line_waiter: asyncio.Future[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        # transfer
        self.tmp_path = ""
        self.tmp_fd = -1
        #: The payload kept in memory instead of a temp file (repl-diskless-load swapdb, or
        #: on-empty-db with no keys); None when it goes to disk.
        self.mem: bytearray | None = None
        self.started = False  # the payload's header line was read
        self.size = -1  # -1: EOF-marked
        self.mark = b""
        self.read = 0
        self.tail = b""
        self.crc_ok = False
        # connected
        self.parser: RequestParser | None = None
        self.client: MasterClient | None = None
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_raw: list[bytes] = []
        self.master_replid = ""
        self.full_offset = 0

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state = HANDSHAKE
        log.info("MASTER <-> REPLICA sync started")
        self._task = asyncio.get_running_loop().create_task(self._handshake())

    def connection_lost(self, exc: Exception | None) -> None:
        self.close("connection lost" if exc is None else str(exc))

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_io = time.time()
        self.server.stats.total_net_input_bytes += len(data)
        self.side.net_input_bytes += len(data)
        if self.state == HANDSHAKE:
            self.buf += data
            self._wake_line()
        elif self.state == SYNC:
            self.buf += data
            self._transfer()
        elif self.state == CONNECTED:
            self._stream(data)

    # --- handshake ---------------------------------------------------------------------------

    def _wake_line(self) -> None:
        w = self._line_waiter
        if w is not None and not w.done() and b"\n" in self.buf:
            i = self.buf.index(b"\n")
            line = bytes(self.buf[:i]).rstrip(b"\r")
            del self.buf[: i + 1]
            self._line_waiter = None
            w.set_result(line)

    async def _readline(self, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        self._line_waiter = loop.create_future()
        self._wake_line()
        return await asyncio.wait_for(self._line_waiter, timeout)

    def _send(self, argv: list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode_argv(argv))

    async def _handshake(self) -> None:
        cfg = self.server.config
        timeout = float(cfg.repl_timeout)
        try:
            self._send([b"PING"])
            reply = await self._readline(timeout)
            if reply.startswith(b"-") and not reply.startswith(
                (b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")
            ):
                return self.close(f"Error reply to PING from master: '{reply.decode()}'")
            log.info("Master replied to PING, replication can continue...")
            if cfg.masterauth:
                auth = [b"AUTH"]
                if cfg.masteruser:
                    auth.append(cfg.masteruser.encode())
                auth.append(cfg.masterauth.encode())
                self._send(auth)
                reply = await self._readline(timeout)
                if reply.startswith(b"-"):
                    return self.close(f"Unable to AUTH to MASTER: {reply.decode()}")
            port = cfg.replica_announce_port or (
                self.server.ports[0] if self.server.ports else cfg.port
            )
            self._send([b"REPLCONF", b"listening-port", str(port).encode()])
            reply = await self._readline(timeout)
            if reply.startswith(b"-"):
                log.info(
                    "(Non critical) Master does not understand REPLCONF listening-port: %s",
                    reply.decode(),
                )
            if cfg.replica_announce_ip:
                self._send([b"REPLCONF", b"ip-address", cfg.replica_announce_ip.encode()])
                reply = await self._readline(timeout)
                if reply.startswith(b"-"):
                    log.info(
                        "(Non critical) Master does not understand REPLCONF ip-address: %s",
                        reply.decode(),
                    )
            self._send([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            reply = await self._readline(timeout)
            if reply.startswith(b"-"):
                log.info(
                    "(Non critical) Master does not understand REPLCONF capa: %s", reply.decode()
                )
            repl = self.side.replication
            if self.side.can_continue:
                log.info(
                    "Trying a partial resynchronization (request %s:%d).",
                    repl.replid,
                    repl.offset + 1,
                )
                psync = [b"PSYNC", repl.replid.encode(), str(repl.offset + 1).encode()]
                if self.side.failover_psync:
                    psync.append(b"FAILOVER")
                self._send(psync)
            else:
                log.info("Partial resynchronization not possible (no cached master)")
                self._send([b"PSYNC", b"?", b"-1"])
            while True:
                reply = await self._readline(timeout)
                if reply:  # the primary sends newlines while it prepares
                    break
            self._psync_reply(reply)
        except TimeoutError:
            self.close("Timeout connecting to the MASTER...")
        except asyncio.CancelledError:
            pass

    def _psync_reply(self, reply: bytes) -> None:
        side = self.side
        repl = side.replication
        if side.failover_psync:
            side.failover_psync = False
            # Our FAILOVER: the target took the role if it answers a sync; else we go back.
            if reply.startswith((b"+FULLRESYNC", b"+CONTINUE")):
                repl.failover_done()
            else:
                repl.abort_failover("Failover target rejected psync request")
                return
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) < 3 or len(parts[1]) != 40:
                return self.close(f"Bad +FULLRESYNC reply: {reply.decode(errors='replace')}")
            try:
                self.full_offset = int(parts[2])
            except ValueError:
                return self.close(f"Bad +FULLRESYNC reply: {reply.decode(errors='replace')}")
            self.master_replid = parts[1].decode()
            log.info("Full resync from master: %s:%d", self.master_replid, self.full_offset)
            self.state = SYNC
            side.transfer_started()
            self._transfer()
            return
        if reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            new = parts[1].decode() if len(parts) > 1 else repl.replid
            log.info("Successful partial resynchronization with master.")
            if new != repl.replid:
                repl.replid2 = repl.replid
                repl.second_offset = repl.offset + 1
                repl.replid = new
                log.info("Master replication ID changed to %s", new)
                repl.disconnect_replicas()  # they must learn the new ID
            log.info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            self._go_connected()
            return
        text = reply.decode(errors="replace")
        if reply.startswith((b"-NOMASTERLINK", b"-LOADING")):
            log.info("Master is currently unable to PSYNC but should be in the future: %s", text)
        else:
            log.warning("Unexpected reply to PSYNC from master: %s", text)
        self.close("PSYNC refused")

    # --- transfer ----------------------------------------------------------------------------

    def _transfer(self) -> None:
        buf = self.buf
        if not self.started:
            while buf[:1] == b"\n":  # keepalives before the payload
                del buf[:1]
            if b"\n" not in buf:
                return
            i = buf.index(b"\n")
            line = bytes(buf[:i]).rstrip(b"\r")
            del buf[: i + 1]
            if line.startswith(b"-"):
                return self.close(
                    f"MASTER aborted replication with an error: {line.decode(errors='replace')}"
                )
            if not line.startswith(b"$"):
                return self.close(
                    f"Bad protocol from MASTER, the first byte is not '$' ({line[:40]!r})"
                )
            if line.startswith(b"$EOF:"):
                self.mark = line[5:]
                if len(self.mark) != 40:
                    return self.close("Bad EOF mark from MASTER")
                self.size = -1
            else:
                try:
                    self.size = int(line[1:])
                except ValueError:
                    return self.close(f"Bad payload length from MASTER ({line[:40]!r})")
                if self.size < 0:
                    return self.close("Bad payload length from MASTER")
            self.started = True
            what = "streamed snapshot with EOF" if self.size < 0 else f"{self.size} bytes"
            if self.side.diskless_load():
                self.mem = bytearray()
                log.info("MASTER <-> REPLICA sync: receiving %s from master to memory", what)
            else:
                log.info("MASTER <-> REPLICA sync: receiving %s from master to disk", what)
                cfg = self.server.config
                name = f"temp-{int(time.time())}.{os.getpid()}.mkv"
                self.tmp_path = os.path.join(cfg.dir, name)
                try:
                    self.tmp_fd = os.open(
                        self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
                    )
                except OSError as e:
                    return self.close(
                        "Opening the temp file needed for MASTER <-> REPLICA synchronization: "
                        f"{e.strerror}"
                    )
        data = bytes(buf)
        buf.clear()
        if not data:
            return
        if self.size >= 0:
            take = data[: self.size - self.read]
            rest = data[len(take) :]
            if not self._write(take):
                return
            if self.read == self.size:
                self._loaded(rest)
            return
        # EOF-marked: the mark ends the payload; the stream may follow it in the same read
        # (the bytes before the mark that could start it are kept back in ``tail``).
        both = self.tail + data
        at = both.find(self.mark)
        if at >= 0:
            if self._write(both[:at]):
                self.tail = b""
                self._loaded(both[at + len(self.mark) :])
            return
        keep = len(self.mark) - 1
        body, self.tail = both[:-keep], both[-keep:]
        self._write(body)

    def _write(self, data: bytes) -> bool:
        if self.mem is not None:
            self.mem += data
            self.read += len(data)
            return True
        try:
            view = memoryview(data)
            while view:
                n = os.write(self.tmp_fd, view)
                view = view[n:]
        except OSError as e:
            self.close(
                "Write error or short write writing to the DB dump file needed for MASTER "
                f"<-> REPLICA synchronization: {e.strerror}"
            )
            return False
        self.read += len(data)
        return True

    def _loaded(self, rest: bytes) -> None:
        """The payload is whole: verify it, then (only then) replace the data with it."""
        side = self.side
        mem, self.mem = self.mem, None
        if mem is not None:
            why = _verify_bytes(mem)
            ok = not why and side.load(None, mem, self.master_replid, self.full_offset)
        else:
            fd, self.tmp_fd = self.tmp_fd, -1
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            why = _verify(self.tmp_path)
            ok = not why and side.load(self.tmp_path, None, self.master_replid, self.full_offset)
        if why:
            log.warning("Failed trying to load the MASTER synchronization DB: %s", why)
        if not ok:
            self.close("bad snapshot from MASTER" if why else "snapshot load failed")
            return
        self.tmp_path = ""
        self._go_connected()
        if rest:
            self._stream(rest)

    # --- connected ---------------------------------------------------------------------------

    def _go_connected(self) -> None:
        self.state = CONNECTED
        cfg = self.server.config
        self.parser = RequestParser(cfg.proto_max_bulk_len, 2**62)
        self.client = MasterClient(self.server, self)
        peer = self.transport.get_extra_info("peername") if self.transport else None
        sock = self.transport.get_extra_info("sockname") if self.transport else None
        self.client.addr = f"{peer[0]}:{peer[1]}" if peer else "?:0"
        self.client.laddr = f"{sock[0]}:{sock[1]}" if sock else "?:0"
        self.server.clients[self.client.id] = self.client  # type: ignore[assignment]
        log.info("MASTER <-> REPLICA sync: Finished with success")
        self.side.link_up()
        self.send_ack()
        if self.buf:
            data = bytes(self.buf)
            self.buf.clear()
            self._stream(data)

    def send_ack(self) -> None:
        if self.state == CONNECTED:
            self._send([b"REPLCONF", b"ACK", str(self.side.replication.offset).encode()])

    def _stream(self, data: bytes) -> None:
        parser = self.parser
        assert parser is not None
        while not self.closed:
            try:
                requests = parser.feed(data)
            except ProtocolError as e:
                if e.requests:  # the whole requests before the bad bytes count
                    self._apply(e.requests)
                log.warning("Protocol error from MASTER: %s", e.message)
                self.close("protocol error")
                return
            except QueryBufferOverflow:
                log.warning("Protocol error from MASTER: request too large")
                self.close("protocol error")
                return
            if requests:
                self._apply(requests)
            if not parser.more:
                return
            data = b""

    def _apply(self, requests: list[list[bytes]]) -> None:
        client = self.client
        assert client is not None
        server = self.server
        repl = self.side.replication
        ks = server.keyspace
        with clock_stopped():
            for argv in requests:
                if self.closed:
                    return
                cmd = lookup(argv)
                name = cmd.name if cmd is not None else ""
                if name == "replconf" and len(argv) >= 2 and argv[1].lower() == b"getack":
                    self.send_ack()
                    repl.feed(encode_argv(argv))
                    continue
                if name == "multi":
                    self.multi = []
                    self.multi_raw = [encode_argv(argv)]
                    continue
                if self.multi is not None and name != "exec":
                    self.multi.append((cmd, argv))
                    self.multi_raw.append(encode_argv(argv))
                    continue
                if name == "exec" and self.multi is not None:
                    batch, self.multi = self.multi, None
                    raw = b"".join(self.multi_raw) + encode_argv(argv)
                    self.multi_raw = []
                    for qcmd, qargs in batch:
                        self._run(client, qcmd, qargs)
                    repl.feed(raw)
                else:
                    self._run(client, cmd, argv)
                    # Re-encoded: a primary writes its stream in this one form, so these are
                    # the bytes it sent and the offset advances exactly.
                    repl.feed(encode_argv(argv))
                if ks.propagation.pending:
                    ks.propagation.flush()
                if ks.ready_keys:
                    handle_ready_keys(ks)

    def _run(self, client: MasterClient, cmd: Any, argv: list[bytes]) -> None:
        if cmd is None or not cmd.min_args <= len(argv) <= cmd.max_args:
            log.warning(
                "Command from MASTER failed: unknown command or wrong arity: '%s'",
                argv[0].decode(errors="replace") if argv else "",
            )
            return
        client.last_cmd = cmd.name
        reply = client.call(cmd, argv)
        if isinstance(reply, ReplyError):
            log.warning(
                "== CRITICAL == This replica is sending an error to its master: '%s' after "
                "processing the command '%s'",
                reply.message,
                cmd.name,
            )

    # --- closing -----------------------------------------------------------------------------

    def close(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.tmp_fd >= 0:
            os.close(self.tmp_fd)
            self.tmp_fd = -1
        if self.tmp_path:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp_path)
            self.tmp_path = ""
        if self.client is not None:
            self.server.clients.pop(self.client.id, None)
        if self.transport is not None:
            self.transport.close()
        was_connected = self.state == CONNECTED
        self.side.link_down(self, why, was_connected)


def _verify_bytes(data: bytes | bytearray) -> str:
    """``_verify`` for a payload kept in memory."""
    size = len(data)
    if size < FOOTER_SIZE + 1:
        return f"truncated ({size} bytes)"
    try:
        _keys, want = decode_footer(bytes(data[size - FOOTER_SIZE :]))
    except ValueError:
        return "no end-of-file footer (truncated or not a minikv snapshot)"
    crc = zlib.crc32(memoryview(data)[: size - FOOTER_SIZE])
    return "" if crc == want else "checksum mismatch"


def _verify(path: str) -> str:
    """Why the snapshot at ``path`` is not whole ("" if it is): its footer and checksum,
    checked before the data it would replace is dropped."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < FOOTER_SIZE + 1:
                return f"truncated ({size} bytes)"
            f.seek(size - FOOTER_SIZE)
            try:
                _keys, want = decode_footer(f.read(FOOTER_SIZE))
            except ValueError:
                return "no end-of-file footer (truncated or not a minikv snapshot)"
            f.seek(0)
            left = size - FOOTER_SIZE
            crc = 0
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    return "short read"
                crc = zlib.crc32(chunk, crc)
                left -= len(chunk)
    except OSError as e:
        return e.strerror or str(e)
    return "" if crc == want else "checksum mismatch"


class _Codes:
    """Collects the function libraries of a payload loaded beside the old data."""

    def __init__(self) -> None:
        self.codes: list[bytes] = []

    def restore_codes(self, codes: list[bytes]) -> None:
        self.codes = list(codes)


class ReplicaSide:
    """The replica role of one server."""

    def __init__(self, server: Server, replication: Replication) -> None:
        self.server = server
        self.replication = replication
        self.config = server.config
        self.link: MasterLink | None = None
        self.state = NONE
        #: Whether our replid/offset name a history the primary may continue (a cached
        #: master, or our own history when we were a primary).
        self.can_continue = False
        self.down_since = 0.0
        self.sync_start = 0.0
        self.net_input_bytes = 0
        self._connecting: asyncio.Task[Any] | None = None
        self._last_ack = 0.0
        #: The next PSYNC carries FAILOVER (see ``replicaof``).
        self.failover_psync = False

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.state == CONNECTED

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.config.replicaof.rsplit(" ", 1)
        return host, int(port)

    def start(self) -> None:
        """At start-up with ``replicaof`` in the config."""
        if self.config.replicaof:
            self.state = CONNECT
            self.can_continue = False  # a fresh start: our history is a new one
            self.replication.refresh()

    # --- REPLICAOF ---------------------------------------------------------------------------

    def replicaof(self, host: str, port: int, failover: bool = False) -> str:
        """REPLICAOF host port; returns the status text. ``failover``: FAILOVER hands our
        role to that replica of ours (the handshake ends with ``PSYNC .. FAILOVER``)."""
        cfg = self.config
        want = f"{host} {port}"
        if cfg.replicaof == want:
            log.info(
                "REPLICAOF would result into synchronization with the master we are already "
                "connected with. No operation performed."
            )
            return "OK Already connected to specified master"
        was_primary = not cfg.replicaof
        cfg.replicaof = want
        repl = self.replication
        if was_primary:
            # Our own history, so the new primary may let us continue (a demoted primary
            # meeting the replica that was promoted in its place).
            self.can_continue = True
        self._drop_link("changing master")
        repl.disconnect_replicas()
        self.failover_psync = failover
        self.state = CONNECT
        repl.refresh()
        log.info("Connecting to MASTER %s:%d", host, port)
        self.connect()
        return "OK"

    def replicaof_no_one(self) -> None:
        cfg = self.config
        if not cfg.replicaof:
            return
        cfg.replicaof = ""
        self._drop_link("promoted")
        repl = self.replication
        repl.shift_replid()
        repl.disconnect_replicas()
        repl.stream.db = -1
        repl.no_replicas_since = time.monotonic()
        self.state = NONE
        self.can_continue = False
        self.down_since = 0.0  # ready for when it is a replica again (as Redis)
        repl.refresh()
        log.info("MASTER MODE enabled (user request from REPLICAOF NO ONE)")

    def _drop_link(self, why: str) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        self._connecting = None
        link = self.link
        if link is not None:
            link.close(why)
        self.link = None

    # --- connecting --------------------------------------------------------------------------

    def connect(self) -> None:
        if self.state != CONNECT or self.server.loop is None:
            return
        if self._connecting is not None and not self._connecting.done():
            return
        self.state = CONNECTING
        self._connecting = self.server.loop.create_task(self._connect())

    async def _connect(self) -> None:
        host, port = self.host_port
        loop = asyncio.get_running_loop()
        link = MasterLink(self)
        self.link = link
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: link, host, port), self.config.repl_timeout
            )
        except (OSError, TimeoutError) as e:
            log.warning("Error condition on socket for SYNC: %s", getattr(e, "strerror", None) or e)
            if self.link is link:
                self.link = None
            if self.config.replicaof:
                self.state = CONNECT
            return
        log.info("Non blocking connect for SYNC fired the event.")

    def transfer_started(self) -> None:
        self.state = SYNC
        self.sync_start = time.time()

    def link_up(self) -> None:
        self.state = CONNECTED
        self.down_since = 0.0
        self.can_continue = True
        self.replication.refresh()

    def link_down(self, link: MasterLink, why: str, was_connected: bool) -> None:
        if link is not self.link:
            return
        self.link = None
        if was_connected:
            log.info("Connection with master lost (%s).", why)
            log.info("Caching the disconnected master state.")
            self.down_since = time.time()
        elif why not in ("changing master", "promoted"):
            log.warning("MASTER <-> REPLICA sync failed: %s", why)
        if self.config.replicaof:
            self.state = CONNECT
        self.replication.refresh()

    # --- loading a full sync -----------------------------------------------------------------

    def diskless_load(self) -> bool:
        """Whether the coming payload is kept in memory (Redis's useDisklessLoad)."""
        mode = self.config.repl_diskless_load
        if mode == "swapdb":
            return True
        return mode == "on-empty-db" and not any(len(db) for db in self.server.keyspace.dbs)

    def load(
        self, path: str | None, data: bytes | bytearray | None, replid: str, offset: int
    ) -> bool:
        """Replace the data with the verified snapshot at ``path`` (or in ``data``, kept in
        memory); False if it fails. From a file (``disabled``), or from memory into an empty
        dataset (``on-empty-db``), the old data is dropped, then the snapshot loaded, as
        Redis; with ``swapdb`` it is loaded beside the old data first and swapped in only once
        whole (twice the memory meanwhile), so a payload that does not load leaves the old
        data serving."""
        server = self.server
        ks = server.keyspace
        p = server.persistence
        repl = self.replication
        if p.in_progress:
            p.kill_child()
        aof_was_on = server.aof.state != "off"
        if aof_was_on:
            server.aof.stop()
        # Our replicas follow a history that is about to end (Redis's
        # replicationAttachToNewMaster): they resync with the new one.
        repl.disconnect_replicas()
        repl.backlog = None
        functions = server.scripts.functions

        def tick() -> None:
            # Redis's processEventsWhileBlocked: the other clients get -LOADING (or an
            # answer, for commands flagged loading) instead of waiting.
            server.busy.serve(None)

        p.loading = True
        t0 = time.monotonic()
        try:
            if data is None or self.config.repl_diskless_load != "swapdb":
                # From the file, or from memory into an empty dataset (on-empty-db).
                log.info("MASTER <-> REPLICA sync: Flushing old data")
                ks.changed_dataset(ks.flushall())
                functions.flush()
                log.info("MASTER <-> REPLICA sync: Loading DB in memory")
                res = load_file(ks, path or "<replication payload>", p.libraries, data, tick)
            else:
                log.info("MASTER <-> REPLICA sync: Loading DB in memory beside the old data")
                fresh = Keyspace(len(ks.dbs))
                codes = _Codes()
                res = load_file(fresh, "<replication payload>", codes, data, tick)
                log.info("MASTER <-> REPLICA sync: Swapping the old data for the new")
                functions.flush()
                functions.restore_codes(codes.codes)
                n = sum(len(db) for db in ks.dbs)
                for old, new in zip(ks.dbs, fresh.dbs, strict=True):
                    old.replace_contents(new)
                ks.changed_dataset(n)
        except (SnapshotError, ReplyError) as e:
            log.warning("Failed trying to load the MASTER synchronization DB: %s", e)
            return False
        finally:
            p.loading = False
            server.busy.over()
            ks.propagation.pending.clear()  # a replica's load propagates nothing
            ks.propagation.forced = False
            if aof_was_on:
                server.aof.start()  # a rewrite: the log starts from what is loaded now
        gc.freeze()  # as after loading at start: the loaded data is never garbage to scan
        cfg = server.config
        if path is not None:
            try:
                os.replace(path, os.path.join(cfg.dir, cfg.dbfilename))
                fsync_dir(cfg.dir)
            except OSError as e:
                log.warning(
                    "Failed trying to rename the temp DB into %s: %s", cfg.dbfilename, e.strerror
                )
            ks.dirty = 0
            p.lastsave = int(time.time())
        repl.replid = replid
        repl.replid2 = "0" * 40
        repl.second_offset = -1
        repl.offset = offset
        repl.create_backlog()
        log.info(
            "MASTER <-> REPLICA sync: loaded %d keys in %.3f seconds",
            res.loaded,
            time.monotonic() - t0,
        )
        return True

    # --- cron ----------------------------------------------------------------------------------

    def cron(self) -> None:
        if not self.config.replicaof:
            return
        now = time.time()
        if self.state == CONNECT:
            self.connect()
            return
        link = self.link
        if link is None:
            return
        if now - link.last_io > self.config.repl_timeout:
            if link.state == CONNECTED:
                log.warning("MASTER timeout: no data nor PING received...")
            else:
                log.warning(
                    "Timeout receiving bulk data from MASTER... If the problem persists try to "
                    "set the 'repl-timeout' parameter in redis.conf to a larger value."
                )
            link.close("timeout")
            return
        if link.state == CONNECTED and now - self._last_ack >= 1.0:
            self._last_ack = now
            link.send_ack()

    # --- INFO / ROLE ---------------------------------------------------------------------------

    def info_lines(self) -> list[str]:
        host, port = self.host_port
        link = self.link
        now = time.time()
        up = self.connected
        offset = self.replication.offset
        out = [
            f"master_host:{host}",
            f"master_port:{port}",
            f"master_link_status:{'up' if up else 'down'}",
            f"master_last_io_seconds_ago:{int(now - link.last_io) if up and link else -1}",
            f"master_sync_in_progress:{int(self.state == SYNC)}",
            f"slave_read_repl_offset:{offset}",
            f"slave_repl_offset:{offset}",
        ]
        if self.state == SYNC and link is not None:
            total = link.size if link.size >= 0 else -1
            perc = (link.read / total * 100) if total > 0 else 0.0
            out += [
                f"master_sync_total_bytes:{total}",
                f"master_sync_read_bytes:{link.read}",
                f"master_sync_left_bytes:{total - link.read if total >= 0 else -1}",
                f"master_sync_perc:{perc:.2f}",
                f"master_sync_last_io_seconds_ago:{int(now - link.last_io)}",
            ]
        if not up:
            out.append(
                "master_link_down_since_seconds:"
                f"{int(now - self.down_since) if self.down_since else -1}"
            )
        cfg = self.config
        out += [
            f"slave_priority:{cfg.replica_priority}",
            f"slave_read_only:{int(cfg.replica_read_only)}",
            f"replica_announced:{int(cfg.replica_announced)}",
        ]
        return out

    def role(self) -> list[Any]:
        host, port = self.host_port
        state = self.state
        if state == CONNECTING and self.link is not None and self.link.state == HANDSHAKE:
            state = HANDSHAKE
        offset = self.replication.offset if self.connected else -1
        return [b"slave", host.encode(), port, state.encode(), offset]
