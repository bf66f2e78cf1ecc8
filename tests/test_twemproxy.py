"""Sharding behind twemproxy, as docker/compose.sharded.yml runs it, without Docker.

Three minikv processes and ``nutcracker`` (Debian's package) started with the SHIPPED
docker/twemproxy/nutcracker.yml, its listen address and server addresses rewritten to free ports
(server names, hash, distribution and hash tags kept: the names decide where keys go). redis-py
talks to the proxy in RESP2 without CLIENT SETINFO: twemproxy closes the connection on commands it
does not know (HELLO, CLIENT...). Skipped when nutcracker is not installed.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from helpers import ROOT, Raw, ServerProcess, encode, free_port
from test_deploy import STAGE_NAMES, exec_form

SHIPPED = ROOT / "docker" / "twemproxy" / "nutcracker.yml"
NKEYS = 300


def find_nutcracker() -> str | None:
    found = shutil.which("nutcracker")
    if found is None and os.access("/usr/sbin/nutcracker", os.X_OK):
        found = "/usr/sbin/nutcracker"  # Debian puts it in sbin, not on a user's PATH
    return found


def proxy_client(port: int, **kw: Any) -> redis.Redis:
    """A redis-py client fit for twemproxy: RESP2, and no CLIENT SETINFO on connect."""
    params = inspect.signature(redis.Redis.__init__).parameters
    quiet = {"driver_info": None} if "driver_info" in params else {"lib_name": None}
    return redis.Redis(port=port, protocol=2, **quiet, **kw)


def rewrite_config(shipped: dict, listen_port: int, shard_ports: list[int]) -> dict:
    """The shipped pool with its listen address and each server's host:port replaced, in order;
    weights and names kept."""
    (name, pool), *rest = shipped.items()
    assert not rest, "one pool"
    pool = dict(pool)
    pool["listen"] = f"127.0.0.1:{listen_port}"
    servers = []
    assert len(pool["servers"]) == len(shard_ports)
    for line, port in zip(pool["servers"], shard_ports, strict=True):
        addr, server_name = line.split()
        weight = addr.split(":")[2]
        servers.append(f"127.0.0.1:{port}:{weight} {server_name}")
    pool["servers"] = servers
    return {name: pool}


def proxy_command(nutcracker: str, conf: Path, tmp: Path) -> list[str]:
    """The twemproxy image's ENTRYPOINT + CMD (docker/Dockerfile), with the config path replaced
    and a free stats port; as root, run as the image's USER (so a log target that user cannot
    open fails here as it would in the container). Logs go to stderr."""
    stage = STAGE_NAMES["twemproxy"]
    argv = exec_form(stage.last("ENTRYPOINT") or "") + exec_form(stage.last("CMD") or "")
    assert argv[0] == "nutcracker"
    argv[0] = nutcracker
    argv = [f"--conf-file={conf}" if a.startswith("--conf-file=") else a for a in argv] + [
        f"--stats-port={free_port()}",
        "--stats-addr=127.0.0.1",
    ]
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is not None:
        uid, _, gid = (stage.last("USER") or "0").partition(":")
        tmp.chmod(0o755)  # the image's user reads the config from here
        conf.chmod(0o644)
        argv = [setpriv, f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", *argv]
    return argv


class Cluster:
    def __init__(self, nutcracker: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="twemproxy-test-"))
        self.shards: list[ServerProcess] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: redis.Redis | None = None
        try:
            self._start(nutcracker)
        except BaseException:
            self.close()  # no process left behind when the start fails
            raise

    def _start(self, nutcracker: str) -> None:
        shipped = yaml.safe_load(SHIPPED.read_text())
        count = len(next(iter(shipped.values()))["servers"])
        for i in range(count):
            d = self.tmp / f"shard{i + 1}"
            d.mkdir()
            self.shards.append(ServerProcess(dir=str(d)))
        self.port = free_port()
        conf = rewrite_config(shipped, self.port, [s.port for s in self.shards])
        self.conf = self.tmp / "nutcracker.yml"
        self.conf.write_text(yaml.safe_dump(conf))
        self.logfile = self.tmp / "nutcracker.log"
        with open(self.logfile, "w") as log:
            self.proc = subprocess.Popen(
                proxy_command(nutcracker, self.conf, self.tmp),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.client = proxy_client(self.port)
        self.wait_proxy()

    def wait_proxy(self, timeout: float = 20.0) -> None:
        assert self.proc is not None and self.client is not None
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"nutcracker exited: {self.log()}"
            try:
                if self.client.ping():
                    return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, f"nutcracker is not answering: {self.log()}"
            time.sleep(0.05)

    def log(self) -> str:
        try:
            return self.logfile.read_text()
        except OSError:
            return ""

    def direct(self, i: int) -> redis.Redis:
        return self.shards[i].client(protocol=2)

    def restart_shard(self, i: int) -> None:
        """Stop shard i and start it again on the same port and directory (so from its
        snapshot). ServerProcess starts it with --save "": SIGTERM saves nothing."""
        old = self.shards[i]
        old.stop()
        self.shards[i] = ServerProcess(dir=old.dir, port=old.port)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for s in self.shards:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    nutcracker = find_nutcracker()
    if nutcracker is None:
        pytest.skip("nutcracker is not installed (apt-get install nutcracker)")
    c = Cluster(nutcracker)
    yield c
    c.close()


@pytest.fixture
def proxy(cluster: Cluster) -> redis.Redis:
    for i in range(len(cluster.shards)):
        cluster.direct(i).flushall()
    assert cluster.client is not None
    return cluster.client


KEYS = [f"user:{i}" for i in range(NKEYS)]


def shard_of(cluster: Cluster, key: str) -> list[int]:
    return [i for i in range(len(cluster.shards)) if cluster.direct(i).exists(key)]


def test_rewrite_keeps_names_weights_and_hashing() -> None:
    shipped = yaml.safe_load(SHIPPED.read_text())
    got = rewrite_config(shipped, 1234, [1, 2, 3])
    pool, before = next(iter(got.values())), next(iter(shipped.values()))
    assert pool["listen"] == "127.0.0.1:1234"
    assert [s.split()[1] for s in pool["servers"]] == [s.split()[1] for s in before["servers"]]
    assert [s.split()[0].split(":")[1] for s in pool["servers"]] == ["1", "2", "3"]
    assert {k: v for k, v in pool.items() if k not in ("listen", "servers")} == {
        k: v for k, v in before.items() if k not in ("listen", "servers")
    }


def test_proxy_runs_as_the_image_runs_it(cluster: Cluster) -> None:
    """The image's command line (as its USER when the tests run as root) logs to stderr."""
    assert "started on pid" in cluster.log()


def test_keys_spread_over_all_shards(cluster: Cluster, proxy: redis.Redis) -> None:
    pipe = proxy.pipeline(transaction=False)
    for k in KEYS:
        pipe.set(k, k)
    assert pipe.execute() == [True] * NKEYS
    sizes = [cluster.direct(i).dbsize() for i in range(len(cluster.shards))]
    assert sum(sizes) == NKEYS
    # Every shard holds a fair part (ketama with equal weights: about a third each).
    assert min(sizes) > NKEYS // 10, sizes
    # Each key is on exactly one shard.
    for k in KEYS[:30]:
        assert len(shard_of(cluster, k)) == 1, k


@pytest.mark.parametrize("prefix", ["session:", "k", "user:"])
def test_sequential_keys_spread_over_all_shards(
    cluster: Cluster, proxy: redis.Redis, prefix: str
) -> None:
    """Small sets of similar keys too: with the fnv1a_64 hash, twemproxy put all of
    session:0..99 on one shard (why nutcracker.yml uses murmur)."""
    proxy.mset({f"{prefix}{i}": "x" for i in range(100)})
    sizes = [cluster.direct(i).dbsize() for i in range(len(cluster.shards))]
    assert sum(sizes) == 100
    assert min(sizes) >= 15, sizes


def test_mset_mget_del_across_shards(cluster: Cluster, proxy: redis.Redis) -> None:
    # twemproxy splits multi-key commands by shard and merges the replies.
    assert proxy.mset({k: f"v-{k}" for k in KEYS}) is True
    assert {tuple(shard_of(cluster, k)) for k in KEYS} == {(0,), (1,), (2,)}
    asked = [*KEYS, "missing"]
    assert proxy.mget(asked) == [f"v-{k}".encode() for k in KEYS] + [None]
    assert proxy.touch(*KEYS[:50], "missing") == 50
    assert proxy.delete(*KEYS[:100], "missing") == 100
    assert sum(cluster.direct(i).dbsize() for i in range(3)) == NKEYS - 100
    assert proxy.unlink(*KEYS[100:150]) == 50
    assert sum(cluster.direct(i).dbsize() for i in range(3)) == NKEYS - 150


def test_exists_with_keys_on_several_shards_counts_one_shard(
    cluster: Cluster, proxy: redis.Redis
) -> None:
    """A twemproxy 0.5 limitation docs/deploy.md warns about: EXISTS is not split by shard, the
    whole command goes to the first key's shard, which counts only the keys it holds."""
    proxy.mset({k: "x" for k in KEYS})
    first = shard_of(cluster, KEYS[0])[0]
    on_first = sum(1 for k in KEYS if shard_of(cluster, k) == [first])
    assert 0 < on_first < NKEYS
    assert proxy.exists(*KEYS) == on_first


def test_hash_tags_put_keys_on_one_shard(cluster: Cluster, proxy: redis.Redis) -> None:
    tagged = [f"{{user:42}}:{field}" for field in ("name", "cart", "visits", "email", "a", "b")]
    proxy.mset({k: "x" for k in tagged})
    assert len({tuple(shard_of(cluster, k)) for k in tagged}) == 1
    # Without the tag the same suffixes do not all land together.
    untagged = [f"user:{i}:name" for i in range(30)]
    proxy.mset({k: "x" for k in untagged})
    assert len({tuple(shard_of(cluster, k)) for k in untagged}) > 1


@pytest.mark.parametrize(
    "command",
    [("SELECT", "1"), ("MULTI",), ("KEYS", "*"), ("SCAN", "0"), ("INFO",), ("DBSIZE",),
     ("BGSAVE",), ("FLUSHALL",), ("HELLO", "3"), ("MSETNX", "a", "1", "b", "2"),
     ("RENAME", "a", "b"), ("CLIENT", "SETNAME", "x")],
    ids=lambda c: c[0],
)  # fmt: skip
def test_unsupported_commands_close_the_connection(
    cluster: Cluster, command: tuple[str, ...]
) -> None:
    """What docs/deploy.md says does not work through the proxy: twemproxy answers nothing and
    closes the client's connection."""
    with Raw(cluster.port) as conn:
        conn.send(encode(*command))
        assert conn.read_until_closed() == b""


def bgsave_and_wait(r: redis.Redis, timeout: float = 30.0) -> None:
    before = r.info("persistence")["rdb_saves"]
    assert r.bgsave() is True
    deadline = time.monotonic() + timeout
    while True:
        info = r.info("persistence")
        if not info["rdb_bgsave_in_progress"] and info["rdb_saves"] > before:
            assert info["rdb_last_bgsave_status"] == "ok"
            return
        assert time.monotonic() < deadline, "BGSAVE did not finish"
        time.sleep(0.05)


def test_bgsave_each_shard_and_restart_one(cluster: Cluster, proxy: redis.Redis) -> None:
    proxy.mset({k: f"v-{k}" for k in KEYS})
    for i in range(len(cluster.shards)):
        bgsave_and_wait(cluster.direct(i))
    victim = 1
    held = sorted(k.decode() for k in cluster.direct(victim).keys("*"))
    assert held
    # A key written after the snapshot is lost by the restart (save "" means SIGTERM does not
    # save): what comes back is what BGSAVE wrote.
    late = next(f"late:{n}" for n in range(1000) if shard_of_after_set(cluster, proxy, n, victim))
    cluster.restart_shard(victim)
    # The proxy reconnects to the restarted shard on the next request for its keys.
    deadline = time.monotonic() + 20
    while True:
        try:
            assert proxy.get(held[0]) == f"v-{held[0]}".encode()
            break
        except redis.ResponseError:  # "-ERR Connection refused" until it is back
            assert time.monotonic() < deadline, cluster.log()
            time.sleep(0.05)
    assert sorted(k.decode() for k in cluster.direct(victim).keys("*")) == held
    assert proxy.get(late) is None
    assert proxy.mget(KEYS) == [f"v-{k}".encode() for k in KEYS]
    assert "DB loaded from disk" in cluster.shards[victim].log()


def shard_of_after_set(cluster: Cluster, proxy: redis.Redis, n: int, want: int) -> bool:
    """Set late:n through the proxy; True if it landed on shard ``want`` (else delete it)."""
    key = f"late:{n}"
    proxy.set(key, "after the snapshot")
    if cluster.direct(want).exists(key):
        return True
    proxy.delete(key)
    return False
