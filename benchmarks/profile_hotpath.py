"""Per-request cost of minikv's request path, without sockets or an event loop.

Drives ``Client.data_received`` with the exact bytes ``redis-benchmark`` sends (16 pipelined
requests per chunk, like ``-P 16``, or one per chunk) through a fake transport, and reports:

* the Python time per request of the whole path (parse, dispatch, handler, encode, write);
* a breakdown by stage, each timed alone on the same requests: ``RequestParser.feed``,
  ``lookup`` + checks (``Client.execute`` minus the handler), the handler via ``Client.call``,
  the bare handler, the reply encoder, and the output join;
* optionally (``--cprofile``) the top functions under cProfile, per request.

What this leaves out is the event loop and the kernel (recv/send/epoll): compare its totals
with the server CPU per request measured by ``throughput.py`` to see how much that is.

    python benchmarks/profile_hotpath.py                 # all workloads, -P 16 and -P 1
    python benchmarks/profile_hotpath.py --tests set,get --cprofile
    python benchmarks/profile_hotpath.py --total-only    # whole path only, ~10 s
    python benchmarks/profile_hotpath.py --tests zscore_small,zincrby_small  # small sorted sets

The stages are timed through ``Client.execute``/``Client.call``, the dispatcher's general
path; ``data_received`` mostly takes the inline shortcut in ``Client._run`` instead, so the
stages add up to more than the whole ("unaccounted" goes negative): read them as the relative
cost of each step, and ``data_received`` as the figure to compare.

``--run-only ROUNDS`` times nothing: under ``valgrind --tool=cachegrind`` the instructions of
ROUNDS rounds minus those of 0 rounds, divided by the requests, is a per-request instruction
count that other load on the machine does not disturb (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# MINIKV_TREE: measure another checkout's package with this driver (benchmarks/instructions.sh).
sys.path.insert(0, os.environ.get("MINIKV_TREE") or str(Path(__file__).resolve().parent.parent))

from minikv.commands import lookup
from minikv.config import Config
from minikv.connection import Client
from minikv.protocol import RequestParser, encode_command
from minikv.server import Server

KEYSPACE = 100_000
VALUE = b"VXK"  # redis-benchmark's default 3-byte payload


class FakeTransport:
    """Just enough of ``asyncio.Transport`` for ``Client``; counts what is written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _key(prefix: bytes, rnd: random.Random) -> bytes:
    return prefix + b"%012d" % rnd.randrange(KEYSPACE)


def make_request(test: str, rnd: random.Random) -> bytes:
    """One request as redis-benchmark -r 100000 sends it."""
    if test == "ping_inline":
        return b"PING\r\n"
    if test == "ping_mbulk":
        return encode_command(b"PING")
    if test == "set":
        return encode_command(b"SET", _key(b"key:", rnd), VALUE)
    if test == "get":
        return encode_command(b"GET", _key(b"key:", rnd))
    if test == "incr":
        return encode_command(b"INCR", _key(b"counter:", rnd))
    if test == "mset":
        args = [b"MSET"]
        for _ in range(10):
            args += [_key(b"key:", rnd), VALUE]
        return encode_command(*args)
    # redis-benchmark's list/set/hash/zset tests: one fixed key each, random members.
    if test in ("lpush", "rpush"):
        return encode_command(test.upper().encode(), b"mylist", VALUE)
    if test in ("lpop", "rpop"):
        return encode_command(test.upper().encode(), b"mylist")
    if test == "sadd":
        return encode_command(b"SADD", b"myset", _key(b"element:", rnd))
    if test == "spop":
        return encode_command(b"SPOP", b"myset")
    if test == "hset":
        return encode_command(b"HSET", b"myhash", _key(b"element:", rnd), VALUE)
    if test == "zadd":  # redis-benchmark's: one big set
        return encode_command(
            b"ZADD", b"myzset", b"%d" % rnd.randrange(KEYSPACE), _key(b"element:", rnd)
        )
    if test == "zpopmin":
        return encode_command(b"ZPOPMIN", b"myzset")
    if test.startswith("lrange_"):
        return encode_command(b"LRANGE", b"mylist", b"0", b"%d" % (int(test[7:]) - 1))
    if test in _SMALL_ZSET:  # small (2-member) sorted sets made by ``prefill``
        key = b"zs:%012d" % rnd.randrange(SMALL_ZSETS)
        return encode_command(*_SMALL_ZSET[test](key))
    # Small hashes (2 fields, as prefill_hashes leaves them): redis-benchmark's own HSET puts
    # every field into one big hash, which is not the compact form.
    if test == "hset_small":
        return encode_command(b"HSET", _key(b"hash:", rnd), b"f0", VALUE)
    if test == "hget_small":
        return encode_command(b"HGET", _key(b"hash:", rnd), b"f1")
    if test == "hgetall_small":
        return encode_command(b"HGETALL", _key(b"hash:", rnd))
    raise SystemExit(f"unknown test {test!r}")


SMALL_ZSETS = 10_000
#: Tests on small sorted sets (not redis-benchmark's): the request for a key.
_SMALL_ZSET: dict[str, Callable[[bytes], tuple[bytes, ...]]] = {
    "zscore_small": lambda k: (b"ZSCORE", k, b"m:a"),
    "zrange_small": lambda k: (b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"),
    "zincrby_small": lambda k: (b"ZINCRBY", k, b"1", b"m:a"),
    "zadd_small": lambda k: (b"ZADD", k, b"2", b"m:b"),  # no change: the score is already 2
}


def make_chunks(test: str, pipeline: int, nchunks: int) -> list[bytes]:
    rnd = random.Random(42)
    return [b"".join(make_request(test, rnd) for _ in range(pipeline)) for _ in range(nchunks)]


def new_client() -> tuple[Server, Client]:
    server = Server(Config())
    client = Client(server)
    client.connection_made(FakeTransport())  # type: ignore[arg-type]
    return server, client


def prefill(client: Client) -> None:
    """Load the keyspace as the SET/INCR runs of redis-benchmark would have."""
    rnd = random.Random(1)
    for _ in range(4):
        client.data_received(make_chunks("set", 1000, 1)[0])
        client.data_received(b"".join(make_request("incr", rnd) for _ in range(1000)))
    for i in range(0, SMALL_ZSETS, 1000):
        client.data_received(
            b"".join(
                encode_command(b"ZADD", b"zs:%012d" % j, b"1", b"m:a", b"2", b"m:b")
                for j in range(i, i + 1000)
            )
        )


#: The container tests: the request that fills their container in ``prefill_containers``.
_CONTAINERS = {
    "lpush": (b"RPUSH", b"mylist"),
    "rpush": (b"RPUSH", b"mylist"),
    "lpop": (b"RPUSH", b"mylist"),
    "rpop": (b"RPUSH", b"mylist"),
    "sadd": (b"SADD", b"myset"),
    "spop": (b"SADD", b"myset"),
    "hset": (b"HSET", b"myhash"),
    "zadd": (b"ZADD", b"myzset"),
    "zpopmin": (b"ZADD", b"myzset"),
}


def prefill_containers(client: Client, test: str) -> None:
    """For redis-benchmark's list/set/hash/zset tests: the one container each uses, with
    10,000 elements (enough for every pop of a --run-only 3, and past any small encoding's
    thresholds, as in a redis-benchmark run after its first requests)."""
    cmd = _CONTAINERS.get(test, (b"RPUSH", b"mylist") if test.startswith("lrange_") else None)
    if cmd is None:
        return
    for start in range(0, 10_000, 1000):
        items: list[bytes] = []
        for i in range(start, start + 1000):
            member = b"element:%012d" % (KEYSPACE + i)  # not one the tests add
            items += [member] if cmd[0] != b"ZADD" else [b"%d" % i, member]
            if cmd[0] == b"HSET":
                items.append(VALUE)
        client.data_received(encode_command(*cmd, *items))


def prefill_hashes(client: Client, test: str) -> None:
    """For the small-hash tests: 2-field hashes at every ``hash:`` key they use."""
    if "_small" not in test:
        return
    for start in range(0, KEYSPACE, 1000):
        client.data_received(
            b"".join(
                encode_command(b"HSET", b"hash:%012d" % i, b"f0", VALUE, b"f1", VALUE)
                for i in range(start, start + 1000)
            )
        )


def per_request(stages: dict[str, Callable[[], Any]], nreq: int, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` CPU seconds per request of each stage (each handles ``nreq`` requests).

    Process CPU time rather than wall time, and the stages interleaved round by round, so that
    a burst of other work on the machine hits every stage alike and the minimum filters it out.
    """
    best = dict.fromkeys(stages, float("inf"))
    clock = time.process_time
    for _ in range(rounds):
        for name, fn in stages.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return {name: t / nreq for name, t in best.items()}


def measure(
    test: str, pipeline: int, nreq: int, rounds: int, total_only: bool = False
) -> dict[str, float]:
    nchunks = max(1, nreq // pipeline)
    nreq = nchunks * pipeline
    chunks = make_chunks(test, pipeline, nchunks)
    server, client = new_client()
    prefill(client)
    prefill_containers(client, test)
    prefill_hashes(client, test)
    cfg = server.config

    def whole() -> None:
        dr = client.data_received
        for c in chunks:
            dr(c)

    if total_only:
        return per_request({"data_received": whole}, nreq, rounds)

    # The stages, each on the same input, in the order data_received runs them.
    requests: list[list[bytes]] = []

    def parse() -> None:
        p = RequestParser(cfg.proto_max_bulk_len, cfg.client_query_buffer_limit)
        requests.clear()
        feed = p.feed
        for c in chunks:
            requests.extend(feed(c))

    parse()
    cmds = [lookup(a) for a in requests]

    def lookup_only() -> None:
        for a in requests:
            lookup(a)

    def execute() -> None:
        ex = client.execute
        for a in requests:
            ex(a)

    def call() -> None:
        cl = client.call
        for cmd, a in zip(cmds, requests, strict=True):
            cl(cmd, a)

    def handler() -> None:
        for cmd, a in zip(cmds, requests, strict=True):
            cmd.handler(client, a)

    replies = [client.execute(a) for a in requests]

    def encode() -> None:
        enc = client.encode
        for r in replies:
            enc(r)

    encoded = [client.encode(r) for r in replies]
    batches = [encoded[i : i + pipeline] for i in range(0, len(encoded), pipeline)]

    def join() -> None:
        for b in batches:
            b"".join(b) if len(b) > 1 else b[0]

    out = per_request(
        {
            "data_received": whole,
            "parser.feed": parse,
            "lookup": lookup_only,
            "execute": execute,
            "call": call,
            "handler": handler,
            "encode": encode,
            "join": join,
        },
        nreq,
        rounds,
    )
    # execute = lookup + checks + call; call = stats + handler.
    out["checks"] = out["execute"] - out["call"] - out["lookup"]
    out["call overhead"] = out["call"] - out["handler"]
    out["unaccounted"] = out["data_received"] - (
        out["parser.feed"] + out["execute"] + out["encode"] + out["join"]
    )
    return out


def run_only(test: str, pipeline: int, nreq: int, rounds: int) -> None:
    """Set up, warm up, then feed the requests ``rounds`` times without timing anything: for
    counting instructions under valgrind, where a run with 0 rounds gives the set-up cost to
    subtract. Full garbage collections of the set-up's objects would make that difference
    depend on the code's size, so they are frozen out of the collector first."""
    nchunks = max(1, nreq // pipeline)
    chunks = make_chunks(test, pipeline, nchunks)
    _, client = new_client()
    prefill(client)
    prefill_containers(client, test)
    prefill_hashes(client, test)
    dr = client.data_received
    for c in chunks:
        dr(c)
    gc.collect()
    gc.freeze()
    for _ in range(rounds):
        for c in chunks:
            dr(c)


def cprofile(test: str, pipeline: int, nreq: int, top: int) -> str:
    nchunks = max(1, nreq // pipeline)
    chunks = make_chunks(test, pipeline, nchunks)
    _, client = new_client()
    prefill(client)
    prefill_containers(client, test)
    prefill_hashes(client, test)
    dr = client.data_received
    prof = cProfile.Profile()
    prof.enable()
    for c in chunks:
        dr(c)
    prof.disable()
    s = io.StringIO()
    stats = pstats.Stats(prof, stream=s)
    stats.sort_stats("tottime").print_stats(top)
    return f"--- cProfile {test.upper()} -P {pipeline}: {nchunks * pipeline} requests ---\n" + (
        s.getvalue()
    )


ORDER = [
    "data_received",
    "parser.feed",
    "lookup",
    "checks",
    "call overhead",
    "handler",
    "encode",
    "join",
    "unaccounted",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tests", default="set,get,incr,mset,ping_mbulk,ping_inline")
    p.add_argument("--pipelines", default="16,1")
    p.add_argument("--requests", type=int, default=8_000, help="requests per timing round")
    p.add_argument("--rounds", type=int, default=40, help="timing rounds (best one is kept)")
    p.add_argument("--cprofile", action="store_true", help="also print cProfile top functions")
    p.add_argument("--top", type=int, default=15)
    p.add_argument(
        "--total-only",
        action="store_true",
        help="time only the whole path (data_received): quicker, for before/after comparisons",
    )
    p.add_argument(
        "--run-only",
        type=int,
        metavar="ROUNDS",
        help="no timing: feed the first test's requests ROUNDS times (for valgrind, see README)",
    )
    args = p.parse_args(argv)
    tests = args.tests.split(",")
    pipelines = [int(x) for x in args.pipelines.split(",")]
    if args.run_only is not None:
        run_only(tests[0], pipelines[0], args.requests, args.run_only)
        return 0
    print(f"Python {sys.version.split()[0]}; CPU ns per request, best of {args.rounds} rounds")
    order = ORDER[:1] if args.total_only else ORDER
    header = ["test", "P", *order]
    rows = []
    for pipeline in pipelines:
        for test in tests:
            r = measure(test, pipeline, args.requests, args.rounds, args.total_only)
            rows.append([test.upper(), str(pipeline), *(f"{r[k] * 1e9:.0f}" for k in order)])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    if args.cprofile:
        for pipeline in pipelines:
            for test in tests:
                print()
                print(cprofile(test, pipeline, args.requests, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
