"""Server commands: INFO CONFIG COMMAND DEBUG DBSIZE FLUSHDB FLUSHALL SWAPDB TIME SHUTDOWN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command, container
from minikv.config import get_params
from minikv.protocol import OK

if TYPE_CHECKING:
    from minikv.connection import Client

SRV = "server"

container(
    "config",
    -2,
    "",
    group=SRV,
    summary="A container for server configuration commands",
    since="2.0.0",
)


@command(
    "get",
    -3,
    "admin noscript loading stale",
    parent="config",
    group=SRV,
    summary="Get the values of configuration parameters",
    since="2.0.0",
)
def config_get(c: Client, args: list[bytes]) -> Any:
    out: dict[bytes, bytes] = {}
    for pat in args[2:]:
        for k, v in get_params(c.server.config, pat.decode(errors="replace")).items():
            out[k.encode()] = v.encode()
    return out


@command(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi allow_busy",
    group=SRV,
    summary="Synchronously save the dataset to disk and then shut down the server",
)
def shutdown(c: Client, args: list[bytes]) -> Any:
    c.server.request_shutdown()
    c.close_after_reply = True
    return OK
