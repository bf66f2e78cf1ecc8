"""Machinery shared by the benchmarks: servers on free ports, load and probe processes, INFO polls.

- ``Server``: a minikv or redis-server process with its own data dir on a free port (or, with
  ``Server.external``, a server someone else runs), restartable, optionally pinned to CPUs;
  ``info``, the pid of its fork child, its snapshot file.
- ``Helper``: a function in its own spawned process (a whole interpreter, so the load it makes is
  not throttled by the harness's GIL), pinned to the clients' CPUs; ``writer_main`` overwrites
  random existing keys in pipelined batches (``typed_writer_main``: modifies hashes, sets, lists
  or sorted sets in place), ``pinger_main`` is the latency probe (one PING at a time). Both
  report their raw timestamps at the end and live counters while running.
- ``InfoSampler``: a thread polling ``INFO persistence stats memory`` (and, for a local server,
  the fork child's ``Private_Dirty``) at a fixed period.
- ``cpu_layout``, ``machine_info``, ``loadavg``, ``percentile``, ``populate`` (strings),
  ``populate_typed`` (any of ``KEY_TYPES``, or ``mix``), ``start_bgsave``.
- ``redis_benchmark`` / ``compare_commands``: redis-benchmark runs of command lines of one's
  own on both servers, as a table of ratios (the data-command benchmarks).

Used by ``snapshot.py``, ``snapshot_load.py`` and (``free_port``, ``machine_info``)
``throughput.py``. All timestamps are ``time.monotonic_ns()``: CLOCK_MONOTONIC is system-wide, so
times taken in the helper processes compare with the harness's.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class BenchError(Exception):
    """A save failed, a reply was wrong, or a helper did not report (exit 1)."""


class ServerStartError(Exception):
    """A server did not start or died (exit 2)."""


def now_ns() -> int:
    return time.monotonic_ns()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list; NaN if empty."""
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for mod in ("uvloop", "hiredis"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "not installed"

    def version_of(exe: str) -> str:
        if shutil.which(exe) is None:
            return "not installed"
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
        "redis-benchmark": version_of("redis-benchmark"),
        "redis-server": version_of("redis-server"),
    }


def cpu_layout() -> tuple[set[int], set[int]] | None:
    """(server CPUs, client CPUs) splitting the CPUs this process may use, or None if < 2.

    Two CPUs: the server on the first, every client on the second. More: the server gets two
    (so its fork child can run beside it), the clients the rest. A fork child inherits its
    parent's affinity, so with two CPUs the saving child shares the server's CPU.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    n_server = 1 if len(cpus) < 4 else 2
    return set(cpus[:n_server]), set(cpus[n_server:])


def pin(pid: int, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(pid, cpus)


def private_dirty_bytes(pid: int) -> int | None:
    """Private_Dirty of a process (its pages written since fork), None if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            data = f.read()
    except OSError:
        return None
    for line in data.split(b"\n"):
        if line.startswith(b"Private_Dirty:"):
            return int(line.split()[1]) * 1024
    return None


# --- servers ---------------------------------------------------------------------------------


class Server:
    """One server process (minikv or redis-server) with its own data dir, restartable.

    ``Server.external(kind, host, port)`` wraps a server this harness did not start: it cannot
    be restarted, and its pid is known only when it runs on this machine.
    """

    def __init__(
        self,
        kind: str,
        workdir: str,
        cpus: set[int] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        """``extra``: settings for the server's command line (``--appendonly yes`` ...)."""
        self.kind = kind
        self.host = "127.0.0.1"
        self.port = free_port()
        self.cpus = cpus
        self.dir = os.path.join(workdir, kind)
        os.makedirs(self.dir, exist_ok=True)
        self.logpath = os.path.join(self.dir, "server.log")
        if kind == "minikv":
            self.cmd = [sys.executable, "-m", "minikv", "--port", str(self.port)]
            self.cmd += ["--dir", self.dir, "--save", "", "--enable-debug-command", "yes"]
        else:
            exe = shutil.which("redis-server")
            if exe is None:
                raise ServerStartError("redis-server not found on PATH")
            self.cmd = [exe, "--port", str(self.port), "--dir", self.dir, "--save", ""]
            self.cmd += ["--appendonly", "no", "--enable-debug-command", "yes"]
        self.cmd += extra or []  # later arguments win (--appendonly yes over the no above)
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), self.env.get("PYTHONPATH")])
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.external_pid: int | None = None
        self._log: Any = None
        self._client: Any = None

    @classmethod
    def external(cls, kind: str, host: str, port: int) -> Server:
        self = cls.__new__(cls)
        self.kind, self.host, self.port, self.cpus = kind, host, port, None
        self.dir = self.logpath = ""
        self.cmd = []
        self.env = {}
        self.proc = None
        self._log = self._client = None
        self.external_pid = None
        if host in LOCAL_HOSTS:
            pid = int(self.info("server").get("process_id", 0))
            if pid and os.path.exists(f"/proc/{pid}"):
                self.external_pid = pid
        return self

    @property
    def managed(self) -> bool:
        """True if this harness started the process (it can restart and stop it)."""
        return bool(self.cmd)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else self.external_pid

    def start(self, timeout: float = 300.0) -> float:
        """Start the process; return seconds from the spawn until PING answers +PONG."""
        self._log = open(self.logpath, "ab")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.dir, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        # Before it has loaded anything (Python takes ~100 ms to start); its fork children
        # inherit the mask.
        pin(self.proc.pid, self.cpus)
        deadline = time.monotonic() + timeout
        sock: socket.socket | None = None
        try:
            while time.monotonic() < deadline:
                self.check_alive()
                if sock is None:
                    try:
                        sock = socket.create_connection((self.host, self.port), timeout=5)
                    except OSError:
                        time.sleep(0.002)
                        continue
                try:
                    sock.sendall(PING)
                    reply = sock.recv(256)
                except OSError:
                    sock.close()
                    sock = None
                    continue
                if reply.startswith(PONG):
                    return time.perf_counter() - t0
                if not reply:  # closed on us: reconnect
                    sock.close()
                    sock = None
                time.sleep(0.002)  # e.g. -LOADING while redis reads its file
        finally:
            if sock is not None:
                sock.close()
        self.stop()
        raise ServerStartError(f"{self.kind} did not answer PING within {timeout}s\n{self.tail()}")

    @property
    def client(self) -> Any:
        """A redis-py client (RESP2, no timeout: DEBUG POPULATE of 1M keys takes seconds)."""
        if self._client is None:
            import redis

            self._client = redis.Redis(
                host=self.host, port=self.port, protocol=2, socket_timeout=None
            )
        return self._client

    def new_client(self) -> Any:
        """A separate connection (for a thread that polls while the main one is busy)."""
        import redis

        return redis.Redis(host=self.host, port=self.port, protocol=2, socket_timeout=30)

    def info(self, *sections: str) -> dict[str, Any]:
        return self.client.execute_command("INFO", *sections)

    def check_alive(self) -> None:
        if not self.managed:
            return
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise ServerStartError(f"{self.kind} exited with status {code}\n{self.tail()}")

    def tail(self) -> str:
        try:
            return Path(self.logpath).read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def minor_faults(self) -> int:
        """minflt of the server process (its copy-on-write faults show here), /proc/<pid>/stat."""
        assert self.pid is not None
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            stat = f.read()
        # Fields after the ")" that closes comm: state is field 3, minflt is field 10.
        return int(stat[stat.rindex(b")") + 2 :].split()[7])

    def child_pid(self) -> int | None:
        """The pid of the server's (first) child process, i.e. its saving fork; None if none."""
        pid = self.pid
        if pid is None:
            return None
        try:
            # The main thread forks, so the child is listed under the main task.
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    def snapshot_path(self) -> str:
        """Where the server writes its snapshot (CONFIG GET dir + dbfilename)."""
        cfg = self.client.config_get("dir")
        cfg |= self.client.config_get("dbfilename")
        return os.path.join(_text(cfg["dir"]), _text(cfg["dbfilename"]))

    def shutdown_nosave(self, timeout: float = 60.0) -> None:
        """SHUTDOWN NOSAVE and wait for the process to exit (the snapshot file stays)."""
        import redis

        try:
            self.client.execute_command("SHUTDOWN", "NOSAVE")
        except redis.ConnectionError:
            pass  # the server closes the connection instead of replying: expected
        self._drop_client()
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ServerStartError(f"{self.kind} did not exit after SHUTDOWN NOSAVE") from None
        self._log.close()

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self) -> None:
        self._drop_client()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def populate(server: Server, keys: int, value_size: int) -> float:
    """Fill the server with ``key:0`` .. ``key:<keys-1>`` of ``value_size`` bytes; seconds taken.

    DEBUG POPULATE where the server allows it, else pipelined MSETs of 1000 keys."""
    import redis

    t0 = time.perf_counter()
    try:
        server.client.execute_command("DEBUG", "POPULATE", keys, "key", value_size)
    except redis.ResponseError:
        value = b"v" * value_size
        pipe = server.client.pipeline(transaction=False)
        for start in range(0, keys, 1000):
            pipe.mset({b"key:%d" % i: value for i in range(start, min(keys, start + 1000))})
            if len(pipe) >= 10:
                pipe.execute()
        pipe.execute()
    dbsize = int(server.client.dbsize())
    if dbsize < keys:
        raise BenchError(f"{server.kind}: DBSIZE {dbsize} after populating, expected {keys}")
    return time.perf_counter() - t0


# --- keys of other types: what populate_typed loads and typed_writer_main modifies ----------------

KEY_TYPES = ("string", "hash", "set", "list", "zset")
# Members per collection: small, like most real hashes/sets/lists/zsets (Redis keeps these in
# listpacks; minikv in small dicts / one quicklist block).
MEMBERS = 4


def key_type(kind: str, i: int) -> str:
    """The type of ``key:<i>`` in a dataset of ``kind`` (``mix``: the five in turn by number)."""
    return KEY_TYPES[i % len(KEY_TYPES)] if kind == "mix" else kind


def element_size(value_size: int) -> int:
    """Bytes of each collection member/value: the collection holds about ``value_size`` bytes in
    all, like a string key of that size (at least 8, so members stay distinct and readable)."""
    return max(8, value_size // MEMBERS)


def _pad(tag: bytes, size: int) -> bytes:
    return tag + b"x" * max(0, size - len(tag))


def resp(*args: bytes) -> bytes:
    """One command in RESP."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(out)


def members(value_size: int) -> list[bytes]:
    """The members of every set and sorted set (and the elements of every list)."""
    size = element_size(value_size)
    return [_pad(b"m%d:" % j, size) for j in range(MEMBERS)]


def create_args(kind: str, key: bytes, value_size: int) -> list[bytes]:
    """The command creating ``key`` as a ``kind`` (not ``mix``) of about ``value_size`` bytes."""
    if kind == "string":
        return [b"SET", key, b"v" * value_size]
    ms = members(value_size)
    if kind == "hash":
        value = b"v" * element_size(value_size)
        return [b"HSET", key, *(x for j in range(MEMBERS) for x in (b"f%d" % j, value))]
    if kind == "set":
        return [b"SADD", key, *ms]
    if kind == "list":
        return [b"RPUSH", key, *ms]
    if kind == "zset":
        return [b"ZADD", key, *(x for j, m in enumerate(ms) for x in (b"%d" % j, m))]
    raise ValueError(f"unknown key type {kind!r}")


def populate_typed(server: Server, keys: int, value_size: int, kind: str) -> float:
    """Fill the server with ``key:0`` .. ``key:<keys-1>`` of type ``kind`` (``mix``: see
    ``key_type``); seconds taken. Strings go through ``populate``; collections of ``MEMBERS``
    members through pipelines of 1000 commands (DEBUG POPULATE only makes strings). Then checks
    the TYPE of the first keys."""
    if kind == "string":
        return populate(server, keys, value_size)
    t0 = time.perf_counter()
    sock = _connect(server.host, server.port)
    try:
        for start in range(0, keys, 1000):
            stop = min(keys, start + 1000)
            payload = b"".join(
                resp(*create_args(key_type(kind, i), b"key:%d" % i, value_size))
                for i in range(start, stop)
            )
            sock.sendall(payload)
            _read_replies(sock, stop - start, server.kind)
    finally:
        sock.close()
    dbsize = int(server.client.dbsize())
    if dbsize < keys:
        raise BenchError(f"{server.kind}: DBSIZE {dbsize} after populating, expected {keys}")
    check_types(server, keys, kind)
    return time.perf_counter() - t0


def _read_replies(sock: socket.socket, n: int, who: str) -> None:
    """Read ``n`` integer/status replies; raise on an error reply."""
    buf = b""
    lines = 0
    while lines < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
        lines = buf.count(b"\r\n")
    if b"-" in [line[:1] for line in buf.split(b"\r\n")]:
        raise BenchError(f"{who}: populating got {buf[:200]!r}")


def check_types(server: Server, keys: int, kind: str, sample: int = 10) -> None:
    """Raise unless ``key:0`` .. ``key:<sample-1>`` have the TYPE ``kind`` says."""
    for i in range(min(keys, sample)):
        got = _text(server.client.type(b"key:%d" % i))
        if got != key_type(kind, i):
            raise BenchError(f"{server.kind}: TYPE key:{i} is {got}, expected {key_type(kind, i)}")


def start_bgsave(server: Server, op: str = "bgsave") -> None:
    """Start the fork: ``bgsave`` (a snapshot) or ``bgrewriteaof`` (an AOF rewrite)."""
    reply = server.client.execute_command(op.upper())
    started = (
        "Background saving started"
        if op == "bgsave"
        else "Background append only file rewriting started"
    )
    # redis-py turns "+Background saving started" into True.
    if reply is not True and reply not in (started.encode(), started):
        raise BenchError(f"{server.kind}: {op.upper()} replied {reply!r}")


# --- helper processes: the PING prober and the writer -----------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return bytes(buf)


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# Slots of the ``live`` RawArray('d') a helper updates while it runs (read by the live view).
LIVE_COUNT = 0  # pings / SETs completed so far
LIVE_P99_MS = 1  # the probe's p99 over its last ~0.5 s window
LIVE_MAX_MS = 2  # the probe's max over that window
LIVE_SLOTS = 3


def pinger_main(host: str, port: int, interval: float, live: Any, stop: Any, conn: Any) -> None:
    """Send PING, wait for +PONG, repeat (one at a time, ``interval`` seconds apart; 0: back to
    back) until ``stop``; then send the send times and round trips (ns) back."""
    sock = _connect(host, port)
    sent = array("q")
    rtt = array("q")
    conn.send("ready")
    n = 0
    window: list[int] = []
    window_end = now_ns() + 500_000_000
    # Checking the Event costs a few microseconds (a semaphore): do it every 32 pings.
    while n % 32 or not stop.is_set():
        t0 = now_ns()
        sock.sendall(PING)
        reply = _recv_exact(sock, len(PONG))
        t1 = now_ns()
        if reply != PONG:
            raise BenchError(f"PING got {reply!r}")
        sent.append(t0)
        rtt.append(t1 - t0)
        n += 1
        if live is not None:
            window.append(t1 - t0)
            if t1 >= window_end:
                window.sort()
                live[LIVE_COUNT] = n
                live[LIVE_P99_MS] = percentile(window, 99) / 1e6
                live[LIVE_MAX_MS] = window[-1] / 1e6
                window.clear()
                window_end = t1 + 500_000_000
        if interval:
            time.sleep(interval)
    sock.close()
    conn.send_bytes(sent.tobytes())
    conn.send_bytes(rtt.tobytes())


def writer_main(
    host: str,
    port: int,
    nkeys: int,
    rate: float | None,
    batch: int,
    value_size: int,
    seed: int,
    live: Any,
    stop: Any,
    conn: Any,
) -> None:
    """Overwrite random existing keys (``key:<n>``) with ``value_size``-byte values.

    Each batch is one pipelined write of ``batch`` SETs; its replies are read before the next.
    With a ``rate`` (SETs/s), batches go on a fixed schedule and a server slower than ``rate``
    simply gets fewer; without one, back to back. Sends back each batch's completion time.
    """
    typed_writer_main(host, port, nkeys, rate, batch, value_size, seed, "string", live, stop, conn)


def typed_writer_main(
    host: str,
    port: int,
    nkeys: int,
    rate: float | None,
    batch: int,
    value_size: int,
    seed: int,
    kind: str,
    live: Any,
    stop: Any,
    conn: Any,
) -> None:
    """``writer_main`` for a dataset made by ``populate_typed(..., kind)``: each write modifies
    one random existing key in place, keeping its size, so key count and memory stay steady:

    - string: SET to a new ``value_size``-byte value (``+OK``);
    - hash: HSET of one of its existing fields (``:0``, no field added);
    - set: SADD then SREM of a member of this writer's own (``:1`` twice: writers never race
      on a member, so the replies are fixed; between the two the set has one member more);
    - list: LSET of one of its elements (``+OK``);
    - zset: ZADD of a new score to one of its members (``:0``, no member added).

    Any other reply stops the writer with BenchError (the harness then fails: exit 1).
    """
    sock = _connect(host, port)
    rng = random.Random(seed)
    value = b"w" * value_size
    size = element_size(value_size)
    elem = _pad(b"w", size)
    ms = members(value_size)
    own = _pad(b"writer%d:" % seed, size)
    set_cmd = b"*3\r\n$4\r\nSADD\r\n$%d\r\n%b\r\n" + resp(own)[4:]
    set_cmd += b"*3\r\n$4\r\nSREM\r\n$%d\r\n%b\r\n" + resp(own)[4:]
    fixed = {
        "string": b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n" + resp(value)[4:],
        "set": set_cmd,
    }
    replies = {"string": b"+OK\r\n", "hash": b":0\r\n", "set": b":1\r\n:1\r\n"}
    replies |= {"list": b"+OK\r\n", "zset": b":0\r\n"}

    pairs = {t: f.count(b"%b") for t, f in fixed.items()}

    def command(key: bytes, t: str) -> bytes:
        if t in fixed:
            return fixed[t] % ((len(key), key) * pairs[t])
        j = rng.randrange(MEMBERS)
        if t == "hash":
            return resp(b"HSET", key, b"f%d" % j, elem)
        if t == "list":
            return resp(b"LSET", key, b"%d" % j, elem)
        return resp(b"ZADD", key, b"%d" % rng.randrange(1_000_000), ms[j])

    types = [kind] if kind != "mix" else list(KEY_TYPES)
    same = len(types) == 1
    expect = replies[kind] * batch if same else b""
    done = array("q")
    conn.send("ready")
    interval_ns = int(1e9 * batch / rate) if rate else 0
    next_t = now_ns()
    i = 0
    while i % 16 or not stop.is_set():
        if kind == "string":  # the hot path of the string benchmarks: as lean as it was
            cmd = fixed["string"]
            keys = [b"key:%d" % rng.randrange(nkeys) for _ in range(batch)]
            payload = b"".join([cmd % (len(k), k) for k in keys])
        else:
            nums = [rng.randrange(nkeys) for _ in range(batch)]
            kinds = [key_type(kind, n) for n in nums]
            payload = b"".join(
                [command(b"key:%d" % n, t) for n, t in zip(nums, kinds, strict=True)]
            )
        if not same:
            expect = b"".join([replies[t] for t in kinds])
        if interval_ns:
            delay = next_t - now_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
        sock.sendall(payload)
        reply = _recv_exact(sock, len(expect))
        if reply != expect:
            raise BenchError(f"{kind} write batch got {reply[:100]!r}")
        t = now_ns()
        done.append(t)
        # Fixed schedule, but never bank more than one batch of lag (no bursts to catch up).
        next_t = max(next_t + interval_ns, t - interval_ns)
        i += 1
        if live is not None:
            live[LIVE_COUNT] = i * batch
    sock.close()
    conn.send_bytes(done.tobytes())


class Helper:
    """A helper function running in its own (spawned) process, so it owns a whole interpreter.

    ``target(*args, live, stop, conn)`` is called with a shared ``live`` array of doubles (see
    ``LIVE_*``) when ``live`` is true, else ``None``.
    """

    def __init__(
        self,
        target: Callable[..., None],
        *args: Any,
        cpus: set[int] | None = None,
        live: bool = False,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.stop_event = ctx.Event()
        self.live = ctx.RawArray("d", LIVE_SLOTS) if live else None
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(
            target=target, args=(*args, self.live, self.stop_event, child), daemon=True
        )
        self.proc.start()
        assert self.proc.pid is not None
        pin(self.proc.pid, cpus)
        child.close()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            self.proc.kill()
            raise BenchError(f"helper {target.__name__} did not start")

    def finish(self, nparts: int) -> list[array[int]]:
        """Stop the helper and receive its ``nparts`` arrays of int64."""
        self.stop_event.set()
        parts = []
        for _ in range(nparts):
            if not self.conn.poll(30):
                self.proc.kill()
                raise BenchError("helper process did not report (did the server fail?)")
            a = array("q")
            try:
                a.frombytes(self.conn.recv_bytes())
            except EOFError:  # it died, e.g. a writer that got a wrong reply (its stderr says)
                raise BenchError("helper process failed before reporting") from None
            parts.append(a)
        self.proc.join(10)
        return parts

    def close(self) -> None:
        """After an error: stop the process if it is still running (no report wanted)."""
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(10)


# --- INFO sampling ------------------------------------------------------------------------------

# INFO fields kept per sample: (field, name in the sample).
INFO_FIELDS = (
    ("rdb_bgsave_in_progress", "bgsave_in_progress"),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
    ("current_cow_size", "cow_bytes"),
    ("current_cow_peak", "cow_peak_bytes"),
    ("current_fork_perc", "fork_perc"),
    ("current_save_keys_processed", "save_keys_processed"),
    ("current_save_keys_total", "save_keys_total"),
    ("instantaneous_ops_per_sec", "ops_per_sec"),
    ("used_memory_rss", "rss_bytes"),
    ("total_forks", "total_forks"),
)


class InfoSampler(threading.Thread):
    """Polls ``INFO persistence stats memory`` every ``interval`` seconds on its own connection.

    Each sample is a dict: ``t_sent_ns`` and ``t_ns`` (monotonic: INFO sent, reply read), the
    ``INFO_FIELDS``, and ``child_private_dirty_bytes``: the fork child's Private_Dirty read by this
    harness from /proc/<child>/smaps_rollup (None when there is no child or the server is not
    local).
    ``on_sample`` (if given) is called with each sample from this thread.
    """

    def __init__(
        self,
        server: Server,
        interval: float = 0.1,
        on_sample: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"info-{server.kind}")
        self.server = server
        self.interval = interval
        self.on_sample = on_sample
        self.samples: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._client = server.new_client()

    def run(self) -> None:
        next_t = time.monotonic()
        try:
            while not self._halt.is_set():
                self.samples.append(self.sample())
                if self.on_sample is not None:
                    self.on_sample(self.samples[-1])
                next_t += self.interval
                self._halt.wait(max(0.0, next_t - time.monotonic()))
        except BaseException as e:  # reported by stop()
            self.error = e
        finally:
            self._client.close()

    def sample(self) -> dict[str, Any]:
        t0 = now_ns()
        info = self._client.execute_command("INFO", "persistence", "stats", "memory")
        s: dict[str, Any] = {"t_sent_ns": t0, "t_ns": now_ns()}
        for field, name in INFO_FIELDS:
            v = info.get(field)
            s[name] = v if isinstance(v, int | float) or v is None else float(v)
        forking = s["bgsave_in_progress"] or s["aof_rewrite_in_progress"]
        child = self.server.child_pid() if forking else None
        s["child_private_dirty_bytes"] = private_dirty_bytes(child) if child else None
        return s

    def close(self) -> None:
        """Stop without reporting errors (cleanup after another failure)."""
        self._halt.set()
        if self.is_alive():
            self.join(10)

    def stop(self) -> list[dict[str, Any]]:
        self._halt.set()
        self.join(10)
        if self.error is not None:
            raise BenchError(f"INFO sampler of {self.server.kind} failed: {self.error!r}")
        return self.samples


# --- redis-benchmark with command lines of its own ---------------------------------------------

#: One command line to benchmark: its words, extra redis-benchmark options (``-r 100000`` for
#: ``__rand_int__``), and its request count (0: the run's default).
BenchCommand = tuple[list[str], list[str], int]


def redis_benchmark(
    srv: Server, words: list[str], pipeline: int, requests: int, extra: list[str] | None = None
) -> float:
    """Requests per second of ``redis-benchmark -c 50 [extra]`` sending ``words``."""
    import csv
    import io

    cmd = ["redis-benchmark", "-h", srv.host, "-p", str(srv.port), "-c", "50", *(extra or [])]
    cmd += ["-n", str(requests), "-P", str(pipeline), "--csv", *words]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    srv.check_alive()
    problems = [ln for ln in proc.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
    if proc.returncode or problems:
        raise BenchError(f"redis-benchmark failed on {srv.kind}: {proc.stderr or proc.stdout}")
    rows = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r.get("rps")]
    return float(rows[0]["rps"])


def compare_commands(
    commands: dict[str, list[str] | BenchCommand],
    setup: Callable[[Server], None],
    repeat: int,
    requests: int,
    prefix: str = "bench-",
    pipelines: tuple[int, ...] = (1, 16),
) -> None:
    """A markdown table of each command's throughput on minikv and redis-server at each of
    ``pipelines`` (4x the requests when pipelined), the two servers alternating ``repeat``
    times; the median of each. ``setup`` loads the data the commands read, on each server."""
    import statistics
    import tempfile

    workdir = tempfile.mkdtemp(prefix=prefix)
    servers = [Server("minikv", workdir), Server("redis", workdir)]
    for srv in servers:
        srv.start()
        setup(srv)
    print(f"load average before: {loadavg()}")
    print("| command | -P | requests | minikv rps | redis rps | ratio |")
    print("|---|---|---|---|---|---|")
    try:
        for name, spec in commands.items():
            words, extra, count = spec if isinstance(spec, tuple) else (spec, [], 0)
            for pipeline in pipelines:
                n = (count or requests) * (1 if pipeline == 1 else 4)
                got: dict[str, list[float]] = {"minikv": [], "redis": []}
                for _ in range(repeat):
                    for srv in servers:
                        got[srv.kind].append(redis_benchmark(srv, words, pipeline, n, extra))
                mk, rd = (statistics.median(got[k]) for k in ("minikv", "redis"))
                row = f"| {name} | {pipeline} | {n:,} | {mk:,.0f} | {rd:,.0f} | {mk / rd:.2f} |"
                print(row, flush=True)
    finally:
        for srv in servers:
            srv.stop()
