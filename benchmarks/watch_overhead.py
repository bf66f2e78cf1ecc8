"""What per-call timing costs: minikv from two source trees (or two configurations) side by
side, redis-benchmark against each in turn, req/s and the server's CPU time per request.

    git archive <base-commit> | tar -x -C /tmp/base
    python benchmarks/watch_overhead.py --base /tmp/base --rounds 5
    python benchmarks/watch_overhead.py --base . --base-args "--latency-tracking no" ...

Each round runs every test at every pipeline depth on the base server, then on this tree's
(alternating, so a burst of other load hits both); the report is the median over rounds of
requests/s and of CPU microseconds per request (utime+stime of the server process from
/proc/<pid>/stat, before and after each run). CPU per request is the steadier figure on a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import free_port  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def start(tree: Path, args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "minikv", "--port", str(port), "--save", "", *args]
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def run(port: int, pid: int, test: str, pipeline: int, n: int) -> tuple[float, float]:
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(
        [
            *("redis-benchmark", "-p", str(port), "-t", test, "-P", str(pipeline)),
            *("-n", str(n), "-r", "100000", "--csv"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - cpu0
    rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
    return rps, cpu / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, type=Path, help="source tree of the base server")
    ap.add_argument("--base-args", default="", help="extra server flags for the base")
    ap.add_argument("--args", default="", help="extra server flags for this tree's server")
    ap.add_argument("--tests", default="set,get,incr")
    ap.add_argument("--pipelines", default="16,1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", "--requests", type=int, default=200_000)
    opts = ap.parse_args()
    servers = {
        "base": start(opts.base.resolve(), shlex.split(opts.base_args)),
        "this": start(HERE, shlex.split(opts.args)),
    }
    results: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    try:
        time.sleep(0.5)
        for _ in range(opts.rounds):
            for pipeline in (int(p) for p in opts.pipelines.split(",")):
                for test in opts.tests.split(","):
                    for name, (proc, port) in servers.items():
                        key = (name, test, pipeline)
                        results.setdefault(key, []).append(
                            run(port, proc.pid, test, pipeline, opts.requests)
                        )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()
    print(
        f"{'test':6} {'-P':>3}  {'base req/s':>11} {'this req/s':>11}  {'base us':>8} "
        f"{'this us':>8}  {'cpu +%':>6}"
    )
    for pipeline in (int(p) for p in opts.pipelines.split(",")):
        for test in opts.tests.split(","):
            b = results[("base", test, pipeline)]
            t = results[("this", test, pipeline)]
            brps, trps = (statistics.median(x[0] for x in s) for s in (b, t))
            bcpu, tcpu = (statistics.median(x[1] for x in s) for s in (b, t))
            print(
                f"{test:6} {pipeline:>3}  {brps:>11.0f} {trps:>11.0f}  {bcpu:>8.2f} "
                f"{tcpu:>8.2f}  {100 * (tcpu / bcpu - 1):>+6.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
