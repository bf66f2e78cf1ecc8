"""Access control (Redis 7's ACL): users, their selectors, the rules that build them, and the
permission check of a command call.

A ``User`` has flags (on/off, nopass, sanitize-payload), SHA-256 password hashes and one or
more ``Selector``: the root one (the rules given outside parentheses) and any added with
``(...)``. A selector allows a set of commands (built from the ACL categories of the one
command table, ``Command.acl_categories``), key patterns (``~``, ``%R~``, ``%W~``) and channel
patterns (``&``). A call is allowed when any selector allows it: its command (or the
subcommand, or an allowed first argument), every key ``Command.get_keys`` finds in it with the
access its key spec declares, and every channel it publishes or subscribes to.

``Acl`` is the server's registry: the users, the ``default`` user (``requirepass`` is its
password), the ACL LOG, and the aclfile / config ``user`` lines. Rule parsing follows Redis's
ACLSetUser / ACLSetSelector, error texts included, and ``describe`` renders a user as ACL LIST
and ACL SAVE do (Redis's best-fit of categories, then single commands). Nothing here touches a
connection: the dispatcher asks ``check`` and reports the denial; commands/acl.py is the ACL
command family.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from minikv.commands import ACL_ORDER, Command, iter_commands, lookup_by_name
from minikv.parsing import compile_pattern

if TYPE_CHECKING:
    from minikv.config import Config

# Redis's ACL_* results, in its order: when no selector allows a call, the highest wins.
OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

# ACL LOG contexts.
TOPLEVEL = "toplevel"
LUA = "lua"
MULTI = "multi"

READ = 1
WRITE = 2
ALL_PERMS = READ | WRITE

#: ACL LOG entries closer in time than this (ms) are merged into one (count grows).
LOG_GROUPING_MS = 60_000

#: Commands whose arguments are channels (Redis's commands_with_channels): name ->
#: (publish/subscribe, pattern, first argument, count or -1 for the rest). Unsubscribing is
#: never denied, so those commands are not listed.
CHANNEL_SPECS: dict[str, tuple[bool, int, int]] = {
    "subscribe": (False, 1, -1),
    "ssubscribe": (False, 1, -1),
    "psubscribe": (True, 1, -1),
    "publish": (False, 1, 1),
    "spublish": (False, 1, 1),
}

USER_FLAGS = ("on", "off", "nopass", "skip-sanitize-payload", "sanitize-payload")


class RuleError(Exception):
    """A bad ACL rule; ``message`` is Redis's ACLSetUserStringError text."""

    def __init__(self, message: str, not_found: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: Redis's ENOENT (an unknown command or category): tolerated in config ``user`` lines
        #: until load time, reported with the rule in aclfile errors.
        self.not_found = not_found


E_UNKNOWN = "Unknown command or category name in ACL"
E_SYNTAX = "Syntax error"
E_KEYS_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
E_CHANNELS_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
E_NOPASS = "The password you are trying to remove from the user does not exist"
E_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)
E_DUPLICATE = "Duplicate user found. A user can only be defined once in config files"
E_FIRSTARG = "Allowing first-arg of a subcommand is not supported"


def now_ms() -> int:
    return int(time.time() * 1000)


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def has_spaces(s: bytes) -> bool:
    """Redis's ACLStringHasSpaces: C isspace() or NUL anywhere."""
    return any(ch in b" \t\n\v\f\r\x00" for ch in s)


def _valid_hash(h: bytes) -> bool:
    return len(h) == 64 and all(ch in b"0123456789abcdef" for ch in h)


# --- the command universe ---------------------------------------------------------------------


def _walk(commands: list[Command]) -> Iterator[Command]:
    """Every command and subcommand, each container before its subcommands (the order
    describe() emits single-command rules in)."""
    for cmd in commands:
        yield cmd
        if cmd.subcommands:
            yield from _walk(list(cmd.subcommands.values()))


def all_commands() -> list[Command]:
    return list(_walk(iter_commands()))


def category_commands(category: str) -> list[Command] | None:
    """The commands (subcommands included) of an ACL category, or None if it is unknown."""
    cat = category.lower()
    if cat not in ACL_ORDER:
        return None
    tag = "@" + cat
    return [c for c in all_commands() if tag in c.acl_categories]


# --- selectors --------------------------------------------------------------------------------


class KeyPattern:
    __slots__ = ("flags", "match", "pattern")

    def __init__(self, pattern: bytes, flags: int) -> None:
        self.pattern = pattern
        self.flags = flags
        self.match: Callable[[bytes], bool] = compile_pattern(pattern)

    def describe(self) -> bytes:
        prefix = {ALL_PERMS: b"~", READ: b"%R~", WRITE: b"%W~"}[self.flags]
        return prefix + self.pattern


class Selector:
    """Redis's aclSelector: the commands, keys and channels one set of rules allows."""

    __slots__ = (
        "_channel_matchers",
        "allchannels",
        "allcommands",
        "allkeys",
        "allowed",
        "channels",
        "firstargs",
        "future",
        "patterns",
        "root",
    )

    def __init__(self, root: bool, allchannels: bool) -> None:
        self.root = root
        self.allkeys = False
        self.allchannels = allchannels  # acl-pubsub-default
        self.allcommands = False
        #: Redis's reserved command bit: set by +@all only, so that describe() knows the
        #: rules started from +@all (and allow commands added later).
        self.future = False
        self.allowed: set[Command] = set()
        #: Allowed first arguments of an otherwise denied command (+select|0).
        self.firstargs: dict[Command, list[bytes]] = {}
        self.patterns: list[KeyPattern] = []
        self.channels: list[bytes] = []
        self._channel_matchers: list[Callable[[bytes], bool]] | None = None

    def copy(self) -> Selector:
        s = Selector(self.root, self.allchannels)
        s.allkeys, s.allcommands, s.future = self.allkeys, self.allcommands, self.future
        s.allowed = set(self.allowed)
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [KeyPattern(p.pattern, p.flags) for p in self.patterns]
        s.channels = list(self.channels)
        return s

    @property
    def unrestricted(self) -> bool:
        return self.allcommands and self.allkeys and self.allchannels

    # Redis's ACLChangeSelectorPerm: a container's bit goes with all its subcommands'.
    def _set_bit(self, cmd: Command, allow: bool) -> None:
        if allow:
            self.allowed.add(cmd)
        else:
            self.allowed.discard(cmd)
            self.allcommands = False

    def change(self, cmd: Command, allow: bool) -> None:
        self._set_bit(cmd, allow)
        self.firstargs.pop(cmd, None)
        for sub in cmd.subcommands.values():
            self._set_bit(sub, allow)

    def set_category(self, commands: list[Command], category: str, allow: bool) -> bool:
        """Redis's ACLSetSelectorCommandBitsForCategory over ``commands`` (recursively)."""
        tag = "@" + category.lower()
        if category.lower() not in ACL_ORDER:
            return False
        for cmd in commands:
            if tag in cmd.acl_categories:
                self.change(cmd, allow)
            if cmd.subcommands:
                self.set_category(list(cmd.subcommands.values()), category, allow)
        return True

    def apply(self, op: bytes) -> None:
        """Redis's ACLSetSelector: one rule. Raises RuleError."""
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
        elif low == b"resetkeys":
            self.allkeys = False
            self.patterns = []
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
            self._channel_matchers = None
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels = []
            self._channel_matchers = None
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(all_commands())
            self.allcommands = self.future = True
            self.firstargs = {}
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.allcommands = self.future = False
            self.firstargs = {}
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(E_CHANNELS_ALL)
            pat = op[1:]
            if has_spaces(pat):
                raise RuleError(E_SYNTAX)
            if pat not in self.channels:
                self.channels.append(pat)
                self._channel_matchers = None
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow_command(op[1:])
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = _lookup(op[1:])
            if cmd is None:
                raise RuleError(E_UNKNOWN, not_found=True)
            self.change(cmd, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            name = op[2:].decode("utf-8", "surrogateescape")
            if not self.set_category(iter_commands(), name, op[:1] == b"+"):
                raise RuleError(E_UNKNOWN, not_found=True)
        else:
            raise RuleError(E_SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise RuleError(E_KEYS_ALL)
        flags = 0
        offset = 1
        if op[:1] == b"%":
            ok = True
            while offset < len(op):
                ch = op[offset : offset + 1].upper()
                if ch == b"R" and not flags & READ:
                    flags |= READ
                elif ch == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif ch == b"~":
                    offset += 1
                    break
                else:
                    ok = False
                    break
                offset += 1
            if not flags or not ok:
                raise RuleError(E_SYNTAX)
        else:
            flags = ALL_PERMS
        pat = op[offset:]
        if has_spaces(pat):
            raise RuleError(E_SYNTAX)
        for p in self.patterns:
            if p.pattern == pat:
                p.flags |= flags
                break
        else:
            self.patterns.append(KeyPattern(pat, flags))
        self.allkeys = False

    def _allow_command(self, name: bytes) -> None:
        if b"|" not in name:
            cmd = _lookup(name)
            if cmd is None:
                raise RuleError(E_UNKNOWN, not_found=True)
            self.change(cmd, True)
            return
        head, _, sub = name.rpartition(b"|")
        cmd = _lookup(head)
        if cmd is None:
            raise RuleError(E_UNKNOWN, not_found=True)
        if cmd.parent is not None:
            raise RuleError(E_FIRSTARG)
        if not sub:
            raise RuleError(E_SYNTAX)
        if cmd.is_container:
            subcmd = _lookup(name)
            if subcmd is None:
                raise RuleError(E_UNKNOWN, not_found=True)
            self.change(subcmd, True)
        else:
            # Redis logs a deprecation warning for this form and still honours it.
            allowed = self.firstargs.setdefault(cmd, [])
            if sub.lower() not in (a.lower() for a in allowed):
                allowed.append(sub)

    # --- checks ---------------------------------------------------------------------------

    def has_unrestricted_keys(self, perms: int) -> bool:
        if self.allkeys:
            return True
        return any(p.flags & perms == perms and p.pattern == b"*" for p in self.patterns)

    def check_channel(self, channel: bytes, is_pattern: bool) -> bool:
        if self.allchannels:
            return True
        return channel_in(self.channels, channel, is_pattern, self._matchers())

    def _matchers(self) -> list[Callable[[bytes], bool]]:
        if self._channel_matchers is None:
            self._channel_matchers = [compile_pattern(p) for p in self.channels]
        return self._channel_matchers

    def check_cmd(
        self, cmd: Command, args: list[bytes], keys: list[list[tuple[int, tuple[str, ...]]] | None]
    ) -> tuple[int, int]:
        """Redis's ACLSelectorCheckCmd: (result, position of the denied key or channel).
        ``keys`` holds the call's keys once found (shared by the user's selectors). This runs
        for every request of a restricted user: the loops are inlined."""
        if not self.allcommands and cmd not in self.allowed and "no_auth" not in cmd.flags:
            allowed = self.firstargs.get(cmd)
            at = 2 if cmd.parent is not None else 1
            if len(args) < 2 or not allowed:
                return DENIED_CMD, 0
            first = args[at].lower() if at < len(args) else b""
            if not any(first == a.lower() for a in allowed):
                return DENIED_CMD, 0
        if not self.allkeys:
            has = _HAS_KEYS.get(cmd)
            if has is None:
                has = _HAS_KEYS[cmd] = cmd.has_keys
            if has:
                found = keys[0]
                if found is None:
                    found = keys[0] = cmd.get_keys(args)
                patterns = self.patterns
                for pos, flags in found:
                    perms = _PERMS.get(flags)
                    if perms is None:
                        perms = _PERMS[flags] = key_perms(flags)
                    key = args[pos]
                    for p in patterns:
                        if p.flags & perms == perms and p.match(key):
                            break
                    else:
                        return DENIED_KEY, pos
        if not self.allchannels:
            spec = CHANNEL_SPECS.get(cmd.name)
            if spec is not None:
                is_pattern, first_at, count = spec
                last = len(args) if count < 0 else min(len(args), first_at + count)
                for pos in range(first_at, last):
                    if not self.check_channel(args[pos], is_pattern):
                        return DENIED_CHANNEL, pos
        return OK, 0

    # --- description ----------------------------------------------------------------------

    def describe_commands(self) -> bytes:
        """Redis's ACLDescribeSelectorCommandRules: +@all or -@all, then the categories that
        fit best, then single commands until the set is exact."""
        commands = iter_commands()
        universe = all_commands()
        fake = Selector(False, False)
        additive = not self.future
        rules: list[str] = []
        if self.future:
            rules.append("+@all")
            fake.apply(b"+@all")
        else:
            rules.append("-@all")
            fake.apply(b"-@all")
        temp = set(self.allowed)
        applied: set[str] = set()
        members = {cat: [c for c in universe if "@" + cat in c.acl_categories] for cat in ACL_ORDER}
        while True:
            best = None
            mindiff, maxsame = 2**31, 0
            for cat in ACL_ORDER:
                if cat in applied:
                    continue
                on = sum(1 for c in members[cat] if c in temp)
                off = len(members[cat]) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            fake.set_category(commands, best, additive)
            # The temporary set gets the inverse, so the category is not counted again.
            tsel = Selector(False, False)
            tsel.allowed = temp
            tsel.set_category(commands, best, not additive)
            temp = tsel.allowed
            rules.append(("+@" if additive else "-@") + best)
            applied.add(best)
        for cmd in universe:
            mine = cmd in self.allowed
            if mine != (cmd in fake.allowed):
                rules.append(("+" if mine else "-") + cmd.name)
                fake.change(cmd, mine)
            if not mine and cmd in self.firstargs:
                for a in self.firstargs[cmd]:
                    rules.append(f"+{cmd.name}|{a.decode('utf-8', 'surrogateescape')}")
        if fake.allowed != self.allowed:
            # Redis aborts here: a description that would not rebuild the user is a hole.
            raise AssertionError("ACL description does not rebuild the command set")
        return " ".join(rules).encode("utf-8", "surrogateescape")

    def describe_keys(self) -> bytes:
        return b"~*" if self.allkeys else b" ".join(p.describe() for p in self.patterns)

    def describe_channels(self) -> bytes:
        return b"&*" if self.allchannels else b" ".join(b"&" + c for c in self.channels)

    def describe(self) -> bytes:
        """Redis's ACLDescribeSelector: keys, channels, commands."""
        parts: list[bytes] = []
        if self.allkeys:
            parts.append(b"~*")
        else:
            parts.extend(p.describe() for p in self.patterns)
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + c for c in self.channels)
        parts.append(self.describe_commands())
        return b" ".join(parts)


def key_perms(flags: tuple[str, ...]) -> int:
    """The permissions a key spec's flags need (access: read; insert, delete, update: write)."""
    perms = 0
    for f in flags:
        if f == "access":
            perms |= READ
        elif f in ("insert", "delete", "update"):
            perms |= WRITE
    return perms


def channel_in(
    patterns: list[bytes],
    channel: bytes,
    is_pattern: bool,
    matchers: list[Callable[[bytes], bool]] | None = None,
) -> bool:
    """Redis's ACLCheckChannelAgainstList: a channel matches the glob patterns; a pattern
    (PSUBSCRIBE) only an identical pattern."""
    if is_pattern:
        return channel in patterns
    ms = matchers if matchers is not None else [compile_pattern(p) for p in patterns]
    return any(m(channel) for m in ms)


def _lookup(name: bytes) -> Command | None:
    try:
        text = name.decode()
    except UnicodeDecodeError:
        return None
    if text.count("|") > 1:
        return None
    return lookup_by_name(text)


#: Per command: whether it may take keys (Command.has_keys, computed once).
_HAS_KEYS: dict[Command, bool] = {}
#: Key-spec flags -> the permissions they need (key_perms, computed once per flag set).
_PERMS: dict[tuple[str, ...], int] = {}


# --- users ------------------------------------------------------------------------------------


class User:
    __slots__ = ("_described", "flags", "name", "passwords", "selectors", "unrestricted")

    def __init__(self, name: bytes, allchannels: bool) -> None:
        self.name = name
        self.flags: set[str] = {"off"}
        #: SHA-256 hex digests, in the order they were added.
        self.passwords: list[str] = []
        self.selectors: list[Selector] = [Selector(True, allchannels)]
        #: Every command, key and channel in one selector: the dispatcher's fast path may
        #: serve this user's clients (kept up to date by every change).
        self.unrestricted = False
        self._described: bytes | None = None

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    @property
    def enabled(self) -> bool:
        return "on" in self.flags

    @property
    def nopass(self) -> bool:
        return "nopass" in self.flags

    def copy_from(self, other: User) -> None:
        """Redis's ACLCopyUser: the rules of ``other``, keeping this name (and identity: the
        clients authenticated as this user see the change)."""
        self.flags = set(other.flags)
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self.changed()

    def clone(self) -> User:
        u = User(self.name, False)
        u.copy_from(self)
        return u

    def changed(self) -> None:
        self._described = None
        self.unrestricted = any(s.unrestricted for s in self.selectors)

    def apply(self, op: bytes, allchannels_default: bool) -> None:
        """Redis's ACLSetUser: one rule. Raises RuleError."""
        try:
            self._apply(op, allchannels_default)
        finally:
            self.changed()

    def _apply(self, op: bytes, allchannels_default: bool) -> None:
        if not op:
            return
        low = op.lower()
        flags = self.flags
        if low == b"on":
            flags.discard("off")
            flags.add("on")
        elif low == b"off":
            flags.discard("on")
            flags.add("off")
        elif low == b"skip-sanitize-payload":
            flags.discard("sanitize-payload")
            flags.add("skip-sanitize-payload")
        elif low == b"sanitize-payload":
            flags.discard("skip-sanitize-payload")
            flags.add("sanitize-payload")
        elif low == b"nopass":
            flags.add("nopass")
            self.passwords = []
        elif low == b"resetpass":
            flags.discard("nopass")
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            if op[:1] == b">":
                h = hash_password(op[1:])
            else:
                if not _valid_hash(op[1:]):
                    raise RuleError(E_HASH)
                h = op[1:].decode()
            if h not in self.passwords:
                self.passwords.append(h)
            flags.discard("nopass")
        elif op[:1] in (b"<", b"!"):
            if op[:1] == b"<":
                h = hash_password(op[1:])
            else:
                if not _valid_hash(op[1:]):
                    raise RuleError(E_HASH)
                h = op[1:].decode()
            if h not in self.passwords:
                raise RuleError(E_NOPASS)
            self.passwords.remove(h)
        elif op[:1] == b"(" and op[-1:] == b")":
            sel = Selector(False, allchannels_default)
            try:
                words = shlex.split(op[1:-1].decode("utf-8", "surrogateescape"))
            except ValueError:
                raise RuleError(E_SYNTAX) from None
            for w in words:
                sel.apply(w.encode("utf-8", "surrogateescape"))
            self.selectors.append(sel)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            for rule in (b"resetpass", b"resetkeys", b"resetchannels"):
                self._apply(rule, allchannels_default)
            if allchannels_default:
                self._apply(b"allchannels", allchannels_default)
            for rule in (b"off", b"sanitize-payload", b"clearselectors", b"-@all"):
                self._apply(rule, allchannels_default)
        else:
            self.root.apply(op)

    def check_password(self, password: bytes) -> bool:
        """Compared in constant time against every stored hash (Redis compares them all the
        same way)."""
        if self.nopass:
            return True
        h = hash_password(password).encode()
        ok = False
        for p in self.passwords:
            ok |= hmac.compare_digest(h, p.encode())
        return ok

    def check(self, cmd: Command, args: list[bytes]) -> tuple[int, int]:
        """Redis's ACLCheckAllUserCommandPerm: OK, or the most relevant denial (a channel over
        a key over the command; among equals, the latest argument) and its position."""
        keys: list[list[tuple[int, tuple[str, ...]]] | None] = [None]
        selectors = self.selectors
        if len(selectors) == 1:
            return selectors[0].check_cmd(cmd, args, keys)
        relevant, last = DENIED_CMD, 0
        for s in selectors:
            result, pos = s.check_cmd(cmd, args, keys)
            if result == OK:
                return OK, 0
            if result > relevant or (result == relevant and pos > last):
                relevant, last = result, pos
        return relevant, last

    def full_key_access(self, cmd: Command, args: list[bytes], perms: int = READ) -> bool:
        """Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess: a selector that allows this call
        also allows ``perms`` on every key (SORT's BY and GET need it)."""
        keys: list[list[tuple[int, tuple[str, ...]]] | None] = [None]
        return any(
            s.check_cmd(cmd, args, keys)[0] == OK and s.has_unrestricted_keys(perms)
            for s in self.selectors
        )

    def check_channel(self, channel: bytes, is_pattern: bool) -> bool:
        return any(s.check_channel(channel, is_pattern) for s in self.selectors)

    def describe(self) -> bytes:
        """Redis's ACLDescribeUser: flags, #hashes, the root selector, then (selectors)."""
        if self._described is None:
            parts = [f.encode() for f in USER_FLAGS if f in self.flags]
            parts += [b"#" + p.encode() for p in self.passwords]
            parts.append(self.root.describe())
            parts += [b"(" + s.describe() + b")" for s in self.selectors[1:]]
            self._described = b" ".join(parts)
        return self._described


def merge_selector_args(ops: list[bytes]) -> list[bytes] | int:
    """Redis's ACLMergeSelectorArguments: a ``(`` selector spread over several arguments
    becomes one; an unclosed one returns the index where it opened."""
    out: list[bytes] = []
    opened = -1
    current = b""
    for j, op in enumerate(ops):
        if op[:1] == b"(" and op[-1:] != b")":  # (a second one, still open, starts over)
            current, opened = op, j
            continue
        if opened != -1:
            current += b" " + op
            if op[-1:] == b")":
                opened = -1
                out.append(current)
            continue
        out.append(op)
    return opened if opened != -1 else out


# --- the log ----------------------------------------------------------------------------------


class LogEntry:
    __slots__ = ("cinfo", "context", "count", "ctime", "object", "reason", "username")

    def __init__(self, reason: int, context: str, obj: bytes, username: bytes, cinfo: str) -> None:
        self.count = 1
        self.reason = reason
        self.context = context
        self.object = obj
        self.username = username
        self.ctime = now_ms()
        self.cinfo = cinfo


REASONS = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_CHANNEL: "channel", DENIED_AUTH: "auth"}


# --- the registry -----------------------------------------------------------------------------


class Acl:
    """The users of one server, the default user and the ACL LOG."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.users: dict[bytes, User] = {}
        self.default = self._default_user()
        self.users[b"default"] = self.default
        self.log: list[LogEntry] = []  # newest first
        self._requirepass: str | None = None
        self.use_requirepass(config.requirepass)

    @property
    def allchannels_default(self) -> bool:
        return self.config.acl_pubsub_default == "allchannels"

    def _default_user(self) -> User:
        u = User(b"default", self.allchannels_default)
        for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            u.apply(rule, self.allchannels_default)
        return u

    def use_requirepass(self, password: str) -> None:
        """``requirepass`` is the default user's one password (empty: nopass), as Redis 7's
        ACLUpdateDefaultUserPassword; applied when the setting changes."""
        if password == self._requirepass:
            return
        self._requirepass = password
        d = self.default
        d.apply(b"resetpass", self.allchannels_default)
        if password:
            d.apply(b">" + password.encode("utf-8", "surrogateescape"), False)
        else:
            d.apply(b"nopass", False)

    def get(self, name: bytes) -> User | None:
        return self.users.get(name)

    def sorted_users(self) -> list[User]:
        """In Redis's order (its radix tree: byte order of the names)."""
        return [self.users[n] for n in sorted(self.users)]

    def authenticate(self, name: bytes, password: bytes) -> User | None:
        u = self.users.get(name)
        if u is None or not u.enabled:
            # A missing user still costs a hash, so timing does not tell it apart.
            hash_password(password)
            return None
        return u if u.check_password(password) else None

    def set_user(self, name: bytes, ops: list[bytes]) -> tuple[User, User | None]:
        """Redis's ACLStringSetUser: every rule is tried on a copy, and only if all apply is
        the user created or changed. Returns (the user, a copy of it before the change, None
        if it is new). Raises RuleError with the complete error text."""
        merged = merge_selector_args(ops)
        if isinstance(merged, int):
            raise RuleError(
                "Unmatched parenthesis in acl selector starting at "
                f"'{ops[merged].decode('utf-8', 'surrogateescape')}'."
            )
        existing = self.users.get(name)
        temp = existing.clone() if existing is not None else User(name, self.allchannels_default)
        for op in merged:
            try:
                temp.apply(op, self.allchannels_default)
            except RuleError as e:
                raise RuleError(
                    f"Error in ACL SETUSER modifier '{op.decode('utf-8', 'surrogateescape')}': "
                    f"{e.message}"
                ) from None
        if existing is None:
            self.users[name] = temp
            return temp, None
        before = existing.clone()
        existing.copy_from(temp)
        return existing, before

    def delete(self, name: bytes) -> User | None:
        if name == b"default":
            raise ValueError("the default user cannot be removed")
        return self.users.pop(name, None)

    # --- the log ------------------------------------------------------------------------------

    def add_log(self, reason: int, context: str, obj: bytes, username: bytes, cinfo: str) -> None:
        """Redis's addACLLogEntry: merged with a like entry among the 10 newest, else added
        (the oldest beyond acllog-max-len dropped)."""
        le = LogEntry(reason, context, obj, username, cinfo)
        for i, cur in enumerate(self.log[:10]):
            if (
                cur.reason == le.reason
                and cur.context == le.context
                and abs(cur.ctime - le.ctime) <= LOG_GROUPING_MS
                and cur.object == le.object
                and cur.username == le.username
            ):
                cur.cinfo, cur.ctime = le.cinfo, le.ctime
                cur.count += 1
                del self.log[i]
                self.log.insert(0, cur)
                return
        self.log.insert(0, le)
        del self.log[self.config.acllog_max_len :]

    def log_denial(
        self,
        user: User,
        cmd: Command,
        args: list[bytes],
        result: int,
        pos: int,
        context: str,
        cinfo: str,
    ) -> None:
        obj = cmd.name.encode() if result == DENIED_CMD else args[pos]
        self.add_log(result, context, obj, user.name, cinfo)

    # --- files --------------------------------------------------------------------------------

    def text(self) -> str:
        """The users as ACL SAVE writes them (and CONFIG REWRITE's ``user`` lines)."""
        return "".join(line + "\n" for line in self.lines())

    def lines(self) -> list[str]:
        return [
            "user "
            + u.name.decode("utf-8", "surrogateescape")
            + " "
            + u.describe().decode("utf-8", "surrogateescape")
            for u in self.sorted_users()
        ]

    def load_config_users(self, lines: list[list[str]]) -> None:
        """The ``user`` directives of the config file (Redis's ACLLoadConfiguredUsers): a
        ``default`` line resets the default user first. Raises RuleError (a fatal start)."""
        for words in lines:
            name = words[0].encode("utf-8", "surrogateescape")
            if has_spaces(name):
                raise RuleError("Spaces not allowed in ACL usernames")
            u = self.users.get(name)
            if u is None:
                u = User(name, self.allchannels_default)
                self.users[name] = u
            else:
                u.apply(b"reset", self.allchannels_default)
            merged = merge_selector_args([w.encode("utf-8", "surrogateescape") for w in words[1:]])
            assert not isinstance(merged, int)  # validate_config_user checked it
            for op in merged:
                try:
                    u.apply(op, self.allchannels_default)
                except RuleError as e:
                    raise RuleError(
                        f"Error loading ACL rule '{op.decode('utf-8', 'surrogateescape')}' "
                        f"for the user named '{words[0]}': {e.message}"
                    ) from None
            if u is self.default:
                # The user line wins over requirepass; a later change of it applies again.
                self._requirepass = self.config.requirepass

    def load_file(self, path: str) -> str | None:
        """Redis's ACLLoadFromFile: all or nothing. Returns None on success, else every error
        found in one line (the users are then unchanged). The old non-default users are
        replaced (their clients are the caller's to disconnect); the default user object is
        kept and takes the file's rules (or the built-in ones)."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            return f"Error loading ACLs, opening file '{path}': {e.strerror}"
        errors = ""
        new: dict[bytes, User] = {}
        for i, raw in enumerate(text.split("\n")):
            linenum = i + 1
            line = raw.strip(" \t\r\n")
            if not line:
                continue
            argv = [w for w in line.split(" ") if w]
            if not argv:
                continue
            if argv[0] != "user" or len(argv) < 2:
                errors += (
                    f"{path}:{linenum} should start with user keyword followed by the username. "
                )
                continue
            name = argv[1].encode("utf-8", "surrogateescape")
            if has_spaces(name):
                errors += f"'{path}:{linenum}: username '{argv[1]}' contains invalid characters. "
                continue
            if name in new:
                errors += f"WARNING: Duplicate user '{argv[1]}' found on line {linenum}. "
                continue
            u = User(name, self.allchannels_default)
            new[name] = u
            merged = merge_selector_args([w.encode("utf-8", "surrogateescape") for w in argv[2:]])
            if isinstance(merged, int):
                errors += f"{path}:{linenum}: Unmatched parenthesis in selector definition."
                continue
            syntax_error = False
            for op in merged:
                op = op.strip(b"\t\r\n")
                try:
                    u.apply(op, self.allchannels_default)
                except RuleError as e:
                    if e.not_found:
                        errors += (
                            f"{path}:{linenum}: Error in applying operation "
                            f"'{op.decode('utf-8', 'surrogateescape')}': {e.message}. "
                        )
                    elif not syntax_error:
                        errors += f"{path}:{linenum}: {e.message}. "
                        syntax_error = True
        if errors:
            return (
                errors + "WARNING: ACL errors detected, no change to the previously active ACL "
                "rules was performed"
            )
        new_default = new.pop(b"default", None) or self._default_user()
        self.default.copy_from(new_default)
        new[b"default"] = self.default
        self.users = new
        return None

    def save_file(self, path: str) -> None:
        """ACL SAVE: written to a temporary file, fsynced and renamed over ``path``. Raises
        OSError."""
        tmp = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(self.text())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def check_config_user(words: list[str], earlier: list[list[str]]) -> None:
    """A config ``user`` line checked as Redis's ACLAppendUserForLoading does while reading the
    file: a second line for one user, or a syntax error, is fatal; an unknown command is only
    reported when the users are loaded. ``words`` excludes the ``user`` keyword; ``earlier``
    are the lines before it. Raises RuleError with Redis's "Error in user declaration" text."""
    if any(w[0] == words[0] for w in earlier):
        raise RuleError(f"Error in user declaration '{words[0]}': {E_DUPLICATE}")
    # Redis names the offending word by its index among the rules, but in the whole line
    # ("user", name, rules...): the quirk is kept, so the message is Redis's.
    line = ["user", *words]
    ops = [w.encode("utf-8", "surrogateescape") for w in words[1:]]
    merged = merge_selector_args(ops)
    if isinstance(merged, int):
        raise RuleError(f"Error in user declaration '{line[merged]}': Syntax error")
    fake = User(b"__fakeuser__", False)
    for j, op in enumerate(merged):
        try:
            fake.apply(op, False)
        except RuleError as e:
            if not e.not_found:
                raise RuleError(f"Error in user declaration '{line[j]}': {e.message}") from None


def genpass(bits: int) -> bytes:
    """ACL GENPASS: ``bits`` of randomness from the OS, as hex (Redis rounds up to a digit)."""
    import secrets

    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


def describe_reply_parts(sel: Selector) -> dict[bytes, Any]:
    """The ``commands``/``keys``/``channels`` fields ACL GETUSER shows of a selector."""
    return {
        b"commands": sel.describe_commands(),
        b"keys": sel.describe_keys(),
        b"channels": sel.describe_channels(),
    }


# --- error texts ------------------------------------------------------------------------------


def denied_error(result: int, cmd: Command) -> str:
    """The NOPERM a denied command gets (Redis's processCommand)."""
    if result == DENIED_CMD:
        return f"NOPERM this user has no permissions to run the '{cmd.name}' command"
    if result == DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as arguments"
    return "NOPERM this user has no permissions to access one of the channels used as arguments"


def script_error(result: int) -> str:
    """What ``redis.call`` of a denied command raises (Redis's getAclErrorMessage)."""
    if result == DENIED_CMD:
        why = "can't run this command or subcommand"
    elif result == DENIED_KEY:
        why = "can't access at least one of the keys mentioned in the command arguments"
    else:
        why = "can't publish to the channel mentioned in the command"
    return "ERR The user executing the script " + why


def exec_error(result: int) -> str:
    """A queued command the rules no longer allow when EXEC runs it."""
    if result == DENIED_CMD:
        why = "no permission to execute the command or subcommand"
    elif result == DENIED_KEY:
        why = "no permission to touch the specified keys"
    else:
        why = "no permission to access one of the channels used as arguments"
    return (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
        "EXEC call. This command is no longer allowed for the following reason: " + why
    )


def dryrun_error(result: int, cmd: Command, args: list[bytes], pos: int) -> bytes:
    """ACL DRYRUN's answer for a denied call (a bulk string, not an error, as in Redis)."""
    if result == DENIED_CMD:
        return f"This user has no permissions to run the '{cmd.name}' command".encode()
    what = "key" if result == DENIED_KEY else "channel"
    return b"This user has no permissions to access the '%s' %s" % (args[pos], what.encode())


def load_users_at_startup(acl: Acl, config: Config) -> None:
    """Redis's ACLLoadUsersAtStartup: the config's ``user`` lines, or the aclfile, not both.
    Any error is logged and stops the start."""
    from minikv.log import log

    if config.aclfile and config.users:
        log.warning(
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL "
            "file path is invalid. This setup is very likely to lead to configuration errors "
            "and security holes, please define either an ACL file or declare users directly in "
            "your redis.conf, but not both."
        )
        raise SystemExit(1)
    try:
        for i, words in enumerate(config.users):
            check_config_user(words, config.users[:i])
        acl.load_config_users(config.users)
    except RuleError as e:
        log.warning("%s", e.message)
        log.warning("Critical error while loading ACLs. Exiting.")
        raise SystemExit(1) from None
    for u in acl.users.values():
        if not u.enabled:
            log.info(
                "The user '%s' is disabled (there is no 'on' modifier in the user description). "
                "Make sure this is not a configuration error.",
                u.name.decode(errors="replace"),
            )
    if config.aclfile:
        errors = acl.load_file(config.aclfile)
        if errors is not None:
            log.warning("Aborting Redis startup because of ACL errors: %s", errors)
            raise SystemExit(1)
