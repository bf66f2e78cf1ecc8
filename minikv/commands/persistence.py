"""Persistence commands: BGSAVE [SCHEDULE], SAVE, LASTSAVE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command
from minikv.commands.util import SYNTAX
from minikv.protocol import OK, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

P = "server"
IN_PROGRESS = ReplyError("ERR Background save already in progress")


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
    if p.in_progress:
        if schedule:
            p.bgsave_scheduled = True
            return "Background saving scheduled"
        raise IN_PROGRESS
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
    if p.in_progress:
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
