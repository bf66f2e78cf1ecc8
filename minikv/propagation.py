"""The propagation stream: each change to the data, in the form that replays to the same state.

An append-only file, replicas and script effects all want the same thing from a write: not
the command the client sent but one that reproduces its effect when applied later, elsewhere.
Redis's rules, written down here once (the command table names a command's rule; the
dispatcher applies it, never the handler):

- a command is propagated only if it changed the data (the dirty counter moved), as sent
  unless its rule rewrites it;
- relative expiry becomes absolute (``EXPIRE`` -> ``PEXPIREAT``, ``SET .. EX`` and
  ``SETEX`` -> ``SET .. PXAT``, ``GETEX EX`` -> ``PEXPIREAT``), and a deadline already past
  becomes ``DEL``;
- what was chosen at random or computed is sent as its result (``SPOP`` -> ``SREM`` of the
  members it popped, ``INCRBYFLOAT`` -> ``SET .. KEEPTTL``, ``HINCRBYFLOAT`` -> ``HSET``);
- blocking pops become the plain pop they did (``BLPOP`` -> ``LPOP``, ``BLMOVE`` -> ``LMOVE``);
- what a stream command did to a consumer group is sent as its effects, recorded by the handler
  (``Propagation.also``): ``XREADGROUP`` and ``XCLAIM`` as ``XCLAIM .. FORCE JUSTID LASTID``,
  ``XGROUP SETID`` and ``XGROUP CREATECONSUMER``; ``XADD``'s generated ID and approximate
  trimming become explicit (``MAXLEN = <length left>``);
- a key that expired (read lazily or by the active cycle) is sent as ``DEL``;
- the operations of one unit of execution (a command with the expiries it caused, a whole
  MULTI/EXEC) are wrapped in ``MULTI``/``EXEC`` when there is more than one, so they apply
  atomically; ``SELECT`` is added by each consumer's ``CommandStream`` when the db changes.

When nobody consumes the stream (``consumers`` empty, the default) nothing is recorded:
propagation costs nothing on the write path. When someone does, the dispatcher's fast path
records plain writes with the same rule as ``minikv.commands.call`` (``record_change``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikv.keyspace import Db

#: One propagated operation: the database it applies to and its arguments.
Op = tuple[int, list[bytes]]
#: The "database" of an operation only replicas get, in no database (PUBLISH, as Redis
#: propagates it to replicas and not to the append-only file).
REPLICAS_ONLY = -1
#: A command's rule: (its arguments, its reply, the db it ran on) -> the commands to propagate.
Rule = Callable[[list[bytes], Any, "Db"], list[list[bytes]]]
Consumer = Callable[[list[Op]], None]

_SPOP_BATCH = 1024  # SREM members per propagated command, as Redis batches SPOP's effect


class Propagation:
    """The stream's one producer side: operations collect in ``pending`` during a unit of
    execution and ``flush`` hands them, wrapped if need be, to every consumer."""

    __slots__ = ("consumers", "forced", "pending")

    def __init__(self) -> None:
        # Both mutated in place, never rebound: the dispatcher holds references to them.
        self.consumers: list[Consumer] = []
        self.pending: list[Op] = []
        # Set by a change that is propagated even though it changed nothing (FLUSHDB of an
        # empty database); read and reset by the dispatcher with the dirty count.
        self.forced = False

    def command(self, rule: Rule | None, args: list[bytes], reply: Any, db: Db) -> None:
        """A command changed the data: record what it propagates."""
        if not self.consumers:
            return
        dbid = db.id
        for argv in [list(args)] if rule is None else rule(args, reply, db):
            self.pending.append((dbid, argv))

    def also(self, db: Db, argv: list[bytes]) -> None:
        """A handler records an effect of its own (Redis's alsoPropagate): the stream commands
        whose consumer-group changes replay as XCLAIM / XGROUP SETID, whatever was sent. Such
        a command's rule is ``effects``, which adds nothing more."""
        if self.consumers:
            self.pending.append((db.id, argv))

    def replicas_only(self, argv: list[bytes]) -> None:
        """PUBLISH / SPUBLISH: replicas deliver the message to their own subscribers
        (Redis's forceCommandPropagation(PROPAGATE_REPL)); the append-only file skips it."""
        if self.consumers:
            self.pending.append((REPLICAS_ONLY, list(argv)))

    def expired(self, dbid: int, key: bytes) -> None:
        if self.consumers:
            self.pending.append((dbid, [b"DEL", key]))

    def flush(self) -> None:
        """End of a unit of execution: hand its operations to the consumers."""
        pending = self.pending
        if not pending:
            return
        ops = list(pending)
        pending.clear()
        if len(ops) > 1:
            dbid = next((d for d, _ in ops if d != REPLICAS_ONLY), REPLICAS_ONLY)
            ops = [(dbid, [b"MULTI"]), *ops, (dbid, [b"EXEC"])]
        for consumer in list(self.consumers):
            consumer(ops)


class CommandStream:
    """Operations as the commands a replayer runs: ``SELECT`` before the first operation and
    whenever the database changes, as Redis writes its AOF and replication stream. Each
    consumer keeps its own (each has its own idea of the current database)."""

    __slots__ = ("db",)

    def __init__(self) -> None:
        self.db = -1

    def commands(self, ops: list[Op]) -> list[list[bytes]]:
        out: list[list[bytes]] = []
        for dbid, argv in ops:
            if dbid != self.db and dbid != REPLICAS_ONLY:
                out.append([b"SELECT", b"%d" % dbid])
                self.db = dbid
            out.append(argv)
        return out


class Capture:
    """A consumer that keeps the stream as commands, for DEBUG PROPAGATION (tests replay it
    into another server to check the rules). Holds at most ``limit`` commands; past that it
    counts what it dropped, and reading it reports the loss instead of a partial stream."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.stream = CommandStream()
        self.commands: list[list[bytes]] = []
        self.dropped = 0

    def __call__(self, ops: list[Op]) -> None:
        cmds = self.stream.commands(ops)
        room = self.LIMIT - len(self.commands)
        self.commands.extend(cmds[:room])
        self.dropped += max(0, len(cmds) - room)

    def take(self) -> tuple[list[list[bytes]], int]:
        """The captured commands and how many were dropped; both reset."""
        out, dropped = self.commands, self.dropped
        self.commands, self.dropped = [], 0
        return out, dropped


# --- the rules (named by the command table) ------------------------------------------------


def _deadline(db: Db, key: bytes) -> bytes | None:
    when = db.get_expire(key) if db.get(key) is not None else None
    return None if when is None else b"%d" % when


def set_pxat(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """SET with EX/PX/EXAT: ``SET key value PXAT <ms>`` (other options dropped: they were
    decided); SET without one, or with PXAT, as sent."""
    opts = {a.lower() for a in args[3:]}
    if opts & {b"ex", b"px", b"exat"}:
        when = _deadline(db, args[1])
        if when is not None:
            return [[b"SET", args[1], args[2], b"PXAT", when]]
    return [list(args)]


def setex_pxat(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """SETEX/PSETEX key ttl value: ``SET key value PXAT <ms>``."""
    when = _deadline(db, args[1])
    if when is None:
        return [[b"DEL", args[1]]]
    return [[b"SET", args[1], args[3], b"PXAT", when]]


def pexpireat(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """EXPIRE/PEXPIRE/EXPIREAT: ``PEXPIREAT key <ms>`` with the options kept; ``DEL`` if the
    deadline had passed (the key is gone)."""
    when = _deadline(db, args[1])
    if when is None:
        return [[b"DEL", args[1]]]
    return [[b"PEXPIREAT", args[1], when, *args[3:]]]


def pexpireat_as_sent(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """PEXPIREAT: as sent, or ``DEL`` if its time had passed."""
    if db.get(args[1]) is None:
        return [[b"DEL", args[1]]]
    return [list(args)]


def getex(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """GETEX: ``PERSIST``, ``PEXPIREAT`` (as sent with PXAT), or ``DEL`` if it expired."""
    key = args[1]
    when = _deadline(db, key)
    if db.get(key) is None:
        return [[b"DEL", key]]
    opts = [a.lower() for a in args[2:]]
    if b"persist" in opts:
        return [[b"PERSIST", key]]
    if b"pxat" in opts or when is None:
        return [list(args)]
    return [[b"PEXPIREAT", key, when]]


def as_del(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """GETDEL: ``DEL key``."""
    return [[b"DEL", args[1]]]


def incrbyfloat(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """INCRBYFLOAT: the value it computed, ``SET key value KEEPTTL`` (float digits may differ
    where it is replayed)."""
    return [[b"SET", args[1], reply, b"KEEPTTL"]]


def hincrbyfloat(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    return [[b"HSET", args[1], args[2], reply]]


def spop(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """SPOP: ``SREM`` of the members it chose (in batches of 1024); ``DEL`` when it took the
    whole set with a count."""
    key = args[1]
    if len(args) == 2:
        return [[b"SREM", key, reply]]
    if db.get(key) is None:
        return [[b"DEL", key]]
    members = _bulk_items(reply)
    return [
        [b"SREM", key, *members[i : i + _SPOP_BATCH]] for i in range(0, len(members), _SPOP_BATCH)
    ]


def _bulk_items(reply: Any) -> list[bytes]:
    """The members of a set reply: SPOP sends its reply encoded already (RESP2 array or RESP3
    set of bulk strings, as ``set_reply`` writes it), so read them back from it."""
    if not isinstance(reply, bytes):
        return list(reply)
    data = bytes(reply)
    pos = data.index(b"\r\n") + 2  # past "*N" / "~N"
    out: list[bytes] = []
    while pos < len(data):
        eol = data.index(b"\r\n", pos)
        n = int(data[pos + 1 : eol])  # "$len"
        out.append(data[eol + 2 : eol + 2 + n])
        pos = eol + 4 + n
    return out


def blocking_pop(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """BLPOP/BRPOP/BZPOPMIN/BZPOPMAX: the plain pop of the key it served, ``LPOP key``..."""
    name = args[0].lower()
    if name in (b"blpop", b"brpop"):
        return [[b"LPOP" if name == b"blpop" else b"RPOP", reply[0]]]
    return [[b"ZPOPMIN" if name == b"bzpopmin" else b"ZPOPMAX", reply[0]]]


def _mpop_direction(args: list[bytes], numkeys_at: int) -> bytes:
    return args[numkeys_at + 1 + int(args[numkeys_at])].lower()


def list_mpop(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """LMPOP/BLMPOP: ``LPOP key count`` (or RPOP) with the count it popped."""
    numkeys_at = 1 if args[0].lower() == b"lmpop" else 2
    pop = b"LPOP" if _mpop_direction(args, numkeys_at) == b"left" else b"RPOP"
    return [[pop, reply[0], b"%d" % len(reply[1])]]


def zset_mpop(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """ZMPOP/BZMPOP: ``ZPOPMIN key count`` (or ZPOPMAX) with the count it popped."""
    numkeys_at = 1 if args[0].lower() == b"zmpop" else 2
    pop = b"ZPOPMIN" if _mpop_direction(args, numkeys_at) == b"min" else b"ZPOPMAX"
    return [[pop, reply[0], b"%d" % len(reply[1])]]


def blmove(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    return [[b"LMOVE", *args[1:5]]]


def brpoplpush(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    return [[b"RPOPLPUSH", args[1], args[2]]]


def effects(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """The command propagates only what its handler recorded with ``Propagation.also``."""
    return []
