"""HyperLogLog commands on minikv beside redis-server, in one run, with redis-benchmark.

    python benchmarks/hll.py                        # every command, -P 1 and -P 16, 3 rounds
    python benchmarks/hll.py --repeat 1 --requests 20000 --only "PFADD dense"
    python benchmarks/hll.py --micro                # also minikv.hll's own costs, in-process

Both servers get the same keys first: ``hll:dense`` and ``hll:dense2`` (100 000 elements each,
half of them shared: dense), and ``hll:recount``, a dense value whose registers are all
between 52 and 63 (written with SETRANGE). Registers that high make Redis's estimate overflow
``llroundl``; the cached cardinality it writes back has its top bit set, so the cache is never
valid and every PFCOUNT of that key computes the register histogram of 16384 dense registers
again: the way to time that loop with a single-command benchmark.

Each command line runs under ``redis-benchmark -c 50 -n N [-r R] -P p`` against minikv and
redis alternately, ``--repeat`` times; the median requests/s of each and the ratio are printed.
``__rand_int__`` is redis-benchmark's random number (``-r``, a different one in each place):

- PFADD dense: one random element into a dense HLL (-r 1 000 000: most hit a register
  already high enough, as in real counting; the hash is computed for each anyway);
- PFADD dense x10: ten random elements a call;
- PFADD sparse: one random element into one of 10 000 keys (small sparse HLLs);
- PFCOUNT cached: the cached cardinality of a dense key;
- PFCOUNT recount: the dense histogram every time (see above);
- PFCOUNT 2 keys: the union of the two dense keys (merge and histogram every time);
- PFMERGE 2 dense: the union of the two written to a third key.

``--micro`` adds the per-call cost of minikv.hll's functions measured in this process
(hash and add, histogram, estimate, unpack, pack, register-wise max, sparse work).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BenchCommand, Server, compare_commands, loadavg

from minikv import hll

#: name -> (arguments, -r keyspace)
COMMANDS: dict[str, tuple[list[str], int]] = {
    "PFADD dense": (["PFADD", "hll:dense", "__rand_int__"], 1_000_000),
    "PFADD dense x10": (["PFADD", "hll:dense", *(["__rand_int__"] * 10)], 1_000_000),
    "PFADD sparse": (["PFADD", "hll:s:__rand_int__", "__rand_int__"], 10_000),
    "PFCOUNT cached": (["PFCOUNT", "hll:dense"], 0),
    "PFCOUNT recount": (["PFCOUNT", "hll:recount"], 0),
    "PFCOUNT 2 keys": (["PFCOUNT", "hll:dense", "hll:dense2"], 0),
    "PFMERGE 2 dense": (["PFMERGE", "hll:merged", "hll:dense", "hll:dense2"], 0),
}


def prepare(srv: Server) -> None:
    c = srv.client
    pipe = c.pipeline(transaction=False)
    for key, first in (("hll:dense", 0), ("hll:dense2", 50_000)):
        for start in range(first, first + 100_000, 10_000):
            pipe.pfadd(key, *[b"seed:%d" % i for i in range(start, start + 10_000)])
    pipe.pfadd("hll:recount", *[b"seed:%d" % i for i in range(10_000)])
    pipe.execute()
    high = bytes(52 + (i * 7) % 12 for i in range(hll.REGISTERS))
    c.setrange("hll:recount", hll.HDR_SIZE, hll.pack(hll.regs_of(high)))
    if c.execute_command("PFDEBUG", "ENCODING", "hll:recount") != b"dense":
        raise SystemExit(f"{srv.kind}: hll:recount is not dense")
    c.pfcount("hll:dense")
    first, second = c.pfcount("hll:recount"), c.get("hll:recount")
    if first != -(2**63) or not second[15] & 0x80:
        raise SystemExit(f"{srv.kind}: hll:recount's cache became valid ({first})")


def throughput(repeat: int, requests: int, only: list[str]) -> None:
    table: dict[str, list[str] | BenchCommand] = {
        name: (words, ["-r", str(keyspace)] if keyspace else [], 0)
        for name, (words, keyspace) in COMMANDS.items()
        if not only or name in only
    }
    compare_commands(table, prepare, repeat, requests, "hll-bench-")
    print(f"load average after: {loadavg()}")


def _per_call(f: Callable[[], object], seconds: float = 0.3) -> float:
    """Microseconds per call of ``f``, the best of 3 runs of about ``seconds`` each."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t
        if dt > seconds / 10:
            break
        n *= 4
    n = max(1, int(n * seconds / 10 / dt * 10))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def micro() -> None:
    elements = [b"element:%d" % i for i in range(200_000)]
    dense, _, _ = hll.add(hll.EMPTY, elements[:100_000], hll.SPARSE_MAX_BYTES)
    assert dense is not None and dense[4] == hll.DENSE
    sparse, _, _ = hll.add(hll.EMPTY, elements[:1000], hll.SPARSE_MAX_BYTES)
    assert sparse is not None and sparse[4] == hll.SPARSE
    regs = hll.unpack(dense)
    hist = hll.dense_histogram(dense)
    fresh = iter(elements[100_000:] * 100)
    rows: list[tuple[str, Callable[[], object]]] = [
        ("murmurhash64a (13 bytes)", lambda: hll.murmurhash64a(b"element:12345")),
        ("add 1 element, dense", lambda: hll.add(dense, [next(fresh)], 3000)),
        ("add 100 elements, dense", lambda: hll.add(dense, elements[:100], 3000)),
        ("dense_histogram", lambda: hll.dense_histogram(dense)),
        ("estimate (from a histogram)", lambda: hll.estimate(hist)),
        ("count, dense", lambda: hll.count(dense)),
        ("unpack (dense -> register array)", lambda: hll.unpack(dense)),
        ("pack (register array -> dense)", lambda: hll.pack(regs)),
        ("regs_max (two register arrays)", lambda: hll.regs_max(regs, regs)),
        ("regs_histogram", lambda: hll.regs_histogram(regs)),
        (f"count, sparse ({len(sparse)} bytes)", lambda: hll.count(sparse)),
        (f"add 1 element, sparse ({len(sparse)} bytes)", lambda: hll.add(sparse, [b"x"], 3000)),
        ("add 1000 elements to an empty HLL", lambda: hll.add(hll.EMPTY, elements[:1000], 3000)),
    ]
    print("| minikv.hll, in-process | us per call |")
    print("|---|---|")
    for name, f in rows:
        print(f"| {name} | {_per_call(f):,.1f} |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--only", action="append", default=[], help="a command name (repeatable)")
    ap.add_argument("--micro", action="store_true", help="also time minikv.hll in-process")
    ap.add_argument("--skip-throughput", action="store_true")
    a = ap.parse_args()
    if a.micro:
        micro()
    if not a.skip_throughput:
        throughput(a.repeat, a.requests, a.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
