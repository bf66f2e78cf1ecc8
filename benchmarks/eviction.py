"""maxmemory on minikv beside redis-server: an eviction run per policy, the count's accuracy,
the per-key cost of the access records, and what a snapshot under writes adds on top of the
limit.

    python benchmarks/eviction.py                      # every policy, ~2 min
    python benchmarks/eviction.py --policies allkeys-lru --requests 400000
    python benchmarks/eviction.py --accuracy           # + count vs tracemalloc, access cost
    python benchmarks/eviction.py --fork               # + BGSAVE under writes at the limit
    python benchmarks/eviction.py --no-run --in-process  # eviction's cost without sockets

**Eviction run.** Each server starts with ``maxmemory`` = its own ``used_memory`` when idle plus
``--room`` MB (Redis starts near 1 MB, minikv near 28 MB: the room for data is the same on
both), the policy under test, and for the volatile policies keys written with ``EX``. Then
``redis-benchmark -P 16 -r 10000000 -d 100`` SETs random keys, many times the room; reported:
requests/s of each server and their ratio, keys evicted, keys left, and ``used_memory`` minus
``maxmemory`` at the end (how far over the limit the server sits), OOM error replies (minikv /
redis). The two servers alternate; the "off" row is maxmemory 0, the reference. (Under
noeviction redis-benchmark stops at the first error, so its row has no rate.)

**Accuracy** (in process): the dataset count after writing a mixed dataset (strings with and
without a deadline, hashes, lists, sets, sorted sets) through the real dispatcher, against
tracemalloc's count of what the same writes allocated; and the bytes per key of the access
records (``sys.getsizeof`` of the access dicts over the keys).

**Fork.** A server at its limit under a write-heavy load (new keys, evicting) runs BGSAVE with
``rdb-key-save-delay`` stretching the save; the harness samples ``current_cow_size`` and the
parent's RSS: the copy-on-write the child reports is what the snapshot costs on top of
``maxmemory``, since eviction keeps the parent's count at the limit.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import MB, Server, loadavg, machine_info

POLICIES = [
    "off",  # maxmemory 0: the reference
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


def bench_set(srv: Server, requests: int, volatile: bool) -> tuple[float, int]:
    """redis-benchmark SETs of random keys: (requests/s, error replies seen)."""
    words = ["SET", "key:__rand_int__", "x" * 100] + (["EX", "100000"] if volatile else [])
    cmd = ["redis-benchmark", "-h", srv.host, "-p", str(srv.port), "-c", "50", "-P", "16"]
    cmd += ["-r", "10000000", "-n", str(requests), "--csv", *words]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    srv.check_alive()
    rps = 0.0
    for line in proc.stdout.splitlines()[1:]:
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) > 1:
            rps = float(parts[1])
    return rps, proc.stdout.count("OOM") + proc.stderr.count("OOM")


def eviction_run(policies: list[str], room_mb: int, requests: int, repeat: int) -> None:
    workdir = tempfile.mkdtemp(prefix="bench-evict-")
    print(f"load average before: {loadavg()}")
    print(
        "| policy | minikv rps | redis rps | ratio | minikv evicted | redis evicted "
        "| minikv keys | redis keys | minikv over limit | redis over limit | OOM replies |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for policy in policies:
        volatile = policy.startswith("volatile")
        rows: dict[str, list[dict[str, Any]]] = {"minikv": [], "redis": []}
        for _ in range(repeat):
            for kind in ("minikv", "redis"):
                srv = Server(kind, workdir)
                srv.start()
                try:
                    cl = srv.client
                    base = int(cl.info("memory")["used_memory"])
                    if policy != "off":
                        cl.config_set("maxmemory-policy", policy)
                        cl.config_set("maxmemory", base + room_mb * MB)
                    rps, _ = bench_set(srv, requests, volatile)
                    mem = cl.info("memory")
                    errors = cl.info("errorstats").get("errorstat_OOM", {})
                    limit = int(mem["maxmemory"])
                    rows[kind].append(
                        {
                            "rps": rps,
                            "evicted": int(cl.info("stats")["evicted_keys"]),
                            "keys": cl.dbsize(),
                            "over": int(mem["used_memory"]) - limit if limit else 0,
                            "oom": int(errors.get("count", 0)) if isinstance(errors, dict) else 0,
                        }
                    )
                finally:
                    srv.stop()
        mk = {k: statistics.median(r[k] for r in rows["minikv"]) for k in rows["minikv"][0]}
        rd = {k: statistics.median(r[k] for r in rows["redis"]) for k in rows["redis"][0]}
        ratio = mk["rps"] / rd["rps"] if rd["rps"] else 0.0
        print(
            f"| {policy} | {mk['rps']:,.0f} | {rd['rps']:,.0f} | {ratio:.2f} "
            f"| {mk['evicted']:,.0f} | {rd['evicted']:,.0f} | {mk['keys']:,.0f} "
            f"| {rd['keys']:,.0f} | {mk['over']:,.0f} | {rd['over']:,.0f} "
            f"| {mk['oom']:,.0f} / {rd['oom']:,.0f} |",
            flush=True,
        )


def accuracy(keys_per_kind: int) -> None:
    from profile_hotpath import FakeTransport

    from minikv.config import Config
    from minikv.connection import Client
    from minikv.server import Server as MkServer

    cfg = Config()
    cfg.maxmemory = 2**40
    cfg.save = []
    srv = MkServer(cfg)
    cl = Client(srv)
    cl.connection_made(FakeTransport())  # type: ignore[arg-type]
    mem = srv.keyspace.memory

    def requests(kind: str) -> list[list[bytes]]:
        out = []
        for i in range(keys_per_kind):
            k = kind.encode() + b":%08d" % i
            out.append(
                {
                    "string": [b"SET", k, b"x" * (i % 200 + 2)],
                    "string+ttl": [b"SET", k, b"y" * 40, b"EX", b"1000"],
                    "hash": [b"HSET", k, *[b"f%d" % j for j in range(20)]],
                    "list": [b"RPUSH", k, *[b"e%d" % j for j in range(20)]],
                    "set": [b"SADD", k, *[b"m%d" % j for j in range(20)]],
                    "zset": [b"ZADD", k, *[x for j in range(20) for x in (b"%d" % j, b"m%d" % j)]],
                }[kind]
            )
        # Fresh objects, as hiredis makes each argument.
        return [[bytes(bytearray(a)) for a in r] for r in out]

    kinds = ["string", "string+ttl", "hash", "list", "set", "zset"]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    d0 = mem.dataset
    for kind in kinds:
        for r in requests(kind):
            cl.execute(r)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    counted = mem.dataset - d0
    n = keys_per_kind * len(kinds)
    print(
        f"\ncount vs tracemalloc, {n:,} keys ({keys_per_kind:,} of each of {', '.join(kinds)}): "
        f"counted {counted:,} B, traced {traced:,} B, ratio {counted / traced:.3f}"
    )
    db = srv.keyspace.dbs[0]
    access = sum(map(sys.getsizeof, db.access))
    data = sum(map(sys.getsizeof, db.data))
    print(
        f"access records: {access:,} B for {len(db):,} keys = {access / len(db):.1f} B/key "
        f"(the keyspace dicts themselves: {data / len(db):.1f} B/key; the ints are shared)"
    )


def in_process(
    policies: list[str], keys: int, writes: int, rounds: int, evicting_only: bool = False
) -> None:
    """Eviction's own cost, without sockets: ``keys`` keys written, maxmemory set to what
    they take, then ``writes`` SETs of new keys through ``Client.execute``, each evicting about
    one key. CPU time per SET, best of ``rounds`` fresh runs, beside the same SETs under a limit
    never reached (the write path's own cost with maxmemory set)."""
    from profile_hotpath import FakeTransport

    from minikv.config import Config
    from minikv.connection import Client
    from minikv.server import Server as MkServer

    value = b"v" * 100

    def one(policy: str, evicting: bool) -> tuple[float, int]:
        srv = MkServer(Config())
        cl = Client(srv)
        cl.connection_made(FakeTransport())  # type: ignore[arg-type]
        ttl = [b"EX", b"100000"] if policy.startswith("volatile") else []
        for i in range(keys):
            cl.execute([b"SET", b"k:%d" % i, value, *ttl])
        cl.execute([b"CONFIG", b"SET", b"maxmemory", b"100gb"])
        limit = srv.keyspace.memory.used() if evicting else 100 << 30
        cl.execute([b"CONFIG", b"SET", b"maxmemory-policy", policy.encode()])
        cl.execute([b"CONFIG", b"SET", b"maxmemory", b"%d" % limit])
        reqs = [[b"SET", b"n:%d" % i, value, *ttl] for i in range(writes)]
        evicted = srv.keyspace.memory.evicted_keys
        gc.collect()
        t0 = time.process_time()
        for r in reqs:
            cl.execute(r)
        dt = time.process_time() - t0
        return dt / writes * 1e6, srv.keyspace.memory.evicted_keys - evicted

    print(f"\nin process: {keys:,} keys, {writes:,} SETs of new keys; us per SET, best of {rounds}")
    for policy in policies:
        if policy in ("off", "noeviction"):
            continue
        base = 0.0 if evicting_only else min(one(policy, False)[0] for _ in range(rounds))
        runs = [one(policy, True) for _ in range(rounds)]
        best = min(t for t, _ in runs)
        print(
            f"  {policy:16} {best:6.2f} evicting ({runs[0][1]:,} evicted), {base:6.2f} under the "
            f"limit: {best - base:6.2f} us per eviction",
            flush=True,
        )


def fork_run(room_mb: int, seconds_per_key_us: int) -> None:
    workdir = tempfile.mkdtemp(prefix="bench-evict-fork-")
    srv = Server("minikv", workdir, extra=["--maxmemory-policy", "allkeys-lru"])
    srv.start()
    try:
        cl = srv.client
        cl.execute_command("DEBUG", "POPULATE", 2_000_000, "seed", 100)
        base = int(cl.info("memory")["used_memory"])
        limit = base + room_mb * MB
        cl.config_set("maxmemory", 0)
        cl.config_set("maxmemory", limit)
        cl.execute_command("SET", "warm", "x")  # evict down to the limit
        keys = cl.dbsize()
        cl.config_set("rdb-key-save-delay", seconds_per_key_us)
        writer = subprocess.Popen(
            [
                "redis-benchmark",
                "-p",
                str(srv.port),
                "-c",
                "20",
                "-P",
                "16",
                "-r",
                "10000000",
                "-n",
                "100000000",
                "-q",
                "SET",
                "new:__rand_int__",
                "x" * 100,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
        rss0 = int(cl.info("memory")["used_memory_rss"])
        cl.bgsave()
        peak_cow = peak_rss = peak_used = 0
        saw = False
        while True:
            info = cl.info()
            peak_cow = max(peak_cow, int(info.get("current_cow_size", 0)))
            peak_rss = max(peak_rss, int(info["used_memory_rss"]))
            peak_used = max(peak_used, int(info["used_memory"]))
            if info["rdb_bgsave_in_progress"]:
                saw = True
            elif saw:
                break
            time.sleep(0.1)
        evicted = int(cl.info("stats")["evicted_keys"])
        cl.config_set("rdb-key-save-delay", 0)
        writer.terminate()  # the load generator this function started, by its pid
        writer.wait(timeout=60)
        print(
            f"\nBGSAVE at the limit under writes: maxmemory {limit / MB:.1f} MB "
            f"({keys:,} keys), peak used_memory {peak_used / MB:.1f} MB, parent RSS "
            f"{rss0 / MB:.1f} -> peak {peak_rss / MB:.1f} MB, child copy-on-write peak "
            f"{peak_cow / MB:.1f} MB ({100 * peak_cow / limit:.1f} % of maxmemory), "
            f"{evicted:,} keys evicted"
        )
    finally:
        srv.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--room", type=int, default=32, help="MB of data room above idle used_memory")
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--keys-per-kind", type=int, default=100_000)
    p.add_argument("--fork", action="store_true")
    p.add_argument("--no-run", action="store_true", help="skip the eviction runs")
    p.add_argument("--in-process", action="store_true", help="eviction's cost without sockets")
    p.add_argument("--rounds", type=int, default=3, help="--in-process: runs per policy")
    p.add_argument("--keys", type=int, default=100_000, help="--in-process: keys at the limit")
    p.add_argument("--writes", type=int, default=50_000, help="--in-process: evicting SETs")
    p.add_argument(
        "--evicting-only", action="store_true", help="--in-process: no run under the limit"
    )
    a = p.parse_args()
    print(machine_info())
    if not a.no_run:
        eviction_run(a.policies.split(","), a.room, a.requests, a.repeat)
    if a.in_process:
        in_process(a.policies.split(","), a.keys, a.writes, a.rounds, a.evicting_only)
    if a.accuracy:
        accuracy(a.keys_per_kind)
    if a.fork:
        fork_run(a.room, 5)


if __name__ == "__main__":
    main()
