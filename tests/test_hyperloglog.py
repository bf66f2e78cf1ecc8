"""HyperLogLog commands against a real redis-server: every reply and error (RESP2 and RESP3),
and the values themselves, byte for byte (GET of an HLL key is Redis's ``HYLL`` header and
registers), for sparse values, values promoted to dense, merged ones and corrupted ones; the
estimates from 1 to 100 000 elements; values moved between the two servers; the cached
cardinality's write-back (dirty count, WATCH, propagation as Redis sends it on its
replication stream); ``hll-sparse-max-bytes``; DEBUG RELOAD and the AOF. Then ``minikv.hll``
on its own: its whole-string register tricks against plain per-register loops.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import hiredis
import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, encode, run_raw

from minikv import hll
from minikv.config import lookup_param


def pfadd_batches(key: str, start: int, stop: int, batch: int = 10_000) -> list[tuple[Any, ...]]:
    """PFADD of elements ``e<start>`` .. ``e<stop - 1>`` in commands of ``batch`` elements."""
    return [
        ("PFADD", key, *(f"e{i}" for i in range(a, min(stop, a + batch))))
        for a in range(start, stop, batch)
    ]


def value_of(raw: bytes) -> Any:
    """A raw reply, parsed."""
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def same(mk: ServerProcess, rd: ServerProcess, commands: list[tuple[Any, ...]]) -> list[bytes]:
    """Run ``commands`` on one connection to each server (no flush) and compare the raw
    replies one by one; returns minikv's."""
    mine = run_raw(mk.port, commands)
    theirs = run_raw(rd.port, commands)
    for cmd, a, b in zip(commands, mine, theirs, strict=True):
        assert a == b, f"{str(cmd)[:200]}: minikv {a[:300]!r} != redis {b[:300]!r}"
    return mine


def flush(*servers: ServerProcess) -> None:
    for s in servers:
        run_raw(s.port, [("FLUSHALL",), ("CONFIG", "SET", "hll-sparse-max-bytes", "3000")])


@pytest.fixture
def both(
    server: ServerProcess, redis_server: ServerProcess
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    flush(server, redis_server)
    yield server, redis_server
    flush(server, redis_server)


# --- commands and errors, RESP2 and RESP3 -------------------------------------------------------


def test_pfadd_differential(differential: Differential) -> None:
    differential.check(
        ("PFADD", "h"),  # a new key with no element: created, 1
        ("GET", "h"),
        ("PFADD", "h"),  # nothing: 0
        ("PFADD", "h", "a", "b", "c"),
        ("PFADD", "h", "a", "b", "c"),
        ("PFADD", "h", "a", "d"),
        ("GET", "h"),
        ("PFADD", "h2", "x", "x", "x"),
        ("GET", "h2"),
        ("PFADD", "bin", "\x00\xff", "", "a" * 100, "é"),
        ("GET", "bin"),
        ("PFADD",),
        ("SET", "s", "plain string"),
        ("PFADD", "s", "a"),
        ("PFADD", "s"),
        ("SET", "n", "12345678901234567"),  # an integer-encoded string in Redis
        ("PFADD", "n", "a"),
        ("RPUSH", "l", "a"),
        ("PFADD", "l", "a"),
        ("SET", "short", "HYLL"),
        ("PFADD", "short", "a"),
        ("TYPE", "h"),
        ("STRLEN", "h"),
    )


def test_pfcount_differential(differential: Differential) -> None:
    differential.check(
        ("PFCOUNT", "missing"),
        ("PFCOUNT", "missing", "missing2"),
        ("PFADD", "h", "a", "b", "c"),
        ("GET", "h"),  # cache invalid
        ("PFCOUNT", "h"),
        ("GET", "h"),  # cache written back
        ("PFCOUNT", "h"),
        ("PFADD", "h", "c"),  # nothing changes: the cache stays valid
        ("GET", "h"),
        ("PFADD", "h", "zz"),  # invalidated: the old count stays, with the top bit set
        ("GET", "h"),
        ("PFCOUNT", "h"),
        ("PFADD", "h2", "c", "d", "e", "f"),
        ("PFCOUNT", "h", "h2"),
        ("PFCOUNT", "h", "h2", "missing"),
        ("PFCOUNT", "h", "h"),
        ("GET", "h2"),  # several keys write no cache
        ("PFCOUNT",),
        ("SET", "s", "x"),
        ("PFCOUNT", "s"),
        ("PFCOUNT", "h", "s"),
        ("SADD", "set", "a"),
        ("PFCOUNT", "set"),
        ("PFCOUNT", "h", "set"),
        ("PFCOUNT", "set", "s"),
    )


def test_pfmerge_differential(differential: Differential) -> None:
    differential.check(
        ("PFMERGE", "d"),  # no source, no destination: an empty HLL
        ("GET", "d"),
        ("PFMERGE", "d2", "missing"),
        ("GET", "d2"),
        ("PFADD", "a", "1", "2", "3"),
        ("PFADD", "b", "3", "4", "5", "6"),
        ("PFMERGE", "m", "a", "b"),
        ("GET", "m"),
        ("PFCOUNT", "m"),
        ("PFMERGE", "m", "a"),  # the destination is a source too
        ("GET", "m"),
        ("PFMERGE", "a", "b"),
        ("GET", "a"),
        ("PFMERGE", "a"),
        ("GET", "a"),
        ("SET", "s", "x"),
        ("PFMERGE", "m", "s"),
        ("PFMERGE", "s", "a"),
        ("LPUSH", "l", "x"),
        ("PFMERGE", "m", "a", "l"),
        ("PFMERGE", "l", "a"),
        ("PFMERGE",),
        ("GET", "m"),
    )


def test_pfdebug_and_pfselftest_differential(differential: Differential) -> None:
    differential.check(
        ("PFDEBUG", "GETREG", "missing"),
        ("PFDEBUG", "nosuch", "missing"),
        ("PFADD", "h", "a", "b", "c", "d"),
        ("PFDEBUG", "ENCODING", "h"),
        ("PFDEBUG", "decode", "h"),
        ("PFDEBUG", "nosuch", "h"),
        ("PFDEBUG", "GETREG", "h", "extra"),
        ("PFDEBUG", "GETREG"),
        ("PFDEBUG", "TODENSE", "h"),
        ("PFDEBUG", "TODENSE", "h"),
        ("PFDEBUG", "ENCODING", "h"),
        ("PFDEBUG", "DECODE", "h"),
        ("GET", "h"),
        ("PFDEBUG", "GETREG", "h"),
        ("PFADD", "h2", "x"),
        ("PFDEBUG", "GETREG", "h2"),  # converts it
        ("PFDEBUG", "ENCODING", "h2"),
        ("GET", "h2"),
        ("SET", "s", "x"),
        ("PFDEBUG", "GETREG", "s"),
        ("PFDEBUG", "nosuch", "s"),
        ("HSET", "hash", "f", "v"),
        ("PFDEBUG", "ENCODING", "hash"),
        ("PFSELFTEST",),
        ("PFSELFTEST", "x"),
    )


def test_scripts_differential(differential: Differential) -> None:
    """PFCOUNT is a may-replicate command: refused by read-only scripts, like a write."""
    differential.check(
        ("EVAL", "return redis.call('pfadd', KEYS[1], 'a', 'b')", "1", "h"),
        ("EVAL", "return redis.call('pfcount', KEYS[1])", "1", "h"),
        ("EVAL_RO", "return redis.call('pfcount', KEYS[1])", "1", "h"),
        ("EVAL_RO", "return redis.pcall('pfcount', KEYS[1])", "1", "h"),
        ("GET", "h"),
    )


# --- the bytes of the values ------------------------------------------------------------------


def test_sparse_values_are_redis_bytes(both: tuple[ServerProcess, ServerProcess]) -> None:
    """Elements one by one and in batches, repeated ones, on one key: each GET the same."""
    mk, rd = both
    rng = random.Random(1)
    cmds: list[tuple[Any, ...]] = []
    for i in range(300):
        els = [f"x{rng.randrange(400)}" for _ in range(rng.choice([1, 1, 2, 5, 20]))]
        cmds += [("PFADD", "h", *els), ("GET", "h")]
        if i % 7 == 0:
            cmds += [("PFCOUNT", "h"), ("GET", "h"), ("PFDEBUG", "DECODE", "h")]
    same(mk, rd, cmds)
    assert run_raw(mk.port, [("PFDEBUG", "ENCODING", "h")]) == [b"+sparse\r\n"]


@pytest.mark.parametrize("max_bytes", ["3000", "0", "40", "200", "1000", "12000"])
def test_promotion_to_dense_is_redis_bytes(
    both: tuple[ServerProcess, ServerProcess], max_bytes: str
) -> None:
    """Promotion when the sparse form would outgrow hll-sparse-max-bytes (or a register
    passes 32), at the same element, to the same dense bytes."""
    mk, rd = both
    cmds: list[tuple[Any, ...]] = [("CONFIG", "SET", "hll-sparse-max-bytes", max_bytes)]
    n = 0
    for step in (1, 1, 3, 10, 30, 100, 300, 1000, 3000):
        cmds += pfadd_batches("h", n, n + step, batch=50)
        n += step
        cmds += [("PFDEBUG", "ENCODING", "h"), ("STRLEN", "h"), ("GET", "h"), ("PFCOUNT", "h")]
    same(mk, rd, cmds)
    if int(max_bytes) <= 3000:
        assert run_raw(mk.port, [("PFDEBUG", "ENCODING", "h")]) == [b"+dense\r\n"]


def test_register_above_32_promotes(both: tuple[ServerProcess, ServerProcess]) -> None:
    """An element whose run is longer than a sparse VAL can hold makes the HLL dense at once."""
    mk, rd = both
    for i in range(10**6):
        _, count = hll.pat_len(b"%d" % i)
        if count > 32:
            break
    same(
        mk,
        rd,
        [("PFADD", "h", "a", str(i), "b"), ("PFDEBUG", "ENCODING", "h"), ("GET", "h")],
    )


def test_estimates_from_1_to_100k_elements(both: tuple[ServerProcess, ServerProcess]) -> None:
    """PFCOUNT after every element up to 300, then at ~100 points up to 100 000; the value
    (registers and cached count) compared at each of those points too."""
    mk, rd = both
    cmds: list[tuple[Any, ...]] = []
    for i in range(300):
        cmds += [("PFADD", "h", f"e{i}"), ("PFCOUNT", "h")]
    points = sorted({int(300 * 1.057**k) for k in range(105)} | {100_000})
    n = 300
    for p in points:
        if p <= n:
            continue
        cmds += pfadd_batches("h", n, p)
        cmds += [("PFCOUNT", "h"), ("GET", "h")]
        n = p
    replies = same(mk, rd, cmds)
    estimate = int(replies[-2][1:])
    assert abs(estimate - 100_000) < 3_000  # within ~3 standard errors


@pytest.mark.parametrize("max_bytes", ["3000", "300"])
def test_merges_are_redis_bytes(both: tuple[ServerProcess, ServerProcess], max_bytes: str) -> None:
    """Sparse into sparse (staying so, or promoted on the way), anything with a dense source
    (dense result), a new or an existing destination, valid and invalid caches."""
    mk, rd = both
    cmds: list[tuple[Any, ...]] = [("CONFIG", "SET", "hll-sparse-max-bytes", max_bytes)]
    sizes = {"s1": 3, "s2": 40, "s3": 200, "s4": 700, "d1": 5000, "d2": 20000}
    start = 0
    for key, n in sizes.items():
        cmds += pfadd_batches(key, start, start + n)
        start += n // 2  # overlapping
    cmds += [("PFCOUNT", "s3"), ("PFCOUNT", "d2")]  # valid caches on some sources
    merges = [
        ("m1", "s1", "s2"),
        ("m2", "s2", "s3", "s4"),
        ("m3", "s1", "d1"),
        ("m4", "d1", "d2", "missing"),
        ("s1", "s2"),  # into an existing sparse destination
        ("s3", "d1"),  # sparse destination made dense
        ("d2", "s1"),
        ("s4", "s3", "s2", "s1"),
        ("m5", "m5"),
    ]
    rng = random.Random(3)
    for keys in merges:
        cmds += [
            ("PFCOUNT", *keys[1:]) if len(keys) > 2 else ("PFCOUNT", keys[0], keys[-1]),
            ("PFMERGE", *keys),
            ("GET", keys[0]),
            ("PFCOUNT", keys[0]),
            ("PFDEBUG", "ENCODING", keys[0]),
        ]
        if rng.random() < 0.5:
            cmds += [("PFADD", keys[0], "late"), ("GET", keys[0])]
    same(mk, rd, cmds)


def test_values_cross_between_servers(both: tuple[ServerProcess, ServerProcess]) -> None:
    """A value GET from one server and SET into the other is a working HLL there: the same
    further adds give the same bytes and counts on both."""
    mk, rd = both
    for src in (rd, mk):
        flush(mk, rd)
        for key, n in (("small", 50), ("big", 8000)):
            run_raw(src.port, pfadd_batches(key, 0, n))
            v = value_of(run_raw(src.port, [("GET", key)])[0])
            for s in (mk, rd):
                run_raw(s.port, [("SET", key, v), ("PFCOUNT", key)])
        cmds: list[tuple[Any, ...]] = []
        for key in ("small", "big"):
            cmds += [("PFCOUNT", key), ("GET", key)]
            cmds += pfadd_batches(key, 10_000, 10_300, batch=7)
            cmds += [("GET", key), ("PFCOUNT", key), ("PFCOUNT", "small", "big")]
        cmds += [("PFMERGE", "small", "big"), ("GET", "small")]
        same(mk, rd, cmds)


# --- corrupted values -----------------------------------------------------------------------

_PROBES: list[tuple[Any, ...]] = [
    ("PFCOUNT", "k"),
    ("GET", "k"),
    ("PFCOUNT", "k", "ok"),
    ("PFMERGE", "d", "k"),
    ("GET", "d"),
    ("PFMERGE", "k", "ok"),
    ("GET", "k"),
    ("PFDEBUG", "DECODE", "k"),
    ("PFADD", "k", *(f"p{i}" for i in range(40))),
    ("GET", "k"),
    ("PFCOUNT", "k"),
    ("GET", "k"),
    ("PFDEBUG", "TODENSE", "k"),
    ("PFDEBUG", "GETREG", "k"),
    ("GET", "k"),
]


def _probe(mk: ServerProcess, rd: ServerProcess, setup: list[tuple[Any, ...]]) -> None:
    flush(mk, rd)
    same(mk, rd, [("PFADD", "ok", "a", "b"), *setup, *_PROBES])


def _sparse(n: int) -> list[tuple[Any, ...]]:
    return pfadd_batches("k", 0, n)


def _dense() -> list[tuple[Any, ...]]:
    return pfadd_batches("k", 0, 5000)


@pytest.mark.parametrize(
    "setup",
    [
        # the header
        [*_sparse(10), ("SETRANGE", "k", "0", "h")],  # magic
        [*_sparse(10), ("SETRANGE", "k", "4", "\x02")],  # an unknown encoding
        [*_sparse(10), ("SETRANGE", "k", "4", "\x00")],  # "dense" of the wrong size
        [*_dense(), ("SETRANGE", "k", "4", "\x01")],  # dense registers read as opcodes
        [*_dense(), ("APPEND", "k", "x")],  # dense, one byte too long
        [*_sparse(10), ("SETRANGE", "k", "5", "abc")],  # the unused bytes are kept
        [("SET", "k", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")],  # 15 bytes
        [("SET", "k", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")],  # no opcode
        # a valid cache hides the damage from PFCOUNT
        [*_sparse(10), ("PFCOUNT", "k"), ("SETRANGE", "k", "16", "\x7f\xff")],
        # sparse opcodes covering too many or too few registers
        [*_sparse(10), ("SETRANGE", "k", "16", "\x7f\xff")],
        [*_sparse(10), ("APPEND", "k", "\x80")],
        [*_sparse(10), ("APPEND", "k", "\x00")],
        [*_sparse(10), ("APPEND", "k", "\x40")],  # an XZERO cut off by the end
        [*_sparse(300), ("SETRANGE", "k", "100", "\x00\x00\x00")],
        [*_sparse(300), ("SETRANGE", "k", "60", "\xff\xff\xff\xff")],
        # dense registers far above what hashing gives: the estimate overflows as in Redis
        [*_dense(), ("SETRANGE", "k", "16", "\xff" * 12288)],
        [*_dense(), ("SETRANGE", "k", "16", "\x92\x24\x49" * 4096)],  # all 18
        [*_dense(), ("SETRANGE", "k", "16", "\x00" * 12288)],
        [*_dense(), ("SETRANGE", "k", "16", "\x3f" * 3000)],
    ],
)
def test_corrupted_values_behave_as_in_redis(
    both: tuple[ServerProcess, ServerProcess], setup: list[tuple[Any, ...]]
) -> None:
    _probe(*both, setup)


def test_truncated_values_behave_as_in_redis(both: tuple[ServerProcess, ServerProcess]) -> None:
    mk, rd = both
    for n, cut in ((10, 1), (10, 2), (10, 3), (300, 50), (300, 11), (5000, 1)):
        [raw] = run_raw(rd.port, [("FLUSHALL",), *pfadd_batches("k", 0, n), ("GET", "k")])[-1:]
        v = value_of(raw)
        _probe(mk, rd, [("SET", "k", v[:-cut])])


def test_fuzzed_sparse_values_behave_as_in_redis(
    both: tuple[ServerProcess, ServerProcess],
) -> None:
    """Random damage to sparse values of several sizes: every probe replies the same."""
    mk, rd = both
    rng = random.Random(11)
    for n in (3, 30, 120, 400, 900):
        [raw] = run_raw(rd.port, [("FLUSHALL",), *pfadd_batches("k", 0, n), ("GET", "k")])[-1:]
        base = value_of(raw)
        for _ in range(12):
            v = bytearray(base)
            for _ in range(rng.choice([1, 1, 2, 4])):
                v[rng.randrange(16, len(v))] = rng.choice([rng.randrange(256), 0x40, 0x7F, 0xFF])
            if rng.random() < 0.2:
                del v[rng.randrange(17, len(v) + 1) :]
            _probe(mk, rd, [("SET", "k", bytes(v))])


# --- what a change is: dirty count, WATCH, notifications, propagation --------------------------


def _info(port: int) -> dict[str, int]:
    [raw] = run_raw(port, [("INFO", "all")])
    out = {}
    for line in raw.decode().split("\r\n"):
        name, _, value = line.partition(":")
        if name in ("rdb_changes_since_last_save", "keyspace_hits", "keyspace_misses"):
            out[name] = int(value)
    return out


def test_dirty_count_and_keyspace_stats_match_redis(
    both: tuple[ServerProcess, ServerProcess],
) -> None:
    """Changes counted as Redis counts them (PFADD: one per register raised; PFCOUNT: one
    for the cache write; PFDEBUG TODENSE: one), hits and misses of the keys read."""
    mk, rd = both
    steps: list[tuple[Any, ...]] = [
        ("PFADD", "h", "a", "b", "c", "d"),
        ("PFADD", "h", "a"),
        ("PFADD", "new"),
        ("PFCOUNT", "h"),
        ("PFCOUNT", "h"),
        ("PFCOUNT", "h", "missing"),
        ("PFCOUNT", "missing"),
        ("PFMERGE", "m", "h", "missing"),
        ("PFMERGE", "m", "h"),
        ("PFDEBUG", "TODENSE", "m"),
        ("PFDEBUG", "TODENSE", "m"),
        ("PFDEBUG", "GETREG", "h"),
        ("PFDEBUG", "ENCODING", "missing"),
        *pfadd_batches("big", 0, 3000),
    ]
    for step in steps:
        before = {s.kind: _info(s.port) for s in both}
        same(mk, rd, [step])
        after = {s.kind: _info(s.port) for s in both}
        deltas = {
            kind: {k: after[kind][k] - before[kind][k] for k in after[kind]} for kind in after
        }
        assert deltas["minikv"] == deltas["redis"], str(step)[:100]


def _watch_then_exec(port: int, other: list[tuple[Any, ...]]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as a:
        a.sendall(encode("WATCH", "h"))
        a.recv(100)
        run_raw(port, other)
        a.sendall(encode("MULTI") + encode("PING") + encode("EXEC"))
        reader = hiredis.Reader()
        got = b""
        replies = 0
        while replies < 3:
            chunk = a.recv(1000)
            got += chunk
            reader.feed(chunk)
            while reader.gets() is not False:
                replies += 1
        return got


@pytest.mark.parametrize(
    "other",
    [
        [("PFCOUNT", "h")],  # writes the cache: the transaction fails
        [("PFCOUNT", "h"), ("PFCOUNT", "h")],
        [("PFCOUNT", "h", "h")],  # several keys: no write
        [("PFADD", "h", "a")],  # no register rises
        [("PFADD", "h", "zzz")],
        [("PFMERGE", "h")],
        [("PFDEBUG", "TODENSE", "h")],  # dirty, but no signal in Redis
        [("PFDEBUG", "ENCODING", "h")],
    ],
)
def test_watch_sees_what_redis_signals(
    both: tuple[ServerProcess, ServerProcess], other: list[tuple[Any, ...]]
) -> None:
    got = []
    for s in both:
        run_raw(s.port, [("FLUSHALL",), ("PFADD", "h", "a", "b")])
        got.append(_watch_then_exec(s.port, other))
    assert got[0] == got[1]


def test_cached_count_only_counts_once(server: ServerProcess) -> None:
    """A valid cache is returned as is: a value whose cache says 12345 answers 12345."""
    r = server.client()
    r.flushall()
    r.pfadd("h", "a")
    v = bytearray(r.get("h"))
    v[8:16] = (12345).to_bytes(8, "little")
    r.set("h", bytes(v))
    assert r.pfcount("h") == 12345
    v[15] |= 0x80
    r.set("h", bytes(v))
    assert r.pfcount("h") == 1
    assert r.get("h")[8:16] == (1).to_bytes(8, "little")


def _redis_stream(port: int) -> tuple[socket.socket, Any]:
    from test_propagation import _redis_stream as attach

    return attach(port)


PROPAGATION_WORKLOAD: list[tuple[Any, ...]] = [
    ("PFADD", "h", "a", "b", "c"),
    ("PFADD", "h", "a"),  # no change: not propagated
    ("PFCOUNT", "h"),  # the cache write: propagated as sent
    ("PFCOUNT", "h"),  # cached: nothing
    ("PFCOUNT", "h", "missing"),  # several keys: nothing
    ("pfcount", "missing"),
    ("PFMERGE", "m", "h"),
    ("PFDEBUG", "TODENSE", "m"),  # the conversion is propagated
    ("PFDEBUG", "TODENSE", "m"),
    ("PFDEBUG", "GETREG", "h"),  # converts: propagated
    ("PFDEBUG", "ENCODING", "h"),
    ("MULTI",),
    ("PFADD", "t", "x"),
    ("PFCOUNT", "t"),
    ("EXEC",),
    ("EVAL", "redis.call('pfadd', KEYS[1], 'q'); return redis.call('pfcount', KEYS[1])", "1", "e"),
    ("SET", "__end__", "1"),
]


def test_propagation_matches_redis_replication_stream(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    from test_propagation import _read_until

    flush(server, redis_server)
    sock, reader = _redis_stream(redis_server.port)
    try:
        run_raw(redis_server.port, PROPAGATION_WORKLOAD)
        theirs = _read_until(sock, reader, [b"SET", b"__end__", b"1"])
    finally:
        sock.close()
    mk = server.client()
    mk.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        mk.execute_command("DEBUG", "PROPAGATION", "READ")
        run_raw(server.port, PROPAGATION_WORKLOAD)
        ours = mk.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        mk.execute_command("DEBUG", "PROPAGATION", "OFF")
    assert ours == theirs
    assert [b"PFCOUNT", b"h"] in ours


def test_aof_replays_to_the_same_bytes() -> None:
    """With the cache write propagated, the AOF rebuilds the values exactly, cache included."""
    with ServerProcess("--appendonly", "yes") as s:
        cmds: list[tuple[Any, ...]] = [
            *pfadd_batches("big", 0, 6000, batch=500),
            ("PFADD", "small", "a", "b"),
            ("PFCOUNT", "big"),
            ("PFCOUNT", "small"),
            ("PFMERGE", "m", "small", "big"),
            ("PFCOUNT", "m"),
        ]
        run_raw(s.port, cmds)
        before = run_raw(s.port, [("GET", k) for k in ("big", "small", "m")])
        assert hll.cached_card(value_of(before[0])) is not None  # the cache was written
        assert run_raw(s.port, [("DEBUG", "LOADAOF")]) == [b"+OK\r\n"]
        assert run_raw(s.port, [("GET", k) for k in ("big", "small", "m")]) == before


def test_values_survive_debug_reload(both: tuple[ServerProcess, ServerProcess]) -> None:
    mk, rd = both
    cmds: list[tuple[Any, ...]] = [
        *pfadd_batches("dense", 0, 5000),
        ("PFADD", "sparse", "a", "b", "c"),
        ("PFCOUNT", "dense"),
        ("PFMERGE", "m", "sparse", "dense"),
        ("DEBUG", "RELOAD"),
        ("GET", "dense"),
        ("GET", "sparse"),
        ("GET", "m"),
        ("PFCOUNT", "sparse"),
        ("PFCOUNT", "dense", "sparse"),
        ("PFADD", "sparse", "d"),
        ("GET", "sparse"),
    ]
    same(mk, rd, cmds)


# --- configuration -------------------------------------------------------------------------


def test_config_parameter_matches_redis(differential: Differential) -> None:
    differential.check(
        ("CONFIG", "GET", "hll-sparse-max-bytes"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "100"),
        ("CONFIG", "GET", "hll-sparse-max-bytes"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "1kb"),
        ("CONFIG", "GET", "hll-sparse-max-bytes"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "abc"),
        ("CONFIG", "GET", "hll-sparse*"),
        ("CONFIG", "SET", "hll-sparse-max-bytes", "3000"),
        resp=(2,),
    )


def test_config_file_sets_the_limit() -> None:
    from minikv.config import Config, parse_config_text, render_config_line

    config = Config()
    assert config.hll_sparse_max_bytes == hll.SPARSE_MAX_BYTES
    parse_config_text(config, "hll-sparse-max-bytes 2kb\n")
    assert config.hll_sparse_max_bytes == 2048
    assert render_config_line(config, lookup_param("hll-sparse-max-bytes")).startswith(
        "hll-sparse-max-bytes 2048"
    )


# --- redis-py ----------------------------------------------------------------------------


def test_redis_py_helpers(r: redis.Redis) -> None:
    assert r.pfadd("h1", "a", "b", "c") == 1
    assert r.pfadd("h1", "a") == 0
    assert r.pfcount("h1") == 3
    assert r.pfadd("h2", *[f"x{i}" for i in range(1000)]) == 1
    assert 980 <= r.pfcount("h2") <= 1020
    assert r.pfmerge("m", "h1", "h2") is True
    assert r.pfcount("m") == r.pfcount("h1", "h2")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
        r.pfadd("s", "a")
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
        r.pfcount("s")
    assert r.type("m") in ("string", b"string")


# --- minikv.hll on its own ---------------------------------------------------------------


def _slow_registers(v: bytes) -> list[int]:
    return [hll.dense_get(v, i) for i in range(hll.REGISTERS)]


def test_pack_unpack_histogram_and_max_against_plain_loops() -> None:
    rng = random.Random(5)
    for top in (1, 2, 13, 33, 64):
        raw = bytes(rng.randrange(top) for _ in range(hll.REGISTERS))
        dense = b"HYLL" + bytes(12) + hll.pack(hll.regs_of(raw))
        assert _slow_registers(dense) == list(raw)
        assert hll.regs_bytes(hll.unpack(dense)) == raw
        want = [raw.count(v) for v in range(64)]
        assert hll.dense_histogram(dense) == want
        assert hll.regs_histogram(hll.regs_of(raw)) == want
        other = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
        got = hll.regs_max(hll.regs_of(raw), hll.regs_of(other))
        assert hll.regs_bytes(got) == bytes(map(max, raw, other))


def test_dense_set_changes_one_register_only() -> None:
    rng = random.Random(6)
    raw = bytearray(rng.randrange(20) for _ in range(hll.REGISTERS))
    buf = bytearray(b"HYLL" + bytes(12) + hll.pack(hll.regs_of(raw)))
    for i in [0, 1, 2, 3, 4, 5, hll.REGISTERS - 1, *rng.sample(range(hll.REGISTERS), 200)]:
        value = rng.randrange(64)
        assert hll.dense_set(buf, i, value) == (1 if value > raw[i] else 0)
        raw[i] = max(raw[i], value)
        assert hll.regs_bytes(hll.unpack(bytes(buf))) == raw


def test_murmurhash64a_lengths() -> None:
    """The block loop and every tail length give the hash of the inline copy in ``add``."""
    for n in range(40):
        data = bytes(range(n))
        index, count = hll.pat_len(data)
        v, updated, corrupt = hll.add(b"HYLL" + bytes(12) + bytes(12288), [data], 3000)
        assert (updated, corrupt) == (1, False) and v is not None
        assert hll.dense_get(v, index) == count


def test_selftest_passes() -> None:
    assert hll.selftest(hll.SPARSE_MAX_BYTES, random.Random(1)) is None


def _reference_registers(v: bytes) -> bytes | None:
    """hllSparseToDense's walk, opcode by opcode (a byte past the end reads as 0)."""
    out = bytearray()
    p = 16
    while p < len(v):
        b = v[p]
        if b < 0x40:
            out += bytes(b + 1)
            p += 1
        elif b < 0x80:
            out += bytes((((b & 0x3F) << 8) | (v[p + 1] if p + 1 < len(v) else 0)) + 1)
            p += 2
        else:
            out += bytes([((b >> 2) & 0x1F) + 1]) * ((b & 3) + 1)
            p += 1
        if len(out) > hll.REGISTERS:
            return None
    return bytes(out) if len(out) == hll.REGISTERS else None


def test_sparse_decoding_short_and_long_against_a_plain_walk() -> None:
    """Both ways of reading sparse opcodes (a loop for short values, runs split at XZEROs for
    long ones) give the plain walk's registers and histogram, for valid and damaged values."""
    rng = random.Random(9)
    checked = valid = 0
    for n in (5, 40, 150, 500, 1500, 4000):
        v, _, _ = hll.add(hll.EMPTY, [b"%d" % rng.randrange(10**9) for _ in range(n)], 10**6)
        assert v is not None
        for damage in range(30):
            w = bytearray(v)
            for _ in range(damage % 4):
                w[rng.randrange(16, len(w))] = rng.choice([0x00, 0x3F, 0x40, 0x7F, 0x80, 0xFF])
            if damage % 5 == 4:
                w.append(rng.choice([0x40, 0x41, 0x7F, 0x00]))
            want = _reference_registers(bytes(w))
            assert hll.sparse_raw(w) == want
            hist = hll.sparse_histogram(w)
            assert (hist is None) == (want is None)
            if want is not None:
                assert hist == [want.count(x) for x in range(64)]
                valid += 1
            checked += 1
    assert valid > 20 and checked == 180
