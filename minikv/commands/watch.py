"""Watching commands: SLOWLOG, LATENCY, MONITOR, and CLIENT PAUSE / UNPAUSE / REPLY / NO-TOUCH.

The state they read and change is ``server.watch`` (``minikv.watch``): the slow log, the
latency monitor, the MONITOR clients and the pause. The per-command histograms LATENCY
HISTOGRAM reads are the command table's (``Command.hist``, filled by the dispatcher).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from minikv.commands import (
    ALL,
    Command,
    command,
    container,
    lookup_by_name,
    subcommand_syntax_error,
)
from minikv.commands.server import ADMIN_FLAGS, NO_REPLY, SRV, help_reply
from minikv.commands.util import SYNTAX, parse_on_off
from minikv.latency import cumulative_usec, total
from minikv.parsing import parse_int
from minikv.protocol import OK, ReplyError, Verbatim
from minikv.watch import REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT

if TYPE_CHECKING:
    from minikv.commands.context import Context


# --- SLOWLOG ------------------------------------------------------------------------------------

container(
    "slowlog",
    -2,
    "",
    group=SRV,
    summary="A container for slow log commands",
    since="2.2.12",
    complexity="Depends on subcommand.",
)


@command(
    "get",
    -2,
    "admin loading stale",
    parent="slowlog",
    group=SRV,
    summary="Get the slow log's entries",
    since="2.2.12",
    complexity="O(N) where N is the number of entries returned",
    args="[count]",
    tips="request_policy:all_nodes nondeterministic_output",
    history=(("4.0.0", "Added client IP address, port and name to the reply."),),
)
def slowlog_get(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    count = 10
    if len(args) == 3:
        try:
            count = parse_int(args[2])
        except ReplyError:
            count = -2
        if count < -1:
            raise ReplyError("ERR count should be greater than or equal to -1")
    return c.server.watch.slowlog.get(count)


@command(
    "len",
    2,
    "admin loading stale",
    parent="slowlog",
    group=SRV,
    summary="Get the slow log's length",
    since="2.2.12",
    complexity="O(1)",
    tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
)
def slowlog_len(c: Context, args: list[bytes]) -> Any:
    return len(c.server.watch.slowlog.entries)


@command(
    "reset",
    2,
    "admin loading stale",
    parent="slowlog",
    group=SRV,
    summary="Clear all entries from the slow log",
    since="2.2.12",
    complexity="O(N) where N is the number of entries in the slowlog",
    tips="request_policy:all_nodes response_policy:all_succeeded",
)
def slowlog_reset(c: Context, args: list[bytes]) -> Any:
    c.server.watch.slowlog.reset()
    return OK


@command(
    "help",
    2,
    "loading stale",
    parent="slowlog",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="6.2.0",
    complexity="O(1)",
)
def slowlog_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )


# --- LATENCY ------------------------------------------------------------------------------------

container(
    "latency",
    -2,
    "",
    group=SRV,
    summary="A container for latency diagnostics commands",
    since="2.8.13",
    complexity="Depends on subcommand.",
)

_LATENCY_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"


@command(
    "latest",
    2,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Return the latest latency samples for all events.",
    since="2.8.13",
    complexity="O(1)",
    tips=_LATENCY_TIPS,
)
def latency_latest(c: Context, args: list[bytes]) -> Any:
    events = c.server.watch.latency.events
    return [
        [name.encode(), s.samples[-1][0], s.samples[-1][1], s.max] for name, s in events.items()
    ]


@command(
    "history",
    3,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Return timestamp-latency samples for the event.",
    since="2.8.13",
    complexity="O(1)",
    args="event",
    tips=_LATENCY_TIPS,
)
def latency_history(c: Context, args: list[bytes]) -> Any:
    series = c.server.watch.latency.events.get(args[2].decode(errors="replace"))
    return [] if series is None else [[t, ms] for t, ms in series.samples]


@command(
    "reset",
    -2,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Reset latency data for one or more events.",
    since="2.8.13",
    complexity="O(1)",
    args="[event [event ...]]",
    tips="request_policy:all_nodes response_policy:all_succeeded",
)
def latency_reset(c: Context, args: list[bytes]) -> Any:
    names = [a.decode(errors="replace") for a in args[2:]] or None
    return c.server.watch.latency.reset(names)


@command(
    "graph",
    3,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Return a latency graph for the event.",
    since="2.8.13",
    complexity="O(1)",
    args="event",
    tips=_LATENCY_TIPS,
)
def latency_graph(c: Context, args: list[bytes]) -> Any:
    name = args[2].decode(errors="replace")
    latency = c.server.watch.latency
    if name not in latency.events:
        raise ReplyError(f"ERR No samples available for event '{name}'")
    return Verbatim(latency.graph(name).encode())


@command(
    "doctor",
    2,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Return a human readable latency analysis report.",
    since="2.8.13",
    complexity="O(1)",
    tips=_LATENCY_TIPS,
)
def latency_doctor(c: Context, args: list[bytes]) -> Any:
    cfg = c.server.config
    report = c.server.watch.latency.doctor(
        cfg.latency_monitor_threshold, cfg.slowlog_log_slower_than
    )
    return Verbatim(report.encode())


def _cdf(cmd: Command) -> dict[bytes, Any]:
    assert cmd.hist is not None
    return {
        b"calls": total(cmd.hist),
        b"histogram_usec": dict(cumulative_usec(cmd.hist)),
    }


@command(
    "histogram",
    -2,
    ADMIN_FLAGS,
    parent="latency",
    group=SRV,
    summary="Return the cumulative distribution of latencies of a subset of commands or all.",
    since="7.0.0",
    complexity="O(N) where N is the number of commands with latency information being retrieved.",
    args="[command [command ...]]",
    tips=_LATENCY_TIPS,
)
def latency_histogram(c: Context, args: list[bytes]) -> Any:
    out: dict[bytes, Any] = {}
    if len(args) == 2:
        wanted = list(ALL.values())
    else:
        wanted = []
        for a in args[2:]:
            cmd = lookup_by_name(a.decode(errors="replace"))
            if cmd is None:
                continue  # as Redis: an unknown name is skipped
            wanted.append(cmd)
            wanted.extend(cmd.subcommands.values())
    for cmd in wanted:
        if cmd.hist is not None and cmd.name.encode() not in out:
            out[cmd.name.encode()] = _cdf(cmd)
    return out


@command(
    "help",
    2,
    "loading stale",
    parent="latency",
    group=SRV,
    summary="Show helpful text about the different subcommands.",
    since="2.8.13",
    complexity="O(1)",
)
def latency_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for"
            " the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    )


# --- MONITOR ------------------------------------------------------------------------------------


@command(
    "monitor",
    1,
    ADMIN_FLAGS,
    group=SRV,
    summary="Listen for all requests received by the server in real time",
    since="1.0.0",
)
def monitor(c: Context, args: list[bytes]) -> Any:
    if c.last_cmd == "exec" or c.multi is not None:
        # Run by EXEC: the client expects one reply per command (Redis's DENY_BLOCKING).
        raise ReplyError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor is not None:
        return NO_REPLY  # already monitoring: ignored, as Redis
    if c.pubsub is not None:
        raise ReplyError("ERR MONITOR is not supported by minikv for a subscribed client")
    c.server.watch.add_monitor(c)
    return OK


# --- CLIENT PAUSE / UNPAUSE / REPLY / NO-TOUCH ---------------------------------------------------


@command(
    "pause",
    -3,
    "admin noscript loading stale sentinel",
    parent="client",
    group="connection",
    summary="Stop processing commands from clients for some time",
    since="2.9.50",
    complexity="O(1)",
    args="timeout [WRITE | ALL]",
    history=(("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),),
)
def client_pause(c: Context, args: list[bytes]) -> Any:
    if len(args) > 4:
        raise subcommand_syntax_error(args)
    kind = "all"
    if len(args) == 4:
        mode = args[3].lower()
        if mode == b"write":
            kind = "write"
        elif mode != b"all":
            raise ReplyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    try:
        ms = parse_int(args[2])
    except ReplyError:
        raise ReplyError("ERR timeout is not an integer or out of range") from None
    if ms < 0:
        raise ReplyError("ERR timeout is negative")
    if ms > 2**63 - 1 - time.time_ns() // 1_000_000:
        # Redis 7.0 adds the timeout to the unix time in ms unchecked: the end wraps into the
        # past, so the pause is over at once. Answered and done alike.
        ms = 0
    c.server.watch.pause(ms, kind)
    return OK


@command(
    "unpause",
    2,
    "admin noscript loading stale sentinel",
    parent="client",
    group="connection",
    summary="Resume processing of clients that were paused",
    since="6.2.0",
    complexity="O(N) Where N is the number of paused clients",
)
def client_unpause(c: Context, args: list[bytes]) -> Any:
    c.server.watch.unpause()
    return OK


@command(
    "reply",
    3,
    "noscript loading stale sentinel",
    parent="client",
    group="connection",
    summary="Instruct the server whether to reply to commands",
    since="3.2.0",
    complexity="O(1)",
    args="ON | OFF | SKIP",
)
def client_reply(c: Context, args: list[bytes]) -> Any:
    mode = args[2].lower()
    if mode == b"on":
        c.reply_mode = REPLY_ON
        return OK
    if mode == b"off":
        c.reply_mode = REPLY_OFF
        return NO_REPLY
    if mode == b"skip":
        if c.reply_mode != REPLY_OFF:
            c.reply_mode = REPLY_SKIP_NEXT
        return NO_REPLY
    raise SYNTAX


@command(
    "no-touch",
    3,
    "noscript loading stale",
    parent="client",
    group="connection",
    summary="Controls whether commands sent by the client will alter the LRU/LFU of the keys "
    "they access.",
    since="7.2.0",
    complexity="O(1)",
    args="ON | OFF",
)
def client_no_touch(c: Context, args: list[bytes]) -> Any:
    c.no_touch = parse_on_off(args[2])
    return OK
