"""Replication commands: REPLICAOF / SLAVEOF, ROLE, WAIT, and the replica link's own SYNC,
PSYNC and REPLCONF. The work is ``minikv.replication``'s; these parse and answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import ALL, command
from minikv.parsing import parse_int
from minikv.protocol import OK, Raw, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

SRV = "server"
_NOTHING = Raw(b"")


def _replicaof(c: Context, args: list[bytes]) -> Any:
    repl = c.server.replication
    if repl.failover_state != "no-failover":
        raise ReplyError("ERR REPLICAOF not allowed while failing over.")
    host, port_arg = args[1], args[2]
    if host.lower() == b"no" and port_arg.lower() == b"one":
        if repl.is_replica:
            assert repl.link is not None
            repl.link.replicaof_no_one()
            c.server.keyspace.replica_reads = False
        return OK
    if c.repl is not None and c.repl.state:
        raise ReplyError("ERR Command is not valid when client is a replica.")
    try:
        port = parse_int(port_arg)
    except ReplyError:
        raise ReplyError("ERR Invalid master port") from None
    if not 0 <= port <= 65535:
        raise ReplyError("ERR Invalid master port")
    assert repl.link is not None
    status = repl.link.replicaof(host.decode(errors="replace"), port)
    c.server.keyspace.replica_reads = True
    return OK if status == "OK" else Raw(b"+" + status.encode() + b"\r\n")


@command(
    "replicaof",
    3,
    "no_async_loading admin noscript stale",
    group=SRV,
    summary="Make the server a replica of another instance, or promote it as master.",
    since="5.0.0",
    complexity="O(1)",
    args="host port",
)
def replicaof(c: Context, args: list[bytes]) -> Any:
    return _replicaof(c, args)


@command(
    "slaveof",
    3,
    "no_async_loading admin noscript stale",
    group=SRV,
    summary="Make the server a replica of another instance, or promote it as master.",
    since="1.0.0",
    complexity="O(1)",
    args="host port",
)
def slaveof(c: Context, args: list[bytes]) -> Any:
    return _replicaof(c, args)


@command(
    "role",
    1,
    "noscript loading stale fast sentinel",
    group=SRV,
    summary="Return the role of the instance in the context of replication",
    since="2.8.12",
    complexity="O(1)",
    acl="@admin @dangerous",
)
def role(c: Context, args: list[bytes]) -> Any:
    return c.server.replication.role()


@command(
    "wait",
    3,
    "noscript",
    group="generic",
    summary="Wait for the synchronous replication of all the write commands sent in the "
    "context of the current connection",
    since="3.0.0",
    complexity="O(1)",
    args="numreplicas timeout",
    acl="-@keyspace @connection",
    tips="request_policy:all_shards response_policy:agg_min",
)
def wait(c: Context, args: list[bytes]) -> Any:
    repl = c.server.replication
    if repl.is_replica:
        return repl.wait(c, ALL["wait"], args, 0, 0)  # raises the replica error
    numreplicas = parse_int(args[1])
    try:
        timeout = parse_int(args[2])
    except ReplyError:
        raise ReplyError("ERR timeout is not an integer or out of range") from None
    if timeout < 0:
        raise ReplyError("ERR timeout is negative")
    return repl.wait(c, ALL["wait"], args, numreplicas, timeout)


@command(
    "sync",
    1,
    "no_async_loading admin no_multi noscript",
    group=SRV,
    summary="Internal command used for replication",
    since="1.0.0",
)
def sync(c: Context, args: list[bytes]) -> Any:
    c.server.replication.sync(c, None, None)
    return _NOTHING


@command(
    "psync",
    -3,
    "no_async_loading admin no_multi noscript",
    group=SRV,
    summary="Internal command used for replication",
    since="2.8.0",
    args="replicationid offset",
)
def psync(c: Context, args: list[bytes]) -> Any:
    failover = len(args) > 3 and args[3].lower() == b"failover"
    c.server.replication.sync(c, args[1].decode(errors="replace"), args[2], failover)
    return _NOTHING


@command(
    "failover",
    -1,
    "admin noscript stale",
    group=SRV,
    summary="Start a coordinated failover between this server and one of its replicas.",
    since="6.2.0",
    complexity="O(1)",
    args="[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]",
)
def failover(c: Context, args: list[bytes]) -> Any:
    c.server.replication.failover(args)
    return OK


@command(
    "replconf",
    -1,
    "admin noscript loading stale allow_busy",
    group=SRV,
    summary="An internal command for configuring the replication stream",
    since="3.0.0",
    complexity="O(1)",
)
def replconf(c: Context, args: list[bytes]) -> Any:
    reply = c.server.replication.replconf(c, args)
    return _NOTHING if reply is None else OK
