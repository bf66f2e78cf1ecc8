"""The snapshot file format: a stream of MessagePack objects, written and read with no I/O policy.

Layout (documented for users in docs/snapshot-format.md)::

    header   map   {"magic": "MINIKV", "format": 1, "minikv": "0.1.0", "created_ms": int,
                    "redis_compat": "7.0.15"}
    chunk*   array [db_index, {key: value, ...}, {key: deadline_unix_ms, ...}]
    footer   array ["EOF", keys: uint64, crc32: uint32]   (always 19 bytes, fixed-width ints)

A chunk is one shard of one database (see keyspace.py): the writer encodes each shard dict with
``msgspec`` into one reused buffer. msgspec walks a dict with ``PyDict_Next`` and never touches the
reference counts of keys and values, so a forked child that writes a snapshot does not copy the
pages that hold them; and the buffer holds one shard at a time, so the child streams.

Values: the MessagePack type is the Redis type — ``bin`` a string, ``map`` a hash (field ->
value), ``array`` a set (members), ext 1 a list (payload: an array of elements), ext 2 a sorted
set (payload: a map member -> score). Hashes and sets are walked by msgspec in C like the shard
dicts; lists and sorted sets go through ``enc_hook`` (Python), which is the price of an ext type.
The CRC-32 in the footer covers every byte before the footer. Any MessagePack library can read
the file (``msgpack.Unpacker(f, strict_map_key=False)``).
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgpack
import msgspec

from minikv import REDIS_VERSION, __version__
from minikv.zset import ZSet

MAGIC = "MINIKV"
FORMAT_VERSION = 1
FOOTER_SIZE = 19
# fixarray(3), fixstr(3) "EOF", uint64 marker + 8 bytes, uint32 marker + 4 bytes.
_FOOTER = struct.Struct(">B4sBQBI")


#: Values that MessagePack has no native type for: Python type -> (ext code, to plain object),
#: and ext code -> from plain object. Types register themselves with ``register_ext``.
_EXT_ENCODE: dict[type, tuple[int, Callable[[Any], Any]]] = {}
_EXT_DECODE: dict[int, Callable[[Any], Any]] = {}
EXT_LIST = 1
EXT_ZSET = 2


def register_ext(
    code: int, cls: type, to_plain: Callable[[Any], Any], from_plain: Callable[[Any], Any]
) -> None:
    _EXT_ENCODE[cls] = (code, to_plain)
    _EXT_DECODE[code] = from_plain


register_ext(EXT_LIST, deque, list, deque)
register_ext(EXT_ZSET, ZSet, lambda z: z.scores, ZSet.from_scores)


def _enc_hook(obj: Any) -> Any:
    try:
        code, to_plain = _EXT_ENCODE[type(obj)]
    except KeyError:
        raise NotImplementedError(f"cannot snapshot a value of type {type(obj).__name__}") from None
    return msgspec.msgpack.Ext(code, _inner_encoder.encode(to_plain(obj)))


def _ext_hook(code: int, data: bytes) -> Any:
    try:
        from_plain = _EXT_DECODE[code]
    except KeyError:
        raise ValueError(f"unknown value type (MessagePack ext {code})") from None
    return from_plain(msgpack.unpackb(data, strict_map_key=False, raw=False))


_inner_encoder = msgspec.msgpack.Encoder()


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

    def __init__(self, stream: IO[bytes], created_ms: int | None = None) -> None:
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
    path: str, verify_crc: bool = True
) -> tuple[Header, Iterator[tuple[int, dict[bytes, Any], dict[bytes, int]]], Any]:
    """Open ``path`` and return (header, chunks, finish).

    ``chunks`` yields ``(db, data, expires)`` one shard at a time (streaming: one chunk in
    memory). After the iterator is exhausted, ``finish()`` checks the key count and the CRC and
    returns the key count from the footer. Every problem raises SnapshotError naming the file.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by finish() or on error
    except OSError as e:
        raise SnapshotError(f"{path}: cannot open: {e.strerror}") from None
    try:
        size = os.fstat(f.fileno()).st_size
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
        if header.get("format") != FORMAT_VERSION:
            raise SnapshotError(
                f"{path}: unknown snapshot format version {header.get('format')!r} "
                f"(this minikv reads version {FORMAT_VERSION})"
            )
        hdr = Header(
            magic=MAGIC,
            format=FORMAT_VERSION,
            minikv=str(header.get("minikv", "?")),
            created_ms=int(header.get("created_ms", 0)),
            raw=header,
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
                for k, v in data.items():
                    if type(v) is list:  # a MessagePack array is a set
                        data[k] = set(v)
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
