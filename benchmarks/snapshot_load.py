"""What a fork snapshot costs while the server is busy: copy-on-write, latency, throughput.

One run, per server (minikv, and with ``--compare-redis`` a redis-server from PATH started with
the same settings and ``--save ""``; or the server at ``--host/--port``):

1. load ``--keys`` keys ``key:0..`` of ``--value-size`` bytes (DEBUG POPULATE, or pipelined
   MSETs where DEBUG is disabled); with ``--type hash|set|list|zset`` collections of 4 members of
   ``--value-size``/4 bytes instead, ``--type mix`` the five types in turn by key number
   (pipelined HSET/SADD/RPUSH/ZADD/SET);
2. start ``--write-clients`` writer processes overwriting random existing keys (pipelines of
   ``--batch`` SETs; with ``--type``, writes that modify a key of its type in place: HSET of an
   existing field, SADD+SREM of one member, LSET, ZADD of a new score; ``--write-rate`` caps the
   total writes/s, 0 means no writers) and one latency
   probe (one PING at a time, ``--probe-interval`` ms apart), and an INFO sampler thread
   (``INFO persistence stats memory`` every ``--sample-interval`` s, plus the fork child's
   Private_Dirty from /proc when the server is local);
3. after ``--before`` seconds of steady load, BGSAVE; keep the load on until the save is over
   and ``--duration`` seconds have passed since the load started;
4. SHUTDOWN NOSAVE, start the server again on its snapshot and time it until PING answers.

A live view (``rich`` if installed, else a line per second) shows the phase, the save's progress,
COW so far, write ops/s and the probe's p99. ``--out DIR`` gets ``report.json`` (config, one
record per server with its time series in ``samples``), ``report.md`` (the servers side by side)
and ``report.png`` (matplotlib, if installed: COW, probe latency and write throughput over time,
both servers on the same axes, the save shaded).

``--sweep`` instead repeats step 2-3 (no restart) for every write rate in ``--sweep-rates`` and
value size in ``--sweep-sizes`` and writes ``sweep.json``, ``sweep.md`` and ``sweep.png`` (COW %
of RSS against the write rate achieved during the save, per server and value size).

Clients stay off the servers' CPU where there are two or more CPUs: the server processes (and so
their fork children) are pinned to the first CPU (two with 4+), this harness and its helper
processes to the others (``--no-pin`` turns it off).

    python benchmarks/snapshot_load.py --keys 1000000 --value-size 100 --compare-redis
    python benchmarks/snapshot_load.py --keys 200000 --compare-redis --sweep --duration 5
    python benchmarks/snapshot_load.py --keys 200000 --type mix --compare-redis
    python benchmarks/snapshot_load.py --host 127.0.0.1 --port 6379 --keys 100000
    python benchmarks/snapshot_load.py --keys 200000 --compare-redis --fork-op bgrewriteaof

``--fork-op bgrewriteaof`` measures an AOF rewrite instead of a BGSAVE (both servers then run
with ``appendonly yes``, ``--appendfsync`` policy, default everysec, and no automatic rewrite);
``--appendfsync`` alone runs the BGSAVE with the AOF on (no restart is timed then: the AOF would
miss the DEBUG POPULATE keys).

Needs redis-py; ``pip install '.[bench]'`` adds rich and matplotlib. Machinery: ``common.py``.
Exit status: 0 on success, 1 if a save failed or a reply was wrong, 2 if a server did not start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import (
    LIVE_COUNT,
    LIVE_MAX_MS,
    LIVE_P99_MS,
    MB,
    BenchError,
    Helper,
    InfoSampler,
    Server,
    ServerStartError,
    check_types,
    cpu_layout,
    element_size,
    loadavg,
    machine_info,
    now_ns,
    percentile,
    pin,
    pinger_main,
    populate_typed,
    start_bgsave,
    typed_writer_main,
)

COLORS = {"minikv": "tab:blue", "redis": "tab:red"}
# Width of the time-series bins for probe latency and write throughput: under full write load
# a PING takes ~5 ms, so a 100 ms bin holds too few for a p99 (INFO is sampled every 100 ms).
BIN_S = 0.25


@dataclass
class RunConfig:
    keys: int
    value_size: int
    write_clients: int
    write_rate: int | None  # total SET/s; None: as fast as the writers go; 0: no writers
    duration: float
    before: float
    batch: int
    probe_interval_ms: float
    sample_interval: float
    save_timeout: float
    type: str = "string"  # of every key (mix: the five types in turn), and so of the writes
    fork_op: str = "bgsave"  # or "bgrewriteaof" (the servers then run with appendonly yes)


# --- the live view -------------------------------------------------------------------------------


# How the writers modify a key of each type (see common.typed_writer_main).
WRITES = {
    "string": "SET",
    "hash": "HSET of an existing field",
    "set": "SADD+SREM of one member",
    "list": "LSET",
    "zset": "ZADD of a new score",
}


def op_name(kind: str | None) -> str:
    """What a write is called in the labels: SET for strings, else "ops" (HSET, LSET, ...)."""
    return "SET" if kind in (None, "string") else "ops"


def fmt_bytes(n: float | None) -> str:
    return "-" if n is None else f"{n / MB:,.1f} MB"


def fmt_num(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def live_rows(state: dict[str, Any]) -> list[tuple[str, str]]:
    """The live view's lines as (label, value), from the running state of one server."""
    total = state.get("save_keys_total") or 0
    done = state.get("save_keys_processed") or 0
    progress = f"{done:,} / {total:,} keys ({state.get('fork_perc') or 0:.0f} %)" if total else "-"
    rss = state.get("rss_bytes")
    cow = state.get("cow_bytes")
    cow_pct = f" ({100 * cow / rss:.1f} % of RSS)" if cow and rss else ""
    return [
        ("server", f"{state.get('server', '?')} (port {state.get('port', '?')})"),
        ("phase", f"{state.get('phase', '?')}  {state.get('elapsed', 0.0):.1f} s"),
        ("save progress", progress),
        ("COW (INFO current_cow_size)", fmt_bytes(cow) + cow_pct),
        ("COW (child Private_Dirty)", fmt_bytes(state.get("child_private_dirty_bytes"))),
        ("RSS", fmt_bytes(rss)),
        (f"write {op_name(state.get('type'))}/s (clients)", fmt_num(state.get("write_rate"))),
        ("ops/s (INFO)", fmt_num(state.get("ops_per_sec"))),
        (
            "probe p99 / max (last 0.5 s)",
            f"{fmt_num(state.get('p99_ms'), '.2f')} / {fmt_num(state.get('max_ms'), '.2f')} ms",
        ),
    ]


def render_rich(state: dict[str, Any]) -> Any:
    from rich.table import Table

    title = f"snapshot under load: {state.get('type', 'string')} keys"
    table = Table(title=title, show_header=False, min_width=60)
    table.add_column(style="bold")
    table.add_column()
    for label, value in live_rows(state):
        table.add_row(label, value)
    return table


class LiveView:
    """Shows the running state: a rich Live table, or (no rich, ``--no-live``) a line a second."""

    def __init__(self, enabled: bool) -> None:
        self.live: Any = None
        self._last_line = 0.0
        if enabled:
            try:
                from rich.live import Live
            except ImportError:
                print("# rich is not installed: plain progress lines instead of the live view")
            else:
                self.live = Live(render_rich({}), refresh_per_second=4, transient=False)
                self.live.start()

    def update(self, state: dict[str, Any]) -> None:
        if self.live is not None:
            self.live.update(render_rich(state))
        elif time.monotonic() - self._last_line >= 1.0:
            self._last_line = time.monotonic()
            print("  " + ", ".join(f"{k}: {v}" for k, v in live_rows(state)[1:]), flush=True)

    def log(self, line: str) -> None:
        """A finished step: printed above the live table (which keeps only the running one)."""
        if self.live is not None:
            self.live.console.print(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


# --- one run against one server ------------------------------------------------------------------


def _window_rate(done: list[Any], batch: int, t0: int, t1: int) -> float | None:
    """SET/s completed in [t0, t1) by writers whose batch completion times are ``done``."""
    if t1 <= t0:
        return None
    n = sum(1 for d in done for t in d if t0 <= t < t1)
    return n * batch / ((t1 - t0) / 1e9)


def _latency(rtts_ms: list[float]) -> dict[str, float | None]:
    s = sorted(rtts_ms)
    if not s:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    return {"p50": percentile(s, 50), "p99": percentile(s, 99), "max": s[-1], "n": len(s)}


def _bins(t_origin: int, t_from: int, t_to: int) -> list[int]:
    """Edges (ns) of the whole BIN_S bins between t_from and t_to, aligned to t_origin (the
    BGSAVE), so that no bin is cut short at either end."""
    step = int(BIN_S * 1e9)
    first = t_origin + math.ceil((t_from - t_origin) / step) * step
    return list(range(first, t_to + 1, step))


def time_series(
    t_origin: int,
    t_from: int,
    t_to: int,
    info: list[dict[str, Any]],
    done: list[Any],
    batch: int,
    sent: Any,
    rtt: Any,
) -> dict[str, Any]:
    """The samples behind the plot; ``t`` is seconds from the BGSAVE (bins: their start)."""
    rel = 1e9
    edges = _bins(t_origin, t_from, t_to)
    step = edges[1] - edges[0] if len(edges) > 1 else int(BIN_S * 1e9)
    nb = max(0, len(edges) - 1)
    writes = [0] * nb
    for d in done:
        for t in d:
            i = (t - edges[0]) // step
            if 0 <= i < nb:
                writes[i] += batch
    lat: list[list[float]] = [[] for _ in range(nb)]
    for t, r in zip(sent, rtt, strict=True):
        i = (t - edges[0]) // step
        if 0 <= i < nb:
            lat[i].append(r / 1e6)
    info_rows = []
    for s in info:
        if not t_from <= s["t_ns"] <= t_to:
            continue
        row = {k: v for k, v in s.items() if k not in ("t_ns", "t_sent_ns")}
        info_rows.append({"t": round((s["t_ns"] - t_origin) / rel, 4), **row})
    return {
        "bin_seconds": BIN_S,
        "info": info_rows,
        "writes": [
            {"t": round((edges[i] - t_origin) / rel, 4), "ops_per_sec": writes[i] / BIN_S}
            for i in range(nb)
        ],
        "latency": [
            {"t": round((edges[i] - t_origin) / rel, 4)}
            | {f"{k}_ms" if k != "n" else k: v for k, v in _latency(lat[i]).items()}
            for i in range(nb)
        ],
    }


def run_one(
    server: Server,
    cfg: RunConfig,
    view: LiveView,
    client_cpus: set[int] | None,
    restart: bool,
) -> dict[str, Any]:
    """Load, BGSAVE under load, (restart); return the server's record R for report.json."""
    state: dict[str, Any] = {"server": server.kind, "port": server.port, "phase": "starting"}
    state["type"] = cfg.type
    sampler = InfoSampler(server, cfg.sample_interval, on_sample=state.update)
    helpers: list[Helper] = []
    writers: list[Helper] = []
    try:
        sampler.start()
        probe = Helper(
            pinger_main,
            server.host,
            server.port,
            cfg.probe_interval_ms / 1000,
            cpus=client_cpus,
            live=True,
        )
        helpers.append(probe)
        nwriters = 0 if cfg.write_rate == 0 else cfg.write_clients
        for i in range(nwriters):
            rate = cfg.write_rate / nwriters if cfg.write_rate else None
            w = Helper(
                typed_writer_main,
                server.host,
                server.port,
                cfg.keys,
                rate,
                cfg.batch,
                cfg.value_size,
                server.port * 100 + i,  # seed
                cfg.type,
                cpus=client_cpus,
                live=True,
            )
            helpers.append(w)
            writers.append(w)
        return _run_loaded(server, cfg, view, state, sampler, probe, writers, restart)
    finally:
        for h in helpers:
            h.close()
        sampler.close()


def _run_loaded(
    server: Server,
    cfg: RunConfig,
    view: LiveView,
    state: dict[str, Any],
    sampler: InfoSampler,
    probe: Helper,
    writers: list[Helper],
    restart: bool,
) -> dict[str, Any]:
    t_load = now_ns()
    last_rate = (t_load, 0.0)

    def tick(phase: str) -> None:
        nonlocal last_rate
        t = now_ns()
        count = sum(w.live[LIVE_COUNT] for w in writers if w.live is not None)
        if t - last_rate[0] >= 500_000_000:
            state["write_rate"] = (count - last_rate[1]) / ((t - last_rate[0]) / 1e9)
            last_rate = (t, count)
        assert probe.live is not None
        state["p99_ms"] = probe.live[LIVE_P99_MS] or None
        state["max_ms"] = probe.live[LIVE_MAX_MS] or None
        state["phase"] = phase
        state["elapsed"] = (t - t_load) / 1e9
        view.update(state)
        server.check_alive()
        time.sleep(0.05)

    while now_ns() - t_load < cfg.before * 1e9:
        tick("before the save")
    rss = int(server.info("memory")["used_memory_rss"])
    faults0 = server.minor_faults() if server.pid else None
    t_bgsave = now_ns()
    start_bgsave(server, cfg.fork_op)
    busy, status_field, cow_field = (
        ("bgsave_in_progress", "rdb_last_bgsave_status", "rdb_last_cow_size")
        if cfg.fork_op == "bgsave"
        else ("aof_rewrite_in_progress", "aof_last_bgrewrite_status", "aof_last_cow_size")
    )
    t_reply = now_ns()
    deadline = t_reply + cfg.save_timeout * 1e9
    t_done: int | None = None
    while t_done is None:
        # The first sample whose INFO was sent after the BGSAVE reply and shows it finished.
        for s in reversed(sampler.samples):
            if s["t_sent_ns"] <= t_reply:
                break
            if not s[busy]:
                t_done = s["t_ns"]
        if t_done is None:
            if now_ns() > deadline:
                raise BenchError(
                    f"{server.kind}: {cfg.fork_op.upper()} still running after {cfg.save_timeout}s"
                )
            tick("saving")
    faults = server.minor_faults() - faults0 if faults0 is not None else None
    while now_ns() - t_load < cfg.duration * 1e9:
        tick("after the save")
    t_end = now_ns()
    done = [w.finish(1)[0] for w in writers]
    sent, rtt = probe.finish(2)
    info_samples = sampler.stop()
    server.check_alive()
    p = server.info("persistence")
    if p[status_field] != "ok":
        raise BenchError(f"{server.kind}: {status_field}:{p[status_field]}")
    stats = server.info("stats")

    settle = int(min(0.5, cfg.before / 4) * 1e9)  # connections ramping up: not steady yet
    windows = {
        "before": (t_load + settle, t_bgsave),
        "during": (t_bgsave, t_done),
        "after": (t_done, t_end),
    }
    lat = {
        name: [r / 1e6 for t, r in zip(sent, rtt, strict=True) if a <= t < b]
        for name, (a, b) in windows.items()
    }
    peaks = [s["cow_peak_bytes"] for s in info_samples if s["cow_peak_bytes"] is not None]
    cow_peak = max([int(p[cow_field]), *peaks])
    pd = [s["child_private_dirty_bytes"] for s in info_samples]
    pd = [v for v in pd if v is not None]
    snapshot_bytes: int | None = None
    try:
        snapshot_bytes = os.path.getsize(server.snapshot_path())
    except OSError:
        pass  # a remote server: its file is not here
    record: dict[str, Any] = {
        "rss_bytes": rss,
        "fork_usec": int(stats["latest_fork_usec"]),
        "save_seconds": (t_done - t_reply) / 1e9,
        "cow_peak_bytes": cow_peak,
        "cow_pct_of_rss": 100.0 * cow_peak / rss if rss else None,
        "snapshot_bytes": snapshot_bytes,
        "load_seconds": None,
        "write_ops_per_sec_before": _window_rate(done, cfg.batch, *windows["before"])
        if writers
        else 0.0,
        "write_ops_per_sec_during": _window_rate(done, cfg.batch, *windows["during"])
        if writers
        else 0.0,
        "write_ops_per_sec_after": _window_rate(done, cfg.batch, *windows["after"])
        if writers
        else 0.0,
        "latency_ms": {
            name: {k: v for k, v in _latency(lat[name]).items() if k != "n"} for name in windows
        },
        "probe_pings": {name: len(lat[name]) for name in windows},
        "rdb_last_cow_size": int(p["rdb_last_cow_size"]),
        "aof_last_cow_size": int(p.get("aof_last_cow_size", 0)),
        "child_private_dirty_peak_bytes": max(pd) if pd else None,
        "parent_minor_faults_during": faults,
        "keys": int(server.client.dbsize()),
        "write_ops": sum(len(d) for d in done) * cfg.batch,
        "keys_loaded_on_restart": None,
    }
    record["samples"] = time_series(
        t_bgsave, t_load, t_end, info_samples, done, cfg.batch, sent, rtt
    ) | {
        "events": {
            "load_start": round((t_load - t_bgsave) / 1e9, 4),
            "bgsave": 0.0,
            "save_end": round((t_done - t_bgsave) / 1e9, 4),
            "end": round((t_end - t_bgsave) / 1e9, 4),
        }
    }
    if restart and server.managed:
        state["phase"] = "restarting from the snapshot"
        view.update(state)
        nkeys = record["keys"]
        server.shutdown_nosave()
        record["load_seconds"] = server.start()
        loaded = int(server.info("persistence")["rdb_last_load_keys_loaded"])
        record["keys_loaded_on_restart"] = loaded
        if int(server.client.dbsize()) != nkeys or loaded != nkeys:
            raise BenchError(f"{server.kind} after restart: {loaded} keys loaded, expected {nkeys}")
        check_types(server, nkeys, cfg.type)  # the snapshot kept each key's type
    view.log(f"  {server.kind:6} {summary_line(record, cfg.type)}")
    return record


def summary_line(r: dict[str, Any], kind: str = "string") -> str:
    d = r["latency_ms"]["during"]
    return (
        f"fork {r['fork_usec'] / 1000:.1f} ms, save {r['save_seconds']:.2f} s, "
        f"COW peak {fmt_bytes(r['cow_peak_bytes'])} ({fmt_num(r['cow_pct_of_rss'], '.1f')} % of "
        f"RSS {fmt_bytes(r['rss_bytes'])}), {op_name(kind)}/s "
        f"{fmt_num(r['write_ops_per_sec_before'])} before "
        f"{fmt_num(r['write_ops_per_sec_during'])} during, probe p99 during "
        f"{fmt_num(d['p99'], '.2f')} ms"
        + (f", restart {r['load_seconds']:.2f} s" if r.get("load_seconds") is not None else "")
    )


# --- report.md -----------------------------------------------------------------------------------

# (label, getter, format)
ROWS: list[tuple[str, Any, str]] = [
    ("keys", lambda r: r["keys"], ",.0f"),
    ("RSS before BGSAVE (MB)", lambda r: r["rss_bytes"] / MB, ",.1f"),
    ("fork (latest_fork_usec, ms)", lambda r: r["fork_usec"] / 1000, ".2f"),
    ("save: BGSAVE reply -> done (s)", lambda r: r["save_seconds"], ".2f"),
    ("COW peak, server's INFO (MB)", lambda r: r["cow_peak_bytes"] / MB, ",.1f"),
    ("COW peak, % of RSS", lambda r: r["cow_pct_of_rss"], ".1f"),
    (
        "child Private_Dirty peak, sampled (MB)",
        lambda r: _mb(r["child_private_dirty_peak_bytes"]),
        ",.1f",
    ),
    (
        "server minor faults during save (x 4 KiB, MB)",
        lambda r: _mb(_pages(r["parent_minor_faults_during"])),
        ",.1f",
    ),
    ("snapshot file (MB)", lambda r: _mb(r["snapshot_bytes"]), ",.1f"),
    ("restart until PING answers (s)", lambda r: r["load_seconds"], ".2f"),
    ("write SET/s before the save", lambda r: r["write_ops_per_sec_before"], ",.0f"),
    ("write SET/s during the save", lambda r: r["write_ops_per_sec_during"], ",.0f"),
    ("write SET/s after the save", lambda r: r["write_ops_per_sec_after"], ",.0f"),
    *(
        (f"probe {q} {phase} (ms)", (lambda r, p=phase, q=q: r["latency_ms"][p][q]), ".2f")
        for phase in ("before", "during")
        for q in ("p50", "p99", "max")
    ),
    ("probe PINGs during the save", lambda r: r["probe_pings"]["during"], ",.0f"),
]


def _mb(v: float | None) -> float | None:
    return None if v is None else v / MB


def _pages(v: int | None) -> int | None:
    return None if v is None else v * 4096


def markdown_table(servers: dict[str, dict[str, Any]], kind: str = "string") -> str:
    kinds = list(servers)
    ratio = kinds == ["minikv", "redis"]
    head = ["metric", *kinds] + (["minikv/redis"] if ratio else [])
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    for label, get, spec in ROWS:
        vals = []
        for k in kinds:
            try:
                vals.append(get(servers[k]))
            except (KeyError, TypeError):
                vals.append(None)
        cells = [label.replace("SET/s", f"{op_name(kind)}/s"), *(fmt_num(v, spec) for v in vals)]
        if ratio:
            m, r = vals
            cells.append(f"{m / r:.2f}" if m is not None and r else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def config_text(config: dict[str, Any]) -> str:
    rates = (
        config["write_rate"] if isinstance(config["write_rate"], list) else [config["write_rate"]]
    )
    op = op_name(config.get("type", "string"))
    rate_txt = ", ".join(
        "uncapped" if r is None else "none" if r == 0 else f"{r:,} {op}/s" for r in rates
    )
    size = config["value_size"]
    size_txt = ", ".join(map(str, size)) if isinstance(size, list) else str(size)
    layout = config["cpu_layout"]
    pin_txt = (
        f"servers on CPU {layout['server_cpus']}, clients on CPU {layout['client_cpus']}"
        if layout
        else "no CPU pinning"
    )
    kind = config.get("type", "string")  # reports from before --type: strings
    if kind == "string":
        keys_txt = f"{config['keys']:,} keys x {size_txt} B"
    else:
        sizes = size if isinstance(size, list) else [size]
        elem = ", ".join(str(element_size(v)) for v in sizes)
        what = "the five types in turn, strings of {} B and " if kind == "mix" else ""
        keys_txt = (
            f"{config['keys']:,} keys of type {kind} ({what.format(size_txt)}"
            f"collections of 4 members of {elem} B; writes modify keys in place: "
            + ", ".join(w for t, w in WRITES.items() if kind in ("mix", t))
            + ")"
        )
    return (
        f"{config['date']} - {keys_txt}, "
        f"{config['write_clients']} write clients ({rate_txt}, batches of {config['batch']}), "
        f"probe every {config['probe_interval_ms']} ms, BGSAVE after {config['before']} s, "
        f"{config['duration']} s in all; {pin_txt}; {config['machine']['nproc']} CPUs "
        f"({config['machine']['cpu_model']}), Python {config['machine']['python']}, "
        f"{config['machine']['redis-server']}\n\n`{config['command']}`"
    )


def write_report(out: Path, config: dict[str, Any], servers: dict[str, Any]) -> list[str]:
    """report.json, report.md and (matplotlib permitting) report.png; returns notes."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {"config": config, "servers": servers}
    (out / "report.json").write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")
    table = markdown_table(servers, config.get("type", "string"))
    md = f"# Snapshot under write load\n\n{config_text(config)}\n\n{table}\n"
    notes = []
    if plot_report(servers, out / "report.png", title=_plot_title(config)):
        md += "\n![COW, latency and throughput over time](report.png)\n"
    else:
        notes.append("matplotlib is not installed: no report.png")
    (out / "report.md").write_text(md)
    return notes


def _json_default(o: Any) -> Any:
    raise TypeError(f"not JSON serializable: {o!r}")


def _plot_title(config: dict[str, Any]) -> str:
    rate = config["write_rate"]
    rate_txt = "max" if rate is None else f"{rate:,}"
    kind = config.get("type", "string")
    return (
        f"{config['keys']:,} {'' if kind == 'string' else kind + ' '}keys x "
        f"{config['value_size']} B, {config['write_clients']} writers "
        f"(target {op_name(kind)}/s: {rate_txt}), {config['date'][:10]}"
    )


# --- plots ---------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_report(servers: dict[str, Any], path: Path, title: str) -> bool:
    """COW, probe latency and write throughput against time from the BGSAVE; False: no plot."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, (ax_cow, ax_lat, ax_ops) = plt.subplots(3, 1, figsize=(9, 8.5), sharex=True)
    for kind, r in servers.items():
        color = COLORS.get(kind, "tab:green")
        smp = r["samples"]
        ev = smp["events"]
        for ax in (ax_cow, ax_lat, ax_ops):
            ax.axvspan(0, ev["save_end"], color=color, alpha=0.10, lw=0)
            ax.axvline(ev["save_end"], color=color, lw=0.8, ls=":")
        info = smp["info"]
        t = [s["t"] for s in info]
        ax_cow.step(
            t,
            [(s["cow_bytes"] or 0) / MB for s in info],
            where="post",
            color=color,
            label=f"{kind}: INFO current_cow_size",
        )
        pd = [
            (s["t"], s["child_private_dirty_bytes"] / MB)
            for s in info
            if s["child_private_dirty_bytes"] is not None
        ]
        if pd:
            ax_cow.plot(
                *zip(*pd, strict=True),
                ".",
                color=color,
                ms=4,
                label=f"{kind}: child Private_Dirty (sampled)",
            )
        ax_cow.plot(
            [ev["save_end"]],
            [r["cow_peak_bytes"] / MB],
            "*",
            color=color,
            ms=10,
            label=f"{kind}: COW peak {r['cow_pct_of_rss']:.1f} % of RSS",
        )
        lat = [(b["t"] + BIN_S / 2, b["p99_ms"]) for b in smp["latency"] if b["p99_ms"]]
        if lat:
            ax_lat.plot(*zip(*lat, strict=True), color=color, lw=1, label=f"{kind}: p99")
        mx = [(b["t"] + BIN_S / 2, b["max_ms"]) for b in smp["latency"] if b["max_ms"]]
        if mx:
            ax_lat.plot(
                *zip(*mx, strict=True),
                color=color,
                lw=0.6,
                ls="--",
                alpha=0.6,
                label=f"{kind}: max",
            )
        ops = [(b["t"] + BIN_S / 2, b["ops_per_sec"] / 1000) for b in smp["writes"]]
        if ops:
            ax_ops.plot(*zip(*ops, strict=True), color=color, lw=1, label=f"{kind}: SET/s")
    ax_cow.set_ylabel("copy-on-write (MB)")
    ax_cow.set_title(title, fontsize=10)
    ax_lat.set_ylabel(f"PING round trip (ms)\nper {BIN_S * 1000:.0f} ms")
    ax_lat.set_ylim(bottom=0)
    ax_ops.set_ylabel("writes completed\n(thousand SET/s)")
    ax_ops.set_xlabel("seconds from BGSAVE (shaded: save running, until INFO shows it done)")
    ax_ops.set_ylim(bottom=0)
    for ax in (ax_cow, ax_lat, ax_ops):
        ax.grid(alpha=0.3)
        ax.axvline(0, color="black", lw=0.8)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def plot_sweep(runs: list[dict[str, Any]], path: Path, title: str) -> bool:
    """COW % of RSS against the write rate achieved during the save (left) and against the
    writes that landed during the save per key (right), per server and value size."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    styles = ["-", "--", ":", "-."]
    sizes = sorted({r["value_size"] for r in runs})
    markers = "osD^v"
    for kind in dict.fromkeys(r["server"] for r in runs):
        for i, size in enumerate(sizes):
            mine = [r for r in runs if r["server"] == kind and r["value_size"] == size]
            style = {
                "ls": styles[i % len(styles)],
                "marker": markers[i % len(markers)],
                "color": COLORS.get(kind, "tab:green"),
                "label": f"{kind}, {size} B values",
            }
            pts = sorted((r["write_ops_per_sec_during"] / 1000, r["cow_pct_of_rss"]) for r in mine)
            if pts:
                ax.plot(*zip(*pts, strict=True), **style)
            pts = sorted((writes_per_key(r), r["cow_pct_of_rss"]) for r in mine)
            if pts:
                ax2.plot(*zip(*pts, strict=True), **style)
    ax.set_xlabel("writes completed during the save (thousand SET/s)")
    ax2.set_xlabel("SETs completed during the save / keys in the dataset")
    ax.set_ylabel("copy-on-write peak, % of RSS")
    ax.set_ylim(bottom=0)
    for a in (ax, ax2):
        a.set_xlim(left=0)
        a.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle(title + " - random existing keys overwritten", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


# --- main ----------------------------------------------------------------------------------------


def parse_rate(text: str) -> int | None:
    """A write rate: a number of SET/s, 0 (no writers) or max/none (uncapped: None)."""
    t = text.strip().lower().replace("_", "")
    if t in ("max", "none", "uncapped"):
        return None
    mult = 1
    if t.endswith("k"):
        t, mult = t[:-1], 1000
    return int(float(t) * mult)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--compare-redis", action="store_true", help="also run a fresh redis-server")
    p.add_argument("--host", help="use the server running here instead of starting minikv")
    p.add_argument("--port", type=int, help="its port (with --host; default 6379)")
    p.add_argument("--keys", type=int, default=1_000_000, help="keys to load (default 1M)")
    p.add_argument("--value-size", type=int, default=100, help="value bytes (default 100)")
    p.add_argument(
        "--type",
        choices=("string", "hash", "set", "list", "zset", "mix"),
        default="string",
        help="type of the keys loaded and written (default string); collections have 4 "
        "members of --value-size/4 B; mix: the five types in turn",
    )
    p.add_argument("--write-clients", type=int, default=4, help="writer connections (default 4)")
    p.add_argument(
        "--write-rate",
        type=parse_rate,
        default=None,
        help="total SET/s cap over all writers: a number (10k ok), 0 = no writers, "
        "max = uncapped (default)",
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    p.add_argument(
        "--before",
        type=float,
        default=None,
        help="seconds of steady load before BGSAVE (default: a quarter of --duration, <= 5)",
    )
    p.add_argument("--batch", type=int, default=100, help="SETs per pipelined write")
    p.add_argument(
        "--probe-interval", type=float, default=1.0, help="ms between probe PINGs (default 1)"
    )
    p.add_argument("--sample-interval", type=float, default=0.1, help="INFO period (s)")
    p.add_argument("--save-timeout", type=float, default=300.0, help="give up on a save (s)")
    p.add_argument("--out", default="snapshot-load-report", help="report directory")
    p.add_argument("--no-live", action="store_true", help="progress lines, not the live view")
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and clients to CPUs")
    p.add_argument("--no-restart", action="store_true", help="skip the restart (load_seconds)")
    p.add_argument(
        "--server-config",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="CONFIG SET this on every server before loading (repeatable), e.g. "
        "rdb-key-save-delay=100 to stretch the save",
    )
    p.add_argument(
        "--replot",
        action="store_true",
        help="only rewrite the .md and .png in --out from its report.json / sweep.json",
    )
    p.add_argument(
        "--fork-op",
        choices=("bgsave", "bgrewriteaof"),
        default="bgsave",
        help="the fork measured: a snapshot, or an AOF rewrite (sets appendonly yes)",
    )
    p.add_argument(
        "--appendfsync",
        choices=("always", "everysec", "no"),
        help="run both servers with appendonly yes and this fsync policy",
    )
    p.add_argument("--sweep", action="store_true", help="repeat over write rates x value sizes")
    p.add_argument(
        "--sweep-rates",
        default="0,10k,50k,max",
        help="write rates for --sweep (default 0,10k,50k,max)",
    )
    p.add_argument("--sweep-sizes", default="16,100,1000", help="value sizes for --sweep")
    args = p.parse_args(argv)
    if args.port is not None and args.host is None:
        args.host = "127.0.0.1"
    if args.host is not None and args.port is None:
        args.port = 6379
    if args.before is None:
        args.before = max(0.5, min(5.0, args.duration / 4))
    if args.before >= args.duration:
        p.error("--before must be shorter than --duration")
    return args


def run_config(args: argparse.Namespace, value_size: int, rate: int | None) -> RunConfig:
    return RunConfig(
        keys=args.keys,
        value_size=value_size,
        write_clients=args.write_clients,
        write_rate=rate,
        duration=args.duration,
        before=args.before,
        batch=args.batch,
        probe_interval_ms=args.probe_interval,
        sample_interval=args.sample_interval,
        save_timeout=args.save_timeout,
        type=args.type,
        fork_op=args.fork_op,
    )


def server_args(args: argparse.Namespace) -> list[str]:
    """The append-only file settings both servers run with."""
    if args.fork_op != "bgrewriteaof" and not args.appendfsync:
        return []
    # No automatic rewrite: the writers grow the log fast, and one would race the measured fork.
    return [
        "--appendonly",
        "yes",
        "--appendfsync",
        args.appendfsync or "everysec",
        "--auto-aof-rewrite-percentage",
        "0",
    ]


def config_doc(args: argparse.Namespace, cfg: RunConfig, layout: Any) -> dict[str, Any]:
    return {
        **asdict(cfg),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["python", "benchmarks/snapshot_load.py", *sys.argv[1:]]),
        "compare_redis": args.compare_redis,
        "target": f"{args.host}:{args.port}" if args.host else None,
        "cpu_layout": None
        if layout is None
        else {"server_cpus": sorted(layout[0]), "client_cpus": sorted(layout[1])},
        "machine": machine_info(),
        "loadavg_start": loadavg(),
    }


class Servers:
    """The servers of a run: started fresh (minikv, redis) or the one at --host/--port."""

    def __init__(self, args: argparse.Namespace, workdir: str, cpus: set[int] | None) -> None:
        self.servers: dict[str, Server] = {}
        try:
            if args.host:
                ext = Server.external("minikv", args.host, args.port)
                text = ext.client.execute_command("INFO", "server")
                ext.kind = "minikv" if "minikv_version" in text else "redis"
                self.servers[ext.kind] = ext
            else:
                self.servers["minikv"] = Server("minikv", workdir, cpus, server_args(args))
            if args.compare_redis:
                if "redis" in self.servers:
                    raise ServerStartError("--host/--port is a redis-server: drop --compare-redis")
                self.servers["redis"] = Server("redis", workdir, cpus, server_args(args))
            for s in self.servers.values():
                if s.managed:
                    s.start()
                for item in args.server_config:
                    name, _, value = item.partition("=")
                    s.client.config_set(name, value)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for s in self.servers.values():
            if s.managed:
                s.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        try:
            notes = replot(Path(args.out))
        except BenchError as e:
            print(e, file=sys.stderr)
            return 1
        for n in notes:
            print(f"# {n}")
        return 0
    layout = None if args.no_pin else cpu_layout()
    if layout is not None:
        pin(0, layout[1])  # this harness (and so the helpers it spawns) off the servers' CPUs
    out = Path(args.out)
    view = LiveView(enabled=not args.no_live)
    try:
        with tempfile.TemporaryDirectory(prefix="minikv-snapload-") as workdir:
            if args.sweep:
                notes = sweep(args, workdir, layout, view)
            else:
                notes = single(args, workdir, layout, view)
    except ServerStartError as e:
        view.close()
        print(f"server failed: {e}", file=sys.stderr)
        return 2
    except BenchError as e:
        view.close()
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 1
    view.close()
    for n in notes:
        print(f"# {n}")
    print(f"# report in {out}/")
    return 0


def single(args: argparse.Namespace, workdir: str, layout: Any, view: LiveView) -> list[str]:
    server_cpus, client_cpus = layout if layout else (None, None)
    cfg = run_config(args, args.value_size, args.write_rate)
    config = config_doc(args, cfg, layout)
    servers = Servers(args, workdir, server_cpus)
    records: dict[str, Any] = {}
    try:
        for kind, s in servers.servers.items():
            secs = populate_typed(s, args.keys, args.value_size, args.type)
            view.log(
                f"  {kind:6} loaded {args.keys:,} {args.type} keys x {args.value_size} B "
                f"in {secs:.2f} s"
            )
        for kind, s in servers.servers.items():
            # A restart with appendonly yes loads the AOF, which holds the DEBUG POPULATE keys
            # only after a rewrite: with a BGSAVE there is nothing comparable to time.
            restart = not args.no_restart and (
                cfg.fork_op == "bgrewriteaof" or not args.appendfsync
            )
            records[kind] = run_one(s, cfg, view, client_cpus, restart=restart)
    finally:
        servers.stop()
    config["loadavg_end"] = loadavg()
    view.close()
    notes = write_report(Path(args.out), config, records)
    print(markdown_table(records, args.type))
    return notes


def sweep(args: argparse.Namespace, workdir: str, layout: Any, view: LiveView) -> list[str]:
    server_cpus, client_cpus = layout if layout else (None, None)
    rates = [parse_rate(r) for r in args.sweep_rates.split(",") if r.strip()]
    sizes = [int(s) for s in args.sweep_sizes.split(",") if s.strip()]
    config = config_doc(args, run_config(args, sizes[0], rates[0]), layout)
    config |= {"value_size": sizes, "write_rate": rates}
    runs: list[dict[str, Any]] = []
    for size in sizes:
        # Fresh servers per value size: RSS (the COW denominator) must not carry old data.
        servers = Servers(args, os.path.join(workdir, f"v{size}"), server_cpus)
        try:
            for s in servers.servers.values():
                if not s.managed:
                    s.client.flushall()
                populate_typed(s, args.keys, size, args.type)
            for rate in rates:
                cfg = run_config(args, size, rate)
                # minikv and redis alternate per point, so drifting machine load hits both.
                for kind, s in servers.servers.items():
                    view.log(f"# {args.type}, {size} B values, write rate {_rate_txt(rate)}:")
                    r = run_one(s, cfg, view, client_cpus, restart=False)
                    r.pop("samples")
                    runs.append(
                        {"server": kind, "value_size": size, "write_rate_target": rate, **r}
                    )
        finally:
            servers.stop()
    config["loadavg_end"] = loadavg()
    view.close()
    notes = write_sweep(Path(args.out), config, runs)
    print(sweep_table(runs, args.type))
    return notes


def write_sweep(out: Path, config: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    """sweep.json, sweep.md and (matplotlib permitting) sweep.png; returns notes."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"config": config, "runs": runs}, indent=1) + "\n")
    table = sweep_table(runs, config.get("type", "string"))
    md = f"# Snapshot COW against write rate\n\n{config_text(config)}\n\n{table}\n"
    notes = []
    title = (
        f"{config['keys']:,} keys, {config['write_clients']} writers, {config['duration']} s "
        f"per point, {config['date'][:10]}"
    )
    if plot_sweep(runs, out / "sweep.png", title):
        md += "\n![COW % of RSS against write rate](sweep.png)\n"
    else:
        notes.append("matplotlib is not installed: no sweep.png")
    (out / "sweep.md").write_text(md)
    return notes


def replot(out: Path) -> list[str]:
    """Rewrite the .md and .png of the reports in ``out`` from their .json (e.g. after
    installing matplotlib, or after changing the plots)."""
    notes: list[str] = []
    found = False
    if (out / "report.json").exists():
        doc = json.loads((out / "report.json").read_text())
        notes += write_report(out, doc["config"], doc["servers"])
        found = True
    if (out / "sweep.json").exists():
        doc = json.loads((out / "sweep.json").read_text())
        notes += write_sweep(out, doc["config"], doc["runs"])
        found = True
    if not found:
        raise BenchError(f"no report.json or sweep.json in {out}")
    return notes


def writes_per_key(r: dict[str, Any]) -> float:
    """SETs that landed while the save ran, per key: what decides how many pages get copied."""
    return (r["write_ops_per_sec_during"] or 0) * r["save_seconds"] / r["keys"]


def _rate_txt(rate: int | None) -> str:
    return "max" if rate is None else f"{rate:,}"


def sweep_table(runs: list[dict[str, Any]], kind: str = "string") -> str:
    head = (
        "| value size | target SET/s | server | SET/s during save | save (s) | COW peak (MB) | "
        "COW % of RSS | RSS (MB) | SETs during save / keys | probe p99 during (ms) |"
    )
    head = head.replace("SET/s", f"{op_name(kind)}/s").replace("SETs", f"{op_name(kind)}")
    lines = [head, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(
            f"| {r['value_size']} | {_rate_txt(r['write_rate_target'])} | {r['server']} | "
            f"{fmt_num(r['write_ops_per_sec_during'])} | {r['save_seconds']:.2f} | "
            f"{r['cow_peak_bytes'] / MB:,.1f} | {fmt_num(r['cow_pct_of_rss'], '.1f')} | "
            f"{r['rss_bytes'] / MB:,.0f} | {writes_per_key(r):.2f} | "
            f"{fmt_num(r['latency_ms']['during']['p99'], '.2f')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
