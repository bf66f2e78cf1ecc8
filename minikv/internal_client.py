"""A client with no connection: the context commands run in when nobody sent them.

Scripts (``redis.call``) and the append-only file's replay run command handlers on one of
these, as Redis runs them on a fake client: it has a selected database and a protocol, but no
socket, no MULTI, WATCH or subscriptions of its own, and it never blocks (``last_cmd`` never
names a blocking command). Replies are returned to the caller, never written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minikv.commands import call as call_command
from minikv.protocol import encode_resp2, encode_resp3

if TYPE_CHECKING:
    from minikv.acl import User
    from minikv.commands.context import ServerView
    from minikv.keyspace import Db
    from minikv.pubsub import Subscriptions


class InternalClient:
    """A ``Context`` (minikv.commands.context) without a connection."""

    multi: list[tuple[Any, list[bytes]]] | None = None
    multi_error = False
    watch_dirty = False
    authenticated = True
    no_evict = False
    no_touch = False
    monitor = None
    close_after_reply = False
    pubsub: Subscriptions | None = None
    repl: Any = None
    tracking: Any = None  # never tracks keys (CLIENT is not allowed in scripts)
    blocked: Any = None  # never blocks (a blocking command answers as timed out at once)
    kind = "normal"
    #: No ACL user: a client nobody connected (the AOF's replay) may run anything, as
    #: Redis's fake clients do. A script's client takes its caller's.
    user: User | None = None
    call = call_command

    def __init__(self, server: ServerView, db: Db, last_cmd: str) -> None:
        self.server = server
        self.db = db
        self.id = 0
        self.addr = ""
        self.laddr = ""
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.last_cmd = last_cmd
        self.resp = 2
        self.reply_mode = 0  # never changed: replies are returned, not written
        self.encode: Callable[[Any], bytes] = encode_resp2
        self.watched: set[tuple[int, bytes]] = set()
        self.watched_expiring: set[tuple[int, bytes]] = set()

    def deliver(self, frame: bytes) -> None:  # never subscribed
        pass

    def batch_output(self) -> list[bytes] | None:
        return None

    def select(self, index: int) -> None:
        self.db = self.server.keyspace.dbs[index]

    def set_resp(self, version: int) -> None:
        self.resp = version
        self.encode = encode_resp3 if version == 3 else encode_resp2

    def set_authenticated(self, value: bool) -> None:
        pass

    def set_user(self, user: User) -> None:
        self.user = user

    def unwatch_all(self) -> None:
        pass

    def info_line(self) -> str:
        return "id=0 addr= laddr= fd=-1 name= flags=S"

    def kill(self) -> None:
        pass
