"""MEMORY: what a key costs (USAGE, estimated by ``minikv.memory``) and the server's memory as
a whole (STATS, DOCTOR, PURGE, MALLOC-STATS), from ``minikv.eviction``'s count.

STATS has Redis's fields; the allocator ones are what CPython offers (see ``minikv.info``).
PURGE runs a full garbage collection and glibc's ``malloc_trim(0)`` (where there is glibc),
which gives free heap pages back to the system as jemalloc's purge does. MALLOC-STATS answers
CPython's own allocator statistics (``sys._debugmallocstats``: pymalloc's arenas, pools and
size classes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from minikv.commands import command, container
from minikv.commands.util import SYNTAX
from minikv.memory import DEFAULT_SAMPLES, key_usage
from minikv.parsing import LLONG_MAX, parse_int
from minikv.protocol import ReplyError, Verbatim

if TYPE_CHECKING:
    from minikv.commands.context import Context

SRV = "server"

container(
    "memory",
    -2,
    group=SRV,
    summary="A container for memory diagnostics commands",
    since="4.0.0",
    complexity="Depends on subcommand.",
)


@command(
    "usage",
    -3,
    "readonly",
    (2, 2, 1),
    parent="memory",
    group=SRV,
    summary="Estimate the memory usage of a key",
    since="4.0.0",
    complexity="O(N) where N is the number of samples.",
    args="key [SAMPLES count]",
    key_flags="RO",
)
def memory_usage(c: Context, args: list[bytes]) -> Any:
    samples = DEFAULT_SAMPLES
    i = 3
    while i < len(args):
        if args[i].lower() == b"samples" and i + 1 < len(args):
            samples = parse_int(args[i + 1])
            if samples < 0:
                raise SYNTAX
            if samples == 0:
                samples = LLONG_MAX  # all of them
            i += 2
        else:
            raise SYNTAX
    key = args[2]
    db = c.db
    value = db.get(key)
    if value is None:
        return None
    return key_usage(key, value, db.get_expire(key) is not None, samples)


def _figures(c: Context) -> dict[str, int]:
    srv = c.server
    scripts = srv.scripts.cache_bytes + srv.scripts.functions.cache_bytes
    return srv.keyspace.memory.figures(len(srv.aof.buf), scripts)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


@command(
    "stats",
    2,
    "",
    parent="memory",
    group=SRV,
    summary="Show memory usage details",
    since="4.0.0",
    complexity="O(1)",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_stats(c: Context, args: list[bytes]) -> Any:
    f = _figures(c)
    used, rss, anon, peak, startup = f["used"], f["rss"], f["anon"], f["peak"], f["startup"]
    keys = 0
    out: dict[bytes, Any] = {
        b"peak.allocated": peak,
        b"total.allocated": used,
        b"startup.allocated": startup,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": f["clients"],
        b"cluster.links": 0,
        b"aof.buffer": f["aof"],
        b"lua.caches": c.server.scripts.cache_bytes,
        b"functions.caches": c.server.scripts.functions.cache_bytes,
    }
    for db in c.server.keyspace.dbs:
        n = len(db)
        if not n:
            continue
        keys += n
        # The keyspace dicts' own tables (entries and indices), without keys and values.
        out[b"db.%d" % db.id] = {
            b"overhead.hashtable.main": sum(map(sys.getsizeof, db.data)),
            b"overhead.hashtable.expires": sum(map(sys.getsizeof, db.expires)),
            b"overhead.hashtable.slot-to-keys": 0,
        }
    dataset = f["dataset"]
    net = used - startup
    out.update(
        {
            b"overhead.total": f["overhead"],
            b"keys.count": keys,
            b"keys.bytes-per-key": net // keys if keys else 0,
            b"dataset.bytes": dataset,
            b"dataset.percentage": 100.0 * _ratio(dataset, net),
            b"peak.percentage": 100.0 * _ratio(used, peak),
            b"allocator.allocated": used,
            b"allocator.active": anon,
            b"allocator.resident": anon,
            b"allocator-fragmentation.ratio": _ratio(anon, used),
            b"allocator-fragmentation.bytes": anon - used,
            b"allocator-rss.ratio": 1.0,
            b"allocator-rss.bytes": 0,
            b"rss-overhead.ratio": _ratio(rss, anon),
            b"rss-overhead.bytes": rss - anon,
            b"fragmentation": _ratio(rss, used),
            b"fragmentation.bytes": rss - used,
        }
    )
    return out


_MB = 1024 * 1024

_DOCTOR_REPORTS = {
    "big_peak": " * Peak memory: In the past this instance used more than 150% the memory that "
    "is currently using. The allocator is normally not able to release memory after a peak, so "
    "you can expect to see a big fragmentation ratio, however this is actually harmless and is "
    "only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is "
    "currently bigger than expected, the memory will be used as soon as you fill the Redis "
    "instance with more data. If the memory peak was only occasional and you want to try to "
    "reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is "
    "to shutdown and restart the instance.\n\n",
    "high_frag": " * High total RSS: This instance has a memory fragmentation and RSS overhead "
    "greater than 1.4 (this means that the Resident Set Size of the Redis process is much "
    "larger than the sum of the logical allocations Redis performed). This problem is usually "
    "due either to a large peak memory (check if there is a peak memory entry above in the "
    "report) or may result from a workload that causes the allocator to fragment memory a "
    "lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure "
    "you are using the Jemalloc allocator and not the default libc malloc. Note: The "
    'currently used allocator is "pymalloc".\n\n',
    "high_alloc_frag": " * High allocator fragmentation: This instance has an allocator "
    "external fragmentation greater than 1.1. This problem is usually due either to a large "
    "peak memory (check if there is a peak memory entry above in the report) or may result "
    "from a workload that causes the allocator to fragment memory a lot. You can try enabling "
    "'activedefrag' config option.\n\n",
    "high_proc_rss": " * High process RSS overhead: This instance has non-allocator RSS memory "
    "overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process "
    "is much larger than the RSS the allocator holds). This problem may be due to Lua scripts "
    "or Modules.\n\n",
    "big_client_buf": " * Big client buffers: The clients output buffers in this instance are "
    "greater than 200K per client (on average). This may result from different causes, like "
    "Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data "
    "piles on the Redis instance output buffer, or clients sending commands with large "
    "replies or very large sequences of commands in the same pipeline. Please use the CLIENT "
    "LIST command in order to investigate the issue if it causes problems in your instance, "
    "or to understand better why certain clients are using a big amount of memory.\n\n",
    "many_scripts": " * Many scripts: There seem to be many cached scripts in this instance "
    "(more than 1000). This may be because scripts are generated and `EVAL`ed, instead of "
    "being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless "
    "`SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of "
    "your memory.\n\n",
}


def doctor_report(f: dict[str, int], nclients: int, nscripts: int) -> str:
    """Redis's getMemoryDoctorReport over minikv's figures (the same thresholds; minikv's
    used_memory includes the interpreter, so "empty" is below 5 MB of dataset and clients
    rather than of everything)."""
    used, rss, anon = f["used"], f["rss"], f["anon"]
    found = []
    if used - f["startup"] < 5 * _MB:
        return (
            "Hi Sam, this instance is empty or is using very little memory, my issues detector "
            "can't be used in these conditions. Please, leave for your mission on Earth and "
            "fill it with some data. The new Sam and I will be back to our programming as soon "
            "as I finished rebooting.\n"
        )
    if _ratio(f["peak"], used) > 1.5:
        found.append("big_peak")
    if _ratio(rss, used) > 1.4 and rss - used > 10 * _MB:
        found.append("high_frag")
    if _ratio(anon, used) > 1.1 and anon - used > 10 * _MB:
        found.append("high_alloc_frag")
    if _ratio(rss, anon) > 1.1 and rss - anon > 10 * _MB:
        found.append("high_proc_rss")
    if nclients and f["clients"] / nclients > 1024 * 200:
        found.append("big_client_buf")
    if nscripts > 1000:
        found.append("many_scripts")
    if not found:
        return (
            "Hi Sam, I can't find any memory issue in your instance. I can only account for "
            "what occurs on this base.\n"
        )
    return (
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
        + "".join(_DOCTOR_REPORTS[k] for k in found)
        + "I'm here to keep you safe, Sam. I want to help you.\n"
    )


@command(
    "doctor",
    2,
    "",
    parent="memory",
    group=SRV,
    summary="Outputs memory problems report",
    since="4.0.0",
    complexity="O(1)",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_doctor(c: Context, args: list[bytes]) -> Any:
    report = doctor_report(_figures(c), len(c.server.clients), len(c.server.scripts.scripts))
    return Verbatim(report.encode())


def _malloc_trim() -> bool:
    """glibc's malloc_trim(0): free heap pages back to the system. False without glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


@command(
    "purge",
    2,
    "",
    parent="memory",
    group=SRV,
    summary="Ask the allocator to release memory",
    since="4.0.0",
    complexity="Depends on how much memory is allocated, could be slow",
    tips="request_policy:all_shards response_policy:all_succeeded",
)
def memory_purge(c: Context, args: list[bytes]) -> Any:
    gc.collect()
    _malloc_trim()  # without glibc the collection is all there is to do
    return "OK"


@command(
    "malloc-stats",
    2,
    "",
    parent="memory",
    group=SRV,
    summary="Show allocator internal stats",
    since="4.0.0",
    complexity="Depends on how much memory is allocated, could be slow",
    tips="nondeterministic_output request_policy:all_shards response_policy:special",
)
def memory_malloc_stats(c: Context, args: list[bytes]) -> Any:
    # sys._debugmallocstats writes to the C stderr: point fd 2 at a file for the call.
    with tempfile.TemporaryFile() as f:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        except OSError as e:
            raise ReplyError(f"ERR cannot read the allocator statistics: {e}") from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        return Verbatim(f.read())


_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    "loading stale",
    parent="memory",
    group=SRV,
    summary="Show helpful text about the different subcommands",
    since="4.0.0",
    complexity="O(1)",
)
def memory_help(c: Context, args: list[bytes]) -> Any:
    return _HELP
