"""The text of INFO: Redis 7's sections and field names, filled from the server's state.

Each section is a function ``(server) -> list of "name:value" lines``; ``generate`` picks the
sections a request names (``default``, ``all``, ``everything`` or names) and joins them with
Redis's ``# Section`` headers and ``\\r\\n`` line ends. Fields minikv has no counterpart for
(jemalloc arenas, TLS, io-threads) are either left out or report Redis's "feature off" value.

Values owned by other parts of the server (snapshot state, blocked clients) are read with
``getattr`` and honest defaults, so INFO works before those parts exist.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minikv import REDIS_VERSION, __version__, fastpath, migrate
from minikv.commands import Command, iter_commands
from minikv.connection import Client
from minikv.cow import bytes_to_human
from minikv.latency import format_percentiles
from minikv.persistence.snapshot import AOF_CHILD

if TYPE_CHECKING:
    from minikv.server import Server

Lines = list[str]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


# used_memory is minikv.eviction's count: the anonymous resident memory at startup plus what
# the data and the clients hold (see that module for how it is counted and how close it is to
# tracemalloc's count). CPython's allocator gives no figures of its own, so the allocator_*
# fields are: allocated = used_memory, active = resident = the process's anonymous resident
# memory (RssAnon: heap and pymalloc arenas, the pages the allocator holds); used_memory_rss is
# the whole resident set (code and mapped files too).


class Metrics:
    """Per-server INFO state that is not a plain counter: peak memory, the replication id, and
    instantaneous_ops_per_sec, sampled every 100 ms over the last 16 samples as Redis does."""

    SAMPLES = 16
    PERIOD = 0.1

    def __init__(self, server: Server) -> None:
        self.server = server
        self.replid = os.urandom(20).hex()
        self._ops: list[float] = []
        # Bytes per second in and out, sampled alike (instantaneous_input_kbps...).
        self._net_in: list[float] = []
        self._net_out: list[float] = []
        self._last_time = time.monotonic()
        self._last_calls = total_calls()
        self._last_in = server.stats.total_net_input_bytes
        self._last_out = server.stats.total_net_output_bytes
        self._started = False

    def start(self) -> None:
        """Begin sampling on the server's loop (idempotent; needs a running loop)."""
        if self._started or self.server.loop is None:
            return
        self._started = True
        self.server.loop.call_later(self.PERIOD, self._sample)

    def _sample(self) -> None:
        now = time.monotonic()
        calls = total_calls()
        dt = now - self._last_time
        st = self.server.stats
        net_in, net_out = st.total_net_input_bytes, st.total_net_output_bytes
        if dt > 0:
            for samples, rate in (
                (self._ops, calls - self._last_calls),
                (self._net_in, net_in - self._last_in),
                (self._net_out, net_out - self._last_out),
            ):
                samples.append(max(0, rate) / dt)
                del samples[: -self.SAMPLES]
        self._last_time, self._last_calls = now, calls
        self._last_in, self._last_out = net_in, net_out
        self.server.loop.call_later(self.PERIOD, self._sample)  # type: ignore[union-attr]

    def ops_per_sec(self) -> int:
        return int(sum(self._ops) / len(self._ops)) if self._ops else 0

    def kbps(self, output: bool) -> float:
        samples = self._net_out if output else self._net_in
        return sum(samples) / len(samples) / 1024 if samples else 0.0

    def reset(self) -> None:
        self._ops.clear()
        self._net_in.clear()
        self._net_out.clear()
        self._last_calls = total_calls()
        self._last_in = self.server.stats.total_net_input_bytes
        self._last_out = self.server.stats.total_net_output_bytes


def metrics(server: Server) -> Metrics:
    m = getattr(server, "info_metrics", None)
    if m is None:
        m = Metrics(server)
        server.info_metrics = m  # type: ignore[attr-defined]
    m.start()
    return m


def all_commands() -> list[Command]:
    """Top-level commands followed by their subcommands, in table order."""
    out = []
    for cmd in iter_commands():
        out.append(cmd)
        out.extend(cmd.subcommands.values())
    return out


def total_calls() -> int:
    # Counted here, at INFO time, rather than on every request: the table already counts calls.
    return sum(cmd.calls for cmd in all_commands())


# --- sections --------------------------------------------------------------------------------


def _server(s: Server) -> Lines:
    uptime = int(s.uptime())
    u = platform.uname()
    return [
        f"redis_version:{REDIS_VERSION}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        "redis_mode:standalone",
        f"os:{u.system} {u.release} {u.machine}",
        f"arch_bits:{64 if sys.maxsize > 2**32 else 32}",
        "monotonic_clock:POSIX clock_gettime",
        f"multiplexing_api:{type(s.loop).__module__.split('.')[0] if s.loop else 'asyncio'}",
        f"process_id:{os.getpid()}",
        "process_supervised:no",
        f"run_id:{s.run_id}",
        f"tcp_port:{s.config.port or (s.ports[0] if s.ports else 0)}",
        f"server_time_usec:{time.time_ns() // 1000}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{s.config.hz}",
        f"configured_hz:{s.config.hz}",
        f"lru_clock:{int(time.time()) & ((1 << 24) - 1)}",
        f"executable:{os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''}",
        f"config_file:{s.config.config_file}",
        "io_threads_active:0",
        f"minikv_version:{__version__}",
        f"minikv_compiled:{int(fastpath.COMPILED)}",
        f"minikv_compiled_requests:{fastpath.compiled_requests()}",
        f"python_version:{platform.python_version()}",
    ]


def _clients(s: Server) -> Lines:
    # Clients held by CLIENT PAUSE count as blocked, as in Redis (BLOCKED_POSTPONE).
    # Connections only: the replica's link to its primary is listed too, with no buffers of
    # its own here (minikv.replication.link.MasterClient).
    clients = [c for c in s.clients.values() if isinstance(c, Client)]
    blocked = sum(1 for c in clients if c.blocked is not None or c.pause_wait)
    timeouts = sum(1 for c in clients if c.blocked is not None and c.blocked.timer is not None)
    inputs = [c.parser.pending() for c in clients]
    outputs = [c.transport.get_write_buffer_size() for c in clients if c.transport is not None]
    return [
        f"connected_clients:{len(s.clients)}",
        "cluster_connections:0",
        f"maxclients:{s.config.maxclients}",
        # The largest query and output buffers now (Redis: the largest of the last seconds).
        f"client_recent_max_input_buffer:{max(inputs, default=0)}",
        f"client_recent_max_output_buffer:{max(outputs, default=0)}",
        f"blocked_clients:{blocked}",
        f"tracking_clients:{s.tracking.tracking_clients}",
        f"clients_in_timeout_table:{timeouts}",
    ]


def memory_figures(s: Server) -> dict[str, int]:
    """The figures INFO memory and MEMORY STATS share (bytes): minikv.eviction's."""
    aof = len(s.aof.buf) if getattr(s, "aof", None) is not None else 0
    scripts = s.scripts.cache_bytes + s.scripts.functions.cache_bytes
    return s.keyspace.memory.figures(aof, scripts)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _memory(s: Server) -> Lines:
    f = memory_figures(s)
    mem = s.keyspace.memory
    used, rss, anon, peak = f["used"], f["rss"], f["anon"], f["peak"]
    dataset, startup = f["dataset"], f["startup"]
    net = used - startup
    system = total_system_memory()
    lua = s.scripts.memory
    vm_functions = s.scripts.functions_memory
    vm_total = lua + vm_functions
    functions = s.scripts.functions
    scripts = f["scripts"]
    return [
        f"used_memory:{used}",
        f"used_memory_human:{bytes_to_human(used)}",
        f"used_memory_rss:{rss}",
        f"used_memory_rss_human:{bytes_to_human(rss)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{bytes_to_human(peak)}",
        f"used_memory_peak_perc:{100.0 * _ratio(used, peak):.2f}%",
        f"used_memory_overhead:{f['overhead']}",
        f"used_memory_startup:{startup}",
        f"used_memory_dataset:{dataset}",
        f"used_memory_dataset_perc:{100.0 * _ratio(dataset, net):.2f}%",
        f"allocator_allocated:{used}",
        f"allocator_active:{anon}",
        f"allocator_resident:{anon}",
        f"total_system_memory:{system}",
        f"total_system_memory_human:{bytes_to_human(system)}",
        f"used_memory_lua:{lua}",
        f"used_memory_vm_eval:{lua}",
        f"used_memory_lua_human:{bytes_to_human(lua)}",
        f"used_memory_scripts_eval:{s.scripts.cache_bytes}",
        f"number_of_cached_scripts:{len(s.scripts.scripts)}",
        f"number_of_functions:{len(functions.functions)}",
        f"number_of_libraries:{len(functions.libraries)}",
        f"used_memory_vm_functions:{vm_functions}",
        f"used_memory_vm_total:{vm_total}",
        f"used_memory_vm_total_human:{bytes_to_human(vm_total)}",
        f"used_memory_functions:{functions.cache_bytes}",
        f"used_memory_scripts:{scripts}",
        f"used_memory_scripts_human:{bytes_to_human(scripts)}",
        f"maxmemory:{mem.maxmemory}",
        f"maxmemory_human:{bytes_to_human(mem.maxmemory)}",
        f"maxmemory_policy:{mem.policy}",
        f"allocator_frag_ratio:{_ratio(anon, used):.2f}",
        f"allocator_frag_bytes:{anon - used}",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        f"rss_overhead_ratio:{_ratio(rss, anon):.2f}",
        f"rss_overhead_bytes:{rss - anon}",
        f"mem_fragmentation_ratio:{_ratio(rss, used):.2f}",
        f"mem_fragmentation_bytes:{rss - used}",
        f"mem_not_counted_for_evict:{f['aof']}",
        "mem_replication_backlog:0",
        "mem_total_replication_buffers:0",
        "mem_clients_slaves:0",
        f"mem_clients_normal:{f['clients']}",
        "mem_cluster_links:0",
        f"mem_aof_buffer:{f['aof']}",
        "mem_allocator:pymalloc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:0",
        "lazyfreed_objects:0",
    ]


def _persistence(s: Server) -> Lines:
    p = getattr(s, "persistence", None)

    def get(name: str, default: Any) -> Any:
        return getattr(p, name, default) if p is not None else default

    in_progress = bool(get("in_progress", False))
    cow_updated = get("cow_updated", 0.0)
    keys_total = get("keys_total", 0)
    keys_done = get("keys_processed", 0)
    fork_perc = 100.0 * keys_done / keys_total if in_progress and keys_total else 0.0
    child_start = get("child_start", 0.0)
    current_secs = int(time.time() - child_start) if in_progress and child_start else -1
    return [
        f"loading:{int(bool(get('loading', False)))}",
        "async_loading:0",
        f"current_cow_peak:{get('cow_peak', 0) if in_progress else 0}",
        f"current_cow_size:{get('cow_current', 0) if in_progress else 0}",
        f"current_cow_size_age:{int(time.time() - cow_updated) if cow_updated else 0}",
        f"current_fork_perc:{fork_perc:.2f}",
        f"current_save_keys_processed:{keys_done if in_progress else 0}",
        f"current_save_keys_total:{keys_total if in_progress else 0}",
        f"rdb_changes_since_last_save:{s.keyspace.dirty}",
        f"rdb_bgsave_in_progress:{int(bool(get('bgsave_in_progress', False)))}",
        f"rdb_last_save_time:{get('lastsave', int(s.start_time))}",
        f"rdb_last_bgsave_status:{'ok' if get('last_bgsave_ok', True) else 'err'}",
        f"rdb_last_bgsave_time_sec:{get('last_bgsave_time_sec', -1)}",
        f"rdb_current_bgsave_time_sec:{current_secs}",
        f"rdb_saves:{get('saves', 0)}",
        f"rdb_last_cow_size:{get('last_cow_size', 0)}",
        f"rdb_last_load_keys_expired:{get('last_load_keys_expired', 0)}",
        f"rdb_last_load_keys_loaded:{get('last_load_keys_loaded', 0)}",
        *_aof_lines(s),
    ]


def _aof_lines(s: Server) -> Lines:
    """INFO persistence's aof_* fields, as Redis 7.0 names them (the second group only while
    the AOF is on)."""
    aof = getattr(s, "aof", None)
    if aof is None:
        return ["aof_enabled:0", "module_fork_in_progress:0", "module_fork_last_cow_size:0"]
    p = s.persistence
    rewriting = p.child_type == AOF_CHILD
    lines = [
        f"aof_enabled:{int(aof.active)}",
        f"aof_rewrite_in_progress:{int(rewriting)}",
        f"aof_rewrite_scheduled:{int(aof.rewrite_scheduled)}",
        f"aof_last_rewrite_time_sec:{aof.last_rewrite_time_sec}",
        "aof_current_rewrite_time_sec:"
        + (str(int(time.time() - aof.rewrite_start)) if aof.rewrite_start >= 0 else "-1"),
        f"aof_last_bgrewrite_status:{'ok' if aof.last_rewrite_ok else 'err'}",
        f"aof_rewrites:{aof.rewrites}",
        f"aof_rewrites_consecutive_failures:{aof.consecutive_failures}",
        f"aof_last_write_status:{'ok' if aof.status_ok else 'err'}",
        f"aof_last_cow_size:{aof.last_cow_size}",
        "module_fork_in_progress:0",
        "module_fork_last_cow_size:0",
    ]
    if s.config.appendonly:
        lines += [
            f"aof_current_size:{aof.current_size}",
            # Redis's aof_rewrite_base_size: the size after the last rewrite (what automatic
            # rewrites measure growth against), not the base file's.
            f"aof_base_size:{aof.rewrite_base_size}",
            f"aof_pending_rewrite:{int(aof.rewrite_scheduled)}",
            f"aof_buffer_length:{len(aof.buf)}",
            f"aof_pending_bio_fsync:{aof.pending_fsync}",
            f"aof_delayed_fsync:{aof.delayed_fsync}",
        ]
    return lines


def _stats(s: Server) -> Lines:
    st = s.stats
    mem = s.keyspace.memory
    p = getattr(s, "persistence", None)
    return [
        f"total_connections_received:{st.total_connections_received}",
        f"total_commands_processed:{total_calls()}",
        f"instantaneous_ops_per_sec:{metrics(s).ops_per_sec()}",
        f"total_net_input_bytes:{st.total_net_input_bytes}",
        f"total_net_output_bytes:{st.total_net_output_bytes}",
        "total_net_repl_input_bytes:0",
        "total_net_repl_output_bytes:0",
        f"instantaneous_input_kbps:{metrics(s).kbps(False):.2f}",
        f"instantaneous_output_kbps:{metrics(s).kbps(True):.2f}",
        "instantaneous_input_repl_kbps:0.00",
        "instantaneous_output_repl_kbps:0.00",
        f"rejected_connections:{st.rejected_connections}",
        f"sync_full:{s.replication.sync_full}",
        f"sync_partial_ok:{s.replication.sync_partial_ok}",
        f"sync_partial_err:{s.replication.sync_partial_err}",
        f"expired_keys:{s.keyspace.stat_expired_keys}",
        f"expired_stale_perc:{s.keyspace.stat_expired_stale_perc * 100:.2f}",
        f"expired_time_cap_reached_count:{s.keyspace.stat_expired_time_cap_reached}",
        f"expire_cycle_cpu_milliseconds:{st.expire_cycle_ns // 1_000_000}",
        f"evicted_keys:{mem.evicted_keys}",
        f"evicted_clients:{st.evicted_clients}",
        f"total_eviction_exceeded_time:{int(mem.exceeded_total * 1000)}",
        f"current_eviction_exceeded_time:{int(mem.current_exceeded() * 1000)}",
        f"keyspace_hits:{s.keyspace.hits}",
        f"keyspace_misses:{s.keyspace.misses}",
        f"pubsub_channels:{len(s.pubsub.channels)}",
        f"pubsub_patterns:{len(s.pubsub.patterns)}",
        f"pubsubshard_channels:{len(s.pubsub.shard)}",
        f"latest_fork_usec:{getattr(p, 'latest_fork_usec', 0)}",
        f"total_forks:{getattr(p, 'total_forks', 0)}",
        f"migrate_cached_sockets:{migrate.cached()}",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        f"tracking_total_keys:{len(s.tracking.table)}",
        f"tracking_total_items:{s.tracking.items}",
        f"tracking_total_prefixes:{s.tracking.total_prefixes()}",
        "unexpected_error_replies:0",
        f"total_error_replies:{st.error_replies}",
        "dump_payload_sanitizations:0",
        f"total_reads_processed:{st.total_reads_processed}",
        f"total_writes_processed:{st.total_writes_processed}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _replication(s: Server) -> Lines:
    return s.replication.info_lines()


def _cpu(s: Server) -> Lines:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = [
        f"used_cpu_sys:{me.ru_stime:.6f}",
        f"used_cpu_user:{me.ru_utime:.6f}",
        f"used_cpu_sys_children:{ch.ru_stime:.6f}",
        f"used_cpu_user_children:{ch.ru_utime:.6f}",
    ]
    thread = getattr(resource, "RUSAGE_THREAD", None)
    if thread is not None:
        th = resource.getrusage(thread)
        out += [
            f"used_cpu_sys_main_thread:{th.ru_stime:.6f}",
            f"used_cpu_user_main_thread:{th.ru_utime:.6f}",
        ]
    return out


def _modules(s: Server) -> Lines:
    return []


def _commandstats(s: Server) -> Lines:
    out = []
    for cmd in all_commands():
        if cmd.calls or cmd.failed_calls or cmd.rejected_calls:
            per_call = cmd.usec / cmd.calls if cmd.calls else 0.0
            out.append(
                f"cmdstat_{cmd.name}:calls={cmd.calls},usec={cmd.usec},"
                f"usec_per_call={per_call:.2f},rejected_calls={cmd.rejected_calls},"
                f"failed_calls={cmd.failed_calls}"
            )
    return out


def _errorstats(s: Server) -> Lines:
    # Sorted, as Redis's radix tree lists them.
    return [f"errorstat_{code}:count={n}" for code, n in sorted(s.stats.errorstats.items())]


def _latencystats(s: Server) -> Lines:
    """Each command's percentiles from its latency-tracking histogram (minikv.latency);
    nothing while latency-tracking is off, as Redis (the histograms are kept)."""
    cfg = s.config
    if not cfg.latency_tracking:
        return []
    percentiles = cfg.latency_tracking_info_percentiles
    return [
        f"latency_percentiles_usec_{cmd.name}:{format_percentiles(cmd.hist, percentiles)}"
        for cmd in all_commands()
        if cmd.hist is not None
    ]


def _cluster(s: Server) -> Lines:
    return ["cluster_enabled:0"]


def _keyspace(s: Server) -> Lines:
    out = []
    now_ms = time.time_ns() // 1_000_000
    for db in s.keyspace.dbs:
        keys = len(db)
        expires = db.expires_count()
        if keys or expires:
            out.append(f"db{db.id}:keys={keys},expires={expires},avg_ttl={_avg_ttl(db, now_ms)}")
    return out


def _avg_ttl(db: Any, now_ms: int, sample: int = 1000) -> int:
    """Average remaining TTL in ms over up to about ``sample`` keys with a deadline (Redis
    also reports an estimate, from its expire cycle's samples)."""
    total, n = db.deadline_sample(now_ms, sample)
    return total // n if n else 0


#: Section name -> (header, generator), in Redis's output order.
SECTIONS: dict[str, tuple[str, Callable[[Server], Lines]]] = {
    "server": ("Server", _server),
    "clients": ("Clients", _clients),
    "memory": ("Memory", _memory),
    "persistence": ("Persistence", _persistence),
    "stats": ("Stats", _stats),
    "replication": ("Replication", _replication),
    "cpu": ("CPU", _cpu),
    "modules": ("Modules", _modules),
    "commandstats": ("Commandstats", _commandstats),
    "errorstats": ("Errorstats", _errorstats),
    "latencystats": ("Latencystats", _latencystats),
    "cluster": ("Cluster", _cluster),
    "keyspace": ("Keyspace", _keyspace),
}

DEFAULT_SECTIONS = frozenset(
    [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "errorstats",
        "cluster",
        "keyspace",
    ]
)


def requested_sections(args: list[str]) -> set[str]:
    """The sections an INFO request names, as Redis's genInfoSectionDict reads its arguments."""
    if not args:
        return set(DEFAULT_SECTIONS)
    wanted: set[str] = set()
    for a in args:
        a = a.lower()
        if a == "default":
            wanted |= DEFAULT_SECTIONS
        elif a in ("all", "everything"):
            wanted |= SECTIONS.keys()
        elif a == "module_list":
            wanted.add("modules")
        else:
            wanted.add(a)
    return wanted


def generate(server: Server, args: list[str]) -> str:
    wanted = requested_sections(args)
    parts = []
    for name, (header, fn) in SECTIONS.items():
        if name in wanted:
            lines = [f"# {header}", *fn(server)]
            parts.append("".join(line + "\r\n" for line in lines))
    return "\r\n".join(parts)
