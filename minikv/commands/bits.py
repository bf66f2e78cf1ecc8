"""Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP and BITFIELD, as Redis 7.0's bitops.c.

A bitmap is a string (``bytes``) read most-significant bit first: bit 0 is the top bit of
byte 0. Reads past the end see zeros; writes grow the string with zero bytes. Ranges work on
whole byte slices turned into one Python integer, so each command is a handful of C-level
operations on the slice rather than a loop over bits.

BITFIELD validates every operation before it runs any (an error runs none), grows the string
once to its farthest write, then applies the operations in order on a ``bytearray``. Integer
overflow follows Redis's rules per OVERFLOW mode: WRAP is modular arithmetic at the field's
width, SAT clamps, FAIL skips the write and answers nil.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command
from minikv.commands.strings import clamp_range, get_string, put_string
from minikv.commands.util import SYNTAX
from minikv.parsing import parse_int
from minikv.protocol import ReplyError

if TYPE_CHECKING:
    from minikv.commands.context import Context

B = "bitmap"

BIT_OFFSET_ERR = ReplyError("ERR bit offset is not an integer or out of range")
BIT_VALUE_ERR = ReplyError("ERR bit is not an integer or out of range")
_BITPOS_BIT_ERR = ReplyError("ERR The bit argument must be 1 or 0.")
_BITOP_NOT_ERR = ReplyError("ERR BITOP NOT must be called with a single source key.")
_TYPE_ERR = ReplyError(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but"
    " i64 is."
)
_OVERFLOW_ERR = ReplyError("ERR Invalid OVERFLOW type specified")
_RO_ERR = ReplyError("ERR BITFIELD_RO only supports the GET subcommand")


def bit_offset(c: Context, arg: bytes, field_bits: int = 0) -> int:
    """A bit offset argument; with ``field_bits`` (BITFIELD) ``#n`` means ``n * field_bits``.
    Limited to proto-max-bulk-len bytes, as Redis limits it."""
    scale = 1
    if field_bits and arg[:1] == b"#":
        arg, scale = arg[1:], field_bits
    off = parse_int(arg, BIT_OFFSET_ERR) * scale
    if off < 0 or off >> 3 >= c.server.config.proto_max_bulk_len:
        raise BIT_OFFSET_ERR
    return off


def _unit_is_bit(arg: bytes) -> bool:
    unit = arg.upper()
    if unit == b"BIT":
        return True
    if unit != b"BYTE":
        raise SYNTAX
    return False


@command(
    "setbit",
    4,
    "write denyoom",
    (1, 1, 1),
    group=B,
    summary="Sets or clears the bit at offset in the string value stored at key",
    args="key offset:integer value:integer",
    since="2.2.0",
    complexity="O(1)",
)
def setbit(c: Context, args: list[bytes]) -> Any:
    offset = bit_offset(c, args[2])
    on = parse_int(args[3], BIT_VALUE_ERR)
    if on not in (0, 1):
        raise BIT_VALUE_ERR
    key = args[1]
    old = get_string(c.db, key)
    byte, shift = offset >> 3, 7 - (offset & 7)
    cur = old if old is not None else b""
    was = cur[byte] >> shift & 1 if byte < len(cur) else 0
    # A new key or a grown string is a change even when the bit is already right.
    if old is None or byte >= len(cur) or was != on:
        buf = bytearray(cur)
        if byte >= len(buf):
            buf.extend(bytes(byte + 1 - len(buf)))
        buf[byte] = buf[byte] & ~(1 << shift) | on << shift
        put_string(c, key, old, bytes(buf), "setbit")
    return was


@command(
    "getbit",
    3,
    "readonly fast",
    (1, 1, 1),
    group=B,
    summary="Returns the bit value at offset in the string value stored at key",
    args="key offset:integer",
    since="2.2.0",
    complexity="O(1)",
)
def getbit(c: Context, args: list[bytes]) -> Any:
    offset = bit_offset(c, args[2])
    v = get_string(c.db, args[1], read=True)
    byte = offset >> 3
    if v is None or byte >= len(v):
        return 0
    return v[byte] >> (7 - (offset & 7)) & 1


def _bits(v: bytes, first: int, last: int) -> int:
    """Bits ``first..last`` (inclusive, bit offsets) of ``v`` as an integer of
    ``last - first + 1`` bits, ``first`` its top bit."""
    chunk = int.from_bytes(v[first >> 3 : (last >> 3) + 1], "big") >> (7 - (last & 7))
    return chunk & ((1 << (last - first + 1)) - 1)


def _first_bit(v: bytes, first: int, last: int, bit: int) -> int | None:
    """The offset of the first ``bit`` in bits ``first..last``, None if there is none. Read in
    chunks growing fourfold from 64 bits, so an early answer does not convert the whole
    range, and a late one reads it about once and a third."""
    size = 64
    while first <= last:
        end = min(last, first + size - 1)
        width = end - first + 1
        chunk = _bits(v, first, end)
        if bit == 0:
            chunk ^= (1 << width) - 1
        if chunk:
            return first + width - chunk.bit_length()
        first = end + 1
        size *= 4
    return None


@command(
    "bitcount",
    -2,
    "readonly",
    (1, 1, 1),
    group=B,
    summary="Count set bits in a string",
    args="key [start:integer end:integer [BYTE | BIT]]",
    since="2.6.0",
    complexity="O(N)",
    history=(("7.0.0", "Added the `BYTE|BIT` option."),),
)
def bitcount(c: Context, args: list[bytes]) -> Any:
    v = get_string(c.db, args[1], read=True)
    if v is None:
        return 0  # before any argument is looked at, as in Redis
    n = len(args)
    if n == 2:
        return int.from_bytes(v, "big").bit_count()
    if n not in (4, 5):
        raise SYNTAX
    start = parse_int(args[2])
    end = parse_int(args[3])
    if start < 0 and end < 0 and start > end:
        return 0
    isbit = n == 5 and _unit_is_bit(args[4])
    r = clamp_range(start, end, len(v) * 8 if isbit else len(v))
    if r is None:
        return 0
    start, end = r
    if not isbit:
        return int.from_bytes(v[start : end + 1], "big").bit_count()
    return _bits(v, start, end).bit_count()


@command(
    "bitpos",
    -3,
    "readonly",
    (1, 1, 1),
    group=B,
    summary="Find first bit set or clear in a string",
    args="key bit:integer [start:integer [end:integer [BYTE | BIT]]]",
    since="2.8.7",
    complexity="O(N)",
    history=(("7.0.0", "Added the `BYTE|BIT` option."),),
)
def bitpos(c: Context, args: list[bytes]) -> Any:
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise _BITPOS_BIT_ERR
    v = get_string(c.db, args[1], read=True)
    if v is None:  # an endless run of zeros
        return -1 if bit else 0
    n = len(args)
    if n > 6:
        raise SYNTAX
    length = len(v)
    start, end, isbit = 0, length - 1, False
    if n >= 4:
        start = parse_int(args[3])
        isbit = n == 6 and _unit_is_bit(args[5])
        if n >= 5:
            end = parse_int(args[4])
    total = length * 8 if isbit else length
    # Redis's conversion, without GETRANGE's early "both negative and reversed" exit.
    if start < 0:
        start = max(start + total, 0)
    if end < 0:
        end = max(end + total, 0)
    first, last = start, min(end, total - 1)
    if first > last:
        return -1
    if not isbit:
        first, last = first << 3, (last << 3) | 7
    found = _first_bit(v, first, last, bit)
    if found is not None:
        return found
    if bit == 1 or n >= 5:
        # Looking for a 0 in an explicit range holding none: there is none. Without an end,
        # the string counts as padded with zeros and the first bit past it is the answer.
        return -1
    return last + 1


@command(
    "bitop",
    -4,
    "write denyoom",
    group=B,
    summary="Perform bitwise operations between strings",
    args="operation destkey:key key [key ...]",
    since="2.6.0",
    complexity="O(N)",
    key_specs=(KeySpec("OW update", 2), KeySpec("RO access", 3, lastkey=-1)),
)
def bitop(c: Context, args: list[bytes]) -> Any:
    op = args[1].upper()
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise SYNTAX
    if op == b"NOT" and len(args) != 4:
        raise _BITOP_NOT_ERR
    db = c.db
    sources = [get_string(db, k, read=True) for k in args[3:]]
    size = max((len(s) for s in sources if s is not None), default=0)
    dest = args[2]
    if not size:
        if db.delete(dest):
            db.changed(dest, "del")
        return 0
    # Shorter strings count as padded with zero bytes at the end.
    values = [int.from_bytes(s or b"", "big") << ((size - len(s or b"")) * 8) for s in sources]
    acc = values[0]
    if op == b"NOT":
        acc = ~acc & ((1 << (size * 8)) - 1)
    elif op == b"AND":
        for x in values[1:]:
            acc &= x
    elif op == b"OR":
        for x in values[1:]:
            acc |= x
    else:
        for x in values[1:]:
            acc ^= x
    db.set(dest, acc.to_bytes(size, "big"))
    db.changed(dest, "set")
    return size


# --- BITFIELD ---------------------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOWS = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}
_U64 = (1 << 64) - 1


def _field_type(arg: bytes) -> tuple[bool, int]:
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63): (signed, bits)."""
    sign = arg[:1]
    if sign not in (b"i", b"u"):
        raise _TYPE_ERR
    bits = parse_int(arg[1:], _TYPE_ERR)
    if bits < 1 or bits > (64 if sign == b"i" else 63):
        raise _TYPE_ERR
    return sign == b"i", bits


def _bitfield_getkeys(args: list[bytes]) -> list[tuple[int, tuple[str, ...]]]:
    """Redis's bitfieldGetKeys: read-only flags unless a SET or INCRBY (or anything it does
    not recognise) comes before the end."""
    i, n = 2, len(args)
    while i < n:
        sub, rem = args[i].lower(), n - i - 1
        if sub == b"get" and rem >= 2:
            i += 3
        elif sub == b"overflow" and rem >= 1:
            i += 2
        else:
            return [(1, ("RW", "access", "update"))]
    return [(1, ("RO", "access"))]


def _parse_bitfield(c: Context, args: list[bytes]) -> list[tuple[int, bool, int, int, int, int]]:
    """The operations as (opcode, signed, bits, offset, value, overflow), every argument
    checked in Redis's order before anything runs."""
    ops = []
    overflow = _WRAP
    i, n = 2, len(args)
    while i < n:
        sub, rem = args[i].upper(), n - i - 1
        if sub == b"OVERFLOW" and rem >= 1:
            mode = _OVERFLOWS.get(args[i + 1].upper())
            if mode is None:
                raise _OVERFLOW_ERR
            overflow = mode
            i += 2
            continue
        if sub == b"GET" and rem >= 2:
            op = _GET
        elif sub == b"SET" and rem >= 3:
            op = _SET
        elif sub == b"INCRBY" and rem >= 3:
            op = _INCRBY
        else:
            raise SYNTAX
        signed, bits = _field_type(args[i + 1])
        offset = bit_offset(c, args[i + 2], bits)
        value = 0
        if op != _GET:
            value = parse_int(args[i + 3])
        ops.append((op, signed, bits, offset, value, overflow))
        i += 3 if op == _GET else 4
    return ops


def _get_field(buf: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    """The field at ``offset``; bytes past the end of ``buf`` read as zeros."""
    byte = offset >> 3
    window = bytes(buf[byte : byte + 9]).ljust(9, b"\0")
    v = int.from_bytes(window, "big") >> (72 - (offset & 7) - bits) & ((1 << bits) - 1)
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def _set_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    """Write ``value`` (two's complement at ``bits`` wide) at ``offset``; ``buf`` is long
    enough already."""
    byte = offset >> 3
    end = (offset + bits + 7) >> 3
    width = (end - byte) * 8
    shift = width - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    cur = int.from_bytes(buf[byte:end], "big")
    cur = cur & ~mask | (value << shift) & mask
    buf[byte:end] = cur.to_bytes(end - byte, "big")


def _fit(value: int, signed: bool, bits: int, overflow: int) -> int | None:
    """``value`` (exact) stored in the field: as is when it fits, else wrapped, saturated, or
    None for FAIL."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if lo <= value <= hi:
        return value
    if overflow == _FAIL:
        return None
    if overflow == _SAT:
        return hi if value > hi else lo
    return (value - lo) % (1 << bits) + lo


def _bitfield(c: Context, args: list[bytes], readonly_command: bool) -> Any:
    ops = _parse_bitfield(c, args)
    key = args[1]
    db = c.db
    writes = [op for op in ops if op[0] != _GET]
    if not writes:
        v = get_string(db, key, read=True)
        src = v if v is not None else b""
        return [_get_field(src, o, bits, signed) for _, signed, bits, o, _, _ in ops]
    if readonly_command:
        raise _RO_ERR
    old = get_string(db, key)
    need = max(o + bits - 1 for _, _, bits, o, _, _ in writes) // 8 + 1
    cur = old if old is not None else b""
    grown = old is None or need > len(cur)
    buf = bytearray(cur)
    if need > len(buf):
        buf.extend(bytes(need - len(buf)))
    replies: list[int | None] = []
    changes = 0
    for op, signed, bits, offset, value, overflow in ops:
        was = _get_field(buf, offset, bits, signed)
        if op == _GET:
            replies.append(was)
            continue
        if op == _INCRBY:
            new = _fit(was + value, signed, bits, overflow)
            reply = new
        else:
            # SET takes a 64-bit value; an unsigned field sees a negative one as its
            # unsigned 64-bit pattern (so SAT clamps it to the maximum).
            new = _fit(value if signed else value & _U64, signed, bits, overflow)
            reply = was
        if new is None:
            replies.append(None)
            continue
        replies.append(reply)
        _set_field(buf, offset, bits, new)
        if grown or new != was:
            changes += 1
    if changes or grown:
        if old is None:
            db.set(key, bytes(buf))
        else:
            db.replace_value(key, bytes(buf))
    # Redis grows the string before running the operations, so even when every write FAILs
    # the key exists (or is longer) afterwards, with no notification and nothing propagated.
    if changes:
        db.changed(key, "setbit", changes)
    return replies


@command(
    "bitfield",
    -2,
    "write denyoom",
    group=B,
    summary="Perform arbitrary bitfield integer operations on strings",
    args="key [<GET <encoding offset> | <[OVERFLOW <WRAP | SAT | FAIL>]"
    " <SET <encoding offset value:integer> | INCRBY <encoding offset increment>>>> ...]",
    since="3.2.0",
    complexity="O(1) for each subcommand specified",
    key_specs=(
        KeySpec(
            "RW access update variable_flags",
            1,
            notes="This command allows both access and modification of the key",
        ),
    ),
    getkeys=_bitfield_getkeys,
)
def bitfield(c: Context, args: list[bytes]) -> Any:
    return _bitfield(c, args, False)


@command(
    "bitfield_ro",
    -2,
    "readonly fast",
    (1, 1, 1),
    group=B,
    summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of"
    " BITFIELD",
    args="key [GET <encoding offset> [GET <encoding offset> ...]]",
    since="6.0.0",
    complexity="O(1) for each subcommand specified",
)
def bitfield_ro(c: Context, args: list[bytes]) -> Any:
    return _bitfield(c, args, True)
