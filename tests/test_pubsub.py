"""Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB.

Most tests are transcripts run against minikv and a real redis-server: several named
connections take turns, and after each step the connection is synchronised with a
``PING <marker>`` (allowed in the pub/sub context), so every byte a connection receives
(confirmations, messages, errors, the markers' replies) lands in a deterministic order. The
transcripts are compared byte for byte, in RESP2 and in RESP3. Where Redis answers in hash
order (PUBSUB CHANNELS, UNSUBSCRIBE of several channels at once) the test avoids or sorts it.

Then redis-py's own PubSub as applications use it, the output buffer limit that disconnects
a subscriber that does not read, and the introspection fields (INFO, CLIENT LIST).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from helpers import Raw, ServerProcess, encode, run_raw

Step = tuple[str, tuple[Any, ...] | list[tuple[Any, ...]]]


class Transcript:
    """Named connections to one server; ``run`` plays steps and returns what each received."""

    def __init__(self, port: int, resp: int) -> None:
        self.port = port
        self.resp = resp
        self.conns: dict[str, Raw] = {}
        self.got: dict[str, bytes] = {}
        self.marker = itertools.count()

    def conn(self, name: str) -> Raw:
        if name not in self.conns:
            c = self.conns[name] = Raw(self.port)
            if self.resp == 3:
                c.request(encode("HELLO", "3"))
            self.got[name] = b""
        return self.conns[name]

    def _read_until(self, c: Raw, end: bytes) -> bytes:
        buf = b""
        while not buf.endswith(end):
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf

    def step(self, name: str, cmds: tuple[Any, ...] | list[tuple[Any, ...]]) -> None:
        c = self.conn(name)
        batch = cmds if isinstance(cmds, list) else [cmds]
        if str(batch[-1][0]).upper() == "QUIT":
            c.send(b"".join(encode(*cmd) for cmd in batch))
            self.got[name] += c.read_until_closed()
            return
        marker = b"sync-%d" % next(self.marker)
        c.send(b"".join(encode(*cmd) for cmd in batch) + encode("PING", marker))
        self.got[name] += self._read_until(c, marker + b"\r\n")

    def run(self, steps: list[Step]) -> dict[str, bytes]:
        for name, cmds in steps:
            self.step(name, cmds)
        for name in list(self.conns):  # collect what arrived after each one's last step
            try:
                self.step(name, ("PING",))
            except OSError:
                pass  # closed by QUIT
        for c in self.conns.values():
            c.close()
        return self.got


def wait_quiet(*ports: int) -> None:
    """Until no subscription is left on the servers (closed connections are reaped
    asynchronously), so global counts start from zero."""
    deadline = time.monotonic() + 5
    for port in ports:
        while time.monotonic() < deadline:
            replies = run_raw(port, [("PUBSUB", "NUMPAT"), ("PUBSUB", "CHANNELS")])
            if replies == [b":0\r\n", b"*0\r\n"]:
                break
            time.sleep(0.02)


def compare(server: ServerProcess, redis_server: ServerProcess, steps: list[Step]) -> None:
    wait_quiet(server.port, redis_server.port)
    for resp in (2, 3):
        mine = Transcript(server.port, resp).run(steps)
        theirs = Transcript(redis_server.port, resp).run(steps)
        for name in theirs:
            assert mine[name] == theirs[name], (
                f"RESP{resp} connection {name!r}\nminikv {mine[name]!r}\nredis  {theirs[name]!r}"
            )


def test_subscribe_publish_patterns(server: ServerProcess, redis_server: ServerProcess) -> None:
    compare(
        server,
        redis_server,
        [
            ("sub", ("SUBSCRIBE", "c1", "c2")),
            ("sub", ("SUBSCRIBE", "c1")),  # already: confirmed again, count unchanged
            ("pub", ("PUBLISH", "c1", "hello")),
            ("pub", ("PUBLISH", "c3", "nobody")),
            ("sub", ("PSUBSCRIBE", "c*", "x?")),
            ("pub", ("PUBLISH", "c2", "both")),  # message, then pmessage: 2 receivers
            ("pub", ("PUBLISH", "xy", "pattern only")),
            ("other", ("PSUBSCRIBE", "c*")),
            ("pub", ("PUBLISH", "c1", "three")),
            ("sub", ("UNSUBSCRIBE", "c1", "nope")),
            ("sub", ("PUNSUBSCRIBE", "x?")),
            ("sub", ("PUNSUBSCRIBE",)),  # the rest of the patterns
            ("sub", ("PUNSUBSCRIBE",)),  # none left: one reply with a null pattern
            ("sub", ("UNSUBSCRIBE",)),  # c2, the only one left
            ("sub", ("UNSUBSCRIBE",)),
            ("sub", ("GET", "k")),  # not subscribed any more: any command
            ("pub", ("PUBLISH", "c2", "after")),
        ],
    )


def test_resp2_context_and_ping(server: ServerProcess, redis_server: ServerProcess) -> None:
    compare(
        server,
        redis_server,
        [
            ("sub", ("SUBSCRIBE", "ctx")),
            ("sub", ("PING",)),  # RESP2: ["pong", ""]; RESP3: +PONG
            ("sub", ("PING", "hi")),
            ("sub", ("GET", "k")),  # RESP2: refused; RESP3: allowed
            ("sub", ("SET", "k", "v")),
            ("sub", ("CLIENT", "ID", "extra")),
            ("sub", ("NOSUCHCMD",)),
            ("sub", ("SSUBSCRIBE", "shard")),
            ("sub", ("UNSUBSCRIBE", "ctx")),  # still subscribed to a shard channel
            ("sub", ("ECHO", "x")),
            ("sub", ("SUNSUBSCRIBE",)),
            ("sub", ("PING",)),  # plain again
            ("sub", ("ECHO", "x")),
        ],
    )


def test_shard_channels_are_their_own_namespace(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    compare(
        server,
        redis_server,
        [
            ("sub", ("SSUBSCRIBE", "s1", "s2")),
            ("sub", ("SUBSCRIBE", "s1")),  # SUBSCRIBE's count excludes shard channels
            ("pub", ("SPUBLISH", "s1", "m")),  # one receiver: the shard subscription
            ("pub", ("PUBLISH", "s2", "m")),  # nobody: s2 is only a shard channel
            ("pat", ("PSUBSCRIBE", "s*")),
            ("pub", ("SPUBLISH", "s2", "m2")),  # patterns never see shard messages
            ("pub", ("PUBSUB", "SHARDNUMSUB", "s1", "s2", "s3")),
            ("pub", ("PUBSUB", "SHARDCHANNELS", "s1")),
            ("pub", ("PUBSUB", "NUMSUB", "s1", "s2")),
            ("sub", ("SUNSUBSCRIBE", "s1", "never")),
            ("sub", ("SUNSUBSCRIBE",)),
            ("sub", ("SUNSUBSCRIBE",)),
            ("sub", ("UNSUBSCRIBE",)),
        ],
    )


def test_inside_multi_reset_and_quit(server: ServerProcess, redis_server: ServerProcess) -> None:
    compare(
        server,
        redis_server,
        [
            (
                "sub",  # one batch: the sync PING would be queued
                [
                    ("MULTI",),
                    ("SUBSCRIBE", "m1", "m2"),
                    ("SSUBSCRIBE", "ms"),  # refused inside EXEC (it denies blocking)
                    ("PING",),  # runs after SUBSCRIBE: the pub/sub form in RESP2
                    ("EXEC",),
                ],
            ),
            ("pub", ("PUBLISH", "m2", "z")),
            ("sub", ("RESET",)),  # drops every subscription without a word
            ("pub", ("PUBLISH", "m1", "after reset")),
            ("sub", ("GET", "k")),
            ("q", ("PSUBSCRIBE", "q*")),
            ("q", ("QUIT",)),
            ("pub", ("PUBSUB", "NUMPAT")),
        ],
    )


def test_publish_to_itself_keeps_reply_order(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    """A RESP3 client subscribed to a channel it publishes to gets the message before the
    PUBLISH reply, also when both commands came in one pipeline (RESP2: refused)."""
    compare(
        server,
        redis_server,
        [
            ("me", [("SUBSCRIBE", "me"), ("PUBLISH", "me", "one"), ("PUBLISH", "me", "two")]),
            ("me", [("ECHO", "a"), ("PUBLISH", "me", "three"), ("ECHO", "b")]),
            ("me", [("MULTI",), ("PUBLISH", "me", "in exec"), ("ECHO", "c"), ("EXEC",)]),
        ],
    )


def test_pubsub_introspection(server: ServerProcess, redis_server: ServerProcess) -> None:
    compare(
        server,
        redis_server,
        [
            ("a", ("SUBSCRIBE", "news.1", "news.2")),
            ("b", ("SUBSCRIBE", "news.1")),
            ("b", ("PSUBSCRIBE", "news.*", "other")),
            ("q", ("PUBSUB", "NUMSUB", "news.1", "news.2", "news.3")),
            ("q", ("PUBSUB", "NUMSUB")),
            ("q", ("PUBSUB", "NUMPAT")),
            ("q", ("PUBSUB", "CHANNELS", "*.1")),
            ("q", ("PUBSUB", "CHANNELS", "nothing*")),
            ("q", ("PUBSUB", "CHANNELS", "a", "b")),
            ("q", ("PUBSUB", "SHARDCHANNELS")),
            ("q", ("PUBSUB", "NUMPAT", "x")),
            ("q", ("PUBSUB", "NOPE")),
            ("q", ("PUBSUB", "HELP")),
            ("q", ("PUBSUB",)),
            ("q", ("PUBLISH", "x")),
            ("q", ("SUBSCRIBE",)),
        ],
    )
    # The whole channel list is in hash order in Redis: compare it as a set.
    wait_quiet(server.port, redis_server.port)
    with Raw(server.port) as a, Raw(redis_server.port) as b:
        got = []
        for c, port in ((a, server.port), (b, redis_server.port)):
            c.send(encode("SUBSCRIBE", "x1", "x2", "x3"))
            deadline = time.monotonic() + 5
            channels: list[bytes] = []
            while len(channels) < 3 and time.monotonic() < deadline:
                channels = redis.Redis(port=port).pubsub_channels()
            got.append(sorted(channels))
        assert got[0] == got[1] == [b"x1", b"x2", b"x3"]


# --- redis-py's PubSub, as applications use it ---------------------------------------------


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request: Any, server: ServerProcess) -> Iterator[redis.Redis]:
    c = server.client(protocol=request.param)
    yield c
    c.close()


def _next(p: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message")


def test_redis_py_pubsub(client: redis.Redis) -> None:
    p = client.pubsub()
    p.subscribe("py.a")
    p.psubscribe("py.*")
    assert _next(p)["type"] == "subscribe"
    assert _next(p) == {"type": "psubscribe", "pattern": None, "channel": b"py.*", "data": 2}
    assert client.publish("py.a", "hello") == 2
    assert _next(p) == {"type": "message", "pattern": None, "channel": b"py.a", "data": b"hello"}
    assert _next(p) == {
        "type": "pmessage",
        "pattern": b"py.*",
        "channel": b"py.a",
        "data": b"hello",
    }
    assert client.pubsub_numsub("py.a") == [(b"py.a", 1)]
    assert client.pubsub_numpat() >= 1
    # Subscribed clients show it in CLIENT LIST.
    mine = [c for c in client.client_list() if c["cmd"] == "psubscribe"]
    assert any(c["flags"] == "P" and c["sub"] == "1" and c["psub"] == "1" for c in mine)
    assert client.info("stats")["pubsub_patterns"] >= 1
    p.unsubscribe()
    p.punsubscribe()
    p.close()
    deadline = time.monotonic() + 5
    while client.pubsub_numsub("py.a") != [(b"py.a", 0)] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.publish("py.a", "gone") == 0


def test_redis_py_message_handler_thread(client: redis.Redis) -> None:
    """``run_in_thread`` with handlers, as worker-control channels use it: every message, in
    publish order."""
    got: list[bytes] = []
    done = threading.Event()

    def handler(m: dict[str, Any]) -> None:
        got.append(m["data"])
        if m["data"] == b"99":
            done.set()

    p = client.pubsub()
    p.subscribe(**{"thread.ch": handler})
    t = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        deadline = time.monotonic() + 5
        while client.pubsub_numsub("thread.ch")[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(100):
            assert client.publish("thread.ch", str(i)) == 1
        assert done.wait(5)
    finally:
        t.stop()
        t.join(5)
        p.close()
    assert got == [str(i).encode() for i in range(100)]


def test_disconnected_subscriber_is_forgotten(server: ServerProcess) -> None:
    r = server.client()
    with Raw(server.port) as c:
        c.request(encode("SUBSCRIBE", "gone.ch"))
        assert r.publish("gone.ch", "x") == 1
    deadline = time.monotonic() + 5
    while r.publish("gone.ch", "x") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.publish("gone.ch", "x") == 0
    assert r.pubsub_numsub("gone.ch") == [(b"gone.ch", 0)]


# --- a subscriber that does not read ------------------------------------------------------------


def _slow_subscriber(port: int, channel: str) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(encode("SUBSCRIBE", channel))
    return s  # never read from


def _publish_until_dropped(r: redis.Redis, channel: str, payload: bytes, limit: int) -> int:
    for i in range(limit):
        if r.publish(channel, payload) == 0 and i:
            return i
    raise AssertionError(f"subscriber still connected after {limit} messages")


def test_slow_subscriber_hits_the_hard_limit(tmp_path: Any) -> None:
    with ServerProcess("--client-output-buffer-limit", "pubsub 1mb 0 0") as srv:
        r = srv.client()
        sub = _slow_subscriber(srv.port, "slow")
        deadline = time.monotonic() + 5
        while r.pubsub_numsub("slow") != [(b"slow", 1)] and time.monotonic() < deadline:
            time.sleep(0.01)
        # The kernel's socket buffers take a few MB before the server has to hold any.
        sent = _publish_until_dropped(r, "slow", b"x" * 100_000, 2_000)
        assert sent > 10
        assert r.ping()
        assert r.pubsub_numsub("slow") == [(b"slow", 0)]
        assert "closed for overcoming of output buffer limits" in srv.log()
        assert "flags=P" in srv.log()
        # Normal clients are served as before, and a reading subscriber is not affected.
        p = r.pubsub()
        p.subscribe("fast")
        _next(p)
        for _ in range(50):
            r.publish("fast", b"y" * 100_000)
            assert _next(p)["type"] == "message"
        sub.close()


def test_slow_subscriber_past_the_soft_limit_for_too_long() -> None:
    args = ["--client-output-buffer-limit", "pubsub 0 256kb 1"]
    with ServerProcess(*args) as srv:
        r = srv.client()
        sub = _slow_subscriber(srv.port, "soft")
        while r.pubsub_numsub("soft") != [(b"soft", 1)]:
            time.sleep(0.01)
        # Over the soft limit, but not for long enough: still connected.
        n = 0
        while n < 2_000:
            n += 1
            r.publish("soft", b"x" * 100_000)
            info = [c for c in r.client_list() if c["cmd"] == "subscribe"]
            if info and int(info[0]["omem"]) > 256 * 1024:
                break
        assert r.publish("soft", b"x") == 1
        time.sleep(2.2)  # the soft limit's 1 s, counted in whole seconds
        _publish_until_dropped(r, "soft", b"x", 10)
        assert "closed for overcoming of output buffer limits" in srv.log()
        sub.close()


# --- configuration ----------------------------------------------------------------------------


def test_output_buffer_limit_config_matches_redis(
    server: ServerProcess, redis_server: ServerProcess
) -> None:
    name = "client-output-buffer-limit"
    for srv in (server, redis_server):  # back to the defaults (other tests change them)
        run_raw(
            srv.port,
            [("CONFIG", "SET", name, "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60")],
        )
    commands: list[tuple[Any, ...]] = [
        ("CONFIG", "GET", name),
        ("CONFIG", "SET", name, "pubsub 10mb 1mb 30"),
        ("CONFIG", "GET", name),
        ("CONFIG", "SET", name, "pubsub 1 2"),
        ("CONFIG", "SET", name, "master 1 2 3"),
        ("CONFIG", "SET", name, "bogus 1 2 3"),
        ("CONFIG", "SET", name, "pubsub x 2 3"),
        ("CONFIG", "SET", name, "pubsub 1 2 -3"),
        ("CONFIG", "SET", name, "replica 1gb 2 3 pubsub 5 6 7"),
        ("CONFIG", "GET", name),
        ("CONFIG", "SET", name, "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"),
        ("CONFIG", "GET", name),
    ]
    for cmd in commands:
        a = run_raw(server.port, [cmd])
        b = run_raw(redis_server.port, [cmd])
        assert a == b, f"{cmd}: minikv {a!r} redis {b!r}"


def test_normal_class_limit_is_refused_not_ignored(server: ServerProcess) -> None:
    r = server.client()
    with pytest.raises(redis.ResponseError, match="does not limit the output buffer of normal"):
        r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"].startswith(
        "normal 0 0 0 "
    )
