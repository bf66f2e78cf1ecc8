"""Throughput of minikv against a real redis-server, measured with ``redis-benchmark``.

Starts both servers on free ports, then for every (test, pipeline depth) runs ``redis-benchmark``
against minikv and redis alternately (minikv, redis, minikv, redis... ``--repeat`` times), so
machine noise hits both the same way, and reports the median requests per second of each, their
ratio, and each server's CPU time per request (utime+stime from /proc/<pid>/stat, read before and
after every run).

    python benchmarks/throughput.py                      # all tests, unpipelined and -P 16
    python benchmarks/throughput.py --tests set,get --pipelines 16 --repeat 5 --json out.json
    python benchmarks/throughput.py --baseline     # also benchmarks/baseline_server.py (the floor)
    python benchmarks/throughput.py --tests set --server-args "--appendonly yes"  # with an AOF

``--pin`` runs the servers on the first CPU and redis-benchmark on the others (every thread of
each). On the 2-CPU machine of benchmarks/README.md, two back-to-back unpinned runs of minikv
(SET, unpipelined) used 17.3 and 24.1 us of CPU per request, two pinned ones 23.1 and 23.5:
where the scheduler puts client and server matters. It does not help against other load.

Exit status: 0 on success, 1 if redis-benchmark failed or reported an error reply, 2 if a server
did not start (or died during the run).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import free_port, machine_info

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TESTS = ["set", "get", "incr", "mset", "ping_mbulk", "ping_inline"]
SERVERS = ("minikv", "redis")
BASELINE = "baseline"  # benchmarks/baseline_server.py: uvloop + hiredis + a dict
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Goals for the ratio minikv/redis (issue 16), by pipeline depth (1 = unpipelined); the
# LRANGE_* tests have one of their own at every depth.
GOALS = {1: 0.95, 16: 0.8}
LRANGE_GOAL = 0.6


def goal_of(test: str, pipeline: int) -> float | None:
    return LRANGE_GOAL if test.lower().startswith("lrange") else GOALS.get(pipeline)


class BenchError(Exception):
    """redis-benchmark failed or reported an error reply (exit 1)."""


class ServerStartError(Exception):
    """A server did not start or died (exit 2)."""


class Server:
    """One server process (minikv or redis-server) on a free port, output to a log file."""

    def __init__(
        self, kind: str, workdir: str, cpus: set[int] | None = None, extra: list[str] | None = None
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = os.path.join(workdir, kind)
        os.makedirs(self.dir)
        self.logpath = os.path.join(self.dir, "server.log")
        if kind == "minikv":
            cmd = [sys.executable, "-m", "minikv", "--port", str(self.port), "--save", ""]
        elif kind == BASELINE:
            cmd = [
                sys.executable,
                str(Path(__file__).with_name("baseline_server.py")),
                str(self.port),
            ]
        else:
            exe = shutil.which("redis-server")
            if exe is None:
                raise ServerStartError("redis-server not found on PATH")
            cmd = [exe, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        if kind != BASELINE:
            cmd += extra or []  # later arguments win: --appendonly yes overrides the no above
        self.cmd = cmd
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._log = open(self.logpath, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if cpus is None else _pin_to(cpus),
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"{self.kind} did not answer PING within {timeout}s\n{self.tail()}")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ServerStartError(
                f"{self.kind} exited with status {self.proc.returncode}\n{self.tail()}"
            )

    def tail(self) -> str:
        try:
            return Path(self.logpath).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """utime+stime of the server process, from /proc/<pid>/stat."""
        with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
            stat = f.read()
        # Fields after the ")" that closes comm: state is field 3, utime/stime are 14 and 15.
        fields = stat[stat.rindex(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@dataclass
class Sample:
    rps: float
    seconds: float
    server_cpu_per_req: float
    client_cpu_per_req: float
    p50_ms: float
    p99_ms: float


@dataclass
class Result:
    test: str
    pipeline: int
    requests: int
    kinds: tuple[str, ...] = SERVERS
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.samples = {k: [] for k in self.kinds}

    def median(self, kind: str, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples[kind])

    def ratio(self) -> float:
        return self.median("minikv", "rps") / self.median("redis", "rps")


def default_requests(test: str, pipeline: int) -> int:
    """Requests per run: ~2-5 s for minikv on a small 2-core machine."""
    n = 100_000 if pipeline == 1 else 500_000
    if test == "mset":  # 10 keys per request
        n //= 2
    return n


def _pin_to(cpus: set[int]) -> Callable[[], None]:
    # Set in the child before exec, so every thread the program starts inherits it.
    return lambda: os.sched_setaffinity(0, cpus)


def pin_layout() -> tuple[set[int], set[int]]:
    """--pin: the servers on the first CPU, redis-benchmark on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    return {cpus[0]}, set(cpus[1:])


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_one(
    server: Server,
    test: str,
    pipeline: int,
    requests: int,
    clients: int,
    keyspace: int,
    cpus: set[int] | None = None,
) -> Sample:
    cmd = [
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-c",
        str(clients),
        "-n",
        str(requests),
        "-P",
        str(pipeline),
        "-t",
        test,
        "--csv",
    ]
    if keyspace > 0:
        cmd += ["-r", str(keyspace)]
    cpu0 = server.cpu_seconds()
    ccpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=None if cpus is None else _pin_to(cpus),
    )
    elapsed = time.perf_counter() - t0
    cpu1 = server.cpu_seconds()
    ccpu1 = children_cpu()
    server.check_alive()
    err = proc.stderr.strip()
    # Anything on stderr but the CONFIG-fetch warning is a failure ("Error from server: ...",
    # "Error writing to the server", lost clients), even when the exit status is 0.
    problems = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    if proc.returncode != 0 or problems:
        raise BenchError(
            f"redis-benchmark against {server.kind} ({test}, -P {pipeline}) exited with "
            f"{proc.returncode}: {err or proc.stdout.strip()}\ncommand: {' '.join(cmd)}"
        )
    rows = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r.get("rps")]
    # LRANGE_* tests run an LPUSH fill first and report it as its own row ("LPUSH (needed to
    # benchmark LRANGE)"): the rate is the test's own row; the CPU per request below then also
    # covers the fill's requests (one LPUSH per LRANGE), for both servers alike.
    ran = len(rows)
    rows = [r for r in rows if "needed to benchmark" not in r.get("test", "")]
    if len(rows) != 1:
        raise BenchError(
            f"expected one CSV row from redis-benchmark ({server.kind}, {test}), got: "
            f"{proc.stdout!r} {err!r}"
        )
    row = rows[0]
    return Sample(
        rps=float(row["rps"]),
        seconds=elapsed,
        server_cpu_per_req=(cpu1 - cpu0) / (requests * ran),
        client_cpu_per_req=(ccpu1 - ccpu0) / (requests * ran),
        p50_ms=float(row["p50_latency_ms"]),
        p99_ms=float(row["p99_latency_ms"]),
    )


def format_table(results: list[Result]) -> str:
    kinds = results[0].kinds if results else SERVERS
    head = (
        "test",
        "pipeline",
        *(f"{k} req/s" for k in kinds),
        "ratio",
        "goal",
        *(f"{k} CPU us/req" for k in kinds),
    )
    rows = [head]
    for r in results:
        goal = goal_of(r.test, r.pipeline)
        ratio = r.ratio()
        rows.append(
            (
                r.test.upper(),
                str(r.pipeline),
                *(f"{r.median(k, 'rps'):,.0f}" for k in kinds),
                f"{ratio:.2f}",
                "-" if goal is None else (f">={goal} ok" if ratio >= goal else f">={goal} MISS"),
                *(f"{r.median(k, 'server_cpu_per_req') * 1e6:.2f}" for k in kinds),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--requests",
        "-n",
        type=int,
        default=None,
        help="requests per redis-benchmark run (default: 100000 unpipelined, 500000 pipelined, "
        "halved for MSET)",
    )
    p.add_argument("--repeat", type=int, default=3, help="alternations per test; median taken")
    p.add_argument(
        "--tests", default=",".join(DEFAULT_TESTS), help="comma-separated redis-benchmark tests"
    )
    p.add_argument("--pipelines", default="1,16", help="comma-separated -P values (default 1,16)")
    p.add_argument("--clients", "-c", type=int, default=50, help="parallel connections")
    p.add_argument(
        "--keyspace", "-r", type=int, default=100_000, help="-r keyspace size (0: one fixed key)"
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also run benchmarks/baseline_server.py (uvloop + hiredis + dict: the Python floor)",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="servers on the first CPU, redis-benchmark on the others (steadier figures; see "
        "benchmarks/README.md)",
    )
    p.add_argument(
        "--server-args",
        default="",
        help='extra settings for both servers, e.g. "--appendonly yes --appendfsync always"',
    )
    p.add_argument("--json", metavar="FILE", help="also write machine info and all samples here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("redis-benchmark") is None:
        print("redis-benchmark not found on PATH", file=sys.stderr)
        return 1
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    pipelines = [int(p) for p in args.pipelines.split(",")]
    info = machine_info()
    print(
        f"# {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"uvloop {info['uvloop']}, hiredis {info['hiredis']}; {info['redis-server']}"
    )
    print(
        f"# -c {args.clients}, -r {args.keyspace}, repeat {args.repeat} "
        "(minikv and redis alternate; medians shown)"
    )
    kinds = (*SERVERS, BASELINE) if args.baseline else SERVERS
    server_cpus, client_cpus = pin_layout() if args.pin else (None, None)
    if server_cpus is not None and client_cpus is not None:
        print(f"# pinned: servers on CPUs {sorted(server_cpus)}, client on {sorted(client_cpus)}")
    results: list[Result] = []
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="minikv-bench-") as workdir:
        try:
            for kind in kinds:
                servers[kind] = Server(kind, workdir, server_cpus, args.server_args.split())
            for test in tests:
                for pipeline in pipelines:
                    n = args.requests or default_requests(test, pipeline)
                    res = Result(test, pipeline, n, kinds)
                    for _ in range(args.repeat):
                        for kind in kinds:
                            res.samples[kind].append(
                                run_one(
                                    servers[kind],
                                    test,
                                    pipeline,
                                    n,
                                    args.clients,
                                    args.keyspace,
                                    client_cpus,
                                )
                            )
                    results.append(res)
                    rates = "  ".join(f"{k} {res.median(k, 'rps'):>10,.0f}" for k in kinds)
                    print(
                        f"  {test.upper():12} -P {pipeline:<3} {rates}  ratio {res.ratio():.2f}",
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
    print()
    print(format_table(results))
    if args.json:
        doc = {
            "machine": info,
            "options": vars(args),
            "results": [
                {
                    "test": r.test,
                    "pipeline": r.pipeline,
                    "requests": r.requests,
                    "ratio": r.ratio(),
                    "median": {
                        k: {
                            "rps": r.median(k, "rps"),
                            "server_cpu_per_req": r.median(k, "server_cpu_per_req"),
                            "client_cpu_per_req": r.median(k, "client_cpu_per_req"),
                        }
                        for k in kinds
                    },
                    "samples": {k: [vars(s) for s in v] for k, v in r.samples.items()},
                }
                for r in results
            ],
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
