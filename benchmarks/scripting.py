"""Scripting on minikv against redis-server: EVALSHA of a small script, and redis-py's Lock.

- EVALSHA of ``redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])`` under
  ``redis-benchmark -c 50`` (``__rand_int__`` keys), unpipelined and at ``-P 16``;
- redis-py ``Lock`` acquire + release (two scripts and a SET NX PX per cycle), one client.

Servers are run alternately ``--repeat`` times; medians and minikv/redis ratios are printed.
Nothing here asserts anything.

    python benchmarks/scripting.py
    python benchmarks/scripting.py --requests 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Server

SCRIPT = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])"


def evalsha_rps(port: int, sha: str, requests: int, pipeline: int) -> float:
    cmd = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests)]
    cmd += ["-P", str(pipeline), "-r", "100000", "--csv"]
    cmd += ["EVALSHA", sha, "1", "key:__rand_int__", "value"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r.get("rps")]
    return float(rows[0]["rps"])


def lock_cycles_per_s(port: int, cycles: int) -> float:
    client = redis.Redis(port=port)
    lock = client.lock("bench-lock", timeout=10)
    t0 = time.perf_counter()
    for _ in range(cycles):
        lock.acquire()
        lock.release()
    elapsed = time.perf_counter() - t0
    client.close()
    return cycles / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=100000, help="per redis-benchmark run")
    ap.add_argument("--cycles", type=int, default=5000, help="Lock acquire+release cycles")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, dict[str, list[float]]] = {"minikv": {}, "redis": {}}
    with tempfile.TemporaryDirectory() as work:
        servers = {kind: Server(kind, work) for kind in ("minikv", "redis")}
        for srv in servers.values():
            srv.start()
        try:
            shas = {k: redis.Redis(port=s.port).script_load(SCRIPT) for k, s in servers.items()}
            for _ in range(args.repeat):
                for kind, srv in servers.items():
                    r = results[kind]
                    for p in (1, 16):
                        n = args.requests * (5 if p == 16 else 1)
                        r.setdefault(f"evalsha -P {p}", []).append(
                            evalsha_rps(srv.port, shas[kind], n, p)
                        )
                    r.setdefault("lock acquire+release", []).append(
                        lock_cycles_per_s(srv.port, args.cycles)
                    )
        finally:
            for srv in servers.values():
                srv.stop()
    print(f"{'test':<22} {'minikv/s':>10} {'redis/s':>10} {'ratio':>6}")
    for test in results["minikv"]:
        mk = statistics.median(results["minikv"][test])
        rd = statistics.median(results["redis"][test])
        print(f"{test:<22} {mk:>10.0f} {rd:>10.0f} {mk / rd:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
