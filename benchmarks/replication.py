"""Replication measured beside redis-server doing the same with its own replica.

    python benchmarks/replication.py [--keys 1000000] [--write-rate 20000] [--failover]

For each kind (minikv, then redis-server), on this machine:

1. **Full sync** — a primary holding ``--keys`` keys of 100 bytes, a writer overwriting random
   keys at ``--write-rate`` SETs/s and a PING probe on it; an empty replica runs REPLICAOF.
   Reported: seconds from REPLICAOF until the replica's link is up with the sync done, the
   primary's ``rdb_last_cow_size`` (the forked child's copy-on-write) against its RSS, and the
   probe's PING p50/p99/max while the sync ran.
2. **Lag** — with the writer still running: the stream bytes the replica is behind
   (``master_repl_offset - slave_repl_offset``, sampled every 20 ms for ``--lag-seconds``),
   and how long a write takes to be readable on the replica (a probe SETs a fresh value and
   polls the replica until it reads it, ``--probes`` times).
3. **Throughput** — ``redis-benchmark -t set -P 16`` on the primary with the replica
   attached (writer stopped), and again once the replica is gone (the backlog stays).
4. With ``--failover``: one primary, two replicas and three ``redis-server --sentinel``
   (quorum 2, ``down-after-milliseconds 1000``); the primary is killed and a redis-py
   ``Sentinel`` client writes until a write succeeds: the seconds from the kill to that write.

The diskless sync (``repl-diskless-sync yes``, delay 0) is used by both: Redis 7's default.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from common import (
    MB,
    BenchError,
    Helper,
    Server,
    free_port,
    machine_info,
    now_ns,
    percentile,
    pinger_main,
    populate,
    redis_benchmark,
    writer_main,
)

REPL_FLAGS = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]


def wait(cond: Any, timeout: float, what: str, period: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(period)
    raise BenchError(f"timed out waiting for {what}")


def synced(replica: Server) -> bool:
    r = replica.info("replication")
    return r.get("master_link_status") == "up" and not int(r.get("master_sync_in_progress", 1))


def measure_kind(kind: str, args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    primary = Server(kind, os.path.join(workdir, "primary"), extra=REPL_FLAGS)
    replica = Server(kind, os.path.join(workdir, "replica"), extra=REPL_FLAGS)
    primary.start()
    replica.start()
    helpers: list[Helper] = []
    try:
        populate(primary, args.keys, 100)
        rss = int(primary.info("memory")["used_memory_rss"])
        pinger = Helper(pinger_main, primary.host, primary.port, 0.0)
        helpers.append(pinger)
        writer = None
        if args.write_rate:
            writer = Helper(
                writer_main,
                primary.host,
                primary.port,
                args.keys,
                args.write_rate,
                100,
                100,
                primary.port,
            )
            helpers.append(writer)
        time.sleep(1.0)
        t0 = now_ns()
        replica.client.execute_command("REPLICAOF", primary.host, primary.port)
        wait(lambda: synced(replica), args.timeout, f"{kind} replica synced")
        t1 = now_ns()
        cow = int(primary.info("persistence")["rdb_last_cow_size"])
        # Lag under the same write load.
        lags = []
        end = time.monotonic() + args.lag_seconds
        while time.monotonic() < end:
            po = int(primary.info("replication")["master_repl_offset"])
            ro = int(replica.info("replication")["slave_repl_offset"])
            lags.append(max(0, po - ro))
            time.sleep(0.02)
        visible = []
        pc, rc = primary.new_client(), replica.new_client()
        for i in range(args.probes):
            value = f"{kind}-{i}-{time.monotonic_ns()}"
            a = time.perf_counter()
            pc.set("probe", value)
            while rc.get("probe") != value.encode():
                pass
            visible.append((time.perf_counter() - a) * 1000)
        pc.close()
        rc.close()
        done = None
        if writer is not None:
            (done,) = writer.finish(1)
        sent, rtt = pinger.finish(2)
        pings = sorted(r / 1e6 for t, r in zip(sent, rtt, strict=True) if t0 <= t <= t1)
        sync_writes = 0.0
        if done is not None:
            in_sync = sum(1 for t in done if t0 <= t <= t1)
            sync_writes = in_sync * 100 / ((t1 - t0) / 1e9)

        def same_offset() -> bool:
            want = int(primary.info("replication")["master_repl_offset"])
            return int(replica.info("replication")["slave_repl_offset"]) == want

        wait(same_offset, 60, f"{kind} replica caught up")
        dbsize_p, dbsize_r = int(primary.client.dbsize()), int(replica.client.dbsize())
        if dbsize_p != dbsize_r:
            raise BenchError(f"{kind}: DBSIZE primary {dbsize_p} != replica {dbsize_r}")
        rps = redis_benchmark(
            primary, ["SET", "key:__rand_int__", "xxx"], 16, args.rps_requests, ["-r", "100000"]
        )
        replica.client.execute_command("REPLICAOF", "NO", "ONE")
        rps_alone = redis_benchmark(
            primary, ["SET", "key:__rand_int__", "xxx"], 16, args.rps_requests, ["-r", "100000"]
        )
        visible.sort()
        lags.sort()
        return {
            "kind": kind,
            "sync_s": (t1 - t0) / 1e9,
            "rss_mb": rss / MB,
            "cow_mb": cow / MB,
            "cow_pct": 100 * cow / rss if rss else 0.0,
            "ping_p50_ms": percentile(pings, 50) if pings else 0.0,
            "ping_p99_ms": percentile(pings, 99) if pings else 0.0,
            "ping_max_ms": pings[-1] if pings else 0.0,
            "writes_per_s_during_sync": sync_writes,
            "lag_bytes_median": statistics.median(lags) if lags else 0,
            "lag_bytes_max": lags[-1] if lags else 0,
            "visible_ms_p50": percentile(visible, 50),
            "visible_ms_p99": percentile(visible, 99),
            "set_p16_with_replica": rps,
            "set_p16_after": rps_alone,
        }
    finally:
        for h in helpers:
            h.close()
        replica.stop()
        primary.stop()


# --- failover --------------------------------------------------------------------------------


def failover_kind(kind: str, workdir: str, keys: int) -> float:
    import redis
    from redis.sentinel import Sentinel

    exe = shutil.which("redis-server")
    if exe is None:
        raise BenchError("redis-server is needed for Sentinel")
    primary = Server(kind, os.path.join(workdir, "p"), extra=REPL_FLAGS)
    primary.start()
    replicas = [Server(kind, os.path.join(workdir, f"r{i}"), extra=REPL_FLAGS) for i in (1, 2)]
    sentinels: list[subprocess.Popen[bytes]] = []
    try:
        for r in replicas:
            r.start()
        populate(primary, keys, 100)
        for r in replicas:
            r.client.execute_command("REPLICAOF", primary.host, primary.port)
        for r in replicas:
            wait(lambda r=r: synced(r), 300, "replica synced")
        ports = []
        for i in range(3):
            d = os.path.join(workdir, f"s{i}")
            os.makedirs(d)
            port = free_port()
            ports.append(port)
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write(
                    f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                    f"sentinel monitor m 127.0.0.1 {primary.port} 2\n"
                    "sentinel down-after-milliseconds m 1000\n"
                    "sentinel failover-timeout m 10000\n"
                )
            sentinels.append(
                subprocess.Popen(
                    [exe, conf, "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        s0 = redis.Redis(port=ports[0])
        wait(
            lambda: (
                _answers(s0)
                and len(s0.sentinel_slaves("m")) == 2
                and len(s0.sentinel_sentinels("m")) == 2
            ),
            60,
            "sentinels ready",
            0.1,
        )
        client = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=0.5)
        master = client.master_for("m", socket_timeout=0.5)
        master.set("before", 1)
        assert primary.proc is not None
        t0 = time.monotonic()
        primary.proc.send_signal(signal.SIGKILL)
        primary.proc.wait()
        while True:
            try:
                if master.set("after", 1):
                    break
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                time.sleep(0.01)
            if time.monotonic() - t0 > 120:
                raise BenchError(f"{kind}: no write succeeded after failover")
        return time.monotonic() - t0
    finally:
        for s in sentinels:
            s.terminate()
            s.wait(10)
        for r in replicas:
            r.stop()
        primary.stop()


def _answers(c: Any) -> bool:
    try:
        return bool(c.ping())
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--write-rate", type=int, default=20_000, help="SETs/s on the primary (0: none)")
    p.add_argument("--lag-seconds", type=float, default=5.0)
    p.add_argument("--probes", type=int, default=200)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--rps-requests", type=int, default=500_000, help="redis-benchmark -n")
    p.add_argument("--failover", action="store_true", help="also measure a Sentinel failover")
    p.add_argument("--failover-keys", type=int, default=100_000)
    p.add_argument("--kinds", default="minikv,redis")
    args = p.parse_args(argv)
    info = machine_info()
    print(f"# {info}")
    results = []
    for kind in args.kinds.split(","):
        with tempfile.TemporaryDirectory(prefix=f"repl-{kind}-") as d:
            res = measure_kind(kind, args, d)
        results.append(res)
        print(
            f"{kind:7s} full sync of {args.keys} keys: {res['sync_s']:.2f} s, "
            f"COW {res['cow_mb']:.1f} MB ({res['cow_pct']:.1f} % of {res['rss_mb']:.0f} MB RSS), "
            f"PING p50/p99/max {res['ping_p50_ms']:.2f}/{res['ping_p99_ms']:.2f}/"
            f"{res['ping_max_ms']:.1f} ms, writes {res['writes_per_s_during_sync']:.0f}/s; "
            f"lag median/max {res['lag_bytes_median']:.0f}/{res['lag_bytes_max']:.0f} B, "
            f"write visible on replica p50/p99 {res['visible_ms_p50']:.2f}/"
            f"{res['visible_ms_p99']:.2f} ms; SET -P 16 with the replica "
            f"{res['set_p16_with_replica']:.0f}/s, after it left {res['set_p16_after']:.0f}/s",
            flush=True,
        )
    if len(results) == 2:
        a, b = results
        print(
            f"ratio minikv/redis: sync time {a['sync_s'] / b['sync_s']:.2f}x, "
            f"PING p99 {a['ping_p99_ms'] / max(b['ping_p99_ms'], 1e-9):.2f}x, "
            f"visible p50 {a['visible_ms_p50'] / max(b['visible_ms_p50'], 1e-9):.2f}x, "
            f"SET -P 16 with a replica {a['set_p16_with_replica'] / b['set_p16_with_replica']:.2f}x"
        )
    if args.failover:
        for kind in args.kinds.split(","):
            with tempfile.TemporaryDirectory(prefix=f"failover-{kind}-") as d:
                secs = failover_kind(kind, d, args.failover_keys)
            print(f"{kind:7s} failover: first successful write {secs:.2f} s after the kill")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
