"""The command table: one place that knows every command's name, arity, flags and key positions.

It drives dispatch, the arity and unknown-command errors, ``COMMAND``/``COMMAND INFO``/``DOCS``,
write refusal (MISCONF) and ``INFO commandstats``. A command module registers its handlers with
the ``@command`` decorator; a handler is ``handler(client, args) -> reply`` where ``args[0]`` is
the command name and the reply is a value ``minikv.protocol`` knows how to encode. Handlers raise
``ReplyError`` for error replies.

Container commands (CONFIG, CLIENT, OBJECT...) register subcommands with ``parent=``; the table
resolves ``CONFIG GET`` to the ``config|get`` entry as Redis 7 does.

Where a command's keys are is declared once, as Redis 7's key specs (``KeySpec``): where the
search begins (an index, or after a keyword) and how the keys follow (a range, or a count read
from a ``numkeys`` argument), with the access flags of those keys. Everything else is derived
from them as Redis derives it: the legacy ``(first, last, step)`` triple and the
``movablekeys`` flag of ``COMMAND INFO`` (``legacy_range``), and the keys of a concrete call
(``Command.get_keys``, what ``COMMAND GETKEYS`` answers). Nothing else reads key positions:
the dispatcher does not need them, and handlers (WATCH included) take their keys from
``args``. Most commands have one range spec and declare it as ``keys=(first, last, step)``.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minikv.parsing import parse_int
from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.propagation import Rule

Handler = Callable[["Context", list[bytes]], Any]

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
MOVABLEKEYS = "movablekeys"
MAY_REPLICATE = "may_replicate"

#: Key-spec flags, in the order COMMAND INFO lists them.
KEY_FLAG_ORDER = (
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
)

#: A command's own key finder (Redis's getkeys_proc): ``args`` -> [(position, key flags)].
GetKeys = Callable[[list[bytes]], list[tuple[int, tuple[str, ...]]]]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One of Redis 7's key specs: where the search for keys begins, and how the keys follow.

    begin_search is ``index`` (an argument position) or, when ``keyword`` is set, the argument
    after the first ``keyword`` found searching from ``startfrom`` (negative: from the end,
    backwards). find_keys is a range, ``lastkey`` relative to the first key (negative: from the
    end of the arguments), every ``keystep``-th argument, or, when ``keynum`` is set, a count
    read at ``keynum`` (relative to the begin_search position) followed by that many keys from
    ``firstkey`` (relative too). ``flags`` are Redis's key-spec flags ("RW access delete");
    ``notes`` is the text COMMAND INFO shows with some specs. Examples::

        KeySpec("RO access", 1)                  # GET key
        KeySpec("RW insert", 2)                  # the destination of LMOVE source destination
        KeySpec("RO access", 2, lastkey=-1)      # the sources of SINTERSTORE destination key...
        KeySpec("RO access", 1, keynum=0)        # ZUNION numkeys key [key ...]
        KeySpec("OW update", unknown=True)       # SORT's STORE destination
    """

    flags: str
    index: int = 0
    keyword: str = ""
    startfrom: int = 0
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    keynum: int | None = None
    firstkey: int = 1
    notes: str = ""
    #: Neither the start nor the keys can be described (SORT's BY/GET/STORE keys): the
    #: command's own key finder names them.
    unknown: bool = False
    #: ``flags`` as a tuple in COMMAND INFO's order.
    flag_names: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        given = self.flags.split()
        unknown = set(given) - set(KEY_FLAG_ORDER)
        if unknown:
            raise ValueError(f"unknown key-spec flags {sorted(unknown)}")
        if self.unknown:
            if self.index or self.keyword or self.keynum is not None:
                raise ValueError("an unknown key spec has no index, keyword or keynum")
        elif bool(self.index) == bool(self.keyword):
            raise ValueError("a key spec begins at an index or after a keyword, not both")
        object.__setattr__(self, "flag_names", tuple(f for f in KEY_FLAG_ORDER if f in given))

    @property
    def is_range_at_index(self) -> bool:
        """The plain kind the legacy (first, last, step) triple can describe."""
        return not self.keyword and self.keynum is None and not self.unknown


@dataclass(eq=False, slots=True)
class Command:
    name: str  # lower case, e.g. "get" or "config|get"
    arity: int
    flags: frozenset[str]
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
    #: Where the keys are (Redis 7's key specs), in Redis's order.
    key_specs: tuple[KeySpec, ...] = ()
    #: Redis's getkeys_proc: the keys of a call when the key specs cannot tell them (a
    #: ``variable_flags`` spec) or fail on the arguments (a bad ``numkeys``).
    getkeys: GetKeys | None = None
    #: The legacy (first, last, step) of COMMAND INFO, derived from the key specs.
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    #: COMMAND DOCS history: (since, change) pairs.
    history: tuple[tuple[str, str], ...] = ()
    #: How a call that changed the data is propagated (minikv.propagation): None is "as sent".
    propagate: Rule | None = None
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    parent: Command | None = None
    # INFO commandstats
    calls: int = 0
    usec_ns: int = 0
    #: latency-tracking: call durations as HdrHistogram counts (minikv.latency), None until
    #: the first tracked call.
    hist: list[int] | None = None
    rejected_calls: int = 0
    failed_calls: int = 0
    # Derived once: the dispatcher reads these on every request.
    is_write: bool = False
    #: The argument counts ``arity`` allows (command name included): the one arity rule.
    min_args: int = 0
    max_args: int = 0
    #: Refused while writes are (MISCONF): every write, and PING, as Redis 7 refuses it then.
    denied_on_misconf: bool = False
    is_container: bool = False
    #: May run on the dispatcher's inline fast path: not a container (no subcommand to
    #: resolve), and unable to change what the fast path checks once per batch (MULTI state,
    #: authentication, who consumes the propagation stream): see ``_DISPATCH_STATE``.
    plain: bool = True
    #: May run while a RESP2 client is subscribed (Redis's pub/sub context).
    allowed_subscribed: bool = False
    #: Exactly one key, at args[1], whatever the arguments (SET, INCR, LPUSH...): derived
    #: from the key specs (a key finder only adds flags then), so maxmemory's sizing need
    #: not walk them (minikv.eviction).
    single_key: bool = False

    @property
    def usec(self) -> int:
        """Microseconds spent in the command (INFO commandstats)."""
        return self.usec_ns // 1000

    @property
    def fullname(self) -> str:
        return self.name

    def get_keys(self, args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
        """The positions in ``args`` (``args[0]`` is the command name) of the keys a call
        names, each with its key spec's flags, as Redis's getKeysFromCommandWithSpecs finds
        them. Empty when the arguments name no key (or are invalid for the specs)."""
        specs = self.key_specs
        if specs and not any("variable_flags" in s.flag_names for s in specs):
            found = _keys_from_specs(specs, args)
            if found is not None:
                return found
        if self.getkeys is not None:
            return self.getkeys(args)
        return []

    @property
    def has_keys(self) -> bool:
        """Whether the command may take keys at all (Redis's doesCommandHaveKeys)."""
        return self.getkeys is not None or any(
            "not_key" not in s.flag_names for s in self.key_specs
        )

    def check_arity(self, nargs: int) -> bool:
        return self.min_args <= nargs <= self.max_args


_ARGS_UNBOUNDED = 2**62  # a negative arity: at least -arity arguments, no upper bound

_SUBSCRIBING = frozenset(
    {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"}
)
#: Commands that change the client state the dispatcher's fast path reads once per batch
#: (``Client._run``): MULTI state, authentication, being subscribed (EXEC may subscribe).
#: Admin commands (DEBUG PROPAGATION, and later the append-only file's and replication's
#: switches) may add or remove propagation consumers, so they are never plain either.
_DISPATCH_STATE = frozenset({"multi", "exec", "discard", "auth", "hello", "reset"} | _SUBSCRIBING)
#: What a RESP2 client may send while subscribed.
_SUBSCRIBED_CONTEXT = _SUBSCRIBING | {"ping", "quit", "reset"}

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
    key_specs: Sequence[KeySpec] = (),
    getkeys: GetKeys | None = None,
    history: tuple[tuple[str, str], ...] = (),
    propagate: Rule | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as command ``name`` (or subcommand ``name`` of ``parent``).

    Keys: ``keys=(first, last, step)`` is the one range spec most commands have (``last``
    negative counts from the end), with ``key_flags`` its flags when the default for a read or
    write command is wrong ("OW update"); any other layout is given as ``key_specs``, Redis's
    key specs in Redis's order. ``getkeys`` is the command's own key finder, for a spec with
    ``variable_flags``; the one of a ``keynum`` spec is derived. ``movablekeys`` is derived
    from the specs, never given.

    Documentation, all optional: ``args`` is the usage in Redis's docs syntax (COMMAND DOCS and
    redis-cli's hints are generated from it), ``acl`` extra ACL categories beyond those implied
    by the flags and group ("@keyspace @dangerous"), ``tips`` COMMAND INFO tips.

    ``propagate``: the rule (from ``minikv.propagation``) that turns a call that changed the
    data into what an append-only file or replica must apply; without one it goes as sent.
    """
    specs = tuple(key_specs)
    if keys[0]:
        if specs:
            raise ValueError(f"{name}: give keys=(first, last, step) or key_specs, not both")
        first, last, step = keys
        specs = (
            KeySpec(
                key_flags or " ".join(default_key_flags(frozenset(flags.split()))),
                first,
                lastkey=last - first if last >= 0 else last,
                keystep=step,
            ),
        )
    elif key_flags:
        raise ValueError(f"{name}: key_flags without keys")
    if MOVABLEKEYS in flags.split():
        raise ValueError(f"{name}: movablekeys is derived from the key specs")
    first_key, last_key, step, movable = legacy_range(specs)

    def register(handler: Handler) -> Handler:
        flagset = frozenset(flags.split()) | ({MOVABLEKEYS} if movable else set())
        full = f"{parent}|{name}" if parent else name
        cmd = Command(
            name=full,
            arity=arity,
            flags=flagset,
            handler=_noting_block_time(handler) if "blocking" in flagset else handler,
            group=group,
            summary=summary,
            since=since,
            complexity=complexity,
            acl_categories=acl_categories(flagset, group, acl.split()),
            usage=args,
            tips=tuple(tips.split()),
            key_specs=specs,
            getkeys=getkeys or numkeys_getkeys(specs),
            first_key=first_key,
            last_key=last_key,
            step=step,
            history=history,
            propagate=propagate,
        )
        cmd.is_write = WRITE in flagset
        cmd.min_args = abs(arity)
        cmd.max_args = arity if arity > 0 else _ARGS_UNBOUNDED
        cmd.denied_on_misconf = cmd.is_write or full == "ping"
        cmd.plain = is_plain(cmd, memory_tracking=False)
        cmd.allowed_subscribed = full in _SUBSCRIBED_CONTEXT
        cmd.single_key = (
            len(specs) == 1
            and specs[0].is_range_at_index
            and specs[0].index == 1
            and specs[0].lastkey == 0
            and "not_key" not in specs[0].flag_names
        )
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


def _noting_block_time(handler: Handler) -> Handler:
    """A blocking command's handler that, when the call blocks, notes how long the call took
    (``BlockState.call_ns``): Redis counts that time again once the client is served
    (minikv.blocking.served_stats), whichever dispatcher path ran the call."""

    @functools.wraps(handler)
    def noting(c: Any, args: list[bytes]) -> Any:
        t0 = time.perf_counter_ns()
        reply = handler(c, args)
        st = c.blocked
        if st is not None:
            st.call_ns = time.perf_counter_ns() - t0
        return reply

    return noting


def is_plain(cmd: Command, memory_tracking: bool) -> bool:
    """The one rule for ``Command.plain``. While maxmemory is set (``memory_tracking``), writes
    (and scripts, which may write) are not plain either: they go where eviction runs before
    them and their keys are sized (``Client.execute`` and ``call``), so the fast path costs
    nothing when maxmemory is 0."""
    return (
        "admin" not in cmd.flags
        and cmd.name not in _DISPATCH_STATE
        and not cmd.is_container
        and not (memory_tracking and (cmd.is_write or MAY_REPLICATE in cmd.flags))
    )


def set_memory_tracking(on: bool) -> None:
    """maxmemory was set or cleared: re-derive which commands are plain."""
    for cmd in ALL.values():
        cmd.plain = is_plain(cmd, on)


def container(name: str, arity: int = -2, flags: str = "", **kw: Any) -> None:
    """Register a container command (CONFIG, CLIENT...) whose work is done by subcommands."""

    def no_handler(client: Context, args: list[bytes]) -> Any:
        raise ReplyError(
            f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try {name.upper()} HELP."
        )

    command(name, arity, flags, **kw)(no_handler)
    # Redis declares no ACL category for a container (not even its group's): it has only
    # those its flags imply.
    cmd = ALL[name]
    cmd.acl_categories = acl_categories(cmd.flags, "", kw.get("acl", "").split())


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


def call(c: Context, cmd: Command, args: list[bytes]) -> Any:
    """Run a command's handler with stats (Redis's ``call()``), and record what it propagates
    when it changed the data and somebody consumes the stream. The dispatcher's slow path,
    EXEC and ``redis.call`` in scripts all come here (the fast path inlines the stats part)."""
    server = c.server
    ks = server.keyspace
    propagation = ks.propagation
    watch = cmd.is_write and bool(propagation.consumers)
    if watch:
        dirty = ks.dirty
        db = c.db  # the database it ran on (SELECT is not a write; MOVE names its own)
        propagation.forced = False
    observer = server.watch
    monitors = observer.monitors
    if monitors and "skip_monitor" in cmd.flags:
        # Scripts and functions are shown before the commands they run (Redis's EVAL).
        observer.feed_monitors(c, cmd.name, args)
    # maxmemory's count: a write's keys are sized before and after it (minikv.eviction).
    memory = ks.memory
    sized = memory.measure(c, cmd, args) if cmd.is_write and memory.tracking else None
    # CLIENT NO-TOUCH (Redis 7.2): lookups leave the LRU/LFU records alone, but for TOUCH.
    untouched = c.no_touch and cmd.name != "touch" and ks.access
    if untouched:
        saved_access, ks.access = ks.access, 0
    t0 = time.perf_counter_ns()
    try:
        reply = cmd.handler(c, args)
    except ReplyError as e:
        cmd.failed_calls += 1
        if not e.counted:
            server.stats.count_error(e)
        reply = e
    except Exception as e:
        reply = internal_error(c, cmd, e)
    cmd.calls += 1
    if untouched:
        ks.access = saved_access
    ns = time.perf_counter_ns() - t0
    cmd.usec_ns += ns
    if c.blocked is not None:
        # It blocked: the histogram and the slow log get it once served, this call's time
        # included (minikv.blocking.served_stats, Redis's updateStatsOnUnblock).
        observer.latency_event(cmd, ns)
    elif observer.timed:
        if observer.tracking:
            observer.record_duration(cmd, ns)
        if ns >= observer.alert_ns:
            observer.slow_call(c, cmd, args, ns)
    if monitors and not cmd.flags & _NOT_MONITORED:
        observer.feed_monitors(c, cmd.name, args)
    if sized:
        memory.account(sized)
    # A tracking client read keys: remember them (Redis's trackingRememberKeys), errors
    # included, as Redis. A script's client tracks for its caller: each read the script runs
    # remembers the keys the script was given (minikv.scripting.ScriptClient); the read-only
    # script commands themselves remember nothing.
    if (
        c.tracking is not None
        and READONLY in cmd.flags
        and "pubsub" not in cmd.flags
        and cmd.name not in _SCRIPT_READS
    ):
        server.tracking.remember(c, cmd, args)
    if watch and (ks.dirty != dirty or propagation.forced):
        record_change(propagation, cmd, args, reply, db)
    return reply


def record_change(propagation: Any, cmd: Command, args: list[bytes], reply: Any, db: Any) -> None:
    """A write call changed the data (or forced propagation): record what it propagates. The
    one rule, for ``call`` and the dispatcher's fast path alike."""
    propagation.forced = False
    # A failed call that changed data anyway is sent as it came: its rule expects the reply
    # of a success.
    rule = None if isinstance(reply, ReplyError) else cmd.propagate
    propagation.command(rule, args, reply, db)


_SCRIPT_READS = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})

#: Not shown to MONITOR after they run: admin commands (too dangerous to show, as Redis) and
#: those shown before they run.
_NOT_MONITORED = frozenset({ADMIN, "skip_monitor"})


def internal_error(c: Context, cmd: Command, e: Exception) -> ReplyError:
    """A handler raised something other than a reply error: a bug in minikv. Redis would
    abort the process (losing every write since the last save); minikv logs the traceback,
    answers this command with an error and keeps serving everyone."""
    c.server.log.warning(
        "Internal error in '%s' (client id=%d addr=%s):\n%s",
        cmd.name,
        c.id,
        c.addr,
        "".join(traceback.format_exception(e)).rstrip(),
    )
    cmd.failed_calls += 1
    err = ReplyError(f"ERR internal error in '{cmd.name}': {type(e).__name__}: {e}")
    c.server.stats.count_error(err)
    return err


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


def subcommand_syntax_error(args: list[bytes]) -> ReplyError:
    """A known subcommand with arguments it does not take (addReplySubcommandSyntaxError)."""
    sub = args[1].decode(errors="replace")[:128]
    name = args[0].decode(errors="replace").upper()
    return ReplyError(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {name} HELP."
    )


def arity_error(cmd: Command) -> ReplyError:
    return ReplyError(f"ERR wrong number of arguments for '{cmd.fullname}' command")


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
    given explicitly; ``-@name`` in ``extra`` drops one the group implies (SORT is generic
    without being @keyspace)."""
    cats = {e.lstrip("@").lower() for e in extra if not e.startswith("-")}
    dropped = {e.lstrip("-@").lower() for e in extra if e.startswith("-")}
    if group in _GROUP_ACL and _GROUP_ACL[group] not in dropped:
        cats.add(_GROUP_ACL[group])
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
    return tuple("@" + c for c in ACL_ORDER if c in cats)


def default_key_flags(flags: frozenset[str]) -> tuple[str, ...]:
    if WRITE in flags:
        return ("RW", "access", "update")
    return ("RO", "access")


# --- key specs -> the legacy triple, and the keys of a call ---------------------------------------

_INT_MAX = 2**31 - 1


def _c_int(v: int) -> int:
    """``v`` cast to a 32-bit C int, as Redis casts a count before using it."""
    return (v + 2**31) % 2**32 - 2**31


def c_atoi(b: bytes) -> int:
    """C's atoi (strtol cast to int): leading spaces, a sign, the longest run of digits."""
    s = b.lstrip(b" \t\n\v\f\r")
    sign = 1
    if s[:1] in (b"-", b"+"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    n = max(-(2**63), min(2**63 - 1, sign * n))  # strtol saturates at LONG_MIN/LONG_MAX
    return _c_int(n)


def legacy_range(specs: Sequence[KeySpec]) -> tuple[int, int, int, bool]:
    """COMMAND INFO's (first, last, step) and whether the command has ``movablekeys``, as
    Redis's populateCommandLegacyRangeSpec derives them: the union of the leading consecutive
    index/range specs of step 1; any spec it cannot describe makes the keys movable."""
    if len(specs) == 1 and specs[0].is_range_at_index:
        s = specs[0]
        last = s.index + s.lastkey if s.lastkey >= 0 else s.lastkey
        return s.index, last, s.keystep, "incomplete" in s.flag_names
    movable = False
    first, last, prev_last = _INT_MAX, 0, 0
    for s in specs:
        if not s.is_range_at_index or s.keystep != 1 or (prev_last and prev_last != s.index - 1):
            movable = True
            continue
        if "incomplete" in s.flag_names:
            movable = True
        first = min(first, s.index)
        spec_last = s.index + s.lastkey if s.lastkey >= 0 else s.lastkey
        # Compared as C unsigned ints: a last key counted from the end beats any index.
        last = max(last, spec_last, key=lambda v: v % 2**32)
        prev_last = last
    if first == _INT_MAX:
        return 0, 0, 0, bool(specs)
    return first, last, 1, movable


def _keys_from_specs(
    specs: Sequence[KeySpec], args: list[bytes]
) -> list[tuple[int, tuple[str, ...]]] | None:
    """Redis's getKeysUsingKeySpecs: the keys every spec finds in ``args``, or None when a
    spec does not fit them (then the command's own key finder gets its chance)."""
    argc = len(args)
    out: list[tuple[int, tuple[str, ...]]] = []
    for spec in specs:
        if "not_key" in spec.flag_names:
            continue
        if spec.unknown:
            return None
        if spec.keyword:
            word = spec.keyword.lower().encode()
            start = spec.startfrom if spec.startfrom > 0 else argc + spec.startfrom
            end = argc - 1 if spec.startfrom > 0 else 1
            first = 0
            i = start
            while i != end and 1 <= i < argc:
                if args[i].lower() == word:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue  # keyword absent: this spec names no key
        else:
            first = spec.index
        if spec.keynum is None:
            if spec.lastkey >= 0:
                last = first + spec.lastkey
            elif not spec.limit:
                last = argc + spec.lastkey
            else:
                last = first + int((argc - first) / spec.limit) + spec.lastkey
        else:
            at = first + spec.keynum
            if spec.keynum >= argc or at >= argc:
                return None
            try:
                numkeys = parse_int(args[at])
            except ReplyError:
                return None
            if numkeys < 0:
                return None
            first += spec.firstkey
            last = first + _c_int(numkeys) - 1
        if last >= argc or last < first or first >= argc:
            return None
        out.extend((i, spec.flag_names) for i in range(first, last + 1, spec.keystep))
        if "incomplete" in spec.flag_names:
            return None
    return out


def numkeys_getkeys(specs: Sequence[KeySpec]) -> GetKeys | None:
    """The key finder Redis gives every command with a ``numkeys`` spec (genericGetKeys),
    used when the specs reject the arguments: the count is read with atoi ("2x" is 2), the
    keys get no flags, and a destination key (a one-key range spec) comes last. None for a
    command without a ``keynum`` spec."""
    keynum = next((s for s in specs if s.keynum is not None and s.index), None)
    if keynum is None:
        return None
    count_at = keynum.index + keynum.keynum
    first = keynum.index + keynum.firstkey
    step = keynum.keystep
    store = [s.index for s in specs if s.is_range_at_index and s.lastkey == 0 and s is not keynum]

    def getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
        num = c_atoi(args[count_at]) if count_at < len(args) else 0
        if num < 1 or num > int((len(args) - first) / step):
            return []
        return [(first + i * step, ()) for i in range(num)] + [(p, ()) for p in store]

    return getkeys


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
    states the type when the name does not imply it, ``name@n`` the key spec its keys are
    found by when the order of the arguments does not say it."""
    if word.isupper() or not any(ch.isalpha() for ch in word):
        return {"name": word.lower(), "type": "pure-token", "token": word}
    word, at, spec = word.partition("@")
    if at:  # "pattern@1": the argument names keys found by key spec 1 (SORT's BY pattern)
        leaf = _leaf(word)
        leaf["key_spec_index"] = int(spec)
        return leaf
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

    ``[...]`` is optional, ``a | b`` one of, ``x [x ...]`` repeats (and ``[<a | b> ...]`` is a
    group that may repeat), ``TOKEN value`` is a value introduced by a token (``TOKEN <a b>`` a
    group introduced by one), several words in one group form a block.
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
                    if "token" in rep:  # "GET x [GET x ...]": the token comes with each
                        rep["flags"].append("multiple_token")
                    items.append(rep)
                    continue
                if t == "[" and len(body) == 2 and body[1]["name"] == "...":
                    # "[<a | b> ...]": one group, optional and repeated.
                    arg = body[0]
                    arg.setdefault("flags", []).extend(("optional", "multiple"))
                    items.append(arg)
                    continue
                arg = _group(inner)
                if t == "[":
                    arg.setdefault("flags", []).insert(0, "optional")
                prev = items[-1] if items else None
                if (
                    t == "<"
                    and prev is not None
                    and prev["type"] == "pure-token"
                    and "flags" not in prev
                    and not prev.get("_joined")
                    and "token" not in arg
                ):
                    # "TOKEN <a b>" / "TOKEN <a | b>": a group introduced by a token.
                    items.pop()
                    arg["token"] = prev["token"]
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
                    prev.update(leaf, token=prev["token"], _joined=True)
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
