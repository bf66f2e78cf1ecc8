"""MIGRATE's connections to other servers: blocking sockets, cached per target as Redis caches
them (``migrate_cached_sockets``: at most 64, each closed once unused for 10 seconds).

Blocking on purpose. MIGRATE is atomic in Redis: the server does nothing else until the target
has answered every RESTORE or the timeout has passed, so that no client sees a key on both
servers or on neither. minikv does the same on its event loop; ``timeout`` bounds each
connect, write and read, as Redis's connSync* calls bound theirs.

The connection remembers which database it last SELECTed, so a second MIGRATE to the same
database sends no SELECT, as in Redis (and a target that replied with an error forgets it).
"""

from __future__ import annotations

import socket
import time

#: Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
CACHE_ITEMS = 64
CACHE_TTL = 10.0


class Target:
    """One cached connection to ``host:port``."""

    def __init__(self, sock: socket.socket | None) -> None:
        #: None: the connection was refused. Redis's non-blocking connect only learns that
        #: when it writes, so MIGRATE reports a write error then (and retries once first).
        self.sock = sock
        self.last_dbid = -1
        self.last_use = time.monotonic()
        self._buf = b""

    def send(self, data: bytes, timeout_ms: int) -> None:
        """Write all of ``data`` (OSError on failure, TimeoutError past ``timeout_ms``)."""
        if self.sock is None:
            raise ConnectionRefusedError("connection refused")
        self.sock.settimeout(timeout_ms / 1000)
        self.sock.sendall(data)

    def read_line(self, timeout_ms: int) -> bytes:
        """One reply line without its CRLF (OSError on failure, TimeoutError past the
        timeout, ConnectionError if the target closed the connection)."""
        if self.sock is None:
            raise ConnectionRefusedError("connection refused")
        self.sock.settimeout(timeout_ms / 1000)
        while b"\n" not in self._buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed by the target")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.rstrip(b"\r")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


_cache: dict[tuple[bytes, bytes], Target] = {}


def get(host: bytes, port: bytes, timeout_ms: int) -> Target | None:
    """The cached connection to ``host:port``, or a new one; None if it cannot be opened
    within ``timeout_ms``."""
    close_idle()
    key = (host, port)
    t = _cache.get(key)
    if t is not None:
        t.last_use = time.monotonic()
        return t
    if len(_cache) >= CACHE_ITEMS:
        close(*next(iter(_cache)))  # Redis drops a random one; the oldest is as good
    try:
        sock = socket.create_connection(
            (host.decode(errors="replace"), _port(port)), timeout=timeout_ms / 1000
        )
    except ConnectionRefusedError:
        t = _cache[key] = Target(None)
        return t
    except (OSError, ValueError, UnicodeError, OverflowError):
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = _cache[key] = Target(sock)
    return t


def _port(port: bytes) -> int:
    # atoi(): leading digits, 0 without any.
    digits = b""
    for ch in port.lstrip():
        if not 48 <= ch <= 57:
            break
        digits += bytes((ch,))
    return int(digits or b"0")


def close(host: bytes, port: bytes) -> None:
    t = _cache.pop((host, port), None)
    if t is not None:
        t.close()


def close_idle() -> None:
    """Close connections unused for CACHE_TTL seconds (Redis's migrateCloseTimedoutSockets)."""
    now = time.monotonic()
    for key, t in list(_cache.items()):
        if now - t.last_use > CACHE_TTL:
            close(*key)


def cached() -> int:
    """INFO's ``migrate_cached_sockets``."""
    return len(_cache)
