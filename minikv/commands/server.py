"""Server commands: INFO, CONFIG, COMMAND, DEBUG, TIME and SHUTDOWN.

COMMAND's replies (INFO, DOCS, LIST, COUNT, GETKEYS) are generated from the command table, so
they describe exactly what the dispatcher enforces.
"""

from __future__ import annotations

import ipaddress
import random
import time
from typing import TYPE_CHECKING, Any

from minikv import REDIS_VERSION
from minikv import lolwut as lolwut_art
from minikv.commands import (
    ACL_ORDER,
    Command,
    KeySpec,
    c_atoi,
    command,
    container,
    iter_commands,
    lookup,
    lookup_by_name,
    parse_usage,
    subcommand_syntax_error,
)
from minikv.commands.util import SYNTAX
from minikv.config import ConfigError, config_set, get_params, rewrite_config_file
from minikv.packedlist import PackedList
from minikv.parsing import glob_match, parse_int
from minikv.persistence.aof import AofLoadError
from minikv.propagation import Capture
from minikv.protocol import OK, Raw, ReplyError, Verbatim
from minikv.quicklist import QuickList
from minikv.valuetypes import value_type

if TYPE_CHECKING:
    from minikv.commands.context import Context

SRV = "server"
ADMIN_FLAGS = "admin noscript loading stale"
NO_REPLY = Raw(b"")


def help_reply(args: list[bytes], lines: list[str]) -> list[str]:
    """Redis's addReplyHelp: a header, the given lines, and the HELP entry, as status replies."""
    name = args[0].decode(errors="replace").upper()
    return [
        f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        *lines,
        "HELP",
        "    Prints this help.",
    ]


def ordered_set(c: Context, items: list[Any]) -> Raw:
    """A RESP3 set (RESP2 array) whose order is kept: Redis lists flags in a fixed order, and
    Python's set would not (nor can it hold maps)."""
    head = b"~%d\r\n" if c.resp == 3 else b"*%d\r\n"
    return Raw(head % len(items) + b"".join(c.encode(x) for x in items))


def is_local_client(c: Context) -> bool:
    """Unix socket or loopback peer (Redis's islocalClient)."""
    host = c.addr.rsplit(":", 1)[0]
    if c.addr == "?:0":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


# --- INFO ------------------------------------------------------------------------------------


@command(
    "info",
    -1,
    "loading stale sentinel",
    group=SRV,
    summary="Get information and statistics about the server",
    complexity="O(1)",
    args="[section [section ...]]",
    acl="@dangerous",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
    history=(("7.0.0", "Added support for taking multiple section arguments."),),
)
def info_(c: Context, args: list[bytes]) -> Any:
    sections = [a.decode(errors="replace") for a in args[1:]]
    return Verbatim(c.server.info_text(sections).encode())


# --- TIME ------------------------------------------------------------------------------------


@command(
    "time",
    1,
    "loading stale fast",
    group=SRV,
    summary="Return the current server time",
    since="2.6.0",
    complexity="O(1)",
    tips="nondeterministic_output",
)
def time_(c: Context, args: list[bytes]) -> Any:
    us = time.time_ns() // 1000
    return [b"%d" % (us // 1_000_000), b"%d" % (us % 1_000_000)]


# --- SHUTDOWN ------------------------------------------------------------------------------------


@command(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi sentinel allow_busy",
    group=SRV,
    summary="Synchronously save the dataset to disk and then shut down the server",
    complexity="O(N) when saving, where N is the total number of keys in all databases when "
    "saving data, otherwise O(1)",
    args="[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
    history=(("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),),
)
def shutdown(c: Context, args: list[bytes]) -> Any:
    opts = set()
    for a in args[1:]:
        opt = a.lower()
        if opt not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise SYNTAX
        opts.add(opt)
    if (b"abort" in opts and len(opts) > 1) or {b"nosave", b"save"} <= opts:
        raise SYNTAX
    if b"abort" in opts:
        # Shutdown here is immediate: there is never one in progress to abort.
        raise ReplyError("ERR No shutdown in progress.")
    save = True if b"save" in opts else False if b"nosave" in opts else None
    scripts = c.server.scripts
    if scripts.busy:
        if save is not False:  # nothing can be saved half way through a script
            raise scripts.busy_error
        scripts.kill()  # the script stops at once; the shutdown follows it
    c.server.request_shutdown(save=save, force=b"force" in opts)
    # On success Redis exits without replying; the client sees the connection close.
    c.close_after_reply = True
    return NO_REPLY


# --- CONFIG ------------------------------------------------------------------------------------

container(
    "config",
    -2,
    "",
    group=SRV,
    summary="A container for server configuration commands",
    since="2.0.0",
    complexity="Depends on subcommand.",
)


@command(
    "get",
    -3,
    ADMIN_FLAGS,
    parent="config",
    group=SRV,
    summary="Get the values of configuration parameters",
    since="2.0.0",
    complexity="O(N) when N is the number of configuration parameters provided",
    args="parameter [parameter ...]",
    history=(("7.0.0", "Added the ability to pass multiple pattern parameters in one call"),),
)
def config_get(c: Context, args: list[bytes]) -> Any:
    out: dict[bytes, bytes] = {}
    seen: set[str] = set()
    for pat in args[2:]:
        for k, v in get_params(c.server.config, pat.decode(errors="replace")).items():
            if k.lower() not in seen:  # one entry per parameter, however many patterns match
                seen.add(k.lower())
                out[k.encode()] = v.encode()
    return out


@command(
    "set",
    -4,
    ADMIN_FLAGS,
    parent="config",
    group=SRV,
    summary="Set configuration parameters to the given values",
    since="2.0.0",
    complexity="O(N) when N is the number of configuration parameters provided",
    args="parameter value [parameter value ...]",
    tips="request_policy:all_nodes response_policy:all_succeeded",
    history=(("7.0.0", "Added the ability to set multiple parameters in one call."),),
)
def config_set_(c: Context, args: list[bytes]) -> Any:
    if len(args) % 2:
        raise SYNTAX
    pairs = [
        (args[i].decode(errors="replace"), args[i + 1].decode(errors="replace"))
        for i in range(2, len(args), 2)
    ]
    try:
        config_set(c.server.config, pairs, is_local=is_local_client(c))
        c.server.config_changed()
    except ConfigError as e:
        raise ReplyError("ERR " + e.message) from None
    return OK


@command(
    "resetstat",
    2,
    ADMIN_FLAGS,
    parent="config",
    group=SRV,
    summary="Reset the stats returned by INFO",
    since="2.0.0",
    complexity="O(1)",
)
def config_resetstat(c: Context, args: list[bytes]) -> Any:
    c.server.reset_stats()
    return OK


@command(
    "rewrite",
    2,
    ADMIN_FLAGS,
    parent="config",
    group=SRV,
    summary="Rewrite the configuration file with the in memory configuration",
    since="2.8.0",
    complexity="O(1)",
)
def config_rewrite(c: Context, args: list[bytes]) -> Any:
    cfg = c.server.config
    if not cfg.config_file:
        raise ReplyError("ERR The server is running without a config file")
    try:
        # With an aclfile the users live there: the config's user lines are dropped.
        rewrite_config_file(cfg, None if cfg.aclfile else c.server.acl.lines())
    except OSError as e:
        c.server.log.warning("CONFIG REWRITE failed: %s", e.strerror)
        raise ReplyError(f"ERR Rewriting config file: {e.strerror}") from None
    c.server.log.warning("CONFIG REWRITE executed with success.")
    return OK


@command(
    "help",
    2,
    "loading stale",
    parent="config",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
    complexity="O(1)",
)
def config_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )


# --- COMMAND ------------------------------------------------------------------------------------

# Flags COMMAND INFO shows, in Redis's order (sentinel, protected, may_replicate are hidden).
_VISIBLE_FLAGS = [
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
]
CMD_FLAGS = "loading stale sentinel"


def command_info(c: Context, cmd: Command | None) -> Any:
    """One entry of COMMAND / COMMAND INFO (Redis's addReplyCommandInfo)."""
    if cmd is None:
        return None
    return [
        cmd.name.encode(),
        cmd.arity,
        ordered_set(c, [f for f in _VISIBLE_FLAGS if f in cmd.flags]),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        ordered_set(c, list(cmd.acl_categories)),
        ordered_set(c, [t.encode() for t in cmd.tips]),
        ordered_set(c, [_encode_sets(c, key_spec_reply(spec)) for spec in cmd.key_specs]),
        [command_info(c, sub) for sub in cmd.subcommands.values()]
        if cmd.subcommands
        else ordered_set(c, []),
    ]


def key_spec_reply(spec: KeySpec) -> dict[bytes, Any]:
    """One key spec as COMMAND INFO shows it (Redis's addReplyCommandKeySpecs)."""
    out: dict[bytes, Any] = {b"notes": spec.notes.encode()} if spec.notes else {}
    out[b"flags"] = Flags(spec.flag_names)
    if spec.unknown:
        out[b"begin_search"] = {b"type": b"unknown", b"spec": {}}
        out[b"find_keys"] = {b"type": b"unknown", b"spec": {}}
        return out
    if spec.keyword:
        begin = {b"keyword": spec.keyword.encode(), b"startfrom": spec.startfrom}
        out[b"begin_search"] = {b"type": b"keyword", b"spec": begin}
    else:
        out[b"begin_search"] = {b"type": b"index", b"spec": {b"index": spec.index}}
    if spec.keynum is None:
        find = {b"lastkey": spec.lastkey, b"keystep": spec.keystep, b"limit": spec.limit}
        out[b"find_keys"] = {b"type": b"range", b"spec": find}
    else:
        find = {b"keynumidx": spec.keynum, b"firstkey": spec.firstkey, b"keystep": spec.keystep}
        out[b"find_keys"] = {b"type": b"keynum", b"spec": find}
    return out


class Flags(list):  # type: ignore[type-arg]
    """Marks a list of status words to be sent as an ordered set (see ``_encode_sets``)."""


def _encode_sets(c: Context, v: Any) -> Any:
    """Replace ``Flags`` lists nested in maps by pre-encoded ordered sets."""
    if isinstance(v, Flags):
        return ordered_set(c, list(v))
    if isinstance(v, dict):
        return {k: _encode_sets(c, x) for k, x in v.items()}
    if isinstance(v, list):
        return [_encode_sets(c, x) for x in v]
    return v


def command_docs(c: Context, cmd: Command) -> dict[bytes, Any]:
    """One entry of COMMAND DOCS (Redis's addReplyCommandDocs)."""
    doc: dict[bytes, Any] = {}
    if cmd.summary:
        doc[b"summary"] = cmd.summary.encode()
    if cmd.since:
        doc[b"since"] = cmd.since.encode()
    doc[b"group"] = cmd.group.encode()
    if cmd.complexity:
        doc[b"complexity"] = cmd.complexity.encode()
    if cmd.history:
        doc[b"history"] = ordered_set(c, [[s.encode(), ch.encode()] for s, ch in cmd.history])
    if cmd.usage:
        keys_seen = [0]
        doc[b"arguments"] = [
            _doc_arg(c, a, keys_seen, len(cmd.key_specs)) for a in parse_usage(cmd.usage)
        ]
    if cmd.subcommands:
        doc[b"subcommands"] = {
            sub.name.encode(): command_docs(c, sub) for sub in cmd.subcommands.values()
        }
    return doc


def _doc_arg(
    c: Context, arg: dict[str, Any], keys_seen: list[int], nspecs: int
) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {b"name": arg["name"].encode(), b"type": arg["type"].encode()}
    if "key_spec_index" in arg:
        out[b"key_spec_index"] = arg["key_spec_index"]
    elif arg["type"] == "key" and nspecs:
        # Key arguments name the key specs in order (RENAME key newkey: specs 0 and 1); the
        # last spec covers the keys that follow (LCS key1 key2, MSET key value ...: spec 0).
        out[b"key_spec_index"] = min(keys_seen[0], nspecs - 1)
        keys_seen[0] += 1
    if "token" in arg:
        out[b"token"] = arg["token"].encode()
    if arg.get("flags"):
        out[b"flags"] = ordered_set(c, list(arg["flags"]))
    if "arguments" in arg:
        out[b"arguments"] = [_doc_arg(c, a, keys_seen, nspecs) for a in arg["arguments"]]
    return out


@command(
    "command",
    -1,
    CMD_FLAGS,
    group=SRV,
    summary="Get array of Redis command details",
    since="2.8.13",
    complexity="O(N) where N is the total number of Redis commands",
    acl="@connection",
    tips="nondeterministic_output_order",
)
def command_(c: Context, args: list[bytes]) -> Any:
    return [command_info(c, cmd) for cmd in iter_commands()]


@command(
    "count",
    2,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Get total number of Redis commands",
    since="2.8.13",
    complexity="O(1)",
    acl="@connection",
)
def command_count(c: Context, args: list[bytes]) -> Any:
    return len(iter_commands())


@command(
    "info",
    -2,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Get array of specific Redis command details, or all when no argument is given.",
    since="2.8.13",
    complexity="O(N) where N is the number of commands to look up",
    acl="@connection",
    args="[command-name [command-name ...]]",
    tips="nondeterministic_output_order",
    history=(("7.0.0", "Allowed to be called with no argument to get info on all commands."),),
)
def command_info_(c: Context, args: list[bytes]) -> Any:
    if len(args) == 2:
        cmds: list[Command | None] = list(iter_commands())
    else:
        cmds = [lookup_by_name(a.decode(errors="replace")) for a in args[2:]]
    return [command_info(c, cmd) for cmd in cmds]


@command(
    "docs",
    -2,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Get array of specific Redis command documentation",
    since="7.0.0",
    complexity="O(N) where N is the number of commands to look up",
    acl="@connection",
    args="[command-name [command-name ...]]",
    tips="nondeterministic_output_order",
)
def command_docs_(c: Context, args: list[bytes]) -> Any:
    if len(args) == 2:
        found = iter_commands()
    else:
        found = [
            cmd for a in args[2:] if (cmd := lookup_by_name(a.decode(errors="replace"))) is not None
        ]
    return {cmd.name.encode(): command_docs(c, cmd) for cmd in found}


@command(
    "list",
    -2,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Get an array of Redis command names",
    since="7.0.0",
    complexity="O(N) where N is the total number of Redis commands",
    acl="@connection",
    args="[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
    tips="nondeterministic_output_order",
)
def command_list(c: Context, args: list[bytes]) -> Any:
    filt: tuple[bytes, str] | None = None
    i = 2
    while i < len(args):
        if args[i].lower() == b"filterby" and len(args) - 1 - i == 2:
            kind = args[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise SYNTAX
            filt = (kind, args[i + 2].decode(errors="replace"))
            i += 3
        else:
            raise SYNTAX
    out = []
    for cmd in iter_commands():
        for each in (cmd, *cmd.subcommands.values()):
            if filt is None or _list_match(each, *filt):
                out.append(each.name.encode())
    return out


def _list_match(cmd: Command, kind: bytes, arg: str) -> bool:
    if kind == b"module":
        return False  # no modules
    if kind == b"aclcat":
        cat = arg.lower().lstrip("@")
        return cat in ACL_ORDER and "@" + cat in cmd.acl_categories
    return glob_match(arg, cmd.name, nocase=True)


def _getkeys(c: Context, args: list[bytes], with_flags: bool) -> Any:
    """COMMAND GETKEYS / GETKEYSANDFLAGS (Redis's getKeysSubcommandImpl)."""
    target = args[2:]
    cmd = lookup(target)
    if cmd is None:
        raise ReplyError("ERR Invalid command specified")
    if not cmd.has_keys:
        raise ReplyError("ERR The command has no key arguments")
    if not cmd.check_arity(len(target)):
        raise ReplyError("ERR Invalid number of arguments specified for command")
    found = cmd.get_keys(target)
    if not found:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise ReplyError("ERR Invalid arguments specified for command")
    if not with_flags:
        return [target[p] for p, _ in found]
    return [[target[p], ordered_set(c, list(flags))] for p, flags in found]


@command(
    "getkeys",
    -4,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Extract keys given a full Redis command",
    since="2.8.13",
    complexity="O(N) where N is the number of arguments to the command",
    acl="@connection",
    args="command [arg [arg ...]]",
)
def command_getkeys(c: Context, args: list[bytes]) -> Any:
    return _getkeys(c, args, False)


@command(
    "getkeysandflags",
    -4,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Extract keys and access flags given a full Redis command",
    since="7.0.0",
    complexity="O(N) where N is the number of arguments to the command",
    acl="@connection",
    args="command [arg [arg ...]]",
)
def command_getkeysandflags(c: Context, args: list[bytes]) -> Any:
    return _getkeys(c, args, True)


@command(
    "help",
    2,
    CMD_FLAGS,
    parent="command",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
    complexity="O(1)",
    acl="@connection",
)
def command_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )


# --- DEBUG ------------------------------------------------------------------------------------

_DEBUG_HELP = [
    "ASSERT",
    "    Raise an internal error in the command's handler. Redis crashes here; minikv",
    "    answers every such error with an error reply and keeps serving (see connection.py).",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
    "    Save the RDB on disk and reload it back to memory. By default it will save",
    "    the RDB file and load it back.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "PROPAGATION <ON|OFF|READ>",
    "    Capture what writes propagate (as an append-only file or replica would get it),",
    "    stop capturing, or return and clear the captured commands (minikv only).",
]

NOT_POSITIVE = ReplyError("ERR value is out of range, must be positive")


@command(
    "debug",
    -2,
    "admin noscript loading stale protected",
    group=SRV,
    summary="A container for debugging commands",
    complexity="Depends on subcommand.",
    args="subcommand [arg [arg ...]]",
)
def debug(c: Context, args: list[bytes]) -> Any:
    if not _debug_allowed(c):
        raise ReplyError(
            'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
            "you can run it from a local connection, otherwise you need to set this option in "
            "the configuration file, and then restart the server."
        )
    sub = args[1].lower()
    n = len(args)
    if sub == b"help" and n == 2:
        return help_reply(args, _DEBUG_HELP)
    if sub == b"populate" and 3 <= n <= 5:
        return _populate(c, args)
    if sub == b"sleep" and n == 3:
        time.sleep(max(0.0, _strtod(args[2])))  # blocks the whole server, as Redis does
        return OK
    if sub == b"set-active-expire" and n == 3:
        _set_active_expire(c, c_atoi(args[2]) != 0)
        return OK
    if sub == b"object" and n == 3:
        return _debug_object(c, args[2])
    if sub == b"reload":
        return _reload(c, args)
    if sub == b"loadaof" and n == 2:
        return _loadaof(c)
    if sub == b"propagation" and n == 3:
        return _propagation(c, args[2].lower())
    if sub == b"assert" and n == 2:
        raise AssertionError("DEBUG ASSERT")
    raise subcommand_syntax_error(args)


def _propagation(c: Context, what: bytes) -> Any:
    consumers = c.db.keyspace.propagation.consumers
    capture = next((f for f in consumers if isinstance(f, Capture)), None)
    if what == b"on":
        if capture is None:
            consumers.append(Capture())
        return OK
    if what == b"off":
        if capture is not None:
            consumers.remove(capture)
        return OK
    if what == b"read":
        if capture is None:
            raise ReplyError("ERR propagation is not being captured (DEBUG PROPAGATION ON)")
        commands, dropped = capture.take()
        if dropped:
            raise ReplyError(f"ERR the capture overflowed: {dropped} commands were dropped")
        return commands
    raise SYNTAX


def _debug_allowed(c: Context) -> bool:
    setting = c.server.config.enable_debug_command
    return setting == "yes" or (setting == "local" and is_local_client(c))


def _positive(b: bytes) -> int:
    v = parse_int(b, NOT_POSITIVE)
    if v < 0:
        raise NOT_POSITIVE
    return v


def _populate(c: Context, args: list[bytes]) -> Any:
    count = _positive(args[2])
    size = _positive(args[4]) if len(args) == 5 else 0
    prefix = args[3] if len(args) >= 4 else b"key"
    db = c.db
    memory = c.server.keyspace.memory  # DEBUG is no write command: count its keys here
    for j in range(count):
        key = b"%b:%d" % (prefix, j)
        if db.get(key) is not None:
            continue  # existing keys are left untouched
        val = b"value:%d" % j
        if size:
            # Redis allocates `size` zeroed bytes and copies the value's prefix into them.
            val = val[:size].ljust(size, b"\0")
        db.set(key, val)
        db.changed(key, "set", 0)  # not counted as dirty, as in Redis
        if memory.tracking:
            memory.account([(db, key, 0)])
    return OK


def _strtod(b: bytes) -> float:
    """C's strtod: the longest numeric prefix, 0 if none."""
    text = b.decode(errors="replace").strip()
    for end in range(len(text), 0, -1):
        try:
            return float(text[:end])
        except ValueError:
            continue
    return 0.0


def _set_active_expire(c: Context, enabled: bool) -> None:
    c.server.keyspace.active_expire_enabled = enabled


def _loadaof(c: Context) -> Any:
    """DEBUG LOADAOF: write the AOF buffer, empty the data, load the AOF files again. Redis
    exits if they do not load (or if the AOF is off and none exists); minikv answers an
    error instead (the data is then empty: the files on disk are untouched)."""
    aof = c.server.aof
    if not aof.active:
        raise ReplyError("ERR DEBUG LOADAOF needs the append-only file on (appendonly yes)")
    aof.flush(force=True)
    c.server.keyspace.flushall()
    c.server.scripts.functions.flush()
    try:
        aof.load()
    except AofLoadError as e:
        raise ReplyError(f"ERR Error trying to load the AOF files: {e}") from None
    c.server.log.warning("Append Only File loaded by DEBUG LOADAOF")
    return OK


def _reload(c: Context, args: list[bytes]) -> Any:
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty the keyspace, load the file."""
    opts = {a.lower() for a in args[2:]}
    if not opts <= {b"merge", b"noflush", b"nosave"}:
        raise ReplyError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    p = c.server.persistence
    if b"nosave" not in opts:
        if p.bgsave_in_progress:
            raise ReplyError("ERR Background save already in progress")
        try:
            p.save()
        except OSError as e:
            raise ReplyError(f"ERR Error trying to save the DB: {e.strerror}") from None
    if b"noflush" not in opts and b"merge" not in opts:
        c.server.keyspace.flushall()
        c.server.scripts.functions.flush()  # Redis's emptyData empties the libraries too
    try:
        p.load(p.path)
    except Exception as e:
        raise ReplyError(f"ERR Error trying to load the snapshot: {e}") from None
    return OK


def _debug_object(c: Context, key: bytes) -> Any:
    v = c.db.get(key)
    if v is None:
        raise ReplyError("ERR no such key")
    enc = value_type(v).encoding(v)
    serialized = _serialized_length(v, enc) if isinstance(v, bytes) else 0
    # The key's access record (LRU clock, or the LFU value under an LFU policy) as Redis
    # shows o->lru, and the idle time estimated from it.
    memory = c.server.keyspace.memory
    record = c.db.access_value(key)
    lru = memory.loaded_clock if record is None else record
    idle = memory.idle_ms(record) // 1000
    extra = v.debug_fields() if type(v) in (QuickList, PackedList) else ""
    return (
        f"Value at:0x{id(v):x} refcount:1 encoding:{enc} serializedlength:{serialized} "
        f"lru:{lru} lru_seconds_idle:{idle}{extra}"
    )


def _serialized_length(v: bytes, encoding: str) -> int:
    """The length Redis's RDB would give a string (DEBUG OBJECT's serializedlength)."""
    if encoding == "int":
        n = int(v)
        if -(2**7) <= n < 2**7:
            return 2
        if -(2**15) <= n < 2**15:
            return 3
        if -(2**31) <= n < 2**31:
            return 5
        return 1 + len(v)
    header = 1 if len(v) < 64 else 2 if len(v) < 16384 else 5
    return header + len(v)


# --- LOLWUT ------------------------------------------------------------------------------------


def _lolwut_args(args: list[bytes], defaults: tuple[int, ...]) -> list[int]:
    """The art's size arguments: each given one parsed as Redis does, then clamped."""
    sizes = list(defaults)
    for i, a in enumerate(args[: len(defaults)]):
        sizes[i] = parse_int(a)
    return sizes


@command(
    "lolwut",
    -1,
    "readonly fast",
    group=SRV,
    summary="Display some computer art and the Redis version",
    since="5.0.0",
    args="[VERSION version:integer]",
)
def lolwut(c: Context, args: list[bytes]) -> Any:
    version = REDIS_VERSION
    rest = args[1:]
    if len(args) >= 3 and args[1].lower() == b"version":
        version = f"{parse_int(args[2]) & 0xFFFFFFFF}.0.0"  # printed as C's %u
        rest = args[3:]
    major, _, tail = version.partition(".")
    rng = random.Random()
    if (major == "5" and tail[:1] != "9") or (major == "4" and tail[:1] == "9"):
        cols, per_row, per_col = _lolwut_args(rest, (66, 8, 12))
        art = lolwut_art.schotter(
            min(max(cols, 1), 1000), min(max(per_row, 1), 200), min(max(per_col, 1), 200), rng
        )
        text = f"{art}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {REDIS_VERSION}\n"
    elif (major == "6" and tail[:1] != "9") or (major == "5" and tail[:1] == "9"):
        cols, rows = _lolwut_args(rest, (80, 20))
        art = lolwut_art.skyline(min(max(cols, 1), 1000), min(max(rows, 1), 1000), rng)
        text = (
            f"{art}\nDedicated to the 8 bit game developers of past and present.\n"
            f"Original 8 bit image from Plaguemon by hikikomori. Redis ver. {REDIS_VERSION}\n"
        )
    else:
        text = f"Redis ver. {REDIS_VERSION}\n"
    return Verbatim(text.encode())
