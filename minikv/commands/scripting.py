"""Scripting commands: EVAL, EVALSHA, FCALL, their _RO forms, SCRIPT and FUNCTION.

The interpreters, their sandbox and the script cache are ``minikv.scripting``
(``ctx.server.scripts``), the function libraries ``minikv.functions`` (``scripts.functions``);
these handlers parse the arguments and hand over. EVAL and FCALL are not write commands: what a
script changes is propagated command by command as it runs (Redis 7's effects replication),
wrapped in MULTI/EXEC by the dispatcher when there is more than one change. The FUNCTION
subcommands that change the libraries are writes, propagated as sent: libraries are data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command, container, subcommand_syntax_error
from minikv.commands.server import help_reply, ordered_set
from minikv.functions import ENGINE
from minikv.parsing import NOT_INTEGER, parse_int
from minikv.protocol import OK, ReplyError
from minikv.scripting import NOSCRIPT, SCRIPT_FLAGS

if TYPE_CHECKING:
    from minikv.commands.context import Context

GROUP = "scripting"
EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys"
_RW_NOTE = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
_RO_NOTE = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"


def _keys_and_args(
    args: list[bytes], bad_numkeys: ReplyError = NOT_INTEGER
) -> tuple[list[bytes], list[bytes]]:
    numkeys = parse_int(args[2], bad_numkeys)
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


_BAD_NUMKEYS = ReplyError("ERR Bad number of keys provided")


def _fcall(c: Context, args: list[bytes], ro: bool) -> Any:
    scripts = c.server.scripts
    fn = scripts.functions.get(args[1])
    if fn is None:
        raise ReplyError("ERR Function not found")
    keys, argv = _keys_and_args(args, _BAD_NUMKEYS)
    return scripts.run(c, fn, keys, argv, ro, command=args)


_RUNNERS = {"eval": _eval, "evalsha": _evalsha, "fcall": _fcall}


def _register(name: str, body: str, ro: bool) -> None:
    """EVAL, EVALSHA, FCALL and their _RO forms: one declaration each, from their
    differences."""
    run = _RUNNERS[name.removesuffix("_ro")]
    note = "" if body == "sha1" else (_RO_NOTE if ro else _RW_NOTE)
    what = "function" if body == "function" else "Lua script server side"
    summary = ("Invoke a " if body == "function" else "Execute a ") + ("read-only " if ro else "")

    def handler(c: Context, args: list[bytes]) -> Any:
        return run(c, args, ro)

    command(
        name,
        -3,
        ("readonly " if ro else "may_replicate ") + EVAL_FLAGS,
        group=GROUP,
        summary=summary + what,
        since="7.0.0" if ro or body == "function" else "2.6.0",
        complexity=f"Depends on the {'function' if body == 'function' else 'script'} that is "
        "executed.",
        args=f"{body} numkeys [key [key ...]] [arg [arg ...]]",
        key_specs=(KeySpec("RO access" if ro else "RW access update", 2, keynum=0, notes=note),),
    )(handler)


for _name, _body, _ro in [
    ("eval", "script", False),
    ("eval_ro", "script", True),
    ("evalsha", "sha1", False),
    ("evalsha_ro", "sha1", True),
    ("fcall", "function", False),
    ("fcall_ro", "function", True),
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


def _register_kill(parent: str, since: str) -> None:
    """SCRIPT KILL and FUNCTION KILL, each for its own kind of script. Only reachable while
    a script runs once it is busy (past busy-reply-threshold)."""
    function = parent == "function"

    def kill(c: Context, args: list[bytes]) -> Any:
        c.server.scripts.kill(function=function)
        return OK

    command(
        "kill",
        2,
        "noscript allow_busy",
        parent=parent,
        group=GROUP,
        summary=f"Kill the {parent} currently in execution.",
        since=since,
        complexity="O(1)",
        tips="request_policy:all_shards response_policy:one_succeeded",
    )(kill)


_register_kill("script", "2.6.0")


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


# --- FUNCTION ----------------------------------------------------------------------------------

container(
    "function",
    -2,
    "",
    group=GROUP,
    summary="A container for function commands",
    since="7.0.0",
    complexity="Depends on subcommand.",
)

_ALL_SHARDS = "request_policy:all_shards response_policy:all_succeeded"


def _changed(c: Context) -> None:
    """The libraries changed: a write, for save points and propagation (Redis's dirty++)."""
    c.server.keyspace.changed_dataset(1)


@command(
    "load",
    -3,
    "noscript write denyoom",
    parent="function",
    group=GROUP,
    summary="Create a function with the given arguments (name, code, description)",
    since="7.0.0",
    complexity="O(1) (considering compilation time is redundant)",
    args="[REPLACE] function-code",
    tips=_ALL_SHARDS,
)
def function_load(c: Context, args: list[bytes]) -> Any:
    replace = False
    for opt in args[2:-1]:
        if opt.lower() != b"replace":
            raise ReplyError(f"ERR Unknown option given: {opt.decode(errors='replace')}")
        replace = True
    name = c.server.scripts.functions.load(args[-1], replace)
    _changed(c)
    return name.encode()


@command(
    "delete",
    3,
    "noscript write",
    parent="function",
    group=GROUP,
    summary="Delete a function by name",
    since="7.0.0",
    complexity="O(1)",
    args="library-name",
    tips=_ALL_SHARDS,
)
def function_delete(c: Context, args: list[bytes]) -> Any:
    c.server.scripts.functions.delete(args[2])
    _changed(c)
    return OK


@command(
    "flush",
    -2,
    "noscript write",
    parent="function",
    group=GROUP,
    summary="Deleting all functions",
    since="7.0.0",
    complexity="O(N) where N is the number of functions deleted",
    args="[ASYNC | SYNC]",
    tips=_ALL_SHARDS,
)
def function_flush(c: Context, args: list[bytes]) -> Any:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    if len(args) == 3 and args[2].lower() not in (b"sync", b"async"):
        raise ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    c.server.scripts.functions.flush()  # ASYNC too: dropping the libraries is quick
    _changed(c)
    return OK


@command(
    "list",
    -2,
    "noscript",
    parent="function",
    group=GROUP,
    summary="List information about all the functions",
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
    args="[LIBRARYNAME library-name-pattern] [WITHCODE]",
    tips="nondeterministic_output_order",
)
def function_list(c: Context, args: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(args):
        opt = args[i].lower()
        if not with_code and opt == b"withcode":
            with_code = True
        elif pattern is None and opt == b"libraryname":
            if i >= len(args) - 1:
                raise ReplyError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise ReplyError(f"ERR Unknown argument {args[i].decode(errors='replace')}")
        i += 1
    out = []
    for lib in c.server.scripts.functions.matching(pattern):
        entry: dict[bytes, Any] = {
            b"library_name": lib.name.encode(),
            b"engine": ENGINE.encode(),
            b"functions": [
                {
                    b"name": fn.name.encode(),
                    b"description": fn.description,
                    b"flags": ordered_set(
                        c, [flag for flag, bit in SCRIPT_FLAGS.items() if fn.flags & bit]
                    ),
                }
                for fn in lib.functions.values()
            ],
        }
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


@command(
    "dump",
    2,
    "noscript",
    parent="function",
    group=GROUP,
    summary="Dump all functions into a serialized binary payload",
    since="7.0.0",
    complexity="O(N) where N is the number of functions",
)
def function_dump(c: Context, args: list[bytes]) -> Any:
    return c.server.scripts.functions.dump()


@command(
    "restore",
    -3,
    "noscript write denyoom",
    parent="function",
    group=GROUP,
    summary="Restore all the functions on the given payload",
    since="7.0.0",
    complexity="O(N) where N is the number of functions on the payload",
    args="serialized-value [FLUSH | APPEND | REPLACE]",
    tips=_ALL_SHARDS,
)
def function_restore(c: Context, args: list[bytes]) -> Any:
    if len(args) > 4:
        raise subcommand_syntax_error(args)
    policy = args[3].lower().decode(errors="replace") if len(args) == 4 else "append"
    if policy not in ("flush", "append", "replace"):
        raise ReplyError(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
        )
    c.server.scripts.functions.restore(args[2], policy)
    _changed(c)
    return OK


@command(
    "stats",
    2,
    "noscript allow_busy",
    parent="function",
    group=GROUP,
    summary="Return information about the function currently running (name, description, duration)",
    since="7.0.0",
    complexity="O(1)",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def function_stats(c: Context, args: list[bytes]) -> Any:
    scripts = c.server.scripts
    running = scripts.running()
    functions = scripts.functions
    return {
        b"running_script": None
        if running is None
        else {b"name": running[0].encode(), b"command": running[1], b"duration_ms": running[2]},
        b"engines": {
            ENGINE.encode(): {
                b"libraries_count": len(functions.libraries),
                b"functions_count": len(functions.functions),
            }
        },
    }


_register_kill("function", "7.0.0")


@command(
    "help",
    2,
    "loading stale",
    parent="function",
    group=GROUP,
    summary="Show helpful text about the different subcommands",
    since="7.0.0",
    complexity="O(1)",
)
def function_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(args, _FUNCTION_HELP)


_FUNCTION_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
]
