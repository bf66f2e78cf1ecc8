"""Startup configuration: ``minikv-server [file] [--flags]``, fatal errors, CONFIG REWRITE, logs,
and the config module's parsing and CONFIG SET rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT, ServerProcess, free_port

from minikv.config import Config, ConfigError, config_set, get_params, parse_config_text
from minikv.parsing import glob_match


def run_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "minikv", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        cwd=cwd or tempfile.gettempdir(),
    )


class ConfServer(ServerProcess):
    """A minikv process started as ``minikv-server <file> [flags]``: the config file must come
    first, so ServerProcess's own argument order does not fit."""

    def __init__(self, conf: Path, *flags: str) -> None:
        self.kind = "minikv"
        self.port = free_port()
        self.host = "127.0.0.1"
        self._own_dir = True
        self.dir = tempfile.mkdtemp(prefix="minikv-conf-")
        self.logfile = os.path.join(self.dir, "minikv.log")
        self.cmd = [sys.executable, "-m", "minikv", str(conf), "--port", str(self.port)]
        self.cmd += ["--dir", self.dir, "--logfile", self.logfile, *flags]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.wait_ready()


# --- command line ---------------------------------------------------------------------------------


def test_help_and_version():
    out = run_cli("--help")
    assert out.returncode == 0
    assert out.stdout.startswith("Usage: minikv-server [/path/to/minikv.conf] [options]")
    assert "maxclients" in out.stdout and "--save" in out.stdout
    out = run_cli("-v")
    assert out.returncode == 0 and "minikv server v=" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "abc"], "argument couldn't be parsed into an integer"),
        (["--port", "70000"], "argument must be between 0 and 65535 inclusive"),
        (["--nosuch", "1"], "Bad directive or wrong number of arguments"),
        (["--save", "1"], "Invalid save parameters"),
        (["--loglevel", "loud"], "argument(s) must be one of the following"),
        (["--maxclients"], "Bad directive or wrong number of arguments"),
        (["--appendonly", "maybe"], "argument must be 'yes' or 'no'"),
    ],
)
def test_bad_flags_are_fatal(args: list[str], message: str):
    out = run_cli(*args)
    assert out.returncode == 1
    assert "*** FATAL CONFIG FILE ERROR" in out.stderr
    assert message in out.stderr
    assert f">>> '{args[0][2:]}" in out.stderr  # the offending line is shown


def test_missing_config_file_is_fatal():
    out = run_cli("/nonexistent/minikv.conf")
    assert out.returncode == 1
    assert "Fatal error, can't open config file '/nonexistent/minikv.conf'" in out.stderr


def test_non_flag_after_file_is_fatal(tmp_path: Path):
    conf = tmp_path / "a.conf"
    conf.write_text("")
    out = run_cli(str(conf), "stray")
    assert out.returncode == 1 and "Invalid argument 'stray'" in out.stderr


def test_bad_line_in_file_reports_line(tmp_path: Path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nport 7000\nfoo bar\n")
    out = run_cli(str(conf))
    assert out.returncode == 1
    assert "at line 3" in out.stderr and ">>> 'foo bar'" in out.stderr


def test_missing_dir_is_fatal():
    out = run_cli("--port", str(free_port()), "--dir", "/nonexistent/dir")
    assert out.returncode == 1 and "/nonexistent/dir" in out.stderr


def test_flags_override_config_file(tmp_path: Path):
    conf = tmp_path / "minikv.conf"
    conf.write_text(
        '# settings\nmaxclients 50\nhz 20\nsave 100 1\nsave 200 2\nrequirepass ""\ntimeout 30\n'
    )
    with ConfServer(conf, "--maxclients", "60") as s:
        c = s.client(decode_responses=True)
        assert c.config_get("maxclients")["maxclients"] == "60"  # the flag wins
        assert c.config_get("hz")["hz"] == "20"
        assert c.config_get("timeout")["timeout"] == "30"
        assert c.config_get("save")["save"] == "100 1 200 2"
        assert c.config_get("dir")["dir"] == s.dir
        assert c.info("server")["config_file"] == str(conf)


@pytest.mark.parametrize(
    "flags, expected",
    [
        (("--save", ""), ""),
        (("--save", "60 5 120 10"), "60 5 120 10"),
        (("--save", "60 5", "--save", "7 8"), "60 5 7 8"),  # later save lines add
        (("--hz", "10", "--save"), ""),  # a bare --save at the end means save ""
    ],
)
def test_save_flag(flags: tuple[str, ...], expected: str):
    with ServerProcess(*flags) as s:
        assert s.client(decode_responses=True).config_get("save")["save"] == expected


def test_log_lines_in_redis_format():
    with ServerProcess() as s:
        s.client().ping()
        lines = [ln for ln in s.log().splitlines() if ln]
    assert lines
    pattern = re.compile(r"^\d+:[MC] \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] \S")
    for line in lines:
        assert pattern.match(line), line
    assert any("Ready to accept connections" in ln for ln in lines)


# --- CONFIG REWRITE ------------------------------------------------------------------------------


def test_config_rewrite_round_trip(tmp_path: Path):
    conf = tmp_path / "minikv.conf"
    conf.write_text("# my settings\nmaxclients 50\nhz 20\nsave 100 1\nsave 200 2\n")
    with ConfServer(conf, "--timeout", "7") as s:
        c = s.client(decode_responses=True)
        c.config_set("maxclients", "123")
        assert c.execute_command("CONFIG", "REWRITE") in ("OK", True)
        assert "CONFIG REWRITE executed with success." in s.log()
    text = conf.read_text()
    assert text.startswith("# my settings\n")
    assert "maxclients 123" in text and "maxclients 50" not in text
    assert "save 100 1\nsave 200 2" in text
    assert "timeout 7" in text  # non-default values from the command line are written too
    with ConfServer(conf) as s2:
        c = s2.client(decode_responses=True)
        assert c.config_get("maxclients")["maxclients"] == "123"
        assert c.config_get("save")["save"] == "100 1 200 2"
        assert c.config_get("timeout")["timeout"] == "7"


def test_config_rewrite_unwritable(tmp_path: Path):
    conf = tmp_path / "minikv.conf"
    conf.write_text("hz 20\n")
    with ConfServer(conf) as s:
        os.chmod(tmp_path, 0o500)
        try:
            c = s.client()
            if os.geteuid() == 0:
                pytest.skip("root can write anywhere")
            with pytest.raises(Exception, match="Rewriting config file"):
                c.execute_command("CONFIG", "REWRITE")
        finally:
            os.chmod(tmp_path, 0o700)


# --- the config module ---------------------------------------------------------------------------


def test_parse_config_text_rules():
    c = Config()
    parse_config_text(c, 'save 10 1\nsave 20 2\n  # indented comment\nrequirepass "a b"\nHZ 30\n')
    assert c.save == [(10, 1), (20, 2)]
    assert c.requirepass == "a b"
    assert c.hz == 30
    parse_config_text(c, 'save ""\n')
    assert c.save == []
    with pytest.raises(ConfigError) as e:
        parse_config_text(c, "port 1\nport\n")
    assert e.value.lineno == 2 and e.value.line == "port"
    with pytest.raises(ConfigError, match="Unbalanced"):
        parse_config_text(c, 'requirepass "abc\n')


def test_config_set_is_all_or_nothing():
    c = Config()
    with pytest.raises(ConfigError, match="possibly related to argument 'maxclients'"):
        config_set(c, [("hz", "50"), ("maxclients", "x")])
    assert c.hz == 10 and c.maxclients == 10000
    config_set(c, [("hz", "50"), ("MAXCLIENTS", "7")])
    assert (c.hz, c.maxclients) == (50, 7)


def test_config_set_protected_local_only():
    c = Config(enable_protected_configs="local")
    with pytest.raises(ConfigError, match="can't set protected config"):
        config_set(c, [("dbfilename", "x.mkv")], is_local=False)
    config_set(c, [("dbfilename", "x.mkv")], is_local=True)
    assert c.dbfilename == "x.mkv"


def test_config_set_dir_failure_rolls_back(tmp_path: Path):
    cwd = os.getcwd()
    c = Config(enable_protected_configs="yes")
    try:
        config_set(c, [("dir", str(tmp_path))])
        assert os.getcwd() == str(tmp_path) and c.dir == str(tmp_path)
        with pytest.raises(ConfigError, match="No such file or directory"):
            config_set(c, [("dir", str(tmp_path / "nope"))])
        assert c.dir == str(tmp_path)
    finally:
        os.chdir(cwd)


def test_get_params_exact_and_glob():
    c = Config()
    assert get_params(c, "HZ") == {"HZ": "10"}
    assert get_params(c, "nosuch") == {}
    assert set(get_params(c, "max*")) == {
        "maxclients",
        "maxmemory",
        "maxmemory-clients",
        "maxmemory-eviction-tenacity",
        "maxmemory-policy",
        "maxmemory-samples",
    }
    assert set(get_params(c, "*BULK*")) == {"proto-max-bulk-len"}


@pytest.mark.parametrize(
    "pattern, string, nocase, expected",
    [
        ("*", "anything", False, True),
        ("h?llo", "hello", False, True),
        ("h?llo", "hllo", False, False),
        ("h[ae]llo", "hallo", False, True),
        ("h[^e]llo", "hello", False, False),
        ("h[^e]llo", "hallo", False, True),
        ("h[a-b]llo", "hbllo", False, True),
        ("h[b-a]llo", "hallo", False, True),  # reversed ranges work in Redis
        ("h\\*llo", "h*llo", False, True),
        ("h\\*llo", "hello", False, False),
        ("HELLO", "hello", True, True),
        ("HELLO", "hello", False, False),
        ("a.b", "axb", False, False),  # no regex leaks
        ("config|*", "config|get", False, True),
    ],
)
def test_glob_match(pattern: str, string: str, nocase: bool, expected: bool):
    assert glob_match(pattern, string, nocase) is expected


# --- encoding thresholds -----------------------------------------------------------------------

ENCODING_PARAMS = [
    "hash-max-listpack-entries",
    "hash-max-ziplist-entries",
    "hash-max-listpack-value",
    "hash-max-ziplist-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-ziplist-entries",
    "zset-max-listpack-value",
    "zset-max-ziplist-value",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "list-compress-depth",
]


def test_encoding_params_match_redis(server: ServerProcess, redis_server: ServerProcess):
    mine, theirs = server.client(decode_responses=True), redis_server.client(decode_responses=True)
    for name in ENCODING_PARAMS:
        assert mine.config_get(name) == theirs.config_get(name), name
    for pattern in ("*max-listpack*", "*ziplist*", "set-max-*", "list-*"):
        assert mine.config_get(pattern) == theirs.config_get(pattern), pattern
    for name, value in [
        ("hash-max-listpack-entries", "-1"),
        ("hash-max-ziplist-value", "abc"),
        ("list-compress-depth", "-3"),
        ("list-max-listpack-size", "99999999999"),
    ]:
        errors = []
        for c in (mine, theirs):
            with pytest.raises(Exception) as e:
                c.config_set(name, value)
            errors.append(str(e.value))
        assert errors[0] == errors[1], name


@pytest.mark.parametrize("resp", [2, 3])
def test_encoding_params_change_object_encoding(
    server: ServerProcess, redis_server: ServerProcess, resp: int
):
    """A lowered threshold makes a new value of that size take the big encoding, in both."""
    for s in (server, redis_server):
        c = s.client(protocol=resp, decode_responses=True)
        c.flushall()
        try:
            c.config_set("hash-max-ziplist-entries", "2")  # the alias sets the primary name
            assert c.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "2"}
            c.config_set("set-max-intset-entries", "2")
            c.config_set("zset-max-listpack-entries", "1")
            c.config_set("zset-max-listpack-value", "3")
            c.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
            c.hset("h2", mapping={"a": "1", "b": "2"})
            c.sadd("s", 1, 2, 3)
            c.sadd("s2", 1, 2)
            c.zadd("z", {"a": 1, "b": 2})
            c.zadd("z2", {"long-member": 1})
            c.zadd("z3", {"abc": 1})
            got = {k: c.object("encoding", k) for k in ("h", "h2", "s", "s2", "z", "z2", "z3")}
            assert got == {
                "h": "hashtable",
                "h2": "listpack",
                "s": "hashtable",
                "s2": "intset",
                "z": "skiplist",
                "z2": "skiplist",
                "z3": "listpack",
            }, s.kind
        finally:  # the redis-server is shared by the session
            c.config_set("hash-max-listpack-entries", "512")
            c.config_set("set-max-intset-entries", "512")
            c.config_set("zset-max-listpack-entries", "128")
            c.config_set("zset-max-listpack-value", "64")
            c.flushall()


def test_alias_lines_rewritten_under_primary_name(tmp_path: Path):
    conf = tmp_path / "minikv.conf"
    conf.write_text("hash-max-ziplist-entries 7\nlist-max-ziplist-size 5\n")
    with ConfServer(conf) as s:
        c = s.client(decode_responses=True)
        assert c.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "7"}
        assert c.config_get("list-max-ziplist-size") == {"list-max-ziplist-size": "5"}
        c.config_set("set-max-intset-entries", "9")
        assert c.execute_command("CONFIG", "REWRITE") in ("OK", True)
    text = conf.read_text()
    assert "hash-max-listpack-entries 7" in text and "ziplist" not in text
    assert "list-max-listpack-size 5" in text and "set-max-intset-entries 9" in text
