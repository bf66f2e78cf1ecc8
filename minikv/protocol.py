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

from minikv import native

# The compiled head-of-chunk multibulk parser (minikv/_fastproto.pyx), or None.
_fastproto = native.load("_fastproto")
_parse_head = _fastproto.parse if _fastproto is not None else None
COMPILED_PARSER = _parse_head is not None

# Limits, named and valued as Redis's (redis.conf / server.h).
PROTO_INLINE_MAX_SIZE = 64 * 1024
DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
DEFAULT_QUERY_BUFFER_LIMIT = 1024 * 1024 * 1024


class ReplyError(Exception):
    """An error reply. Raised by handlers; also a value (inside EXEC's array)."""

    #: Already counted in INFO errorstats (an error a script passes on from ``redis.call``,
    #: which counted it when the command failed): not counted again as the script's reply.
    counted = False

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
    """Format a double as Redis 7.0's addReplyDouble: ``%.17g`` (so 3.0 is "3" and -0.0 is
    "-0"), infinities as "inf"/"-inf"."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    return b"%.17g" % value


_BULK = b"$%d\r\n%b\r\n"


def _bulk(v: bytes) -> bytes:
    return _BULK % (len(v), v)


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
        # Bulk strings and nested arrays (LRANGE, XRANGE's entries...) are encoded here
        # without a call per element: most arrays hold nothing else.
        parts = [b"*%d\r\n" % len(v)]
        add = parts.append
        for x in v:
            t = type(x)
            if t is bytes:
                add(_BULK % (len(x), x))
            elif t is list or t is tuple:
                add(array(x))
            else:
                add(encode(x))
        return b"".join(parts)

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


def pair_reply(first: bytes, items: tuple[bytes, ...] | list[bytes]) -> Raw:
    """``[first, [items...]]`` pre-encoded: a stream entry, its ID and its fields. The same
    bytes in RESP2 and RESP3, so a reply of many entries (XRANGE, XREAD) is built without an
    encoder call per string."""
    return Raw(
        b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(first), first, len(items))
        + b"".join([_BULK % (len(x), x) for x in items])
    )


# --- request parsing ----------------------------------------------------------------------------

_INLINE_SPECIAL = re.compile(rb"[\"'\x00\x0b\x0c]")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SPACE = frozenset(b" \t\n\r\x0b\x0c")  # C isspace()
_TOKEN_END = frozenset(b" \n\r\t")


def parse_inline(line: bytes) -> list[bytes]:
    """Split one inline command line with Redis's quoting rules (``sdssplitargs``).

    Double quotes understand ``\\n \\r \\t \\b \\a`` and ``\\xHH`` (any other escaped byte
    stands for itself); single quotes only ``\\'``. A closing quote must be followed by a space
    or the end of the line. Redis works on a C string, so a NUL byte ends the line.
    Raises ProtocolError("unbalanced quotes in request").
    """
    if _INLINE_SPECIAL.search(line) is None:
        return line.split()  # no quotes: plain whitespace splitting is the same thing
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    args: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        while i < n and line[i] not in _TOKEN_END:
            c = line[i]
            if c == 0x22:  # "..."
                i += 1
                while True:
                    if i >= n:
                        raise ProtocolError("unbalanced quotes in request")
                    c = line[i]
                    if (
                        c == 0x5C
                        and i + 3 < n
                        and line[i + 1] == 0x78
                        and line[i + 2] in _HEX
                        and line[i + 3] in _HEX
                    ):
                        cur.append(int(line[i + 2 : i + 4], 16))
                        i += 4
                    elif c == 0x5C and i + 1 < n:
                        cur.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                        i += 2
                    elif c == 0x22:
                        i += 1
                        break
                    else:
                        cur.append(c)
                        i += 1
                if i < n and line[i] not in _SPACE:
                    raise ProtocolError("unbalanced quotes in request")
                break
            if c == 0x27:  # '...'
                i += 1
                while True:
                    if i >= n:
                        raise ProtocolError("unbalanced quotes in request")
                    c = line[i]
                    if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                        cur.append(0x27)
                        i += 2
                    elif c == 0x27:
                        i += 1
                        break
                    else:
                        cur.append(c)
                        i += 1
                if i < n and line[i] not in _SPACE:
                    raise ProtocolError("unbalanced quotes in request")
                break
            cur.append(c)
            i += 1
        args.append(bytes(cur))


class ProtocolError(Exception):
    """A request that cannot be parsed. The client gets ``-ERR Protocol error: ...`` and is
    closed, as Redis does; ``requests`` are the complete requests that came before the bad
    bytes, which Redis runs (and answers) first."""

    def __init__(self, message: str, requests: list[list[bytes]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.requests = requests or []


class QueryBufferOverflow(Exception):
    """The client's unparsed input passed client-query-buffer-limit: close it."""


_LL_RE = re.compile(rb"-?[1-9][0-9]*|0")
_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1
# Redis's limits for a client that still has to AUTH (networking.c).
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384


def _string2ll(b: bytes | bytearray) -> int | None:
    """Redis's strict integer syntax (no sign but '-', no leading zeros, 64-bit)."""
    if _LL_RE.fullmatch(b) is None:
        return None
    v = int(b)
    return v if _LLONG_MIN <= v <= _LLONG_MAX else None


# What makes a chunk of complete inline lines need the slow path: a quote (sdssplitargs'
# quoting), NUL (Redis stops at it), \v or \f (bytes.split() splits on them, sdssplitargs only
# skips them between words), or a line starting with "*" (a multibulk request).
_INLINE_NEEDS_RULES = re.compile(rb"[\"'\x00\x0b\x0c]|\n\*")

# An array header of 10M+ elements (see RequestParser._big_array_error). Searching each chunk
# for it costs a fraction of what hiredis spends parsing the chunk.
_BIG_ARRAY = re.compile(rb"\*\d{8}")


class RequestParser:
    """Turns the bytes a client sends into requests (lists of bytes), as Redis's
    processInputBuffer does: a request starting with ``*`` is multibulk, anything else is an
    inline line.

    Two paths:

    * Fast: ``hiredis.Reader`` parses multibulk requests in C. hiredis does not say where a
      request ended, so after each complete request the parser asks ``has_data()``: when
      nothing is left the stream is at a request boundary, and only then may the next chunk
      be something other than multibulk. That costs one C call per request and no copying.
    * Slow: a Python port of Redis's inline and multibulk rules. It handles inline lines,
      clients that must still AUTH (Redis's tighter unauthenticated limits), and any chunk on
      which the fast path sees something it cannot judge itself (an error, a top-level item
      that is not an array, a nested array): such a chunk started at a request boundary, so
      it is parsed again from its first byte and every reply and error text is Redis's. When
      the slow path's buffer is empty again the fast path takes over.

    A chunk that began inside a request is re-parsed from the end of the last request that
    completed in it: hiredis does not report positions, so the parser keeps the length of
    the unfinished request (``_partial_len``). hiredis accepts some things Redis does not:
    simple strings, big numbers and verbatim strings as arguments (``*1\\r\\n+PING``: it
    returns them as bytes, like bulk strings), and it waits for a nested array to complete
    before reporting it; an error inside a request that began in an earlier chunk is
    reported in Redis's words derived from hiredis's (a null bulk ``$-1`` there reads as
    "expected '$', got '_'" where Redis says "invalid bulk length"). Those are the only
    places where this parser is not byte-exact with Redis.

    A chunk of whole inline lines with nothing in it that needs Redis's quoting rules is split
    with ``bytes.split()`` (see ``_INLINE_NEEDS_RULES``) without the slow path's buffer.

    hiredis allocates an announced array length up front (lazily, but freeing a list of a
    billion empty slots stalls the server for seconds), so each chunk is searched for a header
    of 10M+ elements first (one C-speed regex scan, a fraction of hiredis's own cost). From a
    request boundary such a chunk goes to the slow path, which grows its lists gradually as
    Redis does; in the middle of a stream (where a value containing "\n*12345678" cannot be
    told apart from a header) it is refused with Redis's "invalid multibulk length".
    A bulk length above proto-max-bulk-len is caught by looking at the last ``$`` header of a
    chunk that ends inside a request (a bulk can only be pending at the end of a chunk).
    """

    __slots__ = (
        "_args",
        "_at_boundary",
        "_bulklen",
        "_carry",
        "_mb_left",
        "_qbuf",
        "_reader",
        "_slow",
        "_tail",
        "max_bulk_len",
        "more",
        "query_buffer_limit",
        "strict",
    )

    def __init__(
        self,
        max_bulk_len: int = DEFAULT_PROTO_MAX_BULK_LEN,
        query_buffer_limit: int = DEFAULT_QUERY_BUFFER_LIMIT,
    ) -> None:
        self._reader = hiredis.Reader()
        self._at_boundary = True  # hiredis holds no partial request
        self._slow = False  # the slow path owns the stream (its buffer holds a partial)
        self._qbuf = bytearray()
        self._mb_left = 0  # slow path: arguments still to read of the current multibulk
        self._bulklen = -1  # slow path: announced length of the bulk being read
        self._args: list[bytes] = []
        self._tail = b""  # the end of the last chunk, when it ended inside a request
        self._carry: int | None = 0  # bytes hiredis holds of an unfinished request
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        #: True while the client must still authenticate: every byte goes through the slow
        #: path, which applies Redis's unauthenticated limits.
        self.strict = False
        #: The slow path stopped early (strict mode) with bytes left: call ``feed(b"")``.
        self.more = False

    def pending(self) -> int:
        """Bytes received but not parsed yet (CLIENT LIST qbuf)."""
        if self._slow:
            return len(self._qbuf)
        return 0 if self._at_boundary else self._reader.len()

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse ``data`` and return the complete requests in it (possibly none).

        Raises ProtocolError (carrying the requests before the bad bytes) or
        QueryBufferOverflow.
        """
        if self._slow:
            return self._feed_slow(data)
        if not data:
            return []
        if _parse_head is not None and self._at_boundary and data[0] == 0x2A and not self.strict:
            # The compiled parser takes the whole canonical multibulk requests at the head
            # of the chunk. The rest starts at a request boundary and goes where the whole
            # chunk would have: to hiredis, which meets anything but multibulk as an anomaly
            # and hands that to Redis's rules (``_fallback``).
            out, end = _parse_head(data, self.max_bulk_len)
            if end == len(data):
                return out
            if out:
                rest = data[end:]
                try:
                    return out + (self.feed(rest) if rest[0] == 0x2A else self._fallback(rest))
                except ProtocolError as e:
                    e.requests = out + e.requests
                    raise
        if self._at_boundary and (data[0] != 0x2A or self.strict):
            if (
                data[-1] == 0x0A
                and not self.strict
                and len(data) <= PROTO_INLINE_MAX_SIZE
                and _INLINE_NEEDS_RULES.search(data) is None
            ):
                # Whole inline lines that bytes.split() splits as sdssplitargs does (see
                # _INLINE_NEEDS_RULES), with no multibulk among them: no buffer, no line loop.
                # (Longer chunks take the slow path, which owns the line-length rules.)
                return [args for line in data.split(b"\n") if (args := line.split())]
            return self._feed_slow(data)
        return self._feed_fast(data)

    # --- fast path: hiredis ----------------------------------------------------------------------

    def _feed_fast(self, data: bytes) -> list[list[bytes]]:
        from_boundary = self._at_boundary
        if _BIG_ARRAY.search(data) is not None or (
            not from_boundary and _BIG_ARRAY.search(self._tail + data[:12]) is not None
        ):
            err = self._big_array_error(data)
            if err is not None:
                if from_boundary:
                    return self._fallback(data)  # the slow path grows its lists gradually
                raise ProtocolError(err)
        reader = self._reader
        reader.feed(data)
        out: list[list[bytes]] = []
        # Ignored items (*0, *-1): their wire bytes, and how many requests came before the
        # last one (to tell whether it was the chunk's last complete item).
        ignored = b""
        ignored_at = -1
        # Each request's arguments must all be bulk strings (hiredis also returns integers,
        # nils, nested arrays...). From a boundary, every request completed here lies wholly in
        # ``data`` and any anomaly sends the whole chunk to the slow path, so the check is
        # b"".join(r): one C call that raises TypeError on anything but bytes, about half the
        # cost of a Python loop over the arguments, copying at most len(data) bytes in all.
        # After has_data() is False the chunk ends at a boundary; it is asked after every
        # request, not once after the loop: after a gets() that found no complete request it
        # can be False with a partial one pending (hiredis consumes an unfinished array's
        # header lines).
        if from_boundary:
            try:
                while (r := reader.gets()) is not False:
                    if type(r) is list and r:
                        b"".join(r)
                        out.append(r)
                    elif r is None or r == []:  # *-1 and *0 are ignored, as by Redis
                        ignored += b"*-1\r\n" if r is None else b"*0\r\n"
                        ignored_at = len(out)
                    else:
                        return self._fallback(data)  # Redis would take it as inline
                    if not reader.has_data():
                        return out
            except (hiredis.ProtocolError, TypeError, MemoryError):
                return self._fallback(data)  # which finds and words the problem as Redis
        else:
            try:
                while (r := reader.gets()) is not False:
                    if type(r) is list and r:
                        for a in r:
                            if type(a) is not bytes:
                                raise _Anomaly(f"expected '$', got '{_first_char(a)}'")
                        out.append(r)
                    elif r is None or r == []:
                        ignored += b"*-1\r\n" if r is None else b"*0\r\n"
                        ignored_at = len(out)
                    else:
                        raise _Anomaly("expected '*'")
                    if not reader.has_data():
                        self._at_boundary = True
                        self._carry = 0
                        return out
            except (hiredis.ProtocolError, _Anomaly, MemoryError) as e:
                return self._recover(data, out, ignored, e)
        self._at_boundary = False
        self._tail = data[-12:]
        self._carry = self._partial_len(data, out, ignored, ignored_at)
        err = self._pending_bulk_error(data)
        if err is not None:
            if from_boundary:
                return self._fallback(data)
            raise ProtocolError(err, out)
        if reader.len() > self.query_buffer_limit:
            raise QueryBufferOverflow()
        return out

    def _partial_len(
        self, data: bytes, out: list[list[bytes]], ignored: bytes, ignored_at: int
    ) -> int | None:
        """How many bytes of the request hiredis holds unfinished were sent so far (None if
        unknown). hiredis does not say; the end of the last complete item in ``data`` is
        found from its canonical encoding (hiredis accepts nothing else but the rare simple
        string argument). Costs one encoding and one search per chunk that ends inside a
        request; it lets an anomaly in a later chunk be re-parsed from the right byte."""
        prev = self._carry
        if not out and not ignored:
            return None if prev is None else prev + len(data)
        if ignored_at == len(out):
            last = b"*-1\r\n" if ignored.endswith(b"*-1\r\n") else b"*0\r\n"
        else:
            last = encode_command(*out[-1])
        if prev and len(out) + len(ignored) == 1 and len(last) - prev <= len(data):
            # The only complete item began in an earlier chunk (single-item case only:
            # ``ignored`` is 4 or 5 bytes per item, so this sum is > 1 with any of them).
            end = len(last) - prev
            return len(data) - end if data.startswith(last[prev:]) else None
        i = data.rfind(last)
        return None if i < 0 else len(data) - (i + len(last))

    def _recover(
        self, data: bytes, out: list[list[bytes]], ignored: bytes, e: BaseException
    ) -> list[list[bytes]]:
        """An anomaly in a chunk that began inside a request. If it lies after a request that
        completed in this chunk, re-parse from there with Redis's rules (redis-cli --pipe
        sends an empty line after its data, for one); otherwise the request that began
        earlier is malformed and hiredis's error is reported in Redis's words."""
        prev = self._carry
        if prev is not None and (out or ignored):
            end = sum(len(encode_command(*r)) for r in out) + len(ignored) - prev
            if 0 <= end <= len(data):
                try:
                    return out + self._fallback(data[end:])
                except ProtocolError as err:
                    err.requests = out + err.requests
                    raise
        raise ProtocolError(_error_text(e), out) from None

    def _big_array_error(self, data: bytes) -> str | None:
        # hiredis allocates a list of the announced length at once, and freeing a list of
        # billions of (unused) slots takes seconds: such a header must never reach it.
        # "*" and 8 digits inside a value also match; only a header at a line start counts.
        for text in (data, self._tail + data[:12]):
            for m in _BIG_ARRAY.finditer(text):
                i = m.start()
                if i == 0 or text[i - 1] == 0x0A:
                    return "invalid multibulk length"
        return None

    def _pending_bulk_error(self, data: bytes) -> str | None:
        # The chunk ends inside a request. If that is inside an announced bulk, its header is
        # the last "$" at a line start (a bulk's payload could contain one too: then this
        # looks at the wrong header, and the limit is enforced by the query buffer limit).
        i = data.rfind(b"\n$") + 1
        if data[i] != 0x24:
            return None
        end = data.find(b"\r", i)
        digits = data[i + 1 : end] if end > 0 else data[i + 1 :]
        if end < 0 or len(digits) < len(str(self.max_bulk_len)):
            return None  # incomplete, or too few digits to be over the limit
        n = _string2ll(digits)
        if n is None or n > self.max_bulk_len:
            return "invalid bulk length"
        return None

    def _fallback(self, data: bytes) -> list[list[bytes]]:
        """Re-parse a chunk that started at a request boundary with Redis's rules."""
        self._reader = hiredis.Reader()
        self._at_boundary = True
        self._carry = 0
        return self._feed_slow(data, handoff=False)

    # --- slow path: Redis's rules in Python ---------------------------------------------------

    def _feed_slow(self, data: bytes, handoff: bool = True) -> list[list[bytes]]:
        self._slow = True
        buf = self._qbuf
        buf += data
        n = len(buf)
        pos = 0
        out: list[list[bytes]] = []
        self.more = False
        try:
            while pos < n:
                if self._mb_left == 0:
                    if buf[pos] != 0x2A:
                        nl = buf.find(b"\n", pos)
                        if nl >= 0 and buf.find(b"\0", pos, nl) >= 0:
                            nl = -1  # Redis looks for the newline with strchr: NUL hides it
                        if nl < 0:
                            if n - pos > PROTO_INLINE_MAX_SIZE:
                                raise ProtocolError("too big inline request")
                            break
                        end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
                        args = parse_inline(bytes(buf[pos:end]))
                        pos = nl + 1
                        if args:
                            out.append(args)
                            if self.strict:
                                self.more = pos < n
                                break
                        continue
                    if handoff and pos > 0 and not self.strict:
                        # Multibulk again after inline lines: back to hiredis for the rest.
                        rest = bytes(buf[pos:])
                        self._reset_slow()
                        out.extend(self._feed_fast(rest))
                        return out
                    r = buf.find(b"\r", pos)
                    if r < 0:
                        if n - pos > PROTO_INLINE_MAX_SIZE:
                            raise ProtocolError("too big mbulk count string")
                        break
                    if r > n - 2:
                        break
                    ll = _string2ll(buf[pos + 1 : r])
                    if ll is None or ll > _INT_MAX:
                        raise ProtocolError("invalid multibulk length")
                    if ll > UNAUTH_MAX_MULTIBULK and self.strict:
                        raise ProtocolError("unauthenticated multibulk length")
                    pos = r + 2
                    if ll <= 0:
                        continue
                    self._mb_left = ll
                while self._mb_left:
                    if self._bulklen == -1:
                        r = buf.find(b"\r", pos)
                        if r < 0:
                            if n - pos > PROTO_INLINE_MAX_SIZE:
                                raise ProtocolError("too big bulk count string")
                            break
                        if r > n - 2:
                            break
                        if buf[pos] != 0x24:
                            raise ProtocolError(f"expected '$', got '{chr(buf[pos])}'")
                        ll = _string2ll(buf[pos + 1 : r])
                        if ll is None or ll < 0 or ll > self.max_bulk_len:
                            raise ProtocolError("invalid bulk length")
                        if ll > UNAUTH_MAX_BULK and self.strict:
                            raise ProtocolError("unauthenticated bulk length")
                        pos = r + 2
                        self._bulklen = ll
                    if n - pos < self._bulklen + 2:
                        break
                    self._args.append(bytes(buf[pos : pos + self._bulklen]))
                    pos += self._bulklen + 2
                    self._bulklen = -1
                    self._mb_left -= 1
                if self._mb_left:
                    break  # waiting for more bytes
                out.append(self._args)
                self._args = []
                if self.strict:
                    # Redis applies the unauthenticated limits per request, and the request
                    # may be AUTH: hand it over before parsing the next one.
                    self.more = pos < n
                    break
        except ProtocolError as e:
            e.requests = out + e.requests
            raise
        del buf[:pos]
        if not buf and not self._mb_left and not self.strict:
            self._slow = False  # at a boundary: the fast path takes over
        elif len(buf) > self.query_buffer_limit:
            raise QueryBufferOverflow()
        return out

    def _reset_slow(self) -> None:
        self._qbuf = bytearray()
        self._slow = False
        self._at_boundary = True
        self._carry = 0


class _Anomaly(Exception):
    """Something the fast path leaves to the slow path to judge."""


def _first_char(v: object) -> str:
    if isinstance(v, bool):
        return "#"
    if isinstance(v, int):
        return ":"
    if isinstance(v, float):
        return ","
    if isinstance(v, list):
        return "*"
    if isinstance(v, dict):
        return "%"
    if isinstance(v, set):
        return "~"
    if isinstance(v, hiredis.ReplyError):
        return "-"
    if v is None:
        return "_"
    return "+"


def _error_text(e: BaseException) -> str:
    # hiredis's wording -> Redis's, for the rare error in a request that began in an earlier
    # chunk (everything else is re-parsed by the slow path).
    if isinstance(e, MemoryError):
        return "invalid multibulk length"
    msg = str(e)
    m = re.search(r'got "(.*?)" as reply type byte', msg)
    if m:
        char = {"\\r": "\r", "\\n": "\n", "\\t": "\t"}.get(m.group(1), m.group(1)[:1])
        return f"expected '$', got '{char}'"
    if "multi-bulk" in msg.lower():
        return "invalid multibulk length"
    if "bulk" in msg.lower():
        return "invalid bulk length"
    if msg == "expected '*'":
        return "expected '$', got '+'"
    return msg
