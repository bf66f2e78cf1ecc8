"""Persistence commands: BGSAVE [SCHEDULE], SAVE, LASTSAVE, BGREWRITEAOF."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command
from minikv.commands.util import SYNTAX
from minikv.persistence.snapshot import AOF_CHILD
from minikv.protocol import OK, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

P = "server"
IN_PROGRESS = ReplyError("ERR Background save already in progress")
AOF_CHILD_ACTIVE = ReplyError(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE "
    "in order to schedule a BGSAVE whenever possible."
)


@command(
    "bgsave",
    -1,
    "admin noscript no_async_loading",
    group=P,
    summary="Asynchronously save the dataset to disk",
    since="1.0.0",
)
def bgsave(c: Context, args: list[bytes]) -> Any:
    p = c.server.persistence
    schedule = False
    if len(args) == 2 and args[1].lower() == b"schedule":
        schedule = True
    elif len(args) > 1:
        raise SYNTAX
    if p.bgsave_in_progress:
        raise IN_PROGRESS
    if p.in_progress:  # an AOF rewrite
        if schedule:
            p.bgsave_scheduled = True
            return "Background saving scheduled"
        raise AOF_CHILD_ACTIVE
    try:
        p.bgsave()
    except OSError as e:
        raise ReplyError(f"ERR Background save failed: fork: {e.strerror}") from None
    return "Background saving started"


@command(
    "save",
    1,
    "admin noscript no_async_loading no_multi",
    group=P,
    summary="Synchronously save the dataset to disk",
    since="1.0.0",
)
def save(c: Context, args: list[bytes]) -> Any:
    p = c.server.persistence
    if p.bgsave_in_progress:
        raise IN_PROGRESS
    try:
        p.save()
    except OSError:
        raise ReplyError("ERR") from None
    return OK


@command(
    "lastsave",
    1,
    "loading stale fast",
    group=P,
    summary="Get the UNIX time stamp of the last successful save to disk",
    since="1.0.0",
    acl="@admin @dangerous",
    tips="nondeterministic_output",
)
def lastsave(c: Context, args: list[bytes]) -> Any:
    return c.server.persistence.lastsave


@command(
    "bgrewriteaof",
    1,
    "admin noscript no_async_loading",
    group=P,
    summary="Asynchronously rewrite the append-only file",
    since="1.0.0",
)
def bgrewriteaof(c: Context, args: list[bytes]) -> Any:
    """Redis's bgrewriteaofCommand: one child at a time, so during a BGSAVE the rewrite is
    scheduled (the cron starts it when the child is gone)."""
    p = c.server.persistence
    aof = c.server.aof
    if p.child_type == AOF_CHILD:
        raise ReplyError("ERR Background append only file rewriting already in progress")
    if p.in_progress:
        aof.rewrite_scheduled = True
        return "Background append only file rewriting scheduled"
    if not aof.rewrite():
        raise ReplyError(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for "
            "more information."
        )
    return "Background append only file rewriting started"
