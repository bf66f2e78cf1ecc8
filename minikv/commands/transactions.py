"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH.

Inside MULTI the dispatcher (``Client.execute``) queues commands after checking them; a command
rejected while queueing (unknown, wrong arity...) makes EXEC fail with EXECABORT. WATCHed keys
are registered in their database's ``watched`` map; any write to one marks the watchers dirty
(``Db.touched``) and their EXEC returns a null array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import acl
from minikv.commands import command
from minikv.protocol import NULL_ARRAY, OK, Raw, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

TX = "transactions"

NOTHING = Raw(b"")
EXECABORT = ReplyError("EXECABORT Transaction discarded because of previous errors.")


@command(
    "multi",
    1,
    "noscript loading stale fast allow_busy",
    group=TX,
    summary="Start a transaction block",
    since="1.2.0",
)
def multi(c: Context, args: list[bytes]) -> Any:
    if c.multi is not None:
        raise ReplyError("ERR MULTI calls can not be nested")
    c.multi = []
    c.multi_error = False
    return OK


def discard_transaction(c: Context) -> None:
    """Redis's discardTransaction: no MULTI state, no watched keys."""
    c.multi = None
    c.multi_error = False
    c.unwatch_all()


@command(
    "discard",
    1,
    "noscript loading stale fast allow_busy",
    group=TX,
    summary="Discard all commands issued after MULTI",
    since="2.0.0",
)
def discard(c: Context, args: list[bytes]) -> Any:
    if c.multi is None:
        raise ReplyError("ERR DISCARD without MULTI")
    discard_transaction(c)
    return OK


@command(
    "exec",
    1,
    "noscript loading stale skip_slowlog",
    group=TX,
    summary="Execute all commands issued after MULTI",
    since="1.2.0",
)
def exec_(c: Context, args: list[bytes]) -> Any:
    if c.multi is None:
        raise ReplyError("ERR EXEC without MULTI")
    queued = c.multi
    if c.multi_error:
        discard_transaction(c)
        raise EXECABORT
    dirty = c.watch_dirty or _watched_key_expired(c)
    discard_transaction(c)
    if dirty:
        return NULL_ARRAY
    # The reply is written as the commands run, as Redis writes it: a pub/sub message one of
    # them sends to this very client lands inside the array, after the replies before it.
    out = c.batch_output()
    parts = out if out is not None else []  # None: not inside a batch, nothing to interleave
    parts.append(b"*%d\r\n" % len(queued))
    user = c.user
    for cmd, a in queued:
        if user is not None and not user.unrestricted:
            # The rules may have changed since the command was queued (Redis 7 checks again).
            result, pos = user.check(cmd, a)
            if result:
                c.server.acl.log_denial(user, cmd, a, result, pos, acl.MULTI, c.info_line())
                err = ReplyError(acl.exec_error(result))
                c.server.stats.count_error(err)
                parts.append(c.encode(err))
                continue
        parts.append(c.encode(c.call(cmd, a)))
    return NOTHING if out is not None else Raw(b"".join(parts))


def _watched_key_expired(c: Context) -> bool:
    dbs = c.server.keyspace.dbs
    # A watched key that expired since WATCH counts as modified (Redis 7).
    return any(dbs[dbid].get(key) is None for dbid, key in c.watched_expiring)


@command(
    "watch",
    -2,
    "noscript loading stale fast allow_busy",
    (1, -1, 1),
    group=TX,
    summary="Watch the given keys to determine execution of the MULTI/EXEC block",
    since="2.2.0",
    complexity="O(1) for every key.",
    args="key [key ...]",
    key_flags="RO",
)
def watch(c: Context, args: list[bytes]) -> Any:
    if c.multi is not None:
        raise ReplyError("ERR WATCH inside MULTI is not allowed")
    db = c.db
    for key in args[1:]:
        entry = (db.id, key)
        if entry in c.watched:
            continue
        # Look first: a key already expired is deleted now, before this client watches it,
        # so that (as in Redis) its deletion does not count as a change.
        alive = db.get(key) is not None
        c.watched.add(entry)
        db.watched.setdefault(key, set()).add(c)
        if alive and db.get_expire(key) is not None:
            c.watched_expiring.add(entry)
    return OK


@command(
    "unwatch",
    1,
    "noscript loading stale fast allow_busy",
    group=TX,
    summary="Forget about all watched keys",
    since="2.2.0",
)
def unwatch(c: Context, args: list[bytes]) -> Any:
    c.unwatch_all()
    return OK
