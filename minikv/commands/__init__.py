"""The command table: one place that knows every command's name, arity, flags and key positions.

It drives dispatch, the arity and unknown-command errors, ``COMMAND``/``COMMAND INFO``/``DOCS``,
write refusal (MISCONF) and ``INFO commandstats``. A command module registers its handlers with
the ``@command`` decorator; a handler is ``handler(client, args) -> reply`` where ``args[0]`` is
the command name and the reply is a value ``minikv.protocol`` knows how to encode. Handlers raise
``ReplyError`` for error replies.

Container commands (CONFIG, CLIENT, OBJECT...) register subcommands with ``parent=``; the table
resolves ``CONFIG GET`` to the ``config|get`` entry as Redis 7 does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.connection import Client

Handler = Callable[["Client", list[bytes]], Any]

# Flag names as Redis 7 reports them in COMMAND.
WRITE = "write"
READONLY = "readonly"
FAST = "fast"
DENYOOM = "denyoom"
ADMIN = "admin"
NOSCRIPT = "noscript"
LOADING = "loading"
STALE = "stale"
NO_AUTH = "no_auth"
NO_MULTI = "no_multi"
ALLOW_BUSY = "allow_busy"
PROTECTED = "protected"


@dataclass(eq=False, slots=True)
class Command:
    name: str  # lower case, e.g. "get" or "config|get"
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    step: int
    handler: Handler
    group: str
    summary: str
    since: str
    complexity: str = ""
    acl_categories: tuple[str, ...] = ()
    #: Usage in Redis's docs syntax ("key value [NX | XX] [EX seconds]"): COMMAND DOCS arguments.
    usage: str = ""
    #: COMMAND INFO tips ("nondeterministic_output", "request_policy:all_shards"...).
    tips: tuple[str, ...] = ()
    #: Flags of the key spec derived from (first_key, last_key, step): "RO access", "RW update"...
    key_flags: tuple[str, ...] = ()
    #: COMMAND DOCS history: (since, change) pairs.
    history: tuple[tuple[str, str], ...] = ()
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    parent: Command | None = None
    # INFO commandstats
    calls: int = 0
    usec_ns: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    # Derived once: the dispatcher reads these on every request.
    is_write: bool = False
    is_container: bool = False
    #: Dispatched on the inline fast path (not a container: no subcommand to resolve).
    plain: bool = True

    @property
    def usec(self) -> int:
        """Microseconds spent in the command (INFO commandstats)."""
        return self.usec_ns // 1000

    @property
    def fullname(self) -> str:
        return self.name

    def key_positions(self, args: list[bytes]) -> list[int]:
        if self.first_key == 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return list(range(self.first_key, last + 1, self.step))

    def check_arity(self, nargs: int) -> bool:
        a = self.arity
        return nargs == a if a > 0 else nargs >= -a


#: name (lower and upper case bytes) -> Command. Only top-level commands.
TABLE: dict[bytes, Command] = {}
#: every command and subcommand, by full name ("config|get").
ALL: dict[str, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    *,
    group: str = "generic",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "",
    parent: str | None = None,
    args: str = "",
    acl: str = "",
    tips: str = "",
    key_flags: str = "",
    history: tuple[tuple[str, str], ...] = (),
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as command ``name`` (or subcommand ``name`` of ``parent``).

    Documentation, all optional: ``args`` is the usage in Redis's docs syntax (COMMAND DOCS and
    redis-cli's hints are generated from it), ``acl`` extra ACL categories beyond those implied
    by the flags and group ("@keyspace @dangerous"), ``tips`` COMMAND INFO tips, ``key_flags``
    the key spec's flags when the default for a read or write command is wrong ("OW update").
    """

    def register(handler: Handler) -> Handler:
        flagset = frozenset(flags.split())
        full = f"{parent}|{name}" if parent else name
        cmd = Command(
            name=full,
            arity=arity,
            flags=flagset,
            first_key=keys[0],
            last_key=keys[1],
            step=keys[2],
            handler=handler,
            group=group,
            summary=summary,
            since=since,
            complexity=complexity,
            acl_categories=acl_categories(flagset, group, acl.split()),
            usage=args,
            tips=tuple(tips.split()),
            key_flags=tuple(key_flags.split()) or default_key_flags(flagset),
            history=history,
        )
        cmd.is_write = WRITE in flagset
        if parent:
            owner = ALL[parent]
            owner.is_container = True
            owner.plain = False
            cmd.parent = owner
            owner.subcommands[name.lower().encode()] = cmd
        else:
            TABLE[name.lower().encode()] = cmd
            TABLE[name.upper().encode()] = cmd
        ALL[full] = cmd
        return handler

    return register


def container(name: str, arity: int = -2, flags: str = "", **kw: Any) -> None:
    """Register a container command (CONFIG, CLIENT...) whose work is done by subcommands."""

    def no_handler(client: Client, args: list[bytes]) -> Any:
        raise ReplyError(
            f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try {name.upper()} HELP."
        )

    command(name, arity, flags, **kw)(no_handler)


def lookup(args: list[bytes]) -> Command | None:
    """Resolve a request to its command or subcommand, as Redis's lookupCommand does."""
    cmd = TABLE.get(args[0])
    if cmd is None:
        cmd = TABLE.get(args[0].lower())
        if cmd is None:
            return None
    if cmd.is_container and len(args) > 1:
        return cmd.subcommands.get(args[1].lower())
    return cmd


def unknown_command_error(args: list[bytes]) -> ReplyError:
    first = args[0].decode(errors="replace")
    cmd = TABLE.get(args[0].lower())
    if cmd is not None and cmd.is_container:
        sub = args[1].decode(errors="replace")[:128]
        msg = f"ERR unknown subcommand '{sub}'. Try {first.upper()} HELP."
    else:
        rest = ""
        for a in args[1:]:
            if len(rest) >= 128:
                break
            rest += "'" + a.decode(errors="replace")[: 128 - len(rest)] + "' "
        msg = f"ERR unknown command '{first[:128]}', with args beginning with: {rest}"
    return ReplyError(msg.replace("\r", " ").replace("\n", " "))


def arity_error(cmd: Command) -> ReplyError:
    return ReplyError(f"ERR wrong number of arguments for '{cmd.fullname}' command")


def load_all() -> None:
    """Import every command module so their handlers register themselves."""
    from minikv.commands import (  # noqa: F401
        connection,
        hashes,
        keys,
        lists,
        persistence,
        server,
        sets,
        strings,
        transactions,
        zsets,
    )


def iter_commands() -> list[Command]:
    """Every top-level command once, in registration order."""
    seen: dict[str, Command] = {}
    for cmd in TABLE.values():
        seen[cmd.name] = cmd
    return list(seen.values())


def lookup_by_name(name: str) -> Command | None:
    """A command or subcommand by its full name ("get", "config|get"), as COMMAND INFO takes."""
    return ALL.get(name.lower())


# --- ACL categories and key specs, derived from flags and group ---------------------------------

#: Redis's ACL categories, in the order COMMAND INFO lists them.
ACL_ORDER = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
]

# The category a command's group implies (Redis's JSON files list them explicitly; for these
# groups they always include this one).
_GROUP_ACL = {
    "generic": "keyspace",
    "string": "string",
    "list": "list",
    "set": "set",
    "sorted-set": "sortedset",
    "hash": "hash",
    "pubsub": "pubsub",
    "transactions": "transaction",
    "connection": "connection",
    "scripting": "scripting",
    "hyperloglog": "hyperloglog",
    "geo": "geo",
    "stream": "stream",
    "bitmap": "bitmap",
}


def acl_categories(flags: frozenset[str], group: str, extra: list[str]) -> tuple[str, ...]:
    """Categories as Redis's setImplicitACLCategories derives them, plus the group's and any
    given explicitly."""
    cats = {e.lstrip("@").lower() for e in extra}
    if WRITE in flags:
        cats.add("write")
    if READONLY in flags and "scripting" not in cats:
        cats.add("read")
    if ADMIN in flags:
        cats.update(("admin", "dangerous"))
    if "pubsub" in flags:
        cats.add("pubsub")
    if FAST in flags:
        cats.add("fast")
    if "blocking" in flags:
        cats.add("blocking")
    if FAST not in flags:
        cats.add("slow")
    if group in _GROUP_ACL:
        cats.add(_GROUP_ACL[group])
    return tuple("@" + c for c in ACL_ORDER if c in cats)


def default_key_flags(flags: frozenset[str]) -> tuple[str, ...]:
    if WRITE in flags:
        return ("RW", "access", "update")
    return ("RO", "access")


# --- usage strings -> COMMAND DOCS arguments -----------------------------------------------------

_KEY_NAMES = frozenset({"key", "destination", "source", "newkey"})
_INT_NAMES = frozenset(
    [
        "count",
        "seconds",
        "milliseconds",
        "timeout",
        "index",
        "start",
        "end",
        "stop",
        "increment",
        "decrement",
        "offset",
        "cursor",
        "numkeys",
        "db",
        "size",
        "ttl",
        "unix-time-seconds",
        "unix-time-milliseconds",
    ]
)


def _leaf(word: str) -> dict[str, Any]:
    """One word of a usage string: UPPER is a pure token, lower a named value; ``name:type``
    states the type when the name does not imply it."""
    if word.isupper() or not any(ch.isalpha() for ch in word):
        return {"name": word.lower(), "type": "pure-token", "token": word}
    name, _, typ = word.partition(":")
    if not typ:
        if name in _KEY_NAMES:
            typ = "key"
        elif name == "pattern":
            typ = "pattern"
        elif name.startswith("unix-time"):
            typ = "unix-time"
        elif name in _INT_NAMES:
            typ = "integer"
        else:
            typ = "string"
    return {"name": name, "type": typ}


def parse_usage(usage: str) -> list[dict[str, Any]]:
    """Turn Redis's docs syntax into COMMAND DOCS argument maps.

    ``[...]`` is optional, ``a | b`` one of, ``x [x ...]`` repeats, ``TOKEN value`` is a value
    introduced by a token, several words in one group form a block.
    """
    for ch in "[]<>|":
        usage = usage.replace(ch, f" {ch} ")
    tokens = usage.split()
    pos = 0

    def seq() -> list[list[dict[str, Any]]]:
        nonlocal pos
        alts: list[list[dict[str, Any]]] = [[]]
        while pos < len(tokens) and tokens[pos] not in "]>":
            t = tokens[pos]
            pos += 1
            if t == "|":
                alts.append([])
            elif t in "[<":
                inner = seq()
                pos += 1  # the closing "]" or ">"
                items = alts[-1]
                body = inner[0] if len(inner) == 1 else []
                n = len(body) - 1
                if (
                    t == "["
                    and n >= 1
                    and body[-1]["name"] == "..."
                    and [i["name"] for i in items[-n:]] == [i["name"] for i in body[:-1]]
                ):
                    # "x [x ...]" or "a b [a b ...]": the preceding items repeat.
                    rep = _block(items[-n:])
                    del items[-n:]
                    rep.setdefault("flags", []).append("multiple")
                    items.append(rep)
                    continue
                arg = _group(inner)
                if t == "[":
                    arg.setdefault("flags", []).insert(0, "optional")
                items.append(arg)
            elif t == "...":
                alts[-1].append({"name": "...", "type": "ellipsis"})
            else:
                leaf = _leaf(t)
                items = alts[-1]
                prev = items[-1] if items else None
                # "EX seconds": a value introduced by a token is one argument.
                if (
                    prev is not None
                    and prev["type"] == "pure-token"
                    and leaf["type"] != "pure-token"
                    and "flags" not in prev
                    and not prev.get("_joined")
                ):
                    prev.update(name=leaf["name"], type=leaf["type"], _joined=True)
                else:
                    items.append(leaf)
        return alts

    def _group(alts: list[list[dict[str, Any]]]) -> dict[str, Any]:
        if len(alts) > 1:
            children = [_block(a) for a in alts]
            return {
                "name": "-".join(ch["name"] for ch in children),
                "type": "oneof",
                "arguments": children,
            }
        return _block(alts[0])

    def _block(items: list[dict[str, Any]]) -> dict[str, Any]:
        if len(items) == 1:
            return items[0]
        return {"name": "-".join(i["name"] for i in items), "type": "block", "arguments": items}

    top = seq()
    args = top[0] if len(top) == 1 else [_group(top)]
    return [_clean(a) for a in args]


def _clean(arg: dict[str, Any]) -> dict[str, Any]:
    arg.pop("_joined", None)
    if "arguments" in arg:
        arg["arguments"] = [_clean(a) for a in arg["arguments"]]
    return arg
