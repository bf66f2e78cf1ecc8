"""Instructions per request of the list commands on many small lists (2-3 elements each, the
size ``cow_by_type.py``'s list keys have), counted by valgrind like ``instructions.sh``.

redis-benchmark's list tests push and pop on one key (``mylist``), which soon holds a long
list; this drives the commands on 10,000 two-element lists instead, in process through
``Client.data_received`` (``profile_hotpath.py``'s fake transport), one request per chunk or
16. Each test keeps the lists' sizes steady (a push is paired with a pop) so that every round
sees the same lists::

    python benchmarks/small_list_instructions.py [--tree TREE]   # every test, -P 1 and -P 16

For each test it runs itself under ``valgrind --tool=cachegrind`` with ``--run-only 0`` and
``--run-only 3`` (feed the requests that many times after the prefill) and prints the
difference per request. TREE is a checkout to measure (a ``git worktree add`` of another
commit, with this file copied into it if it predates it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_hotpath import new_client

from minikv.protocol import encode_command

KEYS = 10_000
TESTS = ("rpush_lpop", "lpush_rpop", "lrange", "lindex", "llen", "rpush_new")


def _key(rnd: random.Random) -> bytes:
    return b"list:%06d" % rnd.randrange(KEYS)


def requests(test: str, n: int) -> list[bytes]:
    """``n`` requests of ``test`` (a push/pop test: n/2 pairs on the same key)."""
    rnd = random.Random(42)
    out: list[bytes] = []
    while len(out) < n:
        k = _key(rnd)
        if test == "rpush_lpop":
            out += [encode_command(b"RPUSH", k, b"VXK"), encode_command(b"LPOP", k)]
        elif test == "lpush_rpop":
            out += [encode_command(b"LPUSH", k, b"VXK"), encode_command(b"RPOP", k)]
        elif test == "lrange":
            out.append(encode_command(b"LRANGE", k, b"0", b"-1"))
        elif test == "lindex":
            out.append(encode_command(b"LINDEX", k, b"1"))
        elif test == "llen":
            out.append(encode_command(b"LLEN", k))
        elif test == "rpush_new":  # a new two-element list, then its deletion
            out += [
                encode_command(b"RPUSH", b"new" + k, b"a", b"b"),
                encode_command(b"DEL", b"new" + k),
            ]
        else:
            raise SystemExit(f"unknown test {test!r}")
    return out[:n]


def instructions(tree: Path, test: str, pipeline: int, requests: int, rounds: int) -> int:
    """Instructions valgrind counts for a ``--run-only rounds`` run in ``tree``."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, "benchmarks/small_list_instructions.py", "--run-only", str(rounds)]
    cmd += ["--tests", test, "--pipeline", str(pipeline), "--requests", str(requests)]
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=True)
    m = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if m is None:
        raise SystemExit(f"no instruction count from valgrind:\n{out.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def count(tree: Path, tests: list[str], requests: int) -> None:
    sha = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"tree: {tree} ({sha})")
    for pipeline in (1, 16):
        for test in tests:
            a = instructions(tree, test, pipeline, requests, 0)
            b = instructions(tree, test, pipeline, requests, 3)
            print(f"{test} P{pipeline} {(b - a) // (3 * requests)}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tests", default=",".join(TESTS))
    p.add_argument("--pipeline", type=int, default=1)
    p.add_argument("--requests", type=int, default=1600)
    p.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--run-only", type=int, metavar="ROUNDS", help="no counting: feed ROUNDS times")
    a = p.parse_args()
    if a.run_only is None:
        count(a.tree.resolve(), a.tests.split(","), a.requests)
        return 0
    _server, client = new_client()
    for i in range(0, KEYS, 1000):  # two elements per list, as cow_by_type.py's
        client.data_received(
            b"".join(
                encode_command(b"RPUSH", b"list:%06d" % j, b"x%d" % j, b"y%d" % j)
                for j in range(i, i + 1000)
            )
        )
    reqs = requests(a.tests.split(",")[0], a.requests)
    chunks = [b"".join(reqs[i : i + a.pipeline]) for i in range(0, len(reqs), a.pipeline)]
    feed = client.data_received
    for _ in range(a.run_only):
        for c in chunks:
            feed(c)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
