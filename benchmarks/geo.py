"""Geo commands on minikv beside redis-server: GEOADD, GEOSEARCH over a few thousand points
and GEODIST under redis-benchmark, median requests per second and the minikv/redis ratio.

    python benchmarks/geo.py                        # 5000 points, 3 rounds, -P 1 and -P 16
    python benchmarks/geo.py --points 2000 --repeat 1 --pipelines 1

Each server starts empty and gets ``--points`` points spread uniformly over a 2 x 2 degree
square around Paris (``GEOADD bench lon lat p<i>``, pipelined). Then ``redis-benchmark -c 50``
runs each command line below, on minikv and redis alternately ``--repeat`` times:

- GEOADD of a new member (``__rand_int__``, ``-r 100000``) into another key;
- GEOSEARCH BYRADIUS 20 km and 100 km around the center, ASC COUNT 10 (the 100 km one WITHDIST):
  Redis's nine boxes hold about half of the points for 20 km (step 9 boxes of 0.7 x 0.33
  degrees) and all of them for 100 km, every one decoded and measured, then the ten nearest
  chosen;
- GEODIST of two members in km.

The searches are far slower than the others on minikv (each decodes thousands of points in
Python), so they run ``--search-requests`` requests where the others run ``--requests``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BenchCommand, Server, compare_commands

CENTER = "2.35 48.85"


def _words(text: str) -> list[str]:
    return text.replace("CENTER", CENTER).split()


_RAND = ["-r", "100000"]


def commands(requests: int, search_requests: int) -> dict[str, BenchCommand]:
    """name -> (command words, extra redis-benchmark options, requests)."""
    return {
        "GEOADD": (_words("GEOADD bench:add CENTER m:__rand_int__"), _RAND, requests),
        "GEOSEARCH 20km COUNT 10": (
            _words("GEOSEARCH bench FROMLONLAT CENTER BYRADIUS 20 km ASC COUNT 10"),
            [],
            search_requests,
        ),
        "GEOSEARCH 100km COUNT 10 WITHDIST": (
            _words("GEOSEARCH bench FROMLONLAT CENTER BYRADIUS 100 km ASC COUNT 10 WITHDIST"),
            [],
            search_requests,
        ),
        "GEODIST": (_words("GEODIST bench p1 p2 km"), [], requests),
        # For scale: the sorted-set commands GEOADD and GEODIST amount to.
        "ZADD": (_words("ZADD bench:zadd 3663832751688490 m:__rand_int__"), _RAND, requests),
        "ZSCORE": (_words("ZSCORE bench p1"), [], requests),
    }


def fill(srv: Server, points: int) -> None:
    rnd = random.Random(1)
    pipe = srv.client.pipeline(transaction=False)
    for i in range(points):
        lon = 2.35 + rnd.uniform(-1, 1)
        lat = 48.85 + rnd.uniform(-1, 1)
        pipe.execute_command("GEOADD", "bench", f"{lon:.6f}", f"{lat:.6f}", f"p{i}")
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--search-requests", type=int, default=2_000)
    ap.add_argument("--pipelines", default="1,16")
    a = ap.parse_args()
    pipelines = tuple(int(p) for p in a.pipelines.split(","))
    table = commands(a.requests, a.search_requests)

    def setup(srv: Server) -> None:
        fill(srv, a.points)
        found = srv.client.execute_command(*table["GEOSEARCH 100km COUNT 10 WITHDIST"][0][:8])
        print(f"{srv.kind}: {a.points} points, {len(found)} within 100 km of the center")

    compare_commands(dict(table), setup, a.repeat, a.requests, "geo-bench-", pipelines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
