"""A key's value in Redis 7.0's RDB object encoding: what DUMP writes and RESTORE reads.

``dump_value`` turns a minikv value into an RDB type byte and object (``rdbSaveObjectType`` +
``rdbSaveObject``), ``load_value`` reads one back (``rdbLoadObjectType`` + ``rdbLoadObject``);
``minikv.persistence.dump`` has the framing (version, CRC-64) and RDB's strings.

Written, in the encoding Redis 7.0 itself would save for the same value:

==========  ===============================================  ==================================
type        small (Redis's compact encoding)                 big
==========  ===============================================  ==================================
string      RDB string (integer encoding, LZF over 20 bytes)
list        RDB_TYPE_LIST_QUICKLIST_2: one listpack per node (minikv's blocks are Redis's nodes)
set         RDB_TYPE_SET_INTSET (when minikv reports intset)  RDB_TYPE_SET
zset        RDB_TYPE_ZSET_LISTPACK                           RDB_TYPE_ZSET_2 (highest first)
hash        RDB_TYPE_HASH_LISTPACK                           RDB_TYPE_HASH
stream      RDB_TYPE_STREAM_LISTPACKS_2: one listpack per node, groups, PELs, consumers
==========  ===============================================  ==================================

So a DUMP is byte for byte redis-server's for the same commands, except where Redis's layout
depends on history minikv does not keep: an intset stays as wide as its widest value ever was
(minikv writes the narrowest width), a set once converted to a hashtable stays one in Redis
(minikv writes an intset whenever the value is small enough now; a hash's encoding is kept as
Redis keeps it, ``minikv.packedhash``), and a hashtable's
iteration order is Redis's own (minikv writes insertion order). A stream's deleted entries
(tombstones) are not kept by minikv beyond their count, the last one's ID and their bytes; they
are written as that many deleted entries at the end of their node carrying its last ID, padded
so the node's listpack has the size minikv accounts for, so that Redis cuts its next node where
minikv would. Every such payload is one redis-server's RESTORE accepts.

Read: every type ``rdbLoadObject`` 7.0 accepts but modules (strings; lists as RDB_TYPE_LIST,
ziplist, quicklist of ziplists, quicklist of listpacks with PLAIN and PACKED nodes; sets as
RDB_TYPE_SET and intsets; sorted sets as RDB_TYPE_ZSET, ZSET_2, ziplists and listpacks; hashes
as RDB_TYPE_HASH, zipmaps, ziplists and listpacks; streams of both versions). Nothing in the
payload is trusted: every length is checked against the bytes left before anything is taken,
and every listpack, ziplist, intset and zipmap is checked entry by entry as Redis's deep
sanitization (``sanitize-dump-payload yes``) checks it, whatever that setting says on the
Redis side, because minikv decodes each entry. Redis 7.0's default (``no``) checks only the
headers of listpacks and intsets and accepts, for instance, a hash listpack with a duplicate
field or a listpack with a bad back-length, keeping corruption that may crash it later; minikv
refuses those (``ValueError``, which RESTORE replies as "ERR Bad data format", as Redis does
for every payload it refuses). minikv also refuses what it could not hold faithfully and Redis
takes as given: a sorted set score that is NaN or not a number, a stream whose length, IDs
(entries in order, inside their node, not past the last ID, the recorded first ID the first
entry's), entry counts, or pending entries
(each owned by exactly one consumer) do not agree, an entries-read counter below -1.
"""

from __future__ import annotations

import math
import struct
from itertools import pairwise
from typing import Any

from minikv import packedlist
from minikv.packedhash import PackedHash, compact
from minikv.packedlist import PackedList, new_list
from minikv.parsing import strtod
from minikv.persistence.dump import Reader, encode_length, encode_string, string2ll
from minikv.quicklist import QuickList, entry_size
from minikv.setvalue import SetValue
from minikv.stream import (
    INVALID_ENTRIES_READ,
    MIN_ID,
    Consumer,
    Group,
    IdDict,
    Nack,
    Node,
    Stream,
    make_id,
    split_id,
)
from minikv.valuetypes import is_intset
from minikv.zset import PackedZSet, ZSet, stored

# rdb.h's object types.
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

_PLAIN, _PACKED = 1, 2  # quicklist node containers
_U64 = 1 << 64
_DOUBLE = struct.Struct("<d")
_LLONG_HALF = float((2**63 - 1) // 2)  # double2ll's safe range: (double)(LLONG_MAX/2)

Item = bytes | int  # a listpack or ziplist entry: a string, or an integer-encoded one


class Corrupt(ValueError):
    """A payload whose value Redis would refuse, or minikv cannot hold faithfully."""


def _bad(why: str) -> Corrupt:
    return Corrupt(why)


def _as_bytes(x: Item) -> bytes:
    return x if type(x) is bytes else b"%d" % x


# --- listpack (listpack.c) -----------------------------------------------------------------


def _backlen(n: int) -> bytes:
    """lpEncodeBacklen: ``n`` (an entry's size without it) in 1 to 5 bytes, read backwards."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (
            n >> 28,
            ((n >> 21) & 127) | 128,
            ((n >> 14) & 127) | 128,
            ((n >> 7) & 127) | 128,
            (n & 127) | 128,
        )
    )


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


def lp_int(v: int) -> bytes:
    """One integer entry (lpEncodeIntegerGetType) with its back-length."""
    if 0 <= v <= 127:
        return bytes((v, 1))
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | u >> 8, u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + (v & 0xFFFF).to_bytes(2, "little") + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -(2**31) <= v < 2**31:
        return b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little") + b"\x05"
    return b"\xf4" + (v & (_U64 - 1)).to_bytes(8, "little") + b"\x09"


def lp_string(s: bytes) -> bytes:
    """One string entry (lpEncodeString), not checked for an integer form."""
    n = len(s)
    if n < 64:
        head = bytes((0x80 | n,))
    elif n < 4096:
        head = bytes((0xE0 | n >> 8, n & 0xFF))
    else:
        head = b"\xf0" + n.to_bytes(4, "little")
    return head + s + _backlen(len(head) + n)


def lp_item(x: Item) -> bytes:
    """lpAppend's encoding of an element: an integer if it reads as one (lpStringToInt64)."""
    if type(x) is int:
        return lp_int(x)
    v = string2ll(x) if len(x) <= 20 else None
    return lp_string(x) if v is None else lp_int(v)


def lp_build(entries: list[bytes]) -> bytes:
    """A listpack of already-encoded entries."""
    body = b"".join(entries)
    size = 7 + len(body)
    count = min(len(entries), 0xFFFF)  # LP_HDR_NUMELE_UNKNOWN from 65535 on
    return size.to_bytes(4, "little") + count.to_bytes(2, "little") + body + b"\xff"


def lp_encode(items: list[Item]) -> bytes:
    return lp_build([lp_item(x) for x in items])


def lp_decode(lp: bytes, check_count: bool = True) -> list[Item]:
    """The entries of a listpack, validated as lpValidateIntegrity(deep=1) validates it (the
    header's entry count too unless not ``check_count``: a stream's listpacks are walked by
    streamValidateListpackIntegrity, which does not look at it)."""
    size = len(lp)
    if size < 7 or int.from_bytes(lp[0:4], "little") != size or lp[-1] != 0xFF:
        raise _bad("listpack header")
    numele = lp[4] | lp[5] << 8
    last = size - 1
    out: list[Item] = []
    p = 6
    while lp[p] != 0xFF:
        b = lp[p]
        # lpCurrentEncodedSizeBytes, then the entry's size, then its back-length.
        if b < 0x80:
            head, n = 1, 0
        elif b < 0xC0:
            head, n = 1, b & 0x3F
        elif b < 0xE0:
            head, n = 2, 0
        elif b < 0xF0:
            if p + 2 > last:
                raise _bad("listpack entry header")
            head, n = 2, (b & 0x0F) << 8 | lp[p + 1]
        elif b == 0xF0:
            if p + 5 > last:
                raise _bad("listpack entry header")
            head, n = 5, int.from_bytes(lp[p + 1 : p + 5], "little")
        elif b <= 0xF4:
            head, n = (3, 4, 5, 9)[b - 0xF1], 0
        else:
            raise _bad("listpack entry encoding")
        if p + 1 > last:
            raise _bad("listpack entry header")
        entrylen = head + n
        total = entrylen + _backlen_size(entrylen)
        end = p + total
        if end > last:
            raise _bad("listpack entry past the end")
        # lpDecodeBacklen from the entry's last byte, backwards, at most 5 bytes.
        q = end - 1
        val = shift = 0
        while True:
            c = lp[q]
            val |= (c & 127) << shift
            if not c & 128:
                break
            shift += 7
            q -= 1
            if shift > 28:
                raise _bad("listpack back-length")
        if val != entrylen:
            raise _bad("listpack back-length")
        if b < 0x80:
            out.append(b)
        elif b < 0xC0 or 0xE0 <= b <= 0xF0:
            out.append(lp[p + head : p + entrylen])
        elif b < 0xE0:
            u = (b & 0x1F) << 8 | lp[p + 1]
            out.append(u - 8192 if u >= 4096 else u)
        else:
            width = head - 1
            u = int.from_bytes(lp[p + 1 : p + head], "little")
            out.append(u - (1 << 8 * width) if u >= 1 << (8 * width - 1) else u)
        p = end
    if p != last:
        raise _bad("listpack end")
    if check_count and numele != 0xFFFF and numele != len(out):
        raise _bad("listpack count")
    return out


# --- ziplist (ziplist.c), read only ----------------------------------------------------------


def ziplist_decode(zl: bytes) -> list[Item]:
    """The entries of a ziplist, validated as ziplistValidateIntegrity(deep=1)."""
    size = len(zl)
    if size < 11 or int.from_bytes(zl[0:4], "little") != size or zl[-1] != 0xFF:
        raise _bad("ziplist header")
    tail = int.from_bytes(zl[4:8], "little")
    if tail > size - 1:
        raise _bad("ziplist tail")
    header_count = zl[8] | zl[9] << 8
    last = size - 1  # zllast: the end byte
    out: list[Item] = []
    p = 10
    prev_raw = 0
    prev = -1
    while zl[p] != 0xFF:
        prevlensize = 1 if zl[p] < 254 else 5
        if p + prevlensize > last:
            raise _bad("ziplist entry header")
        enc = zl[p + prevlensize]
        if enc < 0xC0:
            enc &= 0xC0
            lensize = (1, 2, 5)[enc >> 6]
        elif enc in (0xC0, 0xD0, 0xE0, 0xF0, 0xFE) or 0xF1 <= enc <= 0xFD:
            lensize = 1
        else:
            raise _bad("ziplist entry encoding")
        e = p + prevlensize
        if e + lensize > last:
            raise _bad("ziplist entry header")
        prevlen = zl[p] if prevlensize == 1 else int.from_bytes(zl[p + 1 : p + 5], "little")
        if enc == 0x00:
            n = zl[e] & 0x3F
        elif enc == 0x40:
            n = (zl[e] & 0x3F) << 8 | zl[e + 1]
        elif enc == 0x80:
            n = int.from_bytes(zl[e + 1 : e + 5], "big")
        else:
            n = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}.get(enc, 0)
        headersize = prevlensize + lensize
        if p + headersize + n > last or p - prevlen < 10:
            raise _bad("ziplist entry past the end")
        if prevlen != prev_raw:
            raise _bad("ziplist prevlen")
        data = zl[p + headersize : p + headersize + n]
        if enc < 0xC0:
            out.append(data)
        elif 0xF1 <= enc <= 0xFD:
            out.append((enc & 0x0F) - 1)
        elif enc == 0xF0:  # 24 bits, sign-extended
            out.append(int.from_bytes(data, "little", signed=True))
        else:
            out.append(int.from_bytes(data, "little", signed=True))
        prev_raw = headersize + n
        prev = p
        p += headersize + n
    if p != last or (prev >= 0 and prev != tail):
        raise _bad("ziplist end")
    if header_count != 0xFFFF and header_count != len(out):
        raise _bad("ziplist count")
    return out


# --- intset (intset.c) ---------------------------------------------------------------------


def intset_decode(blob: bytes) -> list[int]:
    """intsetValidateIntegrity(deep=1): a known width, the size it implies, not empty, strictly
    ascending."""
    if len(blob) < 8:
        raise _bad("intset header")
    width = int.from_bytes(blob[0:4], "little")
    count = int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8) or 8 + count * width != len(blob) or count == 0:
        raise _bad("intset header")
    fmt = {2: "h", 4: "i", 8: "q"}[width]
    values = list(struct.unpack(f"<{count}{fmt}", blob[8:]))
    if any(a >= b for a, b in pairwise(values)):
        raise _bad("intset order")
    return values


def intset_encode(values: list[int]) -> bytes:
    values = sorted(values)
    lo, hi = values[0], values[-1]
    if lo >= -32768 and hi <= 32767:
        width, fmt = 2, "h"
    elif lo >= -(2**31) and hi < 2**31:
        width, fmt = 4, "i"
    else:
        width, fmt = 8, "q"
    head = width.to_bytes(4, "little") + len(values).to_bytes(4, "little")
    return head + struct.pack(f"<{len(values)}{fmt}", *values)


# --- zipmap (zipmap.c), read only ------------------------------------------------------------


def zipmap_decode(zm: bytes) -> list[tuple[bytes, bytes]]:
    """The pairs of a zipmap (Redis 2.4's small hashes), validated as zipmapValidateIntegrity
    (deep=1) and read as zipmapNext reads them; a length not in its shortest form is refused
    (zipmapNext would read it differently from the validation)."""
    size = len(zm)
    if size < 2 or zm[-1] != 0xFF:
        raise _bad("zipmap header")
    last = size - 1

    def length(p: int) -> tuple[int, int]:
        s = 1 if zm[p] < 254 else 5
        if p + s > last:
            raise _bad("zipmap entry past the end")
        n = zm[p] if s == 1 else int.from_bytes(zm[p + 1 : p + 5], "little")
        if (n >= 254) != (s == 5):
            raise _bad("zipmap length encoding")
        return n, s

    pairs = []
    p = 1
    while zm[p] != 0xFF:
        n, s = length(p)
        key = zm[p + s : p + s + n]
        p += s + n
        if p > last:
            raise _bad("zipmap entry past the end")
        n, s = length(p)
        p += s
        free = zm[p]
        value = zm[p + 1 : p + 1 + n]
        p += 1 + n + free
        if p > last:
            raise _bad("zipmap entry past the end")
        pairs.append((key, value))
    if not pairs or (zm[0] != 254 and zm[0] != len(pairs)):
        raise _bad("zipmap count")
    return pairs


# --- values --------------------------------------------------------------------------------


def _score(x: Item) -> float:
    """A sorted set listpack's score: an integer, or a string read as zzlStrtod reads it (only
    whole numbers here: Redis's strtod would read a prefix of garbage)."""
    if type(x) is int:
        return float(x)
    r = strtod(x[:127])
    if r is None or math.isnan(r[0]):
        raise _bad("zset score")
    return r[0]


def _pairs(items: list[Item], what: str) -> dict[bytes, Item]:
    """The field/value (member/score) pairs of a pairs listpack or ziplist: an even count, no
    field twice (lpPairsValidateIntegrityAndDups / ziplistPairsConvertAndValidateIntegrity)."""
    if len(items) % 2:
        raise _bad(f"{what}: odd entry count")
    out: dict[bytes, Item] = {}
    for i in range(0, len(items), 2):
        k = _as_bytes(items[i])
        if k in out:
            raise _bad(f"{what}: duplicate field")
        out[k] = items[i + 1]
    if not out:
        raise _bad(f"{what}: empty")
    return out


def _zset(scores: dict[bytes, float]) -> ZSet | PackedZSet:
    for s in scores.values():
        if math.isnan(s):
            raise _bad("zset NaN score")
    return stored(ZSet.from_scores(scores))


def _list(items: list[Item]) -> QuickList | PackedList:
    if not items:
        raise _bad("empty list")
    return new_list(list(map(_as_bytes, items)))


def load_value(payload: bytes) -> Any:
    """The value a DUMP payload holds (``payload`` whole: like Redis, the object is read from
    the argument's buffer, so a value that runs on into the footer is read from the footer;
    bytes left after it are ignored). Corrupt for anything refused."""
    r = Reader(payload)
    t = r.byte()
    loader = _LOADERS.get(t)
    if loader is None:
        raise _bad("unknown object type")
    try:
        v = loader(r, t)
    except (IndexError, struct.error, OverflowError, MemoryError):
        raise _bad("truncated or inconsistent value") from None
    # A hash is a listpack again when it fits, whatever its RDB type (rdbLoadObject).
    return compact(v) if type(v) is dict else v


def _load_string(r: Reader, t: int) -> Any:
    return r.string()


def _load_list(r: Reader, t: int) -> Any:
    n = r.count()
    return _list([r.string() for _ in range(n)])


def _load_set(r: Reader, t: int) -> Any:
    n = r.count()
    if not n:
        raise _bad("empty set")
    s = SetValue()
    for _ in range(n):
        m = r.string()
        if m in s:
            raise _bad("Duplicate set members detected")
        s[m] = None
    return s


def _load_zset(r: Reader, t: int) -> Any:
    n = r.count()
    if not n:
        raise _bad("empty zset")
    scores: dict[bytes, float] = {}
    for _ in range(n):
        m = r.string()
        if t == TYPE_ZSET_2:
            score = _DOUBLE.unpack(r.take(8))[0]
        else:
            k = r.byte()  # rdbLoadDoubleValue
            if k == 255:
                score = -math.inf
            elif k == 254:
                score = math.inf
            elif k == 253:
                score = math.nan
            else:
                parsed = strtod(r.take(k).split(b"\0", 1)[0])
                if parsed is None:
                    raise _bad("zset score")
                score = parsed[0]
        if math.isnan(score):
            raise _bad("Zset with NAN score detected")
        if m in scores:
            raise _bad("Duplicate zset fields detected")
        scores[m] = score
    return _zset(scores)


def _load_hash(r: Reader, t: int) -> Any:
    n = r.count()
    if not n:
        raise _bad("empty hash")
    h: dict[bytes, bytes] = {}
    for _ in range(n):
        k = r.string()
        v = r.string()
        if k in h:
            raise _bad("Duplicate hash fields detected")
        h[k] = v
    return h


def _load_quicklist(r: Reader, t: int) -> Any:
    n = r.count()
    blocks: list[list[bytes]] = []
    for _ in range(n):
        container = _PACKED
        if t == TYPE_LIST_QUICKLIST_2:
            container = r.count()
            if container not in (_PLAIN, _PACKED):
                raise _bad("Quicklist integrity check failed.")
        data = r.string()
        if not data:
            raise _bad("empty quicklist node")
        if container == _PLAIN:
            blocks.append([data])
            continue
        items = lp_decode(data) if t == TYPE_LIST_QUICKLIST_2 else ziplist_decode(data)
        if items:  # empty nodes are skipped, as Redis does
            blocks.append([_as_bytes(x) for x in items])
    if not blocks:
        raise _bad("empty list")
    return packedlist.from_blocks(blocks)


def _load_encoded(r: Reader, t: int) -> Any:
    blob = r.string()
    if t == TYPE_SET_INTSET:
        return SetValue.fromkeys(b"%d" % v for v in intset_decode(blob))
    if t == TYPE_LIST_ZIPLIST:
        return _list(ziplist_decode(blob))
    if t == TYPE_HASH_ZIPMAP:
        h: dict[bytes, bytes] = {}
        for k, v in zipmap_decode(blob):
            if k in h:
                raise _bad("Hash zipmap with dup elements")
            h[k] = v
        return h
    items = lp_decode(blob) if t in (TYPE_HASH_LISTPACK, TYPE_ZSET_LISTPACK) else None
    if items is None:
        items = ziplist_decode(blob)
    if t in (TYPE_HASH_LISTPACK, TYPE_HASH_ZIPLIST):
        return {k: _as_bytes(v) for k, v in _pairs(items, "hash").items()}
    return _zset({k: _score(v) for k, v in _pairs(items, "zset").items()})


def _load_module(r: Reader, t: int) -> Any:
    r.count()
    raise _bad("The RDB file contains module data I can't load: no matching module type")


# --- streams (t_stream.c, rdb.c) --------------------------------------------------------------

_FLAG_DELETED = 1
_FLAG_SAMEFIELDS = 2


def _int_item(x: Item) -> int:
    """lpGetIntegerIfValid: an integer entry, or a string that reads as one."""
    if type(x) is int:
        return x
    v = string2ll(x)
    if v is None:
        raise _bad("stream listpack: not an integer")
    return v


def _int_size(v: int) -> int:
    return entry_size(b"%d" % v)


def _stream_node(key: bytes, lp: bytes, prev: bytes) -> Node:
    """One node of a stream from its listpack (streamValidateListpackIntegrity, deep), with
    minikv's checks on top: entry IDs in order after ``prev`` (the ID before this node), the
    live and deleted counts those of the entries."""
    items = lp_decode(lp, check_count=False)
    if not items:
        raise _bad("Empty listpack inside stream")
    n = len(items)
    if n < 4:
        raise _bad("stream listpack: master entry")
    count, deleted, nf = _int_item(items[0]), _int_item(items[1]), _int_item(items[2])
    if nf < 1 or 4 + nf > n:
        raise _bad("stream listpack: master entry")
    master = tuple(_as_bytes(x) for x in items[3 : 3 + nf])
    if _int_item(items[3 + nf]) != 0:
        raise _bad("stream listpack: master entry terminator")
    p = 4 + nf
    mid_ms, mid_seq = split_id(key)
    if prev != MIN_ID and key <= prev:
        raise _bad("stream: nodes overlap")
    entries: dict[bytes, tuple[bytes, ...]] = {}
    tombstones = 0
    last = prev
    while p < n:
        if p + 3 > n:
            raise _bad("stream listpack: entry")
        flags = _int_item(items[p])
        ms = (mid_ms + _int_item(items[p + 1])) % _U64
        seq = (mid_seq + _int_item(items[p + 2])) % _U64
        p += 3
        if flags & _FLAG_SAMEFIELDS:
            fields = nf
            if p + nf + 1 > n:
                raise _bad("stream listpack: entry")
            values = [_as_bytes(x) for x in items[p : p + nf]]
            flat: list[bytes] = [b""] * (2 * nf)
            flat[0::2] = master  # the master's field objects, shared (as minikv's XADD does)
            flat[1::2] = values
            p += nf
            extra = 3
        else:
            if p >= n:
                raise _bad("stream listpack: entry")
            fields = _int_item(items[p])
            p += 1
            if fields < 0 or p + 2 * fields + 1 > n:
                raise _bad("stream listpack: entry fields")
            flat = [_as_bytes(x) for x in items[p : p + 2 * fields]]
            p += 2 * fields
            extra = 4 + fields
        if _int_item(items[p]) != fields + extra:
            raise _bad("stream listpack: lp-count")
        p += 1
        i = make_id(ms, seq)
        if i < key:
            raise _bad("stream: entry before its node's master ID")
        # Live entries in strictly increasing ID order; a tombstone may repeat the ID before
        # it (minikv writes its tombstones with their node's last ID, see _node_listpack).
        if flags & _FLAG_DELETED:
            if i < last:
                raise _bad("stream: entry IDs out of order")
            tombstones += 1
        else:
            if i <= last or not flat:
                raise _bad("stream: entry IDs out of order, or an entry without fields")
            entries[i] = tuple(flat)
        last = i
    if count != len(entries) or deleted != tombstones or not (entries or tombstones):
        raise _bad("stream listpack: entry counts")
    body = len(lp) - _int_size(count) - _int_size(deleted)
    return Node(key, master, entries, tombstones, last, body)


def _load_stream(r: Reader, t: int) -> Any:
    listpacks = r.count()
    raw: dict[bytes, bytes] = {}
    for _ in range(listpacks):
        key = r.string()
        if len(key) != 16:
            raise _bad("Stream node key entry is not the size of a stream ID")
        lp = r.string()
        if key in raw:
            raise _bad("Listpack re-added with existing key")
        raw[key] = lp
    s = Stream()
    prev = MIN_ID
    for key in sorted(raw):  # the radix tree orders the nodes by key
        node = _stream_node(key, raw[key], prev)
        s.nodes.append(node)
        prev = node.last
    length = r.count()
    s.last_id = make_id(r.count(), r.count())
    first = MIN_ID
    if t == TYPE_STREAM_LISTPACKS_2:
        first = make_id(r.count(), r.count())  # minikv finds it; Redis keeps it up to date
        s.max_deleted = make_id(r.count(), r.count())
        s.entries_added = r.count()
    else:
        s.entries_added = length
    s.length = sum(len(node.entries) for node in s.nodes)
    if length != s.length or prev > s.last_id or s.entries_added < length:
        raise _bad("stream: length or IDs inconsistent with its entries")
    if t == TYPE_STREAM_LISTPACKS_2 and first != s.first_id():
        raise _bad("stream: the recorded first ID is not its first entry's")
    for _ in range(r.count()):
        name = r.string()
        if name in s.groups:
            raise _bad("Duplicated consumer group name")
        last_id = make_id(r.count(), r.count())
        if t == TYPE_STREAM_LISTPACKS_2:
            read = r.count()
            entries_read = read - _U64 if read >= 1 << 63 else read
            if entries_read < INVALID_ENTRIES_READ:
                raise _bad("stream group: entries read")
        else:
            entries_read = s.entries_read_at(last_id)
        pel: IdDict = IdDict()
        for _ in range(r.count()):
            i = r.take(16)
            time = r.i64()
            deliveries = r.count()
            if i in pel:
                raise _bad("Duplicated global PEL entry loading stream consumer group")
            pel[i] = Nack(b"", time, deliveries)
        owned: set[bytes] = set()
        consumers: dict[bytes, Consumer] = {}
        for _ in range(r.count()):
            cname = r.string()
            if cname in consumers:
                raise _bad("Duplicate stream consumer detected.")
            seen = r.i64()
            cpel: IdDict = IdDict()
            for _ in range(r.count()):
                i = r.take(16)
                nack = pel.get(i)
                if nack is None:
                    raise _bad("Consumer entry not found in group global PEL")
                if i in cpel or i in owned:
                    raise _bad("Duplicated consumer PEL entry loading a stream consumer group")
                owned.add(i)
                nack.consumer = cname
                cpel[i] = None
            consumers[cname] = Consumer(seen, cpel)
        if len(owned) != len(pel):
            raise _bad("Stream CG PEL entry without consumer")
        s.groups[name] = Group(last_id, entries_read, pel, consumers)
    return s


_LOADERS = {
    TYPE_STRING: _load_string,
    TYPE_LIST: _load_list,
    TYPE_SET: _load_set,
    TYPE_ZSET: _load_zset,
    TYPE_ZSET_2: _load_zset,
    TYPE_HASH: _load_hash,
    TYPE_MODULE: _load_module,
    TYPE_MODULE_2: _load_module,
    TYPE_HASH_ZIPMAP: _load_encoded,
    TYPE_LIST_ZIPLIST: _load_encoded,
    TYPE_SET_INTSET: _load_encoded,
    TYPE_ZSET_ZIPLIST: _load_encoded,
    TYPE_HASH_ZIPLIST: _load_encoded,
    TYPE_LIST_QUICKLIST: _load_quicklist,
    TYPE_STREAM_LISTPACKS: _load_stream,
    TYPE_HASH_LISTPACK: _load_encoded,
    TYPE_ZSET_LISTPACK: _load_encoded,
    TYPE_LIST_QUICKLIST_2: _load_quicklist,
    TYPE_STREAM_LISTPACKS_2: _load_stream,
}


# --- writing -------------------------------------------------------------------------------


def _lp_score(score: float) -> bytes:
    """zzlInsertAt's score entry: an integer when double2ll takes it, else d2string's text."""
    if -_LLONG_HALF <= score <= _LLONG_HALF and score.is_integer():
        return lp_int(int(score))
    if math.isinf(score):
        return lp_string(b"inf" if score > 0 else b"-inf")
    return lp_string(b"%.17g" % score)


def dump_value(v: Any) -> bytes:
    """The RDB type byte and object of a minikv value (see the module docstring)."""
    t = type(v)
    if t is bytes:
        return b"\x00" + encode_string(v)
    if t is PackedZSet:
        v, t = v.unpack(), ZSet
    if t is QuickList or t is PackedList:
        blocks = list(v.blocks())
        parts = [bytes((TYPE_LIST_QUICKLIST_2,)), encode_length(len(blocks))]
        for blk in blocks:
            parts.append(b"\x02" + encode_string(lp_encode(blk)))
        return b"".join(parts)
    if t is SetValue:
        if is_intset(v):
            return bytes((TYPE_SET_INTSET,)) + encode_string(intset_encode(list(map(int, v))))
        return b"".join([bytes((TYPE_SET,)), encode_length(len(v)), *map(encode_string, v)])
    if t is ZSet:
        if not v.big:
            entries = []
            for score, member in v.entries(0, len(v)):
                entries.append(lp_item(member))
                entries.append(_lp_score(score))
            return bytes((TYPE_ZSET_LISTPACK,)) + encode_string(lp_build(entries))
        parts = [bytes((TYPE_ZSET_2,)), encode_length(len(v))]
        for score, member in v.entries(0, len(v), reverse=True):
            parts.append(encode_string(member))
            parts.append(_DOUBLE.pack(score))
        return b"".join(parts)
    if t is PackedHash:
        return bytes((TYPE_HASH_LISTPACK,)) + encode_string(lp_encode(v.flat()))
    if t is dict:
        parts = [bytes((TYPE_HASH,)), encode_length(len(v))]
        for k, val in v.items():
            parts += (encode_string(k), encode_string(val))
        return b"".join(parts)
    if t is Stream:
        return _dump_stream(v)
    raise TypeError(f"no RDB encoding for {t.__name__}")


def _node_listpack(node: Node) -> bytes:
    """A stream node's listpack, as streamAppendItem builds it: the master entry, the live
    entries (SAMEFIELDS when their fields are the master's), then the tombstones."""
    master = node.master
    nf = len(master)
    mid_ms, mid_seq = split_id(node.master_id)
    parts = [lp_int(len(node.entries)), lp_int(node.deleted), lp_int(nf)]
    parts += [lp_item(f) for f in master]
    parts.append(lp_int(0))

    def delta(a: int, b: int) -> int:
        d = (a - b) % _U64
        return d - _U64 if d >= 1 << 63 else d

    for i, flat in node.entries.items():
        ms, seq = split_id(i)
        names = flat[0::2]
        n = len(names)
        same = n == nf and all(a == b for a, b in zip(names, master, strict=True))
        parts += (
            lp_int(_FLAG_SAMEFIELDS if same else 0),
            lp_int(delta(ms, mid_ms)),
            lp_int(delta(seq, mid_seq)),
        )
        if same:
            parts += [lp_item(x) for x in flat[1::2]]
            parts.append(lp_int(n + 3))
        else:
            parts.append(lp_int(n))
            parts += [lp_item(x) for x in flat]
            parts.append(lp_int(2 * n + 4))
    if node.deleted:
        # The tombstones: deleted SAMEFIELDS entries with the node's last ID and empty values,
        # the last one's first value padded so that the listpack is as big as the node
        # minikv accounts for (its deleted entries' own bytes), where some length gives that.
        ms, seq = split_id(node.last)
        head = lp_int(_FLAG_DELETED | _FLAG_SAMEFIELDS)
        head += lp_int(delta(ms, mid_ms)) + lp_int(delta(seq, mid_seq))
        rest = lp_string(b"") * (nf - 1) + lp_int(nf + 3)
        tomb = head + lp_string(b"") + rest
        extra = node.lp_bytes() - (7 + sum(map(len, parts)) + node.deleted * len(tomb))
        pad = 0
        for k in range(max(0, extra - 8), extra + 1):
            if len(lp_string(b"\0" * k)) <= 2 + extra:
                pad = k
        parts += [tomb] * (node.deleted - 1)
        parts.append(head + lp_string(b"\0" * pad) + rest)
    return lp_build(parts)


def _dump_stream(s: Stream) -> bytes:
    out = [bytes((TYPE_STREAM_LISTPACKS_2,)), encode_length(len(s.nodes))]
    for node in s.nodes:
        out.append(encode_string(node.master_id))
        out.append(encode_string(_node_listpack(node)))
    first = split_id(s.first_id())
    for x in (s.length, *split_id(s.last_id), *first, *split_id(s.max_deleted), s.entries_added):
        out.append(encode_length(x))
    out.append(encode_length(len(s.groups)))
    for name in sorted(s.groups):  # the radix tree's order
        g = s.groups[name]
        out.append(encode_string(name))
        out += [encode_length(x) for x in split_id(g.last_id)]
        out.append(encode_length(g.entries_read % _U64))
        out.append(encode_length(len(g.pel)))
        for i in sorted(g.pel):
            nack = g.pel[i]
            out += (i, (nack.time % _U64).to_bytes(8, "little"), encode_length(nack.count))
        out.append(encode_length(len(g.consumers)))
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            out += (encode_string(cname), (c.seen % _U64).to_bytes(8, "little"))
            out.append(encode_length(len(c.pel)))
            out += sorted(c.pel)
    return b"".join(out)
