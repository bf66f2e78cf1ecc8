"""Bitmap commands, SORT, DUMP and MEMORY USAGE on minikv beside redis-server, in one run:
``redis-benchmark -c 50`` with command lines of their own, unpipelined and at ``-P 16``, median
of ``--repeat`` rounds.

    python benchmarks/data_commands.py                 # 3 rounds of 100k requests
    python benchmarks/data_commands.py --repeat 1 --requests 20000

The data: a 64 kB bitmap ``bm`` (every 7th bit set), a 100-element list ``sl`` of numbers with
weights ``w_<n>`` and a 1,000-member sorted set ``sz``. BITFIELD and BITOP write; SORT reads
(the STORE variant writes a 100-element list each time); DUMP encodes the list and the
sorted set in Redis's RDB format each time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BenchCommand, Server, compare_commands

#: name -> (command words, extra redis-benchmark options, requests: 0 for --requests, fewer
#: for the commands that do a whole value's work).
COMMANDS: dict[str, list[str] | BenchCommand] = {
    "SETBIT": ["SETBIT", "bm", "12345", "1"],
    "BITCOUNT": (["BITCOUNT", "bm"], [], 10_000),
    "BITCOUNT BIT range": ["BITCOUNT", "bm", "100", "4000", "BIT"],
    "BITPOS 0": ["BITPOS", "bm", "0"],
    "BITFIELD INCRBY": ["BITFIELD", "bf", "INCRBY", "u8", "#100", "1"],
    "BITFIELD_RO GET x2": ["BITFIELD_RO", "bm", "GET", "u8", "0", "GET", "i16", "100"],
    "BITOP AND 64 kB": (["BITOP", "AND", "dst", "bm", "bm"], [], 10_000),
    "SORT 100": (["SORT", "sl"], [], 10_000),
    "SORT 100 BY GET": (["SORT", "sl", "BY", "w_*", "GET", "#", "LIMIT", "0", "10"], [], 10_000),
    "SORT 1000 zset ALPHA LIMIT": (["SORT", "sz", "ALPHA", "LIMIT", "0", "10"], [], 5_000),
    "SORT 100 STORE": (["SORT", "sl", "STORE", "sdst"], [], 10_000),
    "DUMP 100-element list": (["DUMP", "sl"], [], 10_000),
    "DUMP 1,000-member zset": (["DUMP", "sz"], [], 2_000),
    "MEMORY USAGE 1,000-member zset": ["MEMORY", "USAGE", "sz"],
}


def setup(srv: Server) -> None:
    c = srv.client
    bits = bytearray(65536)
    for i in range(0, len(bits) * 8, 7):
        bits[i >> 3] |= 0x80 >> (i & 7)
    c.set("bm", bytes(bits))
    c.rpush("sl", *[str((i * 37) % 101) for i in range(100)])
    c.mset({f"w_{(i * 37) % 101}": str(i) for i in range(100)})
    c.zadd("sz", {f"member:{i}": i % 17 for i in range(1000)})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    a = ap.parse_args()
    compare_commands(COMMANDS, setup, a.repeat, a.requests, "data-cmds-")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
