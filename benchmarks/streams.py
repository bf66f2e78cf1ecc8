"""Streams on minikv beside redis-server, in one run: memory per entry, the snapshot child's
copy-on-write, restart time, and the main commands' throughput.

    python benchmarks/streams.py                         # 1M entries, throughput 3 rounds
    python benchmarks/streams.py --entries 200000 --repeat 1

Memory: each server starts empty, ``used_memory_rss`` is read, ``--entries`` entries of two
fields (``XADD s <ms>-<seq> f <i> payload <16 bytes>``) go into ``--streams`` streams
(pipelined), RSS is read again; the difference per entry is the cost of an entry. Then BGSAVE
with no writes (``rdb_last_cow_size``) and a restart on the file (spawn to +PONG).

Throughput: ``redis-benchmark -c 50 -n N`` with a command line of its own, unpipelined and at
``-P 16``, alternating minikv and redis ``--repeat`` times, median rps: XADD (generated IDs),
XLEN, XRANGE COUNT 10, XREVRANGE COUNT 10, XREAD COUNT 10 from the start, and XREADGROUP of
the history (ID 0, so every call reads the same 10 pending entries).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, compare_commands, loadavg, start_bgsave

COMMANDS = {
    "XADD": ["XADD", "bench", "*", "f", "v", "payload", "0123456789abcdef"],
    "XLEN": ["XLEN", "bench"],
    "XRANGE 10": ["XRANGE", "bench", "-", "+", "COUNT", "10"],
    "XREVRANGE 10": ["XREVRANGE", "bench", "+", "-", "COUNT", "10"],
    "XREAD 10": ["XREAD", "COUNT", "10", "STREAMS", "bench", "0"],
    "XREADGROUP 0": ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "bench", "0"],
}


def fill(srv: Server, entries: int, streams: int) -> None:
    pipe = srv.client.pipeline(transaction=False)
    for i in range(entries):
        pipe.execute_command(
            "XADD", b"s:%d" % (i % streams), b"1-%d" % i, b"f", b"%d" % i, b"payload",
            b"0123456789abcdef",
        )  # fmt: skip
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


def memory_and_cow(entries: int, streams: int) -> None:
    print(f"load average before: {loadavg()}")
    print(
        "| server | entries | streams | RSS MB | bytes per entry | rdb_last_cow_size MB "
        "| COW % of RSS | bgsave s | restart to PONG s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    workdir = tempfile.mkdtemp(prefix="streams-bench-")
    for kind in ("minikv", "redis"):
        srv = Server(kind, workdir)
        srv.start()
        try:
            base = int(srv.info("memory")["used_memory_rss"])
            fill(srv, entries, streams)
            rss = int(srv.info("memory")["used_memory_rss"])
            t = time.perf_counter()
            start_bgsave(srv)
            while int(srv.info("persistence")["rdb_bgsave_in_progress"]):
                time.sleep(0.05)
            secs = time.perf_counter() - t
            cow = int(srv.info("persistence")["rdb_last_cow_size"])
            srv.shutdown_nosave()
            restart = srv.start()
            n = sum(int(srv.client.xlen(b"s:%d" % i)) for i in range(streams))
            if n != entries:
                raise SystemExit(f"{kind}: {n} entries after the restart, not {entries}")
            print(
                f"| {kind} | {entries:,} | {streams:,} | {rss / 2**20:.0f} | "
                f"{(rss - base) / entries:.0f} | {cow / 2**20:.1f} | {cow / rss * 100:.2f} | "
                f"{secs:.2f} | {restart:.2f} |",
                flush=True,
            )
        finally:
            srv.stop()


def _setup(srv: Server) -> None:
    c = srv.client
    for i in range(1000):
        c.xadd("bench", {"f": i, "payload": "0123456789abcdef"})
    c.xgroup_create("bench", "g", "0")
    c.xreadgroup("g", "c", {"bench": ">"}, count=10)


def throughput(repeat: int, requests: int) -> None:
    compare_commands(COMMANDS, _setup, repeat, requests, "streams-tput-")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--streams", type=int, default=1, help="spread the entries over this many")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    a = ap.parse_args()
    if not a.skip_memory:
        memory_and_cow(a.entries, a.streams)
    if not a.skip_throughput:
        throughput(a.repeat, a.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
