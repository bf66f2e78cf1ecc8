"""Request parsing over raw sockets: inline commands, mixing inline and multibulk, and every
protocol error, each compared byte for byte with a real redis-server; plus the parser's unit
behaviour and the client-query-buffer-limit."""

from __future__ import annotations

import socket
import time

import pytest
from helpers import Raw, ServerProcess, encode

from minikv.protocol import ProtocolError, RequestParser, encode_command, parse_inline

QUIT = encode("QUIT")


def exchange(port: int, chunks: list[bytes], pause: float = 0.05) -> bytes:
    """Send ``chunks`` (apart, so they arrive as separate reads) and return everything the
    server sends until it closes the connection."""
    with Raw(port) as conn:
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(pause)
            try:
                conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        return conn.read_until_closed()


def same_as_redis(server: ServerProcess, redis_server: ServerProcess, *chunks: bytes) -> bytes:
    mine = exchange(server.port, list(chunks))
    theirs = exchange(redis_server.port, list(chunks))
    assert mine == theirs
    # Whatever happened to that connection, the server still serves everybody else.
    with Raw(server.port) as other:
        assert other.request(encode("PING")) == b"+PONG\r\n"
    return mine


# --- inline commands and mixing --------------------------------------------------------------

INLINE_CASES = [
    b"PING\r\n" + QUIT,
    b"PING\n" + QUIT,  # bare \n ends a line too
    b"ECHO hello\r\nECHO   spaced\t out \r\n" + QUIT,
    b'SET k "a b\\x41\\n\\t\\"q\\"\\\\"\r\nGET k\r\n' + QUIT,
    b"SET k 'it\\'s \"raw\" \\n'\r\nGET k\r\n" + QUIT,
    b'SET k ""\r\nGET k\r\nSTRLEN k\r\n' + QUIT,
    b'SET k a"b c"d\r\nGET k\r\n' + QUIT,  # a quote inside a word opens a quoted part
    b"\r\n\r\n   \r\n\n" + b"PING\r\n" + QUIT,  # empty lines are ignored
    b"*0\r\n*-1\r\n*-5\r\nPING\r\n" + QUIT,  # so are empty and null multibulks
    encode("PING") + b"PING\r\n" + encode("ECHO", "x") + b"ECHO y\r\n" + QUIT,
    b"ECHO 1\r\n" + encode("ECHO", "2") + b"\r\n" + encode("ECHO", "3") + QUIT,
    b"NOSUCH 'a' b\r\n" + QUIT,
    encode("SET", "k", "v") + b"$3\r\n" + QUIT,  # top-level bulk header: an inline word
]


# Chunks of whole inline lines only (QUIT inline too): RequestParser splits these with
# bytes.split() unless something in them needs sdssplitargs' rules.
INLINE_ONLY_CASES = [
    b"PING\r\nQUIT\r\n",
    b"PING\nECHO hello\nQUIT\n",
    b"SET k v\r\nGET k\r\nECHO   spaced\t out \r\nQUIT\r\n",
    b"\r\n\r\n   \r\n\n\t\r\nPING\r\nQUIT\r\n",
    b"ECHO a\rb\r\nQUIT\r\n",  # a CR inside a line separates words
    b"PING\r\r\nECHO x\r\r\r\nQUIT\r\n",
    b"ECHO a\x0bb\r\nECHO a \x0c b\r\nQUIT\r\n",  # \v and \f: sdssplitargs' rules
    b"ECHO \x01x\x7f\xff\x85\xa0\r\nQUIT\r\n",
    b"NOSUCH a b\r\nGET\r\nSET k\r\nQUIT\r\n",
    b"SET k 1\r\nINCR k\r\nINCR k\r\nGET k\r\nQUIT\r\n",
    b"SET k a*b\r\nGET k\r\n  *1\r\nQUIT\r\n",  # "*" not first on its line: inline
    b"SET k 'a b'\r\nGET k\r\nQUIT\r\n",
    b"PING\r\n*1\r\n$4\r\nPING\r\nQUIT\r\n",
]


@pytest.mark.parametrize("data", INLINE_ONLY_CASES, ids=range(len(INLINE_ONLY_CASES)))
def test_inline_only_chunks_same_as_redis(server, redis_server, data: bytes) -> None:  # type: ignore[no-untyped-def]
    for port in (server.port, redis_server.port):
        with Raw(port) as c:
            c.request(encode("DEL", "k"))
    got = same_as_redis(server, redis_server, data)
    assert got.endswith(b"+OK\r\n")


@pytest.mark.parametrize("data", INLINE_CASES, ids=range(len(INLINE_CASES)))
def test_inline_same_as_redis(server, redis_server, data: bytes) -> None:  # type: ignore[no-untyped-def]
    for port in (server.port, redis_server.port):
        with Raw(port) as c:
            c.request(encode("DEL", "k"))
    same_as_redis(server, redis_server, data)


def test_inline_and_multibulk_in_separate_reads(server, redis_server) -> None:  # type: ignore[no-untyped-def]
    got = same_as_redis(
        server,
        redis_server,
        encode("ECHO", "a"),
        b"ECHO b\r\n",
        encode("ECHO", "c")[:7],  # a request split across reads
        encode("ECHO", "c")[7:],
        b"ECHO d\r\n",
        b"ECH",
        b"O e\r\n",
        QUIT,
    )
    assert got == b"$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n+OK\r\n"


def test_multibulk_byte_by_byte(server, redis_server) -> None:  # type: ignore[no-untyped-def]
    data = encode("ECHO", "hello") + b"PING\r\n" + QUIT
    mine = exchange(server.port, [data[i : i + 1] for i in range(len(data))], pause=0.002)
    assert mine == b"$5\r\nhello\r\n+PONG\r\n+OK\r\n"


# --- protocol errors: reply, then the connection is closed --------------------------------------

ERROR_CASES = [
    b"*1\r\n$600000000\r\n",  # above proto-max-bulk-len
    b"*1\r\n$-2\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$04\r\nPING\r\n",  # Redis's strict integers: no leading zero
    b"*abc\r\n",
    b"*3000000000\r\n",  # above INT_MAX
    b"*99999999999999999999\r\n",
    b"*1\r\nxfoo\r\n",
    b"*2\r\n$4\r\nECHO\r\n:1\r\n",
    b"*1\r\n*1\r\n$4\r\nPING\r\n",
    b'SET k "unterminated\r\n',
    b'SET k "closed"x\r\n',
    b"SET k 'a'b\r\n",
    b"x" * 70000,  # an inline line over 64 KB with no newline
    b"PING\r\n" + encode("ECHO", "a") + b"*1\r\nxfoo\r\n" + b"PING\r\n",  # earlier ones answered
    b"PING\r\n*1\r\n$600000000\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",  # cross-protocol attack: closed without a reply
    b"PING\r\nHost: evil\r\nPING\r\n",
    # Arguments that hiredis parses but that are not bulk strings (Redis: "expected '$'").
    b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
    b"*2\r\n$4\r\nECHO\r\n#t\r\n",
    b"*2\r\n$4\r\nECHO\r\n,1.5\r\n",
    b"*2\r\n$4\r\nECHO\r\n_\r\n",
    b"*2\r\n$4\r\nECHO\r\n-ERR x\r\n",
    b"*2\r\n$4\r\nECHO\r\n!3\r\nabc\r\n",
    b"*2\r\n$4\r\nECHO\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"*2\r\n$4\r\nECHO\r\n~1\r\n$1\r\na\r\n",
    b"*2\r\n$4\r\nECHO\r\n>1\r\n$1\r\na\r\n",
    b"*2\r\n$4\r\nECHO\r\n*0\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n*-1\r\n",
    encode("PING") + encode("ECHO", "a") + b"*2\r\n$4\r\nECHO\r\n#f\r\n" + encode("PING"),
    encode("SET", "k", "v") * 20 + b"*2\r\n$3\r\nGET\r\n:1\r\n" + encode("GET", "k"),
]


@pytest.mark.parametrize("data", ERROR_CASES, ids=range(len(ERROR_CASES)))
def test_protocol_error_same_as_redis(server, redis_server, data: bytes) -> None:  # type: ignore[no-untyped-def]
    got = same_as_redis(server, redis_server, data)
    assert b"Protocol error" in got or b"POST" in data or b"Host:" in data


def test_protocol_error_split_across_reads(server, redis_server) -> None:  # type: ignore[no-untyped-def]
    got = same_as_redis(server, redis_server, b"*2\r\n$4\r\nECHO\r\n", b"xfoo\r\n")
    assert got == b"-ERR Protocol error: expected '$', got 'x'\r\n"
    got = same_as_redis(server, redis_server, encode("PING") + b"*1\r\n", b"$999999999999\r\n")
    assert got == b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    got = same_as_redis(server, redis_server, b"*1\r\n", b"$4\r\nPI", b"NG\r\n*1\r\n$-3\r\n")
    assert got == b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"


def test_bad_argument_type_in_a_later_read(server, redis_server) -> None:  # type: ignore[no-untyped-def]
    # The chunk with the bad argument starts inside a request: its own check and wording.
    # (Not "$-1": hiredis gives None for it as for "_", and here only hiredis has seen the
    # request's start, so minikv says "got '_'" where Redis says "invalid bulk length".)
    for tail in (b"#t\r\n", b":12\r\n", b",1\r\n", b"*1\r\n$1\r\nx\r\n"):
        got = same_as_redis(server, redis_server, encode("PING") + b"*2\r\n$4\r\nECHO\r\n", tail)
        assert got.startswith(b"+PONG\r\n-ERR Protocol error: ")
        got = same_as_redis(
            server, redis_server, b"*2\r\n$4\r\nECH", b"O\r\n$1\r\nx\r\n*2\r\n$4\r\nECHO\r\n" + tail
        )
        assert got.startswith(b"$1\r\nx\r\n-ERR Protocol error: ")


def test_protocol_error_in_resp3(server) -> None:  # type: ignore[no-untyped-def]
    with Raw(server.port) as c:
        c.send(b"HELLO 3\r\n*1\r\nx\r\n")
        got = c.read_until_closed()
    assert got.startswith(b"%7\r\n")
    assert got.endswith(b"\r\n-ERR Protocol error: expected '$', got 'x'\r\n")


def test_huge_announced_array_does_not_hurt(server) -> None:  # type: ignore[no-untyped-def]
    # Redis accepts up to INT_MAX arguments and waits for them; so does minikv, without
    # allocating for them up front.
    with Raw(server.port) as hog, Raw(server.port) as other:
        hog.send(b"*2000000000\r\n$4\r\nECHO\r\n")
        assert other.request(encode("PING")) == b"+PONG\r\n"
        hog.sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            hog.sock.recv(10)


def test_unauthenticated_limits_same_as_redis() -> None:
    from helpers import have_redis_server

    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    big = encode("SET", "k", "x" * 20000)
    many = encode("DEL", *[str(i) for i in range(11)])
    with (
        ServerProcess("--requirepass", "pw") as mk,
        ServerProcess("--requirepass", "pw", kind="redis") as rd,
    ):
        for data in (big, many, encode("GET", "k") + many, b"AUTH pw\r\n" + big + QUIT):
            assert exchange(mk.port, [data]) == exchange(rd.port, [data])
        # AUTH and a big request in one read: the limit applies per request, as in Redis.
        data = encode("AUTH", "pw") + big + encode("STRLEN", "k") + QUIT
        assert exchange(mk.port, [data]) == b"+OK\r\n+OK\r\n:20000\r\n+OK\r\n"


def test_query_buffer_limit_closes_client() -> None:
    with ServerProcess("--client-query-buffer-limit", "1mb") as mk:
        with Raw(mk.port) as hog, Raw(mk.port) as other:
            hog.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
            try:
                for _ in range(30):
                    hog.send(b"x" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert hog.read_until_closed() == b""
            assert other.request(encode("PING")) == b"+PONG\r\n"
        # The same with inline bytes (the other parser path).
        with Raw(mk.port) as hog:
            try:
                hog.send(b"PING\r\n")
                for _ in range(30):
                    hog.send(b"*1\r\n$2000000\r\n" + b"y" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert hog.read_until_closed().startswith(b"+PONG\r\n")
        assert "max query buffer length" in mk.log()


def test_big_value_is_not_a_query_buffer_problem(server) -> None:  # type: ignore[no-untyped-def]
    # 3 MB in many reads, well under the default 1 GB limit, also after an inline command.
    value = b"v" * 3_000_000
    with Raw(server.port) as c:
        assert c.request(b"PING\r\n") == b"+PONG\r\n"
        c.send(encode("SET", "big", value))
        assert c.read_reply() == b"+OK\r\n"
        c.send(encode("STRLEN", "big"))
        assert c.read_reply() == b":3000000\r\n"


# --- the parser on its own ------------------------------------------------------------------


def test_parse_inline_rules() -> None:
    assert parse_inline(b"  a  b\tc ") == [b"a", b"b", b"c"]
    assert parse_inline(b'"\\x41\\x4g"') == [b"Ax4g"]
    assert parse_inline(b"'\\n'") == [b"\\n"]
    assert parse_inline(b'"a\\zb"') == [b"azb"]
    assert parse_inline(b'a"b c" e') == [b"ab c", b"e"]
    assert parse_inline(b"a\x0bb") == [b"a\x0bb"]  # \v ends no word (it only skips blanks)
    assert parse_inline(b"a\x00b c") == [b"a"]
    assert parse_inline(b'""') == [b""]
    for bad in (b'"abc', b"'abc", b'"a"b', b"'a'b", b'"a\\"'):
        with pytest.raises(ProtocolError, match="unbalanced quotes"):
            parse_inline(bad)


def _feed_all(parser: RequestParser, chunks: list[bytes]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def test_parser_every_split_point() -> None:
    # A value that looks like headers. (With "*" and 8+ digits at a line start it would be
    # refused when it arrives mid-stream: see RequestParser.)
    tricky = b"v\r\n*1\r\n$999999999\r\n*9999999\r\nPING\r\n"
    multibulk = (
        encode_command(b"SET", b"k", tricky)
        + b"*0\r\n"
        + encode_command(b"ECHO", b"")
        + b"*-1\r\n"
        + encode_command(b"GET", b"k")
    )
    want = [[b"SET", b"k", tricky], [b"ECHO", b""], [b"GET", b"k"]]
    inline = b"PING\r\n\r\nECHO 'a b'\n"
    for stream, expected in (
        (multibulk, want),
        (inline + multibulk, [[b"PING"], [b"ECHO", b"a b"], *want]),
        (multibulk + inline, [*want, [b"PING"], [b"ECHO", b"a b"]]),
        (multibulk + b"\r\n" + multibulk, want * 2),  # as redis-cli --pipe ends its data
    ):
        for i in range(len(stream)):
            got = _feed_all(RequestParser(), [stream[:i], stream[i:]])
            assert got == expected, i
        bytewise = _feed_all(RequestParser(), [stream[i : i + 1] for i in range(len(stream))])
        assert bytewise == expected


def _slow_path(stream: bytes) -> list[list[bytes]] | str:
    # The parser's line-by-line port of Redis's rules, which the bytes.split() shortcut for
    # inline-only chunks must agree with.
    try:
        return RequestParser()._feed_slow(stream)
    except ProtocolError as e:
        return e.message


def _fed(stream: bytes) -> list[list[bytes]] | str:
    try:
        return RequestParser().feed(stream)
    except ProtocolError as e:
        return e.message


def test_inline_shortcut_agrees_with_redis_rules() -> None:
    import random

    rnd = random.Random(7)
    alphabet = [b"a", b"b", b"SET", b" ", b" ", b"\t", b"\r", b"\n", b"\n", b"\r\n"]
    rare = [b"\x0b", b"\x0c", b"\x00", b'"', b"'", b"*", b"\\", b"\xff", b"$"]
    checked = 0
    for _ in range(3000):
        parts = [
            rnd.choice(alphabet if rnd.random() < 0.9 else rare)
            for _ in range(rnd.randrange(1, 40))
        ]
        stream = b"".join(parts)
        if stream.startswith(b"*"):
            continue
        if rnd.random() < 0.7 and not stream.endswith(b"\n"):
            stream += b"\r\n"
        assert _fed(stream) == _slow_path(stream), stream
        checked += stream.endswith(b"\n")
    assert checked > 1000
    # One over the size limit: the slow path decides (it owns the line-length rules).
    long = b"ECHO " + b"x" * 70000 + b"\r\nPING\r\n"
    assert _fed(long) == _slow_path(long) == [[b"ECHO", b"x" * 70000], [b"PING"]]


def test_inline_chunks_at_every_split_point() -> None:
    stream = b"SET k v\r\n\r\nGET  k\nECHO a\rb\r\n  \t\r\nPING\r\r\nECHO 'q r'\r\nINCR n\n"
    want = [
        [b"SET", b"k", b"v"],
        [b"GET", b"k"],
        [b"ECHO", b"a", b"b"],
        [b"PING"],
        [b"ECHO", b"q r"],
        [b"INCR", b"n"],
    ]
    assert _feed_all(RequestParser(), [stream]) == want
    for i in range(len(stream)):
        for j in range(i, len(stream), 7):
            got = _feed_all(RequestParser(), [stream[:i], stream[i:j], stream[j:]])
            assert got == want, (i, j)


def test_parser_big_array_header() -> None:
    # Never handed to hiredis (which would allocate it): from a boundary the slow path takes
    # it and waits for the elements, as Redis does.
    p = RequestParser()
    assert p.feed(b"*200000000\r\n$4\r\nECHO\r\n") == []
    assert p.feed(b"$1\r\nx\r\n") == []
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        RequestParser().feed(b"*3000000000\r\n")
    p = RequestParser()
    assert p.feed(encode_command(b"ECHO", b"a") + b"*2000") == [[b"ECHO", b"a"]]
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        p.feed(b"0000000\r\n")


def test_parser_three_way_splits() -> None:
    stream = encode_command(b"ECHO", b"a" * 10) + b"PING\r\n" + encode_command(b"ECHO", b"b")
    want = [[b"ECHO", b"a" * 10], [b"PING"], [b"ECHO", b"b"]]
    for i in range(1, len(stream)):
        for j in range(i, len(stream)):
            got = _feed_all(RequestParser(), [stream[:i], stream[i:j], stream[j:]])
            assert got == want, (i, j)


def test_parser_errors_carry_earlier_requests() -> None:
    p = RequestParser()
    with pytest.raises(ProtocolError) as e:
        p.feed(encode_command(b"PING") + b"ECHO x\r\n" + b"*1\r\n!\r\n")
    assert e.value.message == "expected '$', got '!'"
    assert e.value.requests == [[b"PING"], [b"ECHO", b"x"]]


def test_parser_pending_bytes() -> None:
    p = RequestParser()
    assert p.feed(b"*2\r\n$3\r\nGET\r\n$5\r\nab") == []
    assert p.pending() > 0
    assert p.feed(b"cde\r\n") == [[b"GET", b"abcde"]]
    assert p.pending() == 0


def test_socket_half_close(server) -> None:  # type: ignore[no-untyped-def]
    # A client that sends and shuts down its side still gets its replies.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"PING\r\nECHO x\r\n")
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while chunk := s.recv(100):
            buf += chunk
        assert buf == b"+PONG\r\n$1\r\nx\r\n"
