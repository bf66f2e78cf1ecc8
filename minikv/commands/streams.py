"""Stream commands: XADD XRANGE XREAD, consumer groups (XGROUP XREADGROUP XACK XPENDING XCLAIM
XAUTOCLAIM), XINFO and the rest, as Redis 7.0's t_stream.c answers them.

The value is ``minikv.stream.Stream`` (entries in Redis's nodes, consumer groups). IDs are
parsed here as Redis parses them (``parse_id``: ``ms-seq``, ``ms`` alone, ``-``/``+``,
``ms-*`` for XADD, ``(`` for exclusive ranges) and kept as 16 bytes.

What propagates (to the append-only file, to replicas): XADD with its generated ID written out
and approximate trimming made exact (the rule ``_xadd_rule``); consumer-group changes as their
effects, recorded by the handlers with ``Propagation.also`` as Redis's alsoPropagate does:
each entry XREADGROUP delivers or XCLAIM / XAUTOCLAIM claims as an idempotent
``XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id``, a NOACK read
as ``XGROUP SETID .. ENTRIESREAD``, a consumer it created as ``XGROUP CREATECONSUMER``.

Blocking reads (XREAD / XREADGROUP BLOCK) park on ``minikv.blocking`` and are woken by any
change of their keys: XADD serves them in arrival order; a destroyed group or deleted stream
answers a blocked XREADGROUP with Redis's error.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import TYPE_CHECKING, Any

from minikv import propagation
from minikv.blocking import block
from minikv.commands import KeySpec, command, container, subcommand_syntax_error
from minikv.commands.util import SYNTAX, get_typed, parse_long_range
from minikv.keyspace import now_ms
from minikv.parsing import LLONG_MAX, as_long, parse_int
from minikv.protocol import NULL_ARRAY, OK, Raw, ReplyError, pair_reply
from minikv.scripting import ScriptClient
from minikv.stream import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    MIN_ID,
    U64,
    Group,
    IdDict,
    Nack,
    Stream,
    decr_id,
    format_id,
    incr_id,
    make_id,
    split_id,
)

if TYPE_CHECKING:
    from minikv.commands.context import Context
    from minikv.keyspace import Db

X = "stream"

INVALID_ID = ReplyError("ERR Invalid stream ID specified as stream command argument")
_BAD_START = ReplyError("ERR invalid start ID for the interval")
_BAD_END = ReplyError("ERR invalid end ID for the interval")
_NO_KEY = ReplyError("ERR no such key")
#: XREAD BLOCK serves at most this many entries a stream when COUNT was not given.
_BLOCKED_DEFAULT_COUNT = 1000


def _mstime() -> int:
    # IDs and delivery times are wall-clock milliseconds even while the AOF replays (when
    # ``now_ms`` is stopped for expiry): Redis's mstime().
    return time.time_ns() // 1_000_000


def get_stream(db: Db, key: bytes, read: bool = False) -> Stream | None:
    return get_typed(db, key, Stream, read)


# --- IDs ---------------------------------------------------------------------------------------


_SPACE = b" \t\n\r\x0b\x0c"


def _string2ull(b: bytes) -> int | None:
    """An unsigned 64-bit integer as Redis's string2ull reads it: string2ll's canonical form if
    it is one (negative refused), else what strtoull accepts (spaces, a sign, leading zeros)."""
    n = as_long(b)
    if n is not None:
        return None if n < 0 else n
    s = b.lstrip(_SPACE)
    neg = s[:1] == b"-"
    if s[:1] in (b"-", b"+"):
        s = s[1:]
    if not s or not s.isdigit():
        return None
    v = int(s)
    if v > U64:
        return None
    return (-v) & U64 if neg else v


def parse_id(
    b: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False
) -> tuple[bytes, bool]:
    """(the ID, whether its sequence was given) as streamGenericParseIDOrReply: ``strict``
    refuses ``-`` and ``+``; ``seq_star`` (XADD) takes ``ms-*``."""
    if len(b) > 127:
        raise INVALID_ID
    b = b.split(b"\0", 1)[0]  # a C string
    if b == b"-" or b == b"+":
        if strict:
            raise INVALID_ID
        return (MIN_ID if b == b"-" else MAX_ID), True
    ms_part, dash, seq_part = b.partition(b"-")
    ms = _string2ull(ms_part)
    if ms is None:
        raise INVALID_ID
    if not dash:
        return make_id(ms, missing_seq), True
    if seq_star and seq_part == b"*":
        return make_id(ms, 0), False
    seq = _string2ull(seq_part)
    if seq is None:
        raise INVALID_ID
    return make_id(ms, seq), True


def _strict_id(b: bytes) -> bytes:
    return parse_id(b, strict=True)[0]


def _interval(b: bytes, missing_seq: int) -> tuple[bytes, bool]:
    """A range bound: (ID, exclusive)."""
    if len(b) > 1 and b[:1] == b"(":
        return parse_id(b[1:], missing_seq, strict=True)[0], True
    return parse_id(b, missing_seq)[0], False


def _start(b: bytes) -> bytes:
    i, excl = _interval(b, 0)
    if excl:
        n = incr_id(i)
        if n is None:
            raise _BAD_START
        i = n
    return i


def _end(b: bytes) -> bytes:
    i, excl = _interval(b, U64)
    if excl:
        n = decr_id(i)
        if n is None:
            raise _BAD_END
        i = n
    return i


def _entry(i: bytes, fields: tuple[bytes, ...]) -> Raw:
    return pair_reply(format_id(i), fields)


# --- XADD and XTRIM ----------------------------------------------------------------------------


class _Trim:
    """XADD's and XTRIM's parsed options (streamAddTrimArgs)."""

    __slots__ = ("approx", "id", "id_at", "limit", "maxlen", "minid", "nomkstream", "seq_given")
    __slots__ += ("arg_at", "limit_at")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: bytes | None = None
        self.approx = False
        self.limit = 0
        self.limit_at = 0
        self.arg_at = 0  # where the threshold is (for the rewrite)
        self.nomkstream = False
        self.id: bytes | None = None
        self.seq_given = True
        self.id_at = 0

    @property
    def strategy(self) -> bool:
        return self.maxlen is not None or self.minid is not None


_BOTH = ReplyError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")


def _parse_trim(args: list[bytes], xadd: bool, node_max_entries: int) -> _Trim:
    t = _Trim()
    i = 2
    limit_given = False
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low in (b"maxlen", b"minid") and more:
            if t.strategy:
                raise _BOTH
            t.approx = False
            nxt = args[i + 1]
            if more >= 2 and nxt == b"~":
                t.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if low == b"maxlen":
                t.maxlen = parse_int(args[i + 1])
                if t.maxlen < 0:
                    raise ReplyError("ERR The MAXLEN argument must be >= 0.")
            else:
                t.minid = _strict_id(args[i + 1])
            i += 1
            t.arg_at = i
        elif low == b"limit" and more:
            t.limit = parse_int(args[i + 1])
            if t.limit < 0:
                raise ReplyError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            t.limit_at = i
            i += 1
        elif xadd and low == b"nomkstream":
            t.nomkstream = True
        elif xadd:
            t.id, t.seq_given = parse_id(opt, strict=True, seq_star=True)
            break
        else:
            raise SYNTAX
        i += 1
    t.id_at = i
    if t.limit and not t.strategy:
        raise ReplyError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not t.strategy:
        raise ReplyError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not t.approx:
            raise ReplyError("ERR syntax error, LIMIT cannot be used without the special ~ option")
    elif t.approx:
        t.limit = min(max(100 * node_max_entries, 0) or 10000, 1000000)
    else:
        t.limit = 0
    return t


def _exact_trim_args(args: list[bytes], t: _Trim, s: Stream | None) -> list[bytes]:
    """Approximate trimming as the exact one it amounted to (streamRewriteTrimArgument), with
    LIMIT dropped: what replays to the same stream anywhere."""
    out = list(args)
    out[t.arg_at - 1] = b"="
    if t.maxlen is not None:
        out[t.arg_at] = b"%d" % (s.length if s is not None else 0)
    else:
        first = s.first_id() if s is not None and s.length else MAX_ID
        out[t.arg_at] = format_id(first)
    if t.limit_at:
        del out[t.limit_at : t.limit_at + 2]
    return out


def _xadd_rule(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    t = _parse_trim_plain(args, True)
    out = list(args)
    if t.id is None or not t.seq_given:
        out[t.id_at] = reply
    if t.approx:
        out = _exact_trim_args(out, t, db.get(args[1]))
    return [out]


def _xtrim_rule(args: list[bytes], reply: Any, db: Db) -> list[list[bytes]]:
    t = _parse_trim_plain(args, False)
    return [_exact_trim_args(args, t, db.get(args[1])) if t.approx else list(args)]


def _parse_trim_plain(args: list[bytes], xadd: bool) -> _Trim:
    # The rules re-read the arguments of a call that succeeded: only positions matter.
    return _parse_trim(args, xadd, 100)


def _trim(s: Stream, t: _Trim) -> int:
    return s.trim(t.maxlen, t.minid, t.approx, t.limit)


@command(
    "xadd",
    -5,
    "write denyoom fast",
    group=X,
    summary="Appends a new entry to a stream",
    since="5.0.0",
    complexity="O(1) when adding a new entry, O(N) when trimming where N being the number of "
    "entries evicted.",
    args="key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> "
    "field value [field value ...]",
    tips="nondeterministic_output",
    key_specs=(
        KeySpec(
            "RW update",
            1,
            notes="UPDATE instead of INSERT because of the optional trimming feature",
        ),
    ),
    history=(
        (
            "6.2.0",
            "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option.",
        ),
        ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
    ),
    propagate=_xadd_rule,
)
def xadd(c: Context, args: list[bytes]) -> Any:
    t = _parse_trim(args, True, c.server.config.stream_node_max_entries)
    fields = args[t.id_at + 1 :]
    if len(fields) < 2 or len(fields) % 2:
        raise ReplyError("ERR wrong number of arguments for 'xadd' command")
    if t.id is not None and t.seq_given and t.id == MIN_ID:
        raise ReplyError("ERR The ID specified in XADD must be greater than 0-0")
    key = args[1]
    db = c.db
    s = get_stream(db, key)
    if s is None:
        if t.nomkstream:
            return None
        s = Stream()
        db.set(key, s)
    last = s.last_id
    if last == MAX_ID:
        raise ReplyError(
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        )
    if t.id is None:
        now = _mstime()
        new = make_id(now, 0) if now > split_id(last)[0] else incr_id(last)
    elif not t.seq_given:
        ms = split_id(t.id)[0]
        lms, lseq = split_id(last)
        # The next sequence of the last ID's millisecond, if there is one.
        same_ms = make_id(ms, lseq + 1) if lseq < U64 else None
        new = t.id if ms != lms else same_ms
    else:
        new = t.id
    if new is None or new <= last:
        raise ReplyError(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        )
    if sum(map(len, fields)) > 1 << 30:
        raise ReplyError("ERR Elements are too large to be stored")
    s.add(new, fields)
    db.changed(key, "xadd")
    if t.strategy and _trim(s, t):
        db.changed(key, "xtrim", 0)
    return format_id(new)


@command(
    "xtrim",
    -4,
    "write",
    (1, 1, 1),
    group=X,
    summary="Trims the stream to (approximately if '~' is passed) a certain size",
    since="5.0.0",
    complexity="O(N), with N being the number of evicted entries. Constant times are very small "
    "however, since entries are organized in macro nodes containing multiple entries that can "
    "be released with a single deallocation.",
    args="key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]",
    tips="nondeterministic_output",
    key_flags="RW delete",
    history=(("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),),
    propagate=_xtrim_rule,
)
def xtrim(c: Context, args: list[bytes]) -> Any:
    t = _parse_trim(args, False, c.server.config.stream_node_max_entries)
    s = get_stream(c.db, args[1])
    if s is None:
        return 0
    deleted = _trim(s, t)
    if deleted:
        c.db.changed(args[1], "xtrim", deleted)
    return deleted


@command(
    "xdel",
    -3,
    "write fast",
    (1, 1, 1),
    group=X,
    summary="Removes the specified entries from the stream. Returns the number of items actually "
    "deleted, that may be different from the number of IDs passed in case certain IDs do not "
    "exist.",
    since="5.0.0",
    complexity="O(1) for each single item to delete in the stream, regardless of the stream size.",
    args="key id [id ...]",
    key_flags="RW delete",
)
def xdel(c: Context, args: list[bytes]) -> Any:
    s = get_stream(c.db, args[1])
    if s is None:
        return 0
    ids = [_strict_id(a) for a in args[2:]]
    deleted = 0
    for i in ids:
        if s.delete(i):
            if i > s.max_deleted:
                s.max_deleted = i
            deleted += 1
    if deleted:
        c.db.changed(args[1], "xdel", deleted)
    return deleted


@command(
    "xsetid",
    -3,
    "write denyoom fast",
    (1, 1, 1),
    group=X,
    summary="An internal command for replicating stream values",
    since="5.0.0",
    complexity="O(1)",
    args="key last-id [ENTRIESADDED entries_added] [MAXDELETEDID max_deleted_entry_id]",
    key_flags="RW update",
    history=(("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),),
)
def xsetid(c: Context, args: list[bytes]) -> Any:
    new = _strict_id(args[2])
    entries_added = -1
    max_deleted = MIN_ID
    i = 3
    while i < len(args):
        more = len(args) - 1 - i
        opt = args[i].lower()
        if opt == b"entriesadded" and more:
            entries_added = parse_int(args[i + 1])
            if entries_added < 0:
                raise ReplyError("ERR entries_added must be positive")
        elif opt == b"maxdeletedid" and more:
            max_deleted = _strict_id(args[i + 1])
            if new < max_deleted:
                raise ReplyError(
                    "ERR The ID specified in XSETID is smaller than the provided "
                    "max_deleted_entry_id"
                )
        else:
            raise SYNTAX
        i += 2
    s = get_stream(c.db, args[1])
    if s is None:
        raise _NO_KEY
    if s.length:
        if new < s.last_valid_id():
            raise ReplyError(
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and s.length > entries_added:
            raise ReplyError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length"
            )
    s.last_id = new
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted != MIN_ID:
        s.max_deleted = max_deleted
    c.db.changed(args[1], "xsetid")
    return OK


# --- reading ranges ----------------------------------------------------------------------------


def _xrange(c: Context, args: list[bytes], rev: bool) -> Any:
    start_arg, end_arg = (args[3], args[2]) if rev else (args[2], args[3])
    start = _start(start_arg)
    end = _end(end_arg)
    count = -1
    j = 4
    while j < len(args):
        if args[j].lower() == b"count" and j + 1 < len(args):
            count = max(parse_int(args[j + 1]), 0)
            j += 2
        else:
            raise SYNTAX
    s = get_stream(c.db, args[1], read=True)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    out = []
    for i, fields in s.revrange(start, end) if rev else s.range(start, end):
        out.append(_entry(i, fields))
        if len(out) == count:
            break
    return out


@command(
    "xrange",
    -4,
    "readonly",
    (1, 1, 1),
    group=X,
    summary="Return a range of elements in a stream, with IDs matching the specified IDs interval",
    since="5.0.0",
    complexity="O(N) with N being the number of elements being returned. If N is constant (e.g. "
    "always asking for the first 10 elements with COUNT), you can consider it O(1).",
    args="key start end [COUNT count]",
    key_flags="RO access",
    history=(("6.2.0", "Added exclusive ranges."),),
)
def xrange(c: Context, args: list[bytes]) -> Any:
    return _xrange(c, args, False)


@command(
    "xrevrange",
    -4,
    "readonly",
    (1, 1, 1),
    group=X,
    summary="Return a range of elements in a stream, with IDs matching the specified IDs "
    "interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
    since="5.0.0",
    complexity="O(N) with N being the number of elements returned. If N is constant (e.g. always "
    "asking for the first 10 elements with COUNT), you can consider it O(1).",
    args="key end start [COUNT count]",
    key_flags="RO access",
    history=(("6.2.0", "Added exclusive ranges."),),
)
def xrevrange(c: Context, args: list[bytes]) -> Any:
    return _xrange(c, args, True)


@command(
    "xlen",
    2,
    "readonly fast",
    (1, 1, 1),
    group=X,
    summary="Return the number of entries in a stream",
    since="5.0.0",
    complexity="O(1)",
    args="key",
    key_flags="RO",
)
def xlen(c: Context, args: list[bytes]) -> Any:
    s = get_stream(c.db, args[1], read=True)
    return 0 if s is None else s.length


# --- consumer groups: delivery -------------------------------------------------------------------


def _claim_effect(c: Context, key: bytes, gname: bytes, g: Group, i: bytes, nack: Nack) -> None:
    """Redis's streamPropagateXCLAIM: an XCLAIM that recreates this pending entry as it is."""
    c.db.keyspace.propagation.also(
        c.db,
        [
            b"XCLAIM", key, gname, nack.consumer, b"0", format_id(i), b"TIME", b"%d" % nack.time,
            b"RETRYCOUNT", b"%d" % nack.count, b"FORCE", b"JUSTID", b"LASTID",
            format_id(g.last_id),
        ],
    )  # fmt: skip


def _setid_effect(c: Context, key: bytes, gname: bytes, g: Group) -> None:
    c.db.keyspace.propagation.also(
        c.db,
        [
            b"XGROUP", b"SETID", key, gname, format_id(g.last_id), b"ENTRIESREAD",
            b"%d" % g.entries_read,
        ],
    )  # fmt: skip


def _consumer(c: Context, key: bytes, gname: bytes, g: Group, name: bytes, noack: bool) -> None:
    """Look up (refreshing its seen time) or create consumer ``name`` of group ``g``."""
    now = _mstime()
    cons = g.consumers.get(name)
    if cons is not None:
        cons.seen = now
        return
    g.add_consumer(name, now)
    c.db.changed(key, "xgroup-createconsumer", 1, touch=False)
    if noack:
        c.db.keyspace.propagation.also(c.db, [b"XGROUP", b"CREATECONSUMER", key, gname, name])


def _deliver_new(
    c: Context, key: bytes, s: Stream, after: bytes, count: int, gname: bytes | None,
    g: Group | None, consumer: bytes, noack: bool,
) -> list[Any]:  # fmt: skip
    """Entries after ``after`` (streamReplyWithRange): with a group, each one moves the group's
    last ID and read counter and (unless NOACK) becomes pending for ``consumer``."""
    start = incr_id(after)
    out: list[Any] = []
    if start is None:
        return out
    moved = False
    for i, fields in s.range(start, MAX_ID):
        if g is not None:
            assert gname is not None
            if i > g.last_id:
                if g.entries_read != INVALID_ENTRIES_READ and not s.has_tombstones(i):
                    g.entries_read += 1
                elif s.entries_added:
                    g.entries_read = s.entries_read_at(i)
                g.last_id = i
                moved = True
            if not noack:
                now = _mstime()
                nack = g.pel.get(i)
                if nack is None:
                    nack = g.pel[i] = Nack(consumer, now, 1)
                else:
                    g.consumers[nack.consumer].pel.pop(i, None)
                    nack.consumer, nack.time, nack.count = consumer, now, 1
                g.consumers[consumer].pel[i] = None
                _claim_effect(c, key, gname, g, i, nack)
        out.append(_entry(i, fields))
        if count and len(out) == count:
            break
    if noack and moved and g is not None and gname is not None:
        _setid_effect(c, key, gname, g)
    return out


def _deliver_history(s: Stream, g: Group, consumer: bytes, after: bytes, count: int) -> list[Any]:
    """The consumer's own pending entries after ``after`` (streamReplyWithRangeFromConsumerPEL):
    each one counts as delivered again; a deleted entry comes as its ID and a null."""
    start = incr_id(after)
    out: list[Any] = []
    if start is None:
        return out
    pel = g.consumers[consumer].pel
    now = _mstime()
    for i in pel.irange(start):
        if count and len(out) >= count:
            break
        fields = s.get(i)
        if fields is None:
            out.append([format_id(i), NULL_ARRAY])
        else:
            out.append(_entry(i, fields))
            nack = g.pel[i]
            nack.time = now
            nack.count += 1
    return out


def _keyed(c: Context, items: list[tuple[bytes, list[Any]]]) -> Any:
    """XREAD's reply: an array of [key, entries] in RESP2, a map in RESP3."""
    if c.resp == 3:
        return dict(items)
    return [[k, v] for k, v in items]


def _xread(c: Context, args: list[bytes], group_cmd: bool) -> Any:
    name = args[0].decode(errors="replace")
    timeout = -1
    count = 0
    streams_at = 0
    gname: bytes | None = None
    consumer = b""
    noack = False
    n = len(args)
    i = 1
    while i < n:
        more = n - i - 1
        opt = args[i].lower()
        if opt == b"block" and more:
            if isinstance(c, ScriptClient):
                raise ReplyError(
                    f"ERR {name} command is not allowed with BLOCK option from scripts"
                )
            i += 1
            timeout = parse_int(
                args[i], ReplyError("ERR timeout is not an integer or out of range")
            )
            if timeout < 0:
                raise ReplyError("ERR timeout is negative")
        elif opt == b"count" and more:
            i += 1
            count = max(parse_int(args[i]), 0)
        elif opt == b"streams" and more:
            streams_at = i + 1
            if (n - streams_at) % 2:
                raise ReplyError(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                    "must be specified."
                )
            break
        elif opt == b"group" and more >= 2:
            if not group_cmd:
                raise ReplyError(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD "
                    "instead."
                )
            gname, consumer = args[i + 1], args[i + 2]
            i += 2
        elif opt == b"noack":
            if not group_cmd:
                raise ReplyError(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD "
                    "instead."
                )
            noack = True
        else:
            raise SYNTAX
        i += 1
    if not streams_at:
        raise SYNTAX
    if group_cmd and gname is None:
        raise ReplyError("ERR Missing GROUP option for XREADGROUP")
    nkeys = (n - streams_at) // 2
    keys = args[streams_at : streams_at + nkeys]
    db = c.db
    ids: list[bytes] = []
    groups: list[Group | None] = []
    for key, id_arg in zip(keys, args[streams_at + nkeys :], strict=True):
        s = get_stream(db, key, read=True)
        g = None
        if gname is not None:
            g = s.groups.get(gname) if s is not None else None
            if g is None:
                raise ReplyError(
                    f"NOGROUP No such key '{key.decode(errors='replace')}' or consumer group "
                    f"'{gname.decode(errors='replace')}' in XREADGROUP with GROUP option"
                )
        groups.append(g)
        if id_arg == b"$":
            if group_cmd:
                raise ReplyError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read "
                    "the history of this consumer by specifying a proper ID, or use the > ID to "
                    "get new messages. The $ ID would just return an empty result set."
                )
            ids.append(s.last_id if s is not None else MIN_ID)
        elif id_arg == b">":
            if not group_cmd:
                raise ReplyError(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                    "<group> <consumer> option."
                )
            ids.append(MAX_ID)
        else:
            ids.append(_strict_id(id_arg))
    served: list[tuple[bytes, list[Any]]] = []
    for key, gt, g in zip(keys, ids, groups, strict=True):
        s = get_stream(db, key)
        if s is None:
            continue
        history = False
        if g is not None:
            if gt != MAX_ID:
                history = True
            elif s.length and s.last_valid_id() > g.last_id:
                gt = g.last_id
            else:
                continue
        elif not (s.length and s.last_valid_id() > gt):
            continue
        if g is not None:
            assert gname is not None
            _consumer(c, key, gname, g, consumer, noack)
            if history:
                entries = _deliver_history(s, g, consumer, gt, count)
            else:
                entries = _deliver_new(c, key, s, gt, count, gname, g, consumer, noack)
            db.changed(key, "", 1, touch=False)
        else:
            entries = _deliver_new(c, key, s, gt, count, None, None, b"", False)
        served.append((key, entries))
    if served:
        return _keyed(c, served)
    if timeout == -1:
        return NULL_ARRAY
    wait = dict(zip(keys, ids, strict=True))
    limit = count or _BLOCKED_DEFAULT_COUNT

    def serve(c: Context, key: bytes) -> Any:
        s = c.db.get(key)
        if gname is None:
            if type(s) is not Stream or s.last_id <= wait[key]:
                return None
            return _keyed(
                c, [(key, _deliver_new(c, key, s, wait[key], limit, None, None, b"", False))]
            )
        if type(s) is not Stream:
            return ReplyError("UNBLOCKED the stream key no longer exists")
        g = s.groups.get(gname)
        if g is None:
            return ReplyError(
                "NOGROUP the consumer group this client was blocked on no longer exists"
            )
        if s.last_id <= g.last_id:
            return None
        _consumer(c, key, gname, g, consumer, noack)
        entries = _deliver_new(c, key, s, g.last_id, limit, gname, g, consumer, noack)
        c.db.changed(key, "", 1, touch=False)
        return _keyed(c, [(key, entries)])

    ms = timeout
    if ms > 0 and ms > LLONG_MAX - now_ms():
        ms = 1  # the deadline wraps: Redis times out at once
    return block(
        c, args, list(keys), ms / 1000.0, serve, NULL_ARRAY, serve_missing=gname is not None
    )


@command(
    "xread",
    -4,
    "readonly blocking",
    group=X,
    summary="Return never seen elements in multiple streams, with IDs greater than the ones "
    "reported by the caller for each stream. Can block.",
    since="5.0.0",
    complexity="For each stream mentioned: O(N) with N being the number of elements being "
    "returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK "
    "option is used, XADD will pay O(M) time in order to serve the M clients blocked on the "
    "stream getting new data.",
    args="[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
    key_specs=(KeySpec("RO access", keyword="STREAMS", startfrom=1, lastkey=-1, limit=2),),
)
def xread(c: Context, args: list[bytes]) -> Any:
    return _xread(c, args, False)


@command(
    "xreadgroup",
    -7,
    "write blocking",
    group=X,
    summary="Return new entries from a stream using a consumer group, or access the history of "
    "the pending entries for a given consumer. Can block.",
    since="5.0.0",
    complexity="For each stream mentioned: O(M) with M being the number of elements returned. If "
    "M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider "
    "it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to "
    "serve the N clients blocked on the stream getting new data.",
    args="GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] "
    "id [id ...]",
    key_specs=(KeySpec("RO access", keyword="STREAMS", startfrom=4, lastkey=-1, limit=2),),
    propagate=propagation.effects,
)
def xreadgroup(c: Context, args: list[bytes]) -> Any:
    return _xread(c, args, True)


# --- consumer groups: management ----------------------------------------------------------------


def _group_or_error(c: Context, key: bytes, gname: bytes) -> tuple[Stream, Group]:
    s = get_stream(c.db, key, read=True)
    g = s.groups.get(gname) if s is not None else None
    if s is None or g is None:
        raise ReplyError(
            f"NOGROUP No such key '{key.decode(errors='replace')}' or consumer group "
            f"'{gname.decode(errors='replace')}'"
        )
    return s, g


container(
    "xgroup",
    -2,
    "",
    group=X,
    summary="A container for consumer groups commands",
    since="5.0.0",
    complexity="Depends on subcommand.",
)


def _xgroup_target(c: Context, args: list[bytes], options: bool) -> tuple[Stream | None, bool, int]:
    """The checks every XGROUP subcommand with a key makes first (in xgroupCommand's order):
    its options (CREATE's MKSTREAM / ENTRIESREAD, SETID's ENTRIESREAD), the stream, and for all
    but CREATE the group."""
    sub = args[1].lower()
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    while i < len(args):
        opt = args[i].lower()
        if sub == b"create" and opt == b"mkstream":
            mkstream = True
            i += 1
        elif sub in (b"create", b"setid") and opt == b"entriesread" and i + 1 < len(args):
            entries_read = parse_int(args[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise ReplyError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise subcommand_syntax_error(args)
    s = get_stream(c.db, args[2])
    if not mkstream:
        if s is None:
            raise ReplyError(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                "may want to use the MKSTREAM option to create an empty stream automatically."
            )
        if args[3] not in s.groups and sub in (b"setid", b"createconsumer", b"delconsumer"):
            raise ReplyError(
                f"NOGROUP No such consumer group '{args[3].decode(errors='replace')}' for key "
                f"name '{args[2].decode(errors='replace')}'"
            )
    return s, mkstream, entries_read


def _group_id(s: Stream | None, b: bytes, strict: bool) -> bytes:
    if b == b"$":
        return s.last_id if s is not None else MIN_ID
    return parse_id(b, strict=strict)[0]


@command(
    "create",
    -5,
    "write denyoom",
    (2, 2, 1),
    parent="xgroup",
    group=X,
    summary="Create a consumer group.",
    since="5.0.0",
    complexity="O(1)",
    args="key groupname <id | $> [MKSTREAM] [ENTRIESREAD entries_read]",
    key_flags="RW insert",
    history=(("7.0.0", "Added the `entries_read` named argument."),),
)
def xgroup_create(c: Context, args: list[bytes]) -> Any:
    if len(args) > 8:
        raise subcommand_syntax_error(args)
    s, _, entries_read = _xgroup_target(c, args, True)
    last = _group_id(s, args[4], True)
    key = args[2]
    if s is None:
        s = Stream()
        c.db.set(key, s)
        c.db.changed(key, "", 0)  # the new key: signalModifiedKey, counted below
    if args[3] in s.groups:
        raise ReplyError("BUSYGROUP Consumer Group name already exists")
    s.groups[args[3]] = Group(last, entries_read, IdDict(), {})
    c.db.changed(key, "xgroup-create", 1, touch=False)
    return OK


@command(
    "setid",
    -5,
    "write",
    (2, 2, 1),
    parent="xgroup",
    group=X,
    summary="Set a consumer group to an arbitrary last delivered ID value.",
    since="5.0.0",
    complexity="O(1)",
    args="key groupname <id | $> [ENTRIESREAD entries_read]",
    key_flags="RW update",
    history=(("7.0.0", "Added the optional `entries_read` argument."),),
)
def xgroup_setid(c: Context, args: list[bytes]) -> Any:
    if len(args) not in (5, 7):
        raise subcommand_syntax_error(args)
    s, _, entries_read = _xgroup_target(c, args, True)
    assert s is not None
    g = s.groups[args[3]]
    g.last_id = _group_id(s, args[4], False)
    g.entries_read = entries_read
    c.db.changed(args[2], "xgroup-setid", 1, touch=False)
    return OK


@command(
    "destroy",
    4,
    "write",
    (2, 2, 1),
    parent="xgroup",
    group=X,
    summary="Destroy a consumer group.",
    since="5.0.0",
    complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).",
    args="key groupname",
    key_flags="RW delete",
)
def xgroup_destroy(c: Context, args: list[bytes]) -> Any:
    s, _, _ = _xgroup_target(c, args, False)
    assert s is not None
    if s.groups.pop(args[3], None) is None:
        return 0
    c.db.changed(args[2], "xgroup-destroy", 1, touch=False)
    c.db.signal_ready(args[2])  # its blocked readers get NOGROUP
    return 1


@command(
    "createconsumer",
    5,
    "write denyoom",
    (2, 2, 1),
    parent="xgroup",
    group=X,
    summary="Create a consumer in a consumer group.",
    since="6.2.0",
    complexity="O(1)",
    args="key groupname consumername",
    key_flags="RW insert",
)
def xgroup_createconsumer(c: Context, args: list[bytes]) -> Any:
    s, _, _ = _xgroup_target(c, args, False)
    assert s is not None
    g = s.groups[args[3]]
    if args[4] in g.consumers:
        return 0
    g.add_consumer(args[4], _mstime())
    c.db.changed(args[2], "xgroup-createconsumer", 1, touch=False)
    return 1


@command(
    "delconsumer",
    5,
    "write",
    (2, 2, 1),
    parent="xgroup",
    group=X,
    summary="Delete a consumer from a consumer group.",
    since="5.0.0",
    complexity="O(1)",
    args="key groupname consumername",
    key_flags="RW delete",
)
def xgroup_delconsumer(c: Context, args: list[bytes]) -> Any:
    s, _, _ = _xgroup_target(c, args, False)
    assert s is not None
    g = s.groups[args[3]]
    cons = g.consumers.pop(args[4], None)
    if cons is None:
        return 0
    for i in cons.pel:
        del g.pel[i]
    c.db.changed(args[2], "xgroup-delconsumer", 1, touch=False)
    return len(cons.pel)


_XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    "loading stale",
    parent="xgroup",
    group=X,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
    complexity="O(1)",
)
def xgroup_help(c: Context, args: list[bytes]) -> Any:
    return _XGROUP_HELP


@command(
    "xack",
    -4,
    "write fast",
    (1, 1, 1),
    group=X,
    summary="Marks a pending message as correctly processed, effectively removing it from the "
    "pending entries list of the consumer group. Return value of the command is the number of "
    "messages successfully acknowledged, that is, the IDs we were actually able to resolve in "
    "the PEL.",
    since="5.0.0",
    complexity="O(1) for each message ID processed.",
    args="key group id [id ...]",
    key_flags="RW update",
)
def xack(c: Context, args: list[bytes]) -> Any:
    s = get_stream(c.db, args[1], read=True)
    g = s.groups.get(args[2]) if s is not None else None
    if g is None:
        return 0
    ids = [_strict_id(a) for a in args[3:]]
    acked = sum(map(g.ack, ids))
    if acked:
        c.db.changed(args[1], "", acked, touch=False)
    return acked


@command(
    "xpending",
    -3,
    "readonly",
    (1, 1, 1),
    group=X,
    summary="Return information and entries from a stream consumer group pending entries list, "
    "that are messages fetched but never acknowledged.",
    since="5.0.0",
    complexity="O(N) with N being the number of elements returned, so asking for a small fixed "
    "number of entries per call is O(1). O(M), where M is the total number of entries scanned "
    "when used with the IDLE filter. When the command returns just the summary and the list of "
    "consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating "
    "every consumer.",
    args="key group [[IDLE min-idle-time] start end count [consumer]]",
    tips="nondeterministic_output",
    key_flags="RO access",
    history=(("6.2.0", "Added the `IDLE` option and exclusive range intervals."),),
)
def xpending(c: Context, args: list[bytes]) -> Any:
    n = len(args)
    if n != 3 and not 6 <= n <= 9:
        raise SYNTAX
    consumer = None
    if n >= 6:
        at = 3
        minidle = 0
        if args[3].lower() == b"idle":
            minidle = parse_int(args[4])
            if n < 8:
                raise SYNTAX
            at += 2
        count = max(parse_int(args[at + 2]), 0)
        start = _start(args[at])
        end = _end(args[at + 1])
        if at + 3 < n:
            consumer = args[at + 3]
    _, g = _group_or_error(c, args[1], args[2])
    if n == 3:
        if not g.pel:
            return [0, None, None, NULL_ARRAY]
        pel = g.pel.sort()
        first, last = next(iter(pel)), next(reversed(pel))
        owners = [
            [name, b"%d" % len(cons.pel)] for name, cons in sorted(g.consumers.items()) if cons.pel
        ]
        return [len(pel), format_id(first), format_id(last), owners]
    if consumer is not None:
        cons = g.consumers.get(consumer)
        if cons is None:
            return []
        ids = cons.pel
    else:
        ids = g.pel
    now = _mstime()
    out = []
    for i in ids.irange(start, end):
        if not count:
            break
        nack = g.pel[i]
        if minidle and now - nack.time < minidle:
            continue
        count -= 1
        out.append([format_id(i), nack.consumer, max(now - nack.time, 0), nack.count])
    return out


def _claim(g: Group, i: bytes, nack: Nack, consumer: bytes) -> None:
    """Move pending entry ``i`` to ``consumer``'s list."""
    if nack.consumer != consumer:
        old = g.consumers.get(nack.consumer)
        if old is not None:
            old.pel.pop(i, None)
        nack.consumer = consumer
    g.consumers[consumer].pel[i] = None


@command(
    "xclaim",
    -6,
    "write fast",
    (1, 1, 1),
    group=X,
    summary="Changes (or acquires) ownership of a message in a consumer group, as if the message "
    "was delivered to the specified consumer.",
    since="5.0.0",
    complexity="O(log N) with N being the number of messages in the PEL of the consumer group.",
    args="key group consumer min-idle-time id [id ...] [IDLE ms] "
    "[TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]",
    tips="nondeterministic_output",
    key_flags="RW update",
    propagate=propagation.effects,
)
def xclaim(c: Context, args: list[bytes]) -> Any:
    key, gname, name = args[1], args[2], args[3]
    s, g = _group_or_error(c, key, gname)
    minidle = max(
        parse_int(args[4], ReplyError("ERR Invalid min-idle-time argument for XCLAIM")), 0
    )
    ids: list[bytes] = []
    j = 5
    while j < len(args):
        try:
            ids.append(_strict_id(args[j]))
        except ReplyError:
            break
        j += 1
    now = _mstime()
    delivery = -1
    retrycount = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            delivery = now - parse_int(
                args[j], ReplyError("ERR Invalid IDLE option argument for XCLAIM")
            )
        elif opt == b"time" and more:
            j += 1
            delivery = parse_int(args[j], ReplyError("ERR Invalid TIME option argument for XCLAIM"))
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = parse_int(
                args[j], ReplyError("ERR Invalid RETRYCOUNT option argument for XCLAIM")
            )
        elif opt == b"lastid" and more:
            j += 1
            last_id = _strict_id(args[j])
        else:
            raise ReplyError(f"ERR Unrecognized XCLAIM option '{args[j].decode(errors='replace')}'")
        j += 1
    db = c.db
    changes = 0
    propagate_last_id = False
    if last_id > g.last_id:
        g.last_id = last_id
        propagate_last_id = True
    if delivery == -1 or delivery < 0 or delivery > now:
        delivery = now
    out: list[Any] = []
    have_consumer = False
    for i in ids:
        nack = g.pel.get(i)
        fields = s.get(i)
        if fields is None:
            if nack is not None:
                _claim_effect(c, key, gname, g, i, nack)
                propagate_last_id = False
                changes += 1
                g.ack(i)
            continue
        if nack is None:
            if not force:
                continue
            nack = g.pel[i] = Nack(b"", 0, 0)
        elif minidle and now - nack.time < minidle:
            continue
        if not have_consumer:
            _consumer(c, key, gname, g, name, False)
            have_consumer = True
        _claim(g, i, nack, name)
        nack.time = delivery
        if retrycount >= 0:
            nack.count = retrycount
        elif not justid:
            nack.count += 1
        out.append(format_id(i) if justid else _entry(i, fields))
        _claim_effect(c, key, gname, g, i, nack)
        propagate_last_id = False
        changes += 1
    if propagate_last_id:
        _setid_effect(c, key, gname, g)
        changes += 1
    if changes:
        db.changed(key, "", changes, touch=False)
    return out


@command(
    "xautoclaim",
    -6,
    "write fast",
    (1, 1, 1),
    group=X,
    summary="Changes (or acquires) ownership of messages in a consumer group, as if the messages "
    "were delivered to the specified consumer.",
    since="6.2.0",
    complexity="O(1) if COUNT is small.",
    args="key group consumer min-idle-time start [COUNT count] [JUSTID]",
    tips="nondeterministic_output",
    key_flags="RW delete",
    history=(
        (
            "7.0.0",
            "Added an element to the reply array, containing deleted entries the command "
            "cleared from the PEL",
        ),
    ),
    propagate=propagation.effects,
)
def xautoclaim(c: Context, args: list[bytes]) -> Any:
    key, gname, name = args[1], args[2], args[3]
    minidle = max(
        parse_int(args[4], ReplyError("ERR Invalid min-idle-time argument for XAUTOCLAIM")), 0
    )
    start = _start(args[5])
    count = 100
    justid = False
    j = 6
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].lower()
        if opt == b"count" and more:
            count = parse_long_range(args[j + 1], 1, LLONG_MAX // 16, "ERR COUNT must be > 0")
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise SYNTAX
        j += 1
    s, g = _group_or_error(c, key, gname)
    attempts = count * 10
    now = _mstime()
    out: list[Any] = []
    deleted: list[bytes] = []
    changes = 0
    have_consumer = False
    it = iter(g.pel.irange(start))
    cursor = MIN_ID
    for i in it:
        if not attempts or not count:
            cursor = i
            break
        attempts -= 1
        nack = g.pel[i]
        fields = s.get(i)
        if fields is None:
            _claim_effect(c, key, gname, g, i, nack)
            changes += 1
            g.ack(i)
            deleted.append(format_id(i))
            count -= 1
            continue
        if minidle and now - nack.time < minidle:
            continue
        if not have_consumer:
            _consumer(c, key, gname, g, name, False)
            have_consumer = True
        _claim(g, i, nack, name)
        nack.time = now
        if not justid:
            nack.count += 1
        out.append(format_id(i) if justid else _entry(i, fields))
        count -= 1
        _claim_effect(c, key, gname, g, i, nack)
        changes += 1
    if changes:
        c.db.changed(key, "", changes, touch=False)
    return [format_id(cursor), out, deleted]


# --- XINFO -------------------------------------------------------------------------------------


container(
    "xinfo",
    -2,
    "",
    group=X,
    summary="A container for stream introspection commands",
    since="5.0.0",
    complexity="Depends on subcommand.",
)


def _info_stream(c: Context, key: bytes) -> Stream:
    s = get_stream(c.db, key, read=True)
    if s is None:
        raise _NO_KEY
    return s


def _entries_read(g: Group) -> int | None:
    return None if g.entries_read == INVALID_ENTRIES_READ else g.entries_read


@command(
    "stream",
    -3,
    "readonly",
    (2, 2, 1),
    parent="xinfo",
    group=X,
    summary="Get information about a stream",
    since="5.0.0",
    complexity="O(1)",
    args="key [FULL [COUNT count]]",
    key_flags="RO access",
    history=(
        ("6.0.0", "Added the `FULL` modifier."),
        (
            "7.0.0",
            "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, "
            "`entries-read` and `lag` fields",
        ),
    ),
)
def xinfo_stream(c: Context, args: list[bytes]) -> Any:
    s = _info_stream(c, args[2])
    opts = args[3:]
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise subcommand_syntax_error(args)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise subcommand_syntax_error(args)
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    info: dict[bytes, Any] = {
        b"length": s.length,
        b"radix-tree-keys": len(s.nodes),
        b"radix-tree-nodes": s.rax_nodes(),
        b"last-generated-id": format_id(s.last_id),
        b"max-deleted-entry-id": format_id(s.max_deleted),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": format_id(s.first_id()),
    }
    if not full:
        info[b"groups"] = len(s.groups)
        first = next(s.range(MIN_ID, MAX_ID), None)
        last = next(s.revrange(MIN_ID, MAX_ID), None)
        info[b"first-entry"] = None if first is None else _entry(*first)
        info[b"last-entry"] = None if last is None else _entry(*last)
        return info
    info[b"entries"] = [_entry(*e) for e in islice(s.range(MIN_ID, MAX_ID), count or None)]
    groups = []
    for gname, g in sorted(s.groups.items()):
        pending = [
            [format_id(i), n.consumer, n.time, n.count]
            for i, n in islice(g.pel.sort().items(), count or None)
        ]
        consumers = []
        for cname, cons in sorted(g.consumers.items()):
            cpending = [
                [format_id(i), g.pel[i].time, g.pel[i].count]
                for i in islice(cons.pel.sort(), count or None)
            ]
            consumers.append(
                {
                    b"name": cname,
                    b"seen-time": cons.seen,
                    b"pel-count": len(cons.pel),
                    b"pending": cpending,
                }
            )
        groups.append(
            {
                b"name": gname,
                b"last-delivered-id": format_id(g.last_id),
                b"entries-read": _entries_read(g),
                b"lag": s.lag(g),
                b"pel-count": len(g.pel),
                b"pending": pending,
                b"consumers": consumers,
            }
        )
    info[b"groups"] = groups
    return info


@command(
    "groups",
    3,
    "readonly",
    (2, 2, 1),
    parent="xinfo",
    group=X,
    summary="List the consumer groups of a stream",
    since="5.0.0",
    complexity="O(1)",
    args="key",
    key_flags="RO access",
    history=(("7.0.0", "Added the `entries-read` and `lag` fields"),),
)
def xinfo_groups(c: Context, args: list[bytes]) -> Any:
    s = _info_stream(c, args[2])
    return [
        {
            b"name": name,
            b"consumers": len(g.consumers),
            b"pending": len(g.pel),
            b"last-delivered-id": format_id(g.last_id),
            b"entries-read": _entries_read(g),
            b"lag": s.lag(g),
        }
        for name, g in sorted(s.groups.items())
    ]


@command(
    "consumers",
    4,
    "readonly",
    (2, 2, 1),
    parent="xinfo",
    group=X,
    summary="List the consumers in a consumer group",
    since="5.0.0",
    complexity="O(1)",
    args="key groupname",
    tips="nondeterministic_output",
    key_flags="RO access",
)
def xinfo_consumers(c: Context, args: list[bytes]) -> Any:
    s = _info_stream(c, args[2])
    g = s.groups.get(args[3])
    if g is None:
        raise ReplyError(
            f"NOGROUP No such consumer group '{args[3].decode(errors='replace')}' for key name "
            f"'{args[2].decode(errors='replace')}'"
        )
    now = _mstime()
    return [
        {b"name": name, b"pending": len(cons.pel), b"idle": max(now - cons.seen, 0)}
        for name, cons in sorted(g.consumers.items())
    ]


_XINFO_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    "loading stale",
    parent="xinfo",
    group=X,
    summary="Show helpful text about the different subcommands",
    since="5.0.0",
    complexity="O(1)",
)
def xinfo_help(c: Context, args: list[bytes]) -> Any:
    return _XINFO_HELP
