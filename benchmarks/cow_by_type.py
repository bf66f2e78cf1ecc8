"""Child-side copy-on-write of a snapshot, per value type, in one process (no server, no client).

Fills a keyspace with ``--keys`` keys of one type (small values: 2-3 members per collection),
forks, lets the child write the snapshot exactly as BGSAVE's child does (``save_to_file``), and
reports the child's ``Private_Dirty`` (from /proc/self/smaps_rollup) as a share of the parent's
RSS. Nothing writes to the data during the save, so every copied page is the child's own doing.

    python benchmarks/cow_by_type.py                 # every type, 300k keys each
    python benchmarks/cow_by_type.py --types stream  # 2-entry streams with a consumer group
    python benchmarks/cow_by_type.py --types set --keys 1000000
    python benchmarks/cow_by_type.py --types mix --keys 1000000   # all five, equal parts
    python benchmarks/cow_by_type.py --server --keys 1000000      # real servers, see below
    python benchmarks/cow_by_type.py --loaded --keys 1000000      # what loading built

``--loaded`` saves the filled keyspace (in a child), loads the file into a fresh keyspace as a
restart does (``load_file``; its CPU seconds are the last column) and measures the save of
that: the copy-on-write of the containers the loader builds, from a heap holding only them.

``--server`` measures through real servers instead, minikv beside redis-server in one run, for
each of ``--types`` (default ``mix``; any of the five and ``mix``): each is filled over the
network (pipelined SET/HSET/SADD/RPUSH/ZADD; the mix has the five types in equal parts), then
BGSAVE runs with no writes and the row shows ``rdb_last_cow_size`` from INFO persistence as a
share of ``used_memory_rss`` — what a user of either server would read. Then each server is
restarted ``--restarts`` times on the file it wrote, timing the spawn until PING answers +PONG
(the row gives the fastest, and each with more than one) and reading the CPU time the process
had used by then (the least of the restarts), which other work on the machine barely moves.
minikv runs as installed: with its bytecode cached (by the first start, in the run's directory).

    python benchmarks/cow_by_type.py --server --keys 1000000 \\
        --types string,hash,set,list,zset,mix --restarts 3
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from minikv.cow import private_dirty_bytes, rss_bytes
from minikv.keyspace import Keyspace
from minikv.packedhash import PackedHash
from minikv.packedlist import new_list
from minikv.persistence.snapshot import load_file, save_to_file
from minikv.setvalue import SetValue
from minikv.stream import Group, IdDict, Nack, Stream, make_id
from minikv.zset import ZSet, stored

TYPES = ("string", "hash", "set", "list", "zset")  # the mix, and what --server fills


def small_stream(i: int) -> Stream:
    """Two entries, a group with one consumer and one pending entry."""
    s = Stream()
    s.add(make_id(1, i), [b"f", b"a%d" % i])
    s.add(make_id(2, i), [b"f", b"b%d" % i])
    g = s.groups[b"g"] = Group(make_id(1, i), 1, IdDict(), {})
    g.add_consumer(b"c", 1)
    g.pel[make_id(1, i)] = Nack(b"c", 1, 1)
    g.consumers[b"c"].pel[make_id(1, i)] = None
    return s


def value(kind: str, i: int) -> object:
    if kind == "mix":  # the five types in equal parts
        kind = TYPES[i % len(TYPES)]
    if kind == "string":
        return b"v%d" % i + b"v" * 90
    if kind == "hash":
        return PackedHash.of({b"f1": b"a%d" % i, b"f2": b"b%d" % i})  # as HSET stores it
    if kind == "set":
        return SetValue.fromkeys([b"m1%d" % i, b"m2%d" % i, b"m3"])
    if kind == "list":
        return new_list([b"x%d" % i, b"y%d" % i])  # packed, as the server makes it
    if kind == "stream":
        return small_stream(i)
    return stored(ZSet.from_scores({b"a%d" % i: 1.0, b"b": 2.0}))  # as the keyspace holds it


def fill(kind: str, n: int) -> Keyspace:
    ks = Keyspace(16)
    db = ks.dbs[0]
    for i in range(n):
        db.set(b"key:%d" % i, value(kind, i))
    return ks


def measure(kind: str, n: int, loaded: bool) -> str:
    load = ""
    if loaded:
        # Filled and saved in a child, so that this heap holds only what loading made.
        directory = tempfile.mkdtemp()
        pid = os.fork()
        if pid == 0:
            save_to_file(fill(kind, n), directory, "dump.mkv", dbs=[0])
            os._exit(0)
        os.waitpid(pid, 0)
        ks = Keyspace(16)
        t = time.process_time()
        load_file(ks, os.path.join(directory, "dump.mkv"))
        load = f" {time.process_time() - t:.2f} |"
    else:
        ks = fill(kind, n)
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
        f"{int(cow) / rss * 100:.2f} | {float(secs):.2f} | {size / 2**20:.0f} |{load}"
    )


def fill_over_network(client: Any, n: int, kind_of_all: str = "mix") -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        key = b"key:%d" % i
        kind = TYPES[i % len(TYPES)] if kind_of_all == "mix" else kind_of_all
        if kind == "string":
            pipe.set(key, value(kind, i))
        elif kind == "hash":
            pipe.hset(key, mapping=value(kind, i).to_dict())  # type: ignore[attr-defined]
        elif kind == "set":
            pipe.sadd(key, *value(kind, i))
        elif kind == "list":
            pipe.rpush(key, *value(kind, i))
        else:
            pipe.zadd(key, dict(value(kind, i).unpack()))  # a PackedZSet
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def measure_servers(n: int, types: list[str], restarts: int) -> None:
    from common import loadavg

    print(f"load average before: {loadavg()}")
    print(
        "| type | server | keys | RSS MB | rdb_last_cow_size MB | COW % of RSS | bgsave s "
        "| restart to PONG s | CPU s to PONG | keys loaded |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for value_kind in types:
        for kind in ("minikv", "redis"):
            print(measure_server(kind, value_kind, n, restarts), flush=True)


def measure_server(kind: str, value_kind: str, n: int, restarts: int) -> str:
    """One server filled with ``n`` keys of ``value_kind``: BGSAVE, then ``restarts`` restarts
    on the file it wrote (the row gives the fastest, then every one)."""
    from common import Server, start_bgsave

    workdir = tempfile.mkdtemp(prefix="cow-by-type-")
    srv = Server(kind, workdir)
    # As installed (pip compiles the modules): bytecode cached by the first start, so the
    # restarts do not compile every module again (~0.3 s of CPU) where the environment says
    # PYTHONDONTWRITEBYTECODE; in a directory of this run's, not the source tree.
    srv.env.pop("PYTHONDONTWRITEBYTECODE", None)
    srv.env["PYTHONPYCACHEPREFIX"] = os.path.join(workdir, "pycache")
    srv.start()
    try:
        fill_over_network(srv.client, n, value_kind)
        t = time.perf_counter()
        start_bgsave(srv)
        while int(srv.info("persistence")["rdb_bgsave_in_progress"]):
            time.sleep(0.05)
        secs = time.perf_counter() - t
        pers = srv.info("persistence")
        if pers["rdb_last_bgsave_status"] != "ok":
            raise SystemExit(f"{kind}: BGSAVE failed")
        cow = int(pers["rdb_last_cow_size"])
        rss = int(srv.info("memory")["used_memory_rss"])
        # Loading the snapshot just written: restart and time spawn -> +PONG.
        times = []
        cpus = []
        for _ in range(restarts):
            srv.shutdown_nosave()
            times.append(srv.start())
            cpus.append(cpu_seconds(srv.pid))
        loaded = int(srv.client.dbsize())
    finally:
        srv.stop()
    each = "" if restarts == 1 else " (" + ", ".join(f"{t:.2f}" for t in times) + ")"
    return (
        f"| {value_kind} | {kind} | {n:,} | {rss / 2**20:.0f} | {cow / 2**20:.1f} | "
        f"{cow / rss * 100:.2f} | {secs:.2f} | {min(times):.2f}{each} | {min(cpus):.2f} "
        f"| {loaded:,} |"
    )


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat): unlike the wall
    time, it barely moves when other work shares the machine's cores."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=300_000)
    ap.add_argument("--types", help="default: the five and stream (with --server: mix)")
    ap.add_argument("--server", action="store_true", help="through real servers (no streams)")
    ap.add_argument("--restarts", type=int, default=1, help="with --server: restarts per row")
    ap.add_argument(
        "--loaded", action="store_true", help="save, then measure a keyspace loaded from it"
    )
    a = ap.parse_args()
    if a.server:
        types = (a.types or "mix").split(",")
        if "stream" in types:
            ap.error("--server fills string, hash, set, list, zset and mix, not stream")
        measure_servers(a.keys, types, a.restarts)
        return 0
    print(
        "| type | keys | RSS MB | child COW MB | COW % of RSS | save s | file MB |"
        + (" load CPU s |" if a.loaded else "")
    )
    print("|---|---|---|---|---|---|---|" + ("---|" if a.loaded else ""))
    for kind in (a.types or ",".join((*TYPES, "stream"))).split(","):
        # One process per type: each measurement starts from a fresh heap.
        pid = os.fork()
        if pid == 0:
            print(measure(kind, a.keys, a.loaded), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
