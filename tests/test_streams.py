"""Streams against a real redis-server 7.0: every command's replies and errors byte for byte in
RESP2 and RESP3 (explicit IDs wherever a reply would show the time), node boundaries through
trimming and XINFO, blocking reads woken from another connection, consumer groups across a
snapshot round trip and through the append-only file, the propagated effects replayed into a
second server, and redis-py's stream helpers."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import hiredis
import pytest
import redis
from conftest import Differential
from helpers import ServerProcess, encode, run_raw, wait_for


def _seq(n: int, key: str = "s", ms: int = 1, fields: tuple[str, ...] = ("f",)) -> list[tuple]:
    out = []
    for i in range(n):
        kv: list[str] = []
        for f in fields:
            kv += [f, str(i)]
        out.append(("XADD", key, f"{ms}-{i}", *kv))
    return out


# --- XADD and IDs ------------------------------------------------------------------------------

XADD_CASES = {
    "explicit ids": [
        ("XADD", "s", "1-1", "a", "1"),
        ("XADD", "s", "1-2", "a", "2", "b", "3"),
        ("XADD", "s", "5", "x", "y"),
        ("XRANGE", "s", "-", "+"),
    ],
    "ms-star": [
        ("XADD", "s", "5-*", "a", "1"),
        ("XADD", "s", "5-*", "a", "2"),
        ("XADD", "s", "7-*", "a", "3"),
        ("XADD", "s", "6-*", "a", "4"),
        ("XRANGE", "s", "-", "+"),
    ],
    "errors": [
        ("XADD", "s", "0-0", "a", "1"),
        ("XADD", "s", "0", "a", "1"),
        ("XADD", "s", "1-1", "a"),
        ("XADD", "s", "1-1", "a", "1", "b"),
        ("XADD", "s", "1-1"),
        ("XADD", "s", "bad", "a", "1"),
        ("XADD", "s", "-", "a", "1"),
        ("XADD", "s", "+", "a", "1"),
        ("XADD", "s", "1-x", "a", "1"),
        ("XADD", "s", "1-1", "a", "1"),
        ("XADD", "s", "1-1", "a", "1"),
        ("XADD", "s", "1-0", "a", "1"),
        ("XADD", "s", "0-5", "a", "1"),
        ("XADD", "s", "0-*", "a", "1"),
        ("XADD", "s", "1-*", "a", "1"),
        ("XADD", "s", "MAXLEN", "-1", "2-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "x", "2-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "1", "MINID", "1", "2-1", "a", "1"),
        ("XADD", "s", "LIMIT", "5", "2-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "1", "LIMIT", "5", "2-1", "a", "1"),
        ("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-1", "2-1", "a", "1"),
        ("XADD", "s", "MINID", "-", "2-1", "a", "1"),
        ("XLEN", "s"),
    ],
    "odd id spellings": [
        ("XADD", "s", "018-1", "a", "1"),
        ("XADD", "s", "+19-1", "a", "1"),
        ("XADD", "s", " 20-1", "a", "1"),
        ("XADD", "s", "-0-5", "a", "1"),
        ("XADD", "s", "21-01", "a", "1"),
        ("XADD", "s", "-1-1", "a", "1"),
        ("XADD", "s", "18446744073709551616-1", "a", "1"),
        ("XADD", "s", "18446744073709551615-18446744073709551615", "a", "1"),
        ("XADD", "s", "*", "a", "1"),
        ("XADD", "s", "18446744073709551615-*", "a", "1"),
        ("XRANGE", "s", "-", "+"),
    ],
    "the last possible id": [
        ("XADD", "s", "18446744073709551615-18446744073709551614", "a", "1"),
        ("XADD", "s", "18446744073709551615-*", "a", "1"),
        ("XADD", "s", "18446744073709551615-*", "a", "1"),
        ("XADD", "s", "*", "a", "1"),
    ],
    "nomkstream": [
        ("XADD", "s", "NOMKSTREAM", "1-1", "a", "1"),
        ("EXISTS", "s"),
        ("XADD", "s", "1-1", "a", "1"),
        ("XADD", "s", "NOMKSTREAM", "2-1", "a", "1"),
        ("XLEN", "s"),
    ],
    "wrong type": [
        ("SET", "k", "v"),
        ("XADD", "k", "1-1", "a", "1"),
        ("XRANGE", "k", "-", "+"),
        ("XLEN", "k"),
        ("XDEL", "k", "1-1"),
        ("XTRIM", "k", "MAXLEN", "1"),
        ("XREAD", "STREAMS", "k", "0"),
        ("XGROUP", "CREATE", "k", "g", "0"),
        ("XINFO", "STREAM", "k"),
        ("XACK", "k", "g", "1-1"),
        ("XPENDING", "k", "g"),
        ("XSETID", "k", "1-1"),
        ("TYPE", "k"),
    ],
    "type and encoding": [
        ("XADD", "s", "1-1", "a", "1"),
        ("TYPE", "s"),
        ("OBJECT", "ENCODING", "s"),
        ("SCAN", "0", "TYPE", "stream"),
        ("COPY", "s", "s2"),
        ("XRANGE", "s2", "-", "+"),
        ("XADD", "s2", "2-1", "b", "2"),
        ("XLEN", "s"),
    ],
}


@pytest.mark.parametrize("case", XADD_CASES)
def test_xadd_differential(differential: Differential, case: str) -> None:
    differential.check(*XADD_CASES[case])


# --- ranges, deletion, trimming ----------------------------------------------------------------

RANGE_CASES = {
    "ranges": [
        *_seq(12),
        ("XRANGE", "s", "-", "+", "COUNT", "3"),
        ("XRANGE", "s", "1-3", "1-5"),
        ("XRANGE", "s", "(1-3", "(1-5"),
        ("XRANGE", "s", "1", "1"),
        ("XREVRANGE", "s", "+", "-", "COUNT", "2"),
        ("XREVRANGE", "s", "(1-5", "1-2"),
        ("XRANGE", "s", "-", "+", "COUNT", "0"),
        ("XRANGE", "s", "-", "+", "COUNT", "-3"),
        ("XRANGE", "s", "5", "1"),
        ("XRANGE", "nokey", "-", "+"),
        ("XRANGE", "s", "(-", "+"),
        ("XRANGE", "s", "-", "(+"),
        ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"),
        ("XRANGE", "s", "-", "(0-0"),
        ("XRANGE", "s", "x", "+"),
        ("XRANGE", "s", "-", "+", "COUNT"),
        ("XRANGE", "s", "-", "+", "LIMIT", "1"),
        ("XRANGE", "s", "-", "+", "COUNT", "x"),
        ("XREVRANGE", "s", "1-4", "1-4"),
    ],
    "xdel": [
        *_seq(5),
        ("XDEL", "s", "1-1", "1-3", "9-9"),
        ("XDEL", "s", "1-1"),
        ("XDEL", "s", "bad"),
        ("XDEL", "nokey", "1-1"),
        ("XRANGE", "s", "-", "+"),
        ("XDEL", "s", "1-0", "1-2", "1-4"),
        ("XLEN", "s"),
        ("EXISTS", "s"),
        ("XINFO", "STREAM", "s"),
        ("XADD", "s", "1-3", "a", "b"),
    ],
    "trim exact": [
        *_seq(20),
        ("XTRIM", "s", "MAXLEN", "15"),
        ("XTRIM", "s", "MAXLEN", "=", "10"),
        ("XTRIM", "s", "MINID", "1-14"),
        ("XTRIM", "s", "MINID", "=", "1-16"),
        ("XRANGE", "s", "-", "+"),
        ("XTRIM", "s", "MAXLEN", "0"),
        ("XLEN", "s"),
        ("XINFO", "STREAM", "s"),
    ],
    "trim errors": [
        *_seq(2),
        ("XTRIM", "s", "LIMIT", "1"),
        ("XTRIM", "s", "MAXLEN", "1", "x"),
        ("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1"),
        ("XTRIM", "s", "FOO", "1"),
        ("XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "x"),
        ("XTRIM", "nokey", "MAXLEN", "1"),
        ("XTRIM", "s", "MINID", "x"),
    ],
}


@pytest.mark.parametrize("case", RANGE_CASES)
def test_ranges_and_trimming_differential(differential: Differential, case: str) -> None:
    differential.check(*RANGE_CASES[case])


def _node_config(bytes_: int, entries: int) -> list[tuple]:
    return [
        ("CONFIG", "SET", "stream-node-max-bytes", str(bytes_)),
        ("CONFIG", "SET", "stream-node-max-entries", str(entries)),
    ]


@pytest.mark.parametrize("bytes_,entries", [(4096, 100), (4096, 10), (120, 100), (1, 0), (0, 7)])
def test_nodes_and_approximate_trimming_as_redis(
    differential: Differential, bytes_: int, entries: int
) -> None:
    """Where a node closes (by entries, by listpack bytes, mixed field sets that do or do not
    share the master's) decides what approximate trimming leaves and what XINFO counts."""
    cmds: list[tuple] = list(_node_config(bytes_, entries))
    for i in range(300):
        if i % 5 == 0:
            cmds.append(
                ("XADD", "s", f"{i // 3 + 1}-{i}", "name", "x" * (i % 70), "n", str(i * 977))
            )
        else:
            cmds.append(("XADD", "s", f"{i // 3 + 1}-{i}", "f", str(i)))
    cmds += [
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "250"),
        ("XINFO", "STREAM", "s"),
        ("XDEL", "s", "20-60", "21-61", "40-120"),
        ("XTRIM", "s", "MINID", "~", "50-150"),
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "10", "LIMIT", "30"),
        ("XLEN", "s"),
        ("XADD", "s", "MAXLEN", "~", "40", "500-0", "f", "v"),
        ("XLEN", "s"),
        ("XADD", "s", "MINID", "~", "90-0", "LIMIT", "1000", "501-0", "f", "v"),
        ("XINFO", "STREAM", "s"),
        ("XTRIM", "s", "MAXLEN", "~", "0"),
        ("XINFO", "STREAM", "s"),
        *_node_config(4096, 100),
    ]
    differential.check(*cmds, resp=(2,))


def test_xsetid_differential(differential: Differential) -> None:
    differential.check(
        *_seq(3),
        ("XSETID", "s", "1-1"),
        ("XSETID", "s", "5-0", "ENTRIESADDED", "2"),
        ("XSETID", "s", "5-0", "ENTRIESADDED", "-1"),
        ("XSETID", "s", "5-0", "MAXDELETEDID", "6-0"),
        ("XSETID", "s", "5-0", "ENTRIESADDED", "10", "MAXDELETEDID", "4-0"),
        ("XSETID", "s", "5-0", "FOO", "1"),
        ("XSETID", "s", "-"),
        ("XSETID", "nokey", "1-1"),
        ("XINFO", "STREAM", "s"),
        ("XADD", "s", "5-0", "a", "b"),
        ("XADD", "s", "6-0", "a", "b"),
        ("XDEL", "s", "1-0", "1-1", "1-2"),
        ("XSETID", "s", "0-1"),
        ("XINFO", "STREAM", "s"),
    )


# --- XREAD and consumer groups -----------------------------------------------------------------

GROUP_CASES = {
    "xread": [
        *_seq(5),
        *_seq(3, key="t"),
        ("XREAD", "STREAMS", "s", "t", "1-2", "0"),
        ("XREAD", "COUNT", "2", "STREAMS", "s", "t", "0", "1-1"),
        ("XREAD", "STREAMS", "s", "$"),
        ("XREAD", "STREAMS", "s", "1-4"),
        ("XREAD", "STREAMS", "nokey", "0"),
        ("XREAD", "STREAMS", "s"),
        ("XREAD", "STREAMS", "s", "t", "0"),
        ("XREAD", "COUNT", "1"),
        ("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XREAD", "NOACK", "STREAMS", "s", "0"),
        ("XREAD", "STREAMS", "s", ">"),
        ("XREAD", "STREAMS", "s", "-"),
        ("XREAD", "FOO", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "x", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "10", "STREAMS", "s", "$"),
        ("XREAD", "COUNT", "-5", "STREAMS", "s", "1-3"),
        ("XREAD", "STREAMS", "s", "(1-2"),
    ],
    "groups": [
        *_seq(6),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "h", "$"),
        ("XGROUP", "CREATE", "s", "i", "1-2", "ENTRIESREAD", "3"),
        ("XGROUP", "CREATE", "s", "j", "0", "ENTRIESREAD", "-2"),
        ("XGROUP", "CREATE", "nokey", "g", "0"),
        ("XGROUP", "CREATE", "nokey", "g", "$", "MKSTREAM"),
        ("XGROUP", "CREATE", "s", "k", "0", "FOO"),
        ("XGROUP", "CREATE", "s", "k", "-"),
        ("XGROUP", "CREATE", "s", "k", "bad"),
        ("XGROUP", "CREATE", "s", "k", "0", "MKSTREAM", "ENTRIESREAD", "1", "X"),
        ("XINFO", "GROUPS", "s"),
        ("XINFO", "GROUPS", "nokey"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", "1-0"),
        ("XREADGROUP", "GROUP", "g", "c9", "STREAMS", "s", "0"),
        ("XPENDING", "s", "g"),
        ("XPENDING", "s", "h"),
        ("XPENDING", "s", "nog"),
        ("XPENDING", "nokey", "g"),
        ("XINFO", "GROUPS", "s"),
        ("XACK", "s", "g", "1-0", "1-3", "9-9"),
        ("XACK", "s", "g", "1-0"),
        ("XACK", "s", "nog", "1-0"),
        ("XACK", "nokey", "g", "1-0"),
        ("XACK", "s", "g", "bad"),
        ("XPENDING", "s", "g"),
        ("XDEL", "s", "1-1"),
        ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"),
        ("XINFO", "GROUPS", "s"),
        ("XINFO", "STREAM", "s"),
        ("XGROUP", "SETID", "s", "g", "1-2"),
        ("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "6"),
        ("XGROUP", "SETID", "s", "nog", "0"),
        ("XGROUP", "SETID", "s", "g", "0", "MKSTREAM"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "c3"),
        ("XGROUP", "CREATECONSUMER", "s", "g", "c3"),
        ("XGROUP", "CREATECONSUMER", "s", "nog", "c3"),
        ("XGROUP", "DELCONSUMER", "s", "g", "c2"),
        ("XGROUP", "DELCONSUMER", "s", "g", "zz"),
        ("XPENDING", "s", "g"),
        ("XGROUP", "DESTROY", "s", "g"),
        ("XGROUP", "DESTROY", "s", "g"),
        ("XGROUP", "DESTROY", "nokey", "g"),
        ("XINFO", "GROUPS", "s"),
        ("XGROUP", "FOO", "s", "g"),
        ("XGROUP", "DESTROY", "s"),
        ("XGROUP", "HELP"),
        ("XINFO", "HELP"),
        ("XINFO", "FOO", "s"),
        ("XINFO", "STREAM", "s", "FULL", "X"),
        ("XINFO", "STREAM", "s", "FOO"),
        ("XINFO", "STREAM", "nokey"),
        ("XINFO", "CONSUMERS", "s", "nog"),
    ],
    "readgroup errors": [
        *_seq(2),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"),
        ("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"),
        ("XREADGROUP", "COUNT", "1", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g"),
        ("XINFO", "GROUPS", "s"),
        ("XADD", "s", "2-0", "a", "b"),
        ("SET", "k", "v"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "k", ">", ">"),
    ],
    "lag and entries-read": [
        *_seq(10),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "late", "1-5"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XDEL", "s", "1-7"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "6", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XREADGROUP", "GROUP", "late", "c", "STREAMS", "s", ">"),
        ("XINFO", "GROUPS", "s"),
        ("XTRIM", "s", "MAXLEN", "2"),
        ("XINFO", "GROUPS", "s"),
        ("XADD", "s", "2-0", "a", "b"),
        ("XINFO", "GROUPS", "s"),
    ],
}


@pytest.mark.parametrize("case", GROUP_CASES)
def test_groups_differential(differential: Differential, case: str) -> None:
    differential.check(*GROUP_CASES[case])


CLAIM_CASES = {
    "xclaim": [
        *_seq(6),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "a", "COUNT", "4", "STREAMS", "s", ">"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "1-1", "JUSTID"),
        ("XCLAIM", "s", "g", "b", "0", "1-2"),
        ("XCLAIM", "s", "g", "b", "3600000", "1-3"),
        ("XCLAIM", "s", "g", "b", "0", "1-5"),
        ("XCLAIM", "s", "g", "b", "0", "1-5", "FORCE", "JUSTID"),
        ("XCLAIM", "s", "g", "b", "0", "9-9", "FORCE"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "RETRYCOUNT", "7", "JUSTID"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "FOO"),
        ("XCLAIM", "s", "g", "b", "x", "1-0"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "TIME", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "RETRYCOUNT", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "x"),
        ("XCLAIM", "s", "nog", "b", "0", "1-0"),
        ("XCLAIM", "nokey", "g", "b", "0", "1-0"),
        ("XCLAIM", "s", "g", "b", "0", "1-4", "LASTID", "1-5", "JUSTID"),
        ("XINFO", "GROUPS", "s"),
        ("XDEL", "s", "1-1"),
        ("XCLAIM", "s", "g", "c", "0", "1-1", "1-0", "JUSTID"),
        ("XPENDING", "s", "g"),
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", "0"),
    ],
    "xautoclaim": [
        *_seq(8),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"),
        ("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "3"),
        ("XAUTOCLAIM", "s", "g", "b", "0", "(1-2", "COUNT", "2", "JUSTID"),
        ("XAUTOCLAIM", "s", "g", "b", "3600000", "0"),
        ("XDEL", "s", "1-5", "1-6"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "1-4", "JUSTID"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "x"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO"),
        ("XAUTOCLAIM", "s", "g", "c", "x", "0"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "x"),
        ("XAUTOCLAIM", "s", "nog", "c", "0", "0"),
        ("XAUTOCLAIM", "nokey", "g", "c", "0", "0"),
        ("XAUTOCLAIM", "s", "g", "c", "0", "(18446744073709551615-18446744073709551615"),
        ("XPENDING", "s", "g"),
        ("XINFO", "GROUPS", "s"),
        # A pending entry added below the others (FORCE): ranges still come in ID order.
        ("XACK", "s", "g", "1-0"),
        ("XCLAIM", "s", "g", "z", "0", "1-0", "FORCE", "JUSTID"),
        ("XPENDING", "s", "g"),
        ("XAUTOCLAIM", "s", "g", "y", "0", "0", "COUNT", "2", "JUSTID"),
        ("XREADGROUP", "GROUP", "g", "y", "STREAMS", "s", "0"),
    ],
    "xpending ranges": [
        *_seq(6),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"),
        ("XPENDING", "s", "g", "-", "+", "0"),
        ("XPENDING", "s", "g", "-", "+", "10", "nobody"),
        ("XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"),
        ("XPENDING", "s", "g", "IDLE", "10", "-", "+"),
        ("XPENDING", "s", "g", "-", "+"),
        ("XPENDING", "s", "g", "-"),
        ("XPENDING", "s", "g", "-", "+", "x"),
        ("XPENDING", "s", "g", "x", "+", "1"),
        ("XPENDING", "s", "g", "(-", "+", "1"),
        ("XPENDING", "s", "g", "-", "+", "0", "a", "b", "c"),
    ],
}


@pytest.mark.parametrize("case", CLAIM_CASES)
def test_claims_differential(differential: Differential, case: str) -> None:
    differential.check(*CLAIM_CASES[case])


def _decode(raw: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def _untimed(v: Any) -> Any:
    """A decoded reply with every millisecond time (13 digits and more) and idle time masked."""
    if isinstance(v, (list, tuple)):  # a RESP2 map is a flat list: mask the value after a name
        return [
            "<t>" if i and v[i - 1] in (b"idle", b"seen-time") else _untimed(x)
            for i, x in enumerate(v)
        ]
    if isinstance(v, dict):
        return {k: ("<t>" if k in (b"idle", b"seen-time") else _untimed(x)) for k, x in v.items()}
    if isinstance(v, int) and v > 10**12:
        return "<t>"
    return v


@pytest.mark.parametrize("resp", [2, 3])
def test_timed_replies_match_redis_but_for_the_times(
    server: ServerProcess, redis_server: ServerProcess, resp: int
) -> None:
    """XPENDING's idle times, XINFO CONSUMERS and XINFO STREAM FULL: everything but the clock."""
    cmds = [
        ("FLUSHALL",), *_seq(6), *_seq(2, key="t"), ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "h", "0"),
        ("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">"),
        ("XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "1000", "RETRYCOUNT", "4"),
        ("XPENDING", "s", "g", "-", "+", "10"), ("XPENDING", "s", "g", "-", "(1-4", "2", "b"),
        ("XINFO", "CONSUMERS", "s", "g"), ("XINFO", "STREAM", "s", "FULL"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "2"),
        ("XINFO", "STREAM", "s", "FULL", "COUNT", "0"),
        ("XINFO", "STREAM", "t", "FULL"),
    ]  # fmt: skip

    def masked(port: int) -> list[Any]:
        out = []
        for cmd, raw in zip(cmds, run_raw(port, cmds, resp), strict=True):
            v = _untimed(_decode(raw))
            if cmd[0] == "XPENDING":  # [id, consumer, idle ms, deliveries]: idle masked
                v = [[e[0], e[1], "<t>", e[3]] for e in v]
            out.append(v)
        return out

    for cmd, a, b in zip(cmds, masked(server.port), masked(redis_server.port), strict=True):
        assert a == b, cmd
    # The idle times are real: just read back, so small.
    pending = _decode(run_raw(server.port, [("XPENDING", "s", "g", "-", "+", "10")], resp)[0])
    assert pending[0][2] < 5000 and pending[0][3] == 1
    claimed = next(p for p in pending if p[0] == b"1-1")
    assert claimed[1:] == [b"c", claimed[2], 4] and claimed[2] > 10**9  # TIME 1000: long ago


# --- blocking reads --------------------------------------------------------------------------


class Conn:
    def __init__(self, port: int, resp: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader()
        if resp == 3:
            self.call("HELLO", "3")

    def send(self, *args: Any) -> None:
        self.sock.sendall(encode(*args))

    def read(self) -> Any:
        while True:
            item = self.reader.gets()
            if isinstance(item, hiredis.ReplyError):
                return ("error", str(item))
            if item is not False:
                return item
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.reader.feed(data)

    def call(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def _blocked(port: int) -> int:
    with redis.Redis(port=port) as r:
        return int(r.info("clients")["blocked_clients"])


def _wake_scenario(port: int, resp: int) -> list[Any]:
    """Two clients blocked in XREAD (one on two streams, one with $), one in XREADGROUP; writes
    from a third connection wake them in arrival order."""
    ctl = Conn(port)
    ctl.call("FLUSHALL")
    for cmd in _seq(2):
        ctl.call(*cmd)
    ctl.call("XGROUP", "CREATE", "s", "g", "$")
    a, b, c = Conn(port, resp), Conn(port, resp), Conn(port, resp)
    a.send("XREAD", "BLOCK", "0", "STREAMS", "other", "s", "0", "$")
    assert wait_for(lambda: _blocked(port) == 1)
    b.send("XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "COUNT", "1", "STREAMS", "s", ">")
    assert wait_for(lambda: _blocked(port) == 2)
    c.send("XREAD", "BLOCK", "5000", "COUNT", "1", "STREAMS", "s", "1-0")  # served at once
    got = [c.read()]
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert wait_for(lambda: _blocked(port) == 3)
    ctl.call("XADD", "s", "5-0", "x", "1")
    got += [a.read(), b.read(), c.read()]
    b.send("XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "STREAMS", "s", ">")
    assert wait_for(lambda: _blocked(port) == 1)
    got.append(ctl.call("XPENDING", "s", "g"))
    ctl.call("XGROUP", "DESTROY", "s", "g")
    got.append(b.read())
    ctl.call("XGROUP", "CREATE", "s", "g", "$")
    b.send("XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "STREAMS", "s", ">")
    a.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert wait_for(lambda: _blocked(port) == 2)
    ctl.call("DEL", "s")
    got.append(b.read())
    ctl.call("SET", "s", "string")  # not a stream: XREAD keeps waiting
    ctl.call("DEL", "s")
    ctl.call("XADD", "s", "9-0", "back", "1")  # past the $ it waits after
    got.append(a.read())
    a.send("XREAD", "BLOCK", "100", "STREAMS", "s", "$")
    got.append(a.read())  # timed out
    ctl.call("MULTI")
    ctl.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    got.append(ctl.call("EXEC"))  # cannot block inside MULTI
    for x in (a, b, c, ctl):
        x.close()
    return got


def _flush_scenario(port: int) -> list[Any]:
    """Blocked XREADGROUP clients when their stream goes with FLUSHDB, FLUSHALL or a SWAPDB
    (with a database that has no stream there, and with one that has): Redis unblocks them with
    an error where the stream is gone; a blocked XREAD keeps waiting."""
    ctl = Conn(port)
    ctl.call("FLUSHALL")
    got: list[Any] = []
    for flush in (("FLUSHDB",), ("FLUSHALL",), ("SWAPDB", "0", "1")):
        ctl.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        b, a = Conn(port), Conn(port)
        b.send("XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "STREAMS", "s", ">")
        a.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        assert wait_for(lambda: _blocked(port) == 2)
        got.append(ctl.call(*flush))
        got.append(b.read())
        got.append(_blocked(port))
        ctl.call("XADD", "s", "1-1", "f", "v")
        got.append(a.read())
        ctl.call("FLUSHALL")
        a.close()
        b.close()
    # SWAPDB with a stream on the other side: the readers stay blocked (the group is missing
    # there, which the wake-up does not look at), until a write to the new stream.
    ctl.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    ctl.call("SELECT", "1")
    ctl.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    ctl.call("SELECT", "0")
    b = Conn(port)
    b.send("XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "STREAMS", "s", ">")
    assert wait_for(lambda: _blocked(port) == 1)
    got.append(ctl.call("SWAPDB", "0", "1"))
    got.append(_blocked(port))
    ctl.call("XADD", "s", "2-1", "f", "v")
    got.append(b.read())
    b.close()
    ctl.close()
    return got


def test_flush_and_swapdb_unblock_group_readers_as_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    assert _flush_scenario(server.port) == _flush_scenario(redis_server.port)


@pytest.mark.parametrize("resp", [2, 3])
def test_blocking_reads_woken_as_redis(
    server: ServerProcess, redis_server: ServerProcess, resp: int
) -> None:
    assert _wake_scenario(server.port, resp) == _wake_scenario(redis_server.port, resp)


def test_blocked_xread_with_star_ids_from_other_connection(server: ServerProcess) -> None:
    r = server.client()
    r.flushall()
    out: list[Any] = []

    def reader() -> None:
        with redis.Redis(port=server.port) as rr:
            out.append(rr.xread({"jobs": "$"}, block=5000))

    t = threading.Thread(target=reader)
    t.start()
    assert wait_for(lambda: _blocked(server.port) == 1)
    new_id = r.xadd("jobs", {"task": "x"})
    t.join(10)
    assert out == [[[b"jobs", [(new_id, {b"task": b"x"})]]]]
    ms, _ = map(int, new_id.split(b"-"))
    assert abs(ms - time.time() * 1000) < 60_000


def test_xread_block_refused_in_scripts(differential: Differential) -> None:
    differential.check(
        ("EVAL", "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')", "0"),
        ("EVAL", "return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', "
         "'STREAMS', 's', '>')", "0"),
        ("EVAL", "return redis.call('XADD', 's', '1-1', 'a', 'b')", "0"),
        ("EVAL", "return redis.call('XREAD', 'STREAMS', 's', '0')", "0"),
    )  # fmt: skip


# --- persistence, propagation, notifications --------------------------------------------------


def _groups_state(r: redis.Redis) -> Any:
    """Everything a snapshot must keep of streams: entries, IDs, counters, groups, PELs."""
    kw = r.connection_pool.connection_kwargs
    out = {}
    with redis.Redis(host=kw["host"], port=kw["port"], protocol=3) as r3:  # maps as dicts
        for key in sorted(r3.keys("*")):
            if r3.type(key) != b"stream":
                continue
            info = r3.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0")
            out[key] = (r3.xrange(key), info)
    return out


def _stream_workload(r: redis.Redis) -> None:
    for i in range(250):
        r.xadd("s", {"f": i, "g": "x" * (i % 9)}, id=f"{1 + i // 4}-{i}")
    r.xdel("s", "3-8", "30-116")
    r.xgroup_create("s", "g", "0")
    r.xgroup_create("s", "h", "$", entries_read=None)
    r.xreadgroup("g", "a", {"s": ">"}, count=5)
    r.xreadgroup("g", "b", {"s": ">"}, count=3, noack=True)
    r.xreadgroup("g", "c", {"s": ">"}, count=2)
    r.xack("s", "g", "1-1")
    r.xclaim("s", "g", "d", 0, ["1-2"], retrycount=5)
    r.xgroup_createconsumer("s", "g", "idle")
    r.xadd("e", {"a": "b"}, id="1-1")
    r.xdel("e", "1-1")
    r.xgroup_create("m", "g", "$", mkstream=True)
    r.execute_command("XSETID", "m", "7-7", "ENTRIESADDED", "3", "MAXDELETEDID", "5-5")


def test_stream_workload_state_matches_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    states = []
    for srv in (server, redis_server):
        r = srv.client()
        r.flushall()
        _stream_workload(r)
        states.append(_untimed(_groups_state(r)))
    assert states[0] == states[1]


def test_streams_survive_a_snapshot_round_trip(tmp_path: Any) -> None:
    """DEBUG RELOAD and a restart keep entries, nodes, counters, groups, consumers and PELs
    (delivery times and counts included)."""
    with ServerProcess(dir=str(tmp_path)) as s:
        r = s.client()
        _stream_workload(r)
        before = _groups_state(r)
        assert [g[b"pel-count"] for g in before[b"s"][1][b"groups"]] == [6, 0]
        r.execute_command("DEBUG", "RELOAD")
        assert _groups_state(r) == before
        r.save()
    with ServerProcess(dir=str(tmp_path)) as s:
        assert _groups_state(s.client()) == before


def _delivery(r: redis.Redis) -> list[Any]:
    """Group g's pending entries of stream s with their delivery times and counts."""
    return r.xinfo_stream("s", full=True)["groups"][0]["pending"]


def test_streams_survive_kill_9_through_the_append_only_file(tmp_path: Any) -> None:
    """Every stream write replays from the log after kill -9 (appendfsync always), then again
    from the rewritten base: the same entries, counters, groups and pending entries, delivery
    times and counts included (they replay as XCLAIM .. TIME .. RETRYCOUNT)."""
    with ServerProcess("--appendonly", "yes", "--appendfsync", "always", dir=str(tmp_path)) as s:
        r = s.client()
        _stream_workload(r)
        r.xadd("auto", {"a": "1"})  # a generated ID: logged as the ID it got
        r.xadd("auto", {"a": "2"}, maxlen=1, approximate=True)
        before = _untimed(_groups_state(r))
        delivered = _delivery(r)
        s.proc.kill()
        s.proc.wait()
    with ServerProcess("--appendonly", "yes", dir=str(tmp_path)) as s:
        r = s.client()
        assert _untimed(_groups_state(r)) == before
        assert _delivery(r) == delivered
        assert r.xlen("auto") == 2
        r.bgrewriteaof()
        assert wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0)
        r.execute_command("DEBUG", "LOADAOF")
        assert _untimed(_groups_state(r)) == before
        assert _delivery(r) == delivered


def test_approximate_trim_propagates_as_exact_without_limit(server: ServerProcess) -> None:
    """``MAXLEN ~`` / ``MINID ~`` replay as the exact trim they amounted to; LIMIT is dropped
    (Redis keeps it, and only its master and AOF clients accept it after ``=``), so the stream
    replays through any client."""
    r = server.client()
    r.flushall()
    for i in range(250):
        r.xadd("x", {"f": i}, id=f"1-{i}")  # nodes of 100, 100 and 50 entries
    r.execute_command("DEBUG", "PROPAGATION", "ON")
    try:
        r.execute_command("DEBUG", "PROPAGATION", "READ")
        r.xadd("x", {"f": "v"}, id="2-*", maxlen=10, approximate=True, limit=200)
        r.xtrim("x", minid="3-0", approximate=True, limit=500)
        got = r.execute_command("DEBUG", "PROPAGATION", "READ")
    finally:
        r.execute_command("DEBUG", "PROPAGATION", "OFF")
    assert got == [
        [b"SELECT", b"0"],
        [b"XADD", b"x", b"MAXLEN", b"=", b"51", b"2-0", b"f", b"v"],
        # Emptied: the first ID of an empty stream is the largest one, as Redis writes it.
        [b"XTRIM", b"x", b"MINID", b"=", b"18446744073709551615-18446744073709551615"],
    ]
    assert r.xlen("x") == 0
