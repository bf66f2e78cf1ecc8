"""Redis's DUMP payload format: what FUNCTION DUMP gives and FUNCTION RESTORE takes.

Byte for byte Redis 7.0's, so that a payload made by redis-server restores into minikv and one
made by minikv restores into redis-server: RDB-encoded records, then the RDB version (2 bytes,
little endian) and a CRC-64 (the Jones polynomial of Redis's crc64.c, little endian) of every
byte before it. This module knows only the framing and RDB's length and string encodings, not
what the records mean.

minikv writes strings uncompressed (every RDB reader accepts that); it reads the LZF-compressed
strings redis-server writes for compressible strings of more than 20 bytes, and the integer
encodings. Every problem with a payload raises ``ValueError``; nothing read here is trusted
(a length is checked against the bytes left before anything is allocated).
"""

from __future__ import annotations

import struct

#: The RDB version Redis 7.0 writes; a payload of a later version is refused, as Redis does.
RDB_VERSION = 10
FOOTER_SIZE = 10  # version (2) + CRC-64 (8)

# Redis's crc64.c: reflected, polynomial 0xad93d23594c935a9 (given here bit-reversed), init 0.
_POLY = 0x95AC9329AC4BC9B5


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        table.append(c)
    return table


_TABLE = _crc_table()


def crc64(data: bytes, crc: int = 0) -> int:
    """Redis's crc64 (``crc64(0, "123456789") == 0xe9c6d914c4b8d9ca``)."""
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def seal(body: bytes) -> bytes:
    """``body`` with the version and checksum after it: a complete payload."""
    out = body + RDB_VERSION.to_bytes(2, "little")
    return out + crc64(out).to_bytes(8, "little")


def unseal(payload: bytes) -> tuple[bytes, int]:
    """(records, RDB version) of a payload; ValueError if the version is one this code does not
    know or the checksum is wrong (Redis's verifyDumpPayload)."""
    if len(payload) < FOOTER_SIZE:
        raise ValueError("short payload")
    version = int.from_bytes(payload[-10:-8], "little")
    if version > RDB_VERSION:
        raise ValueError("unknown RDB version")
    if crc64(payload[:-8]) != int.from_bytes(payload[-8:], "little"):
        raise ValueError("bad checksum")
    return payload[:-10], version


def encode_length(n: int) -> bytes:
    """RDB's length encoding: 6, 14, 32 or 64 bits, by size."""
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | n >> 8, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(s: bytes) -> bytes:
    return encode_length(len(s)) + s


_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3


class Reader:
    """Reads RDB records from a bytes object, front to back."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.left:
            raise ValueError("truncated payload")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def length(self) -> tuple[int, bool]:
        """(length, whether it is instead a special string encoding) — rdbLoadLenByRef."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return (first & 0x3F) << 8 | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise ValueError(f"unknown length encoding 0x{first:02x}")

    def string(self) -> bytes:
        n, encoded = self.length()
        if not encoded:
            return self.take(n)
        if n == _ENC_INT8:
            return b"%d" % struct.unpack("<b", self.take(1))[0]
        if n == _ENC_INT16:
            return b"%d" % struct.unpack("<h", self.take(2))[0]
        if n == _ENC_INT32:
            return b"%d" % struct.unpack("<i", self.take(4))[0]
        if n == _ENC_LZF:
            clen, enc1 = self.length()
            size, enc2 = self.length()
            if enc1 or enc2 or size == 0:
                raise ValueError("bad compressed string header")
            return lzf_decompress(self.take(clen), size)
        raise ValueError(f"unknown string encoding {n}")


def lzf_decompress(data: bytes, size: int) -> bytes:
    """liblzf's format: a control byte < 32 is a run of that many literals plus one; otherwise
    a back reference (length in the top 3 bits, extended by a byte when 7; 13-bit offset).
    The output must come out exactly ``size`` bytes long."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n or len(out) + run > size:
                raise ValueError("corrupt compressed string")
            out += data[i : i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise ValueError("corrupt compressed string")
            length += data[i]
            i += 1
        if i >= n:
            raise ValueError("corrupt compressed string")
        ref = len(out) - ((ctrl & 0x1F) << 8) - 1 - data[i]
        i += 1
        length += 2
        if ref < 0 or len(out) + length > size:
            raise ValueError("corrupt compressed string")
        if ref + length <= len(out):
            out += out[ref : ref + length]
        else:  # the copy overlaps what it writes: byte by byte, as liblzf
            for k in range(length):
                out.append(out[ref + k])
    if len(out) != size:
        raise ValueError("corrupt compressed string")
    return bytes(out)
