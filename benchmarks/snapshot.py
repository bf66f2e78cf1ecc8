"""Fork snapshots of minikv against a real redis-server: fork, save, copy-on-write, latency, load.

Starts both servers on free ports with ``--save ""`` (no automatic saves), fills each with
``DEBUG POPULATE <keys> key 100`` and then, alternating minikv and redis ``--repeat`` times per
phase so machine noise hits both the same way:

1. BGSAVE with no writes: ``latest_fork_usec``, the save's wall time (from the BGSAVE reply until
   INFO shows ``rdb_bgsave_in_progress:0``; both servers reap their child from a 10 Hz cron, so
   this includes up to 100 ms of reaping delay) and ``rdb_last_bgsave_time_sec``,
   ``rdb_last_cow_size`` as a percentage of ``used_memory_rss`` read just before the BGSAVE, and
   the latency of PINGs sent one at a time, in a loop, by a separate process during the save
   (back to back by default, which keeps about a core busy; ``--ping-interval`` paces them).
2. The same BGSAVE while a writer process overwrites random existing keys (``key:<n>``, 100-byte
   values, raw RESP pipelines of ``--batch`` SETs) paced to ``--write-rate`` per second; the rates
   it achieved just before and during the save are reported (a server that cannot keep up gets
   fewer writes), and the server process's minor page faults during the save (its side of the
   copy-on-write).
3. Restart: SHUTDOWN NOSAVE (the last snapshot stays in the dir), start the same command again
   and time from process start until PING answers +PONG; then DBSIZE and
   ``rdb_last_load_keys_loaded`` must equal ``--keys``.

PING percentiles pool the pings of all repeats; the other figures are medians over repeats.

    python benchmarks/snapshot.py                            # 1M keys x 100 B, repeat 3
    python benchmarks/snapshot.py --keys 100000 --repeat 1 --json out.json
    python benchmarks/snapshot.py --ping-interval 1         # PINGs 1 ms apart

Servers, helper processes and machine info come from ``common.py`` next to it. Results and their
analysis: benchmarks/README.md ("snapshot.py" section).

Exit status: 0 on success (goals missed are reported, not failed), 1 if a save failed or the
reloaded key count is wrong, 2 if a server did not start or died.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import (
    MB,
    BenchError,
    Helper,
    Server,
    ServerStartError,
    loadavg,
    machine_info,
    now_ns,
    percentile,
    pinger_main,
    populate,
    start_bgsave,
    writer_main,
)

SERVERS = ("minikv", "redis")
# Goals from the issue (minikv's figures; "ratio" goals compare with redis in the same run).
COW_IDLE_MAX_PCT = 5.0
PING_P99_MAX_MS = 10.0
VALUE_SIZE = 100


# --- one measurement -----------------------------------------------------------------------------


@dataclass
class SaveSample:
    rss: int  # used_memory_rss just before BGSAVE
    fork_usec: int
    wall_s: float  # BGSAVE reply -> rdb_bgsave_in_progress:0
    bgsave_time_sec: int  # rdb_last_bgsave_time_sec
    cow: int  # rdb_last_cow_size
    pings: list[float] = field(repr=False)  # RTTs in ms of PINGs sent during the save
    write_rate: float = 0.0  # SETs/s completed during the save
    write_rate_before: float = 0.0  # SETs/s in the last half of the warmup, before BGSAVE
    faults: int = 0  # the server's (parent's) minor page faults from BGSAVE to its end

    @property
    def cow_pct(self) -> float:
        return 100.0 * self.cow / self.rss if self.rss else 0.0


def measure_save(server: Server, args: argparse.Namespace, writes: bool) -> SaveSample:
    helpers = [Helper(pinger_main, server.host, server.port, args.ping_interval / 1000)]
    try:
        if writes:
            helpers.append(
                Helper(
                    writer_main,
                    server.host,
                    server.port,
                    args.keys,
                    args.write_rate,
                    args.batch,
                    VALUE_SIZE,
                    server.port,  # the random seed
                )
            )
        return _measure_save(server, args, *helpers)
    finally:
        for h in helpers:
            h.close()


def _measure_save(
    server: Server, args: argparse.Namespace, pinger: Helper, writer: Helper | None = None
) -> SaveSample:
    if writer is not None:
        time.sleep(args.warmup)  # reach the steady write rate before forking
    rss = int(server.info("memory")["used_memory_rss"])
    flt0 = server.minor_faults()
    t_send = now_ns()
    start_bgsave(server)
    t_reply = now_ns()
    deadline = time.monotonic() + args.save_timeout
    while True:
        p = server.info("persistence")
        if not int(p["rdb_bgsave_in_progress"]):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{server.kind}: BGSAVE still running after {args.save_timeout}s")
        time.sleep(args.poll_interval)
    t_done = now_ns()
    faults = server.minor_faults() - flt0
    write_rate = write_rate_before = 0.0
    if writer is not None:
        (done,) = writer.finish(1)
        in_window = sum(1 for t in done if t_send <= t <= t_done)
        write_rate = in_window * args.batch / ((t_done - t_send) / 1e9)
        before = int(args.warmup / 2 * 1e9)
        in_before = sum(1 for t in done if t_send - before <= t < t_send)
        write_rate_before = in_before * args.batch / (before / 1e9)
    sent, rtt = pinger.finish(2)
    server.check_alive()
    if p["rdb_last_bgsave_status"] != "ok":
        raise BenchError(f"{server.kind}: rdb_last_bgsave_status:{p['rdb_last_bgsave_status']}")
    stats = server.info("stats")
    pings = [r / 1e6 for t, r in zip(sent, rtt, strict=True) if t_send <= t <= t_done]
    return SaveSample(
        rss=rss,
        fork_usec=int(stats["latest_fork_usec"]),
        wall_s=(t_done - t_reply) / 1e9,
        bgsave_time_sec=int(p["rdb_last_bgsave_time_sec"]),
        cow=int(p["rdb_last_cow_size"]),
        pings=pings,
        write_rate=write_rate,
        write_rate_before=write_rate_before,
        faults=faults,
    )


@dataclass
class RestartSample:
    to_ping_s: float
    dbsize: int
    keys_loaded: int
    rss: int


def measure_restart(server: Server, nkeys: int) -> RestartSample:
    server.shutdown_nosave()
    secs = server.start()
    dbsize = int(server.client.dbsize())
    loaded = int(server.info("persistence")["rdb_last_load_keys_loaded"])
    rss = int(server.info("memory")["used_memory_rss"])
    if dbsize != nkeys or loaded != nkeys:
        raise BenchError(
            f"{server.kind} after restart: DBSIZE {dbsize}, rdb_last_load_keys_loaded {loaded}, "
            f"expected {nkeys}"
        )
    return RestartSample(secs, dbsize, loaded, rss)


# --- summary -------------------------------------------------------------------------------------


def summarize(idle: list[SaveSample], loaded: list[SaveSample]) -> dict[str, float]:
    out: dict[str, float] = {}
    for tag, samples in (("idle", idle), ("load", loaded)):
        pings = sorted(p for s in samples for p in s.pings)
        out |= {
            f"{tag}_rss_mb": statistics.median(s.rss for s in samples) / MB,
            f"{tag}_fork_ms": statistics.median(s.fork_usec for s in samples) / 1000,
            f"{tag}_wall_s": statistics.median(s.wall_s for s in samples),
            f"{tag}_bgsave_time_sec": statistics.median(s.bgsave_time_sec for s in samples),
            f"{tag}_cow_mb": statistics.median(s.cow for s in samples) / MB,
            f"{tag}_cow_pct": statistics.median(s.cow_pct for s in samples),
            f"{tag}_pings": len(pings),
            f"{tag}_ping_p50_ms": percentile(pings, 50),
            f"{tag}_ping_p99_ms": percentile(pings, 99),
            f"{tag}_ping_max_ms": pings[-1] if pings else math.nan,
        }
    out["load_write_rate"] = statistics.median(s.write_rate for s in loaded)
    out["load_write_rate_before"] = statistics.median(s.write_rate_before for s in loaded)
    # The parent's page faults during the save, as MB of 4 KiB pages: nearly all of them are
    # copy-on-write copies of pages the writes touched (once per page: it saturates at RSS).
    out["load_fault_mb"] = statistics.median(s.faults for s in loaded) * 4096 / MB
    return out


# (key, label, format, goal) — goal: None, ("max", x) on minikv's value, or "ratio<=1".
ROWS: list[tuple[str, str, str, Any]] = [
    ("populate_s", "DEBUG POPULATE time (s)", "{:.2f}", None),
    ("idle_rss_mb", "RSS before BGSAVE (MB)", "{:.0f}", None),
    ("snapshot_mb", "snapshot file (MB)", "{:.1f}", None),
    ("idle_fork_ms", "no writes: fork (latest_fork_usec, ms)", "{:.1f}", None),
    ("idle_wall_s", "no writes: save wall time (s)", "{:.2f}", "ratio<=1"),
    ("idle_bgsave_time_sec", "no writes: rdb_last_bgsave_time_sec", "{:.0f}", None),
    ("idle_cow_mb", "no writes: rdb_last_cow_size (MB)", "{:.1f}", None),
    ("idle_cow_pct", "no writes: COW % of RSS", "{:.2f}", ("max", COW_IDLE_MAX_PCT)),
    ("idle_pings", "no writes: PINGs during saves", "{:,.0f}", None),
    ("idle_ping_p50_ms", "no writes: PING p50 (ms)", "{:.3f}", None),
    ("idle_ping_p99_ms", "no writes: PING p99 (ms)", "{:.2f}", ("max", PING_P99_MAX_MS)),
    ("idle_ping_max_ms", "no writes: PING max (ms)", "{:.2f}", None),
    ("load_write_rate_before", "writes: achieved SET/s before BGSAVE", "{:,.0f}", None),
    ("load_write_rate", "writes: achieved SET/s during save", "{:,.0f}", None),
    ("load_fault_mb", "writes: server page faults x 4 KiB (MB)", "{:.0f}", None),
    ("load_fork_ms", "writes: fork (ms)", "{:.1f}", None),
    ("load_wall_s", "writes: save wall time (s)", "{:.2f}", "ratio<=1"),
    ("load_cow_pct", "writes: COW % of RSS", "{:.1f}", None),
    ("load_pings", "writes: PINGs during saves", "{:,.0f}", None),
    ("load_ping_p50_ms", "writes: PING p50 (ms)", "{:.3f}", None),
    ("load_ping_p99_ms", "writes: PING p99 (ms)", "{:.2f}", ("max", PING_P99_MAX_MS)),
    ("load_ping_max_ms", "writes: PING max (ms)", "{:.2f}", None),
    ("restart_s", "restart: process start -> PONG (s)", "{:.2f}", "ratio<=1"),
    ("restart_rss_mb", "restart: RSS after load (MB)", "{:.0f}", None),
]


def goal_text(goal: Any, value: float, ratio: float) -> str:
    if goal is None:
        return ""
    if goal == "ratio<=1":
        return "<= redis: " + ("met" if ratio <= 1.0 else "MISSED")
    _, limit = goal
    return f"<= {limit:g}: " + ("met" if value <= limit else "MISSED")


def format_table(summary: dict[str, dict[str, float]]) -> tuple[str, list[dict[str, Any]]]:
    head = ("metric", "minikv", "redis", "minikv/redis", "goal (minikv)")
    rows = [head]
    goals = []
    for key, label, fmt, goal in ROWS:
        m, r = summary["minikv"][key], summary["redis"][key]
        ratio = m / r if r else math.inf if m else 1.0
        text = goal_text(goal, m, ratio)
        if text:
            goals.append({"metric": key, "minikv": m, "redis": r, "ratio": ratio, "goal": text})
        rows.append((label, fmt.format(m), fmt.format(r), f"{ratio:.2f}", text))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            c.ljust(w) if j in (0, 4) else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines), goals


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keys", type=int, default=1_000_000, help="keys to DEBUG POPULATE")
    p.add_argument("--repeat", type=int, default=3, help="alternations per phase (default 3)")
    p.add_argument(
        "--write-rate", type=int, default=100_000, help="target SETs/s of the writer (phase 2)"
    )
    p.add_argument("--batch", type=int, default=100, help="SETs per pipelined write")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of writes before BGSAVE")
    p.add_argument(
        "--ping-interval",
        type=float,
        default=0.0,
        help="ms between PINGs (default 0: back to back, which keeps a core busy)",
    )
    p.add_argument("--poll-interval", type=float, default=0.01, help="INFO poll period (s)")
    p.add_argument("--save-timeout", type=float, default=300.0, help="give up on a save (s)")
    p.add_argument("--json", metavar="FILE", help="also write machine info and all samples here")
    return p.parse_args(argv)


def fmt_sample(s: SaveSample) -> str:
    pings = sorted(s.pings)
    return (
        f"fork {s.fork_usec / 1000:.1f} ms, save {s.wall_s:.2f} s, COW {s.cow_pct:.2f} %, "
        f"{len(pings)} PINGs p99 {percentile(pings, 99):.2f} ms max "
        f"{pings[-1] if pings else math.nan:.2f} ms"
        + (
            f", {s.write_rate_before:,.0f} SET/s before, {s.write_rate:,.0f} during, "
            f"{s.faults:,} faults"
            if s.write_rate
            else ""
        )
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine_info()
    print(
        f"# {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}; "
        f"{info['redis-server']}"
    )
    print(
        f"# {args.keys:,} keys x 100 B, repeat {args.repeat}, writer target "
        f"{args.write_rate:,} SET/s in batches of {args.batch}, PING interval "
        f"{args.ping_interval} ms (minikv and redis alternate); load average {loadavg()}",
        flush=True,
    )
    info["loadavg_start"] = loadavg()
    servers: dict[str, Server] = {}
    idle: dict[str, list[SaveSample]] = {k: [] for k in SERVERS}
    loaded: dict[str, list[SaveSample]] = {k: [] for k in SERVERS}
    restarts: dict[str, list[RestartSample]] = {k: [] for k in SERVERS}
    extra: dict[str, dict[str, float]] = {k: {} for k in SERVERS}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minikv-snapbench-") as workdir:
        try:
            for kind in SERVERS:
                servers[kind] = Server(kind, workdir)
                servers[kind].start()
            for kind in SERVERS:
                extra[kind]["populate_s"] = populate(servers[kind], args.keys, VALUE_SIZE)
                print(f"  {kind:6} populated in {extra[kind]['populate_s']:.2f} s", flush=True)
            for phase, store, writes in (("no writes", idle, False), ("writes", loaded, True)):
                for i in range(args.repeat):
                    for kind in SERVERS:
                        s = measure_save(servers[kind], args, writes)
                        store[kind].append(s)
                        print(f"  {phase:9} {i + 1} {kind:6} {fmt_sample(s)}", flush=True)
            for kind in SERVERS:
                extra[kind]["snapshot_mb"] = os.path.getsize(servers[kind].snapshot_path()) / MB
            for i in range(args.repeat):
                for kind in SERVERS:
                    r = measure_restart(servers[kind], args.keys)
                    restarts[kind].append(r)
                    print(
                        f"  restart   {i + 1} {kind:6} PONG after {r.to_ping_s:.2f} s, "
                        f"{r.keys_loaded:,} keys loaded",
                        flush=True,
                    )
        except ServerStartError as e:
            print(f"server failed: {e}", file=sys.stderr)
            return 2
        except BenchError as e:
            print(f"benchmark failed: {e}", file=sys.stderr)
            return 1
        finally:
            for s in servers.values():
                s.stop()
    summary: dict[str, dict[str, float]] = {}
    for kind in SERVERS:
        summary[kind] = summarize(idle[kind], loaded[kind]) | extra[kind]
        summary[kind]["restart_s"] = statistics.median(r.to_ping_s for r in restarts[kind])
        summary[kind]["restart_rss_mb"] = statistics.median(r.rss for r in restarts[kind]) / MB
    table, goals = format_table(summary)
    print()
    print(table)
    info["loadavg_end"] = loadavg()
    print(f"\n# total {time.perf_counter() - t_start:.0f} s; load average {info['loadavg_end']}")
    if args.json:
        doc = {
            "machine": info,
            "options": vars(args),
            "summary": summary,
            "goals": goals,
            "samples": {
                kind: {
                    "no_writes": [_sample_doc(s) for s in idle[kind]],
                    "writes": [_sample_doc(s) for s in loaded[kind]],
                    "restart": [asdict(r) for r in restarts[kind]],
                }
                for kind in SERVERS
            },
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _sample_doc(s: SaveSample) -> dict[str, Any]:
    d = asdict(s)
    pings = sorted(d.pop("pings"))
    d |= {
        "cow_pct": s.cow_pct,
        "pings": len(pings),
        "ping_p50_ms": percentile(pings, 50),
        "ping_p99_ms": percentile(pings, 99),
        "ping_max_ms": pings[-1] if pings else None,
    }
    return d


if __name__ == "__main__":
    sys.exit(main())
