"""Serving clients while a script is busy (Redis's processEventsWhileBlocked).

A script runs inside the event loop's callback, so nothing else runs until it returns. Past
``busy-reply-threshold`` the scripting engine calls ``BusyServing.serve`` from its Lua hook
(every 100000 instructions): this reads whatever the other clients sent, straight from their
sockets, and hands it to their ``Client.data_received`` as the loop would. The dispatcher
answers each command with Redis's BUSY error except the few allowed while busy (SCRIPT KILL,
SHUTDOWN NOSAVE, AUTH, MULTI...); writes go out through each client's transport, which sends
at once when it can. The caller of the script is not read: its next request waits for the
script's reply.

New connections are accepted too (the usual way to stop a runaway script is a new redis-cli
sending SCRIPT KILL): until the script ends such a client talks through a ``BusyTransport``
over its socket; afterwards the socket is handed to the event loop and the client carries on
with a real transport.

Limits: a client is read at most once per hook call (64 KiB), and output that the socket does
not take at once waits in the client's transport (or the BusyTransport) until the loop runs.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
from typing import TYPE_CHECKING, Any

from minikv.connection import Client

if TYPE_CHECKING:
    from minikv.server import Server

READ_SIZE = 64 * 1024


class BusyTransport(asyncio.Transport):
    """The transport of a client accepted while a script was busy: writes what the socket
    takes at once, keeps the rest, and hands both over to the real transport later."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.pending = bytearray()
        self.closing = False
        self.reading = True
        self._extra = {"peername": sock.getpeername(), "sockname": sock.getsockname()}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing:
            return
        if not self.pending:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.closing = True
                return
            data = memoryview(data)[sent:]
        self.pending += data

    def get_write_buffer_size(self) -> int:
        return len(self.pending)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def handover(self) -> bytes:
        """The output not sent yet, for the transport that takes over."""
        out = bytes(self.pending)
        self.pending.clear()
        return out


class BusyServing:
    """The server's side of a busy script: ``serve`` while it runs, ``over`` after."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # Clients accepted while busy, with their sockets, and the ids of clients whose
        # socket reached end of file (left for the loop to notice once it runs again).
        self.accepted: list[tuple[Client, socket.socket]] = []
        self.at_eof: set[int] = set()

    def serve(self, caller: Any) -> None:
        readers: dict[int, Any] = {}
        for client in list(self.server.clients.values()):
            transport = client.transport
            if (
                client is caller
                or client.closed
                or client.paused
                or client.id in self.at_eof
                or transport is None
                or isinstance(transport, BusyTransport)
            ):
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                readers[sock.fileno()] = client
        for client, sock in self.accepted:
            transport = client.transport
            if not client.closed and isinstance(transport, BusyTransport) and transport.reading:
                readers[sock.fileno()] = client
        self.server.flush_pushes_now()  # messages the script published, as Redis's beforeSleep
        listeners = {s.fileno(): s for s in self.server.listening_sockets()}
        try:
            ready, _, _ = select.select([*readers, *listeners], [], [], 0)
        except (OSError, ValueError):
            return
        for fd in ready:
            if fd in listeners:
                self._accept(fd)
                continue
            client = readers[fd]
            try:
                data = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.at_eof.add(client.id)
                continue
            client.data_received(data)

    def _accept(self, fd: int) -> None:
        listener = socket.socket(fileno=os.dup(fd))
        try:
            listener.setblocking(False)
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError, OSError):
            return
        finally:
            listener.close()  # the duplicate only
        conn.setblocking(False)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = Client(self.server)
        client.connection_made(BusyTransport(conn))
        self.accepted.append((client, conn))

    def over(self) -> None:
        """The script ended: hand the clients accepted meanwhile to the event loop."""
        accepted, self.accepted = self.accepted, []
        self.at_eof.clear()
        loop = self.server.loop
        for client, conn in accepted:
            transport = client.transport
            if client.closed or loop is None or (transport is not None and transport.is_closing()):
                if not client.lost:
                    client.connection_lost(None)
                conn.close()
                continue
            loop.create_task(self._adopt(loop, client, conn))

    @staticmethod
    async def _adopt(loop: asyncio.AbstractEventLoop, client: Client, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(lambda: client, conn)
        except OSError:
            client.connection_lost(None)
            conn.close()
