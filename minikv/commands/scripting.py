"""Scripting commands: EVAL, EVALSHA, their _RO forms, and SCRIPT.

The interpreter, its sandbox and the script cache are ``minikv.scripting`` (``ctx.server.scripts``);
these handlers parse the arguments and hand over. EVAL itself is not a write command: what a
script changes is propagated command by command as it runs (Redis 7's effects replication),
wrapped in MULTI/EXEC by the dispatcher when there is more than one change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command, container
from minikv.commands.server import help_reply
from minikv.parsing import parse_int
from minikv.protocol import OK, ReplyError
from minikv.scripting import NOSCRIPT

if TYPE_CHECKING:
    from minikv.commands.context import Context

GROUP = "scripting"
EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys"
_RW_NOTE = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
_RO_NOTE = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"


def _keys_and_args(args: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    numkeys = parse_int(args[2])
    if numkeys is None:
        raise ReplyError("ERR value is not an integer or out of range")
    if numkeys > len(args) - 3:
        raise ReplyError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise ReplyError("ERR Number of keys can't be negative")
    return args[3 : 3 + numkeys], args[3 + numkeys :]


def _eval(c: Context, args: list[bytes], ro: bool) -> Any:
    keys, argv = _keys_and_args(args)
    scripts = c.server.scripts
    script = scripts.load(args[1])
    return scripts.run(c, script, keys, argv, ro)


def _evalsha(c: Context, args: list[bytes], ro: bool) -> Any:
    scripts = c.server.scripts
    if len(args[1]) != 40:
        raise NOSCRIPT
    keys, argv = _keys_and_args(args)
    script = scripts.get(args[1])
    if script is None:
        raise NOSCRIPT
    return scripts.run(c, script, keys, argv, ro)


def _register(name: str, body: str, ro: bool) -> None:
    """EVAL, EVAL_RO, EVALSHA and EVALSHA_RO: one declaration each, from their differences."""
    run = _evalsha if name.startswith("evalsha") else _eval
    note = "" if body == "sha1" else (_RO_NOTE if ro else _RW_NOTE)

    def handler(c: Context, args: list[bytes]) -> Any:
        return run(c, args, ro)

    command(
        name,
        -3,
        ("readonly " if ro else "") + EVAL_FLAGS,
        group=GROUP,
        summary=f"Execute a {'read-only ' if ro else ''}Lua script server side",
        since="7.0.0" if ro else "2.6.0",
        complexity="Depends on the script that is executed.",
        args=f"{body} numkeys [key [key ...]] [arg [arg ...]]",
        key_specs=(KeySpec("RO access" if ro else "RW access update", 2, keynum=0, notes=note),),
    )(handler)


for _name, _body, _ro in [
    ("eval", "script", False),
    ("eval_ro", "script", True),
    ("evalsha", "sha1", False),
    ("evalsha_ro", "sha1", True),
]:
    _register(_name, _body, _ro)


# --- SCRIPT ------------------------------------------------------------------------------------

container(
    "script",
    -2,
    "",
    group=GROUP,
    summary="A container for Lua scripts management commands",
    since="2.6.0",
    complexity="Depends on subcommand.",
)


@command(
    "load",
    3,
    "noscript stale",
    parent="script",
    group=GROUP,
    summary="Load the specified Lua script into the script cache.",
    since="2.6.0",
    complexity="O(N) with N being the length in bytes of the script body.",
    args="script",
    tips="request_policy:all_nodes response_policy:all_succeeded",
)
def script_load(c: Context, args: list[bytes]) -> Any:
    return c.server.scripts.load(args[2]).sha.encode()


@command(
    "exists",
    -3,
    "noscript",
    parent="script",
    group=GROUP,
    summary="Check existence of scripts in the script cache.",
    since="2.6.0",
    complexity="O(N) with N being the number of scripts to check (so checking a single script "
    "is an O(1) operation).",
    args="sha1 [sha1 ...]",
    tips="request_policy:all_shards response_policy:agg_logical_and",
)
def script_exists(c: Context, args: list[bytes]) -> Any:
    scripts = c.server.scripts
    return [int(scripts.get(sha) is not None) for sha in args[2:]]


@command(
    "flush",
    -2,
    "noscript",
    parent="script",
    group=GROUP,
    summary="Remove all the scripts from the script cache.",
    since="2.6.0",
    complexity="O(N) with N being the number of scripts in cache",
    args="[ASYNC | SYNC]",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    history=(("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),),
)
def script_flush(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
        raise ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    c.server.scripts.flush()  # ASYNC too: dropping the interpreter is quick
    return OK


@command(
    "kill",
    2,
    "noscript allow_busy",
    parent="script",
    group=GROUP,
    summary="Kill the script currently in execution.",
    since="2.6.0",
    complexity="O(1)",
    tips="request_policy:all_shards response_policy:one_succeeded",
)
def script_kill(c: Context, args: list[bytes]) -> Any:
    # Only reachable while a script runs once it is busy (past busy-reply-threshold).
    c.server.scripts.kill()
    return OK


@command(
    "debug",
    3,
    "noscript",
    parent="script",
    group=GROUP,
    summary="Set the debug mode for executed scripts.",
    since="3.2.0",
    complexity="O(1)",
    args="<YES | SYNC | NO>",
)
def script_debug(c: Context, args: list[bytes]) -> Any:
    mode = args[2].lower()
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        raise ReplyError("ERR minikv does not have the Lua debugger (SCRIPT DEBUG) yet")
    raise ReplyError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


@command(
    "help",
    2,
    "loading stale",
    parent="script",
    group=GROUP,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
    complexity="O(1)",
)
def script_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
