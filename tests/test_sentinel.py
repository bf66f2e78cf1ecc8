"""Failover of minikv by the Redis Sentinel users already run (``redis-server --sentinel``).

One minikv primary, two minikv replicas, three sentinels (quorum 2). The primary is killed;
the sentinels promote a replica (REPLICAOF NO ONE, CONFIG REWRITE, CLIENT KILL inside
MULTI/EXEC), repoint the other, and redis-py's ``Sentinel`` client follows the new primary.
Every write that WAIT confirmed on both replicas before the kill is still there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import ROOT, ServerProcess, free_port, wait_for
from redis.sentinel import Sentinel

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server (with its Sentinel mode) is not installed (apt-get install redis-server)",
)

MASTER = "mymaster"


class SentinelProcess:
    def __init__(self, directory: Path, primary_port: int) -> None:
        self.port = free_port()
        self.dir = directory
        directory.mkdir()
        self.conf = directory / "sentinel.conf"
        # The shipped docker/sentinel/sentinel.conf, with this machine's addresses and a
        # shorter down-after (so the test is quick).
        shipped = (ROOT / "docker" / "sentinel" / "sentinel.conf").read_text()
        text = (
            shipped.replace("port 26379", f"port {self.port}")
            .replace("minikv-primary 6379", f"127.0.0.1 {primary_port}")
            .replace(
                f"down-after-milliseconds {MASTER} 5000", f"down-after-milliseconds {MASTER} 1000"
            )
            .replace(f"failover-timeout {MASTER} 60000", f"failover-timeout {MASTER} 10000")
        )
        assert f"127.0.0.1 {primary_port}" in text and f"port {self.port}" in text
        self.conf.write_text(
            text
            + "bind 127.0.0.1\n"
            + f"dir {directory}\n"
            + f"logfile {directory / 'sentinel.log'}\n"
        )
        exe = shutil.which("redis-server") or "redis-server"
        self.proc = subprocess.Popen(
            [exe, str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._ready, 20, "sentinel up")

    def _ready(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def log(self) -> str:
        try:
            return (self.dir / "sentinel.log").read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def minikv_with_conf(directory: Path, *lines: str) -> ServerProcess:
    """A minikv started from a config file (CONFIG REWRITE needs one, as Sentinel uses)."""
    directory.mkdir()
    port = free_port()
    conf = directory / "minikv.conf"
    conf.write_text(
        "\n".join(
            [
                f"port {port}",
                "repl-diskless-sync-delay 0",
                "save ''",
                "loglevel verbose",
                *lines,
            ]
        )
        + "\n"
    )
    return ServerProcess(conf=str(conf), dir=str(directory), port=port)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    made: list[Any] = []
    try:
        primary = minikv_with_conf(tmp_path / "primary")
        made.append(primary)
        replicas = [
            minikv_with_conf(tmp_path / f"replica{i}", f"replicaof 127.0.0.1 {primary.port}")
            for i in (1, 2)
        ]
        made += replicas
        p = primary.client()
        wait_for(lambda: p.info("replication")["connected_slaves"] == 2, what="replicas")
        sentinels = [SentinelProcess(tmp_path / f"sentinel{i}", primary.port) for i in (1, 2, 3)]
        made += sentinels
        yield {"primary": primary, "replicas": replicas, "sentinels": sentinels}
    finally:
        for m in reversed(made):
            if isinstance(m, SentinelProcess):
                m.stop()
            else:
                m.cleanup()


def test_sentinel_failover(cluster: dict[str, Any]) -> None:
    primary: ServerProcess = cluster["primary"]
    replicas: list[ServerProcess] = cluster["replicas"]
    sentinels: list[SentinelProcess] = cluster["sentinels"]
    s0 = sentinels[0].client()

    def discovered() -> bool:
        return len(s0.sentinel_slaves(MASTER)) == 2 and len(s0.sentinel_sentinels(MASTER)) == 2

    wait_for(discovered, 60, "sentinels discover the replicas and each other")
    client = Sentinel([("127.0.0.1", s.port) for s in sentinels], socket_timeout=1.0)
    master = client.master_for(MASTER, socket_timeout=1.0)
    assert master.set("before", "1")
    confirmed = []
    for i in range(50):
        master.set(f"k{i}", i)
        if master.wait(2, 2000) == 2:
            confirmed.append(f"k{i}")
    assert confirmed

    primary.proc.kill()
    primary.proc.wait()
    t0 = time.monotonic()

    def write_ok() -> bool:
        try:
            return bool(master.set("after", "1"))
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            return False
        except redis.ResponseError:
            return False

    wait_for(write_ok, 90, "a write through the Sentinel client after failover")
    elapsed = time.monotonic() - t0
    _host, new_port = client.discover_master(MASTER)
    assert new_port in {r.port for r in replicas}
    promoted = next(r for r in replicas if r.port == new_port)
    other = next(r for r in replicas if r.port != new_port)
    pc = promoted.client()
    assert pc.info("replication")["role"] == "master"
    for key in confirmed:
        assert pc.get(key) is not None, f"{key} was confirmed by WAIT and is lost"
    # The other replica follows the new primary, and gets the new write.
    oc = other.client()
    wait_for(
        lambda: (
            oc.info("replication").get("master_port") == new_port
            and oc.info("replication").get("master_link_status") == "up"
        ),
        60,
        "the other replica repointed",
    )
    wait_for(lambda: oc.get("after") == b"1", 30, "the write replicated")
    # Sentinel rewrote the promoted replica's config: it starts as a primary now.
    conf = Path(promoted.dir, "minikv.conf").read_text()
    assert "replicaof" not in conf
    print(f"failover: first successful write {elapsed:.2f} s after the kill")
    # Every sentinel learns of the switch (the leader first, the others from its hello).
    wait_for(
        lambda: all("+switch-master" in s.log() for s in sentinels), 30, "+switch-master logged"
    )
    assert os.path.exists(promoted.dir)
