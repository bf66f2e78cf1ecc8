"""DUMP and RESTORE, with payloads in Redis 7.0's own format (``minikv.persistence.dump`` for
the framing and strings, ``minikv.persistence.rdbvalue`` for the values), so that a key moves
from redis-server to minikv and back.

RESTORE follows Redis's restoreCommand step by step, so its errors come in Redis's order: the
options (a syntax error, IDLETIME or FREQ out of range, IDLETIME and FREQ together), then
BUSYKEY without REPLACE, then the TTL, then the payload's version and checksum, then its value
("ERR Bad data format" for anything refused). A TTL is relative unless ABSTTL; a deadline
already past with ABSTTL answers OK and creates nothing (with REPLACE, the key that was there
is deleted: a "del" event, propagated as DEL). A restored key is a new key ("new" event, then
"restore") and propagates as sent, with a relative TTL turned into its absolute deadline and
ABSTTL added, as Redis rewrites it.

IDLETIME and FREQ: as Redis, the restored key's LRU idle time is set under an LRU policy or
noeviction, its LFU counter under an LFU policy, and the other option is ignored
(``minikv.eviction`` keeps the records OBJECT IDLETIME and OBJECT FREQ read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import migrate, propagation
from minikv.commands import KeySpec, command
from minikv.commands.util import SYNTAX
from minikv.keyspace import now_ms
from minikv.parsing import parse_int
from minikv.persistence import dump, rdbvalue
from minikv.protocol import OK, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

K = "generic"

BUSYKEY = ReplyError("BUSYKEY Target key name already exists.")
BAD_PAYLOAD = ReplyError("ERR DUMP payload version or checksum are wrong")
BAD_DATA = ReplyError("ERR Bad data format")
BAD_TTL = ReplyError("ERR Invalid TTL value, must be >= 0")
BAD_IDLETIME = ReplyError("ERR Invalid IDLETIME value, must be >= 0")
BAD_FREQ = ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")


def payload(value: Any) -> bytes:
    """The DUMP payload of a value."""
    return dump.seal(rdbvalue.dump_value(value))


@command(
    "dump",
    2,
    "readonly",
    (1, 1, 1),
    group=K,
    summary="Return a serialized version of the value stored at the specified key.",
    since="2.6.0",
    complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is the "
    "number of Redis objects composing the value and M their average size. For small string "
    "values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
    args="key",
    tips="nondeterministic_output",
    key_flags="RO access",
)
def dump_(c: Context, args: list[bytes]) -> Any:
    v = c.db.read(args[1])
    return None if v is None else payload(v)


def _propagate(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    """RESTORE as sent, a relative TTL made absolute (its deadline, and ABSTTL at the end);
    DEL when REPLACE deleted the key and the deadline had passed."""
    key = args[1]
    if db.get(key) is None:
        return [[b"DEL", key]]
    absttl = any(a.lower() == b"absttl" for a in args[4:])
    when = db.get_expire(key)
    if when is not None and not absttl:
        return [[b"RESTORE", key, b"%d" % when, *args[3:], b"ABSTTL"]]
    return [list(args)]


@command(
    "restore",
    -4,
    "write denyoom",
    (1, 1, 1),
    group=K,
    summary="Create a key using the provided serialized value, previously obtained using DUMP.",
    since="2.6.0",
    complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized "
    "value, where N is the number of Redis objects composing the value and M their average "
    "size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, "
    "so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because "
    "inserting values into sorted sets is O(log(N)).",
    args="key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency:integer]",
    acl="@dangerous",
    key_flags="OW update",
    history=(
        ("3.0.0", "Added the `REPLACE` modifier."),
        ("5.0.0", "Added the `ABSTTL` modifier."),
        ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
    ),
    propagate=_propagate,
)
def restore(c: Context, args: list[bytes]) -> Any:
    replace = absttl = False
    idle = freq = -1
    i, n = 4, len(args)
    while i < n:
        opt = args[i].lower()
        more = n - i - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(args[i + 1])
            if idle < 0:
                raise BAD_IDLETIME
            i += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(args[i + 1])
            if not 0 <= freq <= 255:
                raise BAD_FREQ
            i += 1
        else:
            raise SYNTAX
        i += 1
    db = c.db
    key = args[1]
    if not replace and db.get(key) is not None:
        raise BUSYKEY
    ttl = parse_int(args[2])
    if ttl < 0:
        raise BAD_TTL
    try:
        dump.unseal(args[3])
    except ValueError:
        raise BAD_PAYLOAD from None
    try:
        value = rdbvalue.load_value(args[3])
    except ValueError:
        raise BAD_DATA from None
    now = now_ms()
    if ttl and not absttl:
        ttl = (ttl + now + 2**63) % 2**64 - 2**63  # C's long long sum: past LLONG_MAX, < 0
    expired = bool(ttl) and ttl <= now
    # Redis's dbDelete: the key goes whether or not its own deadline has passed.
    deleted = replace and db.delete(key)
    if expired:
        if deleted:
            db.changed(key, "del")
        return OK
    db.set(key, value, ttl or None)
    db.changed(key, "restore")
    c.server.keyspace.memory.set_access(db, key, idle, freq)  # after the change's own touch
    return OK


# --- MIGRATE -----------------------------------------------------------------------------------

_NO_KEYS_KEY = ReplyError(
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
)
_CONNECT_ERR = ReplyError("IOERR error or timeout connecting to the client")


def _migrate_getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Redis's migrateGetKeys: the key argument, or with KEYS every argument after it (none
    when the key argument is not empty: MIGRATE then answers a syntax error)."""
    first, num = 3, 1
    skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while len(args) > 6 and i < len(args):
        word = args[i].lower()
        if word == b"keys":
            if args[3]:
                num = 0
            else:
                first, num = i + 1, len(args) - i - 1
            break
        i += skip.get(word, 0) + 1
    return [(first + j, ("RW", "access", "delete")) for j in range(num)]


def _bulk_command(*argv: bytes) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in argv)


@command(
    "migrate",
    -6,
    "write",
    group=K,
    summary="Atomically transfer a key from a Redis instance to another one.",
    since="2.6.0",
    complexity="This command actually executes a DUMP+DEL in the source instance, and a RESTORE "
    "in the target instance. See the pages of these commands for time complexity. Also an "
    "O(N) data transfer between the two instances is performed.",
    args='host port <key | ""> destination-db:integer timeout:integer [COPY] [REPLACE]'
    " [AUTH password | AUTH2 username password] [KEYS key [key ...]]",
    acl="@dangerous",
    tips="nondeterministic_output",
    key_specs=(
        KeySpec("RW access delete", 3),
        KeySpec("RW access delete incomplete", keyword="KEYS", startfrom=-2, lastkey=-1),
    ),
    getkeys=_migrate_getkeys,
    history=(
        ("3.0.6", "Added the `KEYS` option."),
        ("3.2.0", "Added the `COPY` and `REPLACE` options."),
        ("4.0.7", "Added the `AUTH` option."),
        ("6.0.0", "Added the `AUTH2` option."),
    ),
    propagate=propagation.effects,
)
def migrate_(c: Context, args: list[bytes]) -> Any:
    """Redis's migrateCommand: RESTORE each key on the target (AUTH and SELECT first as
    needed) in one write, read the replies, delete the keys the target took (unless COPY) and
    propagate that as DEL. A stale cached connection is retried once, on a new one."""
    copy = replace = False
    auth: list[bytes] = []
    first, nkeys = 3, 1
    i, n = 6, len(args)
    while i < n:
        opt, more = args[i].lower(), n - i - 1
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise SYNTAX
            auth = [args[i + 1]]
            i += 1
        elif opt == b"auth2":
            if more < 2:
                raise SYNTAX
            auth = [args[i + 1], args[i + 2]]
            i += 2
        elif opt == b"keys":
            if args[3]:
                raise _NO_KEYS_KEY
            first, nkeys = i + 1, n - i - 1
            break
        else:
            raise SYNTAX
        i += 1
    timeout = parse_int(args[5])
    dbid = parse_int(args[4])
    if timeout <= 0:
        timeout = 1000
    db = c.db
    found = [(k, v) for k in args[first : first + nkeys] if (v := db.read(k)) is not None]
    if not found:
        return "NOKEY"
    host, port = args[1], args[2]
    may_retry = True
    while True:
        target = migrate.get(host, port, timeout)
        if target is None:
            raise _CONNECT_ERR
        parts = [_bulk_command(b"AUTH", *auth)] if auth else []
        select = target.last_dbid != dbid
        if select:
            parts.append(_bulk_command(b"SELECT", b"%d" % dbid))
        now = now_ms()
        moving = []
        for key, value in found:
            when = db.get_expire(key)
            ttl = 0
            if when is not None:
                ttl = when - now
                if ttl < 0:
                    continue  # expired since it was looked up
                ttl = max(ttl, 1)
            moving.append(key)
            restore = [b"RESTORE", key, b"%d" % ttl, payload(value)]
            parts.append(_bulk_command(*restore, *([b"REPLACE"] if replace else [])))
        stage = "writing"
        try:
            target.send(b"".join(parts), timeout)
            stage = "reading"
            auth_reply = target.read_line(timeout) if auth else b"+OK"
            select_reply = target.read_line(timeout) if select else b"+OK"
        except OSError as e:
            migrate.close(host, port)
            if may_retry and not isinstance(e, TimeoutError):
                may_retry = False
                continue
            raise ReplyError(f"IOERR error or timeout {stage} to target instance") from None
        target_error: bytes | None = None
        socket_error: OSError | None = None
        moved: list[bytes] = []
        done = 0
        for key in moving:
            try:
                line = target.read_line(timeout)
            except OSError as e:
                socket_error = e
                break
            done += 1
            refused = next(
                (r for r in (auth_reply, select_reply, line) if r.startswith(b"-")), None
            )
            if refused is not None:
                if target_error is None:
                    target.last_dbid = -1
                    target_error = refused
            elif not copy:
                db.delete(key)
                db.changed(key, "del")
                moved.append(key)
        if moved:
            db.keyspace.propagation.also(db, [b"DEL", *moved])
        if socket_error is not None:
            migrate.close(host, port)
            retry = not isinstance(socket_error, TimeoutError)
            if target_error is None and done == 0 and may_retry and retry:
                may_retry = False
                continue
            if target_error is None:
                raise ReplyError("IOERR error or timeout reading to target instance")
        if target_error is not None:
            text = target_error[1:].decode(errors="replace")
            raise ReplyError(f"ERR Target instance replied with error: {text}")
        target.last_dbid = dbid
        return OK
