"""Redis's DUMP payload format: what DUMP and FUNCTION DUMP give, RESTORE and FUNCTION RESTORE
take.

Byte for byte Redis 7.0's, so that a payload made by redis-server restores into minikv and one
made by minikv restores into redis-server: RDB-encoded records, then the RDB version (2 bytes,
little endian) and a CRC-64 (the Jones polynomial of Redis's crc64.c, little endian) of every
byte before it. This module knows the framing and RDB's length and string encodings; what a
key's value looks like inside (listpacks, intsets, streams...) is ``minikv.persistence.rdbvalue``.

Strings are written as Redis's rdbSaveRawString writes them (``encode_string``): a decimal
integer of up to 11 characters that fits 32 bits in its integer encoding, a string of more than
20 bytes LZF-compressed when that saves at least 4 bytes (with ``rdbcompression yes``, Redis's
default; ``no`` skips it, as in Redis, and makes DUMP much cheaper), anything else verbatim.
``lzf_compress`` is liblzf 3.6 as Redis builds it (HLOG 16, VERY_FAST), so the output is
Redis's own for the same input, with one caveat: Redis does not clear liblzf's hash table
between calls (INIT_HTAB 0), so a stale slot can, rarely, point at an earlier match that a
cleared table would not offer; minikv always starts from an empty table.
Either output decompresses to the same bytes. Every problem with a payload read here raises
``ValueError``; nothing read is trusted (a length is checked against the bytes left before
anything is allocated).
"""

from __future__ import annotations

import struct

from minikv import limits

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


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def encode_int(v: int) -> bytes | None:
    """rdbEncodeInteger: the 8, 16 or 32-bit integer encoding of ``v``, None if it is wider."""
    if -128 <= v <= 127:
        return b"\xc0" + struct.pack("<b", v)
    if -32768 <= v <= 32767:
        return b"\xc1" + struct.pack("<h", v)
    if _INT32_MIN <= v <= _INT32_MAX:
        return b"\xc2" + struct.pack("<i", v)
    return None


def string2ll(s: bytes) -> int | None:
    """Redis's string2ll: a canonical decimal (no sign but '-', no leading zero, not "-0")
    that fits 64 bits."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 48:
        return 0 if n == 1 else None
    if c == 45:
        if n == 1 or not 49 <= s[1] <= 57 or not s[1:].isdigit():
            return None
    elif not (49 <= c <= 57 and s.isdigit()):
        return None
    v = int(s)
    return v if -(2**63) <= v < 2**63 else None


def encode_string(s: bytes) -> bytes:
    """rdbSaveRawString: integer encoding, else LZF for more than 20 bytes (with
    ``rdbcompression yes``), else verbatim."""
    n = len(s)
    if n <= 11:
        v = string2ll(s)
        if v is not None:
            enc = encode_int(v)
            if enc is not None:
                return enc
    elif n > 20 and limits.current.rdbcompression:
        packed = lzf_compress(s, n - 4)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + s


def encode_uncompressed(s: bytes) -> bytes:
    """A string verbatim (every RDB reader accepts it), for callers that must not compress."""
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

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def i64(self) -> int:
        return int.from_bytes(self.take(8), "little", signed=True)

    def count(self) -> int:
        """rdbLoadLen(rdb, NULL): a length, where an "encoded" first byte (11xxxxxx) is read
        as its low 6 bits, as Redis does when it does not ask."""
        return self.length()[0]

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
            # rdbLoadLzfStringObject reads both lengths with rdbLoadLen(rdb, NULL).
            clen = self.count()
            size = self.count()
            return lzf_decompress(self.take(clen), size)
        raise ValueError(f"unknown string encoding {n}")


def lzf_decompress(data: bytes, size: int) -> bytes:
    """liblzf's format: a control byte < 32 is a run of that many literals plus one; otherwise
    a back reference (length in the top 3 bits, extended by a byte when 7; 13-bit offset).
    The output must come out exactly ``size`` bytes long. With ``size`` 0 any input gives the
    empty string: liblzf's lzf_decompress returns 0 on error, which Redis compares with the
    expected length."""
    if size == 0:
        return b""
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


# --- LZF compression (liblzf 3.6's lzf_c.c with Redis's lzfP.h) ---------------------------------

_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """lzf_compress(data, len(data), out, out_len): the compressed bytes, or None if they do
    not fit in ``out_len`` bytes (Redis passes ``len - 4``: compression must save 4 bytes).

    Written to make exactly liblzf's choices: the hash of the 3 bytes at a position
    (FRST/NEXT/IDX with HLOG 16 and VERY_FAST: only the low 24 bits of the running hash
    count, so it is a function of those 3 bytes), a match only when the slot's position is
    after the input's first byte and within 8 KiB, the unrolled match extension that may run
    one byte past ``maxlen``, and after a match the last two positions hashed again."""
    in_len = len(data)
    if not in_len or out_len <= 0:
        return None
    htab: dict[int, int] = {}
    out = bytearray(out_len + 300)  # room for the few bytes written before a length check
    ip = 0
    op = 1  # start run: out[0] is the literal run's control byte
    lit = 0
    end2 = in_len - 2
    while ip < end2:
        h = data[ip] << 16 | data[ip + 1] << 8 | data[ip + 2]
        idx = ((h >> 8) - h * 5) & 0xFFFF
        ref = htab.get(idx, -1)
        htab[idx] = ip
        off = ip - ref - 1
        if (
            ref > 0
            and off < _MAX_OFF
            and data[ref + 2] == data[ip + 2]
            and data[ref] == data[ip]
            and data[ref + 1] == data[ip + 1]
        ):
            length = 2
            maxlen = in_len - ip - length
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            if op + 4 >= out_len and op - (0 if lit else 1) + 4 >= out_len:
                return None
            out[op - lit - 1] = lit - 1 & 0xFF  # stop run
            if not lit:
                op -= 1  # undo run if length is zero
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        break
                else:
                    length += 1
                    while length < maxlen and data[ref + length] == data[ip + length]:
                        length += 1
            else:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2  # len is now #octets - 1
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # the offset byte, then start a new run
            lit = 0
            ip += length + 1
            if ip >= end2:
                break
            ip -= 2
            for _ in range(2):
                h = data[ip] << 16 | data[ip + 1] << 8 | data[ip + 2]
                htab[((h >> 8) - h * 5) & 0xFFFF] = ip
                ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1  # stop run
                lit = 0
                op += 1  # start run
    if op + 3 > out_len:
        return None
    while ip < in_len:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = lit - 1 & 0xFF  # end run
    if not lit:
        op -= 1
    return bytes(out[:op])
