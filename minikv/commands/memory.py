"""MEMORY: what a key costs (USAGE, estimated by ``minikv.memory``).

Redis's other subcommands (STATS, DOCTOR, PURGE, MALLOC-STATS) report the server's memory as a
whole; they come with the memory accounting of ``maxmemory`` and are unknown subcommands until
then, so MEMORY HELP lists only what is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import command, container
from minikv.commands.util import SYNTAX
from minikv.memory import DEFAULT_SAMPLES, key_usage
from minikv.parsing import LLONG_MAX, parse_int

if TYPE_CHECKING:
    from minikv.commands.context import Context

SRV = "server"

container(
    "memory",
    -2,
    group=SRV,
    summary="A container for memory diagnostics commands",
    since="4.0.0",
    complexity="Depends on subcommand.",
)


@command(
    "usage",
    -3,
    "readonly",
    (2, 2, 1),
    parent="memory",
    group=SRV,
    summary="Estimate the memory usage of a key",
    since="4.0.0",
    complexity="O(N) where N is the number of samples.",
    args="key [SAMPLES count]",
    key_flags="RO",
)
def memory_usage(c: Context, args: list[bytes]) -> Any:
    samples = DEFAULT_SAMPLES
    i = 3
    while i < len(args):
        if args[i].lower() == b"samples" and i + 1 < len(args):
            samples = parse_int(args[i + 1])
            if samples < 0:
                raise SYNTAX
            if samples == 0:
                samples = LLONG_MAX  # all of them
            i += 2
        else:
            raise SYNTAX
    key = args[2]
    db = c.db
    value = db.get(key)
    if value is None:
        return None
    return key_usage(key, value, db.get_expire(key) is not None, samples)


_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    "loading stale",
    parent="memory",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="4.0.0",
    complexity="O(1)",
)
def memory_help(c: Context, args: list[bytes]) -> Any:
    return _HELP
