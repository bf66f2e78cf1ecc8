"""RESP framing with no I/O: reply encoding for RESP2/RESP3 and request parsing.

Handlers return plain Python values and this module turns them into wire bytes, so a command
never knows which protocol its client speaks:

=====================  ==========================  ===========================
Python value           RESP2                       RESP3
=====================  ==========================  ===========================
``bytes``              bulk string                 bulk string
``str``                simple string (``+OK``)     simple string
``int``                integer                     integer
``bool``               integer 1/0                 boolean ``#t``/``#f``
``float``              bulk string                 double ``,``
``None``               null bulk ``$-1``           null ``_``
``NULL_ARRAY``         null array ``*-1``          null ``_``
``list``/``tuple``     array                       array
``dict``               flat array of pairs         map ``%``
``set``/``frozenset``  array                       set ``~``
``Verbatim``           bulk string                 verbatim string ``=``
``ReplyError``         error ``-``                 error ``-``
``Raw``                sent as is (pre-encoded)    sent as is
=====================  ==========================  ===========================

Requests are parsed by ``hiredis.Reader`` (multibulk, the fast path) or by ``parse_inline``
(telnet-style lines). ``RequestParser`` decides per request which one applies, as Redis does by
looking at the first byte of each command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import hiredis

# Limits, named and valued as Redis's (redis.conf / server.h).
PROTO_INLINE_MAX_SIZE = 64 * 1024
DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
DEFAULT_QUERY_BUFFER_LIMIT = 1024 * 1024 * 1024
#: Redis accepts up to INT_MAX arguments; hiredis preallocates a list of the announced size, so
#: minikv refuses more than 16M arguments (128 MB of list) with Redis's own error text.
MAX_MULTIBULK_LEN = 16 * 1024 * 1024


class ProtocolError(Exception):
    """A request that cannot be parsed. The client gets ``-ERR Protocol error: ...`` and is
    closed, as Redis does."""


class ReplyError(Exception):
    """An error reply. Raised by handlers; also a value (inside EXEC's array)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Raw(bytes):
    """Reply bytes that are already RESP-encoded (constants such as ``+OK``)."""


class Verbatim(bytes):
    """A verbatim text reply (INFO, CLIENT LIST...): ``=`` in RESP3, bulk in RESP2."""


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()

OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")


# --- encoding ---------------------------------------------------------------------------------


def format_double(value: float) -> bytes:
    """Format a double as Redis 7.0 does (integers without a dot, else %.17g, inf as inf)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    if value == int(value) and abs(value) < 1e17:
        return b"%d" % int(value)
    return b"%.17g" % value


def _bulk(v: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(v), v)


def _simple(v: str) -> bytes:
    return b"+%b\r\n" % v.encode()


def _int(v: int) -> bytes:
    return b":%d\r\n" % v


def _raw(v: bytes) -> bytes:
    return v


def _error(v: ReplyError) -> bytes:
    msg = v.message.replace("\r", " ").replace("\n", " ")
    return b"-%b\r\n" % msg.encode()


def _make_encoder(resp3: bool) -> Callable[[Any], bytes]:
    table: dict[type, Callable[[Any], bytes]] = {}

    def encode(v: Any) -> bytes:
        try:
            return table[type(v)](v)
        except KeyError:
            for base, fn in table.items():
                if isinstance(v, base):
                    return fn(v)
            raise TypeError(f"cannot encode reply of type {type(v).__name__}") from None

    def array(v: list[Any] | tuple[Any, ...]) -> bytes:
        return b"*%d\r\n" % len(v) + b"".join([encode(x) for x in v])

    def set_(v: set[Any] | frozenset[Any]) -> bytes:
        head = b"~%d\r\n" if resp3 else b"*%d\r\n"
        return head % len(v) + b"".join([encode(x) for x in v])

    def map_(v: dict[Any, Any]) -> bytes:
        parts = [b"%%%d\r\n" % len(v)] if resp3 else [b"*%d\r\n" % (2 * len(v))]
        for k, x in v.items():
            parts.append(encode(k))
            parts.append(encode(x))
        return b"".join(parts)

    def null(_: None) -> bytes:
        return b"_\r\n" if resp3 else b"$-1\r\n"

    def null_array(_: _NullArray) -> bytes:
        return b"_\r\n" if resp3 else b"*-1\r\n"

    def boolean(v: bool) -> bytes:
        if resp3:
            return b"#t\r\n" if v else b"#f\r\n"
        return b":1\r\n" if v else b":0\r\n"

    def double(v: float) -> bytes:
        text = format_double(v)
        return b",%b\r\n" % text if resp3 else _bulk(text)

    def verbatim(v: Verbatim) -> bytes:
        if resp3:
            return b"=%d\r\ntxt:%b\r\n" % (len(v) + 4, bytes(v))
        return _bulk(bytes(v))

    table.update(
        {
            bytes: _bulk,
            str: _simple,
            int: _int,
            bool: boolean,
            float: double,
            type(None): null,
            list: array,
            tuple: array,
            dict: map_,
            set: set_,
            frozenset: set_,
            Raw: _raw,
            Verbatim: verbatim,
            _NullArray: null_array,
            ReplyError: _error,
            bytearray: lambda v: _bulk(bytes(v)),
        }
    )
    return encode


encode_resp2 = _make_encoder(False)
encode_resp3 = _make_encoder(True)


def encode_command(*args: bytes) -> bytes:
    """Encode a request as a multibulk array (used by tests and benchmarks)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


# --- request parsing ----------------------------------------------------------------------------


def parse_inline(line: bytes) -> list[bytes]:
    """Split one inline command line with Redis's quoting rules (``sdssplitargs``).

    Double quotes understand ``\\n \\r \\t \\b \\a \\\\ \\"`` and ``\\xHH``; single quotes only
    ``\\'``. A closing quote must be followed by a space or the end of the line.
    Raises ProtocolError("unbalanced quotes in request") otherwise.
    """
    args: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        done = False
        while not done:
            if inq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and _is_hex(line[i + 2])
                    and _is_hex(line[i + 3])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    done = True
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    done = True
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\0":
                    done = True
                elif c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            if i < n:
                i += 1
        args.append(bytes(cur))


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def _is_hex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


# A length header with enough digits to possibly exceed a limit, at the start of a line. Every
# chunk is searched once with this (C speed); normal traffic never matches. A bulk *value* that
# contains a line such as "$999999999" could be mistaken for a header: the price of not
# re-parsing every request in Python, stated here so nobody has to discover it.
_BIG_HEADER = re.compile(rb"(?:^|\n)([*$])(\d{8,})\r?\n?")


class RequestParser:
    """Turns the bytes a client sends into requests (lists of bytes).

    Multibulk requests go through ``hiredis.Reader``; a request whose first byte is not ``*``
    is an inline command. hiredis does not say where a request ended, so the parser only
    switches to inline when the previous multibulk request ended exactly at the end of the
    bytes fed so far (checked on the rare chunk that does not start with ``*``).
    """

    __slots__ = (
        "_inline_buf",
        "_last_chunk",
        "_last_req",
        "_reader",
        "max_bulk_len",
        "query_buffer_limit",
    )

    def __init__(
        self,
        max_bulk_len: int = DEFAULT_PROTO_MAX_BULK_LEN,
        query_buffer_limit: int = DEFAULT_QUERY_BUFFER_LIMIT,
    ) -> None:
        self._reader = hiredis.Reader()
        self._inline_buf = b""
        # The last chunk fed to hiredis and the last request it returned: enough to tell later
        # whether hiredis holds a partial request.
        self._last_chunk: bytes | None = None
        self._last_req: list[bytes] | None = None
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse ``data`` and return the complete requests in it (possibly none)."""
        if self._inline_buf:
            data = self._inline_buf + data
            self._inline_buf = b""
            return self._feed_inline(data)
        if data[0] != 0x2A and self._at_boundary():
            return self._feed_inline(data)
        return self._feed_multibulk(data)

    def _at_boundary(self) -> bool:
        chunk = self._last_chunk
        if chunk is None:
            return True
        req = self._last_req
        if req is None:
            return False
        enc = encode_command(*req)
        return chunk.endswith(enc) or enc.endswith(chunk)

    def _check_headers(self, data: bytes) -> None:
        for m in _BIG_HEADER.finditer(data):
            n = int(m.group(2))
            if m.group(1) == b"*":
                if n > MAX_MULTIBULK_LEN:
                    raise ProtocolError("invalid multibulk length")
            elif n > self.max_bulk_len:
                raise ProtocolError("invalid bulk length")

    def _feed_multibulk(self, data: bytes) -> list[list[bytes]]:
        if len(data) > 9:
            self._check_headers(data)
        reader = self._reader
        reader.feed(data)
        self._last_chunk = data
        out: list[list[bytes]] = []
        req = None
        while True:
            try:
                r = reader.gets()
            except hiredis.ProtocolError as e:
                raise ProtocolError(_hiredis_error_text(str(e))) from None
            if r is False:
                break
            if type(r) is not list:
                if r is None:  # *-1: Redis ignores a null multibulk
                    req = None
                    continue
                raise ProtocolError(f"expected '*', got '{_first_char(r)}'")
            if not r:  # *0: ignored, as by Redis
                req = r
                continue
            for a in r:
                if type(a) is not bytes:
                    raise ProtocolError(f"expected '$', got '{_first_char(a)}'")
            out.append(r)
            req = r
        if req is not None:
            self._last_req = req
        elif not out:
            self._last_req = None
        if reader.len() > self.query_buffer_limit:
            raise QueryBufferOverflow()
        if self._last_req is not None and data[-1] != 0x0A:
            self._last_req = None  # certainly mid-request
        return out

    def _feed_inline(self, data: bytes) -> list[list[bytes]]:
        out: list[list[bytes]] = []
        pos = 0
        n = len(data)
        while pos < n:
            if data[pos] == 0x2A:  # back to multibulk for the rest
                self._last_chunk = None
                self._last_req = None
                out.extend(self._feed_multibulk(data[pos:]))
                return out
            nl = data.find(b"\n", pos)
            if nl < 0:
                if n - pos > PROTO_INLINE_MAX_SIZE:
                    raise ProtocolError("too big inline request")
                self._inline_buf = data[pos:]
                break
            if nl - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("too big inline request")
            line = data[pos:nl]
            pos = nl + 1
            args = parse_inline(line)
            if args:
                out.append(args)
        self._last_chunk = None
        self._last_req = None
        return out


class QueryBufferOverflow(Exception):
    """The client's unparsed input passed client-query-buffer-limit: close it."""


def _first_char(v: object) -> str:
    if isinstance(v, int):
        return ":"
    if isinstance(v, list):
        return "*"
    if isinstance(v, hiredis.ReplyError):
        return "-"
    return "+"


def _hiredis_error_text(msg: str) -> str:
    # hiredis: 'Protocol error, got "x" as reply type byte' -> Redis's wording.
    m = re.search(r'got "(.)" as reply type byte', msg)
    if m:
        return f"expected '$', got '{m.group(1)}'"
    if "Bad multi-bulk length" in msg or "Multi-bulk length out of range" in msg:
        return "invalid multibulk length"
    if "Bad bulk string length" in msg or "Bulk string length out of range" in msg:
        return "invalid bulk length"
    return msg
