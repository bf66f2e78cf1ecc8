"""A script that runs past busy-reply-threshold, on minikv and on a real redis-server.

While it runs, other clients (already connected, or connecting now) get Redis's BUSY error
for everything but the commands allowed then; SCRIPT KILL stops a script that has not
written; one that wrote is UNKILLABLE, and only SHUTDOWN NOSAVE ends it. The raw replies of
both servers are compared. The servers are their own (these tests shut them down).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import Raw, ServerProcess, encode, run_raw

from minikv.protocol import encode_command

LOOP = "local i = 0 while true do i = i + 1 end"
LOOP_AFTER_WRITE = "redis.call('set', 'w', '1') " + LOOP


@pytest.fixture
def pair(redis_server: ServerProcess) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A minikv and a redis-server of their own, answering BUSY after 100 ms."""
    with ServerProcess() as mk, ServerProcess(kind="redis") as rd:
        for srv in (mk, rd):
            run_raw(srv.port, [("CONFIG", "SET", "busy-reply-threshold", "100")])
        yield mk, rd


class Running:
    """A script (or, given ``command``, a function call) sent on its own connection;
    ``reply`` is what that connection gets back (b"" if the server closed it)."""

    def __init__(self, port: int, script: str, command: tuple[str, ...] = ()) -> None:
        self.conn = Raw(port, timeout=30)
        self.reply: bytes | None = None
        self.conn.send(
            encode(*command) if command else encode_command(b"EVAL", script.encode(), b"0")
        )
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self) -> None:
        try:
            self.reply = self.conn.read_reply()
        except OSError:
            self.reply = b""

    def wait(self) -> bytes:
        self.thread.join(30)
        self.conn.close()
        assert self.reply is not None
        return self.reply


def wait_busy(port: int, conn: Raw) -> bytes:
    """PING on ``conn`` until the server answers BUSY; that reply."""
    deadline = time.monotonic() + 10
    while True:
        reply = conn.request(encode("PING"))
        if reply.startswith(b"-BUSY") or time.monotonic() > deadline:
            return reply
        time.sleep(0.02)


def busy_transcript(port: int, script: str, finish: list[tuple[Any, ...]]) -> list[bytes]:
    """Start ``script``; from a connection opened before it and from one opened during it,
    send commands; then ``finish`` from a new connection. The replies, and the script's."""
    out: list[bytes] = []
    with Raw(port) as before:
        running = Running(port, script)
        out.append(wait_busy(port, before))
        out += [before.request(encode(*c)) for c in [("GET", "x"), ("SET", "x", "1")]]
        with Raw(port) as during:
            out += [
                during.request(encode(*c)) for c in [("PING",), ("MULTI",), ("GET", "x"), ("EXEC",)]
            ]
            out += [during.request(encode(*c)) for c in finish]
        out.append(running.wait())
    return out


def test_script_kill_ends_a_busy_script(pair: tuple[ServerProcess, ServerProcess]) -> None:
    mk, rd = pair
    ours = busy_transcript(mk.port, LOOP, [("SCRIPT", "KILL")])
    theirs = busy_transcript(rd.port, LOOP, [("SCRIPT", "KILL")])
    assert ours == theirs
    assert ours[-2] == b"+OK\r\n"
    assert ours[-1].startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    for srv in pair:  # serving again, and the script changed nothing
        assert run_raw(srv.port, [("PING",), ("EXISTS", "x")]) == [b"+PONG\r\n", b":0\r\n"]
        assert run_raw(srv.port, [("SCRIPT", "KILL")])[0].startswith(b"-NOTBUSY")


def test_a_script_that_wrote_is_unkillable(pair: tuple[ServerProcess, ServerProcess]) -> None:
    finish = [("SCRIPT", "KILL"), ("SHUTDOWN",)]
    replies = []
    for srv in pair:
        with Raw(srv.port) as before:
            running = Running(srv.port, LOOP_AFTER_WRITE)
            wait_busy(srv.port, before)
            got = [before.request(encode(*c)) for c in finish]
            before.send(encode("SHUTDOWN", "NOSAVE"))
            srv.proc.wait(20)  # the server stops, script and all
            running.wait()
        replies.append(got)
    assert replies[0] == replies[1]
    assert replies[0][0].startswith(b"-UNKILLABLE Sorry the script already executed write")
    assert replies[0][1].startswith(b"-BUSY")


def test_a_busy_script_does_not_starve_new_connections() -> None:
    """Many connections opened during a busy script are all answered, and carry on as
    ordinary clients once it is over. (A server of its own: a script left spinning by a
    failed assertion must not hold the shared server BUSY for every later test.)"""
    with ServerProcess() as server:
        c = server.client()
        c.config_set("busy-reply-threshold", "100")
        running = Running(server.port, "local t = redis.call('time') " + LOOP)
        with Raw(server.port) as before:
            assert wait_busy(server.port, before).startswith(b"-BUSY")
        socks = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)
        ]
        for s in socks:
            s.sendall(encode("PING"))
        for s in socks:
            assert s.recv(1024).startswith(b"-BUSY")
        with Raw(server.port) as killer:
            assert killer.request(encode("SCRIPT", "KILL")) == b"+OK\r\n"
        assert running.wait().startswith(b"-ERR Script killed")
        for s in socks:  # now handled by the event loop
            s.sendall(encode("ECHO", "after"))
            assert s.recv(1024) == b"$5\r\nafter\r\n"
            s.close()
        assert c.ping()
        c.close()


SPIN_LIBRARY = (
    "#!lua name=spin\n"
    f"redis.register_function('spin', function(keys, args) {LOOP} end)\n"
    f"redis.register_function('spin_w', function(keys, args) {LOOP_AFTER_WRITE} end)"
)


def _stats_without_duration(reply: bytes) -> bytes:
    """FUNCTION STATS (RESP2) with the running time, which no two runs share, cut out."""
    return re.sub(rb"duration_ms\r\n:\d+", b"duration_ms\r\n:N", reply)


def test_function_kill_ends_a_busy_function(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """While a function is busy: FUNCTION STATS names it and its command, the BUSY error
    names FUNCTION KILL, SCRIPT KILL is refused, and FUNCTION KILL stops it."""
    transcripts = []
    for srv in pair:
        run_raw(srv.port, [("FUNCTION", "LOAD", SPIN_LIBRARY)])
        with Raw(srv.port) as before:
            running = Running(srv.port, "", ("FCALL", "spin", "1", "key", "arg"))
            out = [wait_busy(srv.port, before)]
            out.append(_stats_without_duration(before.request(encode("FUNCTION", "STATS"))))
            out += [
                before.request(encode(*c))
                for c in [("GET", "x"), ("EVAL", "return 1", "0"), ("SCRIPT", "KILL")]
            ]
            out.append(before.request(encode("FUNCTION", "KILL")))
            out.append(running.wait())
        out += run_raw(srv.port, [("PING",), ("FUNCTION", "STATS"), ("FUNCTION", "KILL")])
        transcripts.append(out)
    assert transcripts[0] == transcripts[1]
    ours = transcripts[0]
    assert ours[0].startswith(b"-BUSY") and b"FUNCTION KILL" in ours[0]
    assert b"spin" in ours[1] and b"arg" in ours[1]
    assert ours[5] == b"+OK\r\n"


def test_script_kill_does_not_stop_a_function_nor_function_kill_a_script(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    transcripts = []
    for srv in pair:
        run_raw(srv.port, [("FUNCTION", "LOAD", SPIN_LIBRARY)])
        out = []
        with Raw(srv.port) as before:
            running = Running(srv.port, LOOP)
            out.append(wait_busy(srv.port, before))
            out += [
                before.request(encode(*c)) for c in [("FUNCTION", "KILL"), ("FUNCTION", "STATS")]
            ]
            out.append(before.request(encode("SCRIPT", "KILL")))
            out.append(running.wait())
            running = Running(srv.port, "", ("FCALL", "spin_w", "0"))
            out.append(wait_busy(srv.port, before))
            out.append(before.request(encode("FUNCTION", "KILL")))
            before.send(encode("SHUTDOWN", "NOSAVE"))
            srv.proc.wait(20)
            running.wait()
        transcripts.append(out)
    assert transcripts[0] == transcripts[1]
    assert transcripts[0][1].startswith(b"-BUSY") and b"SCRIPT KILL" in transcripts[0][1]
    assert transcripts[0][-1].startswith(b"-UNKILLABLE")
