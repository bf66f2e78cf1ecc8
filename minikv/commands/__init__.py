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
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    parent: Command | None = None
    # INFO commandstats
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    # Derived once: the dispatcher reads these on every request.
    is_write: bool = False
    is_container: bool = False

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
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as command ``name`` (or subcommand ``name`` of ``parent``)."""

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
        )
        cmd.is_write = WRITE in flagset
        if parent:
            owner = ALL[parent]
            owner.is_container = True
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
        keys,
        server,
        strings,
        transactions,
    )


def iter_commands() -> list[Command]:
    seen: dict[str, Command] = {}
    for cmd in TABLE.values():
        seen[cmd.name] = cmd
    return list(seen.values())
