"""redis-cli against minikv: one-shot commands, ``--pipe`` mass insertion, ``--scan``, and the
interactive prompt (driven through tmux) with its hints from COMMAND DOCS."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from helpers import ServerProcess, encode


def cli(redis_cli: str, port: int, *args: str, stdin: bytes | None = None, status: int = 0) -> str:
    out = subprocess.run(
        [redis_cli, "-p", str(port), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == status, out.stderr
    return out.stdout.decode()


def test_one_shot_commands(redis_cli: str, server: ServerProcess, r: redis.Redis):
    assert cli(redis_cli, server.port, "SET", "greeting", "hello world") == "OK\n"
    assert cli(redis_cli, server.port, "GET", "greeting") == "hello world\n"
    assert cli(redis_cli, server.port, "INCR", "n") == "1\n"
    assert cli(redis_cli, server.port, "--no-raw", "GET", "greeting") == '"hello world"\n'
    assert cli(redis_cli, server.port, "--no-raw", "GET", "missing") == "(nil)\n"
    err = cli(redis_cli, server.port, "--no-raw", "NOSUCHCMD")
    assert err.startswith("(error) ERR unknown command 'NOSUCHCMD'")
    info = cli(redis_cli, server.port, "INFO", "server")
    assert "redis_version:" in info and "# Server" in info
    assert cli(redis_cli, server.port, "-3", "--no-raw", "DBSIZE") == "(integer) 2\n"
    assert cli(redis_cli, server.port, "CONFIG", "GET", "hz") == "hz\n10\n"


def test_pipe_mass_insertion(redis_cli: str, server: ServerProcess, r: redis.Redis):
    n = 3000
    payload = b"".join(encode("SET", f"mass:{i}", f"value-{i}") for i in range(n))
    out = cli(redis_cli, server.port, "--pipe", stdin=payload)
    assert f"errors: 0, replies: {n}" in out, out
    assert r.dbsize() == n
    assert r.get("mass:2999") == b"value-2999"


def test_pipe_reports_errors(redis_cli: str, server: ServerProcess, r: redis.Redis):
    payload = encode("SET", "k", "v") + encode("INCR", "k") + encode("GET", "k")
    out = cli(redis_cli, server.port, "--pipe", stdin=payload, status=1)
    assert "errors: 1, replies: 3" in out, out


def test_scan_pattern(redis_cli: str, server: ServerProcess, r: redis.Redis):
    for i in range(300):
        r.set(f"user:{i}", i)
    for i in range(50):
        r.set(f"order:{i}", i)
    out = cli(redis_cli, server.port, "--scan", "--pattern", "user:*")
    keys = out.split()
    assert len(keys) == len(set(keys)) == 300  # each key once
    assert set(keys) == {f"user:{i}" for i in range(300)}
    everything = cli(redis_cli, server.port, "--scan").split()
    assert len(set(everything)) == 350


# --- the interactive prompt ----------------------------------------------------------------------


@pytest.fixture
def tmux(redis_cli: str) -> Iterator[str]:
    """A private tmux server (its own socket), killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    sock = f"minikv-test-{uuid.uuid4().hex[:8]}"
    yield sock
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def _tmux(sock: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", sock, *args], capture_output=True, timeout=10)
    return out.stdout.decode()


def _wait_screen(sock: str, predicate, timeout: float = 10.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(sock, "capture-pane", "-p", "-t", "cli")
        if predicate(screen):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"screen never matched:\n{screen}")


def test_interactive_prompt(redis_cli: str, server: ServerProcess, r: redis.Redis, tmux: str):
    prompt = f"127.0.0.1:{server.port}>"
    _tmux(
        tmux,
        "new-session",
        "-d",
        "-s",
        "cli",
        "-x",
        "160",
        "-y",
        "40",
        f"{redis_cli} -p {server.port}",
    )
    _wait_screen(tmux, lambda s: prompt in s)

    _tmux(tmux, "send-keys", "-t", "cli", "SET tmuxkey 42", "Enter")
    _wait_screen(tmux, lambda s: "\nOK" in s)
    assert r.get("tmuxkey") == b"42"

    _tmux(tmux, "send-keys", "-t", "cli", "GET tmuxkey", "Enter")
    _wait_screen(tmux, lambda s: '"42"' in s)

    # Typing a command name and a space shows the rest of its syntax as a hint, which redis-cli
    # builds from COMMAND DOCS.
    _tmux(tmux, "send-keys", "-t", "cli", "CONFIG SET ")
    screen = _wait_screen(tmux, lambda s: "parameter value [parameter value ...]" in s)
    assert f"{prompt} CONFIG SET parameter value [parameter value ...]" in screen
    _tmux(tmux, "send-keys", "-t", "cli", "C-u")

    _tmux(tmux, "send-keys", "-t", "cli", "SHUTDOWN ")
    _wait_screen(tmux, lambda s: "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]" in s)
    _tmux(tmux, "send-keys", "-t", "cli", "C-u")

    # HELP <command> prints the summary from COMMAND DOCS.
    _tmux(tmux, "send-keys", "-t", "cli", "HELP CONFIG GET", "Enter")
    _wait_screen(tmux, lambda s: "Get the values of configuration parameters" in s)
