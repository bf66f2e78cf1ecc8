"""Shared fixtures: one real minikv server (and one real redis-server for differential tests)
per test session, with every database flushed before each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from helpers import ServerProcess, have_redis_server


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    s = ServerProcess()
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ServerProcess]:
    if not have_redis_server():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    s = ServerProcess(kind="redis")
    yield s
    s.cleanup()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request: Any, server: ServerProcess) -> Iterator[redis.Redis]:
    """A redis-py client of the shared server, in RESP2 and in RESP3; all dbs flushed."""
    client = server.client(protocol=request.param)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r2(server: ServerProcess) -> Iterator[redis.Redis]:
    client = server.client(protocol=2)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(server: ServerProcess) -> Iterator[redis.Redis]:
    client = server.client(protocol=3)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def redis_cli() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        pytest.skip("redis-cli is not installed (apt-get install redis-tools)")
    return path


class Differential:
    """Runs the same commands on minikv and on a real redis-server and compares the raw reply
    bytes (errors included), in RESP2 and RESP3. Both servers are flushed first."""

    def __init__(self, mk: ServerProcess, rd: ServerProcess) -> None:
        self.mk = mk
        self.rd = rd

    def check(self, *commands: tuple[Any, ...], resp: tuple[int, ...] = (2, 3)) -> list[bytes]:
        from helpers import run_raw

        got: list[bytes] = []
        for proto in resp:
            for srv in (self.mk, self.rd):
                run_raw(srv.port, [("FLUSHALL",)])
            mine = run_raw(self.mk.port, list(commands), proto)
            theirs = run_raw(self.rd.port, list(commands), proto)
            for cmd, a, b in zip(commands, mine, theirs, strict=True):
                assert a == b, f"RESP{proto} {cmd!r}: minikv {a!r} != redis {b!r}"
            got = mine
        return got


@pytest.fixture
def differential(server: ServerProcess, redis_server: ServerProcess) -> Differential:
    return Differential(server, redis_server)
