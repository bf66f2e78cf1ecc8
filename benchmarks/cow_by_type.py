"""Child-side copy-on-write of a snapshot, per value type, in one process (no server, no client).

Fills a keyspace with ``--keys`` keys of one type (small values: 2-3 members per collection),
forks, lets the child write the snapshot exactly as BGSAVE's child does (``save_to_file``), and
reports the child's ``Private_Dirty`` (from /proc/self/smaps_rollup) as a share of the parent's
RSS. Nothing writes to the data during the save, so every copied page is the child's own doing.

    python benchmarks/cow_by_type.py                 # every type, 300k keys each
    python benchmarks/cow_by_type.py --types set --keys 1000000
    python benchmarks/cow_by_type.py --types mix --keys 1000000   # all five, equal parts
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minikv.cow import private_dirty_bytes, rss_bytes
from minikv.keyspace import Keyspace
from minikv.persistence.snapshot import save_to_file
from minikv.zset import ZSet

TYPES = ("string", "hash", "set", "list", "zset")


def value(kind: str, i: int) -> object:
    if kind == "mix":  # the five types in equal parts
        kind = TYPES[i % len(TYPES)]
    if kind == "string":
        return b"v%d" % i + b"v" * 90
    if kind == "hash":
        return {b"f1": b"a%d" % i, b"f2": b"b%d" % i}
    if kind == "set":
        return {b"m1%d" % i, b"m2%d" % i, b"m3"}
    if kind == "list":
        return collections.deque([b"x%d" % i, b"y%d" % i])
    return ZSet.from_scores({b"a%d" % i: 1.0, b"b": 2.0})


def measure(kind: str, n: int) -> str:
    ks = Keyspace(16)
    db = ks.dbs[0]
    for i in range(n):
        db.set(b"key:%d" % i, value(kind, i))
    rss = rss_bytes()
    directory = tempfile.mkdtemp()
    gc.freeze()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        gc.disable()
        t = time.perf_counter()
        save_to_file(ks, directory, "dump.mkv", dbs=[0])
        os.write(w, b"%d %f" % (private_dirty_bytes(), time.perf_counter() - t))
        os._exit(0)
    os.waitpid(pid, 0)
    cow, secs = os.read(r, 100).split()
    size = os.path.getsize(os.path.join(directory, "dump.mkv"))
    return (
        f"| {kind} | {n:,} | {rss / 2**20:.0f} | {int(cow) / 2**20:.1f} | "
        f"{int(cow) / rss * 100:.2f} | {float(secs):.2f} | {size / 2**20:.0f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=300_000)
    ap.add_argument("--types", default=",".join(TYPES))
    a = ap.parse_args()
    print("| type | keys | RSS MB | child COW MB | COW % of RSS | save s | file MB |")
    print("|---|---|---|---|---|---|---|")
    for kind in a.types.split(","):
        # One process per type: each measurement starts from a fresh heap.
        pid = os.fork()
        if pid == 0:
            print(measure(kind, a.keys), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
