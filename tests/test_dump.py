"""DUMP and RESTORE against a real redis-server 7.0: payloads cross both ways for every type and
encoding (redis-server's DUMP restores into minikv with the same contents, TYPE and OBJECT
ENCODING, and minikv's DUMP restores into redis-server with the same contents), DUMP is byte for
byte redis-server's where the value's layout does not depend on history (strings with their
integer and LZF encodings, listpacks, intsets, quicklists, skiplists, streams), the encodings
only older Redis versions write (hand-made here) restore into both alike, RESTORE's options,
TTLs and errors reply as Redis's, and corrupt payloads (every byte flipped, every truncation)
never hurt minikv and get the replies of a redis-server that sanitizes payloads deeply.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, run_raw
from helpers import key_contents as contents

from minikv.persistence import dump, rdbvalue
from minikv.persistence.rdbvalue import lp_encode

# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rd_own() -> Iterator[ServerProcess]:
    """A redis-server of this module's own: tests here change its debug settings."""
    from helpers import have_redis_server

    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    with ServerProcess(kind="redis") as s:
        yield s


@pytest.fixture(scope="module")
def rd_deep() -> Iterator[ServerProcess]:
    """redis-server with sanitize-dump-payload yes: the checks minikv always makes."""
    from helpers import have_redis_server

    if not have_redis_server():
        pytest.skip("redis-server is not installed")
    with ServerProcess("--sanitize-dump-payload", "yes", kind="redis") as s:
        yield s


@pytest.fixture(scope="module")
def mk_own() -> Iterator[ServerProcess]:
    with ServerProcess() as s:
        yield s


_rand = random.Random(7)
_BINARY = bytes(range(256))
_RANDOM = bytes(_rand.randrange(256) for _ in range(300))
_TEXT = bytes(_rand.choice(b"abcdefgh ") for _ in range(20000))
_INTS = [0, 1, 12, 13, 127, 128, -1, -4096, 4095, -4097, 4096, 32767, -32768, 32768, 8388607]
_INTS += [-8388608, 8388608, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63), 2**63]

#: Values built by commands: (name, commands, whether redis-server's DUMP of it is expected
#: byte for byte from minikv too). Keys are named in the commands.
CASES: list[tuple[str, list[tuple[Any, ...]], bool]] = [
    (
        "strings",
        [
            ("SET", "s:word", "hello"),
            ("SET", "s:int", "12345"),
            ("SET", "s:neg", "-7"),
            ("SET", "s:wide", "12345678901234"),
            ("SET", "s:long-digits", "123456789012345678901234"),
            ("SET", "s:zero-led", "007"),
            ("SET", "s:minus0", "-0"),
            ("SET", "s:empty", ""),
            ("SET", "s:20", "a" * 20),
            ("SET", "s:21", "a" * 21),
            ("SET", "s:lzf", "abc" * 100),
            ("SET", "s:binary", _BINARY),
            ("SET", "s:random", _RANDOM),
            ("SET", "s:text", _TEXT),
            ("APPEND", "s:appended", "99"),
        ],
        True,
    ),
    (
        "lists",
        [
            ("RPUSH", "l:small", "a", "1", "", "bcd", *map(str, _INTS)),
            ("RPUSH", "l:nodes", *[f"item{i}" * 3 for i in range(3000)]),
            ("RPUSH", "l:big-elements", *["x" * 5000 + str(i) for i in range(5)]),
            ("RPUSH", "l:binary", _BINARY, _RANDOM, ""),
            ("LPUSH", "l:left", *map(str, range(600))),
        ],
        True,
    ),
    (
        "sets",
        [
            ("SADD", "set:int", "1", "2", "3", "-100000"),
            ("SADD", "set:int64", str(-(2**63)), str(2**63 - 1), "0"),
            ("SADD", "set:int16", *map(str, range(-200, 200, 7))),
            ("SADD", "set:ints-big", *map(str, range(600))),
            ("SADD", "set:strings", "a", "b", "1", ""),
            ("SADD", "set:binary", _BINARY, _RANDOM),
        ],
        False,  # a hashtable's iteration order is its own (checked for intsets below)
    ),
    (
        "intsets",
        [
            ("SADD", "set:int", "1", "2", "3", "-100000"),
            ("SADD", "set:int64", str(-(2**63)), str(2**63 - 1), "0"),
            ("SADD", "set:int16", *map(str, range(-200, 200, 7))),
        ],
        True,
    ),
    (
        "zsets",
        [
            ("ZADD", "z:small", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "-inf", "e"),
            ("ZADD", "z:small", "1e20", "f", "0", "g", "-0", "h", "0.1", "i", "1e-300", ""),
            ("ZADD", "z:small", str(2**62), "j", str(2**53 + 1), "k", "-123456789", "l"),
            ("ZADD", "z:skiplist", *[x for i in range(300) for x in (str(i * 0.5), f"m{i}")]),
            ("ZADD", "z:long-member", "1", "m" * 100, "2", "n", "-0", "o"),
            ("ZADD", "z:binary", "1", _BINARY, "2", _RANDOM),
        ],
        True,
    ),
    (
        "hashes",
        [
            ("HSET", "h:small", "f", "v", "n", "12", "e", "", "", "empty field", "-5", "x"),
            ("HSET", "h:big", *[x for i in range(600) for x in (f"f{i}", f"v{i}")]),
            ("HSET", "h:long-value", "f", "v" * 100, "g", "1"),
            ("HSET", "h:binary", _BINARY, _RANDOM),
        ],
        False,  # hashtable order
    ),
    (
        "listpack-hashes",
        [("HSET", "h:small", "f", "v", "n", "12", "e", "", "", "empty field", "-5", "x")],
        True,
    ),
    (
        "streams",
        [
            ("XADD", "x:plain", "1-1", "a", "1", "b", "2"),
            ("XADD", "x:plain", "1-2", "a", "3", "b", "4"),
            ("XADD", "x:plain", "2-0", "c", "3"),
            ("XADD", "x:plain", "3-0", "a", "", "b", _BINARY),
            *[("XADD", "x:nodes", f"{5 + i}-{i}", "f", f"v{i}", "n", str(i)) for i in range(250)],
            ("XGROUP", "CREATE", "x:nodes", "g1", "0"),
            ("XGROUP", "CREATE", "x:nodes", "g2", "$", "ENTRIESREAD", "7"),
            ("XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM"),
            ("XADD", "x:maxlen", "MAXLEN", "~", "10", "*", "f", "v"),
        ],
        False,  # XADD * makes different IDs
    ),
    (
        "streams-identical",
        [
            ("XADD", "x:plain", "1-1", "a", "1", "b", "2"),
            ("XADD", "x:plain", "1-2", "a", "3", "b", "4"),
            ("XADD", "x:plain", "2-0", "c", "3"),
            ("XADD", "x:plain", "18446744073709551615-5", "a", "", "b", _BINARY),
            *[("XADD", "x:nodes", f"{5 + i}-{i}", "f", f"v{i}", "n", str(i)) for i in range(250)],
            ("XGROUP", "CREATE", "x:nodes", "g1", "0"),
            ("XGROUP", "CREATE", "x:nodes", "g2", "$", "ENTRIESREAD", "7"),
            ("XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM"),
            ("XSETID", "x:empty", "10-10"),
        ],
        True,
    ),
    (
        "streams-groups",
        [
            *[("XADD", "x:g", f"{i}-1", "f", f"v{i}") for i in range(1, 40)],
            ("XADD", "x:g", "40-1", "other", "fields", "here", "too"),
            ("XGROUP", "CREATE", "x:g", "a-group", "0"),
            ("XGROUP", "CREATE", "x:g", "b-group", "10-1"),
            ("XREADGROUP", "GROUP", "a-group", "alice", "COUNT", "5", "STREAMS", "x:g", ">"),
            ("XREADGROUP", "GROUP", "a-group", "bob", "COUNT", "3", "STREAMS", "x:g", ">"),
            ("XREADGROUP", "GROUP", "b-group", "carol", "STREAMS", "x:g", ">"),
            ("XACK", "x:g", "a-group", "2-1", "7-1"),
            ("XGROUP", "CREATECONSUMER", "x:g", "a-group", "idle"),
            ("XCLAIM", "x:g", "a-group", "bob", "0", "3-1", "RETRYCOUNT", "7"),
            ("XDEL", "x:g", "4-1", "20-1"),  # a pending entry deleted, a tombstone mid-node
            ("XADD", "x:tail", "1-1", "f", "v"),
            ("XADD", "x:tail", "2-1", "f", "w"),
            ("XDEL", "x:tail", "2-1"),  # the node's last entry deleted
            ("XADD", "x:gone", "5-5", "f", "v"),
            ("XDEL", "x:gone", "5-5"),  # nothing left but the counters
            ("XADD", "x:trimmed", "1-1", "f", "v"),
            ("XADD", "x:trimmed", "2-1", "f", "v"),
            ("XADD", "x:trimmed", "3-1", "f", "v"),
            ("XTRIM", "x:trimmed", "MAXLEN", "1"),
        ],
        False,  # delivery and seen times are each server's clock
    ),
]


def _keys(commands: list[tuple[Any, ...]]) -> list[str]:
    out: list[str] = []
    for cmd in commands:
        if cmd[0] == "XREADGROUP":
            key = cmd[cmd.index("STREAMS") + 1]
        else:
            key = cmd[2] if cmd[0] == "XGROUP" else cmd[1]
        if key not in out:
            out.append(key)
    return out


def _run(port: int, commands: list[tuple[Any, ...]]) -> None:
    for reply in run_raw(port, commands):
        assert not reply.startswith(b"-"), reply


@pytest.mark.parametrize("name,commands,identical", CASES, ids=[c[0] for c in CASES])
def test_values_cross_both_ways(
    name: str,
    commands: list[tuple[Any, ...]],
    identical: bool,
    server: ServerProcess,
    redis_server: ServerProcess,
) -> None:
    rd = redis_server.client()
    mk = server.client()
    rd.flushall()
    mk.flushall()
    _run(redis_server.port, commands)
    _run(server.port, commands)
    for key in _keys(commands):
        theirs = rd.dump(key)
        mine = mk.dump(key)
        assert theirs is not None and mine is not None
        if identical:
            assert mine == theirs, key
        # redis-server -> minikv: same contents, type and encoding.
        mk.restore(f"from-redis:{key}", 0, theirs)
        assert contents(mk, f"from-redis:{key}")[:2] == contents(rd, key)[:2], key
        assert mk.object("encoding", f"from-redis:{key}") == rd.object("encoding", key), key
        # ... and back: minikv's DUMP of it restores into redis-server as it was.
        rd.restore(f"round-trip:{key}", 0, mk.dump(f"from-redis:{key}"))
        assert contents(rd, f"round-trip:{key}")[:2] == contents(rd, key)[:2], key
        # minikv -> redis-server: what minikv built natively restores with its contents.
        rd.restore(f"from-minikv:{key}", 0, mine)
        assert contents(rd, f"from-minikv:{key}")[:2] == contents(mk, key)[:2], key
    rd.close()
    mk.close()


def test_lzf_output_is_redis_s_own(redis_server: ServerProcess) -> None:
    """minikv's LZF compressor makes redis-server's choices, byte for byte, on strings of every
    length class and compressibility (random ones fail to compress on both)."""
    rd = redis_server.client()
    rng = random.Random(3)
    for n in (21, 22, 23, 24, 25, 30, 33, 34, 40, 64, 100, 264, 265, 300, 1000, 8200, 9000, 70000):
        for alphabet in (b"a", b"ab", b"abc", b"abcdefghij0123", bytes(range(256))):
            s = bytes(rng.choice(alphabet) for _ in range(n))
            rd.set("k", s)
            assert dump.seal(b"\x00" + dump.encode_string(s)) == rd.dump("k"), (n, alphabet)
    rd.delete("k")
    rd.close()


def test_lzf_round_trips() -> None:
    rng = random.Random(5)
    for n in range(21, 400, 7):
        for alphabet in (b"a", b"abc", bytes(range(256)), b"0123456789"):
            s = bytes(rng.choice(alphabet) for _ in range(n))
            packed = dump.lzf_compress(s, n - 4)
            if packed is not None:
                assert len(packed) <= n - 4
                assert dump.lzf_decompress(packed, n) == s


def test_function_dump_is_compressed_as_redis_does(differential: Differential) -> None:
    """FUNCTION DUMP shares the string writer: a library long enough to compress comes out
    byte for byte as redis-server's."""
    code = "#!lua name=lib\n" + "".join(
        f"redis.register_function('f{i}', function() return {i} end)\n" for i in range(20)
    )
    differential.check(("FUNCTION", "LOAD", code), ("FUNCTION", "DUMP"), ("FUNCTION", "FLUSH"))


def test_compressed_and_plain_quicklist_nodes(rd_own: ServerProcess, server: ServerProcess) -> None:
    """redis-server's DUMP of a list whose nodes are LZF-compressed (list-compress-depth) or
    PLAIN (elements past the packed threshold) restores into minikv; minikv's DUMP of it
    restores into redis-server."""
    rd = rd_own.client()
    mk = server.client()
    mk.flushall()
    rd.flushall()
    try:
        rd.config_set("list-compress-depth", 1)
        rd.rpush("compressed", *[f"element-{i}" * 5 for i in range(2000)])
        rd.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100")
        rd.rpush("plain", "small", "x" * 150, "y" * 99, "z" * 300, "")
        for key in ("compressed", "plain"):
            mk.restore(key, 0, rd.dump(key))
            assert mk.lrange(key, 0, -1) == rd.lrange(key, 0, -1)
            rd.restore(f"{key}:back", 0, mk.dump(key))
            assert rd.lrange(f"{key}:back", 0, -1) == rd.lrange(key, 0, -1)
    finally:
        rd.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", str(1 << 30))
        rd.config_set("list-compress-depth", 0)
        rd.close()


def test_stream_tombstones_keep_node_size_and_cut(
    server: ServerProcess, redis_server: ServerProcess
):
    """A minikv stream with deleted entries, restored into redis-server, takes further XADDs
    into the same nodes minikv would: its nodes keep their entry counts and byte sizes."""
    commands = [("XADD", "x", f"{i}-1", "field", f"value{i}") for i in range(1, 91)]
    commands += [("XDEL", "x", "5-1", "6-1", "50-1", "90-1")]
    after = [("XADD", "x", f"{i}-1", "field", f"value{i}") for i in range(100, 130)]
    after += [("XINFO", "STREAM", "x")]
    mk = server.client()
    rd = redis_server.client()
    mk.flushall()
    rd.flushall()
    _run(server.port, commands)
    rd.restore("x", 0, mk.dump("x"))
    _run(server.port, after[:-1])
    _run(redis_server.port, after[:-1])
    mine, theirs = mk.xinfo_stream("x"), rd.xinfo_stream("x")
    for field in ("length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id"):
        assert mine[field] == theirs[field], field
    # MINID trimming reads a node's last ID, deleted or not.
    mk.xtrim("x", minid="91-1")
    rd.xtrim("x", minid="91-1")
    assert mk.xrange("x") == rd.xrange("x")


# --- encodings only older Redis versions write --------------------------------------------------


def _zl_entry(x: bytes | int, prevlen: int) -> bytes:
    pre = bytes((prevlen,)) if prevlen < 254 else b"\xfe" + prevlen.to_bytes(4, "little")
    if isinstance(x, int):
        if 0 <= x <= 12:
            return pre + bytes((0xF1 + x,))
        for enc, fmt in ((0xFE, "<b"), (0xC0, "<h"), (0xD0, "<i"), (0xE0, "<q")):
            try:
                return pre + bytes((enc,)) + struct.pack(fmt, x)
            except struct.error:
                continue
    assert isinstance(x, bytes)
    n = len(x)
    if n <= 0x3F:
        head = bytes((n,))
    elif n <= 0x3FFF:
        head = bytes((0x40 | n >> 8, n & 0xFF))
    else:
        head = b"\x80" + n.to_bytes(4, "big")
    return pre + head + x


def ziplist(items: list[bytes | int]) -> bytes:
    body = b""
    prev = 0
    tail = 10
    for x in items:
        tail = 10 + len(body)
        e = _zl_entry(x, prev)
        body += e
        prev = len(e)
    size = 10 + len(body) + 1
    head = size.to_bytes(4, "little") + tail.to_bytes(4, "little")
    return head + min(len(items), 0xFFFF).to_bytes(2, "little") + body + b"\xff"


def zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    def ln(n: int) -> bytes:
        return bytes((n,)) if n < 254 else b"\xfe" + n.to_bytes(4, "little")

    body = b"".join(ln(len(k)) + k + ln(len(v)) + b"\x00" + v for k, v in pairs)
    return bytes((min(len(pairs), 254),)) + body + b"\xff"


def rdb_string(s: bytes) -> bytes:
    return dump.encode_uncompressed(s)


def _payload(type_byte: int, body: bytes, version: int = 9) -> bytes:
    out = bytes((type_byte,)) + body + version.to_bytes(2, "little")
    return out + dump.crc64(out).to_bytes(8, "little")


def _legacy_stream() -> bytes:
    """An RDB_TYPE_STREAM_LISTPACKS (Redis 5/6) stream: two entries, a group with one pending
    entry owned by a consumer."""
    key = struct.pack(">QQ", 1, 1)
    lp = lp_encode([2, 0, 1, b"f", 0, 2, 0, 0, b"v1", 4, 2, 1, 0, b"v2", 4])
    out = b"\x01" + rdb_string(key) + rdb_string(lp)
    out += b"\x02" + b"\x02\x01"  # length, last ID 2-1
    out += b"\x01" + rdb_string(b"grp") + b"\x01\x01"  # one group, last ID 1-1
    out += b"\x01" + key + struct.pack("<q", 1_700_000_000_000) + b"\x03"  # PEL: 1-1, 3 times
    out += b"\x01" + rdb_string(b"alice") + struct.pack("<q", 1_700_000_000_001) + b"\x01" + key
    return out


LEGACY: list[tuple[str, bytes]] = [
    ("list", _payload(1, b"\x03" + rdb_string(b"a") + rdb_string(b"12") + rdb_string(b""))),
    ("zset", _payload(3, b"\x02" + rdb_string(b"a") + b"\x031.5" + rdb_string(b"b") + b"\xfe")),
    ("zset-nan", _payload(3, b"\x01" + rdb_string(b"a") + b"\xfd")),
    ("zipmap", _payload(9, rdb_string(zipmap([(b"f", b"v"), (b"g", b"12"), (b"", b"e")])))),
    ("zipmap-dup", _payload(9, rdb_string(zipmap([(b"f", b"v"), (b"f", b"w")])))),
    ("list-ziplist", _payload(10, rdb_string(ziplist([b"a", 5, 300, -70000, 2**40, b"x" * 70])))),
    ("list-ziplist-empty", _payload(10, rdb_string(ziplist([])))),
    ("zset-ziplist", _payload(12, rdb_string(ziplist([b"c", -3, b"a", 1, b"b", b"2.5"])))),
    ("zset-ziplist-odd", _payload(12, rdb_string(ziplist([b"a", 1, b"b"])))),
    ("hash-ziplist", _payload(13, rdb_string(ziplist([b"f", b"v", b"n", 7, 8, b"x"])))),
    ("hash-ziplist-dup", _payload(13, rdb_string(ziplist([b"f", b"v", b"f", b"w"])))),
    (
        "quicklist-of-ziplists",
        _payload(
            14,
            b"\x03"
            + rdb_string(ziplist([b"a", 1]))
            + rdb_string(ziplist([]))
            + rdb_string(ziplist([b"c" * 300])),
        ),
    ),
    ("stream-v1", _payload(15, _legacy_stream())),
    ("module", _payload(7, b"\x81" + b"\x00" * 8)),
    ("type-8", _payload(8, b"\x00")),
    ("type-20", _payload(20, b"\x00")),
]


@pytest.mark.parametrize("name,payload", LEGACY, ids=[n for n, _ in LEGACY])
def test_legacy_encodings_restore_as_in_redis(
    name: str, payload: bytes, server: ServerProcess, redis_server: ServerProcess
) -> None:
    mk, rd = server.client(), redis_server.client()
    mk.flushall()
    rd.flushall()
    replies = [
        run_raw(port, [("RESTORE", "k", "0", payload)])[0]
        for port in (server.port, redis_server.port)
    ]
    assert replies[0] == replies[1]
    if replies[0] == b"+OK\r\n":
        assert contents(mk, "k") == contents(rd, "k")
        assert mk.object("encoding", "k") == rd.object("encoding", "k")
        rd.restore("back", 0, mk.dump("k"))
        assert contents(rd, "back") == contents(rd, "k")


# --- RESTORE's options, TTLs and errors -------------------------------------------------------

STRING = dump.seal(b"\x00\x05hello")
LIST = dump.seal(b"\x12\x01\x02" + rdb_string(lp_encode([b"a", b"b"])))


def test_replies_and_errors(differential: Differential) -> None:
    future = str(int(time.time() * 1000) + 100_000)
    differential.check(
        ("DUMP", "missing"),
        ("RESTORE", "k", "0", STRING),
        ("GET", "k"),
        ("RESTORE", "k", "0", STRING),  # BUSYKEY
        ("RESTORE", "k", "0", LIST, "REPLACE"),
        ("TYPE", "k"),
        ("LRANGE", "k", "0", "-1"),
        ("RESTORE", "k", "-1", STRING, "REPLACE"),
        ("RESTORE", "k", "x", STRING, "REPLACE"),
        ("RESTORE", "k", "-1", STRING),  # BUSYKEY comes before the TTL
        ("RESTORE", "n", "-1", STRING),
        ("RESTORE", "n", "0", STRING, "bogus"),
        ("RESTORE", "n", "0", STRING, "IDLETIME"),
        ("RESTORE", "n", "0", STRING, "IDLETIME", "-1"),
        ("RESTORE", "n", "0", STRING, "IDLETIME", "x"),
        ("RESTORE", "n", "0", STRING, "FREQ", "256"),
        ("RESTORE", "n", "0", STRING, "FREQ", "-1"),
        ("RESTORE", "n", "0", STRING, "FREQ", "1", "IDLETIME", "1"),  # not both
        ("RESTORE", "n", "0", STRING, "IDLETIME", "0", "FREQ", "1"),
        ("RESTORE", "k", "0", STRING, "bogus"),  # options before BUSYKEY
        ("RESTORE", "n", "0", "short"),
        ("RESTORE", "n", "0", STRING[:-1] + bytes((STRING[-1] ^ 1,))),
        ("RESTORE", "n", "0", b"\x00\x05hello\x0b\x00" + STRING[-8:]),  # version 11
        ("RESTORE", "n", "0", dump.seal(b"\x00\x09hello")),  # runs into the footer
        ("RESTORE", "n", "0", dump.seal(b"\x00\x05hello" + b"trailing")),  # ignored
        ("GET", "n"),
        ("DEL", "n"),
        ("RESTORE", "n", "0", dump.seal(b"\x02\x02\x01a\x01a")),  # a member twice
        ("RESTORE", "n", "0", dump.seal(b"\x0b" + rdb_string(b"\x02\x00\x00\x00" + bytes(4)))),
        ("RESTORE", "n", "0", dump.seal(b"\x12\x01\x03\x01a")),  # bad container
        ("RESTORE", "n", "0", dump.seal(b"\x12\x01\x01\x01a")),  # a PLAIN node
        ("LRANGE", "n", "0", "-1"),
        ("RESTORE", "e", "0", dump.seal(b"\x00\xc3\x00\x00")),  # LZF of length 0: ""
        ("GET", "e"),
        ("RESTORE", "f", "0", STRING, "FREQ", "10"),  # noeviction: FREQ is ignored
        ("RESTORE", "i", "0", STRING, "IDLETIME", "0"),
        ("RESTORE", "t", future, STRING, "ABSTTL"),
        ("PEXPIRETIME", "t"),
        ("RESTORE", "past", "1", STRING, "ABSTTL"),  # already expired: OK, no key
        ("RESTORE", "past", "9223372036854775807", STRING),  # the deadline wraps: expired
        ("RESTORE", "far", "9223372036854775807", STRING, "ABSTTL"),
        ("PEXPIRETIME", "far"),
        ("EXISTS", "past"),
        ("RESTORE", "k", "1", STRING, "ABSTTL", "REPLACE"),  # ... and the old key goes
        ("EXISTS", "k"),
        ("RESTORE",),
        ("RESTORE", "k", "0"),
        ("DUMP",),
        ("DUMP", "a", "b"),
        ("SET", "i", "1"),
        ("RESTORE", "i", "0", STRING, "REPLACE", "ABSTTL", "REPLACE"),
        ("GET", "i"),
    )


def test_relative_ttl(server: ServerProcess, redis_server: ServerProcess) -> None:
    for srv in (server, redis_server):
        c = srv.client()
        c.flushall()
        assert c.restore("k", 50_000, STRING)
        assert 48_000 < c.pttl("k") <= 50_000
        assert c.restore("k", 0, STRING, replace=True)
        assert c.pttl("k") == -1
        c.close()


def test_restore_idletime_and_freq_set_the_access_record(server: ServerProcess) -> None:
    """IDLETIME sets the LRU record under an LRU policy (FREQ is ignored there), FREQ the LFU
    counter under an LFU policy (IDLETIME ignored), as Redis's objectSetLRUOrLFU."""
    c = server.client()
    c.flushall()
    try:
        assert c.restore("k", 0, STRING, idletime=1000)
        assert 1000 <= c.object("idletime", "k") <= 1001
        assert c.restore("f", 0, STRING, frequency=77)  # ignored without an LFU policy
        assert c.object("idletime", "f") <= 1
        c.config_set("maxmemory-policy", "allkeys-lfu")
        assert c.restore("g", 0, STRING, frequency=77)
        assert c.object("freq", "g") == 77
        assert c.restore("h", 0, STRING, idletime=1000)  # ignored under LFU: a new key's 5
        assert c.object("freq", "h") == 5
    finally:
        c.config_set("maxmemory-policy", "noeviction")
    # An expired ABSTTL creates nothing, so there is no idle time to set: OK, as in Redis.
    assert c.restore("k", 1, STRING, replace=True, absttl=True, idletime=5)
    assert c.exists("k") == 0
    c.close()


def test_restore_wakes_blocked_clients(server: ServerProcess) -> None:
    c = server.client()
    c.flushall()
    blocked = server.client()
    import threading

    got: list[Any] = []
    t = threading.Thread(target=lambda: got.append(blocked.blpop(["k"], 5)))
    t.start()
    time.sleep(0.2)
    c.restore("k", 0, LIST)
    t.join()
    assert got == [(b"k", b"a")]
    blocked.close()
    c.close()


# --- corrupt payloads ----------------------------------------------------------------------------


def _seed_values(c: redis.Redis) -> dict[bytes, bytes]:
    c.flushall()
    c.set("str", "hello")
    c.set("lzf", "abcabcabcabcabcabcabcabcabc")
    c.set("int", 12345)
    c.rpush("list", "a", "1", "", "bcd", "-300")
    c.sadd("intset", 1, 2, 300)
    c.sadd("set", "a", "b", "")
    c.zadd("zset", {"a": 1, "b": 2.5})
    c.zadd("skiplist", {"m" * 70: 1, "n": -2})
    c.hset("hash", mapping={"f": "v", "g": "1"})
    c.hset("hashtable", mapping={"f": "v" * 70})
    c.xadd("stream", {"f": "v"}, id="1-1")
    c.xadd("stream", {"f": "w", "g": "z"}, id="2-1")
    c.xgroup_create("stream", "grp", id="0")
    c.xreadgroup("grp", "c", {"stream": ">"}, count=1)
    payloads = {k: c.dump(k) for k in c.keys("*")}
    payloads[b"ziplist"] = _payload(13, rdb_string(ziplist([b"f", b"v", b"n", 7])))
    payloads[b"zipmap"] = _payload(9, rdb_string(zipmap([(b"f", b"v")])))
    c.flushall()
    return payloads


#: Why minikv may refuse a payload a deeply sanitizing redis-server takes (rdbvalue's docstring):
#: values it cannot hold faithfully.
STRICTER = ("zset score", "stream", "unknown length encoding")


def _corruptions(payload: bytes) -> Iterator[bytes]:
    body = payload[:-10]
    for i in range(len(body)):
        for flip in (0xFF, 0x01, 0x80):
            b = bytearray(body)
            b[i] ^= flip
            yield dump.seal(bytes(b))
    for n in range(len(body)):
        yield dump.seal(body[:n])


def test_corrupt_payloads(mk_own: ServerProcess, rd_deep: ServerProcess) -> None:
    """Every byte of small payloads flipped (the checksum fixed, so the value itself is read)
    and every truncation: minikv answers what redis-server with sanitize-dump-payload yes
    answers, or refuses where it is stricter for a stated reason, and never goes down. Where
    both take the payload, they hold the same thing."""
    mk, rd = mk_own.client(), rd_deep.client()
    seeds = _seed_values(rd)
    stricter = 0
    for key, payload in sorted(seeds.items()):
        cands = list(_corruptions(payload))
        cmds = [("RESTORE", f"k{i}", "0", p) for i, p in enumerate(cands)]
        mine = run_raw(mk_own.port, [("FLUSHALL",), *cmds])[1:]
        theirs = run_raw(rd_deep.port, [("FLUSHALL",), *cmds])[1:]
        for i, (p, a, b) in enumerate(zip(cands, mine, theirs, strict=True)):
            if a == b:
                if a == b"+OK\r\n":
                    assert contents(mk, f"k{i}") == contents(rd, f"k{i}"), (key, p)
                continue
            assert (a, b) == (b"-ERR Bad data format\r\n", b"+OK\r\n"), (key, p, a, b)
            with pytest.raises(ValueError) as why:
                rdbvalue.load_value(p)
            assert str(why.value).startswith(STRICTER), (key, p, why.value)
            stricter += 1
        assert mk.ping()
    assert stricter < 200  # the exceptions stay exceptions


def test_flipped_bytes_fail_the_checksum(mk_own: ServerProcess, rd_deep: ServerProcess) -> None:
    seeds = _seed_values(rd_deep.client())
    payload = seeds[b"stream"]
    cands = []
    for i in range(len(payload)):
        b = bytearray(payload)
        b[i] ^= 0x10
        cands.append(bytes(b))
    cands += [payload[:n] for n in range(len(payload))]
    cmds = [("FLUSHALL",)] + [("RESTORE", f"k{i}", "0", p) for i, p in enumerate(cands)]
    mine = run_raw(mk_own.port, cmds)[1:]
    assert mine == run_raw(rd_deep.port, cmds)[1:]
    assert set(mine) == {b"-ERR DUMP payload version or checksum are wrong\r\n"}


def test_decoders_never_raise_anything_but_value_errors() -> None:
    """Random garbage through every decoder, in process: only ValueError comes out."""
    rng = random.Random(11)
    seeds = [lp_encode([b"a", 1, b"x" * 70, -5000, 2**40]), ziplist([b"a", 1, b"b" * 300, -70000])]
    seeds += [zipmap([(b"f", b"v")]), rdbvalue.intset_encode([1, 2, 70000])]
    decoders = [rdbvalue.lp_decode, rdbvalue.ziplist_decode, rdbvalue.zipmap_decode]
    decoders += [rdbvalue.intset_decode]
    for _ in range(3000):
        blob = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        if rng.random() < 0.3:
            blob = blob[: rng.randrange(len(blob) + 1)]
        for decode in decoders:
            try:
                decode(bytes(blob))
            except ValueError:
                pass
        for t in range(20):
            try:
                rdbvalue.load_value(bytes((t,)) + bytes(blob))
            except ValueError:
                pass


def test_rdbcompression_no_writes_strings_verbatim(differential: Differential) -> None:
    """Both servers with ``rdbcompression no``: the same uncompressed payloads (a string and a
    list whose listpack would compress), and they restore."""
    differential.check(
        ("CONFIG", "SET", "rdbcompression", "no"),
        ("SET", "s", "a" * 200),
        ("RPUSH", "l", *["x" * 30] * 20),
        ("DUMP", "s"),
        ("DUMP", "l"),
        ("CONFIG", "GET", "rdbcompression"),
        ("CONFIG", "SET", "rdbcompression", "yes"),
        ("DUMP", "s"),
    )
