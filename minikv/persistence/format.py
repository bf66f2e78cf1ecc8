"""The snapshot file format: a stream of MessagePack objects, written and read with no I/O policy.

Layout (documented for users in docs/snapshot-format.md)::

    header   map   {"magic": "MINIKV", "format": 5, "minikv": "0.1.0", "created_ms": int,
                    "redis_compat": "7.0.15", "functions": [code (bin), ...]}
    chunk*   array [db_index, {key: value, ...}, {key: deadline_unix_ms, ...}]
    footer   array ["EOF", keys: uint64, crc32: uint32]   (always 19 bytes, fixed-width ints)

A chunk is one shard of one database (see keyspace.py): the writer encodes each shard dict with
``msgspec`` into one reused buffer. msgspec walks a dict with ``PyDict_Next`` and never touches the
reference counts of keys and values, so a forked child that writes a snapshot does not copy the
pages that hold them; and the buffer holds one shard at a time, so the child streams.

Values (format 2): the MessagePack type is the Redis type, and every value is a plain map, array
or bin that msgspec walks in C::

    string       bin
    hash         map   field (bin) -> value (bin)   (a big one: hashtable)
                 array ["hash", blob]          (format 5, a small one: ``minikv.packedhash``;
                                                blob: a MessagePack map field -> value)
    set          map   member (bin) -> nil
    sorted set   map   member (bin) -> score (float 64)                        (big)
                 array ["zset", bin]: the bin is the MessagePack array [member (bin),
                 score (float 64), ...] in (score, member) order (format 5; small sets,
                 ``minikv.zset.PackedZSet``: loaded as one object, not one per element)
    list         array of arrays of bin (the quicklist's nodes, in order)
                 or, for a small list (format 5), array [bin, count, fill]: the
                 ``PackedList`` as it is, its bin a MessagePack array of bin (the elements)
    stream       array ["stream", nodes, length, last_id, entries_added, max_deleted, groups]
                 (format 4; ``minikv.stream``: msgspec Structs encoded as arrays)

The in-memory values *are* those containers (``dict``, ``SetValue`` and ``ZSet`` are dict
subclasses, ``QuickList`` a list subclass of plain lists, ``Stream``, ``PackedZSet`` and
``PackedList`` and ``PackedHash`` msgspec Structs), so the encoder never calls back into Python
and never writes a reference count: the child's copy-on-write stays near zero for every type. A
collection other than a stream is never empty. Format 1 (read, never written) had sets as
arrays, lists as ext 1 (an array of elements) and sorted sets as ext 2 (a map member -> score).
Format 5 added packed (small) sorted sets, lists and hashes: each is stored as the one blob it
is in memory and loads as one ``bytes`` in one ``PackedZSet``, ``PackedList`` or
``PackedHash``, with no object per element (a version 1-4 file's one-node small lists and
small hashes are packed as they load, as Redis's loading does). Format 4 added streams. Format
3 added the header's ``functions``: the code of each function library (FUNCTION LOAD's
argument), in order; a format 2 file has none. The CRC-32 in the footer covers every byte
before the footer. Any MessagePack library can read the file
(``msgpack.Unpacker(f, strict_map_key=False)``).
"""

from __future__ import annotations

import io
import math
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import eq, is_, itemgetter, not_
from typing import IO, Any

import msgpack
import msgspec

from minikv import REDIS_VERSION, __version__, limits, packedlist
from minikv.packedhash import PackedHash, check_blobs, compact
from minikv.packedlist import PackedList
from minikv.quicklist import QuickList, current_fill
from minikv.setvalue import SetValue
from minikv.stream import from_plain
from minikv.zset import PackedZSet, ZSet, stored

MAGIC = "MINIKV"
FORMAT_VERSION = 5
FOOTER_SIZE = 19
# fixarray(3), fixstr(3) "EOF", uint64 marker + 8 bytes, uint32 marker + 4 bytes.
_FOOTER = struct.Struct(">B4sBQBI")


#: Versions this code reads; it writes the last one.
READABLE_VERSIONS = (1, 2, 3, 4, 5)
#: Format 1's ext codes: a list (payload: array of elements), a sorted set (map member -> score).
_V1_EXT_LIST = 1
_V1_EXT_ZSET = 2


def _enc_hook(obj: Any) -> Any:
    # Only reached for a type this format does not know: a bug, never user input.
    raise NotImplementedError(f"cannot snapshot a value of type {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    # Only format 1 has ext values; ``load_values`` refuses them in a later format. Their
    # payloads are checked as the format 2 value they became: a list of one node, a map of
    # scores.
    plain = msgpack.unpackb(data, strict_map_key=False, raw=False)
    want = {_V1_EXT_LIST: QuickList, _V1_EXT_ZSET: ZSet}.get(code)
    if want is None:
        raise ValueError(f"unknown value type (MessagePack ext {code})")
    one = {b"": [plain] if want is QuickList else plain}
    load_values(one, 2)
    got = type(one[b""])
    if got is not want and not (
        (want is ZSet and got is PackedZSet) or (want is QuickList and got is PackedList)
    ):
        raise ValueError(f"bad MessagePack ext {code} value")
    return one[b""]


def _all_bytes(items: Iterable[Any]) -> bool:
    """Whether every item is ``bytes``, checked in C: ``bytes.join`` refuses anything else that
    MessagePack decodes to (str, int, float, None, containers)."""
    try:
        _join(items)
    except TypeError:
        return False
    return True


_join = b"".join
_NoneType = type(None)


def _only(types: list[type], t: type) -> bool:
    return types.count(t) == len(types)


def _select(keys: list[Any], values: list[Any], types: list[type], t: type) -> tuple[list, list]:
    """The keys and values whose type (in ``types``) is ``t``."""
    sel = list(map(is_, types, repeat(t)))
    return list(compress(keys, sel)), list(compress(values, sel))


def load_values(data: dict[Any, Any], version: int) -> None:
    """A decoded chunk's ``{key: value}`` -> the in-memory values, in place. Raises ValueError
    for anything the writer never writes (a non-bin key, an empty collection, a non-bin member,
    a mixed map), so a crafted file is refused rather than loaded as garbage.

    Loading runs this once per chunk (a shard: about a thousandth of the keys), and it works
    in C-level passes over all the chunk's values of a type at once — ``map``, ``compress``,
    ``bytes.join`` as a check that everything is ``bytes`` — with no Python code per value:
    that is most of what loading costs (the rest is decoding and placing the keys)."""
    if not _all_bytes(data):
        raise ValueError("bad key")
    values = list(data.values())
    types = list(map(type, values))
    if _only(types, bytes):  # all strings: nothing to build
        return
    keys = list(data)
    maps = _select(keys, values, types, dict) if types.count(dict) else None
    arrays = _select(keys, values, types, list) if types.count(list) else None
    # Only ``data`` and the selections hold the decoded values now: each is freed as soon as
    # its in-memory value replaces it (a decoded stream is much bigger than the Stream).
    del values
    if maps is not None:
        _load_maps(data, *maps)
        maps = None
    if arrays is not None:
        _load_arrays(data, *arrays, version)
    rest = len(types) - types.count(bytes) - types.count(dict) - types.count(list)
    if rest:
        # Only format 1's ext values (built by _ext_hook) may be anything else.
        made = (
            sum(map(types.count, (QuickList, PackedList, ZSet, PackedZSet))) if version == 1 else 0
        )
        if made != rest:
            bad = next(
                t
                for t in types
                if t not in (bytes, dict, list, QuickList, PackedList, ZSet, PackedZSet)
            )
            raise ValueError(f"unexpected {bad.__name__} value")


def _load_maps(data: dict[Any, Any], keys: list[bytes], maps: list[dict[Any, Any]]) -> None:
    """Hashes (bin -> bin, kept as they are), sets (bin -> nil) and sorted sets (bin ->
    float): a map's first value says which, and every map must then be all of that kind."""
    if not all(maps):
        raise ValueError("empty collection")
    if not _all_bytes(chain.from_iterable(maps)):
        raise ValueError("bad hash field, set member or sorted set member")
    # The type of every value: one kind only (the usual chunk) needs no selection.
    kinds = list(map(type, chain.from_iterable(map(dict.values, maps))))
    if _only(kinds, bytes):  # hashes
        _load_hashes(data, keys, maps)
        return
    if _only(kinds, _NoneType):
        _load_sets(data, keys, maps)
        return
    if _only(kinds, float):
        _load_zsets(data, keys, maps)
        return
    # A mix: each map's first value says which it is, and all its values must agree.
    firsts = list(map(type, map(next, map(iter, map(dict.values, maps)))))
    hkeys, hashes = _select(keys, maps, firsts, bytes)
    skeys, sets = _select(keys, maps, firsts, _NoneType)
    zkeys, zsets = _select(keys, maps, firsts, float)
    if len(hashes) + len(sets) + len(zsets) != len(maps) or not _all_bytes(
        chain.from_iterable(map(dict.values, hashes))
    ):
        raise ValueError("bad hash field or value")
    if hashes:
        _load_hashes(data, hkeys, hashes)
    if sets:
        nils = list(chain.from_iterable(map(dict.values, sets)))
        if nils.count(None) != len(nils):
            raise ValueError("bad set member")
        _load_sets(data, skeys, sets)
    if zsets:
        if not _only(list(map(type, chain.from_iterable(map(dict.values, zsets)))), float):
            raise ValueError("bad sorted set score")
        _load_zsets(data, zkeys, zsets)


def _load_hashes(data: dict[Any, Any], keys: list[bytes], hashes: list[dict[Any, Any]]) -> None:
    """Maps already checked to be bin -> bin: packed if they fit (every hash of a format 1-4
    file; a format 5 file's big ones, unless the thresholds were raised since)."""
    data.update(zip(keys, map(compact, hashes), strict=True))


def _load_packed_hashes(data: dict[Any, Any], keys: list[bytes], arrays: list[list[Any]]) -> None:
    """Format 5's packed hashes, ``["hash", blob]``, each blob checked
    (``packedhash.check_blobs``)."""
    if not _only(list(map(len, arrays)), 2):
        raise ValueError("bad packed hash")
    blobs = list(map(itemgetter(1), arrays))
    fit = check_blobs(blobs)
    packed = list(map(PackedHash, blobs))
    if not fit:
        # Thresholds lowered since the save: those over them are hashtables, as Redis loads.
        packed = [compact(p.to_dict()) for p in packed]
    data.update(zip(keys, packed, strict=True))


def _load_sets(data: dict[Any, Any], keys: list[bytes], sets: list[dict[Any, Any]]) -> None:
    """Maps already checked to be bin -> nil."""
    data.update(zip(keys, map(SetValue, sets), strict=True))


def _load_zsets(data: dict[Any, Any], keys: list[bytes], zsets: list[dict[Any, Any]]) -> None:
    """Maps already checked to be bin -> float."""
    if any(map(math.isnan, chain.from_iterable(map(dict.values, zsets)))):
        raise ValueError("bad sorted set score (NaN)")
    # Small ones packed: a format 1-4 file's (format 5 writes only big ones as maps).
    data.update(zip(keys, map(stored, ZSet.many_from_scores(zsets)), strict=True))


def _load_packed_zsets(data: dict[Any, Any], keys: list[bytes], arrays: list[list[Any]]) -> None:
    """Format 5's small sorted sets, ``["zset", blob]`` (``PackedZSet``), checked in C-level
    passes over all of them: each blob an array of bin/float pairs, non-empty, no NaN, in
    strictly increasing (score, member) order. A set past the current thresholds (a CONFIG
    change between save and load) becomes a big one, as Redis converts on loading."""
    tags = list(map(itemgetter(0), arrays))
    blobs = list(map(itemgetter(1), arrays))
    if tags.count("zset") != len(tags) or not _only(list(map(type, blobs)), bytes):
        raise ValueError("bad array value")
    try:
        flats = list(map(_unpack_flat, blobs))
    except msgspec.DecodeError:
        raise ValueError("bad packed sorted set") from None
    members = list(map(itemgetter(slice(0, None, 2)), flats))
    scores = list(map(itemgetter(slice(1, None, 2)), flats))
    sizes = list(map(len, members))
    if (
        not all(members)
        or sizes != list(map(len, scores))
        or not _all_bytes(chain.from_iterable(members))
        or not _only(list(map(type, chain.from_iterable(scores))), float)
        or any(map(math.isnan, chain.from_iterable(scores)))
    ):
        raise ValueError("bad packed sorted set")
    pairs = list(map(list, map(zip, scores, members)))
    if pairs != list(map(sorted, pairs)) or sizes != list(map(len, map(set, members))):
        raise ValueError("bad packed sorted set (order or duplicates)")
    lim = limits.current
    if max(sizes) > lim.zset_max_listpack_entries or (
        max(map(len, chain.from_iterable(members))) > lim.zset_max_listpack_value
    ):
        built = [
            stored(ZSet.from_scores(dict(zip(m, s, strict=True))))
            for m, s in zip(members, scores, strict=True)
        ]
        data.update(zip(keys, built, strict=True))
        return
    data.update(zip(keys, map(PackedZSet, blobs), strict=True))


_unpack_flat = msgspec.msgpack.Decoder(list[bytes | float]).decode
#: Format 5's packed collections, ``[tag, blob]``, by tag: each loader checks all of a chunk's
#: values of its tag in C-level passes.
_PACKED_LOADERS = {"zset": _load_packed_zsets, "hash": _load_packed_hashes}


def _load_arrays(
    data: dict[Any, Any], keys: list[bytes], arrays: list[list[Any]], version: int
) -> None:
    """Lists (an array of nodes, arrays of bin; format 5 on also a packed list, an array
    whose first item is a bin), streams (an array tagged "stream", format 4 on), packed sorted
    sets and hashes (tagged "zset", "hash", format 5 on) and format 1's sets (an array of
    bin)."""
    if not all(arrays):
        raise ValueError("empty collection")
    if version == 1:  # sets
        if not _all_bytes(chain.from_iterable(arrays)):
            raise ValueError("bad set")
        data.update(zip(keys, map(SetValue.fromkeys, arrays), strict=True))
        return
    if version >= 5:
        names = list(map(itemgetter(0), arrays))
        for tag, load in _PACKED_LOADERS.items():
            if names.count(tag) == len(names):  # one packed kind (the usual chunk): no selection
                load(data, keys, arrays)
                return
        del names
    if version >= 4:
        tags = list(map(type, map(itemgetter(0), arrays)))
        if not _only(tags, list):  # streams, packed sorted sets and hashes: tagged by a str
            n = len(arrays)
            skeys, streams = _select(keys, arrays, tags, str)
            # Packed lists (format 5): tagged by their first item, a bin.
            pkeys, plists = _select(keys, arrays, tags, bytes) if version >= 5 else ([], [])
            keys, arrays = _select(keys, arrays, tags, list)
            if len(streams) + len(plists) + len(arrays) != n:
                raise ValueError("bad list")
            if version >= 5:  # streams and packed collections: tagged "stream", "zset", "hash"
                names = list(map(itemgetter(0), streams))
                for tag, load in _PACKED_LOADERS.items():
                    if tag in names:
                        which = list(map(eq, names, repeat(tag)))
                        load(data, list(compress(skeys, which)), list(compress(streams, which)))
                        rest = list(map(not_, which))
                        skeys, streams, names = (
                            list(compress(x, rest)) for x in (skeys, streams, names)
                        )
            del streams
            for key in skeys:  # one by one: each decoded stream is freed before the next
                data[key] = from_plain(data[key])
            if plists:
                _load_packed(data, pkeys, plists)
            if not arrays:
                return
    blocks = list(chain.from_iterable(arrays))
    if not _only(list(map(type, blocks)), list) or not _all_bytes(chain.from_iterable(blocks)):
        raise ValueError("bad list")
    del blocks
    if version <= 4:  # one-node lists that a version 5 writer would have packed
        keys, arrays = _pack_single_nodes(data, keys, arrays)
        if not arrays:
            return
    lists = QuickList.many_from_blocks(arrays)
    if not all(lists):  # only empty nodes
        raise ValueError("empty collection")
    data.update(zip(keys, lists, strict=True))


def _load_packed(data: dict[Any, Any], keys: list[bytes], packed: list[list[Any]]) -> None:
    """Packed lists, ``[blob, count, fill]``: each blob must decode (in C) to a non-empty array
    of ``count`` bin. Kept as they are when they are packable under the current fill (the
    usual case: one PackedList each, taking the blob over); any other becomes a QuickList. The
    stored fill is the writer's: as a QuickList does, the loaded list takes the current one."""
    if not _only(list(map(len, packed)), 3):
        raise ValueError("bad packed list")
    blobs = list(map(itemgetter(0), packed))
    try:
        lists = list(map(packedlist.decode, blobs))
    except msgspec.DecodeError:  # not MessagePack, or not an array of bin
        raise ValueError("bad packed list") from None
    counts = list(map(len, lists))
    if counts != list(map(itemgetter(1), packed)) or not all(counts):
        raise ValueError("bad packed list count")
    _place_packed(data, keys, blobs, counts, lists)


def _place_packed(
    data: dict[Any, Any],
    keys: list[bytes],
    blobs: list[bytes],
    counts: list[int],
    lists: list[list[bytes]],
) -> None:
    """Store a PackedList for each key whose list is packable under the current fill; the
    rest become QuickLists."""
    fill = current_fill()
    ok = list(map(packedlist.packable, counts, map(len, blobs), repeat(fill)))
    if all(ok):
        data.update(zip(keys, map(PackedList, blobs, counts, repeat(fill)), strict=True))
        return
    for key, blob, n, items, good in zip(keys, blobs, counts, lists, ok, strict=True):
        data[key] = PackedList(blob, n, fill) if good else QuickList.from_blocks([items])


def _pack_single_nodes(
    data: dict[Any, Any], keys: list[bytes], arrays: list[list[list[bytes]]]
) -> tuple[list[bytes], list[list[list[bytes]]]]:
    """Of a version 1-4 file's lists (checked: non-empty arrays of arrays of bin), those of one
    non-empty node that a version 5 writer would have packed are stored packed; returns the
    others' keys and arrays."""
    single = list(map(eq, map(len, arrays), repeat(1)))
    skeys, singles = list(compress(keys, single)), list(compress(arrays, single))
    nodes = list(map(itemgetter(0), singles))
    counts = list(map(len, nodes))
    keep = list(map(bool, counts))  # an empty single node: left to the general check
    skeys, nodes, counts = (list(compress(x, keep)) for x in (skeys, nodes, counts))
    if not skeys:
        return keys, arrays
    fill = current_fill()
    blobs = list(map(packedlist.encode, nodes))
    ok = list(map(packedlist.packable, counts, map(len, blobs), repeat(fill)))
    pkeys = list(compress(skeys, ok))
    data.update(
        zip(
            pkeys,
            map(PackedList, compress(blobs, ok), compress(counts, ok), repeat(fill)),
            strict=True,
        )
    )
    if len(pkeys) == len(keys):
        return [], []
    done = set(pkeys)
    rest = [k not in done for k in keys]
    return list(compress(keys, rest)), list(compress(arrays, rest))


class SnapshotError(Exception):
    """A snapshot file that cannot be loaded; the message names the file and the problem."""


def encode_footer(keys: int, crc: int) -> bytes:
    return _FOOTER.pack(0x93, b"\xa3EOF", 0xCF, keys, 0xCE, crc)


def decode_footer(data: bytes) -> tuple[int, int]:
    if len(data) != FOOTER_SIZE:
        raise ValueError("short footer")
    a, eof, m1, keys, m2, crc = _FOOTER.unpack(data)
    if a != 0x93 or eof != b"\xa3EOF" or m1 != 0xCF or m2 != 0xCE:
        raise ValueError("no end-of-file footer")
    return keys, crc


class SnapshotWriter:
    """Writes a snapshot to any binary stream, one chunk at a time, keeping the CRC."""

    def __init__(
        self,
        stream: IO[bytes],
        created_ms: int | None = None,
        functions: Iterable[bytes] = (),
    ) -> None:
        self.stream = stream
        self.crc = 0
        self.keys = 0
        self.bytes_written = 0
        self._enc = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
        self._buf = bytearray()
        header = {
            "magic": MAGIC,
            "format": FORMAT_VERSION,
            "minikv": __version__,
            "redis_compat": REDIS_VERSION,
            "created_ms": created_ms if created_ms is not None else time.time_ns() // 1_000_000,
            "functions": list(functions),
        }
        self._write(msgpack.packb(header))

    def _write(self, data: bytes | bytearray) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.stream.write(data)
        self.bytes_written += len(data)

    def write_chunk(self, db: int, data: dict[bytes, Any], expires: dict[bytes, int]) -> None:
        """One shard: ``data`` maps key -> value, ``expires`` key -> deadline (unix ms)."""
        buf = self._buf
        self._enc.encode_into([db, data, expires], buf)
        self._write(buf)
        self.keys += len(data)
        # Keep the buffer from holding on to the largest chunk ever seen.
        if len(buf) > 4 * 1024 * 1024:
            self._buf = bytearray()

    def finish(self) -> None:
        footer = encode_footer(self.keys, self.crc)
        self.stream.write(footer)
        self.bytes_written += len(footer)


@dataclass
class Header:
    magic: str
    format: int
    minikv: str
    created_ms: int
    raw: dict[str, Any]
    #: The function libraries' codes (format 3; none before).
    functions: list[bytes] = field(default_factory=list)


class _CrcReader:
    """File wrapper that CRCs what is read, up to the footer."""

    def __init__(self, f: IO[bytes], limit: int) -> None:
        self.f = f
        self.remaining = limit
        self.crc = 0
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        if n < 0 or n > self.remaining:
            n = self.remaining
        data = self.f.read(n)
        self.remaining -= len(data)
        self.consumed += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return data


def read_snapshot(
    path: str, verify_crc: bool = True, data: bytes | bytearray | None = None
) -> tuple[Header, Iterator[tuple[int, dict[bytes, Any], dict[bytes, int]]], Any]:
    """Open ``path`` and return (header, chunks, finish).

    ``chunks`` yields ``(db, data, expires)`` one shard at a time (streaming: one chunk in
    memory). After the iterator is exhausted, ``finish()`` checks the key count and the CRC and
    returns the key count from the footer. Every problem raises SnapshotError naming the file.
    With ``data`` the snapshot is read from memory (a replica's diskless load) and ``path``
    only names it in errors.
    """
    if data is not None:
        f: IO[bytes] = io.BytesIO(data)
    else:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by finish() or on error
        except OSError as e:
            raise SnapshotError(f"{path}: cannot open: {e.strerror}") from None
    try:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        if size < FOOTER_SIZE + 1:
            raise SnapshotError(f"{path}: truncated or not a minikv snapshot ({size} bytes)")
        f.seek(size - FOOTER_SIZE)
        try:
            want_keys, want_crc = decode_footer(f.read(FOOTER_SIZE))
        except ValueError:
            raise SnapshotError(
                f"{path}: truncated or corrupt: the end-of-file footer is missing"
            ) from None
        f.seek(0)
        src = _CrcReader(f, size - FOOTER_SIZE)
        unpacker = msgpack.Unpacker(
            src, strict_map_key=False, raw=False, max_buffer_size=0, ext_hook=_ext_hook
        )
        try:
            header = unpacker.unpack()
        except Exception as e:
            raise SnapshotError(f"{path}: corrupt header: {e}") from None
        if not isinstance(header, dict) or header.get("magic") != MAGIC:
            raise SnapshotError(f"{path}: not a minikv snapshot (bad magic)")
        version = header.get("format")
        if version not in READABLE_VERSIONS:
            raise SnapshotError(
                f"{path}: unknown snapshot format version {version!r} "
                f"(this minikv reads versions {', '.join(map(str, READABLE_VERSIONS))})"
            )
        functions = header.get("functions", [])
        if not isinstance(functions, list) or not all(type(c) is bytes for c in functions):
            raise SnapshotError(f"{path}: corrupt header: bad functions section")
        hdr = Header(
            magic=MAGIC,
            format=version,
            minikv=str(header.get("minikv", "?")),
            created_ms=int(header.get("created_ms", 0)),
            raw=header,
            functions=functions,
        )
    except BaseException:
        f.close()
        raise

    counted = 0

    def chunks() -> Iterator[tuple[int, dict[bytes, Any], dict[bytes, int]]]:
        nonlocal counted
        try:
            for obj in unpacker:
                if (
                    not isinstance(obj, list)
                    or len(obj) != 3
                    or not isinstance(obj[0], int)
                    or not isinstance(obj[1], dict)
                    or not isinstance(obj[2], dict)
                ):
                    raise SnapshotError(f"{path}: corrupt record at byte ~{src.consumed}")
                data = obj[1]
                load_values(data, version)
                counted += len(data)
                yield obj[0], data, obj[2]
        except SnapshotError:
            raise
        except Exception as e:
            raise SnapshotError(f"{path}: corrupt data at byte ~{src.consumed}: {e}") from None

    def finish() -> int:
        try:
            if src.remaining:
                raise SnapshotError(f"{path}: corrupt: trailing data before the footer")
            if verify_crc and src.crc != want_crc:
                raise SnapshotError(
                    f"{path}: checksum mismatch (file says {want_crc:08x}, "
                    f"data gives {src.crc:08x})"
                )
            if counted != want_keys:
                raise SnapshotError(
                    f"{path}: key count mismatch (footer {want_keys}, records {counted})"
                )
            return want_keys
        finally:
            f.close()

    return hdr, chunks(), finish
