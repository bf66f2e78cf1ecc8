"""Argument parsing shared by command handlers, with Redis's error texts."""

from __future__ import annotations

import math

from minikv.protocol import ReplyError

NOT_INTEGER = ReplyError("ERR value is not an integer or out of range")
NOT_FLOAT = ReplyError("ERR value is not a valid float")
SYNTAX = ReplyError("ERR syntax error")
WRONGTYPE = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


def parse_int(b: bytes, err: ReplyError = NOT_INTEGER) -> int:
    """A signed 64-bit integer as Redis's string2ll accepts it: digits with an optional '-',
    no '+', no spaces, no leading zeros, no "-0"."""
    if b == b"0":
        return 0
    digits = b[1:] if b[:1] == b"-" else b
    if not digits or len(b) > 20 or not digits.isdigit() or digits[0] == 0x30:
        raise err
    v = int(b)
    if not LLONG_MIN <= v <= LLONG_MAX:
        raise err
    return v


def parse_float(b: bytes, err: ReplyError = NOT_FLOAT) -> float:
    """A double as Redis's string2ld/strtold accepts it: no spaces, no NaN."""
    if not b or b[0] in b" \t\n\r" or b[-1] in b" \t\n\r":
        raise err
    try:
        v = float(b)
    except ValueError:
        raise err from None
    if math.isnan(v):
        raise err
    return v


def upper(b: bytes) -> bytes:
    return b.upper()


def ascii_str(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")
