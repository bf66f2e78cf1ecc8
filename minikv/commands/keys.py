"""Generic key commands: DEL EXISTS TTL ... and the expiry commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command
from minikv.protocol import OK

if TYPE_CHECKING:
    from minikv.connection import Client

K = "generic"


@command("del", -2, "write", (1, -1, 1), group=K, summary="Delete a key")
def del_(c: Client, args: list[bytes]) -> Any:
    db = c.db
    n = 0
    for key in args[1:]:
        if db.get(key) is not None and db.delete(key):
            n += 1
    c.server.keyspace.dirty += n
    return n


@command(
    "exists",
    -2,
    "readonly fast",
    (1, -1, 1),
    group=K,
    summary="Determine if a key exists",
    since="1.0.0",
)
def exists(c: Client, args: list[bytes]) -> Any:
    db = c.db
    return sum(1 for key in args[1:] if db.get(key) is not None)


@command("dbsize", 1, "readonly fast", group="server", summary="Return the number of keys")
def dbsize(c: Client, args: list[bytes]) -> Any:
    return len(c.db)


@command("flushall", -1, "write", group="server", summary="Remove all keys from all databases")
def flushall(c: Client, args: list[bytes]) -> Any:
    c.server.keyspace.dirty += c.server.keyspace.flushall()
    return OK
