"""HyperLogLog values, byte for byte as Redis 7.0 makes them (its hyperloglog.c).

An HLL is a plain string value: a 16-byte header and the registers. The header is ``HYLL``,
one encoding byte (0 dense, 1 sparse), three unused bytes and the cached cardinality as a
little-endian 64-bit integer whose top bit, when set, marks the cache invalid. There are
16384 registers (``HLL_P`` = 14); an element is hashed with MurmurHash64A (seed
``0xadc83b19``): the low 14 bits pick the register, and the position of the lowest set bit
of the other 50 (plus one) is the value the register is raised to.

- Dense: 16384 registers of 6 bits, packed from the least significant bit of each byte up
  (12288 bytes; the value is always 12304 bytes long).
- Sparse: run-length opcodes after the header. ``00xxxxxx`` ZERO (1..64 registers at 0),
  ``01xxxxxx yyyyyyyy`` XZERO (1..16384 at 0), ``1vvvvvxx`` VAL (1..4 registers at 1..32).
  A new HLL is sparse (one XZERO:16384). Setting a register edits the opcode that covers it
  in place (splitting it, then merging equal neighbouring VALs within a few opcodes) exactly
  as Redis does, so the bytes depend on the order registers were set in, and they are the
  same as Redis's. A register above 32, or a value that would grow past
  ``hll-sparse-max-bytes`` (the caller passes it), promotes the HLL to dense.

The estimate is Redis's (Otmar Ertl's estimator: ``hllTau``, ``hllSigma`` over the register
histogram, ``llroundl``), computed in the same double-precision steps, so it is the same
integer. Corrupted values behave as Redis's do: a sparse value whose opcodes do not cover
exactly 16384 registers is ``INVALIDOBJ`` where Redis finds out (counting, merging, adding
past the damage); a byte past the end of the string reads as 0, as Redis reads the
terminating NUL of its sds strings.

Speed: values are immutable ``bytes`` in the keyspace, so an add reads the registers from the
bytes and copies only when a register really rises; the hash is inlined in the add loop. Whole
register arrays (PFCOUNT's histogram, the register-wise maximum of PFMERGE and of PFCOUNT of
several keys) are never walked register by register: they are big integers with one register
per byte ("register arrays"), made from and turned back into the dense layout with strided
``bytes`` slices and a few shifts and masks, maximised with a borrow-free subtraction, and
counted by transposing 8x8 bit blocks into bit planes and splitting the registers plane by
plane with ``&`` and ``int.bit_count``. Plain typed Python, so mypyc can compile it.

This module knows nothing of commands, replies or the keyspace (``minikv.commands.hyperloglog``
does); errors are return values.
"""

from __future__ import annotations

import math
import random
import re
import struct
from collections import Counter
from collections.abc import Sequence

HLL_P = 14
REGISTERS = 1 << HLL_P  # 16384
P_MASK = REGISTERS - 1
HLL_Q = 64 - HLL_P  # 50
HDR_SIZE = 16
DENSE_BYTES = REGISTERS * 6 // 8  # 12288
DENSE_SIZE = HDR_SIZE + DENSE_BYTES  # 12304
DENSE = 0
SPARSE = 1
MAGIC = b"HYLL"
SEED = 0xADC83B19
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
#: The default of ``hll-sparse-max-bytes``.
SPARSE_MAX_BYTES = 3000
ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)

_M64 = 0xFFFFFFFFFFFFFFFF
_MURMUR_M = 0xC6A4A7935BD1E995
_Q_BIT = 1 << HLL_Q
_TOP_BIT = 1 << 63

#: An empty HLL as Redis's createHLLObject makes it: sparse, XZERO:16384, cache 0 (valid).
EMPTY = MAGIC + bytes([SPARSE]) + bytes(11) + bytes([0x40 | (REGISTERS - 1) >> 8, 0xFF])
#: What PFADD stores for a new key that no element changed: EMPTY, cache invalidated.
EMPTY_ADDED = EMPTY[:15] + b"\x80" + EMPTY[16:]


# --- hashing ------------------------------------------------------------------------------------


#: The hash's starting value for each short length (``seed ^ (len * m)``).
_H0 = [(SEED ^ (n * _MURMUR_M)) & _M64 for n in range(64)]


def murmurhash64a(data: bytes, seed: int = SEED) -> int:
    """Redis's MurmurHash64A (MurmurHash2, 64-bit, endian-neutral)."""
    m = _MURMUR_M
    n = len(data)
    h = (seed ^ (n * m)) & _M64
    nblocks = n >> 3
    if nblocks:
        for k in struct.unpack_from(f"<{nblocks}Q", data):
            k = k * m & _M64
            h = (h ^ ((k ^ (k >> 47)) * m & _M64)) * m & _M64
    if n & 7:
        h = (h ^ int.from_bytes(data[nblocks << 3 :], "little")) * m & _M64
    h ^= h >> 47
    h = h * m & _M64
    return h ^ (h >> 47)


def pat_len(element: bytes) -> tuple[int, int]:
    """Redis's hllPatLen: (register index, run length of the "000..1" pattern, 1..51)."""
    h = murmurhash64a(element)
    x = (h >> HLL_P) | _Q_BIT
    return h & P_MASK, (x & -x).bit_length()


# --- the header ---------------------------------------------------------------------------------


def is_hll(v: bytes) -> bool:
    """Redis's isHLLObjectOrReply for a string: long enough, ``HYLL``, a known encoding, and a
    dense one of exactly the dense size. (An integer-encoded Redis string fails the magic.)"""
    n = len(v)
    if n < HDR_SIZE or v[:4] != MAGIC:
        return False
    enc = v[4]
    return enc == SPARSE or (enc == DENSE and n == DENSE_SIZE)


def encoding(v: bytes) -> int:
    return v[4]


def cached_card(v: bytes) -> int | None:
    """The cached cardinality, or None when the header marks it invalid."""
    if v[15] & 0x80:
        return None
    return int.from_bytes(v[8:16], "little")


def with_card(v: bytes, card: int) -> bytes:
    """``v`` with ``card`` (a 64-bit value, its top bit included) as the cached cardinality."""
    return v[:8] + card.to_bytes(8, "little") + v[16:]


def invalidate(buf: bytearray) -> None:
    """HLL_INVALIDATE_CACHE: set the top bit of the cached cardinality (the rest stays)."""
    buf[15] |= 0x80


# --- dense registers ----------------------------------------------------------------------------


def dense_get(v: bytes | bytearray, index: int) -> int:
    """One register of a dense value (HLL_DENSE_GET_REGISTER)."""
    bit = index * 6
    pos = HDR_SIZE + (bit >> 3)
    fb = bit & 7
    if fb <= 2:
        return (v[pos] >> fb) & 63
    return ((v[pos] >> fb) | (v[pos + 1] << (8 - fb))) & 63


def dense_set(buf: bytearray, index: int, count: int) -> int:
    """Redis's hllDenseSet: raise the register to ``count`` if it is lower; 1 if it changed."""
    bit = index * 6
    pos = HDR_SIZE + (bit >> 3)
    fb = bit & 7
    if fb <= 2:
        b = buf[pos]
        if count <= (b >> fb) & 63:
            return 0
        buf[pos] = (b & ~(63 << fb)) | (count << fb)
        return 1
    b0 = buf[pos]
    b1 = buf[pos + 1]
    if count <= ((b0 >> fb) | (b1 << (8 - fb))) & 63:
        return 0
    buf[pos] = (b0 & ((1 << fb) - 1)) | ((count << fb) & 0xFF)
    buf[pos + 1] = (b1 & ~(63 >> (8 - fb))) | (count >> (8 - fb))
    return 1


# Register arrays ("regs"): the 16384 registers as one big integer, register i in byte i
# (little-endian), so that whole-array operations are single integer operations.


def _repeat(word: int, nbytes: int) -> int:
    """The 64-bit ``word`` repeated over ``nbytes`` bytes, as an integer."""
    return int.from_bytes(word.to_bytes(8, "little") * (nbytes // 8), "little")


# A dense group of 4 registers is 3 bytes; spread to 4 bytes (a zero byte after every three),
# its 32-bit lane holds the registers at bits 0, 6, 12, 18: these masks move them to 0, 8, 16,
# 24 (unpack) and back (pack).
_U0 = _repeat(0x0000003F0000003F, REGISTERS)
_U1 = _repeat(0x00003F0000003F00, REGISTERS)
_U2 = _repeat(0x003F0000003F0000, REGISTERS)
_U3 = _repeat(0x3F0000003F000000, REGISTERS)
_P1 = _repeat(0x00000FC000000FC0, REGISTERS)
_P2 = _repeat(0x0003F0000003F000, REGISTERS)
_P3 = _repeat(0x00FC000000FC0000, REGISTERS)


def unpack(v: bytes) -> int:
    """The registers of a dense value, as a register array."""
    d = v[HDR_SIZE:DENSE_SIZE]
    lanes = bytearray(REGISTERS)
    lanes[0::4] = d[0::3]
    lanes[1::4] = d[1::3]
    lanes[2::4] = d[2::3]
    x = int.from_bytes(lanes, "little")
    return (x & _U0) | ((x << 2) & _U1) | ((x << 4) & _U2) | ((x << 6) & _U3)


def pack(regs: int) -> bytes:
    """The dense register bytes (12288) of a register array (values below 64)."""
    y = (regs & _U0) | ((regs >> 2) & _P1) | ((regs >> 4) & _P2) | ((regs >> 6) & _P3)
    lanes = y.to_bytes(REGISTERS, "little")
    out = bytearray(DENSE_BYTES)
    out[0::3] = lanes[0::4]
    out[1::3] = lanes[1::4]
    out[2::3] = lanes[2::4]
    return bytes(out)


def regs_of(raw: bytes | bytearray) -> int:
    """A register array from 16384 one-byte registers."""
    return int.from_bytes(raw, "little")


def regs_bytes(regs: int) -> bytes:
    """The 16384 one-byte registers of a register array."""
    return regs.to_bytes(REGISTERS, "little")


# Masks of the 8x8 bit-matrix transposition (Hacker's Delight's transpose8) in every 64-bit
# lane of a big integer: after it, byte j of each lane holds bit j of the lane's 8 bytes.
_T1_DENSE = _repeat(0x00AA00AA00AA00AA, DENSE_BYTES)
_T2_DENSE = _repeat(0x0000CCCC0000CCCC, DENSE_BYTES)
_T3_DENSE = _repeat(0x00000000F0F0F0F0, DENSE_BYTES)
_T1_RAW = _repeat(0x00AA00AA00AA00AA, REGISTERS)
_T2_RAW = _repeat(0x0000CCCC0000CCCC, REGISTERS)
_T3_RAW = _repeat(0x00000000F0F0F0F0, REGISTERS)
_ALL_REGISTERS = (1 << REGISTERS) - 1
_QUARTER = REGISTERS // 4  # 4096: registers with the same place in their 3-byte group
_QUARTER_MASK = (1 << _QUARTER) - 1


def _transpose(x: int, m1: int, m2: int, m3: int) -> int:
    t = (x ^ (x >> 7)) & m1
    x ^= t ^ (t << 7)
    t = (x ^ (x >> 14)) & m2
    x ^= t ^ (t << 14)
    t = (x ^ (x >> 28)) & m3
    return x ^ t ^ (t << 28)


def _histogram_of_planes(planes: list[int]) -> list[int]:
    """How many registers hold each value 0..63, from the 6 bit planes of the registers (bit
    ``i`` of ``planes[k]`` is bit ``k`` of register ``i``): the registers are split bit by bit
    from the top, empty groups dropped, and the groups at the bottom counted."""
    hist = [0] * 64
    stack: list[tuple[int, int, int]] = [(_ALL_REGISTERS, 0, 5)]
    while stack:
        group, value, k = stack.pop()
        ones = group & planes[k]
        zeros = group ^ ones
        if k == 0:
            hist[value | 1] = ones.bit_count()
            hist[value] = zeros.bit_count()
            continue
        if ones:
            stack.append((ones, value | (1 << k), k - 1))
        if zeros:
            stack.append((zeros, value, k - 1))
    return hist


def dense_histogram(v: bytes) -> list[int]:
    """Redis's hllDenseRegHisto, on the whole string at once.

    The three bytes of each register group go to three strings, which are transposed as one
    big integer: byte ``j`` of each 64-bit lane then holds bit ``j`` of eight bytes, so every
    eighth byte from ``j`` is bit plane ``j`` of one of the three strings. A register's six
    bits are six bits of those planes (register 4k+1 is bits 6-7 of b0 and 0-3 of b1...).
    """
    d = v[HDR_SIZE:DENSE_SIZE]
    x = int.from_bytes(d[0::3] + d[1::3] + d[2::3], "little")
    t = _transpose(x, _T1_DENSE, _T2_DENSE, _T3_DENSE).to_bytes(DENSE_BYTES, "little")
    # q[j]: bit j of every byte of b0 (bits 0..4095), b1 (4096..8191), b2 (8192..12287).
    q = [int.from_bytes(t[j::8], "little") for j in range(8)]
    mask = _QUARTER_MASK
    s1 = _QUARTER
    s2 = 2 * _QUARTER
    planes = []
    for k in range(6):
        g0 = q[k] & mask
        g1 = q[6 + k] & mask if k < 2 else (q[k - 2] >> s1) & mask
        g2 = (q[4 + k] >> s1) & mask if k < 4 else (q[k - 4] >> s2) & mask
        g3 = (q[2 + k] >> s2) & mask
        planes.append(g0 | (g1 << s1) | (g2 << s2) | (g3 << (3 * _QUARTER)))
    return _histogram_of_planes(planes)


def regs_histogram(regs: int) -> list[int]:
    """Redis's hllRawRegHisto: the histogram of a register array (values below 64)."""
    b = _transpose(regs, _T1_RAW, _T2_RAW, _T3_RAW).to_bytes(REGISTERS, "little")
    return _histogram_of_planes([int.from_bytes(b[k::8], "little") for k in range(6)])


_H40 = _repeat(0x4040404040404040, REGISTERS)
_ONES = _repeat(0x0101010101010101, REGISTERS)
_L3F = _repeat(0x3F3F3F3F3F3F3F3F, REGISTERS)


def regs_max(x: int, y: int) -> int:
    """Register-wise maximum of two register arrays (values below 64): in each byte,
    64 + a - b never borrows from its neighbour, and its bit 6 says whether a >= b."""
    ge = (((x | _H40) - y) >> 6) & _ONES
    ge = (ge << 6) - ge  # 0x3F where a >= b (a multiplication by 63 is much slower)
    return (x & ge) | (y & (_L3F ^ ge))


# --- sparse opcodes -----------------------------------------------------------------------------

#: Registers covered by a one-byte opcode (ZERO or VAL), 0 for an XZERO's first byte.
_SPAN = [0] * 256
for _b in range(256):
    if _b < 0x40:
        _SPAN[_b] = _b + 1
    elif _b >= 0x80:
        _SPAN[_b] = (_b & 3) + 1
#: The run of registers a VAL opcode stands for, as bytes.
_VAL_RUN = [
    bytes([((b >> 2) & 0x1F) + 1]) * ((b & 3) + 1) if b >= 0x80 else b"" for b in range(256)
]


def _val(value: int, length: int) -> int:
    return 0x80 | (value - 1) << 2 | (length - 1)


def _zeros(seq: bytearray, length: int) -> None:
    """Append a ZERO (up to 64) or XZERO opcode for ``length`` zero registers."""
    if length > SPARSE_ZERO_MAX_LEN:
        seq.append(0x40 | (length - 1) >> 8)
        seq.append((length - 1) & 0xFF)
    else:
        seq.append(length - 1)


# Long sparse values are read run by run rather than opcode by opcode: splitting at the XZERO
# opcodes leaves runs of one-byte opcodes, each expanded (or counted) in one C-level pass.
_LONG_SPARSE = 300
_XZERO_SPLIT = re.compile(rb"([\x40-\x7f][\x00-\xff])")
#: The registers a one-byte opcode stands for, as bytes; its span, as a byte.
_RUN = [b""] * 256
_SPAN_BYTES = bytearray(256)
for _b in range(256):
    if _b < 0x40:
        _RUN[_b] = bytes(_b + 1)
    elif _b >= 0x80:
        _RUN[_b] = _VAL_RUN[_b]
    _SPAN_BYTES[_b] = _SPAN[_b]
_VALUE = [((b >> 2) & 0x1F) + 1 if b >= 0x80 else 0 for b in range(256)]
_ZERO_REGISTERS = bytes(REGISTERS)


def _split_sparse(v: bytes | bytearray) -> list[bytes]:
    """The opcodes of a sparse value: runs of one-byte opcodes at even places, XZEROs at odd
    ones. Only the last byte can be an XZERO left without its second byte: it gets a 0."""
    parts = _XZERO_SPLIT.split(bytes(v[HDR_SIZE:]))
    last = parts[-1]
    if last and 0x40 <= last[-1] < 0x80:
        parts[-1] = last[:-1]
        parts.append(bytes([last[-1], 0]))
        parts.append(b"")
    return parts


def sparse_raw(v: bytes | bytearray) -> bytes | None:
    """The registers of a sparse value, one byte each; None if the opcodes overflow 16384
    registers or cover fewer (hllSparseToDense's, hllMerge's and hllSparseRegHisto's check)."""
    if len(v) > _LONG_SPARSE:
        total = 0
        pieces: list[bytes] = []
        run_of = _RUN.__getitem__
        for i, part in enumerate(_split_sparse(v)):
            if i & 1:
                n = (((part[0] & 0x3F) << 8) | part[1]) + 1
                total += n
                if total > REGISTERS:
                    return None
                pieces.append(_ZERO_REGISTERS[:n])
            elif part:
                total += sum(part.translate(_SPAN_BYTES))
                if total > REGISTERS:  # checked before expanding: a long corrupt value
                    return None
                pieces.append(b"".join(map(run_of, part)))
        return b"".join(pieces) if total == REGISTERS else None
    raw = bytearray(REGISTERS)
    idx = 0
    p = HDR_SIZE
    end = len(v)
    span = _SPAN
    while p < end:
        b = v[p]
        n = span[b]
        if n:
            if idx + n > REGISTERS:
                return None
            if b >= 0x80:
                raw[idx : idx + n] = _VAL_RUN[b]
            idx += n
            p += 1
        else:
            n = (((b & 0x3F) << 8) | (v[p + 1] if p + 1 < end else 0)) + 1
            if idx + n > REGISTERS:
                return None
            idx += n
            p += 2
    return bytes(raw) if idx == REGISTERS else None


def sparse_histogram(v: bytes | bytearray) -> list[int] | None:
    """Redis's hllSparseRegHisto; None for an invalid value."""
    hist = [0] * 64
    if len(v) > _LONG_SPARSE:
        total = 0
        counts: Counter[int] = Counter()
        for i, part in enumerate(_split_sparse(v)):
            if i & 1:
                n = (((part[0] & 0x3F) << 8) | part[1]) + 1
                hist[0] += n
                total += n
            elif part:
                counts.update(part)
        for b, c in counts.items():
            n = _SPAN[b] * c
            hist[_VALUE[b]] += n
            total += n
        return hist if total == REGISTERS else None
    idx = 0
    p = HDR_SIZE
    end = len(v)
    span = _SPAN
    while p < end:
        b = v[p]
        n = span[b]
        if n:
            p += 1
            hist[((b >> 2) & 0x1F) + 1 if b >= 0x80 else 0] += n
        else:
            n = (((b & 0x3F) << 8) | (v[p + 1] if p + 1 < end else 0)) + 1
            p += 2
            hist[0] += n
        idx += n
        if idx > REGISTERS:
            return None
    return hist if idx == REGISTERS else None


def sparse_to_dense(v: bytes | bytearray) -> bytes | None:
    """Redis's hllSparseToDense: the header copied (cached cardinality and unused bytes too)
    with the dense encoding, then the registers; None if the sparse value is invalid."""
    raw = sparse_raw(v)
    if raw is None:
        return None
    return MAGIC + bytes([DENSE]) + bytes(v[5:HDR_SIZE]) + pack(regs_of(raw))


def registers(v: bytes) -> int | None:
    """The register array of any valid value (None: an invalid sparse one)."""
    if v[4] == DENSE:
        return unpack(v)
    raw = sparse_raw(v)
    return None if raw is None else regs_of(raw)


#: sparse_set's results besides 0 (no change) and 1 (raised): the value is corrupt.
INVALID = -1


def sparse_set(
    buf: bytearray, index: int, count: int, sparse_max: int, bounds: list[int] | None = None
) -> int:
    """Redis's hllSparseSet on ``buf`` (a whole sparse value, changed in place): raise register
    ``index`` to ``count`` if it is lower. Returns 1 if it rose, 0 if not, ``INVALID`` for a
    corrupt value. ``buf`` may come back dense (promoted: check ``buf[4]``).

    ``bounds``, for registers set in increasing order (PFMERGE), is where earlier scans went:
    the offsets and first registers of the opcodes they passed, ``[p0, first0, p1, ...]``.
    A change only touches the opcode found and those after the one before it (the last one
    passed, which may absorb its neighbour but keeps its place and first register), so every
    opcode passed stays valid and the next scan starts from the last of them."""
    if count > SPARSE_VAL_MAX_VALUE:
        return _promote(buf, index, count)
    end = len(buf)
    span_of = _SPAN
    p = HDR_SIZE
    first = 0
    prev = -1
    if bounds:
        first = bounds.pop()
        p = bounds.pop()
        if bounds:
            prev = bounds[-2]
    # Step 1: the opcode covering the register (two copies of the loop: with and without
    # recording where it went).
    span = 0
    oplen = 1
    if bounds is None:
        while p < end:
            span = span_of[buf[p]]
            if span:
                nf = first + span
                if index < nf:
                    break
                prev = p
                p += 1
            else:
                span = (((buf[p] & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1
                nf = first + span
                if index < nf:
                    oplen = 2
                    break
                prev = p
                p += 2
            first = nf
        else:
            return INVALID
    else:
        while p < end:
            b = buf[p]
            span = span_of[b]
            if span:
                oplen = 1
            else:
                span = (((b & 0x3F) << 8) | (buf[p + 1] if p + 1 < end else 0)) + 1
                oplen = 2
            if index < first + span:
                break
            bounds.append(p)
            bounds.append(first)
            prev = p
            p += oplen
            first += span
        else:
            return INVALID
    b = buf[p]
    # Step 2: cases A (VAL already high enough), B (VAL of one register), C (ZERO of one).
    if b >= 0x80:
        oldcount = ((b >> 2) & 0x1F) + 1
        if oldcount >= count:
            return 0
        if span == 1:
            buf[p] = _val(count, 1)
            _merge_vals(buf, prev, end)
            return 1
    elif b < 0x40 and span == 1:
        buf[p] = _val(count, 1)
        _merge_vals(buf, prev, end)
        return 1
    # D: split the opcode into up to three.
    seq = bytearray()
    last = first + span - 1
    if b < 0x80:
        if index != first:
            _zeros(seq, index - first)
        seq.append(_val(count, 1))
        if index != last:
            _zeros(seq, last - index)
    else:
        curval = ((b >> 2) & 0x1F) + 1
        if index != first:
            seq.append(_val(curval, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(curval, last - index))
    # Step 3: put it in place of the old opcode.
    delta = len(seq) - oplen
    if delta > 0 and end + delta > sparse_max:
        return _promote(buf, index, count)
    newlen = end + delta
    buf[p : p + oplen] = seq
    if len(buf) > newlen:  # an XZERO cut by the end of the string: Redis's length wins
        del buf[newlen:]
    _merge_vals(buf, prev, newlen)
    return 1


def _merge_vals(buf: bytearray, prev: int, end: int) -> None:
    """Step 4 of hllSparseSet: from the opcode before the changed one, over up to 5 opcodes,
    merge adjacent VALs of the same value while their lengths fit; then invalidate the cache."""
    p = prev if prev >= 0 else HDR_SIZE
    scanlen = 5
    while p < end and scanlen:
        scanlen -= 1
        b = buf[p]
        if b < 0x80:
            p += 1 if b < 0x40 else 2
            continue
        if p + 1 < end:
            b2 = buf[p + 1]
            if b2 >= 0x80 and (b ^ b2) & 0x7C == 0:  # two VALs of the same value
                length = (b & 3) + (b2 & 3) + 2
                if length <= SPARSE_VAL_MAX_LEN:
                    buf[p + 1] = (b & 0xFC) | (length - 1)
                    del buf[p]
                    end -= 1
                    continue
        p += 1
    buf[15] |= 0x80


def _promote(buf: bytearray, index: int, count: int) -> int:
    dense = sparse_to_dense(buf)
    if dense is None:
        return INVALID
    buf[:] = dense
    dense_set(buf, index, count)
    return 1


# --- adding elements ----------------------------------------------------------------------------


def add(v: bytes, elements: Sequence[bytes], sparse_max: int) -> tuple[bytes | None, int, bool]:
    """PFADD's work on a valid value: add each element (Redis's hllAdd, in order).

    Returns (the new value, or None if no register rose; how many registers rose; whether a
    corrupt value stopped it). When a register rose the new value's cached cardinality is
    invalidated (as PFADD does). After a corruption error the value returned holds what the
    elements before it changed (Redis changes the string in place and keeps that), if any.
    """
    updated = 0
    buf: bytearray | None = None
    i = 0
    n = len(elements)
    if v[4] == SPARSE:
        buf = bytearray(v)
        while i < n:
            index, count = pat_len(elements[i])
            i += 1
            r = sparse_set(buf, index, count, sparse_max)
            if r == INVALID:
                return (bytes(buf) if updated else None), updated, True
            updated += r
            if buf[4] == DENSE:
                break
        else:
            return (bytes(buf) if updated else None), updated, False  # invalidated if so
    # Dense: hash and raise registers inline (the hot loop). Read from the immutable value
    # until a register must rise, then from a copy.
    src: bytes | bytearray = v if buf is None else buf
    m = _MURMUR_M
    mask = _M64
    h0 = _H0
    from_bytes = int.from_bytes
    while i < n:
        e = elements[i]
        i += 1
        # murmurhash64a, inline
        ln = len(e)
        h = h0[ln] if ln < 64 else (SEED ^ (ln * m)) & mask
        nblocks = ln >> 3
        if nblocks == 1:
            k = from_bytes(e[:8], "little") * m & mask
            h = (h ^ ((k ^ (k >> 47)) * m & mask)) * m & mask
        elif nblocks:
            for k in struct.unpack_from(f"<{nblocks}Q", e):
                k = k * m & mask
                h = (h ^ ((k ^ (k >> 47)) * m & mask)) * m & mask
        if ln & 7:
            h = (h ^ from_bytes(e[nblocks << 3 :], "little")) * m & mask
        h ^= h >> 47
        h = h * m & mask
        h ^= h >> 47
        x = (h >> HLL_P) | _Q_BIT
        count = (x & -x).bit_length()
        bit = (h & P_MASK) * 6
        pos = HDR_SIZE + (bit >> 3)
        fb = bit & 7
        if fb <= 2:
            b0 = src[pos]
            if count <= (b0 >> fb) & 63:
                continue
            if buf is None:
                buf = bytearray(v)
                src = buf
            buf[pos] = (b0 & ~(63 << fb)) | (count << fb)
        else:
            b0 = src[pos]
            b1 = src[pos + 1]
            if count <= ((b0 >> fb) | (b1 << (8 - fb))) & 63:
                continue
            if buf is None:
                buf = bytearray(v)
                src = buf
            buf[pos] = (b0 & ((1 << fb) - 1)) | ((count << fb) & 0xFF)
            buf[pos + 1] = (b1 & ~(63 >> (8 - fb))) | (count >> (8 - fb))
        updated += 1
    if buf is None or not updated:
        return None, 0, False
    buf[15] |= 0x80
    return bytes(buf), updated, False


# --- the estimate -------------------------------------------------------------------------------


def _sigma(x: float) -> float:
    """hllSigma (Ertl)."""
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            return z


def _tau(x: float) -> float:
    """hllTau (Ertl). ``pow(1 - x, 2)`` is ``(1 - x) * (1 - x)``, as gcc compiles it."""
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        zp = z
        y *= 0.5
        d = 1 - x
        z -= d * d * y
        if zp == z:
            return z / 3


_LLONG_LIMIT = 9223372036854775808.0  # 2**63 as a double


def estimate(hist: list[int]) -> int:
    """hllCount's arithmetic on a register histogram: the 64-bit value Redis computes, as an
    unsigned integer (Redis caches it and replies with it as a signed one)."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z if z != 0.0 else math.inf
    # llroundl: half away from zero; out of range (inf, NaN) it is LLONG_MIN on x86-64.
    if not e < _LLONG_LIMIT:
        r = -(1 << 63)
    else:
        f = math.floor(e)
        r = int(f) + (1 if e - f >= 0.5 else 0)
    # E = (double) r; then (uint64_t) E.
    return int(float(r)) & _M64


def count(v: bytes) -> int | None:
    """hllCount of one valid value; None if it is a corrupt sparse one."""
    if v[4] == DENSE:
        return estimate(dense_histogram(v))
    hist = sparse_histogram(v)
    return None if hist is None else estimate(hist)


def as_signed(card: int) -> int:
    """A cardinality as PFCOUNT replies with it (addReplyLongLong of the uint64_t)."""
    return card - (1 << 64) if card & _TOP_BIT else card


# --- merging ------------------------------------------------------------------------------------


def merge_into(maxregs: int | None, v: bytes) -> int:
    """Redis's hllMerge: the register-wise maximum of ``maxregs`` (None: all zero) and the
    registers of ``v``. Raises ValueError for a corrupt sparse ``v``."""
    regs = registers(v)
    if regs is None:
        raise ValueError("corrupt sparse HLL")
    return regs if maxregs is None else regs_max(maxregs, regs)


def count_registers(maxregs: int | None) -> int:
    """hllCount of the internal "raw" encoding (PFCOUNT of several keys)."""
    if maxregs is None:
        return estimate([REGISTERS] + [0] * 63)
    return estimate(regs_histogram(maxregs))


_NONZERO = re.compile(rb"[^\x00]")


def store_merge(dest: bytes, maxregs: int | None, use_dense: bool, sparse_max: int) -> bytes:
    """PFMERGE's write to a valid destination value ``dest`` (its registers are among those
    merged into ``maxregs``): dense if any input was, else each non-zero register set in
    increasing order, the sparse way (which may promote on the way). Cache invalidated."""
    if maxregs is None:  # nothing but missing keys: dest is a new, empty HLL
        out = bytearray(dest)
        out[15] |= 0x80
        return bytes(out)
    if use_dense or dest[4] == DENSE:
        # Dense registers end up as the maximum itself: max >= dest register by register.
        head = bytearray(dest[:HDR_SIZE])
        head[4] = DENSE
        head[15] |= 0x80
        return bytes(head) + pack(maxregs)
    buf = bytearray(dest)
    bounds: list[int] = []
    raw = regs_bytes(maxregs)
    for mo in _NONZERO.finditer(raw):
        j = mo.start()
        r = sparse_set(buf, j, raw[j], sparse_max, bounds)
        assert r != INVALID
        if buf[4] == DENSE:
            # Promoted: from here on every register becomes the maximum too.
            head = bytearray(buf[:HDR_SIZE])
            head[15] |= 0x80
            return bytes(head) + pack(maxregs)
    buf[15] |= 0x80
    return bytes(buf)


# --- PFDEBUG ------------------------------------------------------------------------------------


def decode_sparse(v: bytes) -> bytes:
    """PFDEBUG DECODE's text: ``z:<len>`` ZERO, ``Z:<len>`` XZERO, ``v:<value>,<len>`` VAL."""
    parts: list[bytes] = []
    p = HDR_SIZE
    end = len(v)
    while p < end:
        b = v[p]
        if b < 0x40:
            parts.append(b"z:%d" % (b + 1))
            p += 1
        elif b < 0x80:
            n = (((b & 0x3F) << 8) | (v[p + 1] if p + 1 < end else 0)) + 1
            parts.append(b"Z:%d" % n)
            p += 2
        else:
            parts.append(b"v:%d,%d" % (((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            p += 1
    return b" ".join(parts)


# --- PFSELFTEST ---------------------------------------------------------------------------------


def selftest(sparse_max: int, rng: random.Random | None = None) -> str | None:
    """PFSELFTEST's checks; None if they pass, else the failure (a TESTFAILED message).

    Redis's test, scaled to an interpreter: register access (random values set one by one
    and read back, and through ``pack``/``unpack``), then the same elements added to a dense
    and a sparse HLL up to 100 000 (Redis: 10 000 000), the estimates of both compared with
    each other and with the true count at each power of ten."""
    rng = rng or random.Random()
    dense = bytearray(EMPTY[:HDR_SIZE] + bytes(DENSE_BYTES))
    dense[4] = DENSE
    for _ in range(3):
        values = bytes(rng.randrange(64) for _ in range(REGISTERS))
        regs = bytearray(dense[:HDR_SIZE] + pack(regs_of(values)))
        for i in range(REGISTERS):
            if dense_get(regs, i) != values[i]:
                got = dense_get(regs, i)
                return f"TESTFAILED Register {i} should be {values[i]} but is {got}"
        if regs_bytes(unpack(bytes(regs))) != values:
            return "TESTFAILED register unpacking"
        one = bytearray(dense)
        for i in rng.sample(range(REGISTERS), 512):
            dense_set(one, i, values[i])
            got = dense_get(one, i)
            if got != values[i]:
                return f"TESTFAILED Register {i} should be {values[i]} but is {got}"
    relerr = 1.04 / math.sqrt(REGISTERS)
    seed = rng.getrandbits(64)
    sparse = bytearray(EMPTY)
    checkpoint = 1
    for j in range(1, 100_001):
        index, cnt = pat_len(((j ^ seed) & _M64).to_bytes(8, "little"))
        dense_set(dense, index, cnt)
        if sparse[4] == SPARSE:
            sparse_set(sparse, index, cnt, sparse_max)
        else:
            dense_set(sparse, index, cnt)
        if j == checkpoint:
            if j < sparse_max // 2 and sparse[4] != SPARSE:
                return "TESTFAILED sparse encoding not used"
            c_dense = count(bytes(dense))
            if c_dense != count(bytes(sparse)):
                return "TESTFAILED dense/sparse disagree"
            assert c_dense is not None
            abserr = abs(checkpoint - c_dense)
            maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
            if abserr > maxerr:
                return f"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            checkpoint *= 10
    return None
