"""Test helpers: start real servers (minikv and redis-server) on free ports, raw sockets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def wait_for(cond: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something true (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A real server process on a free port; ``kind`` is "minikv" or "redis"."""

    def __init__(
        self,
        *args: str,
        kind: str = "minikv",
        dir: str | None = None,
        port: int | None = None,
        bind: str = "127.0.0.1",
        conf: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``conf``: a config file, given first as servers take it (flags override it).
        ``env``: extra environment variables (``MINIKV_PURE``...)."""
        self.kind = kind
        self.port = port or free_port()
        self.host = "127.0.0.1" if bind in ("127.0.0.1", "0.0.0.0") else bind
        self._own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix=f"{kind}-test-")
        self.logfile = os.path.join(self.dir, f"{kind}.log")
        if kind == "minikv":
            cmd = [sys.executable, "-m", "minikv"]
        else:
            cmd = [shutil.which("redis-server") or "redis-server"]
        if conf is not None:
            cmd.append(conf)
        cmd += [
            "--port",
            str(self.port),
            "--bind",
            bind,
            "--dir",
            self.dir,
            "--logfile",
            self.logfile,
        ]
        if not any(a == "--save" for a in args):
            cmd += ["--save", ""]
        if kind == "redis":
            cmd += ["--enable-debug-command", "yes"] if "--enable-debug-command" not in args else []
        elif "--enable-debug-command" not in args:
            cmd += ["--enable-debug-command", "yes"]
        cmd += list(args)
        self.cmd = cmd
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(
                    f"{self.kind} exited with {self.proc.returncode}: {err}\n{self.log()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    data = s.recv(100)
                    if data and not data.startswith(b"-LOADING"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not start on port {self.port}\n{self.log()}")

    def log(self) -> str:
        try:
            return Path(self.logfile).read_text()
        except OSError:
            return ""

    def client(self, protocol: int = 2, **kw: Any) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, protocol=protocol, **kw)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


class Raw:
    """A raw socket for protocol tests: send bytes, read whatever comes back."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self) -> bytes:
        """One complete RESP reply (as raw bytes)."""
        import hiredis

        incomplete = object()  # not False: a RESP3 reply can be the boolean false
        reader = hiredis.Reader(notEnoughData=incomplete)
        buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return buf
            buf += chunk
            reader.feed(chunk)
            if reader.gets() is not incomplete:
                return buf

    def read_until_closed(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"connection not closed; got {buf[:200]!r}") from None
            except ConnectionResetError:
                return buf
            if not chunk:
                return buf
            buf += chunk

    def request(self, data: bytes) -> bytes:
        self.send(data)
        return self.read_reply()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def have_redis_server() -> bool:
    return shutil.which("redis-server") is not None


def encode(*args: bytes | str | int) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


def run_raw(port: int, commands: list[tuple[Any, ...]], resp: int = 2) -> list[bytes]:
    """Send each command on one fresh connection and return each raw reply, unparsed."""
    with Raw(port) as conn:
        if resp == 3:
            conn.request(encode("HELLO", "3"))
        return [conn.request(encode(*cmd)) for cmd in commands]


def key_contents(c: Any, key: Any) -> Any:
    """Everything a client can see of a key (times included: they come from the payload)."""
    t = c.type(key)
    if t == b"string":
        v: Any = c.get(key)
    elif t == b"list":
        v = c.lrange(key, 0, -1)
    elif t == b"set":
        v = sorted(c.smembers(key))
    elif t == b"zset":
        v = c.zrange(key, 0, -1, withscores=True)
    elif t == b"hash":
        v = c.hgetall(key)
    elif t == b"stream":
        v = (
            c.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", 0),
            c.execute_command("XRANGE", key, "-", "+"),
        )
    else:
        v = None
    return t, v, c.pexpiretime(key)
