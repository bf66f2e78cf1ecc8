"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST.

An HLL is a string value in Redis's own representation (``minikv.hll``): GET returns its
bytes, SET of a value made by redis-server makes a working HLL here and the other way round,
and snapshots, DUMP/RESTORE and the AOF carry it as any string.

What each command reads, changes, counts and tells is Redis's (hyperloglog.c):

- PFADD looks its key up for writing; a new key is a new (sparse) HLL. The dirty count grows
  by one per register raised (and one for a new key), ``pfadd`` is notified and the cached
  cardinality invalidated when anything changed. A corrupt value fails with INVALIDOBJ and
  keeps what the elements before the damage changed, unnotified, as Redis's in-place edit.
- PFCOUNT of one key returns the cached cardinality while it is valid; otherwise it counts and
  writes the cache back into the value. That write is a change (WATCH sees it, the dirty count
  grows) though PFCOUNT is a read-only command that notifies nothing: Redis flags it
  ``may_replicate`` and propagates it as sent, so an AOF or replica gets the same bytes.
  PFCOUNT of several keys counts their union and writes nothing.
- PFMERGE reads every key it names (the destination too) as a source, then writes the union
  to the destination: dense if any input was dense, else register by register into the
  destination's sparse form. It always notifies ``pfadd`` and invalidates the cache.
- PFDEBUG GETREG / TODENSE convert a sparse value to dense (a change that is propagated, as
  Redis's forced dirty increment does, but not notified nor signalled).

The sparse-to-dense limit is the ``hll-sparse-max-bytes`` parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv import hll
from minikv.commands import KeySpec, command
from minikv.commands.util import WRONGTYPE
from minikv.protocol import OK, Raw, ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

G = "hyperloglog"

NOT_HLL = ReplyError("WRONGTYPE Key is not a valid HyperLogLog string value.")
INVALID = ReplyError("INVALIDOBJ Corrupted HLL object detected")
_DENSE = Raw(b"+dense\r\n")
_SPARSE = Raw(b"+sparse\r\n")


def _check(v: Any) -> bytes:
    """Redis's isHLLObjectOrReply on a value that exists."""
    if type(v) is not bytes:
        raise WRONGTYPE
    if not hll.is_hll(v):
        raise NOT_HLL
    return v


@command(
    "pfadd",
    -2,
    "write denyoom fast",
    (1, 1, 1),
    group=G,
    summary="Adds the specified elements to the specified HyperLogLog.",
    args="key [element [element ...]]",
    since="2.8.9",
    complexity="O(1) to add every element.",
    key_flags="RW insert",
)
def pfadd(c: Context, args: list[bytes]) -> Any:
    db = c.db
    key = args[1]
    old = db.get(key)
    if old is None:
        created = True
        v = hll.EMPTY
    else:
        created = False
        v = _check(old)
    new, updated, corrupt = hll.add(v, args[2:], c.server.config.hll_sparse_max_bytes)
    if corrupt:
        if new is not None:  # what changed before the damage stays, as Redis's in-place edit
            db.replace_value(key, new)
        raise INVALID
    if created:
        updated += 1  # the new key is a change of its own
    if not updated:
        return 0
    # (add invalidated the cached cardinality of what it changed)
    if created:
        db.set(key, hll.EMPTY_ADDED if new is None else new)
    else:
        db.replace_value(key, new)
    db.changed(key, "pfadd", updated)
    return 1


@command(
    "pfcount",
    -2,
    "readonly may_replicate",
    group=G,
    summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at "
    "key(s).",
    args="key [key ...]",
    since="2.8.9",
    complexity="O(1) with a very small average constant time when called with a single key. "
    "O(N) with N being the number of keys, and much bigger constant times, when called with "
    "multiple keys.",
    key_specs=(
        KeySpec(
            "RW access",
            1,
            lastkey=-1,
            notes="RW because it may change the internal representation of the key, and "
            "propagate to replicas",
        ),
    ),
)
def pfcount(c: Context, args: list[bytes]) -> Any:
    db = c.db
    if len(args) > 2:
        maxregs: int | None = None
        for key in args[1:]:
            v = db.read(key)
            if v is None:
                continue  # an empty HLL
            try:
                maxregs = hll.merge_into(maxregs, _check(v))
            except ValueError:
                raise INVALID from None
        return hll.as_signed(hll.count_registers(maxregs))
    key = args[1]
    v = db.read(key)
    if v is None:
        return 0
    v = _check(v)
    card = hll.cached_card(v)
    if card is None:
        card = hll.count(v)
        if card is None:
            raise INVALID
        # The cache is written back: a change of the value, propagated as the PFCOUNT itself.
        db.replace_value(key, hll.with_card(v, card))
        db.changed(key, "")
        db.keyspace.propagation.also(db, list(args))
    return hll.as_signed(card)


@command(
    "pfmerge",
    -2,
    "write denyoom",
    group=G,
    summary="Merge N different HyperLogLogs into a single one.",
    args="destkey:key sourcekey:key [sourcekey:key ...]",
    since="2.8.9",
    complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
    key_specs=(KeySpec("RW access insert", 1), KeySpec("RO access", 2, lastkey=-1)),
)
def pfmerge(c: Context, args: list[bytes]) -> Any:
    db = c.db
    maxregs: int | None = None
    use_dense = False
    for key in args[1:]:  # the destination is merged too
        v = db.read(key)
        if v is None:
            continue
        v = _check(v)
        if v[4] == hll.DENSE:
            use_dense = True
        try:
            maxregs = hll.merge_into(maxregs, v)
        except ValueError:
            raise INVALID from None
    dest = args[1]
    old = db.get(dest)
    if old is None:
        db.set(dest, hll.EMPTY)
        old = hll.EMPTY
    new = hll.store_merge(old, maxregs, use_dense, c.server.config.hll_sparse_max_bytes)
    db.replace_value(dest, new)
    db.changed(dest, "pfadd")  # "semantical simplicity": a merge is a mass add, for Redis
    return OK


@command(
    "pfdebug",
    3,
    "write denyoom admin",
    group=G,
    summary="Internal commands for debugging HyperLogLog values",
    args="subcommand:string key",
    since="2.8.9",
    complexity="N/A",
    key_specs=(KeySpec("RW access", 2),),
)
def pfdebug(c: Context, args: list[bytes]) -> Any:
    db = c.db
    key = args[2]
    v = db.get(key)
    if v is None:
        raise ReplyError("ERR The specified key does not exist")
    v = _check(v)
    sub = args[1].lower()
    if sub == b"getreg":
        if v[4] == hll.SPARSE:
            v = _to_dense(c, key, v)
        return list(hll.regs_bytes(hll.unpack(v)))
    if sub == b"decode":
        if v[4] != hll.SPARSE:
            raise ReplyError("ERR HLL encoding is not sparse")
        return hll.decode_sparse(v)
    if sub == b"encoding":
        return _DENSE if v[4] == hll.DENSE else _SPARSE
    if sub == b"todense":
        if v[4] == hll.SPARSE:
            _to_dense(c, key, v)
            return 1
        return 0
    name = args[1].decode(errors="replace")
    raise ReplyError(f"ERR Unknown PFDEBUG subcommand '{name}'")


def _to_dense(c: Context, key: bytes, v: bytes) -> bytes:
    dense = hll.sparse_to_dense(v)
    if dense is None:
        raise INVALID
    c.db.replace_value(key, dense)
    c.db.changed(key, "", touch=False)  # Redis: server.dirty++ to propagate, nothing else
    return dense


@command(
    "pfselftest",
    1,
    "admin",
    group=G,
    summary="An internal command for testing HyperLogLog values",
    since="2.8.9",
    complexity="N/A",
)
def pfselftest(c: Context, args: list[bytes]) -> Any:
    failure = hll.selftest(c.server.config.hll_sparse_max_bytes)
    if failure is not None:
        raise ReplyError(failure)
    return OK
