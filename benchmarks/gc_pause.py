"""Latency after a restart on a big snapshot, while new keys are created: the collector's pauses.

Fills a minikv with ``--keys`` keys (the five types in equal parts, as ``cow_by_type.py``), saves,
restarts it on that snapshot, then for ``--seconds``: one client creates new 2-element lists
(pipelines of 100 RPUSH) while another sends one PING every 2 ms. Prints the PING latency's
maximum and 99.9th percentile and how many PINGs took over 100 ms. A full collection of the
cyclic garbage collector scans every tracked object (1M mixed keys: ~330 ms in one go); the
server freezes what it loaded at start so that those are never scanned again.

    python benchmarks/gc_pause.py                       # this tree
    SRC=/path/to/other/checkout python benchmarks/gc_pause.py --dir DIR_OF_A_PREVIOUS_RUN
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import redis
from common import free_port
from cow_by_type import fill_over_network

ROOT = str(Path(__file__).resolve().parent.parent)


def start(d: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.environ.get("SRC", ROOT))
    cmd = [sys.executable, "-m", "minikv", "--port", str(port), "--dir", d, "--save", ""]
    # cwd=d: with -m, the working directory comes first on sys.path, before SRC.
    p = subprocess.Popen([*cmd, "--logfile", os.path.join(d, "minikv.log")], env=env, cwd=d)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return p
        except redis.ConnectionError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("minikv did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dir", help="reuse the snapshot in DIR (else fill and save a new one)")
    a = ap.parse_args()
    d = a.dir or tempfile.mkdtemp(prefix="gc-pause-")
    port = free_port()
    if not a.dir:
        p = start(d, port)
        r = redis.Redis(port=port)
        fill_over_network(r, a.keys)
        r.save()
        r.shutdown(nosave=True)
        p.wait()
    p = start(d, port)
    r = redis.Redis(port=port)
    loaded = int(r.dbsize())
    stop = threading.Event()

    def writer() -> None:
        w: Any = redis.Redis(port=port)
        i = 0
        while not stop.is_set():
            pipe = w.pipeline(transaction=False)
            for _ in range(100):
                pipe.rpush(b"new:%d" % i, b"a", b"b")
                i += 1
            pipe.execute()

    t = threading.Thread(target=writer)
    t.start()
    lat: list[float] = []
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        r.ping()
        lat.append(time.perf_counter() - t0)
        time.sleep(0.002)
    stop.set()
    t.join()
    lat.sort()
    new = int(r.dbsize()) - loaded
    print(
        f"snapshot {d}: {loaded:,} keys loaded; {len(lat)} PINGs while {new:,} keys were created: "
        f"max {lat[-1] * 1000:.1f} ms, p99.9 {lat[int(len(lat) * 0.999)] * 1000:.1f} ms, "
        f"{sum(x > 0.1 for x in lat)} over 100 ms"
    )
    r.shutdown(nosave=True)
    p.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
