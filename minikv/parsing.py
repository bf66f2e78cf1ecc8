"""Parsing shared by every layer above: Redis's integers, long doubles and glob patterns.

The lowest module beside ``protocol``: it knows nothing of keys, values, commands or
connections, so command handlers, the blocking framework, the keyspace (KEYS/SCAN MATCH),
CONFIG GET and, later, scripts all read numbers and match patterns by the same rules. Each
function states which Redis routine it reproduces (string2ll, strtold, stringmatchlen), and
where Redis's exact text or quirk is kept on purpose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from minikv.protocol import ReplyError

NOT_FLOAT = ReplyError("ERR value is not a valid float")
NOT_INTEGER = ReplyError("ERR value is not an integer or out of range")

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


def parse_int(b: bytes, err: ReplyError = NOT_INTEGER) -> int:
    """A signed 64-bit integer as Redis's string2ll accepts it: digits with an optional '-',
    no '+', no spaces, no leading zeros, no "-0". Checked by formatting the number back:
    only the canonical spelling of a value equals its own decimal form."""
    if len(b) > 20:
        raise err
    try:
        v = int(b)
    except ValueError:
        raise err from None
    if b"%d" % v != b or not LLONG_MIN <= v <= LLONG_MAX:
        raise err
    return v


_LONG_RE = re.compile(rb"0|-?[1-9][0-9]{0,19}")


def as_long(v: bytes) -> int | None:
    """The integer Redis would read ``v`` as (string2ll: canonical form, fits 64 bits), else
    None. Where Redis checks "is this string an integer" without replying an error (object
    encodings, intsets), this is that check."""
    if len(v) <= 20 and _LONG_RE.fullmatch(v):
        n = int(v)
        if LLONG_MIN <= n <= LLONG_MAX:
            return n
    return None


# --- doubles (scores, weights, timeouts of DEBUG SLEEP) ----------------------------------------


_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)"  # hex float
    rb"|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)"  # decimal
    rb"|(inf(?:inity)?)"
    rb"|(nan(?:\([0-9a-z_]*\))?))",
    re.I,
)
_NONZERO_MANTISSA = re.compile(rb"^[^eEpP]*[1-9a-fA-F]")


def strtod(b: bytes) -> tuple[float, bool] | None:
    """C's strtod on all of ``b``: (value, out of range) or None if ``b`` is not entirely one
    number (leading white space is allowed, as in C)."""
    m = _STRTOD.fullmatch(b)
    if m is None:
        return None
    sign, hexa, dec, inf, _ = m.groups()
    neg = sign == b"-"
    if inf:
        return (-math.inf if neg else math.inf), False
    if hexa is None and dec is None:
        return math.nan, False
    text = hexa if hexa is not None else dec
    try:
        v = float.fromhex(text.decode()) if hexa is not None else float(text)
    except OverflowError:
        v = math.inf
    digits = text[2:] if hexa is not None else text
    erange = math.isinf(v) or (v == 0 and _NONZERO_MANTISSA.match(digits) is not None)
    return (-v if neg else v), erange


def parse_double(b: bytes, err: ReplyError = NOT_FLOAT) -> float:
    """A double as Redis's getDoubleFromObject (string2d) accepts it."""
    if not b or b[0] in b" \t\n\v\f\r":
        raise err
    r = strtod(b)
    if r is None or r[1] or math.isnan(r[0]):
        raise err
    return r[0]


# --- long doubles (INCRBYFLOAT, HINCRBYFLOAT, blocking timeouts) -------------------------


# x87 extended precision: 64-bit significand, exponents down to subnormals at 2**-16445.
# A long double is kept as (m, q) meaning m * 2**q: every one is such a dyadic number, so sums
# are exact integer shifts and only rounding needs a division.
LongDouble = tuple[int, int]
_LD_BITS = 64
_LD_MIN_QUANTUM = -16445
_LD_MAX_BITS = 16384  # a value of 2**16384 or more is infinite
_LD_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: longer input is refused
LD_ZERO: LongDouble = (0, 0)
_DEC_RE = re.compile(rb"[+-]?(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?")
_HEX_RE = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?"
)
_INF_RE = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
NAN_OR_INF = ReplyError("ERR increment would produce NaN or Infinity")


class Infinite(Exception):
    """A value past the long double range (or an explicit "inf")."""


def round_long_double(n: int, d: int = 1) -> LongDouble:
    """``n / d`` (``d > 0``) rounded to the nearest long double, ties to even, as glibc's
    strtold and the FPU round. Raises Infinite past the range."""
    if n == 0:
        return LD_ZERO
    a = abs(n)
    e = a.bit_length() - d.bit_length()  # floor(log2(a / d)) is e or e - 1
    if (a < d << e) if e >= 0 else (a << -e < d):
        e -= 1
    q = max(e - (_LD_BITS - 1), _LD_MIN_QUANTUM)
    num, den = (a, d << q) if q >= 0 else (a << -q, d)
    m, rem = divmod(num, den)
    if 2 * rem > den or (2 * rem == den and m & 1):
        m += 1
    if m.bit_length() + q > _LD_MAX_BITS:
        raise Infinite
    return (m if n > 0 else -m, q)


def add_long_double(x: LongDouble, y: LongDouble) -> LongDouble:
    """``x + y`` rounded once, as the FPU adds; raises Infinite on overflow."""
    q = min(x[1], y[1])
    n = (x[0] << (x[1] - q)) + (y[0] << (y[1] - q))
    return round_long_double(n << q) if q >= 0 else round_long_double(n, 1 << -q)


def _exponent(text: bytes | None) -> int:
    """An exponent's value, saturated so absurd ones cannot cost big-number work."""
    if not text:
        return 0
    negative = text[:1] == b"-"
    digits = text.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 10:
        return -(10**9) if negative else 10**9
    v = int(digits or b"0")
    return -v if negative else v


def parse_long_double(b: bytes) -> LongDouble:
    """A number as Redis's string2ld (strtold) accepts it: decimal or hex float with an
    optional sign, no spaces. NaN, results that underflow to zero and results that overflow
    are refused (NOT_FLOAT); "inf"/"infinity" raise Infinite."""
    if not b or len(b) >= _LD_CHARS:
        raise NOT_FLOAT
    m = _DEC_RE.fullmatch(b)
    if m is not None:
        frac = m[2] or m[3] or b""
        digits = ((m[1] or b"") + frac).lstrip(b"0")
        if not digits:
            return LD_ZERO
        exp = _exponent(m[4]) - len(frac)
        if not -4960 < exp + len(digits) <= 4940:  # far outside the range: ERANGE
            raise NOT_FLOAT
        # Decimal reads digit strings of any length (int() stops at 4300 digits).
        mant = int(Decimal(digits.decode())) if len(digits) > 4000 else int(digits)
        if b[:1] == b"-":
            mant = -mant
        n, d = (mant * 10**exp, 1) if exp >= 0 else (mant, 10**-exp)
    elif (m := _HEX_RE.fullmatch(b)) is not None:
        frac = m[3] or m[4] or b""
        mant = int((m[2] or b"") + frac, 16)
        if mant == 0:
            return LD_ZERO
        exp = _exponent(m[5]) - 4 * len(frac)
        if not -16500 < mant.bit_length() + exp <= 16400:
            raise NOT_FLOAT
        if m[1] == b"-":
            mant = -mant
        n, d = (mant << exp, 1) if exp >= 0 else (mant, 1 << -exp)
    elif _INF_RE.fullmatch(b) is not None:
        raise Infinite
    else:
        raise NOT_FLOAT
    try:
        v = round_long_double(n, d)
    except Infinite:
        raise NOT_FLOAT from None  # ERANGE overflow
    if v[0] == 0:
        raise NOT_FLOAT  # ERANGE underflow to zero
    return v


def format_long_double(x: LongDouble) -> bytes:
    """Redis's human-friendly long double text: ``%.17Lf`` (exact, ties to even) with trailing
    zeros and a bare dot removed, and "-0" written as "0"."""
    m, q = x
    scaled = abs(m) * 10**17
    if q >= 0:
        units = scaled << q
    else:
        units = scaled >> -q
        half = 1 << (-q - 1)
        rem = scaled & ((half << 1) - 1)
        if rem > half or (rem == half and units & 1):
            units += 1
    if units == 0:
        return b"0"
    # Decimal prints any size of integer (str(int) stops at 4300 digits).
    big = units.bit_length() > 13000  # about 3900 digits
    text = (format(Decimal(units), "f").encode() if big else b"%d" % units).rjust(18, b"0")
    whole, decimals = text[:-17], text[-17:].rstrip(b"0")
    sign = b"-" if m < 0 else b""
    return sign + whole + b"." + decimals if decimals else sign + whole


# --- glob patterns ----------------------------------------------------------------------------


def _signed(b: int) -> int:
    # Redis compares pattern bytes as (signed) C chars in [a-z] ranges.
    return b - 256 if b >= 128 else b


def _byte_class(members: set[int]) -> bytes:
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    return b"[" + b"".join(re.escape(bytes((m,))) for m in sorted(members)) + b"]"


def _glob_segments(pat: bytes) -> list[list[bytes]]:
    """Split a pattern at its runs of '*' into segments of one-byte regexes, parsing '?', '[..]'
    and backslash escapes exactly as Redis's stringmatchlen does (unclosed '[' runs to the end
    of the pattern, '[^' alone matches any byte, a range may end in ']', a trailing backslash is
    literal)."""
    segs: list[list[bytes]] = [[]]
    i, n = 0, len(pat)
    while i < n:
        ch = pat[i]
        if ch == 0x2A:  # '*'
            while i + 1 < n and pat[i + 1] == 0x2A:
                i += 1
            segs.append([])
        elif ch == 0x3F:  # '?'
            segs[-1].append(b".")
        elif ch == 0x5B:  # '['
            i += 1
            negate = i < n and pat[i] == 0x5E
            if negate:
                i += 1
            members: set[int] = set()
            while True:
                if i < n and pat[i] == 0x5C and n - i >= 2:
                    i += 1
                    members.add(pat[i])
                elif i < n and pat[i] == 0x5D:
                    break
                elif i >= n:
                    i -= 1  # the class ends with the pattern
                    break
                elif n - i >= 3 and pat[i + 1] == 0x2D:
                    lo, hi = sorted((_signed(pat[i]), _signed(pat[i + 2])))
                    members.update(b for b in range(256) if lo <= _signed(b) <= hi)
                    i += 2
                else:
                    members.add(pat[i])
                i += 1
            if negate:
                members = set(range(256)) - members
            segs[-1].append(_byte_class(members))
        else:
            if ch == 0x5C and n - i >= 2:  # backslash escape
                i += 1
            segs[-1].append(re.escape(pat[i : i + 1]))
        i += 1
    return segs


def _never(s: bytes) -> bool:
    return False


@lru_cache(maxsize=1024)
def compile_pattern(pat: bytes) -> Callable[[bytes], bool]:
    """A predicate equal to Redis's ``stringmatchlen(pat, s)`` (case-sensitive).

    Everything but '*' matches exactly one byte, so the pattern is a list of fixed-length
    segments between stars: the first is anchored at the start, the last at the end, and each
    middle one is taken at its leftmost place, which is never worse. That is linear-ish where a
    backtracking regex would be exponential on patterns like ``*a*a*a*b``.

    Redis quirks kept: the empty string matches only the empty pattern ("*" does not match "";
    KEYS and SCAN short-cut a pattern of exactly "*" themselves), and a pattern that must recurse
    through more than 1000 stars never matches.
    """
    segs = _glob_segments(pat)
    rxs = [re.compile(b"".join(seg), re.S) for seg in segs]
    if len(segs) == 1:
        full = rxs[0].fullmatch
        return lambda s: full(s) is not None
    if len(segs) - 1 - (not segs[-1]) > 1000:
        return _never
    first, first_len = rxs[0].match, len(segs[0])
    last, last_len = rxs[-1].fullmatch, len(segs[-1])
    middles = [rx.search for rx in rxs[1:-1]]

    def match(s: bytes) -> bool:
        if not s:
            return False
        end = len(s) - last_len
        if end < first_len or (first_len and first(s) is None):
            return False
        pos = first_len
        for search in middles:
            m = search(s, pos, end)
            if m is None:
                return False
            pos = m.end()
        return not last_len or last(s, end) is not None

    return match


def glob_match(pattern: str, string: str, nocase: bool = False) -> bool:
    """``compile_pattern`` for text (CONFIG GET, COMMAND LIST FILTERBY PATTERN); ``nocase``
    folds both sides to lower case first, as stringmatchlen's nocase compares tolower()."""
    if nocase:
        pattern, string = pattern.lower(), string.lower()
    return compile_pattern(pattern.encode("utf-8", "surrogateescape"))(
        string.encode("utf-8", "surrogateescape")
    )
