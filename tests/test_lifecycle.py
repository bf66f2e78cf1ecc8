"""Server lifecycle with private servers: SIGTERM, SIGINT and SHUTDOWN end the process with
exit code 0 after stopping to accept, and replies already produced still reach their client."""

from __future__ import annotations

import signal
import socket
import time

import pytest
import redis
from helpers import Raw, ServerProcess, encode


def _wait_exit(srv: ServerProcess, timeout: float = 15.0) -> int:
    return srv.proc.wait(timeout)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(sig: signal.Signals) -> None:
    with ServerProcess() as srv:
        with Raw(srv.port) as c:
            assert c.request(encode("SET", "k", "v")) == b"+OK\r\n"
            srv.proc.send_signal(sig)
            assert _wait_exit(srv) == 0
            assert c.read_until_closed() == b""
        with pytest.raises(OSError):  # nobody listens any more
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        log = srv.log()
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        assert f"Received {name} scheduling shutdown..." in log
        assert "ready to exit, bye bye" in log


@pytest.mark.parametrize("args", [(), ("NOSAVE",), ("SAVE",)])
def test_shutdown_command(args: tuple[str, ...]) -> None:
    with ServerProcess() as srv:
        c = srv.client()
        c.set("k", "v")
        # On success there is no reply: redis-py sees the connection close.
        with pytest.raises(redis.ConnectionError):
            c.execute_command("SHUTDOWN", *args)
        assert _wait_exit(srv) == 0
        c.close()


def test_pending_replies_are_flushed_on_shutdown() -> None:
    value = b"x" * 200_000
    with ServerProcess() as srv:
        with Raw(srv.port) as setup:
            assert setup.request(encode("SET", "big", value)) == b"+OK\r\n"
        slow = socket.create_connection(("127.0.0.1", srv.port))
        slow.settimeout(10)
        try:
            # Ask for ~6 MB of replies and read none of them yet.
            slow.sendall(encode("GET", "big") * 30)
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            got = b""
            while chunk := slow.recv(1 << 20):
                got += chunk
        finally:
            slow.close()
        assert _wait_exit(srv) == 0
        reply = b"$200000\r\n" + value + b"\r\n"
        # Whatever the server had produced arrives whole: complete replies, nothing cut.
        assert len(got) >= len(reply) and len(got) % len(reply) == 0
        assert got == reply * (len(got) // len(reply))


def test_other_clients_are_closed_on_shutdown() -> None:
    with ServerProcess() as srv:
        with Raw(srv.port) as idle, Raw(srv.port) as busy:
            busy.send(encode("SHUTDOWN", "NOSAVE"))
            assert busy.read_until_closed() == b""
            assert idle.read_until_closed() == b""
        assert _wait_exit(srv) == 0
