"""What a command handler may see: the narrow context it is given, as typing protocols.

A handler is called as ``handler(ctx, args)``. Today the object passed is the connection's
``Client`` (no wrapper: the hot path cannot afford one per request), but handlers are typed
against ``Context`` below and ``tests/test_command_context.py`` checks that every command
module only uses what these protocols list: the selected database, the per-connection state a
command may change (name, protocol, MULTI/WATCH, authentication and the ACL user), reply
encoding, and a small
``ServerView`` of the server (config, keyspace, persistence, the client list, the log, and the
few server actions commands ask for). The transport, flow control and the ``Server`` class
stay out of reach, so a handler can later run where there is no socket at all (a script, a
replayed log). Changes are reported through the keyspace (``ctx.db.changed``), not here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from minikv.acl import Acl, User
    from minikv.config import Config
    from minikv.keyspace import Db, Keyspace
    from minikv.persistence.aof import AppendOnlyFile
    from minikv.persistence.snapshot import Persistence
    from minikv.protocol import ReplyError
    from minikv.pubsub import Hub, Subscriptions
    from minikv.scripting import Scripting
    from minikv.tracking import ClientTracking, Tracking
    from minikv.watch import MonitorOut, Watch


class StatsView(Protocol):
    def count_error(self, err: ReplyError) -> None: ...


class ServerView(Protocol):
    """The part of the server a command may use."""

    config: Config
    stats: StatsView
    keyspace: Keyspace
    persistence: Persistence
    aof: AppendOnlyFile
    pubsub: Hub
    scripts: Scripting
    #: The slow log, latency monitor, MONITOR clients and CLIENT PAUSE (minikv.watch).
    watch: Watch
    clients: dict[int, Any]  # id -> Context of every connected client
    #: minikv.replication.primary.Replication: roles, replicas, WAIT (its commands' work).
    replication: Any
    acl: Acl
    log: logging.Logger
    #: CLIENT TRACKING's table and messages (minikv.tracking).
    tracking: Tracking

    def info_text(self, sections: list[str]) -> str: ...

    def config_changed(self) -> None: ...

    def write_refusal(self, write: bool = False) -> ReplyError | None: ...

    def reset_stats(self) -> None: ...

    def request_shutdown(self, save: bool | None = None, force: bool = False) -> None: ...


class Context(Protocol):
    """The per-connection state a command may read and change."""

    server: ServerView
    db: Db
    id: int
    addr: str
    laddr: str
    name: bytes
    lib_name: bytes
    lib_ver: bytes
    resp: int
    authenticated: bool
    #: The ACL user the connection runs as (None: a connectionless client, which may do
    #: anything, as Redis's AOF client).
    user: User | None
    no_evict: bool
    no_touch: bool
    #: CLIENT REPLY (minikv.connection's REPLY_* values).
    reply_mode: int
    #: Set by ``server.watch.add_monitor`` while the client is in MONITOR mode.
    monitor: MonitorOut | None
    last_cmd: str
    close_after_reply: bool
    #: Subscriptions (None while the client has none); changed only through ``server.pubsub``.
    pubsub: Subscriptions | None
    #: What a primary knows of this client as a replica (None unless it sent REPLCONF).
    repl: Any
    #: CLIENT TRACKING's options (None while off); changed only through ``server.tracking``.
    tracking: ClientTracking | None
    #: minikv.blocking.BlockState while a blocking command waits (set by its handler).
    blocked: Any
    # MULTI/EXEC and WATCH
    multi: list[tuple[Any, list[bytes]]] | None
    multi_error: bool
    watched: set[tuple[int, bytes]]
    watched_expiring: set[tuple[int, bytes]]
    watch_dirty: bool

    def encode(self, value: Any) -> bytes: ...

    def deliver(self, frame: bytes) -> None: ...

    def batch_output(self) -> list[bytes] | None: ...

    def call(self, cmd: Any, args: list[bytes]) -> Any: ...

    def select(self, index: int) -> None: ...

    def set_resp(self, version: int) -> None: ...

    def set_authenticated(self, value: bool) -> None: ...

    def set_user(self, user: User) -> None: ...

    def unwatch_all(self) -> None: ...

    def info_line(self) -> str: ...

    def kill(self) -> None: ...
