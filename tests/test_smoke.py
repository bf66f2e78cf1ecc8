"""The basics every other test relies on: the server answers PING and stores strings."""

from __future__ import annotations

import redis


def test_ping_set_get(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.get("missing") is None


def test_resp3_hello(r3: redis.Redis) -> None:
    info = r3.execute_command("HELLO", "3")
    assert info[b"proto"] == 3 or info.get("proto") == 3


def test_differential_basics(differential) -> None:  # type: ignore[no-untyped-def]
    differential.check(
        ("SET", "a", "1"),
        ("GET", "a"),
        ("GET", "nope"),
        ("INCR", "a"),
        ("NOSUCHCMD", "x"),
        ("GET",),
        ("PING",),
        ("ECHO", "hi"),
    )
