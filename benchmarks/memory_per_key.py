"""Bytes per key by type, minikv beside redis-server, and where minikv's bytes go.

**Servers** (default): for each dataset a fresh minikv and a fresh redis-server (``--save ""``),
``used_memory_rss`` read before and after filling; bytes per key = the difference / keys.
Datasets: ``strings100`` is ``DEBUG POPULATE <keys> key 100`` (1M x 100 B strings by default);
``string hash set list zset mix`` are ``cow_by_type.py``'s values (small: 2-3 members per
collection, 92 B strings), sent as pipelined SET/HSET/SADD/RPUSH/ZADD.

**Account** (``--account``): the same keys built in-process with minikv's own types (what DEBUG
POPULATE and the commands store), each part of a key's cost summed from ``sys.getsizeof``
rounded up to the allocator's size (pymalloc's 16-byte classes up to 512 B, else malloc's
16-byte chunks with 8 bytes of header), beside the process's RSS growth: the key object, the
value (containers and members), the slot in the shard's ``data`` dict, in ``expires`` (none
here), in ``access`` (the LRU record every written key gets, ``minikv.eviction``) and the int
it holds (shared per second, so ~0).

    python benchmarks/memory_per_key.py                          # all datasets, both servers
    python benchmarks/memory_per_key.py --datasets strings100 --keys 1000000
    python benchmarks/memory_per_key.py --account --datasets strings100,hash
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DATASETS = ("strings100", "string", "hash", "set", "list", "zset", "mix")


def commands(kind: str, i: int) -> list[bytes]:
    """The command creating ``key:<i>`` with ``cow_by_type.value``'s value of ``kind``."""
    from cow_by_type import TYPES, value

    if kind == "mix":
        kind = TYPES[i % len(TYPES)]
    key = b"key:%d" % i
    v: Any = value(kind, i)
    if kind == "string":
        return [b"SET", key, v]
    if kind == "hash":
        return [b"HSET", key, *(x for f, val in v.to_dict().items() for x in (f, val))]
    if kind == "set":
        return [b"SADD", key, *v]
    if kind == "list":
        return [b"RPUSH", key, *v]  # a QuickList iterates its elements
    z = v.unpack()  # a PackedZSet
    return [b"ZADD", key, *(x for m, s in z.items() for x in (repr(s).encode(), m))]


def fill(srv: Any, kind: str, n: int) -> None:
    from common import populate, resp

    if kind == "strings100":
        populate(srv, n, 100)
        return
    sock = socket.create_connection((srv.host, srv.port))
    try:
        for start in range(0, n, 2000):
            stop = min(n, start + 2000)
            sock.sendall(b"".join(resp(*commands(kind, i)) for i in range(start, stop)))
            want, buf = stop - start, b""
            while buf.count(b"\r\n") < want:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                buf += chunk
            if b"\r\n-" in b"\r\n" + buf:
                raise SystemExit(f"{srv.kind}: {buf[:200]!r}")
    finally:
        sock.close()
    if int(srv.client.dbsize()) != n:
        raise SystemExit(f"{srv.kind}: DBSIZE {srv.client.dbsize()} after filling {n}")


def measure_servers(datasets: list[str], keys: dict[str, int]) -> None:
    from common import Server, loadavg

    print(f"load average before: {loadavg()}\n")
    print(
        "| dataset | keys | minikv B/key | redis B/key | minikv/redis "
        "| minikv RSS MB | redis RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    work = tempfile.mkdtemp(prefix="mem-per-key-")
    for ds in datasets:
        n = keys[ds]
        per: dict[str, tuple[float, int]] = {}
        for kind in ("minikv", "redis"):
            srv = Server(kind, work)
            srv.start()
            try:
                rss0 = int(srv.info("memory")["used_memory_rss"])
                fill(srv, ds, n)
                time.sleep(0.5)  # a cron tick or two: nothing pending
                rss1 = int(srv.info("memory")["used_memory_rss"])
                per[kind] = ((rss1 - rss0) / n, rss1)
            finally:
                srv.stop()
        (m, mr), (r, rr) = per["minikv"], per["redis"]
        print(
            f"| {ds} | {n:,} | {m:.0f} | {r:.0f} | {m / r:.2f} | {mr / 2**20:.0f} | "
            f"{rr / 2**20:.0f} |",
            flush=True,
        )


# --- the in-process account ---------------------------------------------------------------------


def alloc(n: int) -> int:
    """What an allocation of ``n`` bytes takes: pymalloc's 16-byte classes up to 512 B, else a
    malloc chunk (8 bytes of header, 16-byte aligned)."""
    if n <= 512:
        return (n + 15) // 16 * 16
    return (n + 8 + 15) // 16 * 16


def deep(obj: Any, seen: set[int]) -> int:
    """Allocated bytes of ``obj`` and everything it holds that is not in ``seen`` (shared
    objects are counted once). Containers minikv uses: dict and its subclasses (SetValue,
    ZSet: their extra attributes through ``__dict__``/slots), list (QuickList's nodes), tuple."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = alloc(sys.getsizeof(obj))
    # The base types' own iteration: a subclass's (QuickList's elements) may skip a level.
    if isinstance(obj, dict):
        for k, v in dict.items(obj):
            size += deep(k, seen) + deep(v, seen)
    elif isinstance(obj, list):
        for x in list.__iter__(obj):
            size += deep(x, seen)
    elif isinstance(obj, tuple):
        for x in tuple.__iter__(obj):
            size += deep(x, seen)
    for slot in getattr(type(obj), "__slots__", ()):
        if hasattr(obj, slot):
            size += deep(getattr(obj, slot), seen)
    d = getattr(obj, "__dict__", None)
    if d:
        size += deep(d, seen)
    return size


def build(kind: str, n: int) -> Any:
    from cow_by_type import value

    from minikv.eviction import TOUCH_LRU
    from minikv.keyspace import Keyspace

    ks = Keyspace(16)
    ks.access = TOUCH_LRU  # as the server runs: each write records the key's LRU clock
    db = ks.dbs[0]
    for i in range(n):
        key = b"key:%d" % i
        if kind == "strings100":  # DEBUG POPULATE's value
            v: Any = (b"value:%d" % i).ljust(100, b"\0")
        else:
            v = value(kind, i)
        db.set(key, v)
        db.touch(key)
    return ks


def account(kind: str, n: int) -> None:
    from minikv.cow import rss_bytes
    from minikv.keyspace import Keyspace

    empty = Keyspace(16)
    base = {
        name: sum(map(sys.getsizeof, getattr(empty.dbs[0], name)))
        for name in ("data", "expires", "access")
    }
    rss0 = rss_bytes()
    ks = build(kind, n)
    rss1 = rss_bytes()
    db = ks.dbs[0]
    seen: set[int] = set()
    keys = sum(alloc(sys.getsizeof(k)) for shard in db.data for k in shard)
    values = sum(deep(v, seen) for shard in db.data for v in shard.values())
    parts = {
        "key object": keys,
        "value (containers, members)": values,
        "data dict slot (+ growth slack)": sum(map(sys.getsizeof, db.data)) - base["data"],
        "expires dict slot": sum(map(sys.getsizeof, db.expires)) - base["expires"],
        "access dict slot (LRU record)": sum(map(sys.getsizeof, db.access)) - base["access"],
        "access ints (shared per second)": sum(
            deep(v, seen) for shard in db.access for v in shard.values()
        ),
    }
    total = sum(parts.values())
    print(f"\n**{kind}**, {n:,} keys: RSS grew {(rss1 - rss0) / n:.0f} B/key; the parts:\n")
    print("| part | B/key |")
    print("|---|---|")
    for name, b in parts.items():
        print(f"| {name} | {b / n:.1f} |")
    print(f"| **sum** | **{total / n:.1f}** |")
    print(
        f"| RSS growth - sum (allocator: free blocks, pool/arena slack) | "
        f"{(rss1 - rss0 - total) / n:.1f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument(
        "--keys",
        type=int,
        default=0,
        help="keys per dataset (default: 1M for strings100, 300k for the others)",
    )
    ap.add_argument("--account", action="store_true", help="in-process account (minikv only)")
    a = ap.parse_args()
    datasets = a.datasets.split(",")
    keys = {ds: a.keys or (1_000_000 if ds == "strings100" else 300_000) for ds in datasets}
    if a.account:
        for ds in datasets:
            pid = os.fork()  # a fresh heap per dataset
            if pid == 0:
                account(ds, keys[ds])
                sys.stdout.flush()
                os._exit(0)
            os.waitpid(pid, 0)
        return 0
    measure_servers(datasets, keys)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
